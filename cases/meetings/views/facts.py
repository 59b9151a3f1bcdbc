"""Facts corrected in the meeting that wait for the chair (issue 18, finding 2): the list of a
case's corrections awaiting confirmation, and the chair's confirmation of one."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from cases.audit.access import access_log_record
from cases.common.services import ConflictError
from cases.meetings import services as svc
from cases.models import AgendaItem, FactCorrection, FactCorrectionState, Marker, MarkerStatus
from cases.security.permissions import Capability, capability_required, has_capability


def _label(choices, value: str) -> str:
    return choices(value).label if value in choices.values else (value or "none")


def awaiting_chair_message(correction: FactCorrection) -> str:
    return (
        f"{_label(Marker, correction.marker)} {_label(MarkerStatus, correction.new_status)}: "
        "sent to the chair for confirmation. The record and the advice change when the chair "
        "confirms it (Facts awaiting the chair)."
    )


@require_GET
@capability_required(Capability.VIEW_CLINICAL)
def fact_correction_list(request: HttpRequest, item_id: int) -> HttpResponse:
    item = AgendaItem.objects.select_related("case").filter(pk=item_id).first()
    if item is None:
        raise Http404("No such agenda item")
    access_log_record(user=request.user, case_id=item.case_id, context="meeting-facts")
    corrections = [
        {
            "pk": c.pk,
            "fact": _label(Marker, c.marker),
            "old": _label(MarkerStatus, c.old_status),
            "new": _label(MarkerStatus, c.new_status),
            "by": c.requested_by.get_full_name() or c.requested_by.username,
            "at": c.requested_at,
        }
        for c in FactCorrection.objects.filter(
            agenda_item=item, state=FactCorrectionState.AWAITING_CHAIR
        ).select_related("requested_by")
    ]
    context = {
        "item": item,
        "corrections": corrections,
        "may_confirm": has_capability(request.user, Capability.OVERRIDE_HARD_STOPS),
    }
    return render(request, "cases/meetings/fact_corrections.html", context)


@require_POST
@capability_required(Capability.OVERRIDE_HARD_STOPS)
def fact_correction_confirm(request: HttpRequest, item_id: int, correction_id: int) -> HttpResponse:
    if not AgendaItem.objects.filter(pk=item_id).exists():
        raise Http404("No such agenda item")
    try:
        correction = svc.meeting_fact_confirm(
            user=request.user, agenda_item_id=item_id, correction_id=correction_id
        )
    except (ValidationError, ConflictError) as error:
        messages.error(request, " ".join(getattr(error, "messages", [str(error)])))
        return redirect(reverse("cases:fact-correction-list", args=[item_id]))
    messages.success(
        request,
        f"{_label(Marker, correction.marker)} {_label(MarkerStatus, correction.new_status)}: "
        "confirmed and recorded.",
    )
    return redirect(reverse("cases:agenda-item-detail", args=[item_id]))
