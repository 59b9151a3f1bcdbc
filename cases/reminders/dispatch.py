"""Sending reminders: PostgreSQL is the schedule, Celery only carries the work (DESIGN.md §5).

The life of a reminder row::

    PENDING --dispatch claims it--> SENDING --send task--> SENT
       ^                               |  \\--SMTP error--> PENDING (later, back-off) or FAILED
       |                               \\--worker died, lease expired--> claimed again (or FAILED)
       \\-- reminder_retry (a coordinator, from the log) <-- FAILED
    PENDING --its last day passed--> EXPIRED (never sent; planning.expires_on)
    PENDING --non-urgent, claimed--> stays PENDING in its recipients' digest, then takes the
                                     digest's outcome (SENT or FAILED)

docs/reminders.md has the whole state machine, the delivery guarantee and recovery times.

- ``reminders_dispatch_due`` runs every minute (Celery beat). It claims due rows with
  ``SELECT … FOR UPDATE SKIP LOCKED`` (so any number of dispatchers split the work and never
  share a row), gives each claim its own token, and after COMMIT queues one send task per row.
- ``reminder_send`` takes only the reminder id. Under the row lock it starts one attempt per
  claim (a task delivered twice finds the attempt already there and stops), sends, then marks the
  row SENT with a compare-and-set on the claim token.
- A claim older than REMINDER_LEASE_SECONDS belongs to a worker that died (send tasks are killed
  after REMINDER_SEND_TIME_LIMIT, which is shorter): the next dispatch claims it again. So a killed
  worker or a wiped Redis loses nothing. The one unavoidable duplicate is a worker that dies after
  the SMTP server accepted a message and before it noted the acceptance (below).
- A database that blinks after the SMTP server accepted a message sends nothing twice: the
  acceptance is noted in Redis under the claim token, the SENT mark is retried with back-off,
  and if it still cannot be written the next attempt finds the acceptance and records it
  instead of sending (``_accepted_earlier``).

Nothing is ever scheduled in the broker with an ETA or countdown: retries are rows with a later
``due_at``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import smtplib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import QuerySet
from django.db.models.functions import UUID4
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from cases.common.constants import workflow_constants
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
    expired: list[int] = field(default_factory=list)  # over before they could be sent
    digested: list[int] = field(default_factory=list)  # gathered into a digest, not sent alone

    @property
    def queued(self) -> list[int]:
        return self.claimed + self.reclaimed


# --- Dispatch --------------------------------------------------------------------------------


def reminders_dispatch_due(
    *, enqueue: Callable[[list[int]], None], limit: int | None = None
) -> DispatchResult:
    """Claim what is due and queue one send per claimed row; record the heartbeat.

    0. Due PENDING rows whose last day has passed become EXPIRED (never sent).
    1. Claim up to ``limit`` due PENDING rows, oldest first, skipping rows locked by others;
       with REMINDER_DIGEST the non-urgent ones join their recipients' digest of the day.
    2. With the room left, reclaim SENDING rows whose lease expired (their worker died).
    3. Mark them SENDING with a fresh claim token each; after COMMIT, ``enqueue`` their ids.
    4. Record that dispatch ran (in PostgreSQL, so it survives a Redis wipe).
    """
    limit = settings.REMINDER_DISPATCH_BATCH_SIZE if limit is None else limit
    now = timezone.now()
    result = DispatchResult()
    with transaction.atomic(durable=True):
        result.expired = expire_over(now, limit)
        result.claimed = list(due_for_claim(now, limit))
        if settings.REMINDER_DIGEST and result.claimed:
            result.claimed = _gather_digests(result.claimed, now, result)
        room = limit - len(result.claimed) - len(result.digested)
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
        .filter(state=S.PENDING, due_at__lte=now, digest__isnull=True)
        .order_by("due_at")
        .values_list("id", flat=True)[:limit]
    )


def expire_over(now: dt.datetime, limit: int) -> list[int]:
    """Due PENDING rows whose last day to send has passed become EXPIRED (same index)."""
    today = timezone.localdate(now)
    ids = list(
        Reminder.objects.select_for_update(skip_locked=True)
        .filter(state=S.PENDING, due_at__lte=now, expires_on__lt=today)
        .order_by("due_at")
        .values_list("id", flat=True)[:limit]
    )
    if ids:
        Reminder.objects.filter(id__in=ids).update(
            state=S.EXPIRED, expired_at=now, claim_token=None, updated_at=now
        )
        log.info("%d reminders expired unsent", len(ids))
    return ids


def is_urgent(kind: str, event_on: dt.date | None, today: dt.date) -> bool:
    """Urgent alerts go at once, never in a digest: a bevacizumab-interval breach, and an SCRT
    window that closes within REMINDER_URGENT_WINDOW_DAYS (a digest itself is sent as is)."""
    if kind in (ReminderKind.BEV_INTERVAL_BREACH, ReminderKind.DIGEST):
        return True
    if kind == ReminderKind.SCRT_WINDOW_CLOSING and event_on is not None:
        return (event_on - today).days <= workflow_constants().urgent_window_days
    return False


def _gather_digests(ids: list[int], now: dt.datetime, result: DispatchResult) -> list[int]:
    """Put the claimed non-urgent reminders into their recipients' digest of the day; return
    the ids to send now (urgent ones, and each new digest).

    One digest a day per recipient list (dedupe key ``digest:<day>:<list hash>``). A reminder
    that falls due after that day's digest has gone waits for the next day's, unless it would
    expire first; then it goes in an extra digest at once.
    """
    today = timezone.localdate(now)
    rows = list(
        Reminder.objects.filter(id__in=ids).values_list(
            "id", "kind", "event_on", "recipients", "expires_on"
        )
    )
    send_now = [rid for rid, kind, event_on, _r, _e in rows if is_urgent(kind, event_on, today)]
    groups: dict[tuple[str, ...], list[tuple[int, dt.date | None]]] = {}
    for rid, kind, event_on, recipients, last_day in rows:
        if not is_urgent(kind, event_on, today):
            groups.setdefault(tuple(recipients), []).append((rid, last_day))
    if not groups:
        return send_now
    keys = {recipients: _digest_key(today, recipients) for recipients in groups}
    existing = {
        d.dedupe_key: d
        for d in Reminder.objects.select_for_update().filter(dedupe_key__in=keys.values())
    }
    tomorrow = today + dt.timedelta(days=1)
    for recipients, members in groups.items():
        digest = existing.get(keys[recipients])
        if digest is not None and digest.state != S.PENDING:
            waiting = [rid for rid, last in members if last is None or last >= tomorrow]
            if waiting:  # today's digest has gone: tomorrow's
                Reminder.objects.filter(id__in=waiting).update(
                    due_at=_send_time(tomorrow), updated_at=now
                )
            members = [(rid, last) for rid, last in members if rid not in waiting]
            if not members:
                continue
            digest = None
            key = f"{keys[recipients]}:{uuid.uuid4().hex[:8]}"
        else:
            key = keys[recipients]
        if digest is None:
            digest = _new_digest(key, recipients, today, now)
            if digest.state != S.PENDING:  # a racing dispatcher made and claimed it just now
                digest = _new_digest(f"{key}:{uuid.uuid4().hex[:8]}", recipients, today, now)
            if digest.due_at == now and digest.attempts == 0:  # ours: send it now
                send_now.append(digest.pk)
        member_ids = [rid for rid, _last in members]
        Reminder.objects.filter(id__in=member_ids).update(digest=digest, updated_at=now)
        result.digested.extend(member_ids)
    return send_now


def _new_digest(key: str, recipients: tuple[str, ...], day: dt.date, now: dt.datetime) -> Reminder:
    """INSERT … ON CONFLICT DO NOTHING, then the row under that key, locked: two dispatchers
    making the same digest at once never fail; the second finds the first's."""
    Reminder.objects.bulk_create(
        [
            Reminder(
                kind=ReminderKind.DIGEST,
                dedupe_key=key,
                due_at=now,
                event_on=day,
                recipients=list(recipients),
                created_at=now,
                updated_at=now,
            )
        ],
        ignore_conflicts=True,
    )
    return Reminder.objects.select_for_update().get(dedupe_key=key)


def _digest_key(day: dt.date, recipients: tuple[str, ...]) -> str:
    """No address in the key (it is shown on the log): a hash of the recipient list."""
    digest = hashlib.sha256("\n".join(sorted(recipients)).encode()).hexdigest()[:16]
    return f"digest:{day.isoformat()}:{digest}"


def _send_time(day: dt.date) -> dt.datetime:
    zone = ZoneInfo(settings.TIME_ZONE)
    return dt.datetime(day.year, day.month, day.day, settings.REMINDER_SEND_HOUR, tzinfo=zone)


def _settle_members(digest_id: int, **changes: object) -> None:
    """A digest's outcome is its pending members' outcome (sent, or failed with its error)."""
    Reminder.objects.filter(digest_id=digest_id, state=S.PENDING).update(**changes)


def expired_claims(
    now: dt.datetime, room: int
) -> QuerySet[Reminder, tuple[int, Any, int, dt.datetime]]:
    """The reclaim query's candidates: SENDING rows claimed before the later of the lease and
    pick-up cut-offs, oldest first (reminder_claim_idx's predicate: an index scan at any size)."""
    return (
        Reminder.objects.select_for_update(skip_locked=True)
        .filter(state=S.SENDING, claimed_at__lt=max(_lease_cutoff(now), _pickup_cutoff(now)))
        .order_by("claimed_at")
        .values_list("id", "claim_token", "attempts", "claimed_at")[:room]
    )


def _lease_cutoff(now: dt.datetime) -> dt.datetime:
    return now - dt.timedelta(seconds=settings.REMINDER_LEASE_SECONDS)


def _pickup_cutoff(now: dt.datetime) -> dt.datetime:
    return now - dt.timedelta(seconds=settings.REMINDER_PICKUP_SECONDS)


def _reclaim_expired(now: dt.datetime, room: int, result: DispatchResult) -> None:
    """Take back claims whose lease ran out (their worker died) and claims whose send task has
    not started within REMINDER_PICKUP_SECONDS (its message lost with a Redis flush or outage):
    no attempt exists under such a claim, so nothing can have been sent under it, and if the old
    task does turn up it finds a newer claim and sends under that one only once."""
    lease = _lease_cutoff(now)
    candidates = list(expired_claims(now, room))
    young = [token for _id, token, _n, claimed_at in candidates if claimed_at >= lease]
    started = set(
        ReminderAttempt.objects.filter(claim_token__in=young).values_list("claim_token", flat=True)
    )
    expired = [
        (rid, token, n) for rid, token, n, claimed_at in candidates
        if claimed_at < lease or token not in started
    ]  # fmt: skip
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
        Reminder.objects.filter(digest_id__in=result.failed, state=S.PENDING).update(
            state=S.FAILED, last_error=ABANDONED_ERROR, updated_at=now
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
    """Send one claimed reminder; return what happened ("sent", "retry", "failed", "skipped",
    "recorded" when an earlier attempt's acceptance was found and nothing was sent again)."""
    started = _attempt_start(reminder_id)
    if started is None:
        return "skipped"
    if started == "recorded":
        return "recorded"
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
    # The SMTP server has the message: from here on, sending again would be a duplicate.
    _note_accepted(attempt.claim_token)
    return _attempt_sent(reminder, attempt)


def _attempt_start(reminder_id: int) -> tuple[Reminder, ReminderAttempt] | str | None:
    """Start one attempt for the row's current claim, or None if there is nothing to do.

    Under the row lock: the row must still be SENDING (not cancelled, sent or failed), and no
    attempt may exist for its claim (a second delivery of the same task stops here). Starting
    renews the lease, so the dispatcher cannot hand the row to anyone else while this runs. The
    clock is read after the lock is granted, so a long wait for it does not back-date the claim.

    Before a new attempt, the earlier ones are checked: if one of them was accepted by the SMTP
    server but the database could not record it at the time (see ``_attempt_sent``), the row is
    marked SENT now and "recorded" returned: nothing is sent twice.
    """
    with transaction.atomic():
        reminder = Reminder.objects.select_for_update().filter(pk=reminder_id).first()
        now = timezone.now()
        if reminder is None or reminder.state != S.SENDING:
            return None
        if ReminderAttempt.objects.filter(claim_token=reminder.claim_token).exists():
            return None
        if reminder.expires_on is not None and reminder.expires_on < timezone.localdate(now):
            Reminder.objects.filter(pk=reminder_id).update(
                state=S.EXPIRED, expired_at=now, claim_token=None, updated_at=now
            )
            return None
        if reminder.kind == ReminderKind.DIGEST and not _digest_has_members(reminder, now):
            Reminder.objects.filter(pk=reminder_id).update(
                state=S.CANCELLED, cancelled_at=now, claim_token=None, updated_at=now
            )
            return None
        earlier = _accepted_earlier(reminder)
        if earlier is not None:
            _record_late(reminder, earlier, now)
            return "recorded"
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


def _digest_has_members(digest: Reminder, now: dt.datetime) -> bool:
    """Expire the digest's members that are over; is anything left to send?"""
    Reminder.objects.filter(
        digest=digest, state=S.PENDING, expires_on__lt=timezone.localdate(now)
    ).update(state=S.EXPIRED, expired_at=now, updated_at=now)
    return Reminder.objects.filter(digest=digest, state=S.PENDING).exists()


def _accepted_earlier(reminder: Reminder) -> ReminderAttempt | None:
    """An earlier attempt of this reminder the SMTP server accepted, if any.

    Two sources: the attempt log (an attempt marked SENT while the row could not be), and the
    acceptance note kept in Redis under the attempt's claim token for attempts whose outcome the
    database never received (left STARTED, then ABANDONED when the lease expired).
    """
    attempts = list(
        ReminderAttempt.objects.filter(reminder=reminder).only("id", "claim_token", "outcome")
    )
    for attempt in attempts:
        if attempt.outcome == AttemptOutcome.SENT:
            return attempt
    unknown = [
        a for a in attempts if a.outcome in (AttemptOutcome.STARTED, AttemptOutcome.ABANDONED)
    ]
    accepted = _accepted_claims([str(a.claim_token) for a in unknown])
    return next((a for a in unknown if str(a.claim_token) in accepted), None)


def _record_late(reminder: Reminder, attempt: ReminderAttempt, now: dt.datetime) -> None:
    Reminder.objects.filter(pk=reminder.pk).update(
        state=S.SENT, sent_at=now, claim_token=None, last_error="", updated_at=now
    )
    _settle_members(reminder.pk, state=S.SENT, sent_at=now, last_error="", updated_at=now)
    ReminderAttempt.objects.filter(pk=attempt.pk).update(
        outcome=AttemptOutcome.SENT,
        finished_at=now,
        error="Accepted by the mail server; recorded late (the database was unavailable).",
    )
    log.warning(
        "reminder %s: earlier attempt %s was accepted, not sent again",
        reminder.pk,
        attempt.message_id,
    )


# --- The acceptance note (Redis) -------------------------------------------------------------

ACCEPTED_PREFIX = "reminder-accepted:"


def _note_accepted(claim_token: object) -> None:
    """Note in Redis that the SMTP server accepted the attempt made under this claim (best
    effort, never raises). The key is the claim's random token, unique to the attempt even
    across a restored database; the value is nothing. No patient data."""
    try:
        cache.set(f"{ACCEPTED_PREFIX}{claim_token}", 1, settings.REMINDER_ACCEPTED_NOTE_SECONDS)
    except Exception:  # Redis down: the database mark below is the record that counts
        log.warning("could not note an accepted reminder in Redis")


def _accepted_claims(tokens: list[str]) -> set[str]:
    if not tokens:
        return set()
    try:
        found = cache.get_many([ACCEPTED_PREFIX + t for t in tokens])
    except Exception:
        log.warning("could not read acceptance notes from Redis")
        return set()
    return {key.removeprefix(ACCEPTED_PREFIX) for key in found}


def _attempt_sent(reminder: Reminder, attempt: ReminderAttempt) -> str:
    """Mark the row SENT; retried with back-off when the database blinks (bounded).

    If the mark still cannot be written, the row stays SENDING, its lease runs out, and the next
    attempt finds the acceptance note (``_accepted_earlier``) instead of sending again.
    """
    tries = settings.REMINDER_MARK_SENT_RETRIES + 1
    delay = settings.REMINDER_MARK_SENT_BACKOFF_MS / 1000
    give_up_at = time.monotonic() + settings.REMINDER_SEND_TIME_LIMIT / 2
    for number in range(1, tries + 1):
        try:
            return _mark_sent(reminder, attempt)
        except (OperationalError, InterfaceError) as error:
            log.warning(
                "reminder %s accepted but not yet marked sent (try %d of %d): %s",
                reminder.pk, number, tries, type(error).__name__,
            )  # fmt: skip
            if not connection.in_atomic_block:
                connection.close()  # a broken connection is replaced on the next query
            if number == tries or time.monotonic() + delay > give_up_at:
                break
            time.sleep(delay)
            delay *= 2
    log.error(
        "reminder %s accepted as %s but the database could not record it; the next attempt "
        "will find the acceptance and not send again",
        reminder.pk,
        attempt.message_id,
    )
    return "unrecorded"


def _mark_sent(reminder: Reminder, attempt: ReminderAttempt) -> str:
    now = timezone.now()
    with transaction.atomic():
        won = Reminder.objects.filter(
            pk=reminder.pk, state=S.SENDING, claim_token=attempt.claim_token
        ).update(state=S.SENT, sent_at=now, claim_token=None, last_error="", updated_at=now)
        if won:
            _settle_members(reminder.pk, state=S.SENT, sent_at=now, last_error="", updated_at=now)
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
        if final:
            _settle_members(reminder.pk, state=S.FAILED, last_error=text, updated_at=now)
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


def days_late(due_at: dt.datetime, now: dt.datetime) -> int:
    """Whole days late, when a reminder goes out more than a day after its due time; else 0."""
    if now - due_at <= dt.timedelta(days=1):
        return 0
    return (timezone.localdate(now) - timezone.localdate(due_at)).days


def late_notice(days: int) -> str:
    if days <= 0:
        return ""
    return f"this reminder is {days} day{'s' if days != 1 else ''} late"


def reminder_email(reminder: Reminder, *, attempt_number: int) -> EmailMultiAlternatives:
    """The email for one reminder: kind, due date, case reference and link. Nothing else.

    Built from the reminder row alone: the patient record is never loaded, so no name,
    hospital number or date of birth can reach the subject, body or headers. Sent more than a
    day after its due time (after an outage), it says how late it is.
    """
    if reminder.kind == ReminderKind.DIGEST:
        return digest_email(reminder, attempt_number=attempt_number)
    context = {
        "kind": ReminderKind(reminder.kind).label,
        "guidance": KIND_GUIDANCE[ReminderKind(reminder.kind)],
        "due_on": reminder.event_on or timezone.localdate(reminder.due_at),
        "reference": Case(pk=reminder.case_id).reference,
        "link": case_link(reminder.case_id),
        "late": late_notice(days_late(reminder.due_at, timezone.now())),
    }
    return _message(reminder, attempt_number, "reminder", context)


def digest_email(digest: Reminder, *, attempt_number: int) -> EmailMultiAlternatives:
    """One email with the recipient list's pending reminders in this digest, grouped by kind:
    each line the case reference, what is due, when, and a link. No patient data."""
    now = timezone.now()
    members = Reminder.objects.filter(digest=digest, state=S.PENDING).order_by(
        "kind", "event_on", "case_id"
    )
    groups: dict[str, dict[str, Any]] = {}
    for m in members:
        kind = ReminderKind(m.kind)
        group = groups.setdefault(
            kind, {"kind": kind.label, "guidance": KIND_GUIDANCE[kind], "lines": []}
        )
        group["lines"].append(
            {
                "reference": Case(pk=m.case_id).reference,
                "due_on": m.event_on or timezone.localdate(m.due_at),
                "link": case_link(m.case_id),
                "late": late_notice(days_late(m.due_at, now)),
            }
        )
    context = {
        "groups": list(groups.values()),
        "count": sum(len(g["lines"]) for g in groups.values()),
        "day": timezone.localdate(now),
    }
    return _message(digest, attempt_number, "digest", context)


def _message(
    reminder: Reminder, attempt_number: int, template: str, context: dict[str, Any]
) -> EmailMultiAlternatives:
    subject = " ".join(render_to_string(f"emails/{template}-subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"emails/{template}-body.txt", context),
        to=list(reminder.recipients),
        headers={
            "Message-ID": message_id(reminder.pk, attempt_number),
            "Auto-Submitted": "auto-generated",  # RFC 3834: no out-of-office replies
            "X-Auto-Response-Suppress": "All",
        },
    )
    message.attach_alternative(
        render_to_string(f"emails/{template}-body.html", context), "text/html"
    )
    return message
