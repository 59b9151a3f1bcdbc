"""Cycles and toxicities of a treatment course, and the molecular profile on one form (also
drawn inside the meeting screen by htmx, so a result is entered without leaving it)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from cases import models
from cases.common.forms import add_service_errors
from cases.common.services import ConflictError
from cases.records import services as records
from cases.records import staging_forms
from cases.records.views.entries import EDIT_METHODS, case_or_404, case_url, form_page, posted
from cases.security.permissions import Capability, capability_required


@capability_required(Capability.EDIT_CASES)
@require_http_methods(EDIT_METHODS)
def cycle_create(request: HttpRequest, case_id: int, course_id: int) -> HttpResponse:
    case = case_or_404(request, case_id)
    course = get_object_or_404(models.TreatmentCourse, pk=course_id, case=case)
    last = course.cycles.order_by("-number").values_list("number", flat=True).first()
    form = staging_forms.CycleForm(
        posted(request),
        course=course,
        initial={
            "number": (last or 0) + 1,
            "given_on": timezone.localdate(),
            "agents": course.agents,
        },
    )

    def save(form: forms.BaseForm) -> Any:
        return records.cycle_create(user=request.user, course_id=course.pk, **form.service_kwargs())

    return form_page(
        request,
        form=form,
        save=save,
        case=case,
        title=f"Cycle of {course} (line {course.line})",
        success_message="Cycle recorded.",
        success_url=case_url(case),
    )


@capability_required(Capability.EDIT_CASES)
@require_http_methods(EDIT_METHODS)
def cycle_update(request: HttpRequest, case_id: int, pk: int) -> HttpResponse:
    case = case_or_404(request, case_id)
    cycle = get_object_or_404(
        models.TreatmentCycle.objects.select_related("course"), pk=pk, course__case=case
    )
    form = staging_forms.CycleEditForm(
        posted(request), course=cycle.course, instance=cycle, initial={"version": cycle.version}
    )

    def save(form: forms.BaseForm) -> Any:
        return records.cycle_update(
            user=request.user,
            cycle_id=cycle.pk,
            expected_version=form.cleaned_data["version"],
            **form.service_kwargs(),
        )

    return form_page(
        request,
        form=form,
        save=save,
        case=case,
        title=f"Edit {cycle} of {cycle.course}",
        success_message="Cycle saved.",
        success_url=case_url(case),
    )


@capability_required(Capability.EDIT_CASES)
@require_http_methods(EDIT_METHODS)
def toxicity_create(request: HttpRequest, case_id: int, course_id: int) -> HttpResponse:
    case = case_or_404(request, case_id)
    course = get_object_or_404(models.TreatmentCourse, pk=course_id, case=case)
    last = course.cycles.order_by("-number").first()
    form = staging_forms.ToxicityForm(
        posted(request),
        course=course,
        initial={"noted_on": timezone.localdate(), "cycle_id": last.pk if last else ""},
    )

    def save(form: forms.BaseForm) -> Any:
        return records.toxicity_create(
            user=request.user, course_id=course.pk, **form.service_kwargs()
        )

    return form_page(
        request,
        form=form,
        save=save,
        case=case,
        title=f"Toxicity on {course}",
        success_message="Toxicity recorded.",
        success_url=case_url(case),
    )


@capability_required(Capability.EDIT_CASES)
@require_http_methods(EDIT_METHODS)
def toxicity_update(request: HttpRequest, case_id: int, pk: int) -> HttpResponse:
    case = case_or_404(request, case_id)
    row = get_object_or_404(
        models.Toxicity.objects.select_related("course"), pk=pk, course__case=case
    )
    form = staging_forms.ToxicityEditForm(
        posted(request), course=row.course, instance=row, initial={"version": row.version}
    )

    def save(form: forms.BaseForm) -> Any:
        return records.toxicity_update(
            user=request.user,
            toxicity_id=row.pk,
            expected_version=form.cleaned_data["version"],
            **form.service_kwargs(),
        )

    return form_page(
        request,
        form=form,
        save=save,
        case=case,
        title=f"Edit {row}",
        success_message="Toxicity saved.",
        success_url=case_url(case),
    )


@capability_required(Capability.EDIT_CASES)
@require_http_methods(EDIT_METHODS)
def molecular_profile(request: HttpRequest, case_id: int) -> HttpResponse:
    """Every marker on one form, one POST. From the meeting screen (htmx) the form is drawn in
    place and, once saved, replaced by a note; the summary reloads itself on ``fact-changed``."""
    case = case_or_404(request, case_id)
    existing = {r.marker: r for r in models.MolecularResult.objects.filter(case=case)}
    form = staging_forms.MolecularProfileForm(posted(request), existing=existing)
    status, conflict = 200, ""
    if request.method == "POST":
        if form.is_valid():
            try:
                saved = records.molecular_profile_record(
                    user=request.user, case_id=case.pk, entries=form.entries()
                )
            except ValidationError as error:
                add_service_errors(form, error)
            except ConflictError as error:
                conflict = str(error)
            else:
                if request.htmx:
                    response = render(
                        request,
                        "cases/records/molecular_profile.html#molecular-entry",
                        {"case": case, "saved": saved, "done": True},
                    )
                    response["HX-Trigger"] = "fact-changed"
                    return response
                messages.success(request, "Molecular results saved.")
                return redirect(case_url(case))
        status = 409 if conflict else 422
    template = "cases/records/molecular_profile.html"
    if request.htmx:
        template += "#molecular-entry"
    context = {"case": case, "form": form, "conflict": conflict, "cancel_url": case_url(case)}
    return render(request, template, context, status=status)
