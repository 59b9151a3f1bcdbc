"""Reads: each selector runs a fixed number of queries whatever the size of the database."""

from __future__ import annotations

from cases.models import Case


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
