"""Dispatch and send, in-process: claims, compare-and-set, retries, content without patient data.

The same paths run through a real Celery worker, Redis and SMTP server in test_tasks_reminders.py.
"""

from __future__ import annotations

import datetime as dt
import smtplib
from email import message_from_bytes, policy

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection

from cases import models
from cases.reminders import dispatch
from tests.conftest import make_case, make_patient, make_user

S = models.ReminderState
K = models.ReminderKind
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]

# Sentinels: if any of these reach an email, the test fails.
SENTINEL_FAMILY = "Zzyzxfamilysentinel"
SENTINEL_GIVEN = "Qwxgivensentinel"
SENTINEL_HOSPITAL_NUMBER = "HSENT77123"
SENTINEL_NHS = "9990001234"
SENTINEL_DOB = dt.date(1931, 7, 29)


class RefusingBackend(BaseEmailBackend):
    """Raises the exceptions queued in ``errors`` (one per send), then delivers to locmem."""

    errors: list[Exception] = []

    def send_messages(self, messages):
        if RefusingBackend.errors:
            raise RefusingBackend.errors.pop(0)
        mail.outbox.extend(messages)
        return len(messages)


@pytest.fixture(autouse=True)
def one_email_per_reminder(settings):
    """These tests follow single reminders; the daily digest has its own tests."""
    settings.REMINDER_DIGEST = False


@pytest.fixture
def refusing(settings):
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.RefusingBackend"}}
    RefusingBackend.errors = []
    return RefusingBackend.errors


@pytest.fixture
def case(db):
    patient = make_patient(
        family_name=SENTINEL_FAMILY,
        given_name=SENTINEL_GIVEN,
        hospital_number=SENTINEL_HOSPITAL_NUMBER,
        nhs_number=SENTINEL_NHS,
        date_of_birth=SENTINEL_DOB,
    )
    return make_case(
        patient=patient,
        responsible_clinician=make_user("clinician", username="onc"),
        coordinator=make_user("coordinator", username="coord"),
    )


def reminder(case, *, due_at=NOW, kind=K.REASSESSMENT_DUE, key=None, **fields):
    fields.setdefault("recipients", ["onc@hospital.invalid", "coord@hospital.invalid"])
    fields.setdefault("event_on", dt.date(2026, 3, 16))
    return models.Reminder.objects.create(
        case=case,
        kind=kind,
        dedupe_key=key or f"test:{models.Reminder.objects.count()}",
        due_at=due_at,
        **fields,
    )


def run_dispatch(django_capture_on_commit_callbacks, **kwargs) -> tuple[list[int], object]:
    queued: list[int] = []
    with django_capture_on_commit_callbacks(execute=True):
        result = dispatch.reminders_dispatch_due(enqueue=queued.extend, **kwargs)
    return queued, result


def send_all(ids) -> list[str]:
    return [dispatch.reminder_send(reminder_id=i) for i in ids]


# --- Dispatch --------------------------------------------------------------------------------


def test_it_claims_only_due_pending_reminders_and_queues_them_after_commit(
    case, django_capture_on_commit_callbacks
):
    due = reminder(case)
    reminder(case, due_at=NOW + dt.timedelta(minutes=1))
    reminder(case, state=S.SENT, sent_at=NOW)
    reminder(case, state=S.CANCELLED, cancelled_at=NOW)

    queued, _ = run_dispatch(django_capture_on_commit_callbacks)

    assert queued == [due.pk]
    due.refresh_from_db()
    assert due.state == S.SENDING
    assert due.claimed_at == NOW
    assert due.claim_token is not None
    assert models.DispatchHeartbeat.objects.get().last_run_at == NOW


def test_each_claim_gets_its_own_token_and_the_batch_size_is_respected(
    case, django_capture_on_commit_callbacks
):
    for _ in range(5):
        reminder(case)
    queued, _ = run_dispatch(django_capture_on_commit_callbacks, limit=3)
    assert len(queued) == 3
    tokens = models.Reminder.objects.filter(state=S.SENDING).values_list("claim_token", flat=True)
    assert len(set(tokens)) == 3


def test_the_due_sweep_is_an_index_scan(case):
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            "EXPLAIN SELECT id FROM cases_reminder WHERE state = 'pending' AND due_at <= now() "
            "ORDER BY due_at LIMIT 100 FOR UPDATE SKIP LOCKED"
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute(
            "EXPLAIN SELECT id FROM cases_reminder WHERE state = 'sending' AND claimed_at < now() "
            "ORDER BY claimed_at LIMIT 100 FOR UPDATE SKIP LOCKED"
        )
        reclaim_plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "reminder_due_idx" in plan
    assert "reminder_claim_idx" in reclaim_plan


# --- Sending ---------------------------------------------------------------------------------


def test_a_claimed_reminder_is_sent_once_and_marked_sent(case, django_capture_on_commit_callbacks):
    r = reminder(case)
    queued, _ = run_dispatch(django_capture_on_commit_callbacks)

    assert send_all(queued) == ["sent"]
    assert send_all(queued) == ["skipped"]  # the same task delivered twice

    r.refresh_from_db()
    assert (r.state, r.sent_at, r.attempts, r.claim_token) == (S.SENT, NOW, 1, None)
    assert len(mail.outbox) == 1
    attempt = r.send_attempts.get()
    assert attempt.outcome == models.AttemptOutcome.SENT
    assert attempt.message_id == f"<reminder-{r.pk}-attempt-1@127.0.0.1>"


def test_the_email_has_kind_due_date_reference_and_link_but_no_patient_data(
    case, django_capture_on_commit_callbacks, settings
):
    settings.SITE_URL = "https://mdt.example.org"
    settings.REMINDER_MESSAGE_ID_DOMAIN = "mdt.example.org"
    r = reminder(case, kind=K.REIMAGING_DUE)
    queued, _ = run_dispatch(django_capture_on_commit_callbacks)
    send_all(queued)

    email = mail.outbox[0]
    raw = email.message().as_bytes()
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["Message-ID"] == f"<reminder-{r.pk}-attempt-1@mdt.example.org>"
    assert parsed["To"] == "onc@hospital.invalid, coord@hospital.invalid"
    assert email.subject == f"Tumour board: Re-imaging due, 16 Mar 2026 – case TB{case.pk:06d}"
    html = email.alternatives[0].content
    for body in (email.body, html):
        assert f"TB{case.pk:06d}" in body
        assert f"https://mdt.example.org/cases/{case.pk}/" in body
        assert "16 March 2026" in body
    assert_no_patient_data(raw)


def assert_no_patient_data(raw: bytes) -> None:
    """Headers, every part (decoded) and attachment names: no sentinel, in any common form."""
    parsed = message_from_bytes(raw, policy=policy.default)
    texts = [raw.decode("utf-8", "replace")]
    texts += [f"{name}: {value}" for name, value in parsed.items()]
    for part in parsed.walk():
        if part.get_filename():
            texts.append(part.get_filename())
        if not part.is_multipart():
            texts.append(part.get_content())
    forbidden = [
        SENTINEL_FAMILY,
        SENTINEL_GIVEN,
        SENTINEL_HOSPITAL_NUMBER,
        SENTINEL_NHS,
        SENTINEL_DOB.isoformat(),
        SENTINEL_DOB.strftime("%d/%m/%Y"),
        "29 Jul 1931",
        "29 July 1931",
        "1931",
    ]
    for text in texts:
        lowered = text.lower()
        for sentinel in forbidden:
            assert sentinel.lower() not in lowered, f"{sentinel!r} leaked into the email"


def test_every_kind_renders_without_patient_data(case, django_capture_on_commit_callbacks):
    kinds = [kind for kind in K.values if kind != K.DIGEST]
    for kind in kinds:
        reminder(case, kind=kind)
    queued, _ = run_dispatch(django_capture_on_commit_callbacks)
    assert send_all(queued) == ["sent"] * len(kinds)
    for email in mail.outbox:
        assert_no_patient_data(email.message().as_bytes())


def test_a_reminder_cancelled_after_its_claim_is_not_sent(case, django_capture_on_commit_callbacks):
    r = reminder(case)
    queued, _ = run_dispatch(django_capture_on_commit_callbacks)
    models.Reminder.objects.filter(pk=r.pk).update(
        state=S.CANCELLED, cancelled_at=NOW, claim_token=None
    )
    assert send_all(queued) == ["skipped"]
    assert mail.outbox == []


# --- Failures --------------------------------------------------------------------------------


def test_a_temporary_smtp_failure_is_retried_later_with_backoff(
    case, refusing, django_capture_on_commit_callbacks
):
    refusing.append(smtplib.SMTPDataError(451, b"4.3.0 try again later"))
    r = reminder(case)
    queued, _ = run_dispatch(django_capture_on_commit_callbacks)
    assert send_all(queued) == ["retry"]

    r.refresh_from_db()
    assert r.state == S.PENDING
    assert r.attempts == 1
    assert r.claim_token is None
    assert r.due_at == NOW + dt.timedelta(seconds=60)
    assert "451" in r.last_error
    assert r.send_attempts.get().outcome == models.AttemptOutcome.FAILED

    # Not due yet: nothing claimed. A minute later it goes, as attempt 2.
    assert run_dispatch(django_capture_on_commit_callbacks)[0] == []
    with time_machine.travel(NOW + dt.timedelta(seconds=61), tick=False):
        queued, _ = run_dispatch(django_capture_on_commit_callbacks)
        assert send_all(queued) == ["sent"]
    r.refresh_from_db()
    assert (r.state, r.attempts) == (S.SENT, 2)
    assert mail.outbox[0].extra_headers["Message-ID"] == f"<reminder-{r.pk}-attempt-2@127.0.0.1>"


def test_backoff_doubles_and_is_capped(settings):
    settings.REMINDER_RETRY_BACKOFF_SECONDS = 60
    settings.REMINDER_RETRY_BACKOFF_MAX_SECONDS = 300
    delays = [dispatch.retry_delay(n).total_seconds() for n in range(1, 6)]
    assert delays == [60, 120, 240, 300, 300]


def test_it_fails_after_the_last_attempt(
    case, refusing, settings, django_capture_on_commit_callbacks
):
    settings.REMINDER_MAX_ATTEMPTS = 2
    refusing.extend([ConnectionRefusedError("no SMTP"), ConnectionRefusedError("no SMTP")])
    r = reminder(case)
    for minutes in (0, 2):
        with time_machine.travel(NOW + dt.timedelta(minutes=minutes), tick=False):
            send_all(run_dispatch(django_capture_on_commit_callbacks)[0])
    r.refresh_from_db()
    assert (r.state, r.attempts) == (S.FAILED, 2)
    assert "ConnectionRefusedError" in r.last_error


def test_a_permanent_smtp_refusal_fails_at_once(case, refusing, django_capture_on_commit_callbacks):
    refusing.append(smtplib.SMTPRecipientsRefused({"onc@hospital.invalid": (550, b"no such user")}))
    r = reminder(case)
    assert send_all(run_dispatch(django_capture_on_commit_callbacks)[0]) == ["failed"]
    assert models.Reminder.objects.get(pk=r.pk).state == S.FAILED


def test_a_reminder_with_nobody_to_send_to_fails_visibly(case, django_capture_on_commit_callbacks):
    r = reminder(case, recipients=[])
    assert send_all(run_dispatch(django_capture_on_commit_callbacks)[0]) == ["failed"]
    r.refresh_from_db()
    assert r.state == S.FAILED
    assert "No recipient" in r.last_error


# --- Dead workers ----------------------------------------------------------------------------


def test_a_claim_whose_worker_died_is_reclaimed_after_the_lease(
    case, settings, django_capture_on_commit_callbacks
):
    settings.REMINDER_LEASE_SECONDS = 300
    r = reminder(case)
    queued, _ = run_dispatch(django_capture_on_commit_callbacks)
    # The worker starts the attempt, then dies before it can record anything.
    dispatch._attempt_start(r.pk)

    with time_machine.travel(NOW + dt.timedelta(seconds=299), tick=False):
        assert run_dispatch(django_capture_on_commit_callbacks)[0] == []
    with time_machine.travel(NOW + dt.timedelta(seconds=301), tick=False):
        queued, result = run_dispatch(django_capture_on_commit_callbacks)
        assert result.reclaimed == [r.pk]
        assert send_all(queued) == ["sent"]
    r.refresh_from_db()
    assert r.state == S.SENT
    assert r.claim_token is None
    outcomes = list(r.send_attempts.values_list("number", "outcome"))
    assert outcomes == [(1, "abandoned"), (2, "sent")]


def test_a_reminder_that_keeps_killing_its_worker_ends_failed(
    case, settings, django_capture_on_commit_callbacks
):
    settings.REMINDER_MAX_ATTEMPTS = 1
    r = reminder(case)
    run_dispatch(django_capture_on_commit_callbacks)
    dispatch._attempt_start(r.pk)
    with time_machine.travel(NOW + dt.timedelta(hours=1), tick=False):
        _, result = run_dispatch(django_capture_on_commit_callbacks)
    assert result.failed == [r.pk]
    assert models.Reminder.objects.get(pk=r.pk).state == S.FAILED


def test_a_lost_task_message_is_recovered_by_the_lease(case, django_capture_on_commit_callbacks):
    """Claimed and queued, but the queue was wiped: the next dispatch after the lease sends it."""
    r = reminder(case)
    run_dispatch(django_capture_on_commit_callbacks)  # the queued ids are dropped here
    with time_machine.travel(NOW + dt.timedelta(minutes=10), tick=False):
        queued, _ = run_dispatch(django_capture_on_commit_callbacks)
        assert send_all(queued) == ["sent"]
    assert models.Reminder.objects.get(pk=r.pk).attempts == 1
    assert len(mail.outbox) == 1


def test_a_reminder_made_without_its_clinical_date_shows_its_send_date(
    case, django_capture_on_commit_callbacks
):
    r = reminder(case, event_on=None)
    send_all(run_dispatch(django_capture_on_commit_callbacks)[0])
    assert models.Reminder.objects.get(pk=r.pk).state == S.SENT
    assert ", 2 Mar 2026 – case" in mail.outbox[0].subject
