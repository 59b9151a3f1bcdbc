"""Reads of the MDT meeting: the meeting's day and freeze, quorum, staff lists, the agenda and
attendance sections, and the case-in-meeting screen loaded in one query."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.contrib.postgres.expressions import ArraySubquery
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.models import Count, OuterRef, Q, Subquery
from django.http import Http404
from django.utils import timezone

from cases import models
from cases.common.constants import workflow_constants
from cases.common.json_rows import CompiledRow, instances, json_rows, whole_row
from cases.meetings.walk import (
    Step,
    Walk,
    build_walk,
    describe_answer,
    walk_step,
)
from cases.models import (
    Action,
    AgendaItem,
    AgendaStatus,
    Attendance,
    Case,
    DataVersion,
    Decision,
    Discipline,
    Meeting,
    MeetingStatus,
    Patient,
    Presence,
    Role,
    SeriesMember,
    User,
)
from cases.records.selectors import attach_people, attach_record, people_named, record_arrays


@dataclass(frozen=True)
class Quorum:
    quorate: bool
    missing: tuple[str, ...]  # labels of the core disciplines not present

    @property
    def missing_text(self) -> str:
        return ", ".join(self.missing)


def core_disciplines() -> tuple[str, ...]:
    """The disciplines that make a meeting quorate (setting ``MDT_CORE_DISCIPLINES``)."""
    core = tuple(settings.MDT_CORE_DISCIPLINES)
    unknown = [d for d in core if d not in Discipline.values]
    if unknown or not core:
        raise ImproperlyConfigured(
            f"MDT_CORE_DISCIPLINES must name disciplines among {', '.join(Discipline.values)}; "
            f"unknown: {', '.join(unknown) or '(empty list)'}"
        )
    return core


def quorum_of(disciplines_present: Iterable[str]) -> Quorum:
    present = set(disciplines_present)
    labels = dict(Discipline.choices)
    missing = tuple(labels[d] for d in core_disciplines() if d not in present)
    return Quorum(quorate=not missing, missing=missing)


def hpb_present(attendances: Iterable[Attendance]) -> bool:
    """A hepatobiliary surgeon is recorded present: the meeting can give an HPB MDT review."""
    return any(
        a.discipline == Discipline.HPB_SURGEON and a.presence == Presence.PRESENT
        for a in attendances
    )


def meeting_day(meeting: Meeting) -> dt.date:
    """The local calendar day of the meeting: "today" for every rule applied in it."""
    return timezone.localdate(meeting.scheduled_for)


def members() -> Any:
    """Staff who sit in an MDT or own its actions."""
    return User.objects.filter(
        is_active=True, role__in=[Role.CLINICIAN, Role.CHAIR, Role.COORDINATOR]
    ).order_by("last_name", "first_name", "username")


def chairs() -> Any:
    return User.objects.filter(is_active=True, role=Role.CHAIR).order_by("last_name", "username")


def agenda_rows(meeting: Meeting) -> dict[str, Any]:
    items = (
        AgendaItem.objects.filter(meeting=meeting)
        .select_related("case__patient")
        .annotate(answered=Count("decisions", filter=Q(decisions__supersedes__isnull=True)))
        .order_by("position", "pk")
    )
    return {"items": list(items)}


def present_disciplines(attendances: Iterable[Attendance]) -> list[str]:
    """The disciplines present (apologies do not count for the quorum; a deputy does)."""
    return [a.discipline for a in attendances if a.presence == Presence.PRESENT]


@dataclass(frozen=True)
class Expected:
    """A core member of the meeting's series and what is recorded for them at this meeting."""

    core: SeriesMember
    attendance: Attendance | None  # present or apologies, as marked
    deputy: Attendance | None  # who stands in for them

    @property
    def state(self) -> str:
        if self.deputy is not None:
            return "deputy"
        return self.attendance.presence if self.attendance else "unmarked"


def series_members(series_id: int | None) -> list[SeriesMember]:
    if series_id is None:
        return []
    return list(
        SeriesMember.objects.filter(series_id=series_id)
        .select_related("member")
        .order_by("discipline", "member__last_name", "member__username")
    )


def attendance_rows(meeting: Meeting) -> dict[str, Any]:
    """The attendance: each core member of the series as expected (with what is marked for
    them), everyone else recorded, and the quorum."""
    attendances = list(
        Attendance.objects.filter(meeting=meeting)
        .select_related("member", "deputy_for")
        .order_by("discipline", "member__last_name")
    )
    core = series_members(meeting.series_id)
    by_member = {a.member_id: a for a in attendances}
    deputies = {a.deputy_for_id: a for a in attendances if a.deputy_for_id}
    expected = [Expected(c, by_member.get(c.member_id), deputies.get(c.member_id)) for c in core]
    core_ids = {c.member_id for c in core}
    return {
        "attendances": attendances,
        "expected": expected,
        "others": [a for a in attendances if a.member_id not in core_ids],
        "quorum": quorum_of(present_disciplines(attendances)),
    }


@dataclass
class CaseScreen:
    """Everything the case-in-meeting page or one of its partials draws, loaded in one query.

    ``attendances`` and ``actions`` are None when the partial it was loaded for shows neither.
    """

    item: AgendaItem
    case: Any
    decisions: list[Decision]
    attendances: list[Attendance] | None
    actions: list[Any] | None
    day: dt.date
    cards: list[Any] = field(default_factory=list)  # filled by the view that draws them
    # The data versions read with the record (cases/data_version.py); None inside a transaction.
    versions: dict[str, str] | None = None

    @functools.cached_property
    def walk(self) -> Walk:
        """The decision walk of ``case`` and ``decisions``, built when first drawn: an answer
        POST reads its form against one card (``answer_step``) and draws the walk only once,
        after the answer (``dataclasses.replace`` with the new decisions builds it afresh)."""
        return build_walk(
            self.case, self.decisions, meeting_day=self.day, hpb_present=self.hpb_present
        )

    def answer_step(self, point: str) -> Step | None:
        """The card an answer to ``point`` is read against (None: the point does not apply)."""
        if "walk" in self.__dict__:
            return self.walk.step(point)
        return walk_step(
            self.case,
            self.decisions,
            meeting_day=self.day,
            point=point,
            hpb_present=self.hpb_present,
        )

    @property
    def locked(self) -> bool:
        return self.item.signed_off_at is not None or self.item.status == AgendaStatus.DEFERRED

    @property
    def hpb_present(self) -> bool:
        return hpb_present(self.attendances or [])

    @property
    def quorum(self) -> Quorum:
        if self.attendances is None:
            raise RuntimeError("the meeting's attendance was not loaded for this partial")
        return quorum_of(present_disciplines(self.attendances))


@functools.lru_cache(maxsize=16)  # one per partial
def screen_row(partial: str | None) -> CompiledRow:
    """The one-row query ``case_screen`` runs for ``partial``, for any agenda item: the item,
    its case, patient and meeting, and the arrays below, each as JSON. Compiled once a process:
    compiling a query of two dozen subqueries took longer than PostgreSQL takes to run it."""
    item_ref, meeting_ref = OuterRef("pk"), OuterRef("meeting_id")
    decisions = Decision.objects.filter(agenda_item=OuterRef(item_ref))
    # The case's agenda items and meetings feed only the timeline (the case summary).
    with_meetings = partial in (None, "case-summary")
    columns: dict[str, Any] = {
        "item_row": whole_row(),
        "item_case": json_rows(Case, pk=OuterRef("case_id")),
        "item_patient": json_rows(Patient, cases=OuterRef("case_id")),
        "item_meeting": json_rows(Meeting, pk=meeting_ref),
        "item_signed_off_by": json_rows(User, pk=OuterRef("signed_off_by_id")),
        # The walk and the outcome read the rules' record; the summary draws all of it.
        **record_arrays(
            OuterRef("case_id"), with_meetings=with_meetings, with_display=with_meetings
        ),
        "item_decisions": json_rows(Decision, agenda_item=item_ref),
        # Read in the same statement as the record, so they describe the same moment.
        "data_versions": Subquery(DataVersion.objects.filter(pk=1).values("versions")[:1]),
    }
    # The walk needs the attendance too: an HPB surgeon present makes the verdict an HPB review.
    columns["item_attendances"] = json_rows(Attendance, meeting=meeting_ref)
    if with_attendance(partial):
        actions = Action.objects.filter(agenda_item=OuterRef(item_ref))
        columns["item_actions"] = json_rows(Action, agenda_item=item_ref)
        columns["item_people"] = people_named(decisions, actions)
    else:
        columns["item_people"] = people_named(decisions)
    if partial is None:
        agenda = AgendaItem.objects.filter(meeting=meeting_ref).order_by("position", "pk")
        columns["agenda_order"] = ArraySubquery(agenda.values("pk"))
        # The chair is named on the print.
        columns["item_chair"] = json_rows(User, meetings_chaired=meeting_ref)
    return CompiledRow(AgendaItem, columns)


def _screen_item(row: dict[str, Any], partial: str | None) -> AgendaItem:
    """The agenda item of a ``screen_row`` row, with its case, patient, meeting and whoever
    signed it off attached as ``select_related`` would have attached them."""
    (item,) = instances(AgendaItem, [row.pop("item_row")])
    (case,) = instances(Case, row.pop("item_case"))
    (case.patient,) = instances(Patient, row.pop("item_patient"))
    (item.meeting,) = instances(Meeting, row.pop("item_meeting"))
    item.case = case
    signed_off_by = instances(User, row.pop("item_signed_off_by"))
    item.signed_off_by = signed_off_by[0] if signed_off_by else None
    if partial is None:
        (item.meeting.chair,) = instances(User, row.pop("item_chair"))
        item.agenda_order = row.pop("agenda_order")
    return item


def with_attendance(partial: str | None) -> bool:
    return partial in (None, "outcome")


def case_screen(item_id: int, partial: str | None = None) -> CaseScreen:
    """The agenda item, its case's clinical record, its decisions and the people who recorded
    them, in one query; for the whole page (``partial`` None) also the meeting's attendance,
    the item's actions and their owners, and the agenda's order; for the outcome partial the
    attendance and the actions. The walk and the case summary show none of them, and the case's
    past agenda items (for the timeline) and what only the summary draws (staging, pathology,
    scans, results) are read for the page and the case summary only.
    """
    # The SQL is compiled once a process; only the agenda item's pk comes from this request.
    row = screen_row(partial).fetch(item_id)
    if row is None:
        raise Http404("No such agenda item")
    item = _screen_item(row, partial)
    versions = row.pop("data_versions")
    if connection.in_atomic_block:
        versions = None  # this transaction's own writes are not in them yet
    case = attach_record(item.case, SimpleNamespace(**row))
    screen_decisions = instances(Decision, row["item_decisions"])
    actions = None
    attendances = instances(Attendance, row["item_attendances"])
    if with_attendance(partial):
        actions = instances(Action, row["item_actions"])
    attach_people(screen_decisions, actions or [], row["item_people"])
    day = meeting_day(item.meeting)
    return CaseScreen(item, case, screen_decisions, attendances, actions, day, versions=versions)


def agenda_frozen_at(meeting: models.Meeting) -> dt.datetime:
    hours = workflow_constants().agenda_freeze_hours
    return meeting.scheduled_for - dt.timedelta(hours=hours)


def completeness_day(meeting: models.Meeting, *, today: dt.date) -> dt.date:
    """The day the minimum dataset must hold on: the meeting day (a scan 7 weeks old today is
    out of date at next week's meeting), or today for a meeting already under way."""
    return max(today, timezone.localdate(meeting.scheduled_for))


def next_meeting(*, now: dt.datetime | None = None) -> Meeting | None:
    now = now or timezone.now()
    return (
        # Not only "scheduled": taking attendance early marks a meeting in progress, and it is
        # still the next one.
        Meeting.objects.filter(scheduled_for__gte=now)
        .exclude(status=MeetingStatus.CLOSED)
        .order_by("scheduled_for", "id")
        .first()
    )


# --- Minutes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MinutesItem:
    item: AgendaItem
    decisions: list[tuple[Decision, str]]  # the current answers, in the walk's order
    actions: list[Action]


def minutes_rows(meeting: Meeting) -> dict[str, Any]:
    """Everything the minutes show, in a fixed number of queries whatever the agenda's length:
    attendance (two), the agenda with cases and patients, the current decisions, the actions."""
    items = list(
        AgendaItem.objects.filter(meeting=meeting)
        .select_related("case__patient", "signed_off_by")
        .order_by("position", "pk")
    )
    decisions = (
        Decision.objects.filter(agenda_item__meeting=meeting, superseded_by__isnull=True)
        .select_related("recorded_by")
        .order_by("pk")
    )
    order = {point: n for n, point in enumerate(models.DecisionPoint.values)}
    by_item: dict[int, list[tuple[Decision, str]]] = {}
    for d in sorted(decisions, key=lambda d: order.get(d.point, len(order))):
        by_item.setdefault(d.agenda_item_id, []).append((d, describe_answer(d.point, d.answer)))
    acts: dict[int, list[Action]] = {}
    for a in Action.objects.filter(agenda_item__meeting=meeting).select_related("owner"):
        acts.setdefault(a.agenda_item_id, []).append(a)
    rows = [MinutesItem(i, by_item.get(i.pk, []), acts.get(i.pk, [])) for i in items]
    return attendance_rows(meeting) | {
        "rows": rows,
        "discussed": [r for r in rows if r.item.status != AgendaStatus.DEFERRED],
        "deferred": [r for r in rows if r.item.status == AgendaStatus.DEFERRED],
    }
