"""The core members of a meeting series: the list the coordinator keeps, from which each
meeting's attendance lists who is expected."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from cases.common.forms import add_service_errors
from cases.common.services import ConflictError
from cases.meetings import services as svc
from cases.meetings.forms import SeriesMemberForm
from cases.meetings.selectors import members, series_members
from cases.meetings.views.meetings import parse_int
from cases.models import MeetingSeries
from cases.security.permissions import Capability, capability_required, has_capability

C = Capability


def series_or_404(series_id: int) -> MeetingSeries:
    series = MeetingSeries.objects.filter(pk=series_id).first()
    if series is None:
        raise Http404("No such meeting series")
    return series


def _page(
    request: HttpRequest,
    series: MeetingSeries,
    form: SeriesMemberForm | None = None,
    problem: str = "",
    status: int = 200,
) -> HttpResponse:
    context = {
        "series": series,
        "core": series_members(series.pk),
        "form": form or SeriesMemberForm(members=members()),
        "can_manage": has_capability(request.user, C.MANAGE_MEETINGS),
        "problem": problem,
    }
    return render(request, "cases/meetings/series_members.html", context, status=status)


@require_GET
@capability_required(C.VIEW_CLINICAL)
def series_member_list(request: HttpRequest, series_id: int) -> HttpResponse:
    return _page(request, series_or_404(series_id))


@require_POST
@capability_required(C.MANAGE_MEETINGS)
def series_member_add(request: HttpRequest, series_id: int) -> HttpResponse:
    series = series_or_404(series_id)
    form = SeriesMemberForm(request.POST, members=members())
    if form.is_valid():
        member = form.cleaned_data["member"]
        try:
            svc.series_member_add(
                user=request.user,
                series_id=series.pk,
                member_id=member.pk,
                discipline=form.cleaned_data["discipline"] or member.discipline,
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"{member} is a core member of the {series}.")
            return redirect("cases:series-members", series_id=series.pk)
    return _page(request, series, form=form, status=422)


@require_POST
@capability_required(C.MANAGE_MEETINGS)
def series_member_remove(request: HttpRequest, series_id: int) -> HttpResponse:
    series = series_or_404(series_id)
    try:
        member_id = parse_int(request.POST.get("member"))
        svc.series_member_remove(user=request.user, series_id=series.pk, member_id=member_id)
    except (ValidationError, ConflictError) as error:
        text = " ".join(error.messages) if isinstance(error, ValidationError) else str(error)
        return _page(request, series, problem=text, status=422)
    messages.success(request, "Removed from the core members.")
    return redirect("cases:series-members", series_id=series.pk)
