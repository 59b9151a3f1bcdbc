"""Reads: each selector runs a fixed number of queries whatever the size of the database.

A case's clinical record is read in ONE query: the case row carries each of its child tables as
a JSON array (``ARRAY(SELECT jsonb_build_object(...) ...)``), turned back into model instances
and put where ``prefetch_related`` would have put them, so ``case.reassessments.all()`` and the
rest run no query. That replaced nine queries per record (one per related table) on every
screen that shows a case; ``tests/records/test_performance_record.py`` proves the instances are
equal, field by field and type by type, to what ``prefetch_related`` loads.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from django.contrib.postgres.expressions import ArraySubquery
from django.db import models
from django.db.models import OuterRef, Q, QuerySet, Subquery

from cases.common import data_version
from cases.common.json_rows import by_parent, instances, json_rows, prefill
from cases.models import (
    Action,
    AgendaItem,
    AgentAdministration,
    Case,
    Decision,
    Histology,
    ImagingStudy,
    LabResult,
    Lesion,
    LesionMeasurement,
    Meeting,
    MolecularResult,
    Patient,
    PelvicMri,
    Radiotherapy,
    Reassessment,
    Referral,
    Surgery,
    TnmStaging,
    Toxicity,
    TreatmentCourse,
    TreatmentCycle,
    User,
)

# The case's own child tables, as (accessor, model).
_CASE_CHILDREN: tuple[tuple[str, type[models.Model]], ...] = (
    ("molecular_results", MolecularResult),
    ("reassessments", Reassessment),
    ("treatment_courses", TreatmentCourse),
    ("radiotherapy", Radiotherapy),
    ("surgeries", Surgery),
    ("agenda_items", AgendaItem),
    # Staging, pathology and the referral (cases/models/staging.py).
    ("tnm_stagings", TnmStaging),
    ("pelvic_mris", PelvicMri),
    ("histologies", Histology),
    ("referrals", Referral),
)
# What only the screens that show the whole record draw: neither the rules (the engine, the
# minimum dataset) nor the decision walk read them.
_DISPLAY_ONLY = {"tnm_stagings", "pelvic_mris", "histologies", "referrals", "toxicities"}

# The children of each treatment course, as (accessor, model): grouped by course.
_COURSE_CHILDREN: tuple[tuple[str, type[models.Model]], ...] = (
    ("cycles", TreatmentCycle),
    ("toxicities", Toxicity),
)


def record_arrays(
    case: Any, *, with_meetings: bool = True, with_display: bool = True
) -> dict[str, ArraySubquery]:
    """The JSON arrays of the clinical record of the case ``case`` points at (an OuterRef),
    to annotate onto any query that has the case in its row (see ``attach_record``).

    ``with_meetings=False`` leaves out the case's agenda items and their meetings, which only
    the timeline and the case's history show (not the engine): ``case.agenda_items`` is then
    not prefilled, and reading it would cost a query. ``with_display=False`` leaves out, as
    well, what only the case summary shows (staging, pathology, the referral, toxicities,
    scans and their lesions, laboratory results): the rules' record, which the decision walk
    reads on every answer.
    """
    arrays = {
        f"json_{name}": json_rows(model, case=case)
        for name, model in _CASE_CHILDREN
        if (with_meetings or name != "agenda_items") and (with_display or name not in _DISPLAY_ONLY)
    }
    # Grouped by course in ``attach_record``: within a course, the model's order without the
    # course's (which would join the course and the case).
    arrays["json_administrations"] = json_rows(
        AgentAdministration, order_by=["given_on", "agent"], course__case=case
    )
    for name, model in _COURSE_CHILDREN:
        if with_display or name not in _DISPLAY_ONLY:
            order = [t for t in model._meta.ordering if t != "course"]
            arrays[f"json_course_{name}"] = json_rows(model, order_by=order, course__case=case)
    if with_meetings:
        arrays["json_meetings"] = json_rows(Meeting, agenda_items__case=case)
    if with_display:
        arrays.update(imaging_arrays(case))
    return arrays


# --- Imaging (RECIST lesions and measurements) and laboratory results -------------------------


def imaging_arrays(case: Any) -> dict[str, ArraySubquery]:
    """The case's scans, their lesions and measurements, and its laboratory results."""
    return {
        "json_imaging_studies": json_rows(ImagingStudy, case=case),
        "json_lesions": json_rows(Lesion, order_by=["kind", "label"], baseline_study__case=case),
        "json_measurements": json_rows(
            LesionMeasurement, order_by=["study_id", "lesion_id"], study__case=case
        ),
        "json_lab_results": json_rows(LabResult, case=case),
    }


def attach_imaging(case: Case, source: Any) -> None:
    """Scans under ``case.imaging_studies``, each with its ``baseline_lesions`` and
    ``measurements``; results under ``case.lab_results``. No query."""
    studies = instances(ImagingStudy, source.json_imaging_studies)
    prefill(case, "imaging_studies", studies)
    lesions = by_parent(instances(Lesion, source.json_lesions), "baseline_study_id")
    measurements = by_parent(instances(LesionMeasurement, source.json_measurements), "study_id")
    for study in studies:
        prefill(study, "baseline_lesions", lesions[study.pk])
        prefill(study, "measurements", measurements[study.pk])
    prefill(case, "lab_results", instances(LabResult, source.json_lab_results))


IMAGING_READS = (ImagingStudy, Lesion, LesionMeasurement, LabResult)


def attach_record(case: Case, source: Any) -> Case:
    """Fill ``case``'s related managers from the arrays ``record_arrays`` put on ``source``
    (the case itself, or the row of another query that carried them). A table the arrays left
    out is not prefilled: reading it costs a query."""
    with_meetings = hasattr(source, "json_meetings")
    for name, model in _CASE_CHILDREN:
        if hasattr(source, f"json_{name}"):
            prefill(case, name, instances(model, getattr(source, f"json_{name}")))
    doses = by_parent(instances(AgentAdministration, source.json_administrations), "course_id")
    children = {
        name: by_parent(instances(model, getattr(source, f"json_course_{name}")), "course_id")
        for name, model in _COURSE_CHILDREN
        if hasattr(source, f"json_course_{name}")
    }
    for course in case.treatment_courses.all():
        prefill(course, "administrations", doses[course.pk])
        for name, grouped in children.items():
            prefill(course, name, grouped[course.pk])
    if hasattr(source, "json_imaging_studies"):
        attach_imaging(case, source)
    if with_meetings:
        meetings = {meeting.pk: meeting for meeting in instances(Meeting, source.json_meetings)}
        for item in case.agenda_items.all():
            item.meeting = meetings[item.meeting_id]
    for name in [name for name in vars(source) if name.startswith("json_")]:
        delattr(source, name)  # the JSON is in the instances now
    return case


def people_named(decisions: Any, actions: Any = None) -> ArraySubquery:
    """The users who recorded these decisions or own these actions (querysets), as JSON."""
    named = Q(pk__in=decisions.values("recorded_by"))
    if actions is not None:
        named |= Q(pk__in=actions.values("owner"))
    return json_rows(User, named)


def attach_people(decisions: list[Decision], actions: list[Action], people_json: Any) -> None:
    people = {user.pk: user for user in instances(User, people_json)}
    for decision in decisions:
        decision.recorded_by = people[decision.recorded_by_id]
    for action in actions:
        action.owner = people[action.owner_id]


@functools.lru_cache(maxsize=2)
def _record_query(*, with_history: bool) -> QuerySet[Case]:
    """The query ``_record`` runs, for any case (filter it by pk). Built once a process:
    assembling a dozen subqueries costs more than PostgreSQL takes to run them, and nothing in
    it depends on the request (an unevaluated queryset is only ever cloned by ``get``)."""
    arrays = record_arrays(OuterRef("pk"), with_meetings=with_history)
    if with_history:
        decisions = Decision.objects.filter(agenda_item__case=OuterRef(OuterRef("pk")))
        actions = Action.objects.filter(case=OuterRef(OuterRef("pk")))
        # Grouped by agenda item in ``_attach_history``: within an item, by time recorded.
        arrays["json_decisions"] = json_rows(
            Decision, order_by=["recorded_at"], agenda_item__case=OuterRef("pk")
        )
        arrays["json_actions"] = json_rows(Action, case=OuterRef("pk"))
        arrays["json_people"] = people_named(decisions, actions)
    # The clinician and the coordinator are named on the case page only: the engine, the
    # completeness check and the timeline need neither (each join costs planning time).
    people = ("responsible_clinician", "coordinator") if with_history else ()
    return Case.objects.select_related("patient", *people).annotate(**arrays)


def _record(case_id: int, *, with_history: bool) -> Case:
    return _attach(_record_query(with_history=with_history).get(pk=case_id), with_history)


def _attach(case: Case, with_history: bool) -> Case:
    history = [
        case.__dict__.pop(f"json_{name}", None) for name in ("decisions", "actions", "people")
    ]
    attach_record(case, case)
    if with_history:
        _attach_history(case, *history)
    return case


def _attach_history(case: Case, decisions_json: Any, actions_json: Any, people_json: Any) -> None:
    """Decisions under their agenda items, actions under the case, with the people named."""
    decisions = instances(Decision, decisions_json)
    actions = instances(Action, actions_json)
    attach_people(decisions, actions, people_json)
    by_item = by_parent(decisions, "agenda_item_id")
    for item in case.agenda_items.all():
        prefill(item, "decisions", by_item[item.pk])
    prefill(case, "actions", actions)


def case_clinical_record(*, case_id: int) -> Case:
    """A case with everything the engine and the completeness check need, in one query: its
    patient, not its clinician or coordinator; not its agenda items (the timeline's)."""
    return _record(case_id, with_history=False)


# The tables the clinical record is read from (its past meetings left out, as the engine and
# the decision walk read it).
RECORD_READS = (
    Case,
    Patient,
    MolecularResult,
    Reassessment,
    TreatmentCourse,
    AgentAdministration,
    Radiotherapy,
    Surgery,
    *IMAGING_READS,
    TnmStaging,
    PelvicMri,
    Histology,
    Referral,
    TreatmentCycle,
    Toxicity,
)


@dataclass(frozen=True)
class RecordAsRead:
    """A clinical record and the data versions read in the same statement (None inside a
    transaction, where they cannot vouch for it: cases/data_version.py)."""

    case: Case
    versions: dict[str, str] | None


def current_clinical_record(
    *, case_id: int, as_read: RecordAsRead | None, committed: dict[str, str] | None = None
) -> Case:
    """``as_read.case`` when no commit has touched the record's tables since it was read, else
    the record read afresh: one small query instead of the record's when nothing changed.

    ``committed``: the data versions as committed, when the caller has just read them (with
    its row lock); else they are read here.

    Inside a transaction, call it before the transaction writes to those tables: the versions
    show what other transactions committed, not this one's own writes.
    """
    if as_read is None or as_read.case.pk != case_id:
        return case_clinical_record(case_id=case_id)
    if committed is None:
        committed = data_version.committed()
    if data_version.unchanged(RECORD_READS, as_read.versions, committed):
        return as_read.case
    return case_clinical_record(case_id=case_id)


# --- Coordinator screens (dashboard work) ----------------------------------------------------


def case_page_record(*, case_id: int) -> Case:
    """The clinical record plus what the case page's timeline and history show: the case's
    agenda items and meetings, MDT decisions and actions.

    One query whatever the size of the record.
    """
    return _record(case_id, with_history=True)


def case_page_records(*, case_ids: list[int]) -> list[Case]:
    """``case_page_record`` for several cases in ONE query (in the order of ``case_ids``): a bulk
    export compiles the record's query once a batch instead of once a case."""
    found = {
        case.pk: _attach(case, True)
        for case in _record_query(with_history=True).filter(pk__in=case_ids)
    }
    return [found[case_id] for case_id in case_ids if case_id in found]


def case_search(
    *, query: str = "", stage: str = "", clinician_id: int | None = None
) -> QuerySet[Case]:
    """Cases matching a name (every word must match a given or family name), a hospital number
    or an NHS number, filtered by stage and responsible clinician; newest diagnosis first."""
    cases = Case.objects.select_related("patient", "responsible_clinician")
    query = query.strip()
    if query:
        compact = query.replace(" ", "")
        by_number = Q(patient__hospital_number__iexact=query)
        if compact.isdigit():
            by_number |= Q(patient__nhs_number=compact)
        by_name = Q()
        for word in query.split():
            by_name &= Q(patient__family_name__icontains=word) | Q(
                patient__given_name__icontains=word
            )
        cases = cases.filter(by_number | by_name)
    if stage:
        cases = cases.filter(stage=stage)
    if clinician_id is not None:
        cases = cases.filter(responsible_clinician_id=clinician_id)
    next_due = Subquery(
        Reassessment.objects.filter(case=OuterRef("pk"), reassessed_on__isnull=True)
        .order_by("due_on")
        .values("due_on")[:1]
    )
    return cases.annotate(next_due=next_due).order_by(
        "patient__family_name", "patient__given_name", "id"
    )


# --- Patient lookup before creating a patient (issue 17) -----------------------------------


def patient_lookup(*, number: str) -> list[Patient]:
    """The patients with this hospital number (any case) or NHS number, with their cases: at
    most a handful, in two queries."""
    number = number.strip()
    if not number:
        return []
    compact = number.replace(" ", "").replace("-", "")
    found = Q(hospital_number__iexact=number)
    if compact.isdigit():
        found |= Q(nhs_number=compact)
    return list(Patient.objects.filter(found).prefetch_related("cases").order_by("pk")[:5])
