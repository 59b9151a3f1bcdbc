"""Reads: each selector runs a fixed number of queries whatever the size of the database."""

from __future__ import annotations

from django.db.models import OuterRef, Q, QuerySet, Subquery

from cases.models import Case, Reassessment


def case_clinical_record(*, case_id: int) -> Case:
    """A case with everything the engine and the timeline need, in seven queries."""
    return (
        Case.objects.select_related("patient", "responsible_clinician", "coordinator")
        .prefetch_related(
            "molecular_results",
            "reassessments",
            "treatment_courses__administrations",
            "radiotherapy",
            "surgeries",
            "agenda_items__meeting",
        )
        .get(pk=case_id)
    )


# --- Coordinator screens (dashboard work) ----------------------------------------------------


def case_page_record(*, case_id: int) -> Case:
    """The clinical record plus what the case page's history shows: MDT decisions and actions.

    Eleven queries whatever the size of the record.
    """
    return (
        Case.objects.select_related("patient", "responsible_clinician", "coordinator")
        .prefetch_related(
            "molecular_results",
            "reassessments",
            "treatment_courses__administrations",
            "radiotherapy",
            "surgeries",
            "agenda_items__meeting",
            "agenda_items__decisions__recorded_by",
            "actions__owner",
        )
        .get(pk=case_id)
    )


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
