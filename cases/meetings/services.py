"""Writes of the MDT meeting: meetings, attendance, agenda order, decisions, actions, sign-off.

Each service checks the user's capability first, runs in one transaction and refuses, with a
message a person can act on, anything that would change a signed-off outcome. Decisions are
append-only (a database trigger refuses UPDATE and DELETE): a correction is a new decision that
supersedes the old one. Two people answering the same point at once cannot both win: the agenda
item row is locked while an answer is recorded, and the partial unique index on the first answer
(and the one-to-one ``supersedes``) backs that up; the loser gets ``ConflictError`` naming who
answered first, and nothing of either answer is lost.

Listing cases on a meeting belongs to ``cases/meetings/agenda.py``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import (
    NON_FIELD_ERRORS,
    ValidationError,
)
from django.db import IntegrityError, transaction
from django.db.models import Case, Value, When
from django.utils import timezone

from cases import models
from cases.common.services import ConflictError, update_versioned
from cases.followup.services import outcome_signed_off
from cases.meetings.selectors import meeting_day, quorum_of
from cases.meetings.walk import (
    AnswerError,
    build_walk,
    current_decisions,
    evaluate_answer,
    plan_for,
)
from cases.models import (
    AgendaItem,
    AgendaStatus,
    Attendance,
    Decision,
    Discipline,
    Meeting,
    MeetingStatus,
    MolecularResult,
    Reassessment,
    User,
)
from cases.records import services as records
from cases.records.selectors import RecordAsRead, case_clinical_record, current_clinical_record
from cases.records.services.reassessments import reassessment_schedule
from cases.reminders.planning import reminders_sync_for_case
from cases.security.permissions import Capability, has_capability, require

C = Capability
REASON_MAX = 300
DECISION_REASON_MAX = 2000


class OutcomeLockedError(ConflictError):
    """The agenda item was signed off (or deferred): nothing on it can change any more."""


# --- Quorum ------------------------------------------------------------------------------------


def _when(moment: dt.datetime) -> str:
    local = timezone.localtime(moment)
    return f"{local:%H:%M} on {local.day} {local:%b %Y}"


def _name(user: User) -> str:
    return user.get_full_name() or user.username


def _reason(value: str, field: str, limit: int = REASON_MAX) -> str:
    text = (value or "").strip()
    if len(text) > limit:
        raise ValidationError({field: f"Keep the reason under {limit} characters."})
    return text


# --- Meetings, attendance, agenda -----------------------------------------------------------------


@transaction.atomic
def meeting_create(
    *, user: User, scheduled_for: dt.datetime, chair_id: int, title: str = "Colorectal MDT"
) -> Meeting:
    require(user, C.MANAGE_MEETINGS)
    errors: dict[str, str] = {}
    if timezone.is_naive(scheduled_for):
        scheduled_for = timezone.make_aware(scheduled_for)
    if scheduled_for < timezone.now() - dt.timedelta(hours=12):
        errors["scheduled_for"] = "A new meeting cannot be in the past."
    elif scheduled_for > timezone.now() + dt.timedelta(days=730):
        errors["scheduled_for"] = "That is more than two years ahead: check the year."
    chair = User.objects.filter(pk=chair_id, is_active=True).first()
    if chair is None or not has_capability(chair, C.SIGN_OFF):
        errors["chair"] = "The chair must be an active user with the MDT chair role."
    title = (title or "").strip() or "Colorectal MDT"
    if len(title) > 100:
        errors["title"] = "Keep the title under 100 characters."
    if errors:
        raise ValidationError(errors)
    return Meeting.objects.create(title=title, scheduled_for=scheduled_for, chair=chair)


def _open_meeting(meeting_id: int) -> Meeting:
    meeting = Meeting.objects.select_for_update().filter(pk=meeting_id).first()
    if meeting is None:
        raise ValidationError("That meeting does not exist.")
    if meeting.status == MeetingStatus.CLOSED:
        raise ConflictError("This meeting is closed: its attendance and agenda are final.")
    return meeting


@transaction.atomic
def attendance_record(*, user: User, meeting_id: int, member_id: int, discipline: str) -> None:
    """Mark a member present in a discipline (recording them again changes the discipline)."""
    require(user, C.MANAGE_MEETINGS)
    meeting = _open_meeting(meeting_id)
    member = User.objects.filter(pk=member_id, is_active=True).first()
    if member is None:
        raise ValidationError({"member": "Choose an active member of staff."})
    if discipline not in Discipline.values:
        raise ValidationError({"discipline": "Choose the discipline they attend in."})
    # An upsert, so two coordinators marking the same person present cannot collide.
    Attendance.objects.bulk_create(
        [Attendance(meeting=meeting, member=member, discipline=discipline)],
        update_conflicts=True,
        unique_fields=["meeting", "member"],
        update_fields=["discipline"],
    )
    if meeting.status == MeetingStatus.SCHEDULED:
        Meeting.objects.filter(pk=meeting.pk).update(status=MeetingStatus.IN_PROGRESS)


@transaction.atomic
def attendance_remove(*, user: User, meeting_id: int, member_id: int) -> None:
    require(user, C.MANAGE_MEETINGS)
    meeting = _open_meeting(meeting_id)
    Attendance.objects.filter(meeting=meeting, member_id=member_id).delete()


@transaction.atomic
def agenda_reorder(*, user: User, meeting_id: int, item_ids: list[int]) -> None:
    """Put the agenda in the order given (every item exactly once), in one transaction.

    The position constraint is deferred, so the intermediate duplicates never fail.
    """
    require(user, C.MANAGE_MEETINGS)
    meeting = _open_meeting(meeting_id)
    current = list(
        AgendaItem.objects.select_for_update().filter(meeting=meeting).values_list("pk", flat=True)
    )
    if sorted(current) != sorted(item_ids) or len(set(item_ids)) != len(item_ids):
        raise ConflictError(
            "The agenda changed while you were reordering it (a case was listed or removed). "
            "Nothing was moved: here is the agenda as it is now."
        )
    # One UPDATE whatever the agenda's length.
    positions = [When(pk=pk, then=Value(n)) for n, pk in enumerate(item_ids, start=1)]
    AgendaItem.objects.filter(meeting=meeting).update(position=Case(*positions))


@transaction.atomic
def agenda_item_move(*, user: User, agenda_item_id: int, offset: int) -> None:
    """Move one case up (-1) or down (+1): the keyboard- and no-JavaScript-friendly reorder."""
    require(user, C.MANAGE_MEETINGS)
    item = AgendaItem.objects.filter(pk=agenda_item_id).first()
    if item is None:
        raise ValidationError("That agenda item does not exist.")
    _open_meeting(item.meeting_id)  # hold the meeting while the order is read and rewritten
    order = list(
        AgendaItem.objects.filter(meeting_id=item.meeting_id)
        .order_by("position", "pk")
        .values_list("pk", flat=True)
    )
    index = order.index(item.pk)
    target = max(0, min(len(order) - 1, index + offset))
    order.insert(target, order.pop(index))
    agenda_reorder(user=user, meeting_id=item.meeting_id, item_ids=order)


def lock_open_item(agenda_item_id: int) -> AgendaItem:
    """The agenda item, locked for this transaction; refused if its outcome is final."""
    item = (
        AgendaItem.objects.select_for_update(of=("self",))
        .select_related("meeting", "signed_off_by")
        .filter(pk=agenda_item_id)
        .first()
    )
    if item is None:
        raise ValidationError("That agenda item does not exist.")
    if item.signed_off_at is not None:
        raise OutcomeLockedError(
            f"This outcome was signed off by {_name(item.signed_off_by)} at "
            f"{_when(item.signed_off_at)} and is locked: nothing on it can be changed."
        )
    if item.status == AgendaStatus.DEFERRED:
        raise OutcomeLockedError(
            f"This case was deferred from this meeting ({item.deferred_reason}): "
            "it is discussed at a later meeting."
        )
    return item


@transaction.atomic
def agenda_item_defer(*, user: User, agenda_item_id: int, reason: str) -> None:
    """Take a case off this meeting's discussion, with the reason (it is re-listed later)."""
    require(user, C.MANAGE_MEETINGS)
    item = lock_open_item(agenda_item_id)
    text = _reason(reason, "reason")
    if not text:
        raise ValidationError({"reason": "Say why the case is deferred."})
    AgendaItem.objects.filter(pk=item.pk).update(status=AgendaStatus.DEFERRED, deferred_reason=text)


# --- Decisions -----------------------------------------------------------------------------------


def _decisions(item: AgendaItem) -> list[Decision]:
    return list(
        Decision.objects.filter(agenda_item=item).select_related("recorded_by").order_by("pk")
    )


def _answered_message(decision: Decision) -> str:
    return (
        f"{_name(decision.recorded_by)} recorded an answer to this point at "
        f"{_when(decision.recorded_at)} while you were deciding; here it is. Nothing you entered "
        "was saved: correct their answer if needed."
    )


def _corrected_message(decision: Decision) -> str:
    return (
        f"{_name(decision.recorded_by)} corrected this answer at {_when(decision.recorded_at)} "
        "while you were deciding; here is their correction. Nothing you entered was saved: "
        "correct it again if needed."
    )


@dataclass(frozen=True)
class Answered:
    """What recording an answer leaves: the new decision; the agenda item's decisions with it,
    in order (complete at commit: every answer to the item is written under its lock); and the
    clinical record the answer was checked against."""

    decision: Decision
    decisions: list[Decision]
    record: models.Case


@transaction.atomic
def decision_record(
    *,
    user: User,
    agenda_item_id: int,
    point: str,
    answer: Mapping[str, Any],
    deviation_reason: str = "",
    override_reason: str = "",
    record: RecordAsRead | None = None,
) -> Answered:
    """Record the MDT's first answer at one decision point.

    1. Lock the agenda item (refused once signed off or deferred).
    2. Refuse with a conflict if someone has answered this point already.
    3. Validate the answer and try it against the engine (the record plus the proposal). The
       record is the caller's ``record`` when no commit has changed it since the caller read
       it, else it is read again, under the lock.
    4. A hard stop needs the override capability and a reason; a departure from the
       recommendation needs a reason.
    5. Store it with the advice snapshot it was made against.
    """
    require(user, C.RECORD_DECISIONS)
    item = lock_open_item(agenda_item_id)
    decisions = _decisions(item)
    existing = current_decisions(decisions).get(point)
    if existing is not None:
        raise ConflictError(_answered_message(existing))
    return _decide(
        user=user,
        item=item,
        decisions=decisions,
        point=point,
        answer=answer,
        deviation_reason=deviation_reason,
        override_reason=override_reason,
        supersedes=None,
        correction_reason="",
        record=record,
    )


@transaction.atomic
def decision_correct(
    *,
    user: User,
    agenda_item_id: int,
    point: str,
    decision_id: int,
    answer: Mapping[str, Any],
    correction_reason: str,
    deviation_reason: str = "",
    override_reason: str = "",
    record: RecordAsRead | None = None,
) -> Answered:
    """Correct an answer: a new decision supersedes it (the old one stays, unchanged).

    The decision must be this agenda item's answer to this point: a correction can never land
    on another patient's decision (hazard H04c).
    """
    require(user, C.RECORD_DECISIONS)
    old = Decision.objects.filter(
        pk=decision_id, agenda_item_id=agenda_item_id, point=point
    ).first()
    if old is None:
        raise ValidationError("That answer is not this case's answer to this point.")
    item = lock_open_item(old.agenda_item_id)
    decisions = _decisions(item)
    current = current_decisions(decisions)[old.point]
    if current.pk != old.pk:
        raise ConflictError(_corrected_message(current))
    return _decide(
        user=user,
        item=item,
        decisions=decisions,
        point=old.point,
        answer=answer,
        deviation_reason=deviation_reason,
        override_reason=override_reason,
        supersedes=old,
        correction_reason=correction_reason,
        record=record,
    )


def _decide(
    *,
    user: User,
    item: AgendaItem,
    decisions: list[Decision],
    point: str,
    answer: Mapping[str, Any],
    deviation_reason: str,
    override_reason: str,
    supersedes: Decision | None,
    correction_reason: str,
    record: RecordAsRead | None,
) -> Answered:
    # Before anything is written: the check compares other transactions' commits only.
    case = current_clinical_record(case_id=item.case_id, as_read=record)
    try:
        _step, clean, evaluation = evaluate_answer(
            case, decisions, meeting_day=meeting_day(item.meeting), point=point, answer=answer
        )
    except AnswerError as error:
        raise ValidationError({error.field or NON_FIELD_ERRORS: error.message}) from None
    deviation = _reason(deviation_reason, "deviation_reason", DECISION_REASON_MAX)
    override = _reason(override_reason, "override_reason", DECISION_REASON_MAX)
    correction = _reason(correction_reason, "correction_reason", DECISION_REASON_MAX)
    errors: dict[str, str] = {}
    if evaluation.hard_stops:
        codes = ", ".join(evaluation.hard_stops)
        if not has_capability(user, C.OVERRIDE_HARD_STOPS):
            errors["override_reason"] = (
                f"This answer meets a hard stop ({codes}). Only the MDT chair may override a "
                "hard stop, with a reason: choose another answer or ask the chair."
            )
        elif not override:
            errors["override_reason"] = (
                f"This answer meets a hard stop ({codes}). To go ahead, record why the MDT "
                "overrides it."
            )
    if not evaluation.follows and not deviation:
        errors["deviation_reason"] = (
            "This answer departs from the recommendation: record the reason for the deviation."
        )
    if supersedes is not None and not correction:
        errors["correction_reason"] = "Say why this answer is being corrected."
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            decision = Decision.objects.create(
                agenda_item=item,
                point=point,
                answer=clean,
                advice_snapshot=evaluation.snapshot(),
                follows_recommendation=evaluation.follows,
                deviation_reason=deviation,
                overridden_hard_stops=list(evaluation.hard_stops),
                override_reason=override if evaluation.hard_stops else "",
                supersedes=supersedes,
                correction_reason=correction if supersedes is not None else "",
                recorded_by=user,
            )
    except IntegrityError:
        # The unique indexes caught a concurrent answer that slipped past the row lock.
        winner = current_decisions(_decisions(item)).get(point)
        if winner is None:
            raise
        raise ConflictError(
            _corrected_message(winner) if supersedes else _answered_message(winner)
        ) from None
    return Answered(decision, [*decisions, decision], case)


# --- Facts corrected in the meeting ---------------------------------------------------------------


@transaction.atomic
def meeting_fact_correct(
    *,
    user: User,
    agenda_item_id: int,
    marker: str,
    status: str,
    reported_on: dt.date | None = None,
    requested_on: dt.date | None = None,
    method: str = "",
    expected_version: int | None = None,
) -> MolecularResult:
    """A fact corrected on a card during the meeting (today: a molecular result).

    Delegates to the molecular-result service; the card then re-runs the advice. Answers already
    recorded stay as they are: if the new fact puts one of them against a hard stop, the walk
    reopens that point and sign-off waits until it is corrected or overridden.
    """
    require(user, C.EDIT_CASES)
    item = lock_open_item(agenda_item_id)
    existing = MolecularResult.objects.filter(case_id=item.case_id, marker=marker).first()
    # The card asks only for the new result: keep what the record already says about the request.
    if existing is not None:
        requested_on = requested_on or existing.requested_on
        method = method or existing.method
    return records.molecular_result_record(
        user=user,
        case_id=item.case_id,
        marker=marker,
        status=status,
        reported_on=reported_on,
        requested_on=requested_on,
        method=method,
        expected_version=expected_version,
    )


# --- Sign-off ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignOffResult:
    item: AgendaItem
    next_reassessment_on: dt.date | None
    reassessment: Reassessment | None


@transaction.atomic
def outcome_sign_off(*, user: User, agenda_item_id: int) -> SignOffResult:
    """The chair signs the case's outcome off; from then on it is locked.

    1. Lock the agenda item (refused if already signed off or deferred).
    2. Rebuild the walk: every applicable point answered, no hard stop left uncovered.
    3. Apply the reassessment plan (``cases.meetings.walk.reassessment_plan`` has the anchor rule):
       mark the reassessment this meeting performed, then schedule the next one (move the open,
       not yet imaged one, or create the next cycle).
    4. Lock the item with the signer, the time, the quorum and the next reassessment date.
    5. Bring the case's reminders in line, in the same transaction.
    """
    require(user, C.SIGN_OFF)
    item = lock_open_item(agenda_item_id)
    decisions = _decisions(item)
    case = case_clinical_record(case_id=item.case_id)
    day = meeting_day(item.meeting)
    walk = build_walk(case, decisions, meeting_day=day)
    waiting = [s for s in walk.steps if s.needs_answer]
    if waiting:
        names = "; ".join(
            f"{s.label} ({'hard stop not overridden' if s.answered else 'not answered'})"
            for s in waiting
        )
        raise ValidationError(f"The outcome cannot be signed off yet: {names}.")
    plan = plan_for(case, decisions, meeting_day=day)
    if plan.performed is not None:
        update_versioned(
            Reassessment,
            pk=plan.performed.pk,
            expected_version=plan.performed.version,
            changes={"reassessed_on": day},
        )
    scheduled = None
    if plan.next_on is not None:
        scheduled = reassessment_schedule(
            case_id=case.pk, due_on=plan.next_on, reschedule=plan.reschedule
        )
    quorum = quorum_of(
        Attendance.objects.filter(meeting_id=item.meeting_id).values_list("discipline", flat=True)
    )
    now = timezone.now()
    AgendaItem.objects.filter(pk=item.pk).update(
        status=AgendaStatus.DISCUSSED,
        signed_off_at=now,
        signed_off_by=user,
        quorate_at_sign_off=quorum.quorate,
        next_reassessment_on=plan.next_on,
    )
    outcome_signed_off(agenda_item_id=item.pk)  # letters and follow-ups (cases/followup/)
    reminders_sync_for_case(case_id=case.pk)
    item.refresh_from_db()
    return SignOffResult(item=item, next_reassessment_on=plan.next_on, reassessment=scheduled)
