"""Listing a case on a meeting's agenda: the completeness check and the freeze first."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from cases import models
from cases.audit.access import access_log_record
from cases.common.forms import add_service_errors
from cases.meetings.agenda import agenda_item_add
from cases.meetings.forms import AgendaListingForm
from cases.meetings.selectors import agenda_frozen_at, completeness_day
from cases.records.completeness import missing_minimum_dataset
from cases.records.selectors import case_clinical_record
from cases.security.permissions import Capability, capability_required


def _listable_meetings() -> Any:
    start_of_today = timezone.make_aware(
        dt.datetime.combine(timezone.localdate(), dt.time.min), timezone.get_current_timezone()
    )
    return models.Meeting.objects.filter(
        ~Q(status=models.MeetingStatus.CLOSED), scheduled_for__gte=start_of_today
    ).order_by("scheduled_for", "id")


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


@capability_required(Capability.LIST_CASES)
@require_http_methods(["GET", "POST"])
def agenda_add(request: HttpRequest, case_id: int) -> HttpResponse:
    """List a case on a meeting, after the completeness check (and the freeze check)."""
    case = get_object_or_404(models.Case.objects.select_related("patient"), pk=case_id)
    access_log_record(user=request.user, case_id=case.pk, context="agenda-listing")
    meetings = _listable_meetings()
    form = AgendaListingForm(
        request.POST if request.method == "POST" else None,
        meetings=meetings,
        initial={"meeting": meetings.first()},
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            meeting = form.cleaned_data["meeting"]
            try:
                item = agenda_item_add(
                    user=request.user,
                    meeting_id=meeting.pk,
                    case_id=case.pk,
                    late_reason=form.cleaned_data["late_reason"],
                    incomplete_reason=form.cleaned_data["incomplete_reason"],
                    clinical_question=form.cleaned_data["clinical_question"],
                )
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(
                    request,
                    f"{case.reference} listed as item {item.position} on {meeting}.",
                )
                return redirect(_safe_next(request, reverse("cases:case-detail", args=[case.pk])))
        status = 422
    chosen = form.cleaned_data.get("meeting") if form.is_bound and form.is_valid() else None
    meeting = chosen or meetings.first()
    missing: list[str] = []
    if meeting is not None:
        today = timezone.localdate()
        missing = missing_minimum_dataset(
            case_clinical_record(case_id=case.pk), today=completeness_day(meeting, today=today)
        )
    context = {
        "case": case,
        "form": form,
        "meeting": meeting,
        "missing": missing,
        "frozen": meeting is not None and timezone.now() >= agenda_frozen_at(meeting),
        "frozen_at": agenda_frozen_at(meeting) if meeting else None,
        "next": _safe_next(request, ""),
    }
    return render(request, "cases/meetings/agenda_add.html", context, status=status)
