"""The meeting on a projector (1920×1080) and a laptop (1366×768), in real Chromium (issue 16,
observations 10 and 11): a case opens on its patient header with the current decision point
on screen, nothing on the case screen is smaller than 16 px, the recommendation is at least as
large as the facts; attendance is one click per expected member; the new screens pass axe-core.

Screenshots go to TUMOURBOARD_SCREENSHOTS (a folder outside the repository), for review."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from cases import models
from cases.meetings import services as svc
from tests.browser.axe import assert_accessible
from tests.browser.conftest import sign_in
from tests.conftest import make_user
from tests.meeting_factory import attend_all, list_case, make_conversion_case, make_meeting

pytestmark = [pytest.mark.django_db(transaction=True)]
SHOTS = os.environ.get("TUMOURBOARD_SCREENSHOTS")

# Every visible text node of the page whose computed font size is under 16 px.
SMALL_TEXT = """() => {
  const small = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const text = node.textContent.trim();
    const element = node.parentElement;
    if (!text || !element || element.closest(".visually-hidden, [hidden], script, style")) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    const box = range.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;  // not rendered (a closed details)
    // SVG text is sized in the drawing's units: what shows is that times the drawing's scale.
    const scale = element instanceof SVGElement ? element.getScreenCTM().a : 1;
    const size = Math.round(parseFloat(getComputedStyle(element).fontSize) * scale * 10) / 10;
    if (size < 16) small.push(`${size}px: ${text.slice(0, 40)}`);
  }
  return small;
}"""


def _shot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{SHOTS}/{name}.png")


@pytest.fixture
def case_item():
    chair = make_user("chair", username="chair", discipline=models.Discipline.MEDICAL_ONCOLOGIST)
    members = {
        d: make_user("clinician", username=d, discipline=d)
        for d in ("hpb_surgeon", "radiologist", "clinical_oncologist")
    }
    meeting = make_meeting(chair)
    attend_all(meeting, members | {"chair": chair})
    item = list_case(
        meeting,
        make_conversion_case(),
        by=chair,
        clinical_question="Has the liver disease become resectable?",
    )
    list_case(meeting, make_conversion_case(), by=chair)
    return item


def _open_case(page, item) -> None:
    sign_in(page, "chair")
    page.goto(f"/agenda/{item.pk}/")
    page.wait_for_load_state("load")


def test_on_the_projector_the_current_point_is_on_screen_and_no_text_is_small(page, case_item):
    page.set_viewport_size({"width": 1920, "height": 1080})
    _open_case(page, case_item)
    _shot(page, "case-1920x1080")
    # The patient header first: nothing scrolled the page on opening.
    assert page.evaluate("window.scrollY") == 0
    header = page.locator("h1").bounding_box()
    assert header["y"] >= 0
    heading = page.locator(".decision-open h3").first
    expect(heading).to_be_visible()
    box = heading.bounding_box()
    assert box["y"] >= 0, box
    assert box["y"] + box["height"] <= 1080, box
    # Two columns: the walk to the right of the summary, using the full width.
    summary = page.locator("#case-summary").bounding_box()
    walk = page.locator("#walk").bounding_box()
    assert walk["x"] > summary["x"] + summary["width"] - 1
    assert walk["x"] + walk["width"] > 1800
    assert page.evaluate(SMALL_TEXT) == []
    sizes = page.evaluate(
        """() => [".decision-open .recommendation", ".decision-open .facts dd"].map(
            s => parseFloat(getComputedStyle(document.querySelector(s)).fontSize))"""
    )
    assert sizes[0] >= sizes[1], sizes


def test_on_a_laptop_the_case_screen_is_one_usable_column(page, case_item):
    page.set_viewport_size({"width": 1366, "height": 768})
    _open_case(page, case_item)
    _shot(page, "case-1366x768")
    assert page.evaluate("window.scrollY") == 0
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    summary = page.locator("#case-summary").bounding_box()
    walk = page.locator("#walk").bounding_box()
    assert walk["y"] >= summary["y"] + summary["height"] - 1  # below, not beside
    assert page.evaluate(SMALL_TEXT) == []
    # The keyboard starts on the open card, though the page did not scroll to it.
    assert page.evaluate("document.activeElement.closest('.decision-open') !== null")


def _wait_for_focus_in(page, element_id: str) -> None:
    """Focus moves once htmx has settled the swap; a key pressed before then goes nowhere."""
    page.wait_for_function(
        "id => document.getElementById(id)?.contains(document.activeElement)", arg=element_id
    )


def test_attendance_is_one_click_per_expected_member(page, case_item):
    meeting = case_item.meeting
    models.Attendance.objects.filter(meeting=meeting).delete()
    core = [models.User.objects.get(username=u) for u in ("chair", "hpb_surgeon", "radiologist")]
    deputy = make_user("clinician", username="deputy", discipline="clinical_oncologist")
    absent = models.User.objects.get(username="clinical_oncologist")
    for user in [*core, absent]:
        models.SeriesMember.objects.create(
            series=meeting.series, member=user, discipline=user.discipline
        )
    page.set_viewport_size({"width": 1366, "height": 900})
    sign_in(page, "chair")
    page.goto(f"/meetings/{meeting.pk}/")
    _shot(page, "meeting-expected")
    expect(page.locator(".expected-member")).to_have_count(4)
    expect(page.locator("#quorum-banner")).to_contain_text("Not quorate")
    # One click each; focus moves on to the next expected member, so Enter marks them too.
    rows = {u.pk: page.locator(f"#expected-{u.pk}") for u in [*core, absent]}
    # Listed by discipline: HPB surgeon, then the chair (medical oncologist), then radiologist.
    hpb, chair, radiologist = core[1], core[0], core[2]
    rows[hpb.pk].get_by_role("button", name="Present").click()
    expect(rows[hpb.pk].locator(".badge")).to_have_text("Present")
    _wait_for_focus_in(page, f"expected-{chair.pk}")
    page.keyboard.press("Enter")
    expect(rows[chair.pk].locator(".badge")).to_have_text("Present")
    _wait_for_focus_in(page, f"expected-{radiologist.pk}")
    page.keyboard.press("Enter")
    expect(rows[radiologist.pk].locator(".badge")).to_have_text("Present")
    rows[absent.pk].get_by_role("combobox").select_option(str(deputy.pk))
    rows[absent.pk].get_by_role("button", name="Deputy").click()
    expect(rows[absent.pk].locator(".badge")).to_have_text(f"Deputy: {deputy}")
    expect(page.locator("#quorum-banner")).not_to_contain_text("Not quorate")
    expect(page.locator("#attendance")).to_contain_text("Quorate")
    _shot(page, "meeting-attendance")
    assert_accessible(page, "meeting page with expected members")
    presence = dict(
        models.Attendance.objects.filter(meeting=meeting).values_list(
            "member__username", "presence"
        )
    )
    assert presence == {
        "chair": "present",
        "hpb_surgeon": "present",
        "radiologist": "present",
        "clinical_oncologist": "apologies",
        "deputy": "present",
    }
    page.get_by_role("link", name="Edit the list").click()
    expect(page.locator("h1")).to_contain_text("Core members")
    _shot(page, "series-members")
    assert_accessible(page, "core members")


def test_the_minutes_page_is_accessible(page, case_item):
    meeting = case_item.meeting
    chair = models.User.objects.get(username="chair")
    svc.discussion_notes_save(
        user=chair, agenda_item_id=case_item.pk, notes="Liver-first agreed.", notes_before=""
    )
    for item in meeting.agenda_items.all():
        svc.agenda_item_defer(user=chair, agenda_item_id=item.pk, reason="Awaiting MRI liver")
    page.set_viewport_size({"width": 1366, "height": 900})
    sign_in(page, "chair")
    page.goto(f"/meetings/{meeting.pk}/")
    page.get_by_role("button", name="Close the meeting and issue the minutes").click()
    expect(page.locator("h1")).to_contain_text("Minutes")
    expect(page.locator("body")).to_contain_text("Liver-first agreed.")
    _shot(page, "minutes")
    assert_accessible(page, "minutes")
