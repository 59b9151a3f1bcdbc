"""The claim token is what makes a late worker harmless.

A worker can outlive its lease (a long SMTP conversation, a paused VM). By then the dispatcher has
handed the row to someone else under a new token. Whatever the late worker records afterwards must
leave the new claim alone, and a second delivery of the same task must not send a second email.
"""

from __future__ import annotations

import datetime as dt
import smtplib

import pytest
import time_machine
from django.core import mail

from cases import models
from cases.reminders import dispatch
from tests.conftest import make_case, make_user

S = models.ReminderState
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
AFTER_THE_LEASE = dt.timedelta(hours=1)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]


@pytest.fixture
def claimed(django_capture_on_commit_callbacks):
    """A reminder claimed by a worker that has started its attempt and is still sending."""
    case = make_case(responsible_clinician=make_user("clinician"))
    reminder = models.Reminder.objects.create(
        case=case,
        kind=models.ReminderKind.REASSESSMENT_DUE,
        dedupe_key="claims:1",
        due_at=NOW,
        event_on=dt.date(2026, 3, 16),
        recipients=["onc@hospital.invalid"],
    )
    dispatch_due(django_capture_on_commit_callbacks)
    started = dispatch._attempt_start(reminder.pk)
    assert started is not None
    return started


def dispatch_due(django_capture_on_commit_callbacks) -> list[int]:
    queued: list[int] = []
    with django_capture_on_commit_callbacks(execute=True):
        dispatch.reminders_dispatch_due(enqueue=queued.extend)
    return queued


def take_over(django_capture_on_commit_callbacks) -> models.Reminder:
    """The lease runs out; the next dispatch gives the row a new claim token."""
    with time_machine.travel(NOW + AFTER_THE_LEASE, tick=False):
        assert dispatch_due(django_capture_on_commit_callbacks)
    return models.Reminder.objects.get()


def test_a_late_worker_marking_sent_leaves_the_new_claim_alone(
    claimed, django_capture_on_commit_callbacks
):
    reminder, first_attempt = claimed
    new_claim = take_over(django_capture_on_commit_callbacks)
    assert new_claim.claim_token != first_attempt.claim_token

    dispatch._attempt_sent(reminder, first_attempt)

    row = models.Reminder.objects.get()
    assert (row.state, row.claim_token) == (S.SENDING, new_claim.claim_token)
    first_attempt.refresh_from_db()
    assert first_attempt.outcome == models.AttemptOutcome.SENT
    assert "claim had expired" in first_attempt.error


def test_a_late_worker_marking_failed_leaves_the_new_claim_alone(
    claimed, django_capture_on_commit_callbacks
):
    reminder, first_attempt = claimed
    new_claim = take_over(django_capture_on_commit_callbacks)

    dispatch._attempt_failed(reminder, first_attempt, smtplib.SMTPServerDisconnected("gone"))

    row = models.Reminder.objects.get()
    assert (row.state, row.claim_token) == (S.SENDING, new_claim.claim_token)
    assert row.last_error == ""


def test_a_second_delivery_of_the_same_task_sends_nothing(claimed):
    reminder, _first_attempt = claimed

    assert dispatch.reminder_send(reminder_id=reminder.pk) == "skipped"

    assert mail.outbox == []
    assert models.ReminderAttempt.objects.filter(reminder=reminder).count() == 1
