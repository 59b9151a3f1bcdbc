"""Recording a scan with its lesions (one POST), and a row of bloods for one date."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from cases import models
from cases.audit.access import access_log_record
from cases.records import services as records
from cases.records.imaging import recist_view
from cases.records.imaging_forms import ImagingStudyForm, LabResultsForm
from cases.records.selectors import case_clinical_record
from cases.records.views.entries import EDIT_METHODS, case_or_404, case_url, form_page, posted
from cases.security.permissions import Capability, capability_required


@capability_required(Capability.RECORD_IMAGING)
@require_http_methods(EDIT_METHODS)
def imaging_study_create(request: HttpRequest, case_id: int) -> HttpResponse:
    """A scan: a baseline when the case has none (or ``?baseline=1``), else a follow-up that
    re-measures the current baseline's lesions."""
    try:
        case = case_clinical_record(case_id=case_id)
    except models.Case.DoesNotExist:
        raise Http404("No such case.") from None
    access_log_record(user=request.user, case_id=case.pk, context="imaging-form")
    view = recist_view(case)
    new_baseline = view is None or request.GET.get("baseline") == "1"
    lesions = None if new_baseline else list(view.baseline.baseline_lesions.all())
    form = ImagingStudyForm(posted(request), case=case, lesions=lesions)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                records.imaging_study_record(
                    user=request.user, case_id=case.pk, **form.service_kwargs()
                )
            except ValidationError as error:
                form.add_service_errors(error)
            else:
                messages.success(request, "Scan recorded.")
                return redirect(case_url(case) + "#imaging")
        status = 422
    context = {
        "case": case,
        "form": form,
        "baseline": None if new_baseline else view.baseline,
        "title": "New baseline scan" if new_baseline else "Follow-up scan",
        "cancel_url": case_url(case),
    }
    return render(request, "cases/records/imaging_form.html", context, status=status)


@capability_required(Capability.EDIT_CASES)
@require_http_methods(EDIT_METHODS)
def lab_results_record(request: HttpRequest, case_id: int) -> HttpResponse:
    case = case_or_404(request, case_id)
    form = LabResultsForm(posted(request))

    def save(form: forms.BaseForm) -> Any:
        return records.lab_results_record(
            user=request.user, case_id=case.pk, **form.service_kwargs()
        )

    return form_page(
        request,
        form=form,
        save=save,
        case=case,
        title="Tumour markers and bloods",
        success_message="Results recorded.",
        success_url=case_url(case) + "#markers",
    )
