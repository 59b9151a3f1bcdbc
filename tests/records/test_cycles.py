"""Treatment lines, cycles and toxicities: the constraints PostgreSQL holds, the cycle writing
its doses (so the engine's last bevacizumab dose comes from the cycles), and CTCAE grades."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from cases import models
from cases.records import services as records
from cases.records.mapping import case_inputs
from cases.records.selectors import case_clinical_record
from tests.records.test_models_constraints import refused as db_refuses

D = dt.date
TODAY = D(2026, 3, 10)
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]

FOLFOXIRI_BEV = ["fluorouracil", "oxaliplatin", "irinotecan", "bevacizumab"]


@pytest.fixture
def user(users):
    return users["clinician"]


@pytest.fixture
def course(user, case):
    return records.treatment_course_create(
        user=user,
        case_id=case.pk,
        intent="conversion",
        backbone="folfoxiri",
        agents=FOLFOXIRI_BEV,
        started_on=D(2026, 1, 12),
        planned_cycles=12,
    )


def _messages(call, **kwargs) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as info:
        call(**kwargs)
    return {k: [str(m) for e in v for m in e] for k, v in info.value.error_dict.items()}


def test_postgresql_refuses_bad_lines_cycles_and_toxicities(course):
    rows = models.TreatmentCourse.objects.filter(pk=course.pk)
    assert db_refuses(rows.update, line=0)
    assert db_refuses(rows.update, planned_cycles=0)
    assert db_refuses(rows.update, stop_cause="progression")  # no stop date
    assert db_refuses(rows.update, stop_cause="bored", stopped_on=D(2026, 3, 1))
    assert not db_refuses(rows.update, stop_cause="progression", stopped_on=D(2026, 3, 1))
    rows.update(stop_cause="", stopped_on=None)

    good = {"course": course, "number": 1, "given_on": D(2026, 1, 12), "agents": FOLFOXIRI_BEV}
    create = models.TreatmentCycle.objects.create
    assert db_refuses(create, **{**good, "number": 0})
    assert db_refuses(create, **{**good, "agents": []})
    assert db_refuses(create, **{**good, "agents": ["aspirin"]})
    assert db_refuses(create, **{**good, "dose_reduction_percent": 0})
    assert db_refuses(create, **{**good, "dose_reduction_percent": 100})
    assert db_refuses(create, **{**good, "delay_days": 0})
    assert db_refuses(create, **{**good, "delay_reason": "neutropenia"})
    assert not db_refuses(create, **{**good, "delay_days": 7, "delay_reason": "neutropenia"})
    assert db_refuses(create, **{**good, "given_on": D(2026, 1, 26)})  # cycle 1 twice
    cycle = models.TreatmentCycle.objects.get()

    tox = {"course": course, "cycle": cycle, "term": "diarrhea", "grade": 3, "noted_on": TODAY}
    create = models.Toxicity.objects.create
    assert db_refuses(create, **{**tox, "grade": 0})
    assert db_refuses(create, **{**tox, "grade": 6})
    assert db_refuses(create, **{**tox, "term": "nausea", "grade": 4})  # nausea is 1–3
    assert db_refuses(create, **{**tox, "term": "alopecia", "grade": 3})  # alopecia is 1–2
    assert db_refuses(create, **{**tox, "term": "febrile_neutropenia", "grade": 2})  # 3–5
    assert db_refuses(create, **{**tox, "term": "hiccups"})
    assert db_refuses(create, **{**tox, "term": "other"})  # an "other" is named in the note
    assert not db_refuses(create, **{**tox, "term": "diarrhea", "grade": 5})
    assert not db_refuses(create, **{**tox, "term": "febrile_neutropenia", "grade": 3})


def test_a_cycle_writes_its_doses_and_the_engine_reads_the_last_bevacizumab_from_them(
    user, case, course
):
    records.cycle_create(
        user=user, course_id=course.pk, number=1, given_on=D(2026, 1, 12), agents=FOLFOXIRI_BEV
    )
    second = records.cycle_create(
        user=user,
        course_id=course.pk,
        number=2,
        given_on=D(2026, 1, 26),
        agents=FOLFOXIRI_BEV,
        dose_reduction_percent=20,
    )
    # Bevacizumab left out of cycle 3 (before surgery): the last dose stays cycle 2's.
    records.cycle_create(
        user=user,
        course_id=course.pk,
        number=3,
        given_on=D(2026, 2, 16),
        agents=["fluorouracil", "oxaliplatin", "irinotecan"],
        delay_days=7,
        delay_reason="Neutropenia",
    )
    doses = models.AgentAdministration.objects.filter(course=course)
    assert doses.count() == 4 + 4 + 3
    assert set(doses.filter(cycle=second).values_list("agent", flat=True)) == set(FOLFOXIRI_BEV)
    inputs = case_inputs(case_clinical_record(case_id=case.pk), today=TODAY)
    assert inputs["last_bevacizumab_dose_date"] == "2026-01-26"

    # Correcting cycle 2's date moves its doses with it.
    records.cycle_update(
        user=user,
        cycle_id=second.pk,
        expected_version=second.version,
        number=2,
        given_on=D(2026, 1, 28),
        agents=FOLFOXIRI_BEV,
        dose_reduction_percent=20,
    )
    inputs = case_inputs(case_clinical_record(case_id=case.pk), today=TODAY)
    assert inputs["last_bevacizumab_dose_date"] == "2026-01-28"
    assert not doses.filter(given_on=D(2026, 1, 26)).exists()


def test_a_cycle_is_checked_against_its_course(user, course):
    got = _messages(
        records.cycle_create,
        user=user,
        course_id=course.pk,
        number=1,
        given_on=D(2026, 1, 5),
        agents=["cetuximab"],
        dose_reduction_percent=100,
    )
    assert got["given_on"] == ["The course started on 12 Jan 2026, after this cycle."]
    assert got["agents"] == ["Cetuximab is not part of this course: add it to the course first."]
    assert got["dose_reduction_percent"] == ["A dose reduction is from 1 to 99 %."]
    got = _messages(
        records.cycle_create,
        user=user,
        course_id=course.pk,
        number=1,
        given_on=TODAY + dt.timedelta(days=1),
        agents=FOLFOXIRI_BEV,
    )
    assert got == {"given_on": ["Day 1 cannot be in the future (today is 10 Mar 2026)."]}


def test_a_toxicity_grade_must_exist_in_ctcae(user, course):
    got = _messages(
        records.toxicity_create,
        user=user,
        course_id=course.pk,
        term="nausea",
        grade=4,
        noted_on=D(2026, 2, 1),
    )
    assert got == {"grade": ["Nausea is graded 1 to 3 in CTCAE v5.0."]}
    tox = records.toxicity_create(
        user=user,
        course_id=course.pk,
        term="peripheral_sensory_neuropathy",
        grade=2,
        noted_on=D(2026, 2, 1),
    )
    assert str(tox) == "Peripheral sensory neuropathy grade 2"


def test_a_new_course_is_the_next_line(user, case, course):
    records.treatment_course_update(
        user=user,
        course_id=course.pk,
        expected_version=course.version,
        intent="conversion",
        backbone="folfoxiri",
        agents=FOLFOXIRI_BEV,
        started_on=D(2026, 1, 12),
        stopped_on=D(2026, 2, 20),
        stop_cause="progression",
        planned_cycles=12,
    )
    second = records.treatment_course_create(
        user=user,
        case_id=case.pk,
        intent="palliative",
        backbone="folfiri",
        agents=["fluorouracil", "irinotecan"],
        started_on=D(2026, 3, 2),
    )
    assert (models.TreatmentCourse.objects.get(pk=course.pk).line, second.line) == (1, 2)


def test_the_last_bevacizumab_dose_is_read_from_the_cycles_where_they_exist(case, course):
    """A cycle is the record of what was given, even when written without the cycle service
    (an import, the admin): the engine reads its date."""
    models.TreatmentCycle.objects.create(
        course=course, number=1, given_on=D(2026, 2, 2), agents=FOLFOXIRI_BEV
    )
    models.TreatmentCycle.objects.create(
        course=course, number=2, given_on=D(2026, 2, 16), agents=["fluorouracil"]
    )
    # A dose on its own, outside any cycle, still counts.
    models.AgentAdministration.objects.create(
        course=course, agent="bevacizumab", given_on=D(2026, 1, 19)
    )
    inputs = case_inputs(case_clinical_record(case_id=case.pk), today=TODAY)
    assert inputs["last_bevacizumab_dose_date"] == "2026-02-02"


def test_the_planned_last_bevacizumab_dose_is_checked_and_counted_while_the_course_runs(
    user, case, course
):
    plan = {
        "user": user,
        "course_id": course.pk,
        "expected_version": course.version,
        "intent": "conversion",
        "backbone": "folfoxiri",
        "agents": FOLFOXIRI_BEV,
        "started_on": D(2026, 1, 12),
        "planned_cycles": 12,
    }
    update = records.treatment_course_update
    no_bev = {**plan, "backbone": "", "agents": ["fluorouracil", "oxaliplatin"]}
    refused = _messages(update, **no_bev, bevacizumab_last_planned_on=D(2026, 4, 1))
    assert refused["bevacizumab_last_planned_on"] == [
        "A planned last bevacizumab dose needs bevacizumab among the agents."
    ]
    refused = _messages(update, **plan, bevacizumab_last_planned_on=D(2026, 1, 1))
    assert "before the course began" in refused["bevacizumab_last_planned_on"][0]
    stopped = {**plan, "stopped_on": D(2026, 3, 1), "stop_cause": "progression"}
    refused = _messages(update, **stopped, bevacizumab_last_planned_on=D(2026, 3, 20))
    assert "stopped on" in refused["bevacizumab_last_planned_on"][0]
    # A plan may be in the future (it is a plan); the interval counts from it.
    update(**plan, bevacizumab_last_planned_on=D(2026, 4, 1))
    inputs = case_inputs(case_clinical_record(case_id=case.pk), today=TODAY)
    assert inputs["last_bevacizumab_dose_date"] == "2026-04-01"
