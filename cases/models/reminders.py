"""Reminders: PostgreSQL is the schedule; Celery only dispatches (DESIGN §5)."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from cases.models.base import audited
from cases.models.record import Case

# --- Reminders -------------------------------------------------------------------------------


class ReminderKind(models.TextChoices):
    REIMAGING_DUE = "reimaging_due", "Re-imaging due"
    REASSESSMENT_DUE = "reassessment_due", "Reassessment due"
    BEV_INTERVAL_ENDS = "bev_interval_ends", "Bevacizumab interval ends"
    BEV_INTERVAL_BREACH = "bev_interval_breach", "Surgery planned inside bevacizumab interval"
    SCRT_WINDOW_CLOSING = "scrt_window_closing", "SCRT-to-surgery window closing"
    RESULT_OUTSTANDING = "result_outstanding", "Molecular result outstanding"
    ACTION_DUE = "action_due", "MDT action due"
    ACTION_OVERDUE = "action_overdue", "MDT action overdue"
    # One email with a recipient list's non-urgent reminders of the day (its members point at it).
    DIGEST = "digest", "Daily digest"
    LETTER_TO_CHECK = "letter_to_check", "Outcome letter awaits checking"


class ReminderState(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    # What it was about is over (the scan overdue past its grace, the window closed): not sent.
    EXPIRED = "expired", "Expired unsent"


@audited()
class Reminder(models.Model):
    """A message due at a time. PostgreSQL is the schedule; Celery only dispatches (DESIGN §5)."""

    kind = models.CharField(max_length=25, choices=ReminderKind.choices)
    # Every reminder is about one case, except a digest, which gathers several.
    case = models.ForeignKey(
        Case, on_delete=models.CASCADE, related_name="reminders", null=True, blank=True
    )
    dedupe_key = models.CharField(max_length=120, unique=True)
    due_at = models.DateTimeField()
    recipients = ArrayField(models.EmailField(), default=list)
    state = models.CharField(
        max_length=10, choices=ReminderState.choices, default=ReminderState.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # The claim a dispatcher run put on the row; the sender compares-and-sets on it (DESIGN §5).
    claim_token = models.UUIDField(null=True, blank=True, editable=False)
    # The clinical date the reminder is about (the "due date" an email shows); due_at is when
    # the email goes out, e.g. re-imaging REMINDER_REIMAGING_LEAD_DAYS ahead of this date. The
    # sync always sets it; a row made by hand without it shows its send date instead.
    event_on = models.DateField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # The last local day on which it may still be sent (its clinical date plus the kind's grace,
    # cases/reminders/planning.py: expires_on); from the next day it is EXPIRED. None: never.
    expires_on = models.DateField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)
    # The daily digest this reminder went (or is going) out in; None when sent on its own.
    digest = models.ForeignKey(
        "self", on_delete=models.PROTECT, related_name="members", null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=ReminderState.values), name="reminder_state"
            ),
            models.CheckConstraint(condition=Q(kind__in=ReminderKind.values), name="reminder_kind"),
            models.CheckConstraint(
                condition=~Q(state="sent") | Q(sent_at__isnull=False),
                name="reminder_sent_has_time",
            ),
            models.CheckConstraint(
                condition=Q(dedupe_key__regex=r"\S"), name="reminder_dedupe_key_set"
            ),
            # A row being sent always carries the claim it was sent under.
            models.CheckConstraint(
                condition=~Q(state="sending")
                | (Q(claim_token__isnull=False) & Q(claimed_at__isnull=False)),
                name="reminder_sending_is_claimed",
            ),
            models.CheckConstraint(
                condition=~Q(state="cancelled") | Q(cancelled_at__isnull=False),
                name="reminder_cancelled_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(state="expired") | Q(expired_at__isnull=False),
                name="reminder_expired_has_time",
            ),
            # A digest gathers cases and is never itself in a digest; every other reminder is
            # about exactly one case.
            models.CheckConstraint(
                condition=(Q(kind="digest") & Q(case__isnull=True) & Q(digest__isnull=True))
                | (~Q(kind="digest") & Q(case__isnull=False)),
                name="reminder_digest_shape",
            ),
        ]
        indexes = [
            # The dispatcher's sweep: "pending and due" must be an index scan at any size.
            models.Index(fields=["due_at"], condition=Q(state="pending"), name="reminder_due_idx"),
            # Reclaiming claims whose worker died: only the few rows in flight are indexed.
            models.Index(
                fields=["claimed_at"], condition=Q(state="sending"), name="reminder_claim_idx"
            ),
            # The reminder log lists newest first, filtered by state, kind, both or neither,
            # a page at a time by keyset (due_at, id): one index for each, so a page is an
            # index scan of 51 rows at any size (tests/performance/test_performance_explain.py).
            models.Index(fields=["state", "kind", "-due_at", "-id"], name="reminder_log_idx"),
            # (Pending rows are listed from reminder_due_idx: this one must not compete with it
            # for the dispatcher's claim query.)
            models.Index(
                fields=["state", "-due_at", "-id"],
                condition=~Q(state="pending"),
                name="reminder_log_state_idx",
            ),
            models.Index(fields=["kind", "-due_at", "-id"], name="reminder_log_kind_idx"),
            models.Index(fields=["-due_at", "-id"], name="reminder_log_all_idx"),
            # "N reminders expired unsent this week" on every staff page.
            models.Index(
                fields=["expired_at"], condition=Q(state="expired"), name="reminder_expired_idx"
            ),
        ]

    def __str__(self) -> str:
        about = f"case {self.case_id}" if self.case_id else "several cases"
        return f"{self.get_kind_display()} for {about} at {self.due_at:%d %b %Y %H:%M}"


class AttemptOutcome(models.TextChoices):
    STARTED = "started", "Started"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    # The worker stopped mid-send and the claim expired: the email may or may not have gone.
    ABANDONED = "abandoned", "Abandoned (worker stopped)"


@audited()
class ReminderAttempt(models.Model):
    """One try at sending a reminder, with its outcome and error: the history behind the log."""

    reminder = models.ForeignKey(Reminder, on_delete=models.CASCADE, related_name="send_attempts")
    number = models.PositiveSmallIntegerField()
    # One attempt per claim: a task delivered twice for the same claim cannot send twice.
    claim_token = models.UUIDField(unique=True)
    message_id = models.CharField(max_length=200)
    recipients = ArrayField(models.EmailField(), default=list)
    outcome = models.CharField(
        max_length=10, choices=AttemptOutcome.choices, default=AttemptOutcome.STARTED
    )
    error = models.TextField(blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["reminder", "number"]
        constraints = [
            models.UniqueConstraint(fields=["reminder", "number"], name="attempt_number_once"),
            models.CheckConstraint(
                condition=Q(outcome__in=AttemptOutcome.values), name="attempt_outcome_valid"
            ),
            models.CheckConstraint(condition=Q(number__gte=1), name="attempt_number_positive"),
        ]

    def __str__(self) -> str:
        return f"Attempt {self.number} of reminder {self.reminder_id}: {self.outcome}"


class DispatchHeartbeat(models.Model):
    """One row: when the reminder dispatcher last ran. In PostgreSQL so a Redis wipe keeps it."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    last_run_at = models.DateTimeField()
    last_claimed = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="heartbeat_single_row")]

    def __str__(self) -> str:
        return f"Dispatch last ran at {self.last_run_at:%d %b %Y %H:%M:%S}"
