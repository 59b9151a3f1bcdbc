"""The coordinator's worklists, computed in SQL from the clinical facts themselves.

Each worklist is a queryset over the partial indexes written for it (reassessment_open_due_idx,
molecular_pending_idx, surgery_planned_idx, action_open_idx). A page of a worklist costs two
queries — its count and its rows — whatever the size of the database; nothing here loops over
cases in Python. The dashboard's capped panels cost less: ``capped_queries`` reads the count and
the first rows of every worklist of the same shape in one query.

Boundary readings (each is tested at the days either side):
- reassessment due "in the next N days" (N = due_window_days): due today up to and including
  today + N;
- overdue: due before today and not yet formally reassessed;
- molecular result pending "more than N days" (N = result_chase_days): requested before
  today − N, so a result requested exactly N days ago is not on the list and one a day older is;
- bevacizumab: planned elective surgery before the engine's earliest elective surgery date (R10,
  D1: that day itself is safe), with that date shown;
- SCRT: planned surgery on the primary after the engine's latest date after SCRT (R11; PostgreSQL
  ``date + make_interval(months => n)`` clamps to the month's end exactly like add_months).

Every interval is a parameter taken from the engine's constants in force (``rule_constants`` and
``workflow_constants``): the SQL restates the engine's date arithmetic, a test holds the two
equal at the boundary days, and no number of a rule is written here.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.postgres.aggregates import BoolOr
from django.db import connection
from django.db.models import (
    Case,
    CharField,
    Count,
    DateField,
    Exists,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    Model,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Greatest
from django.db.models.lookups import GreaterThan
from django.utils import timezone

from cases import models
from cases.common.constants import bank_holidays, rule_constants, workflow_constants
from cases.followup.selectors import follow_up_days, follow_ups_overdue, letters_unsent
from cases.meetings.selectors import completeness_day
from cases.models import FollowUpKind
from cases.pathway.constants import RuleConstants, WorkflowConstants
from cases.pathway.dataset import DATASET_ITEMS, item_words

# A LIMIT on the candidate subquery keeps PostgreSQL from flattening it into the outer query,
# so the minimum-dataset subqueries run for the candidates only; far above any real agenda.
CANDIDATE_FENCE = 100_000
# Rows of cases still on the pathway. "Not a case that left" rather than "a case whose stage is
# not left": a primary-key probe per row, where the join made counts hash the whole case table.
ON_PATHWAY = ~Q(
    Exists(models.Case.objects.filter(pk=OuterRef("case_id"), stage=models.Stage.LEFT_PATHWAY))
)


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


def _open_reassessments() -> QuerySet[models.Reassessment]:
    return models.Reassessment.objects.filter(
        ON_PATHWAY, reassessed_on__isnull=True
    ).select_related("case__patient")


def reassessments_due(*, today: dt.date) -> QuerySet[models.Reassessment]:
    end = today + dt.timedelta(days=workflow_constants().due_window_days)
    return _open_reassessments().filter(due_on__gte=today, due_on__lte=end).order_by("due_on", "id")


def reassessments_overdue(*, today: dt.date) -> QuerySet[models.Reassessment]:
    return _open_reassessments().filter(due_on__lt=today).order_by("due_on", "id")


def reimaging_unbooked(*, today: dt.date) -> QuerySet[models.Reassessment]:
    """A reassessment due soon, or overdue, with no scan booked or done."""
    end = today + dt.timedelta(days=workflow_constants().due_window_days)
    return (
        _open_reassessments()
        .filter(due_on__lte=end, imaging_booked_for__isnull=True, imaging_performed_on__isnull=True)
        .order_by("due_on", "id")
    )


# --- Molecular results -----------------------------------------------------------------------


def results_pending(*, today: dt.date) -> QuerySet[models.MolecularResult]:
    # "More than N days": requested before today − N (day N + 1 shows, day N does not).
    cutoff = today - dt.timedelta(days=workflow_constants().result_chase_days)
    return (
        models.MolecularResult.objects.filter(
            ON_PATHWAY, status=models.MarkerStatus.PENDING, requested_on__lt=cutoff
        )
        .select_related("case__patient")
        .order_by("requested_on", "id")
    )


# --- Surgery timing --------------------------------------------------------------------------


# The two surgery worklists select the same columns (each fills the other's with NULL), so the
# dashboard reads both in one UNION ALL query (see capped_queries).
NO_DATE = Value(None, output_field=DateField())


def _planned_surgery() -> QuerySet[models.Surgery]:
    return models.Surgery.objects.filter(
        ON_PATHWAY,
        performed_on__isnull=True,
        cancelled_on__isnull=True,
        planned_on__isnull=False,
    ).select_related("case__patient")


def last_bevacizumab_dose() -> Greatest:
    """The dose the interval counts from, as ``bevacizumab_interval_start`` reads the record:
    the last dose given or the running course's planned last dose, whichever is later
    (GREATEST skips a NULL)."""
    given = Subquery(
        models.AgentAdministration.objects.filter(
            course__case=OuterRef("case"), agent=models.Agent.BEVACIZUMAB
        )
        .order_by("-given_on")
        .values("given_on")[:1],
        output_field=DateField(),
    )
    planned = Subquery(
        models.TreatmentCourse.objects.filter(
            case=OuterRef("case"),
            stopped_on__isnull=True,
            bevacizumab_last_planned_on__isnull=False,
        )
        .order_by("-bevacizumab_last_planned_on")
        .values("bevacizumab_last_planned_on")[:1],
        output_field=DateField(),
    )
    return Greatest(given, planned, output_field=DateField())


def bevacizumab_interval(*, today: dt.date) -> QuerySet[models.Surgery]:
    """Hard stop: planned elective surgery before the engine's earliest date after the last
    bevacizumab dose (R10)."""
    days = rule_constants().bev_min_days
    return (
        _planned_surgery()
        .filter(urgency=models.Urgency.ELECTIVE)
        .annotate(last_bev=last_bevacizumab_dose())
        .annotate(earliest_safe=_days_after(F("last_bev"), days))
        .annotate(scrt_completed=NO_DATE, latest_surgery=NO_DATE)  # the shape of scrt_window
        # No bevacizumab: earliest_safe is NULL and the comparison excludes the row.
        .filter(planned_on__lt=F("earliest_safe"))
        .order_by("planned_on", "id")
    )


def scrt_window(*, today: dt.date) -> QuerySet[models.Surgery]:
    """Planned surgery on the primary later than SCRT completion + 6 calendar months."""
    months = rule_constants().scrt_max_delay_months  # R11
    last_fraction = Subquery(
        models.Radiotherapy.objects.filter(
            case=OuterRef("case"),
            kind=models.PelvicRadiotherapy.SHORT_COURSE_5X5,
            completed_on__isnull=False,
        )
        .order_by("-completed_on")
        .values("completed_on")[:1],
        output_field=DateField(),
    )
    return (
        _planned_surgery()
        .filter(kind__in=models.Surgery.PRIMARY_KINDS)
        .annotate(last_bev=NO_DATE, earliest_safe=NO_DATE)  # the shape of bevacizumab_interval
        .annotate(scrt_completed=last_fraction)
        .annotate(latest_surgery=AddMonths(F("scrt_completed"), months))
        .filter(scrt_completed__isnull=False, planned_on__gt=F("latest_surgery"))
        .order_by("planned_on", "id")
    )


# --- MDT actions -----------------------------------------------------------------------------


def actions_attention(*, today: dt.date) -> QuerySet[models.Action]:
    """Open actions past their due date, and actions marked not done that the MDT has not yet
    discussed again (a meeting discussed the case after the action was closed)."""
    discussed_since = models.AgendaItem.objects.filter(
        case=OuterRef("case"),
        status=models.AgendaStatus.DISCUSSED,
        meeting__scheduled_for__gt=OuterRef("completed_at"),
    )
    return (
        models.Action.objects.filter(ON_PATHWAY)
        .filter(
            Q(status=models.ActionStatus.OPEN, due_on__lt=today)
            | Q(Q(status=models.ActionStatus.NOT_DONE) & ~Exists(discussed_since))
        )
        .select_related("case__patient", "owner")
        .order_by("due_on", "id")
    )


# --- Next meeting: ready and incomplete ------------------------------------------------------


# The minimum dataset as a bitmask of what is missing: 0 means complete. One expression, so
# each subquery appears once in the SQL (PostgreSQL does not share repeated subqueries).
MISSING_MMR, MISSING_RAS, MISSING_BRAF, MISSING_ECOG, MISSING_IMAGING = 1, 2, 4, 8, 16
# The engine's items (cases/pathway/dataset.py), in its order, each with its bit.
MISSING_BITS = dict(
    zip(
        DATASET_ITEMS,
        (MISSING_MMR, MISSING_RAS, MISSING_BRAF, MISSING_ECOG, MISSING_IMAGING),
        strict=True,
    )
)


def _any_result(marker: str, *statuses: str) -> BoolOr:
    """True when the case has this marker with one of these results; NULL when it has not."""
    return BoolOr(Value(True), filter=Q(marker=marker, status__in=statuses))


def _missing_results() -> Coalesce:
    """Bits for MMR, RAS and BRAF, from one pass over the case's (at most five) results."""

    def bit(known: Any, value: int) -> Case:
        return Case(When(known, then=Value(0)), default=Value(value))

    kras_mutant, nras_mutant = _any_result("kras", "mutant"), _any_result("nras", "mutant")
    both_wild = Q(_any_result("kras", "wild_type")) & Q(_any_result("nras", "wild_type"))
    per_case = (
        models.MolecularResult.objects.filter(case=OuterRef("pk"))
        .order_by()
        .values("case")
        .annotate(
            bits=bit(Q(_any_result("mmr_msi", "dmmr_msi_h", "pmmr_mss")), MISSING_MMR)
            + bit(Q(kras_mutant) | Q(nras_mutant) | both_wild, MISSING_RAS)
            + bit(Q(_any_result("braf_v600e", "wild_type", "mutant")), MISSING_BRAF)
        )
        .values("bits")
    )
    # A case with no results at all misses all three.
    everything = MISSING_MMR + MISSING_RAS + MISSING_BRAF
    return Coalesce(Subquery(per_case, output_field=IntegerField()), Value(everything))


def with_minimum_dataset(cases: QuerySet[models.Case], *, as_of: dt.date) -> QuerySet[models.Case]:
    """Annotate ``missing_mask`` (the SQL twin of ``missing_minimum_dataset``; 0 = complete).

    ``missing_from_flags`` turns it back into the same words; a test proves the two agree.
    """
    last_scan = Subquery(
        models.Reassessment.objects.filter(case=OuterRef("pk"), imaging_performed_on__isnull=False)
        .order_by("-imaging_performed_on")
        .values("imaging_performed_on")[:1],
        output_field=DateField(),
    )
    # The engine: missing when (as_of − last scan) ≥ the limit, so present when the last scan is
    # after as_of − limit. With no scan the comparison is NULL and the CASE falls to its default.
    oldest_recent = as_of - dt.timedelta(days=workflow_constants().imaging_max_age_days)
    imaging = Case(
        When(GreaterThan(last_scan, Value(oldest_recent)), then=Value(0)),
        default=Value(MISSING_IMAGING),
    )
    # The engine's ``ecog_current``: a score, assessed less than the limit ago (or undated).
    oldest_ecog = as_of - dt.timedelta(days=workflow_constants().ecog_max_age_days)
    ecog = Case(
        When(
            Q(ecog__isnull=False)
            & (Q(ecog_assessed_on__isnull=True) | Q(ecog_assessed_on__gt=oldest_ecog)),
            then=Value(0),
        ),
        default=Value(MISSING_ECOG),
    )
    return cases.annotate(
        missing_mask=ExpressionWrapper(
            _missing_results() + ecog + imaging, output_field=IntegerField()
        )
    )


def missing_from_flags(case: models.Case) -> list[str]:
    """The words of ``missing_minimum_dataset`` from the SQL annotation (no queries)."""
    workflow = workflow_constants()
    return [
        item_words(item, workflow) for item, bit in MISSING_BITS.items() if case.missing_mask & bit
    ]


def meeting_candidates(meeting: models.Meeting, *, today: dt.date) -> QuerySet[models.Case]:
    """Cases that should come to ``meeting`` and are not yet on its agenda.

    A case on the pathway comes to the MDT when a reassessment falls due by the meeting day
    (or is overdue), when a scan has been done but not yet judged, or when it is a new
    referral in work-up never listed at any meeting.
    """
    return _candidates(**_candidate_args(meeting, today=today))


def _candidate_args(meeting: models.Meeting, *, today: dt.date) -> dict[str, Any]:
    """What the candidates of ``meeting`` depend on, besides the data."""
    return {
        "meeting_id": meeting.pk,
        "meeting_day": timezone.localdate(meeting.scheduled_for),
        "as_of": completeness_day(meeting, today=today),
    }


def _candidates(*, meeting_id: int, meeting_day: dt.date, as_of: dt.date) -> QuerySet[models.Case]:
    """``meeting_candidates`` from the three values it depends on."""
    open_cycles = models.Reassessment.objects.filter(
        case=OuterRef("pk"), reassessed_on__isnull=True
    )
    due_by_meeting = Exists(open_cycles.filter(due_on__lte=meeting_day))
    scanned_not_judged = Exists(open_cycles.filter(imaging_performed_on__isnull=False))
    never_listed = ~Exists(models.AgendaItem.objects.filter(case=OuterRef("pk")))
    listed_here = Exists(
        models.AgendaItem.objects.filter(case=OuterRef("pk"), meeting_id=meeting_id)
    )
    next_due = Subquery(
        open_cycles.order_by("due_on").values("due_on")[:1], output_field=DateField()
    )
    due_for_discussion = (
        models.Case.objects.filter(
            stage__in=[models.Stage.WORKUP, models.Stage.CONVERSION, models.Stage.SURGERY_PLANNED]
        )
        .filter(
            Q(due_by_meeting)
            | Q(scanned_not_judged)
            | (Q(stage=models.Stage.WORKUP) & Q(never_listed))
        )
        .exclude(listed_here)
        .order_by()  # no sort: only membership matters here
        .values("pk")
    )
    # Select the candidates first (a semi-join), so the minimum-dataset subqueries run for them
    # only, not for every case on the pathway.
    candidates = (
        models.Case.objects.filter(pk__in=due_for_discussion[:CANDIDATE_FENCE])
        .select_related("patient", "responsible_clinician")
        .annotate(next_due=next_due)
    )
    return with_minimum_dataset(candidates, as_of=as_of).order_by("next_due", "id")


@functools.lru_cache(maxsize=64)
def _candidate_masks_sql(
    *, meeting_id: int, meeting_day: dt.date, as_of: dt.date
) -> tuple[str, tuple[Any, ...]]:
    """The SQL of the candidates' (id, missing mask, next due date), in the lists' order.

    Building and compiling this query in Django takes about half as long as PostgreSQL takes
    to run it, and the SQL is a function of these three values alone: it is built once per
    meeting and day, and each dashboard only runs it.
    """
    rows = _candidates(meeting_id=meeting_id, meeting_day=meeting_day, as_of=as_of)
    sql, params = (
        rows.select_related(None)
        .values_list("pk", "missing_mask", "next_due")
        .query.sql_with_params()
    )
    return sql, tuple(params)


def meeting_ready(meeting: models.Meeting, *, today: dt.date) -> QuerySet[models.Case]:
    return meeting_candidates(meeting, today=today).filter(missing_mask=0)


def meeting_incomplete(meeting: models.Meeting, *, today: dt.date) -> QuerySet[models.Case]:
    return meeting_candidates(meeting, today=today).filter(missing_mask__gt=0)


# --- The registry the dashboard walks --------------------------------------------------------


def _rule_words() -> dict[str, int]:
    """The numbers the worklists' titles quote, from the constants in force."""
    rules, workflow = rule_constants(), workflow_constants()
    return {
        "bev_days": rules.bev_min_days,
        "scrt_months": rules.scrt_max_delay_months,
        "due_days": workflow.due_window_days,
        "chase_days": workflow.result_chase_days,
        "imaging_weeks": workflow.imaging_max_age_days // 7,
        "letter_days": workflow.letter_send_working_days,
        "followup_days": ", ".join(
            f"{FollowUpKind(kind).label.lower()} {days}" for kind, days in follow_up_days().items()
        ),
    }


@dataclass(frozen=True)
class WorklistSpec:
    slug: str  # URL part, and the partial / DOM id is "wl-<slug>"
    # Title and description quote the rule's numbers as {bev_days}, {due_days}, ... (_rule_words).
    title_text: str
    description_text: str
    tone: str  # stop, warn or info: how loudly the dashboard shows a non-zero count
    build: Callable[..., QuerySet[Any]]
    # Every model whose table the worklist reads: its cached panel is keyed on their versions
    # (cases/data_version.py). tests/worklists/test_dashboard_cache.py checks this against the SQL.
    reads: tuple[type[Model], ...]
    needs_meeting: bool = False

    @property
    def partial(self) -> str:
        return f"wl-{self.slug}"

    @property
    def title(self) -> str:
        return self.title_text.format(**_rule_words())

    @property
    def description(self) -> str:
        return self.description_text.format(**_rule_words())


MEETING_READS = (
    models.Case,
    models.Reassessment,
    models.MolecularResult,
    models.AgendaItem,
    models.Meeting,
    models.Patient,
    models.User,
)

WORKLISTS: tuple[WorklistSpec, ...] = (
    WorklistSpec(
        "bevacizumab-interval",
        "Surgery too soon after bevacizumab",
        "Planned elective surgery less than {bev_days} days after the last bevacizumab dose "
        "(hard stop).",
        "stop",
        bevacizumab_interval,
        reads=(
            models.Surgery,
            models.AgentAdministration,
            models.TreatmentCourse,
            models.Case,
            models.Patient,
        ),
    ),
    WorklistSpec(
        "reassessments-overdue",
        "Reassessments overdue",
        "Due date passed with no formal reassessment recorded.",
        "stop",
        reassessments_overdue,
        reads=(models.Reassessment, models.Case, models.Patient),
    ),
    WorklistSpec(
        "reimaging-unbooked",
        "Re-imaging not booked",
        "Reassessment due within {due_days} days or overdue, with no scan booked.",
        "warn",
        reimaging_unbooked,
        reads=(models.Reassessment, models.Case, models.Patient),
    ),
    WorklistSpec(
        "reassessments-due",
        "Reassessments due in the next {due_days} days",
        "Two-monthly reassessment cycle (engine rule R9).",
        "info",
        reassessments_due,
        reads=(models.Reassessment, models.Case, models.Patient),
    ),
    WorklistSpec(
        "results-pending",
        "Molecular results pending over {chase_days} days",
        "Requested more than {chase_days} days ago and still pending.",
        "warn",
        results_pending,
        reads=(models.MolecularResult, models.Case, models.Patient),
    ),
    WorklistSpec(
        "scrt-window",
        "Surgery beyond the SCRT window",
        "Planned surgery on the primary more than {scrt_months} months after short-course "
        "radiotherapy.",
        "warn",
        scrt_window,
        reads=(models.Surgery, models.Radiotherapy, models.Case, models.Patient),
    ),
    WorklistSpec(
        "actions",
        "MDT actions overdue or not done",
        "Open actions past their due date, and actions not done (until the MDT discusses the "
        "case again).",
        "warn",
        actions_attention,
        reads=(
            models.Action,
            models.AgendaItem,
            models.Meeting,
            models.Case,
            models.Patient,
            models.User,
        ),
    ),
    WorklistSpec(
        "meeting-ready",
        "Ready to list for the next meeting",
        "Due for discussion, minimum dataset complete.",
        "info",
        meeting_ready,
        reads=MEETING_READS,
        needs_meeting=True,
    ),
    WorklistSpec(
        "meeting-incomplete",
        "Incomplete for the next meeting",
        "Due for discussion but missing the minimum dataset (MMR, RAS, BRAF, ECOG, imaging "
        "under {imaging_weeks} weeks). Listing one asks for a reason.",
        "warn",
        meeting_incomplete,
        reads=MEETING_READS,
        needs_meeting=True,
    ),
)
# After the meeting (cases/followup/): letters not sent in time, recommendations not carried out.
# Drawn on the dashboard after the page (htmx), each by its own panel view: the dashboard's first
# answer keeps its fixed number of queries.
AFTER_MEETING_WORKLISTS: tuple[WorklistSpec, ...] = (
    WorklistSpec(
        "letters-unsent",
        "Outcome letters not sent within {letter_days} working day(s)",
        "Signed-off outcomes whose letter is not yet checked and sent, {letter_days} working "
        "day(s) after the sign-off (weekends and bank holidays skipped).",
        "warn",
        letters_unsent,
        reads=(
            models.OutcomeLetter,
            models.AgendaItem,
            models.Meeting,
            models.Case,
            models.Patient,
        ),
    ),
    WorklistSpec(
        "follow-ups-overdue",
        "Recommendations not implemented in time",
        "Signed-off recommendations still planned or in progress after their kind's number of "
        "days ({followup_days}).",
        "warn",
        follow_ups_overdue,
        reads=(models.FollowUp, models.Case, models.Patient),
    ),
)
WORKLISTS_BY_SLUG = {spec.slug: spec for spec in (*WORKLISTS, *AFTER_MEETING_WORKLISTS)}


def worklist_queryset(
    spec: WorklistSpec, *, today: dt.date, meeting: models.Meeting | None
) -> QuerySet[Any] | None:
    """The rows of one worklist; None when it needs a meeting and none is scheduled."""
    if spec.needs_meeting:
        if meeting is None:
            return None
        return spec.build(meeting, today=today)
    return spec.build(today=today)


# --- Plots' numbers --------------------------------------------------------------------------


CHART_WEEKS = 8


def _stage_counts() -> QuerySet[Any]:
    return models.Case.objects.order_by().values_list("stage").annotate(n=Count("id"))


def _cohort(counts: dict[str, int]) -> list[tuple[str, str, int]]:
    return [(stage.value, stage.label, counts.get(stage.value, 0)) for stage in models.Stage]


def cohort_by_stage() -> list[tuple[str, str, int]]:
    """(stage value, label, number of cases) for every stage, in pathway order: one query."""
    return _cohort(dict(_stage_counts()))


def _due_day_counts(today: dt.date, weeks: int) -> QuerySet[Any]:
    end = today + dt.timedelta(days=7 * weeks - 1)
    return (
        models.Reassessment.objects.filter(
            ON_PATHWAY, reassessed_on__isnull=True, due_on__gte=today, due_on__lte=end
        )
        .order_by()
        .values_list("due_on")
        .annotate(n=Count("id"))
    )


def _due_weeks(
    due_days: list[tuple[dt.date, int]], today: dt.date, weeks: int
) -> list[tuple[dt.date, int]]:
    buckets = [0] * weeks
    for day, n in due_days:
        buckets[(day - today).days // 7] += n
    return [(today + dt.timedelta(days=7 * k), buckets[k]) for k in range(weeks)]


def reassessments_due_by_week(
    *, today: dt.date, weeks: int = CHART_WEEKS
) -> list[tuple[dt.date, int]]:
    """(first day of the week, number due) for ``weeks`` weeks starting today: one query.

    Week k holds reassessments due from today + 7k to today + 7k + 6. Overdue ones are not here:
    they have their own worklist.
    """
    return _due_weeks(list(_due_day_counts(today, weeks)), today, weeks)


def chart_counts(
    *, today: dt.date, weeks: int = CHART_WEEKS
) -> tuple[list[tuple[str, str, int]], list[tuple[dt.date, int]]]:
    """Both charts' numbers (``cohort_by_stage`` and ``reassessments_due_by_week``) in one
    query, for a dashboard that must draw both afresh (its query budget is 12)."""
    stages = (
        models.Case.objects.order_by()
        .values("stage")
        .annotate(chart_day=Value(None, output_field=DateField()), n=Count("id"))
        .values_list("stage", "chart_day", "n")
    )
    end = today + dt.timedelta(days=7 * weeks - 1)
    days = (
        models.Reassessment.objects.filter(
            ON_PATHWAY, reassessed_on__isnull=True, due_on__gte=today, due_on__lte=end
        )
        .order_by()
        .values("due_on")
        .annotate(chart_stage=Value(None, output_field=CharField()), n=Count("id"))
        .values_list("chart_stage", "due_on", "n")
    )
    counts: dict[str, int] = {}
    due_days: list[tuple[dt.date, int]] = []
    for stage, day, n in stages.union(days, all=True).order_by():
        if day is None:
            counts[stage] = n
        else:
            due_days.append((day, n))
    return _cohort(counts), _due_weeks(due_days, today, weeks)


# --- The dashboard's capped panels: counts and first rows together ---------------------------


def _count_of(rows: QuerySet[Any]) -> Coalesce:
    """The number of rows, as a scalar subquery: PostgreSQL runs it once for the whole query."""
    counted = rows.order_by().values(wl_one=Value(1)).annotate(n=Count("*")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def _shape(rows: QuerySet[Any]) -> tuple[Any, ...]:
    """Querysets with the same shape select the same columns, so UNION ALL can join them."""
    return (rows.model, tuple(rows.query.annotations), repr(rows.query.select_related))


def _in_order(rows: list[Any], ordering: tuple[str, ...]) -> list[Any]:
    """Rows in ``ordering`` (ascending fields, NULLs last as in PostgreSQL): UNION ALL promises
    no order across its parts, so each part's rows are put back in its own order."""
    if any(name.startswith("-") for name in ordering):
        raise ValueError("capped_queries sorts ascending orderings only")
    return sorted(
        rows,
        key=lambda row: [(getattr(row, name) is None, getattr(row, name)) for name in ordering],
    )


@dataclass(frozen=True)
class CappedQueries:
    """``capped_queries``' queries, built and ready to run: one per shape of worklist, and the
    order of each worklist (to put its rows back in after UNION ALL). ``run`` gives each
    worklist's (count, first rows); a list with no rows counts 0."""

    combined: tuple[QuerySet[Any], ...]
    orderings: dict[str, tuple[str, ...]]

    def run(self) -> dict[str, tuple[int, list[Any]]]:
        found: dict[str, tuple[int, list[Any]]] = {slug: (0, []) for slug in self.orderings}
        for combined in self.combined:
            # .all(): a copy, so a kept query never holds (or serves) rows of its own.
            for row in combined.all():
                found[row.wl_slug] = (row.wl_total, [*found[row.wl_slug][1], row])
        return {
            slug: (count, _in_order(rows, self.orderings[slug]))
            for slug, (count, rows) in found.items()
        }


def capped_queries(worklists: dict[str, QuerySet[Any]], *, limit: int) -> CappedQueries:
    """The count and first ``limit`` rows of each worklist, in one query per shape of worklist.

    Each worklist becomes ``SELECT …, (SELECT count(*) …) … ORDER BY … LIMIT n`` (the count is
    a subquery PostgreSQL runs once, and the rows stop at the limit), and worklists of the same
    model and columns (the three reassessment lists) are joined with UNION ALL.
    """
    groups: dict[tuple[Any, ...], list[QuerySet[Any]]] = {}
    for slug, rows in worklists.items():
        part = rows.annotate(wl_slug=Value(slug), wl_total=_count_of(rows))[:limit]
        groups.setdefault(_shape(rows), []).append(part)
    combined = tuple(
        parts[0].union(*parts[1:], all=True).order_by() if len(parts) > 1 else parts[0]
        for parts in groups.values()
    )
    orderings = {slug: tuple(rows.query.order_by) for slug, rows in worklists.items()}
    return CappedQueries(combined, orderings)


def dashboard_first_rows(
    specs: tuple[WorklistSpec, ...], *, today: dt.date, limit: int
) -> dict[str, tuple[int, list[Any]]]:
    """``capped_queries`` of these worklists (none needing a meeting), run, and built once a
    day: building them takes about a quarter as long as running them."""
    slugs = tuple(spec.slug for spec in specs)
    constants = (rule_constants(), workflow_constants(), bank_holidays())
    return _daily_capped_queries(slugs, today, constants, limit).run()


@functools.lru_cache(maxsize=16)
def _daily_capped_queries(
    slugs: tuple[str, ...],
    today: dt.date,
    constants: tuple[RuleConstants, WorkflowConstants, frozenset[dt.date]],
    limit: int,
) -> CappedQueries:
    """Kept per argument: the queries are a function of the day and of the constants the
    builders read (``constants`` is here only so that a change of settings is a new key)."""
    worklists = {slug: WORKLISTS_BY_SLUG[slug].build(today=today) for slug in slugs}
    return capped_queries(worklists, limit=limit)


def meeting_first_rows(
    meeting: models.Meeting, *, today: dt.date, limit: int
) -> dict[str, tuple[int, list[models.Case]]]:
    """(count, first rows) of "ready" and "incomplete" for the meeting, in two queries.

    Both lists are the meeting's candidates split by the minimum dataset. The first query
    computes each candidate's dataset once and returns only (id, missing mask, next due date),
    in ``meeting_candidates``' order (its SQL is built once per meeting and day:
    ``_candidate_masks_sql``); the lists are split, counted and cut here; the second
    query loads the few cases on show. (One query that splits with window functions is slower:
    PostgreSQL would compute the dataset subqueries twice per candidate.)
    """
    sql, params = _candidate_masks_sql(**_candidate_args(meeting, today=today))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        candidates: list[tuple[int, int, dt.date | None]] = cursor.fetchall()
    ready = [row for row in candidates if row[1] == 0]
    incomplete = [row for row in candidates if row[1] != 0]
    shown = [*ready[:limit], *incomplete[:limit]]
    cases = models.Case.objects.select_related("patient", "responsible_clinician").in_bulk(
        [pk for pk, _mask, _due in shown]
    )
    for pk, mask, due in shown:
        cases[pk].missing_mask, cases[pk].next_due = mask, due
    return {
        "meeting-ready": (len(ready), [cases[row[0]] for row in ready[:limit]]),
        "meeting-incomplete": (len(incomplete), [cases[row[0]] for row in incomplete[:limit]]),
    }
