"""Outcome letters: drafted at sign-off, in words, checked by a named clinician, sent; the PDF,
the printable fallback, the templates and the reminder that carries no letter."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from pypdf import PdfReader

from cases import models
from cases.common.services import ConflictError
from cases.followup import letters
from cases.followup import services as svc
from cases.meetings.selectors import case_screen
from cases.pathway import CODES, AlertCode
from tests.conftest import make_user, signed_in
from tests.followup.helpers import SIGN_OFF_AT, make_chair, signed_off_item

pytestmark = [pytest.mark.django_db]

INTERNAL_CODE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b|\b[A-Z]+(?:_[A-Z0-9]+)+\b")


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def test_it_drafts_a_gp_and_a_referrer_letter_at_sign_off():
    item = signed_off_item()
    letters_ = models.OutcomeLetter.objects.filter(agenda_item=item)
    assert sorted(letters_.values_list("kind", flat=True)) == ["gp", "referrer"]
    assert set(letters_.values_list("status", flat=True)) == {"drafted"}


def test_the_letter_says_everything_in_words_and_never_a_code():
    item = signed_off_item(override=True)
    html = letters.letter_html(case_screen(item.pk), "gp")
    text = re.sub(r"<[^>]+>", " ", html)
    for expected in (
        "Dear Doctor",
        "Have the liver metastases become resectable",  # the question
        "Rectum, diagnosed",  # key facts with dates
        "KRAS",
        "Not resectable",  # decisions in words
        "Fluorouracil",
        "Continue the pathway",
        "Cetuximab or panitumumab is proposed but the tumour carries a KRAS or NRAS mutation.",
        "Patient refuses bevacizumab after a previous bleed",  # the override's reason
        "Book CT chest, abdomen and pelvis",  # actions with owners
        "Chair Tester",
        "Next reassessment:",
        "10 May 2026",
        "quorate (every core discipline present)",
        "Guideline version:",
        "Colorectal Multidisciplinary Team",  # the letterhead
    ):
        assert expected in text, expected
    assert "ANTI_EGFR_RAS_MUTANT" not in text
    assert INTERNAL_CODE.findall(text) == []


def test_the_letterhead_is_a_setting(settings):
    settings.LETTERHEAD = ["St Elsewhere Hospital", "1 Long Lane"]
    item = signed_off_item()
    html = letters.letter_html(case_screen(item.pk), "referrer")
    assert "St Elsewhere Hospital" in html
    assert "1 Long Lane" in html


def test_a_clinician_checks_then_a_coordinator_sends_with_who_and_when():
    item = signed_off_item()
    letter = models.OutcomeLetter.objects.get(agenda_item=item, kind="gp")
    clinician, coordinator = make_user("clinician"), make_user("coordinator")
    with pytest.raises(ValidationError, match="must check"):
        svc.letter_send(user=coordinator, letter_id=letter.pk, expected_version=1)
    with pytest.raises(PermissionDenied):
        svc.letter_check(user=coordinator, letter_id=letter.pk, expected_version=1)
    checked = svc.letter_check(user=clinician, letter_id=letter.pk, expected_version=1)
    assert checked.status == "checked"
    assert checked.checked_by == clinician
    assert "Not resectable" in checked.checked_html
    with pytest.raises(ConflictError):
        svc.letter_check(user=clinician, letter_id=letter.pk, expected_version=1)
    sent = svc.letter_send(user=coordinator, letter_id=letter.pk, expected_version=2)
    assert sent.status == "sent"
    assert sent.sent_by == coordinator
    assert sent.sent_at
    with pytest.raises(ConflictError, match="already marked sent"):
        svc.letter_send(user=coordinator, letter_id=letter.pk, expected_version=3)
    # Audited: each step is an event with its new status.
    statuses = list(
        models.OutcomeLetter.pgh_event_model.objects.filter(pgh_obj_id=letter.pk)
        .order_by("pgh_id")
        .values_list("status", flat=True)
    )
    assert statuses == ["drafted", "checked", "sent"]


def test_the_database_refuses_a_letter_sent_unchecked_or_checked_by_nobody():
    item = signed_off_item()
    letter = models.OutcomeLetter.objects.get(agenda_item=item, kind="gp")
    for changes in (
        {"status": "checked"},
        {"status": "sent"},
        {"status": "drafted", "sent_at": letter.created_at},
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            models.OutcomeLetter.objects.filter(pk=letter.pk).update(**changes)
    with pytest.raises(IntegrityError), transaction.atomic():
        models.OutcomeLetter.objects.create(agenda_item=item, case=item.case, kind="gp")


def test_the_patient_letter_is_drafted_when_the_mdt_ticks_it_and_is_plain():
    item = signed_off_item()
    chair = item.signed_off_by
    letter = svc.patient_letter_add(user=chair, agenda_item_id=item.pk)
    with pytest.raises(ValidationError, match="already"):
        svc.patient_letter_add(user=chair, agenda_item_id=item.pk)
    html = letters.letter_html(case_screen(item.pk), letter.kind)
    assert "What the team recommends" in html
    assert "Key facts" not in html
    assert "Guideline version" not in html


def test_the_gp_letter_downloads_as_a_pdf_in_words():
    item = signed_off_item(override=True)
    letter = models.OutcomeLetter.objects.get(agenda_item=item, kind="gp")
    response = signed_in(make_user("clinician")).get(reverse("cases:letter-pdf", args=[letter.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert item.case.reference in response["Content-Disposition"]
    text = pdf_text(response.content)
    assert "Not resectable" in text
    assert "ANTI_EGFR" not in text
    assert "not_resectable" not in text


def test_without_weasyprint_the_page_opens_as_printable_html_and_says_why(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_weasyprint(name, *args, **kwargs):
        if name.startswith("weasyprint"):
            raise OSError("cannot load library 'libpango-1.0-0'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_weasyprint)
    item = signed_off_item()
    letter = models.OutcomeLetter.objects.get(agenda_item=item, kind="gp")
    response = signed_in(make_user("clinician")).get(reverse("cases:letter-pdf", args=[letter.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    body = response.content.decode()
    assert "The PDF is unavailable" in body
    assert "libpango" in body
    assert "Not resectable" in body


def test_the_administrator_edits_a_template_with_a_preview_and_letters_follow():
    admin = make_user("admin")
    client = signed_in(admin)
    url = reverse("cases:letter-template-edit", args=["gp"])
    assert "Dear Doctor" in client.get(url).content.decode()
    fields = {
        "version": 0,
        "salutation": "Dear Dr Practitioner",
        "opening": "We saw {{ patient_name }} on {{ meeting_date }}.",
        "closing": "",
    }
    preview = client.post(url, {**fields, "preview": "1"})
    assert "We saw Alex Sample on 10 Mar 2026." in preview.content.decode()
    assert not models.LetterTemplate.objects.exists()
    broken = client.post(url, {**fields, "opening": "{% if %}"})
    assert broken.status_code == 422
    assert client.post(url, fields).status_code == 302
    item = signed_off_item()
    html = letters.letter_html(case_screen(item.pk), "gp")
    assert "Dear Dr Practitioner" in html
    assert f"We saw {item.case.patient.given_name} {item.case.patient.family_name}" in html
    # A stale form does not overwrite a newer template.
    assert client.post(url, {**fields, "salutation": "Old"}).status_code == 422
    assert models.LetterTemplate.objects.get().salutation == "Dear Dr Practitioner"


def test_the_reminder_says_a_letter_awaits_checking_and_carries_no_letter():
    from cases.reminders.dispatch import reminder_email

    item = signed_off_item()
    reminder = models.Reminder.objects.get(case=item.case, kind="letter_to_check")
    assert len(models.Reminder.objects.filter(case=item.case, kind="letter_to_check")) == 1
    email = reminder_email(reminder, attempt_number=1)
    assert "awaits checking" in email.body
    assert email.attachments == []
    assert item.case.patient.family_name not in email.body + email.subject
    # Checking both letters the same day cancels it (a day later it would have expired unsent:
    # the worklist of unsent letters, not the email, carries an older letter).
    clinician = make_user("clinician")
    with time_machine.travel(SIGN_OFF_AT + dt.timedelta(hours=2), tick=False):
        for letter in models.OutcomeLetter.objects.filter(agenda_item=item):
            svc.letter_check(user=clinician, letter_id=letter.pk, expected_version=letter.version)
    reminder.refresh_from_db()
    assert reminder.state == "cancelled"


def test_the_auditor_reads_letters_but_cannot_check_or_send():
    item = signed_off_item()
    letter = models.OutcomeLetter.objects.get(agenda_item=item, kind="gp")
    auditor = signed_in(make_user("auditor"))
    page = auditor.get(reverse("cases:letter-detail", args=[letter.pk]))
    assert page.status_code == 200
    assert "I have checked" not in page.content.decode()
    assert (
        auditor.post(reverse("cases:letter-check", args=[letter.pk]), {"version": 1}).status_code
        == 403
    )
    assert (
        auditor.post(reverse("cases:letter-send", args=[letter.pk]), {"version": 1}).status_code
        == 403
    )
    assert (
        signed_in(make_user("admin"))
        .get(reverse("cases:letter-detail", args=[letter.pk]))
        .status_code
        == 403
    )


def test_an_unknown_alert_code_would_still_show_in_words():
    # Every hard stop in the catalogue has words for the letter.
    for code in AlertCode:
        assert letters._first_sentence(CODES[code].text)


def test_chair_fixture_is_used():
    assert make_chair("another").role == "chair"
