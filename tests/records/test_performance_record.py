"""The one-query clinical record (cases/records/selectors.py) loads exactly what
prefetch_related loads: every row, every field, every Python type, in the same order, and nothing
queries afterwards."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import Prefetch

from cases import models
from cases.meetings import services as svc
from cases.records.selectors import case_clinical_record, case_page_record
from tests.conftest import make_user
from tests.meeting_factory import (
    attend_all,
    list_case,
    make_conversion_case,
    make_core_members,
    make_meeting,
)

pytestmark = pytest.mark.django_db


def _rich_case() -> models.Case:
    """A conversion case with a decimal, an array, JSON answers, two meetings and an action."""
    chair = make_user("chair")
    case = make_conversion_case()
    models.Reassessment.objects.filter(case=case, cycle=1).update(
        flr_percent_slv=Decimal("33.3"), flr_segments_remaining=4
    )
    course = case.treatment_courses.get()
    models.AgentAdministration.objects.bulk_create(
        models.AgentAdministration(course=course, agent=agent, given_on=dt.date(2026, 1, day))
        for day in (5, 19)
        for agent in ("oxaliplatin", "bevacizumab")
    )
    models.TreatmentCourse.objects.create(
        case=case, backbone="folfiri", agents=["irinotecan"], started_on=dt.date(2025, 6, 1),
        stopped_on=dt.date(2025, 8, 1), stop_reason="toxicity",
    )  # fmt: skip
    models.Radiotherapy.objects.create(
        case=case, kind="short_course_5x5", started_on=dt.date(2025, 9, 1),
        completed_on=dt.date(2025, 9, 5),
    )  # fmt: skip
    models.Surgery.objects.create(
        case=case, kind="primary_resection", planned_on=dt.date(2026, 5, 1)
    )
    earlier = make_meeting(chair, day=dt.date(2026, 1, 13))
    list_case(earlier, case, by=chair)
    meeting = make_meeting(chair)
    attend_all(meeting, make_core_members())
    item = list_case(meeting, case, by=chair, late_reason="urgent")
    svc.decision_record(
        user=chair, agenda_item_id=item.pk, point="data_completeness", answer={"choice": "proceed"}
    )
    models.Action.objects.create(
        case=case, agenda_item=item, description="Book MRI", owner=chair,
        due_on=dt.date(2026, 3, 24),
    )  # fmt: skip
    return case


def _classic(case_id: int) -> models.Case:
    """The record as prefetch_related loaded it before."""
    return (
        models.Case.objects.select_related("patient", "responsible_clinician", "coordinator")
        .prefetch_related(
            "molecular_results",
            "reassessments",
            "treatment_courses__administrations",
            "radiotherapy",
            "surgeries",
            Prefetch(
                "agenda_items",
                queryset=models.AgendaItem.objects.select_related("meeting").prefetch_related(
                    Prefetch("decisions", models.Decision.objects.select_related("recorded_by"))
                ),
            ),
            Prefetch("actions", models.Action.objects.select_related("owner")),
        )
        .get(pk=case_id)
    )


def _fields(obj) -> list[tuple[str, type, object]]:
    return [
        (f.attname, type(getattr(obj, f.attname)), getattr(obj, f.attname))
        for f in obj._meta.concrete_fields
    ]


def _same(left, right) -> None:
    assert [o.pk for o in left] == [o.pk for o in right]
    for a, b in zip(left, right, strict=True):
        assert _fields(a) == _fields(b), type(a).__name__


def test_it_loads_the_same_record_as_prefetch_related_in_one_query(
    django_assert_num_queries,
):
    case = _rich_case()
    classic = _classic(case.pk)
    with django_assert_num_queries(1):
        record = case_page_record(case_id=case.pk)
    with django_assert_num_queries(0):
        assert _fields(record) == _fields(classic)
        assert _fields(record.patient) == _fields(classic.patient)
        for name in ("molecular_results", "reassessments", "radiotherapy", "surgeries", "actions"):
            _same(list(getattr(record, name).all()), list(getattr(classic, name).all()))
        _same(list(record.treatment_courses.all()), list(classic.treatment_courses.all()))
        for mine, theirs in zip(
            record.treatment_courses.all(), classic.treatment_courses.all(), strict=True
        ):
            _same(list(mine.administrations.all()), list(theirs.administrations.all()))
            assert all(dose.course is mine for dose in mine.administrations.all())
        _same(list(record.agenda_items.all()), list(classic.agenda_items.all()))
        for mine, theirs in zip(record.agenda_items.all(), classic.agenda_items.all(), strict=True):
            assert _fields(mine.meeting) == _fields(theirs.meeting)
            _same(list(mine.decisions.all()), list(theirs.decisions.all()))
            for decision in mine.decisions.all():
                assert decision.recorded_by.get_full_name()
        assert all(action.owner.pk for action in record.actions.all())
        assert all(result.case is record for result in record.molecular_results.all())
    flr = [r.flr_percent_slv for r in record.reassessments.all() if r.flr_percent_slv]
    assert flr == [Decimal("33.3")]
    assert str(flr[0]) == "33.3"  # shown exactly as entered, not 33.30 or 33.29999


def test_the_engine_record_is_one_query_and_an_unknown_case_raises(django_assert_num_queries):
    case = _rich_case()
    with django_assert_num_queries(1):
        record = case_clinical_record(case_id=case.pk)
    with django_assert_num_queries(0):
        assert len(record.molecular_results.all()) == 5
        assert [r.cycle for r in record.reassessments.all()] == [1, 2]
    with pytest.raises(models.Case.DoesNotExist):
        case_clinical_record(case_id=999999)


def test_a_loaded_record_still_saves_like_any_model_instance():
    case = _rich_case()
    record = case_clinical_record(case_id=case.pk)
    cycle = record.reassessments.all()[1]
    assert not cycle._state.adding
    cycle.imaging_booked_for = dt.date(2026, 3, 12)
    cycle.save(update_fields=["imaging_booked_for"])
    assert models.Reassessment.objects.get(pk=cycle.pk).imaging_booked_for == dt.date(2026, 3, 12)
