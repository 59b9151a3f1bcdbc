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

import copy
import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import (
    NON_FIELD_ERRORS,
    ValidationError,
)
from django.db import IntegrityError, transaction
from django.db.models import Case, Exists, OuterRef, Subquery, Value, When
from django.utils import timezone

from cases import models
from cases.common.json_rows import CompiledRow, instances, json_rows, prefill, whole_row
from cases.common.services import ConflictError, update_versioned
from cases.followup.services import outcome_signed_off
from cases.meetings.agenda import QUESTION_MAX_LENGTH
from cases.meetings.selectors import hpb_present, meeting_day, quorum_of
from cases.meetings.walk import (
    AnswerError,
    build_walk,
    current_decisions,
    evaluate_answer,
    plan_for,
)
from cases.meetings.walk.context import verdict_facts
from cases.models import (
    AgendaItem,
    AgendaStatus,
    Attendance,
    DataVersion,
    Decision,
    Discipline,
    FactCorrection,
    FactCorrectionState,
    Meeting,
    MeetingSeries,
    MeetingStatus,
    MolecularResult,
    Presence,
    Reassessment,
    SeriesMember,
    User,
)
from cases.pathway.regimens import backbone_of
from cases.records import services as records
from cases.records.selectors import (
    RecordAsRead,
    attach_people,
    case_clinical_record,
    current_clinical_record,
    people_named,
)
from cases.records.services.reassessments import reassessment_schedule
from cases.reminders.planning import reminders_sync_for_case
from cases.security.permissions import Capability, has_capability, require

C = Capability
REASON_MAX = 300
DECISION_REASON_MAX = 2000
NOTES_MAX = 5000


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
    # Meetings of the same title are one series, sharing its list of core members.
    series, _ = MeetingSeries.objects.get_or_create(name=title)
    return Meeting.objects.create(
        title=title, series=series, scheduled_for=scheduled_for, chair=chair
    )


def _date(day: dt.date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


@transaction.atomic
def meeting_open(*, user: User, meeting_id: int, early_reason: str = "") -> Meeting:
    """The chair opens the meeting: from then on its outcomes can be signed off.

    On (or after) its day no reason is needed; before it, the chair must say why, and the
    reason is shown on every outcome of the meeting.
    """
    require(user, C.SIGN_OFF)
    meeting = Meeting.objects.select_for_update().filter(pk=meeting_id).first()
    if meeting is None:
        raise ValidationError("That meeting does not exist.")
    if meeting.status == MeetingStatus.CLOSED:
        raise ConflictError("This meeting is closed: it cannot be opened again.")
    if meeting.status == MeetingStatus.IN_PROGRESS:
        raise ConflictError(
            f"This meeting was already opened by {_name(meeting.opened_by)} at "
            f"{_when(meeting.opened_at)}."
        )
    reason = _reason(early_reason, "early_reason")
    day = meeting_day(meeting)
    early = timezone.localdate() < day
    if early and not reason:
        raise ValidationError(
            {
                "early_reason": f"This meeting is on {_date(day)}. To open it before its day, "
                "say why: the reason is shown on every outcome signed off in it."
            }
        )
    Meeting.objects.filter(pk=meeting.pk).update(
        status=MeetingStatus.IN_PROGRESS,
        opened_at=timezone.now(),
        opened_by=user,
        early_open_reason=reason if early else "",
    )
    meeting.refresh_from_db()
    return meeting


@transaction.atomic
def meeting_close(*, user: User, meeting_id: int) -> Meeting:
    """The chair closes the meeting once every case on it is signed off or deferred.

    Closing freezes it (attendance, agenda, notes and outcomes refuse changes) and makes its
    minutes final. The meeting row is locked first, so a case listed meanwhile waits for it.
    """
    require(user, C.SIGN_OFF)
    meeting = Meeting.objects.select_for_update().filter(pk=meeting_id).first()
    if meeting is None:
        raise ValidationError("That meeting does not exist.")
    if meeting.status == MeetingStatus.CLOSED:
        raise ConflictError(
            f"This meeting was already closed by {_name(meeting.closed_by)} at "
            f"{_when(meeting.closed_at)}."
        )
    if meeting.status != MeetingStatus.IN_PROGRESS:
        raise ValidationError("This meeting has not been opened: open it before closing it.")
    waiting = list(
        AgendaItem.objects.filter(meeting=meeting, signed_off_at__isnull=True)
        .exclude(status=AgendaStatus.DEFERRED)
        .select_related("case")
        .order_by("position")
    )
    if waiting:
        names = ", ".join(f"{i.position}. {i.case.reference}" for i in waiting)
        raise ValidationError(
            f"The meeting cannot be closed yet: sign off or defer every case first. Still "
            f"open: {names}."
        )
    Meeting.objects.filter(pk=meeting.pk).update(
        status=MeetingStatus.CLOSED, closed_at=timezone.now(), closed_by=user
    )
    meeting.refresh_from_db()
    return meeting


def _closed_message(meeting: Meeting) -> str:
    return (
        f"This meeting was closed by {_name(meeting.closed_by)} at {_when(meeting.closed_at)}: "
        "its attendance, agenda, notes and outcomes are final, and its minutes are issued."
    )


def _open_meeting(meeting_id: int) -> Meeting:
    meeting = (
        Meeting.objects.select_for_update(of=("self",))
        .select_related("closed_by")
        .filter(pk=meeting_id)
        .first()
    )
    if meeting is None:
        raise ValidationError("That meeting does not exist.")
    if meeting.status == MeetingStatus.CLOSED:
        raise ConflictError(_closed_message(meeting))
    return meeting


def _upsert_attendance(rows: list[Attendance]) -> None:
    # An upsert, so two coordinators marking the same person cannot collide.
    Attendance.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["meeting", "member"],
        update_fields=["discipline", "presence", "deputy_for"],
    )


@transaction.atomic
def attendance_record(
    *,
    user: User,
    meeting_id: int,
    member_id: int,
    discipline: str,
    presence: str = Presence.PRESENT,
) -> None:
    """Mark a member present in a discipline, or their apologies (marking them again changes
    it). Taking attendance does not open the meeting: the chair opens it on its day."""
    require(user, C.MANAGE_MEETINGS)
    meeting = _open_meeting(meeting_id)
    member = User.objects.filter(pk=member_id, is_active=True).first()
    if member is None:
        raise ValidationError({"member": "Choose an active member of staff."})
    if discipline not in Discipline.values:
        raise ValidationError({"discipline": "Choose the discipline they attend in."})
    if presence not in Presence.values:
        raise ValidationError({"presence": "Choose present or apologies."})
    _upsert_attendance(
        [Attendance(meeting=meeting, member=member, discipline=discipline, presence=presence)]
    )


@transaction.atomic
def attendance_mark(*, user: User, meeting_id: int, member_id: int, presence: str) -> None:
    """One click on an expected member: present or apologies, in the discipline they sit in
    for the meeting's series (or their own)."""
    require(user, C.MANAGE_MEETINGS)
    meeting = Meeting.objects.filter(pk=meeting_id).first()
    if meeting is None:
        raise ValidationError("That meeting does not exist.")
    core = SeriesMember.objects.filter(series_id=meeting.series_id, member_id=member_id).first()
    member = User.objects.filter(pk=member_id).first()
    if member is None:
        raise ValidationError({"member": "Choose an active member of staff."})
    attendance_record(
        user=user,
        meeting_id=meeting_id,
        member_id=member_id,
        discipline=core.discipline if core else member.discipline,
        presence=presence,
    )


@transaction.atomic
def attendance_deputy(*, user: User, meeting_id: int, member_id: int, deputy_id: int) -> None:
    """``deputy_id`` attends in place of core member ``member_id``: the deputy is present in
    the member's discipline (and counts for the quorum); the member is marked as apologies."""
    require(user, C.MANAGE_MEETINGS)
    meeting = _open_meeting(meeting_id)
    expected = SeriesMember.objects.filter(series_id=meeting.series_id, member_id=member_id).first()
    if expected is None:
        raise ValidationError({"member": "A deputy stands in for a core member of this MDT."})
    deputy = User.objects.filter(pk=deputy_id, is_active=True).first()
    if deputy is None or deputy.pk == member_id:
        raise ValidationError({"deputy": "Choose another active member of staff as the deputy."})
    absent = Attendance(
        meeting=meeting,
        member_id=member_id,
        discipline=expected.discipline,
        presence=Presence.APOLOGIES,
    )
    standing_in = Attendance(
        meeting=meeting,
        member=deputy,
        discipline=expected.discipline,
        presence=Presence.PRESENT,
        deputy_for_id=member_id,
    )
    _upsert_attendance([absent, standing_in])


@transaction.atomic
def attendance_remove(*, user: User, meeting_id: int, member_id: int) -> None:
    require(user, C.MANAGE_MEETINGS)
    meeting = _open_meeting(meeting_id)
    Attendance.objects.filter(meeting=meeting, member_id=member_id).delete()


# --- The core members of a meeting series ---------------------------------------------------


@transaction.atomic
def series_member_add(*, user: User, series_id: int, member_id: int, discipline: str) -> None:
    """Add a core member (or change the discipline they sit in)."""
    require(user, C.MANAGE_MEETINGS)
    series = MeetingSeries.objects.filter(pk=series_id).first()
    if series is None:
        raise ValidationError("That meeting series does not exist.")
    member = User.objects.filter(pk=member_id, is_active=True).first()
    if member is None:
        raise ValidationError({"member": "Choose an active member of staff."})
    if discipline not in Discipline.values:
        raise ValidationError({"discipline": "Choose the discipline they sit in."})
    SeriesMember.objects.bulk_create(
        [SeriesMember(series=series, member=member, discipline=discipline)],
        update_conflicts=True,
        unique_fields=["series", "member"],
        update_fields=["discipline"],
    )


@transaction.atomic
def series_member_remove(*, user: User, series_id: int, member_id: int) -> None:
    require(user, C.MANAGE_MEETINGS)
    SeriesMember.objects.filter(series_id=series_id, member_id=member_id).delete()


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
    """The agenda item (with its meeting), locked for this transaction; refused if its outcome
    is final."""
    locked = _lock_row().fetch(agenda_item_id)
    if locked is None:
        raise ValidationError("That agenda item does not exist.")
    (item,) = instances(AgendaItem, [locked["item_row"]])
    (item.meeting,) = instances(Meeting, locked["item_meeting"])
    _refuse_final(item)
    return item


def lock_open_item_with_decisions(agenda_item_id: int) -> tuple[AgendaItem, list[Decision]]:
    """``lock_open_item``, and the item's decisions in the order recorded, each with who
    recorded it.

    The item is annotated ``hpb_present`` (a hepatobiliary surgeon is recorded present: a
    verdict is an HPB review), ``has_corrected_facts`` (facts were corrected in this meeting:
    only then is an answer checked against them) and ``committed_versions`` (the data versions
    committed once the lock was held: cases/common/data_version.py).
    """
    item = lock_open_item(agenda_item_id)
    # A second statement, once the lock is held: a statement that waited for the lock still
    # reads other tables as they were when it started, so it would miss what the transaction
    # it waited for had committed (an answer, a corrected fact).
    state = _item_state_row().fetch(agenda_item_id)
    if state is None:  # deleted meanwhile: the lock would have kept it
        raise ValidationError("That agenda item does not exist.")
    item.hpb_present = state["hpb_present"]
    item.has_corrected_facts = state["has_corrected_facts"]
    item.committed_versions = state["data_versions"] or {}
    decisions = instances(Decision, state["item_decisions"])
    attach_people(decisions, [], state["item_people"])
    return item, decisions


def _refuse_final(item: AgendaItem) -> None:
    """Nothing on a closed meeting, a signed-off outcome or a deferred case changes."""
    # Who closed the meeting or signed off is read only for the refusal's message.
    if item.meeting.status == MeetingStatus.CLOSED:
        raise OutcomeLockedError(_closed_message(item.meeting))
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


@functools.cache
def _lock_row() -> CompiledRow:
    """``SELECT … FOR UPDATE`` of an agenda item and its meeting, compiled once a process (an
    answer is recorded many times a meeting)."""
    columns = {
        "item_row": whole_row(),
        "item_meeting": json_rows(Meeting, pk=OuterRef("meeting_id")),
    }
    return CompiledRow(AgendaItem, columns, lock=True)


@functools.cache
def _item_state_row() -> CompiledRow:
    """What every write to a locked agenda item checks, read after the lock is held."""
    item = OuterRef("pk")
    hpb = Attendance.objects.filter(
        meeting=OuterRef("meeting_id"),
        discipline=Discipline.HPB_SURGEON,
        presence=Presence.PRESENT,
    )
    corrected = FactCorrection.objects.filter(agenda_item=item, state=FactCorrectionState.APPLIED)
    columns = {
        "hpb_present": Exists(hpb),
        "has_corrected_facts": Exists(corrected),
        "item_decisions": json_rows(Decision, order_by=["pk"], agenda_item=item),
        "item_people": people_named(Decision.objects.filter(agenda_item=OuterRef(item))),
        "data_versions": Subquery(DataVersion.objects.filter(pk=1).values("versions")[:1]),
    }
    return CompiledRow(AgendaItem, columns)


@transaction.atomic
def agenda_item_defer(*, user: User, agenda_item_id: int, reason: str) -> None:
    """Take a case off this meeting's discussion, with the reason (it is re-listed later)."""
    require(user, C.MANAGE_MEETINGS)
    item = lock_open_item(agenda_item_id)
    text = _reason(reason, "reason")
    if not text:
        raise ValidationError({"reason": "Say why the case is deferred."})
    AgendaItem.objects.filter(pk=item.pk).update(status=AgendaStatus.DEFERRED, deferred_reason=text)


@transaction.atomic
def discussion_notes_save(
    *, user: User, agenda_item_id: int, notes: str, notes_before: str
) -> AgendaItem:
    """Save the notes taken while the case is discussed (audited like every change).

    ``notes_before`` is the text the writer started from: if someone else saved other notes
    meanwhile, nothing is overwritten and the conflict says so.
    """
    require(user, C.RECORD_DECISIONS)
    item = lock_open_item(agenda_item_id)
    text = (notes or "").strip()
    if len(text) > NOTES_MAX:
        raise ValidationError({"notes": f"Keep the notes under {NOTES_MAX} characters."})
    if item.discussion_notes.strip() != (notes_before or "").strip():
        raise ConflictError(
            "Someone else saved these notes while you were writing; nothing you typed was "
            "saved. Here are their notes: add yours to them and save again."
        )
    AgendaItem.objects.filter(pk=item.pk).update(discussion_notes=text)
    item.discussion_notes = text
    return item


@transaction.atomic
def clinical_question_save(
    *, user: User, agenda_item_id: int, question: str, question_before: str
) -> AgendaItem:
    """Change the question asked of the MDT after the case was listed (the chair may sharpen
    it in the meeting), until the outcome is signed off; audited like every change.

    ``question_before`` is the question the editor started from: if someone else changed it
    meanwhile, nothing is overwritten and the conflict says so.
    """
    require(user, C.LIST_CASES)
    item = lock_open_item(agenda_item_id)
    text = (question or "").strip()
    if len(text) > QUESTION_MAX_LENGTH:
        raise ValidationError(
            {"question": f"Keep the question to {QUESTION_MAX_LENGTH} characters."}
        )
    if item.clinical_question.strip() != (question_before or "").strip():
        raise ConflictError(
            "Someone else changed the question while you were editing it; nothing you typed "
            "was saved. Here is their question: edit it and save again."
        )
    AgendaItem.objects.filter(pk=item.pk).update(clinical_question=text)
    item.clinical_question = text
    return item


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
    item, decisions = lock_open_item_with_decisions(agenda_item_id)
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
    item, decisions = lock_open_item_with_decisions(old.agenda_item_id)
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
    case = current_clinical_record(
        case_id=item.case_id, as_read=record, committed=item.committed_versions
    )
    try:
        _step, clean, evaluation = evaluate_answer(
            case,
            decisions,
            meeting_day=meeting_day(item.meeting),
            point=point,
            answer=answer,
            hpb_present=item.hpb_present,
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
    corrected = _facts_that_cleared_hard_stops(
        case,
        decisions,
        item=item,
        point=point,
        answer=clean,
        hard_stops=evaluation.hard_stops,
    )
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
                corrected_facts=corrected,
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


class _TryOnly(Exception):
    """Raised inside a savepoint to undo a write that was made only to check it."""


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
) -> FactCorrection:
    """A fact corrected on a card during the meeting (today: a molecular result).

    1. Check the correction exactly as the molecular-result service would (its errors, its
       optimistic lock) by making it in a savepoint.
    2. The chair's correction is kept and applied; anyone else's is kept awaiting the chair's
       confirmation (``meeting_fact_confirm``) and the record does not change yet: editing a
       fact must not be a way for a non-chair around a hard stop (issue 18, finding 2).

    The card then re-runs the advice. Answers already recorded stay as they are: if the new
    fact puts one of them against a hard stop, the walk reopens that point and sign-off waits
    until it is corrected or overridden. An answer recorded after a correction that cleared a
    hard stop names the correction (``Decision.corrected_facts``).
    """
    require(user, C.EDIT_CASES)
    item = lock_open_item(agenda_item_id)
    existing = MolecularResult.objects.filter(case_id=item.case_id, marker=marker).first()
    # The card asks only for the new result: keep what the record already says about the request.
    if existing is not None:
        requested_on = requested_on or existing.requested_on
        method = method or existing.method
    change = {
        "case_id": item.case_id,
        "marker": marker,
        "status": status,
        "reported_on": reported_on,
        "requested_on": requested_on,
        "method": method,
        "expected_version": expected_version,
    }
    by_chair = has_capability(user, C.OVERRIDE_HARD_STOPS)
    if by_chair:
        records.molecular_result_record(user=user, **change)
    else:
        try:
            with transaction.atomic():
                records.molecular_result_record(user=user, **change)
                raise _TryOnly
        except _TryOnly:
            pass
    now = timezone.now()
    return FactCorrection.objects.create(
        agenda_item=item,
        marker=marker,
        old_status=existing.status if existing is not None else "",
        new_status=status,
        requested_on=requested_on,
        reported_on=reported_on,
        method=method,
        state=FactCorrectionState.APPLIED if by_chair else FactCorrectionState.AWAITING_CHAIR,
        requested_by=user,
        confirmed_by=user if by_chair else None,
        confirmed_at=now if by_chair else None,
    )


@transaction.atomic
def meeting_fact_confirm(*, user: User, agenda_item_id: int, correction_id: int) -> FactCorrection:
    """The chair confirms a correction someone else asked for: the record changes now.

    Refused if the record no longer says what it said when the correction was asked for.
    """
    require(user, C.OVERRIDE_HARD_STOPS)
    item = lock_open_item(agenda_item_id)
    correction = (
        FactCorrection.objects.select_for_update()
        .filter(pk=correction_id, agenda_item=item, state=FactCorrectionState.AWAITING_CHAIR)
        .first()
    )
    if correction is None:
        raise ValidationError("This correction has been confirmed already, or does not exist.")
    existing = MolecularResult.objects.filter(
        case_id=item.case_id, marker=correction.marker
    ).first()
    if (existing.status if existing is not None else "") != correction.old_status:
        raise ConflictError(
            "The result has changed since this correction was asked for: look at the record "
            "and ask for the correction again if it is still needed."
        )
    records.molecular_result_record(
        user=user,
        case_id=item.case_id,
        marker=correction.marker,
        status=correction.new_status,
        reported_on=correction.reported_on,
        requested_on=correction.requested_on,
        method=correction.method,
        expected_version=existing.version if existing is not None else None,
    )
    FactCorrection.objects.filter(pk=correction.pk).update(
        state=FactCorrectionState.APPLIED, confirmed_by=user, confirmed_at=timezone.now()
    )
    correction.refresh_from_db()
    return correction


def _as_recorded(case: models.Case, marker: str, status: str) -> models.Case:
    """A copy of the case record with one marker's result as it was before a correction."""
    before = copy.copy(case)
    before._prefetched_objects_cache = dict(case._prefetched_objects_cache)
    results = []
    for result in case.molecular_results.all():
        if result.marker == marker:
            if not status:
                continue  # there was no result for this marker
            result = copy.copy(result)
            result.status = status
        results.append(result)
    if status and marker not in {result.marker for result in results}:
        results.append(MolecularResult(case_id=case.pk, marker=marker, status=status))
    prefill(before, "molecular_results", results)
    return before


def _facts_that_cleared_hard_stops(
    case: models.Case,
    decisions: list[Decision],
    *,
    item: AgendaItem,
    point: str,
    answer: Mapping[str, Any],
    hard_stops: Sequence[str],
) -> list[dict[str, Any]]:
    """The facts corrected in this meeting without which ``answer`` would meet a hard stop:
    for each marker's latest applied correction, the answer is tried against the old value."""
    if not getattr(item, "has_corrected_facts", True):
        return []
    latest: dict[str, FactCorrection] = {}
    for correction in FactCorrection.objects.filter(
        agenda_item=item, state=FactCorrectionState.APPLIED
    ).select_related("requested_by", "confirmed_by"):
        latest[correction.marker] = correction
    cleared = []
    for correction in latest.values():
        before = _as_recorded(case, correction.marker, correction.old_status)
        try:
            _step, _clean, evaluation = evaluate_answer(
                before, decisions, meeting_day=meeting_day(item.meeting), point=point, answer=answer
            )
        except (AnswerError, ValueError):
            continue  # the point did not apply, or the answer was not valid, before
        removed = [code for code in evaluation.hard_stops if code not in hard_stops]
        if removed:
            cleared.append(
                {
                    "correction": correction.pk,
                    "fact": _label(models.Marker, correction.marker),
                    "old": _label(models.MarkerStatus, correction.old_status) or "none",
                    "new": _label(models.MarkerStatus, correction.new_status),
                    "by": _name(correction.requested_by),
                    "confirmed_by": _name(correction.confirmed_by),
                    "hard_stops": removed,
                }
            )
    return cleared


def _label(choices: Any, value: str) -> str:
    return choices(value).label if value in choices.values else value


# --- Sign-off ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignOffResult:
    item: AgendaItem
    next_reassessment_on: dt.date | None
    reassessment: Reassessment | None


@transaction.atomic
def outcome_sign_off(*, user: User, agenda_item_id: int) -> SignOffResult:
    """The chair signs the case's outcome off; from then on it is locked.

    1. Lock the agenda item (refused if already signed off or deferred, or the meeting is
       closed); refused unless the meeting is open.
    2. Rebuild the walk: every applicable point answered, no hard stop left uncovered.
    3. Write the outcome into the record (``_write_back``): the HPB verdict given in the meeting
       as the case's HPB review, the stage, the treatment plan, the planned operations.
    4. Apply the reassessment plan (``cases.meetings.walk.reassessment_plan`` has the anchor rule):
       mark the reassessment this meeting performed, then schedule the next one (move the open,
       not yet imaged one, or create the next cycle) on the date the outcome gives.
    5. Lock the item with the signer, the time, the quorum and the next reassessment date.
    6. Bring the case's reminders in line with the new facts, in the same transaction.
    """
    require(user, C.SIGN_OFF)
    item, decisions = lock_open_item_with_decisions(agenda_item_id)
    if item.meeting.status != MeetingStatus.IN_PROGRESS:
        raise ValidationError(
            f"The meeting has not been opened, so no outcome can be signed off yet. It is on "
            f"{_date(meeting_day(item.meeting))}: the chair opens it on the day (or earlier, "
            "with a reason) from the meeting page."
        )
    case = case_clinical_record(case_id=item.case_id)
    day = meeting_day(item.meeting)
    attendances = list(
        Attendance.objects.filter(
            meeting_id=item.meeting_id, presence=Presence.PRESENT
        ).select_related("member")
    )
    hpb = hpb_present(attendances)
    walk = build_walk(case, decisions, meeting_day=day, hpb_present=hpb)
    waiting = [s for s in walk.steps if s.needs_answer]
    if waiting:
        names = "; ".join(
            f"{s.label} ({'hard stop not overridden' if s.answered else 'not answered'})"
            for s in waiting
        )
        raise ValidationError(f"The outcome cannot be signed off yet: {names}.")
    plan = plan_for(case, decisions, meeting_day=day, hpb_present=hpb)
    answers = {p: d.answer for p, d in current_decisions(decisions).items()}
    verdict = _verdict_changes(answers, day, attendances)
    if plan.performed is not None:
        update_versioned(
            Reassessment,
            pk=plan.performed.pk,
            expected_version=plan.performed.version,
            changes={"reassessed_on": day, **verdict},
        )
    elif verdict:
        _record_verdict(case, verdict, day)
    _write_back(case, answers, day)
    scheduled = None
    if plan.next_on is not None:
        scheduled = reassessment_schedule(
            case_id=case.pk, due_on=plan.next_on, reschedule=plan.reschedule
        )
    quorum = quorum_of(a.discipline for a in attendances)
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


# --- What sign-off writes into the record -------------------------------------------------------

P = models.DecisionPoint


def _verdict_changes(
    answers: dict[str, dict[str, Any]], day: dt.date, attendances: list[Attendance]
) -> dict[str, Any]:
    """The HPB verdict given at the resectability point as reassessment fields ({} if none)."""
    facts = verdict_facts(answers.get(P.RESECTABILITY) or {})
    if not facts:
        return {}
    reviewed = bool(facts["hpb_mdt_reviewed"])
    names = ", ".join(sorted(_name(a.member) for a in attendances))
    return {
        "hpb_mdt_reviewed": reviewed,
        "r0_achievable": facts["r0_achievable"],
        "flr_percent_slv": facts["flr_percent_slv"],
        "flr_segments_remaining": facts["flr_segments_remaining"],
        "extrahepatic_disease": facts["extrahepatic_disease"],
        "planned_hepatectomy_extent": facts["planned_hepatectomy_extent"] or "",
        "combined_resection_technically_feasible": facts["combined_resection_technically_feasible"],
        "hpb_reviewed_on": day if reviewed else None,
        "hpb_reviewers": names[:500] if reviewed else "",
    }


def _record_verdict(case: models.Case, verdict: dict[str, Any], day: dt.date) -> None:
    """No scan awaited this meeting: the verdict goes on the latest scanned reassessment, or,
    with none, on a reassessment the meeting itself performed."""
    rows = sorted(case.reassessments.all(), key=lambda r: r.cycle)
    scanned = [r for r in rows if r.imaging_performed_on]
    if scanned:
        row = scanned[-1]
        update_versioned(Reassessment, pk=row.pk, expected_version=row.version, changes=verdict)
        return
    cycle = (rows[-1].cycle + 1) if rows else 1
    Reassessment.objects.create(
        case_id=case.pk, cycle=cycle, due_on=day, reassessed_on=day, **verdict
    )


STAGE_AFTER = {
    "proceed_to_surgery": models.Stage.SURGERY_PLANNED,
    "leave_pathway": models.Stage.LEFT_PATHWAY,
}


def _write_back(case: models.Case, answers: dict[str, dict[str, Any]], day: dt.date) -> None:
    """Stage, treatment plan and planned operations as the outcome decided them."""
    outcome = answers.get(P.OUTCOME) or {}
    stage = STAGE_AFTER.get(outcome.get("choice", ""))
    if outcome.get("choice") == "continue_pathway" and case.stage == models.Stage.WORKUP:
        stage = models.Stage.CONVERSION
    if stage is not None and stage != case.stage:
        changes: dict[str, Any] = {"stage": stage}
        if stage == models.Stage.LEFT_PATHWAY:
            changes["exit_reason"] = outcome.get("exit_reason") or models.ExitReason.COMPLETED
        update_versioned(models.Case, pk=case.pk, expected_version=case.version, changes=changes)
    last_bev = (answers.get(P.TIMING) or {}).get("last_bev_planned")
    planned_bev = dt.date.fromisoformat(last_bev) if last_bev else None
    _write_treatment(case, answers.get(P.SYSTEMIC_THERAPY) or {}, day, planned_bev)
    _write_operations(case, answers, day)


def _write_treatment(
    case: models.Case, systemic: dict[str, Any], day: dt.date, planned_bev: dt.date | None
) -> None:
    """The course the plan gives: a new one, none, or the running one continued. The last
    bevacizumab dose the timing point planned is stored on the course that gives it."""
    plan = systemic.get("plan")
    running = [c for c in case.treatment_courses.all() if c.stopped_on is None]
    if plan not in ("new", "none"):
        # Continued as it is (or an answer from before plans were asked). A planned last dose
        # stored by an earlier meeting stays unless this one plans another: dropping it would
        # count the interval from an earlier dose while bevacizumab goes on.
        for course in running:
            if planned_bev and "bevacizumab" in course.agents:
                update_versioned(
                    models.TreatmentCourse,
                    pk=course.pk,
                    expected_version=course.version,
                    changes={"bevacizumab_last_planned_on": planned_bev},
                )
        return
    reason = f"Changed by the MDT of {day:%d %b %Y}"
    for course in running:
        update_versioned(
            models.TreatmentCourse,
            pk=course.pk,
            expected_version=course.version,
            changes={"stopped_on": max(day, course.started_on), "stop_reason": reason},
        )
    agents = list(systemic.get("agents") or [])
    if plan == "new" and agents:
        backbone = backbone_of(agents)
        models.TreatmentCourse.objects.create(
            case_id=case.pk,
            backbone=str(backbone or ""),
            agents=agents,
            started_on=day,
            bevacizumab_last_planned_on=planned_bev if "bevacizumab" in agents else None,
        )


LIVER_KIND = {
    "one_stage_hepatectomy": models.SurgeryKind.ONE_STAGE_HEPATECTOMY,
    "two_stage_hepatectomy": models.SurgeryKind.TWO_STAGE_FIRST,
}


def _write_operations(case: models.Case, answers: dict[str, dict[str, Any]], day: dt.date) -> None:
    """The operations the MDT proposed, booked on the date it set (the first of them)."""
    liver = answers.get(P.LIVER_SURGERY) or {}
    primary = (answers.get(P.PRIMARY_MANAGEMENT) or {}).get("choice")
    when = (answers.get(P.TIMING) or {}).get("target_surgery_date")
    on = dt.date.fromisoformat(when) if when else None
    extent = (answers.get(P.RESECTABILITY) or {}).get("planned_hepatectomy_extent") or ""
    operations: list[tuple[str, dt.date | None, str]] = []
    kind = LIVER_KIND.get(liver.get("surgery", ""))
    sequence = liver.get("sequence")
    if kind and sequence == "synchronous_resection":
        operations.append((models.SurgeryKind.SYNCHRONOUS_RESECTION, on, extent))
    elif kind:
        first_primary = sequence == "primary_first_staged" or primary == "primary_resection"
        if first_primary:
            operations.append((models.SurgeryKind.PRIMARY_RESECTION, on, ""))
        operations.append((kind, None if first_primary else on, extent))
    elif primary in ("primary_resection", "defunctioning_stoma"):
        operations.append((primary, on, ""))
    open_ops = {
        s.kind: s for s in case.surgeries.all() if s.performed_on is None and s.cancelled_on is None
    }
    for kind_value, planned_on, hep_extent in operations:
        if planned_on is None:
            continue  # no date yet: booked when the first operation is done
        existing = open_ops.get(kind_value)
        if existing is not None:
            update_versioned(
                models.Surgery,
                pk=existing.pk,
                expected_version=existing.version,
                changes={"planned_on": planned_on},
            )
        else:
            models.Surgery.objects.create(
                case_id=case.pk,
                kind=kind_value,
                planned_on=planned_on,
                hepatectomy_extent=hep_extent,
            )
