"""The MDT meeting in a real browser: a chair takes a whole meeting by keyboard, under the strict
CSP, with axe-core checking each screen; two browsers answering the same point at once."""

from __future__ import annotations

import datetime as dt
import os
import re

import pytest
from playwright.sync_api import expect

from cases import models
from tests.browser.axe import assert_accessible
from tests.browser.conftest import sign_in
from tests.conftest import make_user
from tests.meeting_factory import (
    MEETING_DAY,
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


def test_a_chair_takes_a_whole_meeting_by_keyboard(page, meeting_setup):
    setup = meeting_setup
    meeting, item = setup["meeting"], setup["item"]
    sign_in(page, "chair")

    page.goto("/meetings/")
    assert_accessible(page, "meeting list")
    page.get_by_role("link", name=meeting.title).click()
    expect(page.locator("#quorum-banner")).to_contain_text("Not quorate")
    _shot(page, "01-meeting-not-quorate")
    assert_accessible(page, "meeting page")

    # Attendance: the chair (own discipline) and the three other core members.
    for count, member in enumerate([setup["chair"], *setup["members"]], start=1):
        page.get_by_label("Member").select_option(str(member.pk))
        page.get_by_role("button", name="Mark present").click()
        expect(page.locator("#attendance .attendee")).to_have_count(count)
    expect(page.locator("#quorum-banner")).not_to_contain_text("Not quorate")
    expect(page.locator("#attendance")).to_contain_text("Quorate")

    page.get_by_role("link", name=str(item.case.patient)).click()
    expect(page.locator("h1")).to_contain_text(item.case.patient.family_name.upper())
    expect(page.locator("body")).to_contain_text("Late addition: Scan reported on Friday")
    _shot(page, "02-case-walk-start")
    assert_accessible(page, "case walk")

    _answer_with_enter(page, "card-data_completeness")
    expect(page.locator("#card-data_completeness")).to_contain_text("Follows the recommendation")
    _answer_with_enter(page, "card-resectability")
    _answer_with_enter(page, "card-primary_management")

    # Systemic therapy: pre-filled with FOLFOX + bevacizumab; the engine recommends FOLFOXIRI +
    # bevacizumab for a fit RAS-mutant patient, so the chair ticks irinotecan from the keyboard.
    card = page.locator("#card-systemic_therapy.decision-open")
    expect(card).to_contain_text("FOLFOXIRI + bevacizumab")
    card.get_by_label("Irinotecan").focus()
    page.keyboard.press("Space")
    card.get_by_label("Irinotecan").press("Enter")

    # Pelvic radiotherapy: long-course CRT with the liver metastases in place is a hard stop.
    card = page.locator("#card-pelvic_radiotherapy.decision-open")
    expect(card).to_be_visible()
    card.get_by_label("Long-course chemoradiotherapy").check()
    card.get_by_role("button", name="Record answer").press("Enter")
    expect(card).to_contain_text("LONG_COURSE_CRT_UPFRONT")
    expect(card).to_contain_text("record why the MDT overrides it")
    _shot(page, "03-hard-stop")
    assert_accessible(page, "hard stop card")
    card.get_by_label("Reason for overriding the hard stop").fill(
        "Threatened mesorectal fascia on MRI; agreed with the colorectal surgeon"
    )
    card.get_by_label("Reason, if the MDT departs").fill("Local control is the priority")
    card.get_by_role("button", name="Record answer").press("Enter")
    expect(page.locator("#card-pelvic_radiotherapy")).to_contain_text("Hard stop overridden")

    _answer_with_enter(page, "card-liver_surgery")
    outcome = page.locator("#outcome")
    expected = outcome.locator("[data-next-reassessment]")
    _answer_with_enter(page, "card-outcome")
    expect(outcome).to_contain_text("LONG_COURSE_CRT_UPFRONT")
    shown = expected.get_attribute("data-next-reassessment")
    _shot(page, "04-ready-to-sign")

    page.get_by_role("button", name="Sign off and lock the outcome").press("Enter")
    expect(page.locator(".banner-ok")).to_contain_text("locked")
    _shot(page, "05-signed-off")
    assert_accessible(page, "signed-off outcome")

    item.refresh_from_db()
    assert item.signed_off_at is not None
    assert item.quorate_at_sign_off is True
    # The engine's date: two calendar months from this meeting, which reassessed cycle 2.
    assert shown == "2026-05-10"
    assert item.next_reassessment_on == dt.date.fromisoformat(shown)
    cycles = {r.cycle: r for r in models.Reassessment.objects.filter(case=item.case)}
    assert cycles[2].reassessed_on == MEETING_DAY
    assert cycles[3].due_on == item.next_reassessment_on
    override = models.Decision.objects.get(agenda_item=item, point="pelvic_radiotherapy")
    assert override.overridden_hard_stops == ["LONG_COURSE_CRT_UPFRONT"]
    assert "mesorectal" in override.override_reason
    expect(page.get_by_role("button", name="Record answer")).to_have_count(0)

    page.get_by_role("link", name="Printable outcome").click()
    expect(page.locator("h1")).to_contain_text("MDT outcome")
    expect(page.locator("tr.row-stop")).to_contain_text("Pelvic radiotherapy")
    assert_accessible(page, "printable outcome")


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
