"""The coordinator's worklists, computed in SQL from the clinical facts themselves.

Each worklist is a queryset over the partial indexes written for it (reassessment_open_due_idx,
molecular_pending_idx, surgery_planned_idx, action_open_idx). A page of a worklist costs two
queries — its count and its rows — whatever the size of the database; nothing here loops over
cases in Python.

Boundary readings (each is tested at the days either side):
- reassessment due "in the next 14 days": due today up to and including today + 14;
- overdue: due before today and not yet formally reassessed;
- molecular result pending "more than 14 days": requested before today − 14, so a result
  requested exactly 14 days ago is not on the list and one requested 15 days ago is;
- bevacizumab: planned elective surgery before last dose + 42 days (R10, D1: the 42nd day itself
  is safe), with that earliest safe date shown;
- SCRT: planned surgery on the primary after SCRT completion + 6 calendar months (R11; PostgreSQL
  ``date + interval '6 months'`` clamps to the month's end exactly like the engine's add_months).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import (
    BooleanField,
    Count,
    DateField,
    Exists,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.utils import timezone

from cases import models as m
from cases.completeness import IMAGING_MAX_AGE_DAYS
from cases.mapping import rule_constants
from cases.services.agenda import completeness_day

DUE_WINDOW_DAYS = 14
PENDING_DAYS = 14
ACTIVE = ~Q(stage=m.Stage.LEFT_PATHWAY)


def _days_after(expression: Any, days: int) -> ExpressionWrapper:
    """``date + integer`` in PostgreSQL is a date ``days`` later."""
    return ExpressionWrapper(
        expression + Value(days, output_field=IntegerField()), output_field=DateField()
    )


class AddMonths(Func):
    """``(date + make_interval(months => n))::date``: end-of-month clamping, like add_months."""

    template = "(%(expressions)s + make_interval(months => %(months)s))::date"
    output_field = DateField()

    def __init__(self, expression: Any, months: int) -> None:
        super().__init__(expression, months=int(months))


# --- Reassessments ---------------------------------------------------------------------------


def _open_reassessments() -> QuerySet[m.Reassessment]:
    return m.Reassessment.objects.filter(
        reassessed_on__isnull=True, case__in=m.Case.objects.filter(ACTIVE)
    ).select_related("case__patient")


def reassessments_due(*, today: dt.date) -> QuerySet[m.Reassessment]:
    end = today + dt.timedelta(days=DUE_WINDOW_DAYS)
    return _open_reassessments().filter(due_on__gte=today, due_on__lte=end).order_by("due_on", "id")


def reassessments_overdue(*, today: dt.date) -> QuerySet[m.Reassessment]:
    return _open_reassessments().filter(due_on__lt=today).order_by("due_on", "id")


def reimaging_unbooked(*, today: dt.date) -> QuerySet[m.Reassessment]:
    """A reassessment due within 14 days, or overdue, with no scan booked or done."""
    end = today + dt.timedelta(days=DUE_WINDOW_DAYS)
    return (
        _open_reassessments()
        .filter(due_on__lte=end, imaging_booked_for__isnull=True, imaging_performed_on__isnull=True)
        .order_by("due_on", "id")
    )


# --- Molecular results -----------------------------------------------------------------------


def results_pending(*, today: dt.date) -> QuerySet[m.MolecularResult]:
    # "More than 14 days": requested before today − 14 (day 15 shows, day 14 does not).
    cutoff = today - dt.timedelta(days=PENDING_DAYS)
    return (
        m.MolecularResult.objects.filter(
            status=m.MarkerStatus.PENDING,
            requested_on__lt=cutoff,
            case__in=m.Case.objects.filter(ACTIVE),
        )
        .select_related("case__patient")
        .order_by("requested_on", "id")
    )


# --- Surgery timing --------------------------------------------------------------------------


def _planned_surgery() -> QuerySet[m.Surgery]:
    return m.Surgery.objects.filter(
        performed_on__isnull=True,
        cancelled_on__isnull=True,
        planned_on__isnull=False,
        case__in=m.Case.objects.filter(ACTIVE),
    ).select_related("case__patient")


def last_bevacizumab_dose() -> Subquery:
    return Subquery(
        m.AgentAdministration.objects.filter(
            course__case=OuterRef("case"), agent=m.Agent.BEVACIZUMAB
        )
        .order_by("-given_on")
        .values("given_on")[:1],
        output_field=DateField(),
    )


def bevacizumab_interval(*, today: dt.date) -> QuerySet[m.Surgery]:
    """Hard stop: planned elective surgery less than 42 days after the last bevacizumab dose."""
    days = rule_constants().bev_min_days
    return (
        _planned_surgery()
        .filter(urgency=m.Urgency.ELECTIVE)
        .annotate(last_bev=last_bevacizumab_dose())
        .annotate(earliest_safe=_days_after(F("last_bev"), days))
        .filter(last_bev__isnull=False, planned_on__lt=F("earliest_safe"))
        .order_by("planned_on", "id")
    )


def scrt_window(*, today: dt.date) -> QuerySet[m.Surgery]:
    """Planned surgery on the primary later than SCRT completion + 6 calendar months."""
    months = rule_constants().scrt_max_delay_months  # R11
    last_fraction = Subquery(
        m.Radiotherapy.objects.filter(
            case=OuterRef("case"),
            kind=m.PelvicRadiotherapy.SHORT_COURSE_5X5,
            completed_on__isnull=False,
        )
        .order_by("-completed_on")
        .values("completed_on")[:1],
        output_field=DateField(),
    )
    return (
        _planned_surgery()
        .filter(kind__in=m.Surgery.PRIMARY_KINDS)
        .annotate(scrt_completed=last_fraction)
        .annotate(latest_surgery=AddMonths(F("scrt_completed"), months))
        .filter(scrt_completed__isnull=False, planned_on__gt=F("latest_surgery"))
        .order_by("planned_on", "id")
    )


# --- MDT actions -----------------------------------------------------------------------------


def actions_attention(*, today: dt.date) -> QuerySet[m.Action]:
    """Open actions past their due date, and actions marked not done that the MDT has not yet
    discussed again (a meeting discussed the case after the action was closed)."""
    discussed_since = m.AgendaItem.objects.filter(
        case=OuterRef("case"),
        status=m.AgendaStatus.DISCUSSED,
        meeting__scheduled_for__gt=OuterRef("completed_at"),
    )
    return (
        m.Action.objects.filter(case__in=m.Case.objects.filter(ACTIVE))
        .filter(
            Q(status=m.ActionStatus.OPEN, due_on__lt=today)
            | Q(Q(status=m.ActionStatus.NOT_DONE) & ~Exists(discussed_since))
        )
        .select_related("case__patient", "owner")
        .order_by("due_on", "id")
    )


# --- Next meeting: ready and incomplete ------------------------------------------------------


def next_meeting(*, now: dt.datetime | None = None) -> m.Meeting | None:
    now = now or timezone.now()
    return (
        m.Meeting.objects.filter(status=m.MeetingStatus.SCHEDULED, scheduled_for__gte=now)
        .order_by("scheduled_for", "id")
        .first()
    )


def _result_is(marker: str, statuses: tuple[str, ...]) -> Exists:
    return Exists(
        m.MolecularResult.objects.filter(case=OuterRef("pk"), marker=marker, status__in=statuses)
    )


def with_minimum_dataset(cases: QuerySet[m.Case], *, as_of: dt.date) -> QuerySet[m.Case]:
    """Annotate the minimum-dataset items (the SQL twin of ``missing_minimum_dataset``).

    ``has_mmr``, ``has_ras``, ``has_braf``, ``has_ecog``, ``has_recent_imaging`` and
    ``is_complete``; a test proves the two versions agree.
    """
    last_scan = Subquery(
        m.Reassessment.objects.filter(case=OuterRef("pk"), imaging_performed_on__isnull=False)
        .order_by("-imaging_performed_on")
        .values("imaging_performed_on")[:1],
        output_field=DateField(),
    )
    # Python: missing when (as_of − last scan) ≥ 56 days, so present when last scan > as_of − 56.
    oldest_recent = as_of - dt.timedelta(days=IMAGING_MAX_AGE_DAYS)
    ras_known = (
        Q(_result_is(m.Marker.KRAS, ("mutant",)))
        | Q(_result_is(m.Marker.NRAS, ("mutant",)))
        | (
            Q(_result_is(m.Marker.KRAS, ("wild_type",)))
            & Q(_result_is(m.Marker.NRAS, ("wild_type",)))
        )
    )

    def flag(condition: Q) -> ExpressionWrapper:
        return ExpressionWrapper(condition, output_field=BooleanField())

    return (
        cases.annotate(last_scan=last_scan)
        .annotate(
            has_mmr=flag(Q(_result_is(m.Marker.MMR_MSI, ("dmmr_msi_h", "pmmr_mss")))),
            has_ras=flag(ras_known),
            has_braf=flag(Q(_result_is(m.Marker.BRAF_V600E, ("wild_type", "mutant")))),
            has_ecog=flag(Q(ecog__isnull=False)),
            # NULL-safe: with no scan the flag is false, never NULL (NULL would match neither
            # the ready nor the incomplete list).
            has_recent_imaging=flag(Q(last_scan__isnull=False, last_scan__gt=oldest_recent)),
        )
        .annotate(
            is_complete=flag(
                Q(has_mmr=True, has_ras=True, has_braf=True, has_ecog=True)
                & Q(has_recent_imaging=True)
            )
        )
    )


def missing_from_flags(case: m.Case) -> list[str]:
    """The words of ``missing_minimum_dataset`` from the SQL annotations (no queries)."""
    items = (
        ("has_mmr", "MMR/MSI status"),
        ("has_ras", "RAS status (KRAS and NRAS, extended testing)"),
        ("has_braf", "BRAF V600E status"),
        ("has_ecog", "ECOG performance status"),
        ("has_recent_imaging", "Imaging less than 8 weeks old"),
    )
    return [words for flag, words in items if not getattr(case, flag)]


def meeting_candidates(meeting: m.Meeting, *, today: dt.date) -> QuerySet[m.Case]:
    """Cases that should come to ``meeting`` and are not yet on its agenda.

    A case on the pathway comes to the MDT when a reassessment falls due by the meeting day
    (or is overdue), when a scan has been done but not yet judged, or when it is a new
    referral in work-up never listed at any meeting.
    """
    meeting_day = timezone.localdate(meeting.scheduled_for)
    open_cycles = m.Reassessment.objects.filter(case=OuterRef("pk"), reassessed_on__isnull=True)
    due_by_meeting = Exists(open_cycles.filter(due_on__lte=meeting_day))
    scanned_not_judged = Exists(open_cycles.filter(imaging_performed_on__isnull=False))
    never_listed = ~Exists(m.AgendaItem.objects.filter(case=OuterRef("pk")))
    listed_here = Exists(m.AgendaItem.objects.filter(case=OuterRef("pk"), meeting=meeting))
    next_due = Subquery(
        open_cycles.order_by("due_on").values("due_on")[:1], output_field=DateField()
    )
    candidates = (
        m.Case.objects.filter(
            stage__in=[m.Stage.WORKUP, m.Stage.CONVERSION, m.Stage.SURGERY_PLANNED]
        )
        .filter(
            Q(due_by_meeting) | Q(scanned_not_judged) | (Q(stage=m.Stage.WORKUP) & Q(never_listed))
        )
        .exclude(listed_here)
        .select_related("patient", "responsible_clinician")
        .annotate(next_due=next_due)
    )
    return with_minimum_dataset(candidates, as_of=completeness_day(meeting, today=today)).order_by(
        "next_due", "id"
    )


def meeting_ready(meeting: m.Meeting, *, today: dt.date) -> QuerySet[m.Case]:
    return meeting_candidates(meeting, today=today).filter(is_complete=True)


def meeting_incomplete(meeting: m.Meeting, *, today: dt.date) -> QuerySet[m.Case]:
    return meeting_candidates(meeting, today=today).filter(is_complete=False)


# --- The registry the dashboard walks --------------------------------------------------------


@dataclass(frozen=True)
class WorklistSpec:
    slug: str  # URL part, and the partial / DOM id is "wl-<slug>"
    title: str
    description: str
    tone: str  # stop, warn or info: how loudly the dashboard shows a non-zero count
    build: Callable[..., QuerySet[Any]]
    needs_meeting: bool = False

    @property
    def partial(self) -> str:
        return f"wl-{self.slug}"


WORKLISTS: tuple[WorklistSpec, ...] = (
    WorklistSpec(
        "bevacizumab-interval",
        "Surgery too soon after bevacizumab",
        "Planned elective surgery less than 6 weeks after the last bevacizumab dose (hard stop).",
        "stop",
        bevacizumab_interval,
    ),
    WorklistSpec(
        "reassessments-overdue",
        "Reassessments overdue",
        "Due date passed with no formal reassessment recorded.",
        "stop",
        reassessments_overdue,
    ),
    WorklistSpec(
        "reimaging-unbooked",
        "Re-imaging not booked",
        "Reassessment due within 14 days or overdue, with no scan booked.",
        "warn",
        reimaging_unbooked,
    ),
    WorklistSpec(
        "reassessments-due",
        "Reassessments due in the next 14 days",
        "Two-monthly reassessment cycle (engine rule R9).",
        "info",
        reassessments_due,
    ),
    WorklistSpec(
        "results-pending",
        "Molecular results pending over 14 days",
        "Requested more than 14 days ago and still pending.",
        "warn",
        results_pending,
    ),
    WorklistSpec(
        "scrt-window",
        "Surgery beyond the SCRT window",
        "Planned surgery on the primary more than 6 months after short-course radiotherapy.",
        "warn",
        scrt_window,
    ),
    WorklistSpec(
        "actions",
        "MDT actions overdue or not done",
        "Open actions past their due date, and actions not done (until the MDT discusses the "
        "case again).",
        "warn",
        actions_attention,
    ),
    WorklistSpec(
        "meeting-ready",
        "Ready to list for the next meeting",
        "Due for discussion, minimum dataset complete.",
        "info",
        meeting_ready,
        needs_meeting=True,
    ),
    WorklistSpec(
        "meeting-incomplete",
        "Incomplete for the next meeting",
        "Due for discussion but missing the minimum dataset (MMR, RAS, BRAF, ECOG, imaging "
        "under 8 weeks). Listing one asks for a reason.",
        "warn",
        meeting_incomplete,
        needs_meeting=True,
    ),
)
WORKLISTS_BY_SLUG = {spec.slug: spec for spec in WORKLISTS}


def worklist_queryset(
    spec: WorklistSpec, *, today: dt.date, meeting: m.Meeting | None
) -> QuerySet[Any] | None:
    """The rows of one worklist; None when it needs a meeting and none is scheduled."""
    if spec.needs_meeting:
        if meeting is None:
            return None
        return spec.build(meeting, today=today)
    return spec.build(today=today)


# --- Plots' numbers --------------------------------------------------------------------------


def cohort_by_stage() -> list[tuple[str, str, int]]:
    """(stage value, label, number of cases) for every stage, in pathway order: one query."""
    counts = dict(m.Case.objects.order_by().values_list("stage").annotate(n=Count("id")))
    return [(stage.value, stage.label, counts.get(stage.value, 0)) for stage in m.Stage]


def reassessments_due_by_week(*, today: dt.date, weeks: int = 8) -> list[tuple[dt.date, int]]:
    """(first day of the week, number due) for ``weeks`` weeks starting today: one query.

    Week k holds reassessments due from today + 7k to today + 7k + 6. Overdue ones are not here:
    they have their own worklist.
    """
    end = today + dt.timedelta(days=7 * weeks - 1)
    due_days = (
        m.Reassessment.objects.filter(
            reassessed_on__isnull=True,
            due_on__gte=today,
            due_on__lte=end,
            case__in=m.Case.objects.filter(ACTIVE),
        )
        .order_by()
        .values_list("due_on")
        .annotate(n=Count("id"))
    )
    buckets = [0] * weeks
    for day, n in due_days:
        buckets[(day - today).days // 7] += n
    return [(today + dt.timedelta(days=7 * k), buckets[k]) for k in range(weeks)]
