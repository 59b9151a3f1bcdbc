"""Cases: search, the case page, and the entry and update forms for every part of the record.

Each form view is the same three steps: parse the form, call the service, then either redirect
to the case page with a message, show the service's field messages in place (422), or — when
someone else saved the record first — say so, keep the user's input, and write nothing (409).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.db import transaction
from django.db.models import Count, QuerySet, Window
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import push_url

from cases import models as m
from cases.audit.access import access_log_record
from cases.common.services import ConflictError
from cases.meetings.agenda import completeness_day
from cases.pathway import InputError
from cases.records import forms as f
from cases.records import services as records
from cases.records.completeness import missing_minimum_dataset
from cases.records.mapping import advice_for_case
from cases.records.selectors import case_page_record, case_search
from cases.records.story import case_history
from cases.records.timeline import timeline_for_case
from cases.security.permissions import Capability, capability_required, has_capability
from cases.security.search_tokens import search_text, search_token
from cases.worklists.queries import next_meeting

SEARCH_PAGE_ROWS = 25
MARKER_ORDER = [marker.value for marker in m.Marker]


# --- Search ----------------------------------------------------------------------------------


def _clinicians() -> Any:
    return m.User.objects.filter(role__in=[m.Role.CLINICIAN, m.Role.CHAIR]).order_by(
        "last_name", "first_name"
    )


def _results_url(request: HttpRequest) -> str:
    """The results URL for a posted search: the filters as they are, the text as a token."""
    params = request.POST.copy()
    for name in ("csrfmiddlewaretoken", "page", "search"):
        params.pop(name, None)
    text = (params.pop("q", [""])[-1] or "").strip()[:100]
    if text:
        params["search"] = search_token(request, text)
    return f"{reverse('cases:case-list')}?{params.urlencode()}"


@capability_required(Capability.VIEW_CLINICAL)
@require_http_methods(["GET", "POST"])
def case_list(request: HttpRequest) -> HttpResponse:
    """Search by name or number, filter by stage and clinician; htmx swaps just the results.

    The search text is posted and never put in a URL (``cases/search_tokens.py``).
    """
    if request.method == "POST":
        url = _results_url(request)
        if not request.htmx:
            return redirect(url)
        request.GET = QueryDict(url.partition("?")[2])
    data = request.GET.copy()
    data["q"] = search_text(request, request.GET.get("search"))
    form = f.CaseSearchForm(data, clinicians=_clinicians())
    form.is_valid()  # an invalid filter is shown with its message and otherwise ignored
    cleaned = getattr(form, "cleaned_data", {})
    clinician = cleaned.get("clinician")
    cases = case_search(
        query=cleaned.get("q") or "",
        stage=cleaned.get("stage") or "",
        clinician_id=clinician.pk if clinician else None,
    )
    page = _results_page(cases, request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode()}
    if request.htmx and request.htmx.target == "case-results":
        response = render(request, "cases/records/case_list.html#case-results", context)
        if request.method == "POST":
            push_url(response, f"{reverse('cases:case-list')}?{request.GET.urlencode()}")
        return response
    return render(request, "cases/records/case_list.html", context)


def _results_page(cases: QuerySet[m.Case], number: str | None) -> Page:
    """The page ``Paginator(cases, SEARCH_PAGE_ROWS).get_page(number)`` gives, in two queries.

    The paginator counts the matches, then fetches the page: two passes of the search's filter
    and join over every patient. Here one pass on narrow rows gives the page's ids and the
    total (``COUNT(*) OVER ()``), then the page's cases are fetched by id. A page past the end
    (or below 1) is the last page, as with ``get_page``: a count and a second pass.
    """
    try:
        wanted = int(number)  # as Paginator: anything not an integer is page 1
    except (TypeError, ValueError):
        wanted = 1
    paginator = Paginator(cases, SEARCH_PAGE_ROWS)
    # A page below 1, or whose offset PostgreSQL cannot even take (a bigint), has no rows.
    reachable = wanted >= 1 and wanted * SEARCH_PAGE_ROWS < 2**63
    rows = _page_ids(cases, wanted) if reachable else []
    if rows:
        paginator.count = rows[0][1]
    elif wanted == 1:
        paginator.count = 0  # no match at all: page 1, empty
    else:
        paginator.count = cases.count()
        wanted = paginator.num_pages
        rows = _page_ids(cases, wanted)
    ids = [pk for pk, _total in rows]
    return Page(list(cases.filter(pk__in=ids)) if ids else [], wanted, paginator)


def _page_ids(cases: QuerySet[m.Case], number: int) -> list[tuple[int, int]]:
    """(id, total matches) for each case on page ``number``, in the search's order."""
    bottom = (number - 1) * SEARCH_PAGE_ROWS
    numbered = cases.annotate(total=Window(Count("*"))).values_list("pk", "total")
    return list(numbered[bottom : bottom + SEARCH_PAGE_ROWS])


# --- The case page ---------------------------------------------------------------------------


def _advice(case: m.Case, today: Any) -> tuple[Any, str]:
    try:
        _inputs, advice = advice_for_case(case, today=today)
    except (InputError, ValueError) as error:
        return None, str(getattr(error, "message", error))
    return advice, ""


@capability_required(Capability.VIEW_CLINICAL)
@require_GET
def case_detail(request: HttpRequest, case_id: int) -> HttpResponse:
    try:
        record = case_page_record(case_id=case_id)
    except m.Case.DoesNotExist:
        raise Http404("No such case.") from None
    access_log_record(user=request.user, case_id=record.pk, context="case-page")
    today = timezone.localdate()
    meeting = next_meeting()
    completeness_on = completeness_day(meeting, today=today) if meeting else today
    results = {r.marker: r for r in record.molecular_results.all()}
    advice, advice_error = _advice(record, today)
    courses = list(record.treatment_courses.all())
    for course in courses:
        course.agent_labels = [m.Agent(agent).label for agent in course.agents]
    listed_next = meeting is not None and any(
        item.meeting_id == meeting.pk for item in record.agenda_items.all()
    )
    context = {
        "case": record,
        "today": today,
        "markers": [(marker, results.get(marker.value)) for marker in m.Marker],
        "timeline": timeline_for_case(record, today=today),
        "history": case_history(record),
        "missing": missing_minimum_dataset(record, today=completeness_on),
        "completeness_on": completeness_on,
        "meeting": meeting,
        "listed_next": listed_next,
        "advice": advice,
        "advice_error": advice_error,
        "courses": courses,
        "can_edit": has_capability(request.user, Capability.EDIT_CASES),
        "can_list": has_capability(request.user, Capability.LIST_CASES),
    }
    return render(request, "cases/records/case_detail.html", context)


# --- The form pattern ------------------------------------------------------------------------


def _form_page(
    request: HttpRequest,
    *,
    form: forms.BaseForm,
    save: Callable[[forms.BaseForm], Any],
    case: m.Case | None,
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
                f.add_service_errors(form, error)
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


def _data(request: HttpRequest) -> Any:
    return request.POST if request.method == "POST" else None


def _case(request: HttpRequest, case_id: int, context: str = "case-form") -> m.Case:
    case = get_object_or_404(m.Case.objects.select_related("patient"), pk=case_id)
    access_log_record(user=request.user, case_id=case.pk, context=context)
    return case


def _case_url(case: m.Case) -> str:
    return reverse("cases:case-detail", args=[case.pk])


EDIT_METHODS = ["GET", "POST"]


# --- Patient and case ------------------------------------------------------------------------


@capability_required(Capability.EDIT_CASES)
@require_http_methods(EDIT_METHODS)
def case_create(request: HttpRequest) -> HttpResponse:
    """A new case: for a new patient, or for the patient given by ``?patient=<id>``."""
    patient = None
    patient_id = request.GET.get("patient", "")
    if patient_id.isdigit() and len(patient_id) < 19:
        patient = m.Patient.objects.filter(pk=int(patient_id)).first()
    data = _data(request)
    patient_form = None if patient else f.PatientForm(data, prefix="patient")
    case_form = f.CaseForm(
        data, prefix="case", initial={"coordinator": _me_if_coordinator(request)}
    )
    status = 200
    if data is not None:
        valid = case_form.is_valid() & (patient_form is None or patient_form.is_valid())
        if valid:
            try:
                case = _create_case(request, patient, patient_form, case_form)
            except ValidationError as error:
                # Patient errors carry patient field names; show each on the form it belongs to.
                _split_errors(error, patient_form, case_form)
            else:
                messages.success(request, f"Case {case.reference} created.")
                return redirect(_case_url(case))
        status = 422
    context = {
        "patient": patient,
        "patient_form": patient_form,
        "case_form": case_form,
    }
    return render(request, "cases/records/case_create.html", context, status=status)


def _me_if_coordinator(request: HttpRequest) -> Any:
    return request.user if getattr(request.user, "role", "") == m.Role.COORDINATOR else None


@transaction.atomic
def _create_case(
    request: HttpRequest,
    patient: m.Patient | None,
    patient_form: f.PatientForm | None,
    case_form: f.CaseForm,
) -> m.Case:
    """Patient and case together: a case that fails its checks leaves no orphan patient."""
    if patient is None:
        assert patient_form is not None  # noqa: S101 (the view builds one when no patient)
        patient = records.patient_create(user=request.user, **patient_form.service_kwargs())
    return records.case_create(
        user=request.user, patient_id=patient.pk, **case_form.service_kwargs()
    )


def _split_errors(
    error: ValidationError, patient_form: forms.BaseForm | None, case_form: forms.BaseForm
) -> None:
    on_patient = (
        patient_form is not None
        and hasattr(error, "error_dict")
        and bool(set(error.error_dict) & set(patient_form.fields))
    )
    if on_patient:
        f.add_service_errors(patient_form, error)
        return
    f.add_service_errors(case_form, error)


@capability_required(Capability.EDIT_CASES)
@require_http_methods(EDIT_METHODS)
def case_update(request: HttpRequest, case_id: int) -> HttpResponse:
    case = _case(request, case_id)
    # The form edits a copy: a refused save must not show its input as the record (header).
    form = f.CaseEditForm(
        _data(request), instance=copy.copy(case), initial={"version": case.version}
    )

    def save(form: forms.BaseForm) -> Any:
        return records.case_update(
            user=request.user,
            case_id=case.pk,
            expected_version=form.cleaned_data["version"],
            **form.service_kwargs(),
        )

    return _form_page(
        request,
        form=form,
        save=save,
        case=case,
        title="Edit case details",
        success_message="Case details saved.",
        success_url=_case_url(case),
    )


@capability_required(Capability.EDIT_CASES)
@require_http_methods(EDIT_METHODS)
def patient_update(request: HttpRequest, case_id: int) -> HttpResponse:
    case = _case(request, case_id)
    patient = case.patient
    # The form edits a copy: a refused save must not show its input as the patient (header).
    form = f.PatientEditForm(
        _data(request), instance=copy.copy(patient), initial={"version": patient.version}
    )

    def save(form: forms.BaseForm) -> Any:
        return records.patient_update(
            user=request.user,
            patient_id=patient.pk,
            expected_version=form.cleaned_data["version"],
            **form.service_kwargs(),
        )

    return _form_page(
        request,
        form=form,
        save=save,
        case=case,
        title="Edit patient details",
        success_message="Patient details saved.",
        success_url=_case_url(case),
    )


# --- Molecular results -----------------------------------------------------------------------


@capability_required(Capability.EDIT_CASES)
@require_http_methods(EDIT_METHODS)
def molecular_record(request: HttpRequest, case_id: int, marker: str) -> HttpResponse:
    case = _case(request, case_id)
    if marker not in m.Marker.values:
        raise Http404("No such marker.")
    existing = m.MolecularResult.objects.filter(case=case, marker=marker).first()
    initial: dict[str, Any] = {}
    if existing is not None:
        initial = {
            "status": existing.status,
            "method": existing.method,
            "requested_on": existing.requested_on,
            "reported_on": existing.reported_on,
            "version": existing.version,
        }
    form = f.MolecularResultForm(_data(request), marker=marker, initial=initial)
    label = m.Marker(marker).label

    def save(form: forms.BaseForm) -> Any:
        return records.molecular_result_record(
            user=request.user, case_id=case.pk, **form.service_kwargs()
        )

    return _form_page(
        request,
        form=form,
        save=save,
        case=case,
        title=f"{label} result",
        success_message=f"{label} result saved.",
        success_url=_case_url(case),
    )


# --- Reassessments ---------------------------------------------------------------------------


@capability_required(Capability.EDIT_CASES)
@require_http_methods(EDIT_METHODS)
def reassessment_create(request: HttpRequest, case_id: int) -> HttpResponse:
    case = _case(request, case_id)
    form = f.ReassessmentForm(
        _data(request),
        due_required=False,
        initial={"due_on": records.next_reassessment_due(case_id=case.pk)},
    )

    def save(form: forms.BaseForm) -> Any:
        return records.reassessment_create(
            user=request.user, case_id=case.pk, **form.service_kwargs()
        )

    return _form_page(
        request,
        form=form,
        save=save,
        case=case,
        title="New reassessment",
        success_message="Reassessment added.",
        success_url=_case_url(case),
    )


@capability_required(Capability.EDIT_CASES)
@require_http_methods(EDIT_METHODS)
def reassessment_update(request: HttpRequest, case_id: int, pk: int) -> HttpResponse:
    case = _case(request, case_id)
    row = get_object_or_404(m.Reassessment, pk=pk, case=case)
    form = f.ReassessmentEditForm(_data(request), instance=row, initial={"version": row.version})

    def save(form: forms.BaseForm) -> Any:
        return records.reassessment_update(
            user=request.user,
            reassessment_id=row.pk,
            expected_version=form.cleaned_data["version"],
            **form.service_kwargs(),
        )

    return _form_page(
        request,
        form=form,
        save=save,
        case=case,
        title=f"Reassessment {row.cycle}",
        success_message="Reassessment saved.",
        success_url=_case_url(case),
    )


# --- Treatment -------------------------------------------------------------------------------


@capability_required(Capability.EDIT_CASES)
@require_http_methods(EDIT_METHODS)
def course_create(request: HttpRequest, case_id: int) -> HttpResponse:
    case = _case(request, case_id)
    form = f.TreatmentCourseForm(_data(request))

    def save(form: forms.BaseForm) -> Any:
        return records.treatment_course_create(
            user=request.user, case_id=case.pk, **form.service_kwargs()
        )

    return _form_page(
        request,
        form=form,
        save=save,
        case=case,
        title="New treatment course",
        success_message="Treatment course added.",
        success_url=_case_url(case),
    )


@capability_required(Capability.EDIT_CASES)
@require_http_methods(EDIT_METHODS)
def course_update(request: HttpRequest, case_id: int, pk: int) -> HttpResponse:
    case = _case(request, case_id)
    course = get_object_or_404(m.TreatmentCourse, pk=pk, case=case)
    form = f.TreatmentCourseEditForm(
        _data(request), instance=course, initial={"version": course.version}
    )

    def save(form: forms.BaseForm) -> Any:
        return records.treatment_course_update(
            user=request.user,
            course_id=course.pk,
            expected_version=form.cleaned_data["version"],
            **form.service_kwargs(),
        )

    return _form_page(
        request,
        form=form,
        save=save,
        case=case,
        title=f"Edit {course}",
        success_message="Treatment course saved.",
        success_url=_case_url(case),
    )


@capability_required(Capability.EDIT_CASES)
@require_http_methods(EDIT_METHODS)
def administration_create(request: HttpRequest, case_id: int, course_id: int) -> HttpResponse:
    case = _case(request, case_id)
    course = get_object_or_404(m.TreatmentCourse, pk=course_id, case=case)
    last_cycle = course.administrations.order_by("-given_on").values_list("cycle_number").first()
    next_cycle = (last_cycle[0] or 0) + 1 if last_cycle else 1
    form = f.AdministrationForm(
        _data(request),
        course=course,
        initial={"cycle_number": next_cycle, "given_on": timezone.localdate()},
    )

    def save(form: forms.BaseForm) -> Any:
        return records.administration_create(
            user=request.user, course_id=course.pk, **form.service_kwargs()
        )

    return _form_page(
        request,
        form=form,
        save=save,
        case=case,
        title=f"Dose of {course}",
        success_message="Dose recorded.",
        success_url=_case_url(case),
    )


@capability_required(Capability.EDIT_CASES)
@require_http_methods(EDIT_METHODS)
def administration_update(request: HttpRequest, case_id: int, pk: int) -> HttpResponse:
    case = _case(request, case_id)
    dose = get_object_or_404(
        m.AgentAdministration.objects.select_related("course"), pk=pk, course__case=case
    )
    form = f.AdministrationEditForm(
        _data(request), course=dose.course, instance=dose, initial={"version": dose.version}
    )

    def save(form: forms.BaseForm) -> Any:
        return records.administration_update(
            user=request.user,
            administration_id=dose.pk,
            expected_version=form.cleaned_data["version"],
            **form.service_kwargs(),
        )

    return _form_page(
        request,
        form=form,
        save=save,
        case=case,
        title=f"Edit {dose}",
        success_message="Dose saved.",
        success_url=_case_url(case),
    )


# --- Radiotherapy and surgery ----------------------------------------------------------------


@capability_required(Capability.EDIT_CASES)
@require_http_methods(EDIT_METHODS)
def radiotherapy_create(request: HttpRequest, case_id: int) -> HttpResponse:
    case = _case(request, case_id)
    form = f.RadiotherapyForm(_data(request))

    def save(form: forms.BaseForm) -> Any:
        return records.radiotherapy_create(
            user=request.user, case_id=case.pk, **form.service_kwargs()
        )

    return _form_page(
        request,
        form=form,
        save=save,
        case=case,
        title="New radiotherapy course",
        success_message="Radiotherapy added.",
        success_url=_case_url(case),
    )


@capability_required(Capability.EDIT_CASES)
@require_http_methods(EDIT_METHODS)
def radiotherapy_update(request: HttpRequest, case_id: int, pk: int) -> HttpResponse:
    case = _case(request, case_id)
    rt = get_object_or_404(m.Radiotherapy, pk=pk, case=case)
    form = f.RadiotherapyEditForm(_data(request), instance=rt, initial={"version": rt.version})

    def save(form: forms.BaseForm) -> Any:
        return records.radiotherapy_update(
            user=request.user,
            radiotherapy_id=rt.pk,
            expected_version=form.cleaned_data["version"],
            **form.service_kwargs(),
        )

    return _form_page(
        request,
        form=form,
        save=save,
        case=case,
        title="Edit radiotherapy",
        success_message="Radiotherapy saved.",
        success_url=_case_url(case),
    )


@capability_required(Capability.EDIT_CASES)
@require_http_methods(EDIT_METHODS)
def surgery_create(request: HttpRequest, case_id: int) -> HttpResponse:
    case = _case(request, case_id)
    form = f.SurgeryForm(_data(request))

    def save(form: forms.BaseForm) -> Any:
        return records.surgery_create(user=request.user, case_id=case.pk, **form.service_kwargs())

    return _form_page(
        request,
        form=form,
        save=save,
        case=case,
        title="New operation",
        success_message="Operation added.",
        success_url=_case_url(case),
    )


@capability_required(Capability.EDIT_CASES)
@require_http_methods(EDIT_METHODS)
def surgery_update(request: HttpRequest, case_id: int, pk: int) -> HttpResponse:
    case = _case(request, case_id)
    surgery = get_object_or_404(m.Surgery, pk=pk, case=case)
    form = f.SurgeryEditForm(_data(request), instance=surgery, initial={"version": surgery.version})

    def save(form: forms.BaseForm) -> Any:
        return records.surgery_update(
            user=request.user,
            surgery_id=surgery.pk,
            expected_version=form.cleaned_data["version"],
            **form.service_kwargs(),
        )

    return _form_page(
        request,
        form=form,
        save=save,
        case=case,
        title=f"Edit {surgery}",
        success_message="Operation saved.",
        success_url=_case_url(case),
    )


# --- MDT actions -----------------------------------------------------------------------------


@capability_required(Capability.EDIT_CASES)
@require_http_methods(EDIT_METHODS)
def action_status(request: HttpRequest, case_id: int, pk: int) -> HttpResponse:
    case = _case(request, case_id)
    action = get_object_or_404(m.Action.objects.select_related("owner"), pk=pk, case=case)
    form = f.ActionStatusForm(
        _data(request),
        initial={
            "status": action.status,
            "not_done_reason": action.not_done_reason,
            "version": action.version,
        },
    )

    def save(form: forms.BaseForm) -> Any:
        return records.action_status_set(
            user=request.user,
            action_id=action.pk,
            expected_version=form.cleaned_data["version"],
            status=form.cleaned_data["status"],
            not_done_reason=form.cleaned_data["not_done_reason"],
        )

    next_url = request.GET.get("next") == "dashboard"
    success_url = reverse("cases:home") if next_url else _case_url(case)
    return _form_page(
        request,
        form=form,
        save=save,
        case=case,
        title=f"Action: {action.description}",
        success_message="Action updated.",
        success_url=success_url,
        extra={"action": action},
    )
