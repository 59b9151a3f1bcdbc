from django.urls import path

from cases.records.views import case, cycles, entries, imaging, intake, search

urlpatterns = [
    path("cases/", search.case_list, name="case-list"),
    path("cases/new/", case.case_create, name="case-create"),
    path("patients/lookup/", intake.patient_lookup, name="patient-lookup"),
    path("cases/<int:case_id>/", case.case_detail, name="case-detail"),
    path("cases/<int:case_id>/edit/", case.case_update, name="case-update"),
    path("cases/<int:case_id>/patient/", case.patient_update, name="patient-update"),
    path(
        "cases/<int:case_id>/molecular/<slug:marker>/",
        entries.molecular_record,
        name="molecular-record",
    ),
    path(
        "cases/<int:case_id>/molecular/",
        cycles.molecular_profile,
        name="molecular-profile",
    ),
    path(
        "cases/<int:case_id>/courses/<int:course_id>/cycles/new/",
        cycles.cycle_create,
        name="cycle-create",
    ),
    path("cases/<int:case_id>/cycles/<int:pk>/", cycles.cycle_update, name="cycle-update"),
    path(
        "cases/<int:case_id>/courses/<int:course_id>/toxicities/new/",
        cycles.toxicity_create,
        name="toxicity-create",
    ),
    path(
        "cases/<int:case_id>/toxicities/<int:pk>/",
        cycles.toxicity_update,
        name="toxicity-update",
    ),
    path(
        "cases/<int:case_id>/courses/<int:course_id>/doses/new/",
        entries.administration_create,
        name="administration-create",
    ),
    path(
        "cases/<int:case_id>/doses/<int:pk>/",
        entries.administration_update,
        name="administration-update",
    ),
    path("cases/<int:case_id>/scans/new/", imaging.imaging_study_create, name="imaging-create"),
    path("cases/<int:case_id>/bloods/new/", imaging.lab_results_record, name="lab-results-record"),
    path(
        "cases/<int:case_id>/actions/<int:pk>/status/",
        entries.action_status,
        name="action-status",
    ),
]

# The parts of the record added and edited with one pair of views (entries.PARTS).
for part, prefix, name in (
    ("reassessment", "reassessments", "reassessment"),
    ("course", "courses", "course"),
    ("radiotherapy", "radiotherapy", "radiotherapy"),
    ("surgery", "surgery", "surgery"),
    ("tnm", "tnm", "tnm"),
    ("mri", "mri-pelvis", "mri"),
    ("histology", "histology", "histology"),
    ("referral", "referral", "referral"),
):
    urlpatterns += [
        path(
            f"cases/<int:case_id>/{prefix}/new/",
            entries.part_create,
            {"part": part},
            name=f"{name}-create",
        ),
        path(
            f"cases/<int:case_id>/{prefix}/<int:pk>/",
            entries.part_update,
            {"part": part},
            name=f"{name}-update",
        ),
    ]
