"""Sending reminders: PostgreSQL is the schedule, Celery only carries the work (DESIGN.md §5).

The life of a reminder row::

    PENDING --dispatch claims it--> SENDING --send task--> SENT
       ^                               |  \\--SMTP error--> PENDING (later, back-off) or FAILED
       |                               \\--worker died, lease expired--> claimed again (or FAILED)
       \\-- reminder_retry (a coordinator, from the log) <-- FAILED

- ``reminders_dispatch_due`` runs every minute (Celery beat). It claims due rows with
  ``SELECT … FOR UPDATE SKIP LOCKED`` (so any number of dispatchers split the work and never
  share a row), gives each claim its own token, and after COMMIT queues one send task per row.
- ``reminder_send`` takes only the reminder id. Under the row lock it starts one attempt per
  claim (a task delivered twice finds the attempt already there and stops), sends, then marks the
  row SENT with a compare-and-set on the claim token.
- A claim older than REMINDER_LEASE_SECONDS belongs to a worker that died (send tasks are killed
  after REMINDER_SEND_TIME_LIMIT, which is shorter): the next dispatch claims it again. So a killed
  worker or a wiped Redis loses nothing. The one unavoidable duplicate is a worker that dies after
  the SMTP server accepted a message and before the row was marked SENT.

Nothing is ever scheduled in the broker with an ETA or countdown: retries are rows with a later
``due_at``.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import QuerySet
from django.db.models.functions import UUID4
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from cases.models import (
    AttemptOutcome,
    Case,
    DispatchHeartbeat,
    Reminder,
    ReminderAttempt,
    ReminderKind,
    ReminderState,
)

log = logging.getLogger(__name__)

S = ReminderState
MAILER = "default"
ABANDONED_ERROR = (
    "The worker stopped during this attempt and its claim expired; "
    "the email may or may not have gone out."
)

# One line for each kind: what the recipient should do. No patient data, by construction.
KIND_GUIDANCE = {
    ReminderKind.REIMAGING_DUE: "Re-imaging for the next reassessment is due and no scan is "
    "booked yet. Please book it.",
    ReminderKind.REASSESSMENT_DUE: "A resectability reassessment is due. Please list the case "
    "for the MDT.",
    ReminderKind.BEV_INTERVAL_ENDS: "The 6-week interval after the last bevacizumab dose ends on "
    "this date; elective surgery may go ahead from then.",
    ReminderKind.BEV_INTERVAL_BREACH: "Elective surgery is planned inside the 6-week interval "
    "after the last bevacizumab dose. Please review the date.",
    ReminderKind.SCRT_WINDOW_CLOSING: "The 6-month window for primary surgery after short-course "
    "radiotherapy closes on this date. Please confirm the surgical plan.",
    ReminderKind.RESULT_OUTSTANDING: "A molecular result requested for this case is still "
    "outstanding. Please chase the laboratory.",
    ReminderKind.ACTION_DUE: "An MDT action assigned to you is due.",
    ReminderKind.ACTION_OVERDUE: "An MDT action on this case is overdue and still open.",
    # The letter itself is never attached: it names the patient (docs/after-the-meeting.md).
    ReminderKind.LETTER_TO_CHECK: "An MDT outcome letter for this case awaits checking by a "
    "clinician before it is sent. Please open the case's letters to check it.",
}


class NoRecipientsError(Exception):
    """The reminder has nobody to go to: a data gap to fix, shown on the reminder log."""


@dataclass
class DispatchResult:
    claimed: list[int] = field(default_factory=list)
    reclaimed: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)  # attempts used up by dead workers

    @property
    def queued(self) -> list[int]:
        return self.claimed + self.reclaimed


# --- Dispatch --------------------------------------------------------------------------------


def reminders_dispatch_due(
    *, enqueue: Callable[[list[int]], None], limit: int | None = None
) -> DispatchResult:
    """Claim what is due and queue one send per claimed row; record the heartbeat.

    1. Claim up to ``limit`` due PENDING rows, oldest first, skipping rows locked by others.
    2. With the room left, reclaim SENDING rows whose lease expired (their worker died).
    3. Mark them SENDING with a fresh claim token each; after COMMIT, ``enqueue`` their ids.
    4. Record that dispatch ran (in PostgreSQL, so it survives a Redis wipe).
    """
    limit = settings.REMINDER_DISPATCH_BATCH_SIZE if limit is None else limit
    now = timezone.now()
    result = DispatchResult()
    with transaction.atomic(durable=True):
        result.claimed = list(due_for_claim(now, limit))
        room = limit - len(result.claimed)
        if room > 0:
            _reclaim_expired(now, room, result)
        if result.queued:
            Reminder.objects.filter(id__in=result.queued).update(
                state=S.SENDING, claim_token=UUID4(), claimed_at=now, updated_at=now
            )
            ids = result.queued
            transaction.on_commit(lambda: enqueue(ids), robust=True)
    _heartbeat(now, len(result.queued))
    return result


def due_for_claim(now: dt.datetime, limit: int) -> QuerySet[Reminder, int]:
    """The claim query: ids of due PENDING rows, oldest first, skipping rows others hold.

    Its predicate is reminder_due_idx's, so it is an index scan at any size
    (tests/performance/test_performance_explain.py proves it at 100,000 reminders).
    """
    return (
        Reminder.objects.select_for_update(skip_locked=True)
        .filter(state=S.PENDING, due_at__lte=now)
        .order_by("due_at")
        .values_list("id", flat=True)[:limit]
    )


def expired_claims(now: dt.datetime, room: int) -> QuerySet[Reminder, tuple[int, Any, int]]:
    """The reclaim query: SENDING rows whose lease ran out (reminder_claim_idx's predicate)."""
    cutoff = now - dt.timedelta(seconds=settings.REMINDER_LEASE_SECONDS)
    return (
        Reminder.objects.select_for_update(skip_locked=True)
        .filter(state=S.SENDING, claimed_at__lt=cutoff)
        .order_by("claimed_at")
        .values_list("id", "claim_token", "attempts")[:room]
    )


def _reclaim_expired(now: dt.datetime, room: int, result: DispatchResult) -> None:
    expired = list(expired_claims(now, room))
    if not expired:
        return
    ReminderAttempt.objects.filter(
        claim_token__in=[token for _id, token, _n in expired], outcome=AttemptOutcome.STARTED
    ).update(outcome=AttemptOutcome.ABANDONED, finished_at=now, error=ABANDONED_ERROR)
    # A message that kills its worker every time must not loop forever.
    result.failed = [rid for rid, _t, n in expired if n >= settings.REMINDER_MAX_ATTEMPTS]
    result.reclaimed = [rid for rid, _t, n in expired if n < settings.REMINDER_MAX_ATTEMPTS]
    if result.failed:
        Reminder.objects.filter(id__in=result.failed).update(
            state=S.FAILED, claim_token=None, last_error=ABANDONED_ERROR, updated_at=now
        )
    log.warning("reclaimed %d expired reminder claims", len(expired))


def _heartbeat(now: dt.datetime, claimed: int) -> None:
    """INSERT … ON CONFLICT UPDATE: concurrent dispatchers never collide on the first row."""
    DispatchHeartbeat.objects.bulk_create(
        [DispatchHeartbeat(id=1, last_run_at=now, last_claimed=claimed)],
        update_conflicts=True,
        unique_fields=["id"],
        update_fields=["last_run_at", "last_claimed"],
    )


# --- Sending one reminder --------------------------------------------------------------------


def reminder_send(*, reminder_id: int) -> str:
    """Send one claimed reminder; return what happened ("sent", "retry", "failed", "skipped")."""
    started = _attempt_start(reminder_id)
    if started is None:
        return "skipped"
    reminder, attempt = started
    try:
        message = reminder_email(reminder, attempt_number=attempt.number)
        if not message.recipients():
            raise NoRecipientsError(
                "No recipient: the case has no responsible clinician or coordinator with an "
                "email address, and REMINDER_FALLBACK_EMAIL is not set."
            )
        message.send(using=MAILER)
    except Exception as error:  # every failure is recorded on the row and retried or failed
        return _attempt_failed(reminder, attempt, error)
    return _attempt_sent(reminder, attempt)


def _attempt_start(reminder_id: int) -> tuple[Reminder, ReminderAttempt] | None:
    """Start one attempt for the row's current claim, or None if there is nothing to do.

    Under the row lock: the row must still be SENDING (not cancelled, sent or failed), and no
    attempt may exist for its claim (a second delivery of the same task stops here). Starting
    renews the lease, so the dispatcher cannot hand the row to anyone else while this runs.
    """
    now = timezone.now()
    with transaction.atomic():
        reminder = Reminder.objects.select_for_update().filter(pk=reminder_id).first()
        if reminder is None or reminder.state != S.SENDING:
            return None
        if ReminderAttempt.objects.filter(claim_token=reminder.claim_token).exists():
            return None
        number = reminder.attempts + 1
        attempt = ReminderAttempt.objects.create(
            reminder=reminder,
            number=number,
            claim_token=reminder.claim_token,
            message_id=message_id(reminder.pk, number),
            recipients=reminder.recipients,
            started_at=now,
        )
        Reminder.objects.filter(pk=reminder_id).update(
            attempts=number, claimed_at=now, updated_at=now
        )
        reminder.attempts, reminder.claimed_at = number, now
    return reminder, attempt


def _attempt_sent(reminder: Reminder, attempt: ReminderAttempt) -> str:
    now = timezone.now()
    with transaction.atomic():
        won = Reminder.objects.filter(
            pk=reminder.pk, state=S.SENDING, claim_token=attempt.claim_token
        ).update(state=S.SENT, sent_at=now, claim_token=None, last_error="", updated_at=now)
        note = "" if won else "Sent, but the claim had expired and been taken over."
        ReminderAttempt.objects.filter(pk=attempt.pk).update(
            outcome=AttemptOutcome.SENT, finished_at=now, error=note
        )
    if not won:
        log.error("reminder %s sent after its claim expired", reminder.pk)
    return "sent"


def _attempt_failed(reminder: Reminder, attempt: ReminderAttempt, error: Exception) -> str:
    now = timezone.now()
    text = f"{type(error).__name__}: {error}"[:2000]
    final = _is_permanent(error) or attempt.number >= settings.REMINDER_MAX_ATTEMPTS
    changes: dict[str, object] = {"claim_token": None, "last_error": text, "updated_at": now}
    if final:
        changes["state"] = S.FAILED
    else:
        changes["state"] = S.PENDING
        changes["due_at"] = now + retry_delay(attempt.number)
    with transaction.atomic():
        Reminder.objects.filter(
            pk=reminder.pk, state=S.SENDING, claim_token=attempt.claim_token
        ).update(**changes)
        ReminderAttempt.objects.filter(pk=attempt.pk).update(
            outcome=AttemptOutcome.FAILED, finished_at=now, error=text
        )
    log.warning("reminder %s attempt %s failed: %s", reminder.pk, attempt.number, text)
    return "failed" if final else "retry"


def retry_delay(attempts: int) -> dt.timedelta:
    """Exponential back-off after the n-th failed attempt, capped."""
    seconds = settings.REMINDER_RETRY_BACKOFF_SECONDS * 2 ** (attempts - 1)
    return dt.timedelta(seconds=min(seconds, settings.REMINDER_RETRY_BACKOFF_MAX_SECONDS))


def _is_permanent(error: Exception) -> bool:
    """SMTP 5xx (e.g. unknown mailbox) will not get better by retrying; 4xx and timeouts may."""
    if isinstance(error, NoRecipientsError):
        return True
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _msg in error.recipients.values())
    if isinstance(error, smtplib.SMTPResponseException):
        return error.smtp_code >= 500
    return False


# --- The email -------------------------------------------------------------------------------


def message_id(reminder_id: int, attempt_number: int) -> str:
    """Deterministic per reminder and attempt, so a resend is recognisable as such."""
    return (
        f"<reminder-{reminder_id}-attempt-{attempt_number}@{settings.REMINDER_MESSAGE_ID_DOMAIN}>"
    )


def case_link(case_id: int) -> str:
    return f"{settings.SITE_URL}{reverse('cases:case-detail', args=[case_id])}"


def reminder_email(reminder: Reminder, *, attempt_number: int) -> EmailMultiAlternatives:
    """The email for one reminder: kind, due date, case reference and link. Nothing else.

    Built from the reminder row alone: the patient record is never loaded, so no name,
    hospital number or date of birth can reach the subject, body or headers.
    """
    context = {
        "kind": ReminderKind(reminder.kind).label,
        "guidance": KIND_GUIDANCE[ReminderKind(reminder.kind)],
        "due_on": reminder.event_on or timezone.localdate(reminder.due_at),
        "reference": Case(pk=reminder.case_id).reference,
        "link": case_link(reminder.case_id),
    }
    subject = " ".join(render_to_string("emails/reminder-subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("emails/reminder-body.txt", context),
        to=list(reminder.recipients),
        headers={
            "Message-ID": message_id(reminder.pk, attempt_number),
            "Auto-Submitted": "auto-generated",  # RFC 3834: no out-of-office replies
            "X-Auto-Response-Suppress": "All",
        },
    )
    message.attach_alternative(render_to_string("emails/reminder-body.html", context), "text/html")
    return message
