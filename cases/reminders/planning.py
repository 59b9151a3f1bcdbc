"""Reminders a case's facts imply. Every write service calls ``reminders_sync_for_case`` inside its
own transaction, so a reminder is created, moved or cancelled together with the fact behind it.

The reminders of a case are a pure function of its current facts: this module derives the whole
set and reconciles the stored rows with it. Each reminder has a dedupe key naming the fact and its
date, so a double submit or two concurrent syncs cannot create a second row, and a fact that moves
after its reminder was sent (surgery re-planned, action re-dated) arms a fresh one.

What implies what (each email goes out at REMINDER_SEND_HOUR, local time, on the day shown):

- open reassessment, no scan booked or done → re-imaging due, on the due date minus
  REMINDER_REIMAGING_LEAD_DAYS; open reassessment → reassessment due, on the due date;
- last bevacizumab dose (or a running course's planned last dose, when later) and a planned
  elective operation → interval ends, on the engine's earliest elective surgery date; an
  operation planned inside that interval → a breach alert at once;
- SCRT completed, primary not yet operated on → window closing, REMINDER_SCRT_WARNING_DAYS before
  the window closes (the engine's date, pathway-spec R11);
- molecular result pending → result outstanding, once pending more than
  RESULT_CHASE_DAYS (the day it joins the dashboard's worklist);
- open MDT action → action due to its owner on its due date, and action overdue to the case
  coordinator REMINDER_ACTION_OVERDUE_DAYS later.

A case that has left the pathway implies no reminders. Rows already SENT or FAILED are history and
never touched; a row being sent is left alone once its send attempt has started.

Expiry: each reminder may be sent until the last day ``expires_on`` gives for its kind (its
clinical date plus a grace, the WorkflowConstants' reminder graces); a reminder whose last day
has passed is never created, and a pending one becomes EXPIRED (here, at dispatch, or when its
send task starts). A reminder created after its send time (a fact entered late) is due when it
is created, not back-dated: nothing goes out "due" before the day it was made.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import batched
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from cases.common.constants import rule_constants, workflow_constants
from cases.models import (
    Action as MdtAction,
)
from cases.models import (
    ActionStatus,
    AgentAdministration,
    Case,
    LetterStatus,
    MolecularResult,
    OutcomeLetter,
    PelvicRadiotherapy,
    Radiotherapy,
    Reassessment,
    Reminder,
    ReminderAttempt,
    ReminderKind,
    ReminderState,
    Stage,
    Surgery,
    TreatmentCourse,
    Urgency,
)
from cases.pathway import earliest_elective_surgery, latest_primary_surgery_after_scrt
from cases.security.permissions import Capability, require

K = ReminderKind
CHUNK_SIZE = 1000  # cases per round of queries in a bulk sync


@dataclass(frozen=True)
class Wanted:
    """One reminder the facts imply. ``due_at`` None means "at once" (an alert)."""

    key: str
    kind: str
    event_on: dt.date
    due_at: dt.datetime | None
    recipients: tuple[str, ...]

    @property
    def expires_on(self) -> dt.date:
        return expires_on(self.kind, self.event_on)


def expires_on(kind: str, event_on: dt.date) -> dt.date:
    """The last local day on which a reminder of this kind about ``event_on`` may be sent.

    - re-imaging due, reassessment due: the reassessment's due date plus their graces;
    - bevacizumab interval ends: the day it ends; breach alert: the planned surgery day;
    - SCRT window closing: the day the window closes;
    - result outstanding: the chase day plus the result-chase grace;
    - action due: its due date plus the action grace; action overdue: the day it falls due
      (REMINDER_ACTION_OVERDUE_DAYS after the action's due date) plus the action grace.
    """
    w = workflow_constants()
    grace = {
        K.REIMAGING_DUE: w.reimaging_reminder_grace_days,
        K.REASSESSMENT_DUE: w.reassessment_reminder_grace_days,
        K.RESULT_OUTSTANDING: w.result_chase_grace_days,
        K.ACTION_DUE: w.action_reminder_grace_days,
        K.ACTION_OVERDUE: settings.REMINDER_ACTION_OVERDUE_DAYS + w.action_reminder_grace_days,
    }.get(kind, 0)
    return event_on + dt.timedelta(days=grace)


EXPIRY_REASONS = {
    K.REIMAGING_DUE: "the reassessment needing the scan is more than {grace} days overdue",
    K.REASSESSMENT_DUE: "the reassessment is more than {grace} days overdue",
    K.BEV_INTERVAL_ENDS: "the bevacizumab interval had already ended",
    K.BEV_INTERVAL_BREACH: "the planned surgery date had passed",
    K.SCRT_WINDOW_CLOSING: "the SCRT-to-surgery window had closed",
    K.RESULT_OUTSTANDING: "the result had been chased for more than {grace} days",
    K.ACTION_DUE: "the action was more than {grace} days past its due date",
    K.ACTION_OVERDUE: "the action was more than {grace} days overdue",
}


def expiry_reason(kind: str, event_on: dt.date | None, last_day: dt.date | None) -> str:
    """Why a reminder expired unsent, in words, for the reminder log."""
    if event_on is None or last_day is None or kind not in EXPIRY_REASONS:
        return "What it was about is over."
    grace = (last_day - event_on).days
    reason = EXPIRY_REASONS[K(kind)].format(grace=grace)
    return f"Not sent: {reason} (last day to send {last_day:%-d %b %Y})."


@dataclass
class CaseFacts:
    """What the derivation reads about one case (loaded in bulk, see ``_load_facts``)."""

    case_id: int
    stage: str
    team: tuple[str, ...]  # responsible clinician and coordinator, in that order
    coordinator: tuple[str, ...]
    open_reassessments: list[dict] = field(default_factory=list)
    last_bev_dose: dt.date | None = None
    surgeries: list[dict] = field(default_factory=list)
    last_scrt: dt.date | None = None
    pending_results: list[dict] = field(default_factory=list)
    open_actions: list[dict] = field(default_factory=list)
    letters_to_check: list[dict] = field(default_factory=list)


@dataclass
class SyncCounts:
    created: int = 0
    updated: int = 0
    cancelled: int = 0

    def add(self, other: SyncCounts) -> None:
        self.created += other.created
        self.updated += other.updated
        self.cancelled += other.cancelled


# --- Entry points ----------------------------------------------------------------------------


def reminders_sync_for_case(*, case_id: int) -> None:
    """Bring the case's reminders in line with its current facts (idempotent).

    Call it at the end of any transaction that changes the case's facts. It locks the case row,
    so two concurrent syncs of one case run one after the other.
    """
    reminders_sync_for_cases(case_ids=[case_id])


@transaction.atomic
def reminders_sync_for_cases(*, case_ids: Iterable[int]) -> SyncCounts:
    """The same for many cases at once, a fixed number of queries per 1,000 cases (backfill)."""
    counts = SyncCounts()
    for chunk in batched(sorted(set(case_ids)), CHUNK_SIZE):
        counts.add(_sync_chunk(list(chunk)))
    return counts


def reminder_retry(*, user: object, reminder_id: int) -> str:
    """A coordinator re-queues a FAILED reminder: "queued", "cancelled", "expired" or
    "unchanged".

    The facts are read again first: a reminder they no longer imply (the action was done, the
    scan booked) is cancelled rather than sent, and recipients are refreshed (an address may have
    been corrected). A retried reminder gets one more attempt before it is FAILED again.
    """
    require(user, Capability.MANAGE_REMINDERS)
    with transaction.atomic():
        row = Reminder.objects.filter(pk=reminder_id).values_list("case_id", "kind").first()
        if row is None:
            return "unchanged"
        if row[1] == ReminderKind.DIGEST:
            return _digest_retry(reminder_id)
        row = row[0]
        facts = _load_facts([row])  # locks the case first, the same order as every sync
        reminder = Reminder.objects.select_for_update().get(pk=reminder_id)
        if reminder.state != ReminderState.FAILED:
            return "unchanged"
        now = timezone.now()
        wanted = {w.key: w for f in facts.values() for w in reminders_implied(f)}
        w = wanted.get(reminder.dedupe_key)
        if w is None:
            reminder.state, reminder.cancelled_at = ReminderState.CANCELLED, now
            outcome = "cancelled"
        elif w.expires_on < timezone.localdate(now):
            reminder.state, reminder.expired_at = ReminderState.EXPIRED, now
            reminder.expires_on = w.expires_on
            outcome = "expired"
        else:
            reminder.state, reminder.due_at = ReminderState.PENDING, now
            reminder.recipients, reminder.digest = list(w.recipients), None
            outcome = "queued"
        reminder.last_error, reminder.updated_at = "", now
        reminder.save(
            update_fields=[
                "state",
                "cancelled_at",
                "expired_at",
                "expires_on",
                "due_at",
                "recipients",
                "digest",
                "last_error",
                "updated_at",
            ]
        )
    return outcome


def _digest_retry(digest_id: int) -> str:
    """A failed digest goes again with its failed members (each is also checked at send time:
    an expired one drops out)."""
    digest = Reminder.objects.select_for_update().get(pk=digest_id)
    if digest.state != ReminderState.FAILED:
        return "unchanged"
    now = timezone.now()
    Reminder.objects.filter(digest=digest, state=ReminderState.FAILED).update(
        state=ReminderState.PENDING, last_error="", updated_at=now
    )
    Reminder.objects.filter(pk=digest_id).update(
        state=ReminderState.PENDING, due_at=now, last_error="", updated_at=now
    )
    return "queued"


def reminder_cancel(*, user: object, reminder_id: int) -> str:
    """A coordinator cancels a reminder that no longer applies: "cancelled" or "unchanged".

    Only one still waiting (pending, or failed): a reminder being sent, sent, expired or already
    cancelled is left as it is. The change is audited like every write (pghistory, with the
    request's user). A digest is cancelled with its waiting members.
    """
    require(user, Capability.MANAGE_REMINDERS)
    waiting = [ReminderState.PENDING, ReminderState.FAILED]
    with transaction.atomic():
        reminder = Reminder.objects.select_for_update().filter(pk=reminder_id).first()
        if reminder is None or reminder.state not in waiting:
            return "unchanged"
        now = timezone.now()
        rows = Reminder.objects.filter(pk=reminder.pk)
        if reminder.kind == ReminderKind.DIGEST:
            rows = Reminder.objects.filter(
                Q(pk=reminder.pk) | Q(digest=reminder, state__in=waiting)
            )
        rows.update(
            state=ReminderState.CANCELLED, cancelled_at=now, claim_token=None, updated_at=now
        )
    return "cancelled"


# --- Derivation ------------------------------------------------------------------------------


def reminders_implied(facts: CaseFacts) -> list[Wanted]:
    """Every reminder the case's current facts imply (no database access), over or not: the
    sync creates only those whose last day has not passed (``expires_on``)."""
    # A letter awaits checking whatever the stage (an outcome may take the case off the pathway).
    letters = list(_letter_reminders(facts))
    if facts.stage == Stage.LEFT_PATHWAY:
        return letters
    return [
        *letters,
        *_reassessment_reminders(facts),
        *_bevacizumab_reminders(facts),
        *_scrt_reminders(facts),
        *_result_reminders(facts),
        *_action_reminders(facts),
    ]


def _reassessment_reminders(facts: CaseFacts) -> Iterator[Wanted]:
    lead = dt.timedelta(days=settings.REMINDER_REIMAGING_LEAD_DAYS)
    for r in facts.open_reassessments:
        due_on = r["due_on"]
        prefix = f"c{facts.case_id}:reassessment{r['id']}:{due_on.isoformat()}"
        if r["imaging_booked_for"] is None and r["imaging_performed_on"] is None:
            yield Wanted(
                f"{prefix}:reimaging", K.REIMAGING_DUE, due_on, send_time(due_on - lead), facts.team
            )
        yield Wanted(f"{prefix}:due", K.REASSESSMENT_DUE, due_on, send_time(due_on), facts.team)


def _planned_elective(facts: CaseFacts) -> list[dict]:
    return [
        s
        for s in facts.surgeries
        if s["planned_on"] is not None
        and s["performed_on"] is None
        and s["cancelled_on"] is None
        and s["urgency"] == Urgency.ELECTIVE
    ]


def _bevacizumab_reminders(facts: CaseFacts) -> Iterator[Wanted]:
    dose = facts.last_bev_dose
    planned = _planned_elective(facts)
    if dose is None or not planned:
        return
    # pathway-spec R10/D1: surgery on the interval's last day is allowed; a day earlier is a breach.
    ends_on = earliest_elective_surgery(dose, rule_constants().bev_min_days)
    prefix = f"c{facts.case_id}:bev{dose.isoformat()}"
    yield Wanted(f"{prefix}:ends", K.BEV_INTERVAL_ENDS, ends_on, send_time(ends_on), facts.team)
    for s in planned:
        # Any date before the interval ends, as the engine and the worklist read it (even a
        # stale date before the last dose).
        if s["planned_on"] < ends_on:
            key = f"{prefix}:breach:surgery{s['id']}:{s['planned_on'].isoformat()}"
            yield Wanted(key, K.BEV_INTERVAL_BREACH, s["planned_on"], None, facts.team)


def _scrt_reminders(facts: CaseFacts) -> Iterator[Wanted]:
    completed = facts.last_scrt
    if completed is None:
        return
    primary_done = any(
        s["performed_on"] is not None
        and s["performed_on"] >= completed
        and s["kind"] in Surgery.PRIMARY_KINDS
        for s in facts.surgeries
    )
    if primary_done:
        return
    closes_on = latest_primary_surgery_after_scrt(completed, rule_constants().scrt_max_delay_months)
    warn_on = closes_on - dt.timedelta(days=settings.REMINDER_SCRT_WARNING_DAYS)
    key = f"c{facts.case_id}:scrt{completed.isoformat()}:closing"
    yield Wanted(key, K.SCRT_WINDOW_CLOSING, closes_on, send_time(warn_on), facts.team)


def _result_reminders(facts: CaseFacts) -> Iterator[Wanted]:
    # "Pending more than N days": the day the result joins the dashboard's worklist (day N + 1).
    chase = dt.timedelta(days=workflow_constants().result_chase_days + 1)
    for r in facts.pending_results:
        chase_on = r["requested_on"] + chase
        key = f"c{facts.case_id}:result:{r['marker']}:{r['requested_on'].isoformat()}"
        yield Wanted(key, K.RESULT_OUTSTANDING, chase_on, send_time(chase_on), facts.team)


def _action_reminders(facts: CaseFacts) -> Iterator[Wanted]:
    grace = dt.timedelta(days=settings.REMINDER_ACTION_OVERDUE_DAYS)
    for a in facts.open_actions:
        due_on = a["due_on"]
        owner = _emails(a["owner__email"]) or facts.coordinator
        # The owner is in the key: an action handed to someone else reminds its new owner.
        prefix = f"c{facts.case_id}:action{a['id']}:{due_on.isoformat()}"
        yield Wanted(
            f"{prefix}:due:u{a['owner_id']}", K.ACTION_DUE, due_on, send_time(due_on), owner
        )
        yield Wanted(
            f"{prefix}:overdue",
            K.ACTION_OVERDUE,
            due_on,
            send_time(due_on + grace),
            facts.coordinator or owner,
        )


def _letter_reminders(facts: CaseFacts) -> Iterator[Wanted]:
    # At once (the letters are due out within a working day of the sign-off); one email per
    # outcome, however many of its letters await checking.
    first: dict[int, dt.datetime] = {}
    for letter in facts.letters_to_check:
        item = letter["agenda_item_id"]
        first[item] = min(first.get(item, letter["created_at"]), letter["created_at"])
    for item, created_at in sorted(first.items()):
        key = f"c{facts.case_id}:outcome{item}:letters-check"
        yield Wanted(key, K.LETTER_TO_CHECK, timezone.localdate(created_at), None, facts.team)


def send_time(day: dt.date) -> dt.datetime:
    """REMINDER_SEND_HOUR local time on ``day``, as an aware datetime (DST-safe)."""
    zone = ZoneInfo(settings.TIME_ZONE)
    return dt.datetime(day.year, day.month, day.day, settings.REMINDER_SEND_HOUR, tzinfo=zone)


def _emails(*addresses: str | None) -> tuple[str, ...]:
    """Distinct non-empty addresses, in order."""
    seen: list[str] = []
    for address in addresses:
        if address and address.strip() and address.strip() not in seen:
            seen.append(address.strip())
    return tuple(seen)


# --- Loading and reconciling -----------------------------------------------------------------


def _load_facts(case_ids: list[int]) -> dict[int, CaseFacts]:
    """Lock the cases (in id order: bulk and single syncs never deadlock); read their facts."""
    cases = (
        Case.objects.select_for_update(of=("self",))
        .filter(id__in=case_ids)
        .order_by("id")
        .values_list("id", "stage", "responsible_clinician__email", "coordinator__email")
    )
    fallback = _emails(settings.REMINDER_FALLBACK_EMAIL)
    facts = {}
    for case_id, stage, clinician, coordinator in cases:
        team = _emails(clinician, coordinator) or fallback
        facts[case_id] = CaseFacts(case_id, stage, team, _emails(coordinator) or fallback)

    for row in Reassessment.objects.filter(case_id__in=case_ids, reassessed_on__isnull=True).values(
        "id", "case_id", "due_on", "imaging_booked_for", "imaging_performed_on"
    ):
        facts[row["case_id"]].open_reassessments.append(row)
    for row in (
        AgentAdministration.objects.filter(agent="bevacizumab", course__case_id__in=case_ids)
        .values("course__case_id")
        .annotate(last=Max("given_on"))
    ):
        facts[row["course__case_id"]].last_bev_dose = row["last"]
    # A running course's planned last dose, when later, is where the interval counts from
    # (pathway-spec H2, as ``bevacizumab_interval_start`` reads the record).
    for case_id, planned in TreatmentCourse.objects.filter(
        case_id__in=case_ids, stopped_on__isnull=True, bevacizumab_last_planned_on__isnull=False
    ).values_list("case_id", "bevacizumab_last_planned_on"):
        given = facts[case_id].last_bev_dose
        facts[case_id].last_bev_dose = max(given, planned) if given else planned
    for row in Surgery.objects.filter(case_id__in=case_ids).values(
        "id", "case_id", "kind", "urgency", "planned_on", "performed_on", "cancelled_on"
    ):
        facts[row["case_id"]].surgeries.append(row)
    for row in (
        Radiotherapy.objects.filter(
            case_id__in=case_ids,
            kind=PelvicRadiotherapy.SHORT_COURSE_5X5,
            completed_on__isnull=False,
        )
        .values("case_id")
        .annotate(last=Max("completed_on"))
    ):
        facts[row["case_id"]].last_scrt = row["last"]
    for row in MolecularResult.objects.filter(
        case_id__in=case_ids, status="pending", requested_on__isnull=False
    ).values("case_id", "marker", "requested_on"):
        facts[row["case_id"]].pending_results.append(row)
    for row in MdtAction.objects.filter(case_id__in=case_ids, status=ActionStatus.OPEN).values(
        "id", "case_id", "due_on", "owner_id", "owner__email"
    ):
        facts[row["case_id"]].open_actions.append(row)
    for row in OutcomeLetter.objects.filter(
        case_id__in=case_ids, status=LetterStatus.DRAFTED
    ).values("agenda_item_id", "case_id", "created_at"):
        facts[row["case_id"]].letters_to_check.append(row)
    return facts


def _sync_chunk(case_ids: list[int]) -> SyncCounts:
    """1. lock and read the facts; 2. derive; 3. lock the live rows; 4. insert, update, cancel."""
    now = timezone.now()
    today = timezone.localdate(now)
    facts = _load_facts(case_ids)
    implied = {w.key: (case_id, w) for case_id, f in facts.items() for w in reminders_implied(f)}
    wanted = {key: cw for key, cw in implied.items() if cw[1].expires_on >= today}
    over = {key: cw for key, cw in implied.items() if cw[1].expires_on < today}
    # Live rows (and cancelled ones that the facts imply again), locked: the dispatcher skips
    # locked rows, so nothing is claimed while it is being changed here.
    existing = {
        r.dedupe_key: r
        for r in Reminder.objects.select_for_update().filter(
            Q(case_id__in=list(facts), state__in=[ReminderState.PENDING, ReminderState.SENDING])
            | Q(dedupe_key__in=list(wanted))
        )
    }
    # Still pending but what it is about is over: EXPIRED, not cancelled (the log says why).
    expired = [r for key, r in existing.items() if key in over and r.state == ReminderState.PENDING]
    if expired:
        Reminder.objects.filter(id__in=[r.id for r in expired]).update(
            state=ReminderState.EXPIRED, expired_at=now, updated_at=now
        )
    counts = SyncCounts()
    new, changed = [], []
    for key, (case_id, w) in wanted.items():
        row = existing.get(key)
        if row is None:
            new.append(_new_row(case_id, w, now))
        elif _refresh(row, w, now):
            changed.append(row)
    if new:
        # ON CONFLICT DO NOTHING: a concurrent writer of the same key wins, nothing doubles.
        Reminder.objects.bulk_create(new, batch_size=2000, ignore_conflicts=True)
    if changed:
        fields = [
            "state", "cancelled_at", "due_at", "recipients", "event_on", "expires_on", "updated_at"
        ]  # fmt: skip
        Reminder.objects.bulk_update(changed, fields, batch_size=1000)
    counts.created, counts.updated = len(new), len(changed)
    stale = [r for key, r in existing.items() if key not in implied and r.case_id in facts]
    counts.cancelled = _cancel(stale, now)
    return counts


def _new_row(case_id: int, w: Wanted, now: dt.datetime) -> Reminder:
    return Reminder(
        case_id=case_id,
        kind=w.kind,
        dedupe_key=w.key,
        event_on=w.event_on,
        expires_on=w.expires_on,
        # Made after its send time (a fact entered late): due now, never back-dated.
        due_at=max(w.due_at, now) if w.due_at else now,
        recipients=list(w.recipients),
        created_at=now,
        updated_at=now,
    )


def _refresh(row: Reminder, w: Wanted, now: dt.datetime) -> bool:
    """Update a stored row towards what is wanted; True if it changed. History stays as it is."""
    if row.state == ReminderState.CANCELLED:  # implied again (e.g. the booking was removed)
        row.state, row.cancelled_at = ReminderState.PENDING, None
        row.due_at = max(w.due_at, now) if w.due_at else now
        row.expires_on = w.expires_on
        row.recipients, row.event_on, row.updated_at = list(w.recipients), w.event_on, now
        return True
    if row.state != ReminderState.PENDING:
        return False  # being sent, sent or failed
    changed = False
    # A row made after its send time was due at once and keeps that time (its row is written a
    # moment after the sync read the clock, so comparing with created_at would move it on the
    # next sync); a row in retry back-off keeps its retry time.
    made_late = w.due_at is not None and row.created_at is not None and w.due_at < row.created_at
    due_at = max(w.due_at, row.due_at) if made_late else w.due_at
    if due_at is not None and row.attempts == 0 and row.due_at != due_at:
        row.due_at, changed = due_at, True
    if list(row.recipients) != list(w.recipients) or row.event_on != w.event_on:
        row.recipients, row.event_on, changed = list(w.recipients), w.event_on, True
    if row.expires_on != w.expires_on:
        row.expires_on, changed = w.expires_on, True
    if changed:
        row.updated_at = now
    return changed


def _cancel(rows: list[Reminder], now: dt.datetime) -> int:
    """Cancel rows the facts no longer imply: pending ones, and claimed ones not yet being sent."""
    pending = [r.id for r in rows if r.state == ReminderState.PENDING]
    claimed = {r.claim_token: r.id for r in rows if r.state == ReminderState.SENDING}
    started = set(
        ReminderAttempt.objects.filter(claim_token__in=list(claimed)).values_list(
            "claim_token", flat=True
        )
    )
    unstarted = [rid for token, rid in claimed.items() if token not in started]
    ids = pending + unstarted
    if not ids:
        return 0
    # The send task checks the state under the same row lock before it starts an attempt.
    return Reminder.objects.filter(id__in=ids).update(
        state=ReminderState.CANCELLED, cancelled_at=now, claim_token=None, updated_at=now
    )
