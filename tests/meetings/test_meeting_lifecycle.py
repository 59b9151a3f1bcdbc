"""The meeting as an event (issue 16, observation 7): it opens on its day (earlier only with
the chair's reason, shown on every outcome), outcomes are signed off only while it is open, and
the chair closes it once every case is signed off or deferred, which freezes it and issues the
minutes. Also the clinical question and the discussion notes of each agenda item."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from cases import models
from cases.common.services import ConflictError
from cases.meetings import services as svc
from cases.meetings.agenda import agenda_item_add
from tests.conftest import make_user
from tests.meeting_factory import (
    MEETING_DAY,
    attend_all,
    list_case,
    make_conversion_case,
    make_core_members,
    meeting_at,
)
from tests.meetings.test_services_meetings import _answer_all

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def chair():
    return make_user("chair", username="chair", discipline=models.Discipline.MEDICAL_ONCOLOGIST)


@pytest.fixture
def scheduled(chair):
    """A meeting on MEETING_DAY, not opened, with one case fully answered and quorate."""
    meeting = models.Meeting.objects.create(scheduled_for=meeting_at(MEETING_DAY), chair=chair)
    attend_all(meeting, make_core_members())
    item = list_case(meeting, make_conversion_case(), by=chair)
    _answer_all(chair, item)
    return item


def _day(day: dt.date, hour: int = 9):
    return time_machine.travel(timezone.make_aware(dt.datetime.combine(day, dt.time(hour))))


def test_an_outcome_cannot_be_signed_off_before_the_meeting_is_opened(chair, scheduled):
    # Five days before the meeting: the walk is complete, but the meeting has not started.
    early = _day(MEETING_DAY - dt.timedelta(days=5))
    with early, pytest.raises(ValidationError, match="has not been opened"):
        svc.outcome_sign_off(user=chair, agenda_item_id=scheduled.pk)
    scheduled.refresh_from_db()
    assert scheduled.signed_off_at is None
    assert not models.Reassessment.objects.filter(case=scheduled.case, cycle=3).exists()


def test_taking_attendance_early_does_not_open_the_meeting(chair):
    meeting = models.Meeting.objects.create(scheduled_for=meeting_at(MEETING_DAY), chair=chair)
    with _day(MEETING_DAY - dt.timedelta(days=5)):
        svc.attendance_record(
            user=chair, meeting_id=meeting.pk, member_id=chair.pk, discipline="medical_oncologist"
        )
    meeting.refresh_from_db()
    assert meeting.status == models.MeetingStatus.SCHEDULED
    assert meeting.get_status_display() != "In progress"


def test_the_meeting_opens_on_its_day_without_a_reason(chair, scheduled):
    with _day(MEETING_DAY, hour=7):
        meeting = svc.meeting_open(user=chair, meeting_id=scheduled.meeting_id)
        assert meeting.status == models.MeetingStatus.IN_PROGRESS
        assert meeting.opened_by == chair
        assert meeting.early_open_reason == ""
        svc.outcome_sign_off(user=chair, agenda_item_id=scheduled.pk)
    scheduled.refresh_from_db()
    assert scheduled.signed_off_at is not None
    with pytest.raises(ConflictError, match="already opened"):
        svc.meeting_open(user=chair, meeting_id=scheduled.meeting_id)


def test_opening_early_needs_the_chairs_reason_shown_on_every_outcome(client, chair, scheduled):
    meeting_id = scheduled.meeting_id
    with _day(MEETING_DAY - dt.timedelta(days=2)):
        with pytest.raises(ValidationError, match="before its day"):
            svc.meeting_open(user=chair, meeting_id=meeting_id)
        coordinator = make_user("coordinator")
        with pytest.raises(PermissionDenied):
            svc.meeting_open(user=coordinator, meeting_id=meeting_id, early_reason="x")
        client.force_login(chair)
        refused = client.post(reverse("cases:meeting-open", args=[meeting_id]))
        assert refused.status_code == 422
        assert b"say why" in refused.content
        opened = client.post(
            reverse("cases:meeting-open", args=[meeting_id]),
            {"early_reason": "Chair on leave on the day"},
        )
        assert opened.status_code == 302
        svc.outcome_sign_off(user=chair, agenda_item_id=scheduled.pk)
        page = client.get(reverse("cases:agenda-item-detail", args=[scheduled.pk]))
        printed = client.get(reverse("cases:outcome-print", args=[scheduled.pk]))
    for response in (page, printed):
        assert response.status_code == 200
        assert "Chair on leave on the day" in response.content.decode()
    assert (
        models.Meeting.objects.get(pk=meeting_id).early_open_reason == "Chair on leave on the day"
    )


def test_the_chair_closes_the_meeting_only_when_every_case_is_done(chair, scheduled):
    meeting = scheduled.meeting
    other = list_case(meeting, make_conversion_case(), by=chair)
    with pytest.raises(ValidationError, match="not been opened"):
        svc.meeting_close(user=chair, meeting_id=meeting.pk)
    svc.meeting_open(user=chair, meeting_id=meeting.pk)
    svc.outcome_sign_off(user=chair, agenda_item_id=scheduled.pk)
    with pytest.raises(ValidationError, match=rf"Still open: 2\. {other.case.reference}"):
        svc.meeting_close(user=chair, meeting_id=meeting.pk)
    svc.agenda_item_defer(user=chair, agenda_item_id=other.pk, reason="Awaiting MRI liver")
    with pytest.raises(PermissionDenied):
        svc.meeting_close(user=make_user("clinician"), meeting_id=meeting.pk)
    closed = svc.meeting_close(user=chair, meeting_id=meeting.pk)
    assert closed.status == models.MeetingStatus.CLOSED
    assert closed.closed_by == chair
    with pytest.raises(ConflictError, match="already closed"):
        svc.meeting_close(user=chair, meeting_id=meeting.pk)


def test_a_closed_meeting_is_frozen_with_a_clear_refusal(chair, scheduled):
    meeting = scheduled.meeting
    svc.meeting_open(user=chair, meeting_id=meeting.pk)
    svc.outcome_sign_off(user=chair, agenda_item_id=scheduled.pk)
    svc.meeting_close(user=chair, meeting_id=meeting.pk)
    frozen = "closed by .* final"
    with pytest.raises(ConflictError, match=frozen):
        svc.attendance_record(
            user=chair, meeting_id=meeting.pk, member_id=chair.pk, discipline="radiologist"
        )
    with pytest.raises(ConflictError, match=frozen):
        svc.attendance_remove(user=chair, meeting_id=meeting.pk, member_id=chair.pk)
    with pytest.raises(ConflictError, match=frozen):
        svc.agenda_reorder(user=chair, meeting_id=meeting.pk, item_ids=[scheduled.pk])
    with pytest.raises(svc.OutcomeLockedError, match=frozen):
        svc.discussion_notes_save(
            user=chair, agenda_item_id=scheduled.pk, notes="late note", notes_before=""
        )
    with pytest.raises(svc.OutcomeLockedError, match=frozen):
        svc.agenda_item_defer(user=chair, agenda_item_id=scheduled.pk, reason="x")
    with pytest.raises(ValidationError, match="closed"):
        agenda_item_add(user=chair, meeting_id=meeting.pk, case_id=make_conversion_case().pk)
    with pytest.raises(ConflictError, match="closed"):
        svc.meeting_open(user=chair, meeting_id=meeting.pk)


def test_the_minutes_list_attendance_outcomes_deferrals_and_notes(client, chair, scheduled):
    meeting = scheduled.meeting
    deferred = list_case(meeting, make_conversion_case(), by=chair)
    models.AgendaItem.objects.filter(pk=scheduled.pk).update(
        clinical_question="Is the liver disease now resectable?"
    )
    svc.meeting_open(user=chair, meeting_id=meeting.pk)
    svc.discussion_notes_save(
        user=chair,
        agenda_item_id=scheduled.pk,
        notes="HPB: segment 7 lesion abuts the IVC.",
        notes_before="",
    )
    svc.outcome_sign_off(user=chair, agenda_item_id=scheduled.pk)
    svc.agenda_item_defer(user=chair, agenda_item_id=deferred.pk, reason="Awaiting MRI liver")
    client.force_login(chair)
    response = client.post(reverse("cases:meeting-close", args=[meeting.pk]))
    assert response["Location"] == reverse("cases:meeting-minutes", args=[meeting.pk])
    minutes = client.get(response["Location"]).content.decode()
    assert "Draft" not in minutes
    for text in (
        "Is the liver disease now resectable?",
        "HPB: segment 7 lesion abuts the IVC.",
        "Awaiting MRI liver",
        deferred.case.reference,
        "Signed off by",
        "Quorate",
    ):
        assert text in minutes, text
    assert models.Discipline.RADIOLOGIST.label in minutes
    assert "Continue" in minutes or "continue" in minutes
    # One access entry for the page view, naming both cases it showed.
    (access,) = models.CaseAccess.objects.filter(context="meeting-minutes")
    assert len(access.case_ids) == 2


def test_discussion_notes_are_audited_and_never_silently_overwritten(chair, scheduled):
    svc.discussion_notes_save(
        user=chair, agenda_item_id=scheduled.pk, notes="First view", notes_before=""
    )
    with pytest.raises(ConflictError, match="Someone else saved these notes"):
        svc.discussion_notes_save(
            user=chair, agenda_item_id=scheduled.pk, notes="Mine", notes_before=""
        )
    svc.discussion_notes_save(
        user=chair,
        agenda_item_id=scheduled.pk,
        notes="First view; agreed",
        notes_before="First view",
    )
    scheduled.refresh_from_db()
    assert scheduled.discussion_notes == "First view; agreed"
    events = models.AgendaItem.pgh_event_model.objects.filter(pgh_obj_id=scheduled.pk)
    assert [e.discussion_notes for e in events.order_by("pgh_id")][-2:] == [
        "First view",
        "First view; agreed",
    ]
    with pytest.raises(ValidationError, match="under 5000"):
        svc.discussion_notes_save(
            user=chair,
            agenda_item_id=scheduled.pk,
            notes="x" * 5001,
            notes_before="First view; agreed",
        )


def test_notes_and_question_show_on_the_case_screen_and_the_print(client, chair, scheduled):
    models.AgendaItem.objects.filter(pk=scheduled.pk).update(
        clinical_question="Liver-first or synchronous?"
    )
    client.force_login(chair)
    saved = client.post(
        reverse("cases:discussion-notes", args=[scheduled.pk]),
        {"notes": "Surgeon prefers liver first", "notes_before": ""},
        headers={"HX-Request": "true", "HX-Target": "notes"},
    )
    assert saved.status_code == 200
    assert "notes-saved" in saved["HX-Trigger"]
    page = client.get(reverse("cases:agenda-item-detail", args=[scheduled.pk])).content.decode()
    printed = client.get(reverse("cases:outcome-print", args=[scheduled.pk])).content.decode()
    for html in (page, printed):
        assert "Liver-first or synchronous?" in html
        assert "Surgeon prefers liver first" in html
    stale = client.post(
        reverse("cases:discussion-notes", args=[scheduled.pk]),
        {"notes": "Other note", "notes_before": ""},
    )
    assert stale.status_code == 409
    assert "Someone else saved these notes" in stale.content.decode()


def test_the_question_is_entered_when_listing(client, chair):
    meeting = models.Meeting.objects.create(
        scheduled_for=timezone.now() + dt.timedelta(days=7), chair=chair
    )
    case = make_conversion_case()
    client.force_login(chair)
    form = client.get(reverse("cases:agenda-item-add", args=[case.pk])).content.decode()
    assert "Question for the MDT" in form
    client.post(
        reverse("cases:agenda-item-add", args=[case.pk]),
        {
            "meeting": meeting.pk,
            "clinical_question": "Is surgery still an option?",
            "incomplete_reason": "listed for the test",
        },
    )
    item = models.AgendaItem.objects.get(case=case)
    assert item.clinical_question == "Is surgery still an option?"


def test_the_database_refuses_an_inconsistent_meeting(chair):
    when = meeting_at(MEETING_DAY)
    bad = [
        {"status": "in_progress"},  # open, but nobody opened it
        {"status": "closed", "opened_at": when, "opened_by": chair},  # closed by nobody
        {"status": "bogus"},
        {
            "status": "closed",
            "opened_at": when,
            "opened_by": chair,
            "closed_at": when - dt.timedelta(hours=1),
            "closed_by": chair,
        },
    ]
    for fields in bad:
        with pytest.raises(IntegrityError), transaction.atomic():
            models.Meeting.objects.create(scheduled_for=when, chair=chair, **fields)


def test_the_question_for_the_mdt_can_be_changed_after_listing_until_sign_off(
    client, chair, scheduled
):
    """The coordinator lists the case with a question; the chair sharpens it in the meeting.
    Audited, never silently overwritten, and frozen with the outcome."""
    coordinator = make_user("coordinator", username="coord")
    svc.clinical_question_save(
        user=coordinator,
        agenda_item_id=scheduled.pk,
        question="Is the liver now resectable?",
        question_before="",
    )
    with pytest.raises(ConflictError, match="Someone else changed the question"):
        svc.clinical_question_save(
            user=chair, agenda_item_id=scheduled.pk, question="Mine", question_before=""
        )
    with pytest.raises(ValidationError, match="500 characters"):
        svc.clinical_question_save(
            user=chair,
            agenda_item_id=scheduled.pk,
            question="x" * 501,
            question_before="Is the liver now resectable?",
        )
    with pytest.raises(PermissionDenied):
        svc.clinical_question_save(
            user=make_user("auditor"),
            agenda_item_id=scheduled.pk,
            question="x",
            question_before="Is the liver now resectable?",
        )
    # Over HTTP, as the chair in the meeting: the page shows the new question.
    client.force_login(chair)
    page_url = reverse("cases:agenda-item-detail", args=[scheduled.pk])
    assert "Change the question for the MDT" in client.get(page_url).content.decode()
    url = reverse("cases:clinical-question", args=[scheduled.pk])
    sharpened = "Is a one-stage hepatectomy with FLR 35 % safe, liver first?"
    response = client.post(
        url, {"question": sharpened, "question_before": "Is the liver now resectable?"}
    )
    assert response.status_code == 302
    assert sharpened in client.get(page_url).content.decode()
    # A stale form: the typed text is kept, the other writer's question shown, nothing lost.
    response = client.post(url, {"question": "Stale", "question_before": "Old"})
    assert response.status_code == 409
    page = response.content.decode()
    assert "Someone else changed the question" in page
    assert "Stale</textarea>" in page
    scheduled.refresh_from_db()
    assert scheduled.clinical_question == sharpened
    events = models.AgendaItem.pgh_event_model.objects.filter(pgh_obj_id=scheduled.pk)
    assert [e.clinical_question for e in events.order_by("pgh_id")][-2:] == [
        "Is the liver now resectable?",
        sharpened,
    ]
    # Signed off: the question is part of the locked outcome.
    svc.meeting_open(user=chair, meeting_id=scheduled.meeting_id, early_reason="Test run early")
    svc.outcome_sign_off(user=chair, agenda_item_id=scheduled.pk)
    assert "Change the question" not in client.get(page_url).content.decode()
    with pytest.raises(svc.OutcomeLockedError):
        svc.clinical_question_save(
            user=chair, agenda_item_id=scheduled.pk, question="Late", question_before=sharpened
        )


@pytest.mark.django_db(transaction=True)
def test_the_question_is_saved_over_http_in_its_own_transaction(client, chair):
    """As the server runs it: no test transaction around the request (the row lock needs the
    service's own)."""
    meeting = models.Meeting.objects.create(scheduled_for=meeting_at(MEETING_DAY), chair=chair)
    item = list_case(meeting, make_conversion_case(), by=chair)
    client.force_login(chair)
    url = reverse("cases:clinical-question", args=[item.pk])
    response = client.post(url, {"question": "Resectable now?", "question_before": ""})
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.clinical_question == "Resectable now?"
