"""Reminders a case's facts imply. Every write service calls ``reminders_sync_for_case`` inside its
own transaction, so a reminder is created, moved or cancelled together with the fact behind it.

The reminders of a case are a pure function of its current facts: this module derives the whole
set and reconciles the stored rows with it. Each reminder has a dedupe key naming the fact and its
date, so a double submit or two concurrent syncs cannot create a second row, and a fact that moves
after its reminder was sent (surgery re-planned, action re-dated) arms a fresh one.

What implies what (each email goes out at REMINDER_SEND_HOUR, local time, on the day shown):

- open reassessment, no scan booked or done → re-imaging due, on the due date minus
  REMINDER_REIMAGING_LEAD_DAYS; open reassessment → reassessment due, on the due date;
- last bevacizumab dose and a planned elective operation → interval ends, on the engine's earliest
  elective surgery date; an operation planned inside that interval → a breach alert at once;
- SCRT completed, primary not yet operated on → window closing, REMINDER_SCRT_WARNING_DAYS before
  the window closes (the engine's date, pathway-spec R11);
- molecular result pending → result outstanding, once pending more than
  RESULT_CHASE_DAYS (the day it joins the dashboard's worklist);
- open MDT action → action due to its owner on its due date, and action overdue to the case
  coordinator REMINDER_ACTION_OVERDUE_DAYS later.

A case that has left the pathway implies no reminders. Rows already SENT or FAILED are history and
never touched; a row being sent is left alone once its send attempt has started.
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
    """A coordinator re-queues a FAILED reminder: "queued", "cancelled" or "unchanged".

    The facts are read again first: a reminder they no longer imply (the action was done, the
    scan booked) is cancelled rather than sent, and recipients are refreshed (an address may have
    been corrected). A retried reminder gets one more attempt before it is FAILED again.
    """
    require(user, Capability.MANAGE_REMINDERS)
    with transaction.atomic():
        row = Reminder.objects.filter(pk=reminder_id).values_list("case_id", flat=True).first()
        if row is None:
            return "unchanged"
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
        else:
            reminder.state, reminder.due_at = ReminderState.PENDING, now
            reminder.recipients = list(w.recipients)
            outcome = "queued"
        reminder.last_error, reminder.updated_at = "", now
        reminder.save(
            update_fields=[
                "state",
                "cancelled_at",
                "due_at",
                "recipients",
                "last_error",
                "updated_at",
            ]
        )
    return outcome


# --- Derivation ------------------------------------------------------------------------------


def reminders_implied(facts: CaseFacts) -> list[Wanted]:
    """Every reminder the case's current facts imply (no database access)."""
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
    facts = _load_facts(case_ids)
    wanted = {w.key: (case_id, w) for case_id, f in facts.items() for w in reminders_implied(f)}
    # Live rows (and cancelled ones that the facts imply again), locked: the dispatcher skips
    # locked rows, so nothing is claimed while it is being changed here.
    existing = {
        r.dedupe_key: r
        for r in Reminder.objects.select_for_update().filter(
            Q(case_id__in=list(facts), state__in=[ReminderState.PENDING, ReminderState.SENDING])
            | Q(dedupe_key__in=list(wanted))
        )
    }
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
        fields = ["state", "cancelled_at", "due_at", "recipients", "event_on", "updated_at"]
        Reminder.objects.bulk_update(changed, fields, batch_size=1000)
    counts.created, counts.updated = len(new), len(changed)
    stale = [r for key, r in existing.items() if key not in wanted and r.case_id in facts]
    counts.cancelled = _cancel(stale, now)
    return counts


def _new_row(case_id: int, w: Wanted, now: dt.datetime) -> Reminder:
    return Reminder(
        case_id=case_id,
        kind=w.kind,
        dedupe_key=w.key,
        event_on=w.event_on,
        due_at=w.due_at or now,
        recipients=list(w.recipients),
        created_at=now,
        updated_at=now,
    )


def _refresh(row: Reminder, w: Wanted, now: dt.datetime) -> bool:
    """Update a stored row towards what is wanted; True if it changed. History stays as it is."""
    if row.state == ReminderState.CANCELLED:  # implied again (e.g. the booking was removed)
        row.state, row.cancelled_at = ReminderState.PENDING, None
        row.due_at = w.due_at or now
        row.recipients, row.event_on, row.updated_at = list(w.recipients), w.event_on, now
        return True
    if row.state != ReminderState.PENDING:
        return False  # being sent, sent or failed
    changed = False
    # An alert keeps its first due time; a row in retry back-off keeps its retry time.
    if w.due_at is not None and row.attempts == 0 and row.due_at != w.due_at:
        row.due_at, changed = w.due_at, True
    if list(row.recipients) != list(w.recipients) or row.event_on != w.event_on:
        row.recipients, row.event_on, changed = list(w.recipients), w.event_on, True
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
