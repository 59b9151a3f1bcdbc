"""A new referral: look the patient up by hospital or NHS number before typing them in, so
nobody is registered twice. The number is posted (htmx), never put in a URL."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from cases.audit.access import access_log_record
from cases.records.selectors import patient_lookup as find_patients
from cases.records.services.identifiers import nhs_number_valid, normalise_nhs_number
from cases.security.permissions import Capability, capability_required

LOOKUP_MAX_LENGTH = 20


@capability_required(Capability.EDIT_CASES)
@require_POST
def patient_lookup(request: HttpRequest) -> HttpResponse:
    number = (request.POST.get("number") or "").strip()[:LOOKUP_MAX_LENGTH]
    compact = normalise_nhs_number(number)
    looks_like_nhs = len(compact) == 10 and compact.isdigit()
    problem = ""
    if not number:
        problem = "Type a hospital number or an NHS number."
    elif looks_like_nhs and not nhs_number_valid(compact):
        problem = (
            "This is not a valid NHS number (its check digit does not match): check each digit."
        )
    patients = [] if not number else find_patients(number=number)
    for patient in patients:
        for case in patient.cases.all():
            access_log_record(user=request.user, case_id=case.pk, context="patient-lookup")
    context = {
        "number": number,
        "nhs_number": compact if looks_like_nhs and not problem else "",
        "hospital_number": "" if looks_like_nhs else number,
        "patients": patients,
        "problem": problem if not patients else "",
    }
    return render(request, "cases/records/case_create.html#patient-lookup", context)
