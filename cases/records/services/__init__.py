"""Writes to the clinical record, one module per entity: patient, case, molecular results,
reassessments, treatment (courses and doses), radiotherapy and surgery.

Every service here follows the same steps:

1. ``require`` the capability (the rule holds whatever the entry point: form, API, shell);
2. check the new values clinically and raise ``ValidationError`` keyed by field, so a form can
   show each message next to the field it is about;
3. write: an insert, or an optimistic-lock compare-and-set (``update_versioned``) that refuses
   with ``ConflictError``, writing nothing, when someone else changed the row since the editor
   loaded it;
4. bring the case's reminders in line with the new facts, in the same transaction.

Dates: ``timezone.localdate()`` is "today". A fact (a scan, an operation, a dose) cannot be in the
future; a plan can, but not by years (a mistyped year must not reach the date arithmetic).
"""

from __future__ import annotations

from cases.records.services.cases import case_create, case_update
from cases.records.services.cycles import (
    cycle_create,
    cycle_update,
    toxicity_create,
    toxicity_update,
)
from cases.records.services.imaging import NewLesion, Remeasure, imaging_study_record
from cases.records.services.markers import lab_results_record
from cases.records.services.molecular import molecular_profile_record, molecular_result_record
from cases.records.services.patients import patient_create, patient_update
from cases.records.services.radiotherapy import radiotherapy_create, radiotherapy_update
from cases.records.services.reassessments import (
    next_reassessment_due,
    reassessment_create,
    reassessment_open_next,
    reassessment_update,
)
from cases.records.services.referral import referral_create, referral_update
from cases.records.services.staging import (
    histology_create,
    histology_update,
    pelvic_mri_create,
    pelvic_mri_update,
    tnm_staging_create,
    tnm_staging_update,
)
from cases.records.services.surgery import surgery_create, surgery_update
from cases.records.services.treatment import (
    administration_create,
    administration_update,
    next_line,
    treatment_course_create,
    treatment_course_update,
)

__all__ = [
    "NewLesion",
    "Remeasure",
    "administration_create",
    "administration_update",
    "case_create",
    "case_update",
    "cycle_create",
    "cycle_update",
    "histology_create",
    "histology_update",
    "imaging_study_record",
    "lab_results_record",
    "molecular_profile_record",
    "molecular_result_record",
    "next_line",
    "next_reassessment_due",
    "patient_create",
    "patient_update",
    "pelvic_mri_create",
    "pelvic_mri_update",
    "radiotherapy_create",
    "radiotherapy_update",
    "reassessment_create",
    "reassessment_open_next",
    "reassessment_update",
    "referral_create",
    "referral_update",
    "surgery_create",
    "surgery_update",
    "tnm_staging_create",
    "tnm_staging_update",
    "toxicity_create",
    "toxicity_update",
    "treatment_course_create",
    "treatment_course_update",
]
