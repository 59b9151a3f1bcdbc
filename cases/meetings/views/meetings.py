"""The meeting screens: the list of meetings, a new meeting, and the meeting page with its
attendance, quorum and agenda."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Prefetch, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from cases.audit.access import access_list_record
from cases.common import data_version
from cases.common.forms import add_service_errors
from cases.common.kept_html import render_to_keep, serve
from cases.common.services import ConflictError
from cases.meetings import services as svc
from cases.meetings.forms import (
    AttendanceForm,
    MeetingForm,
    MeetingOpenForm,
    PresenceForm,
)
from cases.meetings.selectors import (
    Quorum,
    agenda_frozen_at,
    agenda_rows,
    attendance_rows,
    chairs,
    core_disciplines,
    meeting_day,
    members,
    minutes_rows,
    present_disciplines,
    quorum_of,
)
from cases.models import (
    AgendaItem,
    Attendance,
    Case,
    Decision,
    Meeting,
    Patient,
    SeriesMember,
    User,
)
from cases.security.permissions import Capability, capability_required, has_capability

C = Capability


@require_GET
@capability_required(C.VIEW_CLINICAL)
def meeting_list(request: HttpRequest) -> HttpResponse:
    return _meeting_list(request, MeetingForm(chairs=chairs(), initial=_next_slot()))


def _next_slot() -> dict[str, Any]:
    next_week = timezone.localdate() + dt.timedelta(days=7)
    return {"scheduled_for": dt.datetime.combine(next_week, dt.time(8)).strftime("%Y-%m-%dT%H:%M")}


def _meeting_list(request: HttpRequest, form: MeetingForm, status: int = 200) -> HttpResponse:
    meetings = (
        Meeting.objects.select_related("chair")
        .annotate(
            cases=Count("agenda_items", distinct=True),
            signed=Count(
                "agenda_items", filter=Q(agenda_items__signed_off_at__isnull=False), distinct=True
            ),
        )
        .prefetch_related(
            Prefetch(
                "attendances",
                queryset=Attendance.objects.only("discipline", "presence", "meeting_id"),
            )
        )
        .order_by("-scheduled_for")[:100]
    )
    rows = [
        (meeting, quorum_of(present_disciplines(meeting.attendances.all()))) for meeting in meetings
    ]
    return render(
        request,
        "cases/meetings/meeting_list.html",
        {
            "rows": rows,
            "form": form,
            "can_manage": has_capability(request.user, C.MANAGE_MEETINGS),
            "now": timezone.now(),
        },
        status=status,
    )


@require_POST
@capability_required(C.MANAGE_MEETINGS)
def meeting_create(request: HttpRequest) -> HttpResponse:
    form = MeetingForm(request.POST, chairs=chairs())
    if form.is_valid():
        try:
            meeting = svc.meeting_create(
                user=request.user,
                scheduled_for=form.cleaned_data["scheduled_for"],
                chair_id=form.cleaned_data["chair"].pk,
                title=form.cleaned_data["title"],
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"Meeting created: {meeting}.")
            return redirect("cases:meeting-detail", meeting_id=meeting.pk)
    return _meeting_list(request, form, status=422)


def meeting_or_404(meeting_id: int) -> Meeting:
    meeting = (
        Meeting.objects.select_related("chair", "opened_by", "closed_by", "series")
        .filter(pk=meeting_id)
        .first()
    )
    if meeting is None:
        raise Http404("No such meeting")
    return meeting


@require_GET
@capability_required(C.VIEW_CLINICAL)
def meeting_detail(request: HttpRequest, meeting_id: int) -> HttpResponse:
    meeting = meeting_or_404(meeting_id)
    return _meeting_page(request, meeting)


# The tables each section of the meeting page reads: a section's HTML is kept while they are
# unchanged (cases/data_version.py), so a page viewed again reads and draws neither. The
# meeting's own row is drawn from too (only its id today, but a title or a status may follow).
AGENDA_READS = (Meeting, AgendaItem, Decision, Case, Patient)


ATTENDANCE_READS = (Meeting, Attendance, User, SeriesMember)


AGENDA = "cases/meetings/meeting_detail.html#agenda"


ATTENDANCE = "cases/meetings/meeting_detail.html#attendance"


def _meeting_page(
    request: HttpRequest,
    meeting: Meeting,
    *,
    attendance_form: AttendanceForm | None = None,
    problem: str = "",
    partial: str | None = None,
    status: int = 200,
    focus: int | None = None,
    open_form: MeetingOpenForm | None = None,
    lifecycle_problem: str = "",
) -> HttpResponse:
    """The page, or one section of it (``partial``) after a change made with htmx."""
    context = {
        "meeting": meeting,
        "can_manage": has_capability(request.user, C.MANAGE_MEETINGS),
        "can_chair": has_capability(request.user, C.SIGN_OFF),
        "problem": problem,
        "focus": focus,
        "focus_direction": request.POST.get("direction"),
        "open_form": open_form or MeetingOpenForm(),
        "lifecycle_problem": lifecycle_problem,
        "before_day": timezone.localdate() < meeting_day(meeting),
        "day": meeting_day(meeting),
    }
    if partial == "agenda":
        return render(request, AGENDA, context | agenda_rows(meeting), status=status)
    if partial == "attendance":
        section = _attendance_section(meeting, attendance_form, focus)
        return render(request, ATTENDANCE, context | section, status=status)
    if problem or attendance_form:
        # Drawn again after a refused change, with its message and what was typed.
        section = _attendance_section(meeting, attendance_form, focus)
        agenda_html = render_to_string(AGENDA, context | agenda_rows(meeting), request)
        attendance_html = render_to_string(ATTENDANCE, context | section, request)
        quorum = section["quorum"]
    else:
        agenda_html, attendance_html, quorum = _kept_sections(meeting, context["can_manage"])
        agenda_html, attendance_html = serve(request, agenda_html), serve(request, attendance_html)
    freeze_at = agenda_frozen_at(meeting)
    page = {
        "agenda_html": agenda_html,
        "attendance_html": attendance_html,
        "quorum": quorum,
        "freeze_at": freeze_at,
        "frozen": timezone.now() >= freeze_at,
    }
    return render(request, "cases/meetings/meeting_detail.html", context | page, status=status)


def _kept_sections(meeting: Meeting, can_manage: bool) -> tuple[str, str, Quorum]:
    """The agenda and the attendance as any viewer with ``can_manage`` sees them, from the
    cache while the tables they read are unchanged, and the quorum with the attendance."""
    versions = data_version.versions()  # before the sections' data is read
    shown = {"meeting": meeting, "can_manage": can_manage}
    agenda_key = data_version.key("meeting-agenda", AGENDA_READS, versions, meeting.pk, can_manage)
    agenda = data_version.cached(
        agenda_key, lambda: render_to_keep(AGENDA, shown | agenda_rows(meeting))
    )

    def attendance() -> tuple[str, Quorum]:
        section = _attendance_section(meeting, None)
        return render_to_keep(ATTENDANCE, shown | section), section["quorum"]

    attendance_key = data_version.key(
        "meeting-attendance", ATTENDANCE_READS, versions, meeting.pk, can_manage,
        ",".join(core_disciplines()),
    )  # fmt: skip
    attendance_html, quorum = data_version.cached(attendance_key, attendance)
    return agenda, attendance_html, quorum


@require_POST
@capability_required(C.MANAGE_MEETINGS)
def attendance_record(request: HttpRequest, meeting_id: int) -> HttpResponse:
    meeting = meeting_or_404(meeting_id)
    form = AttendanceForm(request.POST, members=members())
    problem, status = "", 200
    if form.is_valid():
        member = form.cleaned_data["member"]
        discipline = form.cleaned_data["discipline"] or member.discipline
        try:
            svc.attendance_record(
                user=request.user, meeting_id=meeting.pk, member_id=member.pk, discipline=discipline
            )
        except ValidationError as error:
            add_service_errors(form, error)
            status = 422
        except ConflictError as error:
            problem, status = str(error), 409
        else:
            form = None
    else:
        status = 422
    return _after_meeting_change(request, meeting, "attendance", status, problem, form)


@require_POST
@capability_required(C.MANAGE_MEETINGS)
def attendance_remove(request: HttpRequest, meeting_id: int) -> HttpResponse:
    meeting = meeting_or_404(meeting_id)
    problem, status = "", 200
    try:
        svc.attendance_remove(
            user=request.user,
            meeting_id=meeting.pk,
            member_id=parse_int(request.POST.get("member")),
        )
    except ValidationError as error:
        problem, status = " ".join(error.messages), 422
    except ConflictError as error:
        problem, status = str(error), 409
    return _after_meeting_change(request, meeting, "attendance", status, problem)


@require_POST
@capability_required(C.MANAGE_MEETINGS)
def agenda_reorder(request: HttpRequest, meeting_id: int) -> HttpResponse:
    """Move one case up or down (buttons), or set the whole order (``order`` = ids)."""
    meeting = meeting_or_404(meeting_id)
    problem, status, focus = "", 200, None
    try:
        if request.POST.get("order"):
            ids = [parse_int(part) for part in request.POST["order"].split(",")]
            svc.agenda_reorder(user=request.user, meeting_id=meeting.pk, item_ids=ids)
        else:
            focus = parse_int(request.POST.get("item"))
            if not AgendaItem.objects.filter(pk=focus, meeting=meeting).exists():
                raise ValidationError("That case is not on this meeting's agenda.")
            offset = -1 if request.POST.get("direction") == "up" else 1
            svc.agenda_item_move(user=request.user, agenda_item_id=focus, offset=offset)
    except ConflictError as error:
        problem, status = str(error), 409
    except ValidationError as error:
        problem, status = " ".join(error.messages), 422
    return _after_meeting_change(request, meeting, "agenda", status, problem, focus=focus)


def _after_meeting_change(
    request: HttpRequest,
    meeting: Meeting,
    partial: str,
    status: int,
    problem: str,
    form: AttendanceForm | None = None,
    focus: int | None = None,
) -> HttpResponse:
    if request.htmx:
        return _meeting_page(
            request,
            meeting,
            attendance_form=form,
            problem=problem,
            partial=partial,
            status=status,
            focus=focus,
        )
    if status == 200:
        return redirect(reverse("cases:meeting-detail", args=[meeting.pk]) + f"#{partial}")
    if problem:
        messages.error(request, problem)
    return _meeting_page(request, meeting, attendance_form=form, problem=problem, status=status)


def parse_int(value: object) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        raise ValidationError("That request was malformed: reload the page.") from None


def _attendance_section(
    meeting: Meeting, form: AttendanceForm | None, marked: int | None = None
) -> dict[str, Any]:
    """The attendance, its quorum, and the forms to mark someone present. After ``marked``
    (a member's id) was marked, keyboard focus moves on to the next expected member."""
    rows = attendance_rows(meeting)
    ids = [row.core.member_id for row in rows["expected"]]
    following = ids[ids.index(marked) + 1 :] if marked in ids else []
    return rows | {
        "attendance_form": form or AttendanceForm(members=members()),
        "staff": list(members()),
        "focus_member": following[0] if following else None,
    }


@require_POST
@capability_required(C.MANAGE_MEETINGS)
def attendance_mark(request: HttpRequest, meeting_id: int) -> HttpResponse:
    """One click on an expected member's row: present, apologies, or deputy (with who)."""
    meeting = meeting_or_404(meeting_id)
    form = PresenceForm(request.POST)
    problem, status, marked = "", 200, None
    if form.is_valid():
        marked = form.cleaned_data["member"]
        try:
            if form.cleaned_data["presence"] == "deputy":
                svc.attendance_deputy(
                    user=request.user,
                    meeting_id=meeting.pk,
                    member_id=marked,
                    deputy_id=form.cleaned_data["deputy"],
                )
            else:
                svc.attendance_mark(
                    user=request.user,
                    meeting_id=meeting.pk,
                    member_id=marked,
                    presence=form.cleaned_data["presence"],
                )
        except ValidationError as error:
            problem, status = " ".join(error.messages), 422
        except ConflictError as error:
            problem, status = str(error), 409
    else:
        problem = " ".join(m for errors in form.errors.values() for m in errors)
        status = 422
    return _after_meeting_change(request, meeting, "attendance", status, problem, focus=marked)


# --- Opening, closing and the minutes --------------------------------------------------------


@require_POST
@capability_required(C.SIGN_OFF)
def meeting_open(request: HttpRequest, meeting_id: int) -> HttpResponse:
    meeting = meeting_or_404(meeting_id)
    form = MeetingOpenForm(request.POST)
    problem, status = "", 422
    if form.is_valid():
        try:
            svc.meeting_open(
                user=request.user,
                meeting_id=meeting.pk,
                early_reason=form.cleaned_data["early_reason"],
            )
        except ValidationError as error:
            add_service_errors(form, error)
        except ConflictError as error:
            problem, status = str(error), 409
        else:
            messages.success(request, "The meeting is open: outcomes can be signed off.")
            return redirect("cases:meeting-detail", meeting_id=meeting.pk)
    return _meeting_page(request, meeting, open_form=form, lifecycle_problem=problem, status=status)


@require_POST
@capability_required(C.SIGN_OFF)
def meeting_close(request: HttpRequest, meeting_id: int) -> HttpResponse:
    meeting = meeting_or_404(meeting_id)
    try:
        svc.meeting_close(user=request.user, meeting_id=meeting.pk)
    except ValidationError as error:
        problem, status = " ".join(error.messages), 422
    except ConflictError as error:
        problem, status = str(error), 409
    else:
        messages.success(request, "The meeting is closed and its minutes are final.")
        return redirect("cases:meeting-minutes", meeting_id=meeting.pk)
    return _meeting_page(request, meeting, lifecycle_problem=problem, status=status)


@require_GET
@capability_required(C.VIEW_CLINICAL)
def meeting_minutes(request: HttpRequest, meeting_id: int) -> HttpResponse:
    """The minutes: attendance, each outcome, the deferrals and the discussion notes; final
    once the meeting is closed, a draft before. Printable (the browser's Print command)."""
    meeting = meeting_or_404(meeting_id)
    minutes = minutes_rows(meeting)
    access_list_record(
        user=request.user,
        case_ids=[row.item.case_id for row in minutes["rows"]],
        context="meeting-minutes",
    )
    context = minutes | {"meeting": meeting, "printed_at": timezone.now()}
    return render(request, "cases/meetings/meeting_minutes.html", context)
