"""Entering and correcting the parts of a case's record, each with its form.

Each form view is the same three steps: parse the form, call the service, then either redirect
to the case page with a message, show the service's field messages in place (422), or, when
someone else saved the record first, say so, keep the user's input, and write nothing (409).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from cases import models
from cases.audit.access import access_log_record
from cases.common.forms import add_service_errors
from cases.common.services import ConflictError
from cases.meetings import actions
from cases.records import forms as record_forms
from cases.records import services as records
from cases.records import staging_forms
from cases.security.permissions import Capability, capability_required


def form_page(
    request: HttpRequest,
    *,
    form: forms.BaseForm,
    save: Callable[[forms.BaseForm], Any],
    case: models.Case | None,
    title: str,
    success_message: str,
    success_url: str,
    extra: dict[str, Any] | None = None,
    template: str = "cases/records/record_form.html",
) -> HttpResponse:
    status = 200
    conflict = ""
    if request.method == "POST":
        if form.is_valid():
            try:
                save(form)
            except ValidationError as error:
                add_service_errors(form, error)
            except ConflictError as error:
                conflict = str(error)
            else:
                messages.success(request, success_message)
                return redirect(success_url)
        status = 409 if conflict else 422
    context = {"form": form, "case": case, "title": title, "conflict": conflict}
    context["cancel_url"] = reverse("cases:case-detail", args=[case.pk]) if case else "/"
    context.update(extra or {})
    return render(request, template, context, status=status)


def posted(request: HttpRequest) -> Any:
    return request.POST if request.method == "POST" else None


def case_or_404(request: HttpRequest, case_id: int, context: str = "case-form") -> models.Case:
    case = get_object_or_404(models.Case.objects.select_related("patient"), pk=case_id)
    access_log_record(user=request.user, case_id=case.pk, context=context)
    return case


def case_url(case: models.Case) -> str:
    return reverse("cases:case-detail", args=[case.pk])


EDIT_METHODS = ["GET", "POST"]


@capability_required(Capability.EDIT_CASES)
@require_http_methods(EDIT_METHODS)
def molecular_record(request: HttpRequest, case_id: int, marker: str) -> HttpResponse:
    case = case_or_404(request, case_id)
    if marker not in models.Marker.values:
        raise Http404("No such marker.")
    existing = models.MolecularResult.objects.filter(case=case, marker=marker).first()
    initial: dict[str, Any] = {}
    if existing is not None:
        initial = {
            "status": existing.status,
            "method": existing.method,
            "requested_on": existing.requested_on,
            "reported_on": existing.reported_on,
            "version": existing.version,
        }
    form = record_forms.MolecularResultForm(posted(request), marker=marker, initial=initial)
    label = models.Marker(marker).label

    def save(form: forms.BaseForm) -> Any:
        return records.molecular_result_record(
            user=request.user, case_id=case.pk, **form.service_kwargs()
        )

    return form_page(
        request,
        form=form,
        save=save,
        case=case,
        title=f"{label} result",
        success_message=f"{label} result saved.",
        success_url=case_url(case),
    )


@capability_required(Capability.EDIT_CASES)
@require_http_methods(EDIT_METHODS)
def administration_create(request: HttpRequest, case_id: int, course_id: int) -> HttpResponse:
    case = case_or_404(request, case_id)
    course = get_object_or_404(models.TreatmentCourse, pk=course_id, case=case)
    last_cycle = course.administrations.order_by("-given_on").values_list("cycle_number").first()
    next_cycle = (last_cycle[0] or 0) + 1 if last_cycle else 1
    form = record_forms.AdministrationForm(
        posted(request),
        course=course,
        initial={"cycle_number": next_cycle, "given_on": timezone.localdate()},
    )

    def save(form: forms.BaseForm) -> Any:
        return records.administration_create(
            user=request.user, course_id=course.pk, **form.service_kwargs()
        )

    return form_page(
        request,
        form=form,
        save=save,
        case=case,
        title=f"Dose of {course}",
        success_message="Dose recorded.",
        success_url=case_url(case),
    )


@capability_required(Capability.EDIT_CASES)
@require_http_methods(EDIT_METHODS)
def administration_update(request: HttpRequest, case_id: int, pk: int) -> HttpResponse:
    case = case_or_404(request, case_id)
    dose = get_object_or_404(
        models.AgentAdministration.objects.select_related("course"), pk=pk, course__case=case
    )
    form = record_forms.AdministrationEditForm(
        posted(request), course=dose.course, instance=dose, initial={"version": dose.version}
    )

    def save(form: forms.BaseForm) -> Any:
        return records.administration_update(
            user=request.user,
            administration_id=dose.pk,
            expected_version=form.cleaned_data["version"],
            **form.service_kwargs(),
        )

    return form_page(
        request,
        form=form,
        save=save,
        case=case,
        title=f"Edit {dose}",
        success_message="Dose saved.",
        success_url=case_url(case),
    )


@capability_required(Capability.EDIT_CASES)
@require_http_methods(EDIT_METHODS)
def action_status(request: HttpRequest, case_id: int, pk: int) -> HttpResponse:
    case = case_or_404(request, case_id)
    action = get_object_or_404(models.Action.objects.select_related("owner"), pk=pk, case=case)
    form = record_forms.ActionStatusForm(
        posted(request),
        initial={
            "status": action.status,
            "not_done_reason": action.not_done_reason,
            "version": action.version,
        },
    )

    def save(form: forms.BaseForm) -> Any:
        return actions.action_status_set(
            user=request.user,
            action_id=action.pk,
            expected_version=form.cleaned_data["version"],
            status=form.cleaned_data["status"],
            not_done_reason=form.cleaned_data["not_done_reason"],
        )

    next_url = request.GET.get("next") == "dashboard"
    success_url = reverse("cases:home") if next_url else case_url(case)
    return form_page(
        request,
        form=form,
        save=save,
        case=case,
        title=f"Action: {action.description}",
        success_message="Action updated.",
        success_url=success_url,
        extra={"action": action},
    )


# --- The parts of the record edited the same way -----------------------------------------------


@dataclass(frozen=True)
class Part:
    """A part of the record with a row per entry, added and edited by the same two views."""

    model: type[Model]
    form: type[forms.BaseForm]
    edit_form: type[forms.BaseForm]
    create: Callable[..., Any]  # service(user=, case_id=, **fields)
    update: Callable[..., Any]  # service(user=, <id_keyword>=, expected_version=, **fields)
    id_keyword: str
    new_title: str
    added: str
    saved: str
    title: Callable[[Any], str] = str
    # Extra arguments for the create form, from the case (e.g. the engine's due date).
    create_options: Callable[[models.Case], dict[str, Any]] = lambda case: {}


PARTS = {
    "reassessment": Part(
        models.Reassessment,
        record_forms.ReassessmentForm,
        record_forms.ReassessmentEditForm,
        records.reassessment_create,
        records.reassessment_update,
        "reassessment_id",
        "New reassessment",
        "Reassessment added.",
        "Reassessment saved.",
        title=lambda row: f"Reassessment {row.cycle}",
        create_options=lambda case: {
            "due_required": False,
            "initial": {"due_on": records.next_reassessment_due(case_id=case.pk)},
        },
    ),
    "course": Part(
        models.TreatmentCourse,
        record_forms.TreatmentCourseForm,
        record_forms.TreatmentCourseEditForm,
        records.treatment_course_create,
        records.treatment_course_update,
        "course_id",
        "New treatment course",
        "Treatment course added.",
        "Treatment course saved.",
        title=lambda row: f"Edit {row}",
        create_options=lambda case: {"initial": {"line": records.next_line(case_id=case.pk)}},
    ),
    "radiotherapy": Part(
        models.Radiotherapy,
        record_forms.RadiotherapyForm,
        record_forms.RadiotherapyEditForm,
        records.radiotherapy_create,
        records.radiotherapy_update,
        "radiotherapy_id",
        "New radiotherapy course",
        "Radiotherapy added.",
        "Radiotherapy saved.",
        title=lambda row: "Edit radiotherapy",
    ),
    "surgery": Part(
        models.Surgery,
        record_forms.SurgeryForm,
        record_forms.SurgeryEditForm,
        records.surgery_create,
        records.surgery_update,
        "surgery_id",
        "New operation",
        "Operation added.",
        "Operation saved.",
        title=lambda row: f"Edit {row}",
    ),
    # Staging, pathology and the referral (cases/models/staging.py).
    "tnm": Part(
        models.TnmStaging,
        staging_forms.TnmStagingForm,
        staging_forms.TnmStagingEditForm,
        records.tnm_staging_create,
        records.tnm_staging_update,
        "staging_id",
        "New TNM staging",
        "TNM staging added.",
        "TNM staging saved.",
        title=lambda row: f"Edit {row}",
    ),
    "mri": Part(
        models.PelvicMri,
        staging_forms.PelvicMriForm,
        staging_forms.PelvicMriEditForm,
        records.pelvic_mri_create,
        records.pelvic_mri_update,
        "mri_id",
        "New MRI pelvis",
        "MRI pelvis added.",
        "MRI pelvis saved.",
        title=lambda row: f"Edit {row}",
    ),
    "histology": Part(
        models.Histology,
        staging_forms.HistologyForm,
        staging_forms.HistologyEditForm,
        records.histology_create,
        records.histology_update,
        "histology_id",
        "New histology report",
        "Histology added.",
        "Histology saved.",
        title=lambda row: f"Edit {row}",
    ),
    "referral": Part(
        models.Referral,
        staging_forms.ReferralForm,
        staging_forms.ReferralEditForm,
        records.referral_create,
        records.referral_update,
        "referral_id",
        "Referral",
        "Referral recorded.",
        "Referral saved.",
        title=lambda row: "Edit referral",
        create_options=lambda case: {"initial": {"received_on": timezone.localdate()}},
    ),
}


@capability_required(Capability.EDIT_CASES)
@require_http_methods(EDIT_METHODS)
def part_create(request: HttpRequest, case_id: int, part: str) -> HttpResponse:
    case = case_or_404(request, case_id)
    spec = PARTS[part]
    form = spec.form(posted(request), **spec.create_options(case))

    def save(form: forms.BaseForm) -> Any:
        return spec.create(user=request.user, case_id=case.pk, **form.service_kwargs())

    return form_page(
        request,
        form=form,
        save=save,
        case=case,
        title=spec.new_title,
        success_message=spec.added,
        success_url=case_url(case),
    )


@capability_required(Capability.EDIT_CASES)
@require_http_methods(EDIT_METHODS)
def part_update(request: HttpRequest, case_id: int, pk: int, part: str) -> HttpResponse:
    case = case_or_404(request, case_id)
    spec = PARTS[part]
    row = get_object_or_404(spec.model, pk=pk, case=case)
    form = spec.edit_form(posted(request), instance=row, initial={"version": row.version})

    def save(form: forms.BaseForm) -> Any:
        return spec.update(
            user=request.user,
            **{spec.id_keyword: row.pk},
            expected_version=form.cleaned_data["version"],
            **form.service_kwargs(),
        )

    return form_page(
        request,
        form=form,
        save=save,
        case=case,
        title=spec.title(row),
        success_message=spec.saved,
        success_url=case_url(case),
    )
