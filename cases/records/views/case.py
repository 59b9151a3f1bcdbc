"""The case page, and the forms for the patient and the case themselves."""

from __future__ import annotations

import copy
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from cases import models
from cases.audit.access import access_list_record, access_log_record
from cases.common.forms import add_service_errors
from cases.meetings.selectors import completeness_day, next_meeting
from cases.meetings.walk.labels import conversion_text
from cases.pathway import InputError
from cases.records import forms as record_forms
from cases.records import services as records
from cases.records import staging_forms
from cases.records.completeness import missing_minimum_dataset
from cases.records.mapping import (
    advice_for_case,
    bevacizumab_interval_start,
    planned_last_bevacizumab_dose,
)
from cases.records.selectors import case_page_record
from cases.records.story import clinical_story
from cases.records.timeline import timeline_for_case
from cases.records.views.entries import EDIT_METHODS, case_or_404, case_url, form_page, posted
from cases.security.permissions import Capability, capability_required, has_capability

MARKER_ORDER = [marker.value for marker in models.Marker]


def _advice(case: models.Case, today: Any) -> tuple[Any, str, str]:
    """(advice, error, the conversion status in words with its reason)."""
    try:
        inputs, advice = advice_for_case(case, today=today)
    except (InputError, ValueError) as error:
        return None, str(getattr(error, "message", error)), ""
    return advice, "", conversion_text(str(advice.conversion_status), inputs)


@capability_required(Capability.VIEW_CLINICAL)
@require_GET
def case_detail(request: HttpRequest, case_id: int) -> HttpResponse:
    try:
        record = case_page_record(case_id=case_id)
    except models.Case.DoesNotExist:
        raise Http404("No such case.") from None
    access_log_record(user=request.user, case_id=record.pk, context="case-page")
    today = timezone.localdate()
    meeting = next_meeting()
    completeness_on = completeness_day(meeting, today=today) if meeting else today
    results = {r.marker: r for r in record.molecular_results.all()}
    advice, advice_error, conversion = _advice(record, today)
    reassessments = list(record.reassessments.all())
    open_rows = [r for r in reassessments if r.reassessed_on is None]
    reviews = [r for r in reassessments if r.hpb_reviewed_on]
    courses = list(record.treatment_courses.all())
    for course in courses:
        course.agent_labels = [models.Agent(agent).label for agent in course.agents]
    listed_next = meeting is not None and any(
        item.meeting_id == meeting.pk for item in record.agenda_items.all()
    )
    context = {
        "case": record,
        "today": today,
        "markers": [(marker, results.get(marker.value)) for marker in models.Marker],
        "timeline": timeline_for_case(record, today=today),
        "history": clinical_story(record),
        "missing": missing_minimum_dataset(record, today=completeness_on),
        "completeness_on": completeness_on,
        "meeting": meeting,
        "listed_next": listed_next,
        "advice": advice,
        "advice_error": advice_error,
        "conversion_text": conversion,
        "next_scheduled": min(open_rows, key=lambda r: r.due_on, default=None),
        "hpb_review": max(reviews, key=lambda r: r.hpb_reviewed_on, default=None),
        "courses": courses,
        # The interval counts from the planned last dose (shown with the earliest date).
        "bev_planned": _interval_from_plan(record),
        "can_edit": has_capability(request.user, Capability.EDIT_CASES),
        "can_list": has_capability(request.user, Capability.LIST_CASES),
    }
    return render(request, "cases/records/case_detail.html", context)


def _interval_from_plan(record: models.Case) -> bool:
    planned = planned_last_bevacizumab_dose(record)
    return planned is not None and planned == bevacizumab_interval_start(record)


@capability_required(Capability.EDIT_CASES)
@require_http_methods(EDIT_METHODS)
def case_create(request: HttpRequest) -> HttpResponse:
    """A new case: for a new patient, or for the patient given by ``?patient=<id>``."""
    patient = None
    patient_id = request.GET.get("patient", "")
    if patient_id.isdigit() and len(patient_id) < 19:
        patient = models.Patient.objects.filter(pk=int(patient_id)).first()
    if patient is not None:
        # The page names the patient: logged like any page that shows one.
        access_list_record(
            user=request.user, case_ids=(), patient_id=patient.pk, context="case-create"
        )
    data = posted(request)
    patient_form = None if patient else record_forms.PatientForm(data, prefix="patient")
    case_form = record_forms.CaseForm(
        data, prefix="case", initial={"coordinator": _me_if_coordinator(request)}
    )
    referral_form = staging_forms.ReferralIntakeForm(
        data, prefix="referral", initial={"received_on": timezone.localdate()}
    )
    status = 200
    if data is not None:
        valid = (
            case_form.is_valid()
            & referral_form.is_valid()
            & (patient_form is None or patient_form.is_valid())
        )
        if valid:
            try:
                case = _create_case(request, patient, patient_form, case_form, referral_form)
            except ValidationError as error:
                # Patient errors carry patient field names; show each on the form it belongs to.
                _split_errors(error, patient_form, case_form, referral_form)
            else:
                messages.success(request, f"Case {case.reference} created.")
                return redirect(case_url(case))
        status = 422
    context = {
        "patient": patient,
        "patient_form": patient_form,
        "case_form": case_form,
        "referral_form": referral_form,
    }
    return render(request, "cases/records/case_create.html", context, status=status)


def _me_if_coordinator(request: HttpRequest) -> Any:
    return request.user if getattr(request.user, "role", "") == models.Role.COORDINATOR else None


@transaction.atomic
def _create_case(
    request: HttpRequest,
    patient: models.Patient | None,
    patient_form: record_forms.PatientForm | None,
    case_form: record_forms.CaseForm,
    referral_form: staging_forms.ReferralIntakeForm,
) -> models.Case:
    """Patient, case and referral together: a case or referral that fails its checks leaves
    no orphan patient."""
    if patient is None:
        assert patient_form is not None  # noqa: S101 (the view builds one when no patient)
        patient = records.patient_create(user=request.user, **patient_form.service_kwargs())
    case = records.case_create(
        user=request.user, patient_id=patient.pk, **case_form.service_kwargs()
    )
    if referral_form.provided():
        records.referral_create(
            user=request.user, case_id=case.pk, **referral_form.service_kwargs()
        )
    return case


def _split_errors(
    error: ValidationError,
    patient_form: forms.BaseForm | None,
    case_form: forms.BaseForm,
    referral_form: forms.BaseForm,
) -> None:
    # The referral's fields are named apart from the patient's and the case's.
    if hasattr(error, "error_dict") and set(error.error_dict) <= set(referral_form.fields):
        add_service_errors(referral_form, error)
        return
    on_patient = (
        patient_form is not None
        and hasattr(error, "error_dict")
        and bool(set(error.error_dict) & set(patient_form.fields))
    )
    if on_patient:
        add_service_errors(patient_form, error)
        return
    add_service_errors(case_form, error)


@capability_required(Capability.EDIT_CASES)
@require_http_methods(EDIT_METHODS)
def case_update(request: HttpRequest, case_id: int) -> HttpResponse:
    case = case_or_404(request, case_id)
    # The form edits a copy: a refused save must not show its input as the record (header).
    form = record_forms.CaseEditForm(
        posted(request), instance=copy.copy(case), initial={"version": case.version}
    )

    def save(form: forms.BaseForm) -> Any:
        return records.case_update(
            user=request.user,
            case_id=case.pk,
            expected_version=form.cleaned_data["version"],
            **form.service_kwargs(),
        )

    return form_page(
        request,
        form=form,
        save=save,
        case=case,
        title="Edit case details",
        success_message="Case details saved.",
        success_url=case_url(case),
    )


@capability_required(Capability.EDIT_CASES)
@require_http_methods(EDIT_METHODS)
def patient_update(request: HttpRequest, case_id: int) -> HttpResponse:
    case = case_or_404(request, case_id)
    patient = case.patient
    # The form edits a copy: a refused save must not show its input as the patient (header).
    form = record_forms.PatientEditForm(
        posted(request), instance=copy.copy(patient), initial={"version": patient.version}
    )

    def save(form: forms.BaseForm) -> Any:
        return records.patient_update(
            user=request.user,
            patient_id=patient.pk,
            expected_version=form.cleaned_data["version"],
            **form.service_kwargs(),
        )

    return form_page(
        request,
        form=form,
        save=save,
        case=case,
        title="Edit patient details",
        success_message="Patient details saved.",
        success_url=case_url(case),
    )
