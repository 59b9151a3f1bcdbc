"""The MDT meeting in a real browser: a chair takes a whole meeting by keyboard, under the strict
CSP, with axe-core checking each screen; two browsers answering the same point at once."""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import expect

from cases import models
from cases.meetings.services import agenda_item_defer
from tests.browser.axe import assert_accessible
from tests.browser.conftest import sign_in
from tests.conftest import make_user
from tests.meeting_factory import (
    list_case,
    make_conversion_case,
    make_meeting,
)

pytestmark = [pytest.mark.django_db(transaction=True)]
SHOTS = os.environ.get("TUMOURBOARD_SCREENSHOTS")  # a folder: save screenshots for review


def _shot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True, caret="initial")


@pytest.fixture
def meeting_setup():
    chair = make_user("chair", username="chair", discipline=models.Discipline.MEDICAL_ONCOLOGIST)
    hpb = make_user("clinician", username="hpb", discipline=models.Discipline.HPB_SURGEON)
    radiologist = make_user("clinician", username="radio", discipline=models.Discipline.RADIOLOGIST)
    clinonc = make_user(
        "clinician", username="clinonc", discipline=models.Discipline.CLINICAL_ONCOLOGIST
    )
    meeting = make_meeting(chair)
    item = list_case(
        meeting, make_conversion_case(), by=chair, late_reason="Scan reported on Friday"
    )
    other = list_case(meeting, make_conversion_case(kras="pending"), by=chair)
    return {
        "chair": chair,
        "members": [hpb, radiologist, clinonc],
        "meeting": meeting,
        "item": item,
        "other": other,
    }


def _focused_name(page) -> str:
    return page.evaluate("document.activeElement && document.activeElement.name || ''")


def _answer_with_enter(page, card_id: str) -> None:
    """The keyboard path: focus is already on the card's first control; Enter submits."""
    expect(page.locator(f"#{card_id}.decision-open")).to_be_visible()
    page.wait_for_function(
        "id => document.activeElement && document.activeElement.closest('article')?.id === id",
        arg=card_id,
    )
    page.keyboard.press("Enter")


def _record(page, point: str) -> None:
    card = page.locator(f"#card-{point}")
    card.get_by_role("button", name="Record answer").click()
    expect(card).to_have_class(re.compile("decision-answered"))


def _open(page, point: str):
    card = page.locator(f"#card-{point}.decision-open")
    expect(card).to_be_visible()
    return card


def test_a_meeting_gives_the_hpb_verdict_and_the_record_follows(page, meeting_setup):
    """Issue 16's acceptance walk: the HPB verdict given at the resectability point (R0
    achievable, FLR 35 %, 4 segments) makes the liver-surgery point recommend a one-stage
    hepatectomy and ask the sequencing question, with no false HPB_MDT_REVIEW_REQUIRED; a hard
    stop shows on choosing the unsafe option before any submit; nothing is pre-ticked (Enter
    alone records nothing); sign-off updates the case page and the dashboard."""
    setup = meeting_setup
    meeting, item = setup["meeting"], setup["item"]
    case = item.case
    sign_in(page, "chair")

    page.goto("/")
    expect(page.locator("#wl-reassessments-overdue")).to_contain_text(case.reference)

    page.goto("/meetings/")
    assert_accessible(page, "meeting list")
    page.get_by_role("link", name=meeting.title).click()
    expect(page.locator("#quorum-banner")).to_contain_text("Not quorate")
    assert_accessible(page, "meeting page")
    # Attendance: the chair (own discipline) and the three other core members, HPB among them.
    for count, member in enumerate([setup["chair"], *setup["members"]], start=1):
        page.get_by_label("Member").select_option(str(member.pk))
        page.get_by_role("button", name="Mark present").click()
        expect(page.locator("#attendance .attendee")).to_have_count(count)
    expect(page.locator("#quorum-banner")).not_to_contain_text("Not quorate")

    page.get_by_role("link", name=str(case.patient)).click()
    expect(page.locator("h1")).to_contain_text(case.patient.family_name.upper())
    _shot(page, "01-case-walk-start")
    assert_accessible(page, "case walk")

    # No preselection: focus is on the first choice, nothing is ticked, and Enter records
    # nothing; Space chooses, the card says it follows the recommendation, Enter records it.
    card = _open(page, "data_completeness")
    expect(card.locator("input[type=radio]:checked")).to_have_count(0)
    _answer_with_enter(page, "card-data_completeness")
    card = _open(page, "data_completeness")
    expect(card).to_contain_text("Choose one")
    card.get_by_label("Data complete: decide today").focus()
    page.keyboard.press("Space")
    expect(card.locator(".preview-verdict")).to_contain_text("Follows the recommendation")
    page.keyboard.press("Enter")
    expect(page.locator("#card-data_completeness")).to_contain_text("Follows the recommendation")

    # The HPB verdict, given in the meeting with an HPB surgeon present.
    card = _open(page, "resectability")
    expect(card).to_contain_text("Not resectable: R0 not yet assessed by the HPB MDT")
    card.get_by_label("Yes: all disease can be removed with clear margins").check()
    card.get_by_label("FLR after a one-stage resection").fill("35")
    card.get_by_label("Contiguous segments remaining").fill("4")
    card.get_by_label("None", exact=True).check()
    card.get_by_label("Converted: resectable").check()
    expect(card.locator(".preview-verdict")).to_contain_text("Follows the recommendation")
    _record(page, "resectability")

    card = _open(page, "primary_management")
    expect(card).to_contain_text("Converted: resectable")  # the verdict is now a fact
    card.get_by_label("No intervention on the primary now").check()
    _record(page, "primary_management")

    card = _open(page, "systemic_therapy")
    card.get_by_label(re.compile("^Continue the current course")).check()
    card.get_by_label("Reason, if the MDT departs").fill("Converted on this regimen")
    _record(page, "systemic_therapy")

    # The unsafe option shows its hard stop and the chair's box before anything is submitted.
    card = _open(page, "pelvic_radiotherapy")
    card.get_by_label("Long-course chemoradiotherapy").check()
    alerts = card.locator(".card-alerts")
    expect(alerts).to_contain_text("LONG_COURSE_CRT_UPFRONT")
    expect(card.get_by_label("Reason for overriding the hard stop (chair)")).to_be_visible()
    assert not models.Decision.objects.filter(point="pelvic_radiotherapy").exists()
    _shot(page, "02-hard-stop-previewed")
    assert_accessible(page, "hard stop previewed")
    card.get_by_label("No pelvic radiotherapy now").check()
    expect(alerts).not_to_contain_text("LONG_COURSE_CRT_UPFRONT")
    _record(page, "pelvic_radiotherapy")

    card = _open(page, "liver_surgery")
    expect(card.locator(".choice-recommended").first).to_contain_text("One-stage hepatectomy")
    expect(card).to_contain_text("Sequence of the operations")  # the sequencing question
    card.get_by_label("One-stage hepatectomy").check()
    card.get_by_label("Liver first").check()
    expect(card.locator(".preview-verdict")).to_contain_text("Follows the recommendation")
    expect(card).not_to_contain_text("HPB_MDT_REVIEW_REQUIRED")
    _record(page, "liver_surgery")

    # Bevacizumab continues: surgery counts from the plan's last dose (11 Mar + 42 = 22 Apr).
    card = _open(page, "timing")
    card.get_by_label("Last bevacizumab dose before surgery (planned)").fill("2026-03-11")
    card.get_by_label("Date the MDT sets for surgery").fill("2026-04-15")
    expect(card.locator(".card-alerts")).to_contain_text("BEV_SURGERY_INTERVAL_LT_6_WEEKS")
    card.get_by_label("Date the MDT sets for surgery").fill("2026-04-22")
    expect(card.locator(".card-alerts")).not_to_contain_text("BEV_SURGERY_INTERVAL")
    _record(page, "timing")

    card = _open(page, "outcome")
    card.get_by_label(re.compile("^Proceed to surgery")).check()
    _record(page, "outcome")
    _shot(page, "03-ready-to-sign")
    page.get_by_role("button", name="Sign off and lock the outcome").click()
    expect(page.locator(".banner-ok")).to_contain_text("locked")
    assert_accessible(page, "signed-off outcome")

    page.goto(f"/cases/{case.pk}/")
    expect(page.locator(".page-head")).to_contain_text("Converted: surgery planned")
    expect(page.locator("[data-hpb-review]")).to_have_attribute("data-hpb-review", "2026-03-10")
    expect(page.locator("[data-next-reassessment]")).to_contain_text("None scheduled")
    expect(page.locator("body")).to_contain_text("One-stage hepatectomy")
    _shot(page, "04-case-page-after-sign-off")
    assert_accessible(page, "case page after sign-off")
    page.goto("/")
    expect(page.locator("#wl-reassessments-overdue")).not_to_contain_text(case.reference)

    # The meeting ends: the other case waits for its KRAS result, the chair closes the meeting
    # from its page and the minutes come out, printable.
    agenda_item_defer(
        user=setup["chair"], agenda_item_id=setup["other"].pk, reason="Awaiting the KRAS result"
    )
    page.goto(f"/meetings/{meeting.pk}/")
    page.get_by_role("button", name="Close the meeting and issue the minutes").click()
    minutes = page.locator("article.minutes")
    expect(page.locator("h1")).to_contain_text("Minutes")
    expect(minutes).not_to_contain_text("Draft")
    expect(minutes).to_contain_text(case.reference)
    expect(minutes).to_contain_text("One-stage hepatectomy")
    expect(minutes).to_contain_text("Awaiting the KRAS result")
    expect(minutes).to_contain_text("Signed off by")
    meeting.refresh_from_db()
    assert meeting.status == models.MeetingStatus.CLOSED
    assert_accessible(page, "minutes")
    page.emulate_media(media="print")
    expect(page.locator(".no-print").first).to_be_hidden()
    assert page.pdf(format="A4")[:4] == b"%PDF"  # what the browser's Print command produces
    _shot(page, "05-minutes")


def test_two_browsers_answering_the_same_point_get_a_clear_conflict(
    browser, live_server, meeting_setup
):
    item = meeting_setup["item"]
    make_user("clinician", username="second", discipline=models.Discipline.HPB_SURGEON)
    pages = []
    contexts = []
    for username in ("chair", "second"):
        context = browser.new_context(base_url=live_server.url)
        contexts.append(context)
        page = context.new_page()
        sign_in(page, username)
        page.goto(f"/agenda/{item.pk}/")
        expect(page.locator("#card-data_completeness")).to_be_visible()
        pages.append(page)
    first, second = pages
    first.locator("#card-data_completeness").get_by_label("Data complete: decide today").check()
    first.locator("#card-data_completeness").get_by_role("button", name="Record answer").click()
    expect(first.locator("#card-resectability")).to_contain_text("Recommendation")
    second.locator("#card-data_completeness").get_by_label(re.compile("^Defer the case")).check()
    second.locator("#card-data_completeness").get_by_label("Reason, if the MDT").fill("Wait")
    second.locator("#card-data_completeness").get_by_role("button", name="Record answer").click()
    card = second.locator("#card-data_completeness")
    expect(card).to_contain_text("recorded an answer to this point at")
    expect(card).to_contain_text("Your answer, not saved: Defer the case")
    expect(card).to_contain_text("Data complete: decide today")
    originals = models.Decision.objects.filter(
        agenda_item=item, point="data_completeness", supersedes__isnull=True
    )
    assert [d.answer for d in originals] == [{"choice": "proceed"}]
    for context in contexts:
        context.close()
