"""After the meeting in a real browser: the chair signs off, the GP letter downloads as a PDF in
words (read back with pypdf), a clinician checks it, the coordinator sends it and it leaves the
worklist; every new screen is axe-clean under the strict CSP."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect
from pypdf import PdfReader

from cases import models
from tests.browser.axe import assert_accessible
from tests.browser.conftest import sign_in
from tests.conftest import make_user
from tests.followup.helpers import answer_all, make_chair
from tests.meeting_factory import (
    attend_all,
    list_case,
    make_conversion_case,
    make_core_members,
    make_meeting,
)

pytestmark = [pytest.mark.django_db(transaction=True)]

# An internal code: snake_case or SCREAMING_SNAKE words (not_resectable, ANTI_EGFR_RAS_MUTANT).
INTERNAL_CODE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b|\b[A-Z]+(?:_[A-Z0-9]+)+\b")


def _sign_out(page) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login/**")


def test_sign_off_gp_letter_pdf_check_send_and_the_worklist(page):
    chair = make_chair()
    make_user("clinician", username="checker")
    make_user("coordinator", username="coord")
    meeting = make_meeting(chair)
    attend_all(meeting, make_core_members())
    item = list_case(meeting, make_conversion_case(), by=chair)
    answer_all(
        chair, item, systemic_therapy={"agents": ["fluorouracil", "oxaliplatin", "cetuximab"]}
    )

    # 1. The chair signs the outcome off in the meeting; the letters are drafted.
    sign_in(page, "chair")
    page.goto(f"/agenda/{item.pk}/")
    page.get_by_role("button", name="Sign off and lock the outcome").click()
    expect(page.locator(".banner-ok")).to_contain_text("locked")
    page.get_by_role("link", name="Outcome letters and follow-up").click()
    expect(page.locator("h1")).to_contain_text("After the meeting")
    assert_accessible(page, "outcome letters and follow-up")
    page.get_by_role("button", name=re.compile("draft a plain-language letter")).click()
    expect(
        page.get_by_role("link", name="Open the letter to the Patient (plain language)")
    ).to_be_visible()

    # 2. The GP letter downloads as a PDF whose text has the decisions in words, no code.
    page.get_by_role("link", name="Open the letter to the GP").click()
    expect(page.locator("#letter-status")).to_have_text("Drafted")
    assert_accessible(page, "GP letter")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the PDF").click()
    content = open(download.value.path(), "rb").read()  # noqa: SIM115
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(content)).pages)
    flat = " ".join(text.split())
    for words in ("Not resectable", "Continue the pathway", "Fluorouracil", "Cetuximab"):
        assert words in flat, words
    assert "Cetuximab or panitumumab is proposed but the tumour carries a KRAS or NRAS" in flat
    assert INTERNAL_CODE.findall(text) == []
    _sign_out(page)

    # 3. A day and more later it is on the coordinator's worklist.
    letter = models.OutcomeLetter.objects.get(agenda_item=item, kind="gp")
    models.OutcomeLetter.objects.filter(agenda_item=item).update(
        created_at=timezone.now() - dt.timedelta(days=7)
    )
    sign_in(page, "coord")
    worklist = page.locator("#wl-letters-unsent")
    expect(worklist).to_contain_text(item.case.reference)
    expect(worklist.get_by_role("link", name="Open letter")).to_have_count(3)
    assert_accessible(page, "dashboard with the after-the-meeting worklists")
    _sign_out(page)

    # 4. A named clinician checks it; the coordinator marks it sent; it leaves the worklist.
    sign_in(page, "checker")
    page.goto(f"/letters/{letter.pk}/")
    page.get_by_role("button", name=re.compile("I have checked this letter")).click()
    expect(page.locator("#letter-status")).to_have_text("Checked")
    _sign_out(page)
    sign_in(page, "coord")
    page.goto(f"/letters/{letter.pk}/")
    expect(page.get_by_role("button", name=re.compile("I have checked"))).to_have_count(0)
    page.get_by_role("button", name="Mark as sent").click()
    expect(page.locator("#letter-status")).to_have_text("Sent")
    letter.refresh_from_db()
    assert letter.checked_by.username == "checker"
    assert letter.sent_by.username == "coord"
    page.goto("/")
    worklist = page.locator("#wl-letters-unsent")
    expect(worklist.get_by_role("link", name="Open letter")).to_have_count(2)
    expect(worklist.locator(f'a[href="/letters/{letter.pk}/"]')).to_have_count(0)

    # 5. The follow-up of the recommendations, recorded on the outcome's page.
    page.goto(f"/agenda/{item.pk}/after/")
    treatment = models.FollowUp.objects.get(agenda_item=item, kind="treatment")
    block = page.locator(f"#follow-up-{treatment.pk}")
    block.get_by_label("Status").select_option("not_done")
    block.get_by_label("Date done, or found not done").fill(timezone.localdate().isoformat())
    block.get_by_role("button", name="Update").click()
    expect(page.locator(f"#follow-up-{treatment.pk}")).to_contain_text(
        "Choose why it was not done."
    )
    assert_accessible(page, "follow-up form with an error")
    block = page.locator(f"#follow-up-{treatment.pk}")
    block.get_by_label("If not done, why").select_option("toxicity")
    block.get_by_label("Date done, or found not done").fill(timezone.localdate().isoformat())
    block.get_by_role("button", name="Update").click()
    expect(page.locator(f"#follow-up-{treatment.pk}")).to_contain_text("Not done")
    expect(page.locator(f"#follow-up-{treatment.pk}")).to_contain_text("Toxicity")

    # 6. The reports.
    page.goto("/reports/")
    expect(page.locator("#report-concordance")).to_be_visible()
    assert_accessible(page, "reports")


def test_the_administrator_edits_a_letter_template_with_a_preview(page):
    make_user("admin", username="administrator")
    sign_in(page, "administrator")
    page.goto("/letter-templates/")
    assert_accessible(page, "letter templates")
    page.get_by_role("link", name="Edit the letter to the GP").click()
    page.get_by_label("Opening paragraph").fill("We saw {{ patient_name }} on {{ meeting_date }}.")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator(".letter")).to_contain_text("We saw Alex Sample on 10 Mar 2026.")
    assert_accessible(page, "letter template preview")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("saved")
    assert models.LetterTemplate.objects.get(kind="gp").opening.startswith("We saw")
