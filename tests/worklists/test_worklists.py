"""The coordinator's worklists: each rule at its boundaries, with the clock frozen."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import F
from django.utils import timezone

from cases import models
from cases.pathway import add_months
from cases.worklists import queries as worklists
from tests.conftest import make_case, make_user

D = dt.date
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]

TODAY = D(2026, 3, 10)


def today() -> dt.date:
    return timezone.localdate()


def ids(queryset) -> set[int]:
    return {row.pk for row in queryset}


def open_cycle(case, due_on, **fields) -> models.Reassessment:
    cycle = models.Reassessment.objects.filter(case=case).count() + 1
    return models.Reassessment.objects.create(case=case, cycle=cycle, due_on=due_on, **fields)


# --- Reassessments due and overdue -----------------------------------------------------------


@pytest.mark.parametrize(
    ("days_ahead", "due", "overdue"),
    [(-1, False, True), (0, True, False), (13, True, False), (14, True, False),
     (15, False, False)],
)  # fmt: skip
def test_reassessments_due_in_the_next_14_days_inclusive(days_ahead, due, overdue):
    row = open_cycle(make_case(), today() + dt.timedelta(days=days_ahead))
    assert (row.pk in ids(worklists.reassessments_due(today=today()))) is due
    assert (row.pk in ids(worklists.reassessments_overdue(today=today()))) is overdue


def test_a_reassessed_cycle_is_neither_due_nor_overdue():
    case = make_case()
    open_cycle(case, today() - dt.timedelta(days=3), imaging_performed_on=today(),
               modality="ct", reassessed_on=today())  # fmt: skip
    assert not ids(worklists.reassessments_overdue(today=today()))
    assert not ids(worklists.reassessments_due(today=today()))


def test_a_case_that_left_the_pathway_drops_off_every_list():
    case = make_case(stage=models.Stage.LEFT_PATHWAY, exit_reason=models.ExitReason.PALLIATIVE)
    open_cycle(case, today() - dt.timedelta(days=3))
    models.MolecularResult.objects.create(
        case=case, marker="kras", status="pending", requested_on=today() - dt.timedelta(days=30)
    )
    assert not ids(worklists.reassessments_overdue(today=today()))
    assert not ids(worklists.reimaging_unbooked(today=today()))
    assert not ids(worklists.results_pending(today=today()))


@pytest.mark.parametrize(
    ("days_ahead", "booked", "listed"),
    [(-5, False, True), (14, False, True), (15, False, False), (3, True, False)],
)
def test_reimaging_not_booked_for_a_due_or_overdue_reassessment(days_ahead, booked, listed):
    due = today() + dt.timedelta(days=days_ahead)
    row = open_cycle(make_case(), due, imaging_booked_for=due if booked else None)
    assert (row.pk in ids(worklists.reimaging_unbooked(today=today()))) is listed


def test_a_scan_already_done_is_not_unbooked():
    row = open_cycle(make_case(), today(), imaging_performed_on=today(), modality="ct")
    assert row.pk not in ids(worklists.reimaging_unbooked(today=today()))


# --- Molecular results -----------------------------------------------------------------------


@pytest.mark.parametrize(("days_ago", "listed"), [(13, False), (14, False), (15, True)])
def test_results_pending_more_than_14_days(days_ago, listed):
    result = models.MolecularResult.objects.create(
        case=make_case(), marker="kras", status="pending",
        requested_on=today() - dt.timedelta(days=days_ago),
    )  # fmt: skip
    assert (result.pk in ids(worklists.results_pending(today=today()))) is listed


def test_a_reported_result_is_not_pending():
    models.MolecularResult.objects.create(
        case=make_case(), marker="kras", status="mutant",
        requested_on=today() - dt.timedelta(days=40), reported_on=today(),
    )  # fmt: skip
    assert not ids(worklists.results_pending(today=today()))


# --- Bevacizumab interval --------------------------------------------------------------------


def bev_case(last_dose: dt.date, planned: dt.date, **surgery) -> models.Surgery:
    case = make_case()
    course = models.TreatmentCourse.objects.create(
        case=case, backbone="folfox", agents=["fluorouracil", "oxaliplatin", "bevacizumab"],
        started_on=last_dose - dt.timedelta(days=60),
    )  # fmt: skip
    for day in (last_dose - dt.timedelta(days=14), last_dose):
        models.AgentAdministration.objects.create(course=course, agent="bevacizumab", given_on=day)
    models.AgentAdministration.objects.create(course=course, agent="oxaliplatin", given_on=last_dose
                                         + dt.timedelta(days=14))  # fmt: skip
    return models.Surgery.objects.create(
        case=case, kind=surgery.pop("kind", "one_stage_hepatectomy"), planned_on=planned, **surgery
    )


@pytest.mark.parametrize(("gap", "listed"), [(40, True), (41, True), (42, False), (43, False)])
def test_elective_surgery_within_42_days_of_bevacizumab_is_a_hard_stop(gap, listed):
    last = today() - dt.timedelta(days=5)
    surgery = bev_case(last, last + dt.timedelta(days=gap))
    rows = {row.pk: row for row in worklists.bevacizumab_interval(today=today())}
    assert (surgery.pk in rows) is listed
    if listed:
        # The earliest safe date is day 42 after the last dose (not after another agent's dose).
        assert rows[surgery.pk].last_bev == last
        assert rows[surgery.pk].earliest_safe == last + dt.timedelta(days=42)


def test_emergency_cancelled_and_performed_operations_are_not_on_the_bevacizumab_list():
    last = today() - dt.timedelta(days=5)
    bev_case(last, last + dt.timedelta(days=10), urgency="emergency")
    bev_case(last, last + dt.timedelta(days=10), cancelled_on=today(), cancel_reason="Declined")
    bev_case(last - dt.timedelta(days=20), last, performed_on=last)
    assert not ids(worklists.bevacizumab_interval(today=today()))


def test_planned_surgery_without_bevacizumab_is_not_on_the_list():
    models.Surgery.objects.create(case=make_case(), kind="primary_resection", planned_on=today())
    assert not ids(worklists.bevacizumab_interval(today=today()))


def dashboard_ids(slug: str, day: dt.date) -> set[int]:
    """The rows the dashboard panel shows, through its queries built once a day."""
    _count, rows = worklists.dashboard_first_rows(
        (worklists.WORKLISTS_BY_SLUG[slug],), today=day, limit=8
    )[slug]
    return {row.pk for row in rows}


def test_the_dashboard_builds_its_queries_again_when_the_rule_constant_changes(settings):
    """The dashboard's queries are kept once built: a unit that sets a longer bevacizumab
    interval must see it on the dashboard at once, not the next day."""
    last = today() - dt.timedelta(days=5)
    surgery = bev_case(last, last + dt.timedelta(days=50))
    assert surgery.pk not in dashboard_ids("bevacizumab-interval", today())
    settings.PATHWAY_BEV_MIN_DAYS = 56
    assert surgery.pk in dashboard_ids("bevacizumab-interval", today())


def test_the_dashboard_queries_of_one_day_are_not_used_the_next():
    cycle = open_cycle(make_case(), TODAY + dt.timedelta(days=1))
    assert cycle.pk not in dashboard_ids("reassessments-overdue", TODAY)
    assert cycle.pk in dashboard_ids("reassessments-overdue", TODAY + dt.timedelta(days=2))
    assert cycle.pk not in dashboard_ids("reassessments-overdue", TODAY)


def test_kept_dashboard_queries_run_the_same_sql_every_time():
    """Running a query must not change it (Django compiles a copy each time): the dashboard
    keeps its queries for a day, so a change here would alter every later dashboard."""
    specs = tuple(spec for spec in worklists.WORKLISTS if not spec.needs_meeting)
    kept = worklists._daily_capped_queries(
        tuple(spec.slug for spec in specs), TODAY, worklists.rule_constants(), 8
    )
    before = [query.all().query.sql_with_params() for query in kept.combined]
    for _ in range(2):
        worklists.dashboard_first_rows(specs, today=TODAY, limit=8)
    assert [query.all().query.sql_with_params() for query in kept.combined] == before
    assert len(before) == 4  # surgery, reassessment, result and action lists


# --- SCRT window -----------------------------------------------------------------------------


def scrt_case(completed: dt.date, planned: dt.date, kind="primary_resection") -> models.Surgery:
    case = make_case(diagnosed_on=completed - dt.timedelta(days=60))
    models.Radiotherapy.objects.create(
        case=case, kind="short_course_5x5", started_on=completed - dt.timedelta(days=4),
        completed_on=completed,
    )  # fmt: skip
    return models.Surgery.objects.create(case=case, kind=kind, planned_on=planned)


@pytest.mark.parametrize(
    ("completed", "planned", "listed"),
    [
        (D(2026, 1, 15), D(2026, 7, 15), False),  # the 6-month date itself is allowed (D4)
        (D(2026, 1, 15), D(2026, 7, 16), True),
        # Month-end clamp: 31 Aug + 6 months = 28 Feb (not 3 March), as add_months says.
        (D(2025, 8, 31), D(2026, 2, 28), False),
        (D(2025, 8, 31), D(2026, 3, 1), True),
    ],
)
def test_surgery_on_the_primary_beyond_6_months_after_scrt(completed, planned, listed):
    surgery = scrt_case(completed, planned)
    rows = {row.pk: row for row in worklists.scrt_window(today=today())}
    assert (surgery.pk in rows) is listed
    if listed:
        assert rows[surgery.pk].latest_surgery == add_months(completed, 6)


def test_the_scrt_window_only_concerns_surgery_on_the_primary():
    scrt_case(D(2025, 6, 1), D(2026, 3, 20), kind="one_stage_hepatectomy")
    assert not ids(worklists.scrt_window(today=today()))


def test_sql_month_arithmetic_matches_the_engine_at_every_month_end():
    # The last four days of every month of a common and a leap year.
    month_ends = [add_months(D(year, month, 1), 1) - dt.timedelta(days=1)
                  for year in (2023, 2024) for month in range(1, 13)]  # fmt: skip
    days = [end - dt.timedelta(days=k) for end in month_ends for k in range(4)]
    case = make_case(diagnosed_on=D(2023, 1, 1))
    models.Reassessment.objects.bulk_create(
        models.Reassessment(case=case, cycle=i + 1, due_on=day) for i, day in enumerate(days)
    )
    rows = models.Reassessment.objects.filter(case=case).annotate(
        plus6=worklists.AddMonths(F("due_on"), 6)
    )
    assert {r.due_on: r.plus6 for r in rows} == {d: add_months(d, 6) for d in days}


# --- MDT actions -----------------------------------------------------------------------------


@pytest.fixture
def owner():
    return make_user("clinician")


@pytest.mark.parametrize(("due_in", "listed"), [(-1, True), (0, False), (3, False)])
def test_open_actions_are_listed_once_past_their_due_date(owner, due_in, listed):
    action = models.Action.objects.create(
        case=make_case(), description="Book MRI", owner=owner,
        due_on=today() + dt.timedelta(days=due_in),
    )  # fmt: skip
    assert (action.pk in ids(worklists.actions_attention(today=today()))) is listed


def test_a_not_done_action_stays_listed_with_its_reason_until_the_mdt_discusses_it(owner):
    case = make_case()
    action = models.Action.objects.create(
        case=case, description="Book MRI", owner=owner, due_on=today() + dt.timedelta(days=5),
        status="not_done", not_done_reason="Scanner broken", completed_at=timezone.now(),
    )  # fmt: skip
    [row] = worklists.actions_attention(today=today())
    assert (row.pk, row.not_done_reason) == (action.pk, "Scanner broken")
    chair = make_user("chair")
    later = models.Meeting.objects.create(
        scheduled_for=timezone.now() + dt.timedelta(days=1), chair=chair
    )
    item = models.AgendaItem.objects.create(meeting=later, case=case, position=1, listed_by=chair)
    assert ids(worklists.actions_attention(today=today())) == {
        action.pk
    }  # listed, not yet discussed
    item.status = models.AgendaStatus.DISCUSSED
    item.save()
    assert not ids(worklists.actions_attention(today=today()))


def test_done_actions_are_not_listed(owner):
    models.Action.objects.create(
        case=make_case(), description="Book MRI", owner=owner,
        due_on=today() - dt.timedelta(days=5), status="done", completed_at=timezone.now(),
    )  # fmt: skip
    assert not ids(worklists.actions_attention(today=today()))
