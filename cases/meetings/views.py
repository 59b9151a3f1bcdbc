"""The MDT meeting screens: meetings, attendance and agenda; one case in the meeting (summary,
decision walk, outcome); the printable outcome.

Every page works without JavaScript (plain links and form posts, then a redirect). With htmx,
a request aimed at one of a page's partials (``HX-Target`` = the partial's DOM id) gets just that
partial, and an answer swaps the whole walk so the next card arrives with focus on its first
control. Each page and partial runs a fixed number of queries whatever the agenda's length.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field, replace
from typing import Any

from django.contrib import messages
from django.contrib.postgres.expressions import ArraySubquery
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.db.models import Count, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from cases.audit.access import access_log_record
from cases.common import data_version
from cases.common.kept_html import render_to_keep, serve
from cases.common.services import ConflictError
from cases.meetings import services as svc
from cases.meetings.forms import (
    ActionForm,
    AnswerForm,
    AttendanceForm,
    DeferForm,
    FactForm,
    FieldRow,
    MeetingForm,
    field_rows,
    initial_for,
)
from cases.meetings.walk import (
    AnswerError,
    Step,
    Walk,
    alert_for,
    build_walk,
    describe_answer,
    evaluate_answer,
    marker_facts,
)
from cases.models import (
    Action,
    AgendaItem,
    AgendaStatus,
    Attendance,
    Case,
    DataVersion,
    Decision,
    DecisionPoint,
    Meeting,
    Patient,
    Role,
    User,
)
from cases.pathway import add_days
from cases.records.forms import add_service_errors
from cases.records.mapping import age_on, last_bevacizumab_dose, rule_constants
from cases.records.selectors import (
    RECORD_READS,
    RecordAsRead,
    attach_people,
    attach_record,
    instances,
    json_rows,
    people_named,
    record_arrays,
)
from cases.records.timeline import timeline_for_case
from cases.security.permissions import Capability, capability_required, has_capability

C = Capability
FREEZE_HOURS = 24  # the agenda freezes this long before the meeting (late additions need a reason)
CASE_PARTIALS = ("case-summary", "walk", "outcome")


def _members() -> Any:
    """Staff who sit in an MDT or own its actions."""
    return User.objects.filter(
        is_active=True, role__in=[Role.CLINICIAN, Role.CHAIR, Role.COORDINATOR]
    ).order_by("last_name", "first_name", "username")


def _target(request: HttpRequest, allowed: tuple[str, ...]) -> str | None:
    target = request.htmx.target if getattr(request, "htmx", None) else None
    return target if target in allowed else None


# --- Meeting list and creation ---------------------------------------------------------------


@require_GET
@capability_required(C.VIEW_CLINICAL)
def meeting_list(request: HttpRequest) -> HttpResponse:
    return _meeting_list(request, MeetingForm(chairs=_chairs(), initial=_next_slot()))


def _chairs() -> Any:
    return User.objects.filter(is_active=True, role=Role.CHAIR).order_by("last_name", "username")


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
            Prefetch("attendances", queryset=Attendance.objects.only("discipline", "meeting_id"))
        )
        .order_by("-scheduled_for")[:100]
    )
    rows = [
        (meeting, svc.quorum_of(a.discipline for a in meeting.attendances.all()))
        for meeting in meetings
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
    form = MeetingForm(request.POST, chairs=_chairs())
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


# --- The meeting page: attendance, quorum, agenda --------------------------------------------


def _meeting_or_404(meeting_id: int) -> Meeting:
    meeting = Meeting.objects.select_related("chair").filter(pk=meeting_id).first()
    if meeting is None:
        raise Http404("No such meeting")
    return meeting


@require_GET
@capability_required(C.VIEW_CLINICAL)
def meeting_detail(request: HttpRequest, meeting_id: int) -> HttpResponse:
    meeting = _meeting_or_404(meeting_id)
    return _meeting_page(request, meeting)


# The tables each section of the meeting page reads: a section's HTML is kept while they are
# unchanged (cases/data_version.py), so a page viewed again reads and draws neither. The
# meeting's own row is drawn from too (only its id today, but a title or a status may follow).
AGENDA_READS = (Meeting, AgendaItem, Decision, Case, Patient)
ATTENDANCE_READS = (Meeting, Attendance, User)
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
) -> HttpResponse:
    """The page, or one section of it (``partial``) after a change made with htmx."""
    context = {
        "meeting": meeting,
        "can_manage": has_capability(request.user, C.MANAGE_MEETINGS),
        "problem": problem,
        "focus": focus,
        "focus_direction": request.POST.get("direction"),
    }
    if partial == "agenda":
        return render(request, AGENDA, context | _agenda(meeting), status=status)
    if partial == "attendance":
        section = _attendance(meeting, attendance_form)
        return render(request, ATTENDANCE, context | section, status=status)
    if problem or attendance_form:
        # Drawn again after a refused change, with its message and what was typed.
        section = _attendance(meeting, attendance_form)
        agenda_html = render_to_string(AGENDA, context | _agenda(meeting), request)
        attendance_html = render_to_string(ATTENDANCE, context | section, request)
        quorum = section["quorum"]
    else:
        agenda_html, attendance_html, quorum = _kept_sections(meeting, context["can_manage"])
        agenda_html, attendance_html = serve(request, agenda_html), serve(request, attendance_html)
    freeze_at = meeting.scheduled_for - dt.timedelta(hours=FREEZE_HOURS)
    page = {
        "agenda_html": agenda_html,
        "attendance_html": attendance_html,
        "quorum": quorum,
        "freeze_at": freeze_at,
        "frozen": timezone.now() >= freeze_at,
    }
    return render(request, "cases/meetings/meeting_detail.html", context | page, status=status)


def _agenda(meeting: Meeting) -> dict[str, Any]:
    items = (
        AgendaItem.objects.filter(meeting=meeting)
        .select_related("case__patient")
        .annotate(answered=Count("decisions", filter=Q(decisions__supersedes__isnull=True)))
        .order_by("position", "pk")
    )
    return {"items": list(items)}


def _attendance(meeting: Meeting, form: AttendanceForm | None) -> dict[str, Any]:
    attendances = list(
        Attendance.objects.filter(meeting=meeting)
        .select_related("member")
        .order_by("discipline", "member__last_name")
    )
    return {
        "attendances": attendances,
        "quorum": svc.quorum_of(a.discipline for a in attendances),
        "attendance_form": form or AttendanceForm(members=_members()),
    }


def _kept_sections(meeting: Meeting, can_manage: bool) -> tuple[str, str, svc.Quorum]:
    """The agenda and the attendance as any viewer with ``can_manage`` sees them, from the
    cache while the tables they read are unchanged, and the quorum with the attendance."""
    versions = data_version.versions()  # before the sections' data is read
    shown = {"meeting": meeting, "can_manage": can_manage}
    agenda_key = data_version.key("meeting-agenda", AGENDA_READS, versions, meeting.pk, can_manage)
    agenda = data_version.cached(
        agenda_key, lambda: render_to_keep(AGENDA, shown | _agenda(meeting))
    )

    def attendance() -> tuple[str, svc.Quorum]:
        section = _attendance(meeting, None)
        return render_to_keep(ATTENDANCE, shown | section), section["quorum"]

    attendance_key = data_version.key(
        "meeting-attendance", ATTENDANCE_READS, versions, meeting.pk, can_manage,
        ",".join(svc.core_disciplines()),
    )  # fmt: skip
    attendance_html, quorum = data_version.cached(attendance_key, attendance)
    return agenda, attendance_html, quorum


@require_POST
@capability_required(C.MANAGE_MEETINGS)
def attendance_record(request: HttpRequest, meeting_id: int) -> HttpResponse:
    meeting = _meeting_or_404(meeting_id)
    form = AttendanceForm(request.POST, members=_members())
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
    meeting = _meeting_or_404(meeting_id)
    problem, status = "", 200
    try:
        svc.attendance_remove(
            user=request.user, meeting_id=meeting.pk, member_id=_int(request.POST.get("member"))
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
    meeting = _meeting_or_404(meeting_id)
    problem, status, focus = "", 200, None
    try:
        if request.POST.get("order"):
            ids = [_int(part) for part in request.POST["order"].split(",")]
            svc.agenda_reorder(user=request.user, meeting_id=meeting.pk, item_ids=ids)
        else:
            focus = _int(request.POST.get("item"))
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


def _int(value: object) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        raise ValidationError("That request was malformed: reload the page.") from None


# --- One case in the meeting -------------------------------------------------------------------


@dataclass
class Card:
    step: Step
    mode: str  # answered, open, upcoming
    form: AnswerForm | None = None
    rows: list[FieldRow] = field(default_factory=list)
    conflict: str = ""
    posted_text: str = ""
    correcting: Decision | None = None
    show_override: bool = False
    autofocus: bool = False
    focus_id: str = ""  # the control that gets keyboard focus when the card opens


@dataclass
class CaseScreen:
    """Everything the case-in-meeting page or one of its partials draws, loaded in one query.

    ``attendances`` and ``actions`` are None when the partial it was loaded for shows neither.
    """

    item: AgendaItem
    case: Any
    decisions: list[Decision]
    walk: Walk
    attendances: list[Attendance] | None
    actions: list[Any] | None
    day: dt.date
    cards: list[Card] = field(default_factory=list)
    # The data versions read with the record (cases/data_version.py); None inside a transaction.
    versions: dict[str, str] | None = None

    @property
    def locked(self) -> bool:
        return self.item.signed_off_at is not None or self.item.status == AgendaStatus.DEFERRED

    @property
    def quorum(self) -> svc.Quorum:
        if self.attendances is None:
            raise RuntimeError("the meeting's attendance was not loaded for this partial")
        return svc.quorum_of(a.discipline for a in self.attendances)


def _item_or_404(item_id: int) -> AgendaItem:
    item = (
        AgendaItem.objects.select_related("meeting__chair", "signed_off_by", "listed_by")
        .filter(pk=item_id)
        .first()
    )
    if item is None:
        raise Http404("No such agenda item")
    return item


@functools.lru_cache(maxsize=16)  # one per partial
def _screen_query(partial: str | None) -> QuerySet[AgendaItem]:
    """The query ``_load`` runs for ``partial``, for any agenda item (filter it by pk). Cached:
    assembling a query of a dozen subqueries is a good part of a partial's time, and nothing in
    it depends on the request (an unevaluated queryset is only ever cloned by ``filter``)."""
    item_ref, meeting_ref = OuterRef("pk"), OuterRef("meeting_id")
    decisions = Decision.objects.filter(agenda_item=OuterRef(item_ref))
    # The case's agenda items and meetings feed only the timeline (the case summary).
    with_meetings = partial in (None, "case-summary")
    arrays = {
        **record_arrays(OuterRef("case_id"), with_meetings=with_meetings),
        "item_decisions": json_rows(Decision, agenda_item=item_ref),
        # Read in the same statement as the record, so they describe the same moment.
        "data_versions": Subquery(DataVersion.objects.filter(pk=1).values("versions")[:1]),
    }
    if _with_attendance(partial):
        actions = Action.objects.filter(agenda_item=OuterRef(item_ref))
        arrays["item_attendances"] = json_rows(Attendance, meeting=meeting_ref)
        arrays["item_actions"] = json_rows(Action, agenda_item=item_ref)
        arrays["item_people"] = people_named(decisions, actions)
    else:
        arrays["item_people"] = people_named(decisions)
    if partial is None:
        agenda = AgendaItem.objects.filter(meeting=meeting_ref).order_by("position", "pk")
        arrays["agenda_order"] = ArraySubquery(agenda.values("pk"))
    # Only the people these screens name: the chair (on the print) and who signed off. Every
    # join here is one more relation for PostgreSQL to order when it plans the query.
    related = ["meeting__chair" if partial is None else "meeting", "case__patient", "signed_off_by"]
    # One row: the default ordering would only cost Django time to compile.
    return AgendaItem.objects.select_related(*related).annotate(**arrays).order_by()


def _with_attendance(partial: str | None) -> bool:
    return partial in (None, "outcome")


def _load(item_id: int, partial: str | None = None) -> CaseScreen:
    """The agenda item, its case's clinical record, its decisions and the people who recorded
    them, in one query; for the whole page (``partial`` None) also the meeting's attendance,
    the item's actions and their owners, and the agenda's order; for the outcome partial the
    attendance and the actions. The walk and the case summary show none of them, and the case's
    past agenda items (for the timeline) are read for the page and the case summary only.
    """
    # The query is built once a process; only the agenda item's pk comes from this request.
    item = _screen_query(partial).filter(pk=item_id).first()
    if item is None:
        raise Http404("No such agenda item")
    versions = item.__dict__.pop("data_versions")
    if connection.in_atomic_block:
        versions = None  # this transaction's own writes are not in them yet
    case = attach_record(item.case, item)
    screen_decisions = instances(Decision, item.__dict__.pop("item_decisions"))
    attendances = actions = None
    if _with_attendance(partial):
        actions = instances(Action, item.__dict__.pop("item_actions"))
        attendances = instances(Attendance, item.__dict__.pop("item_attendances"))
    attach_people(screen_decisions, actions or [], item.__dict__.pop("item_people"))
    day = svc.meeting_day(item.meeting)
    walk = build_walk(case, screen_decisions, meeting_day=day)
    return CaseScreen(
        item, case, screen_decisions, walk, attendances, actions, day, versions=versions
    )


def _cards(
    request: HttpRequest,
    screen: CaseScreen,
    *,
    posted: dict[str, AnswerForm] | None = None,
    conflicts: dict[str, tuple[str, str]] | None = None,
    correct: str | None = None,
) -> list[Card]:
    """Answered cards, then one open card, then what is still to come.

    The open card is, in order of preference: the one just posted with an error, the one being
    corrected, or the first point still needing an answer. People who may not record decisions
    see its content without the form.
    """
    posted = posted or {}
    conflicts = conflicts or {}
    walk = screen.walk
    correcting = walk.step(correct) if correct else None
    if correcting is not None and not correcting.answered:
        correcting = None
    focus = next(iter(posted), None) or (correcting and correcting.point)
    if focus is None and walk.current is not None:
        focus = walk.current.point
    if screen.locked:
        focus = None
    can_record = has_capability(request.user, C.RECORD_DECISIONS)
    cards: list[Card] = []
    for step in walk.steps:
        conflict, posted_text = conflicts.get(step.point, ("", ""))
        if step.point != focus:
            mode = "answered" if step.answered else "upcoming"
            cards.append(Card(step, mode, conflict=conflict, posted_text=posted_text))
            continue
        card = Card(step, "open", conflict=conflict, posted_text=posted_text, autofocus=True)
        card.correcting = step.decision
        if step.point in posted:
            _preview(screen, step, posted[step.point])
        if can_record:
            initial = {**initial_for(step), "supersedes": step.decision and step.decision.pk}
            card.form = posted.get(step.point) or AnswerForm(step, initial=initial)
            card.rows = field_rows(card.form, step.dom_id)
            card.show_override = bool(step.hard_stops or card.form.errors.get("override_reason"))
            card.focus_id = _focus_id(card.rows)
        cards.append(card)
    return cards


def _focus_id(rows: list[FieldRow]) -> str:
    """The first control: in a radio group, the checked choice (arrow keys move from there)."""
    if not rows:
        return ""
    first = rows[0]
    if first.choices:
        checked = [c for c in first.choices if c.checked and first.spec.kind == "radio"]
        return (checked or first.choices)[0].dom_id
    return first.dom_id


def _preview(screen: CaseScreen, step: Step, form: AnswerForm) -> None:
    """Show the alerts of the answer that was just refused, not those of the pre-filled one."""
    if not hasattr(form, "cleaned_data"):
        return
    try:
        _step, _clean, evaluation = evaluate_answer(
            screen.case,
            screen.decisions,
            meeting_day=screen.day,
            point=step.point,
            answer=form.answer(),
        )
    except AnswerError:
        return
    step.alerts = [alert_for(c) for c in (*evaluation.hard_stops, *evaluation.warnings)]


def _case_context(
    request: HttpRequest, screen: CaseScreen, partial: str | None = None, **extra: Any
) -> dict[str, Any]:
    """What the page draws, or just what its ``partial`` draws (nothing is worked out for the
    other sections, whose data ``_load`` may have left out)."""
    item, case = screen.item, screen.case
    context = {
        "screen": screen,
        "item": item,
        "meeting": item.meeting,
        "case": case,
        "patient": case.patient,
        "walk": screen.walk,
        "cards": screen.cards,
        "locked": screen.locked,
        "plan": screen.walk.plan,
        "can_sign_off": has_capability(request.user, C.SIGN_OFF) and not screen.locked,
        "can_record": has_capability(request.user, C.RECORD_DECISIONS) and not screen.locked,
        "can_edit_facts": has_capability(request.user, C.EDIT_CASES) and not screen.locked,
        "can_manage": has_capability(request.user, C.MANAGE_MEETINGS) and not screen.locked,
        "is_chair": has_capability(request.user, C.OVERRIDE_HARD_STOPS),
        "page_url": reverse("cases:agenda-item-detail", args=[item.pk]),
    }
    if partial in (None, "case-summary"):
        context.update(_summary_context(screen))
    if partial in (None, "walk"):
        context["fact_form"] = extra.pop("fact_form", None) or FactForm()
        context["fact_versions"] = ",".join(
            f"{r.marker}:{r.version}" for r in case.molecular_results.all()
        )
    if partial in (None, "outcome"):
        context["quorum"] = screen.quorum
        context["outcome_rows"] = _outcome_rows(screen)
        context["action_form"] = extra.pop("action_form", None) or ActionForm(
            owners=_members(), initial={"due_on": screen.day + dt.timedelta(days=14)}
        )
        context["defer_form"] = extra.pop("defer_form", None) or DeferForm()
    if partial is None:
        order = item.agenda_order  # loaded with the item for the whole page (``_load``)
        index = order.index(item.pk)
        context["position"] = index + 1
        context["count"] = len(order)
        context["previous_id"] = order[index - 1] if index > 0 else None
        context["next_id"] = order[index + 1] if index + 1 < len(order) else None
    context.update(extra)
    return context


def _summary_context(screen: CaseScreen) -> dict[str, Any]:
    """The case summary: facts, molecular profile, treatment, latest reassessment, timeline."""
    case = screen.case
    last_bev = last_bevacizumab_dose(case)
    reassessments = sorted(case.reassessments.all(), key=lambda r: r.cycle)
    courses = [c for c in case.treatment_courses.all() if c.stopped_on is None]
    return {
        "markers": marker_facts(case),
        "course": max(courses, key=lambda c: c.started_on, default=None),
        "last_bev": last_bev,
        "earliest_surgery": (
            add_days(last_bev, rule_constants().bev_min_days) if last_bev else None
        ),
        "latest_reassessment": reassessments[-1] if reassessments else None,
        "timeline": timeline_for_case(case, today=screen.day),
        "age": age_on(case.patient.date_of_birth, screen.day),
    }


def _outcome_rows(screen: CaseScreen) -> list[dict[str, Any]]:
    rows = []
    for step in screen.walk.steps:
        d = step.decision
        rows.append(
            {
                "step": step,
                "decision": d,
                "answer": step.answer_text if d else "",
                "recommended": step.recommended_text,
            }
        )
    return rows


def _render_case(
    request: HttpRequest,
    screen: CaseScreen,
    *,
    partial: str | None = None,
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    template = "cases/meetings/meeting_case.html"
    if partial:
        template += f"#{partial}"
    context = _case_context(request, screen, partial, **extra)
    return render(request, template, context, status=status)


@require_GET
@capability_required(C.VIEW_CLINICAL)
def agenda_item_detail(request: HttpRequest, item_id: int) -> HttpResponse:
    partial = _target(request, CASE_PARTIALS)
    screen = _load(item_id, partial)
    access_log_record(user=request.user, case_id=screen.item.case_id, context="meeting")
    correct = request.GET.get("correct") or None
    if correct and correct not in DecisionPoint.values:
        correct = None
    screen.cards = _cards(request, screen, correct=correct)
    return _render_case(request, screen, partial=partial)


@require_POST
@capability_required(C.RECORD_DECISIONS)
def decision_record(request: HttpRequest, item_id: int, point: str) -> HttpResponse:
    """Record (or, with ``supersedes``, correct) the answer to one decision point."""
    screen = _load(item_id, _drawn(request, "walk"))
    item = screen.item
    # Every answer form names the case it was shown for: an answer typed into a stale tab or
    # window of another patient is refused, never recorded against this one (hazard H04c).
    if request.POST.get("patient_check") != screen.case.reference:
        problem = (
            f"This answer was not given on {screen.case.reference}'s screen, so it was not "
            "recorded. Check the patient's name at the top of the card and answer again."
        )
        return _case_response(request, screen, status=409, walk_problem=problem)
    step = screen.walk.step(point)
    if step is None:
        problem = "That decision point does not apply to this case any more."
        return _case_response(request, screen, status=422, walk_problem=problem)
    form = AnswerForm(step, request.POST)
    if not form.is_valid():
        return _case_response(request, screen, posted={point: form}, status=422)
    # The answer is checked against the record read above unless a commit has changed it since.
    record = RecordAsRead(screen.case, screen.versions)
    try:
        if form.cleaned_data.get("supersedes"):
            answered = svc.decision_correct(
                user=request.user,
                agenda_item_id=item.pk,
                point=point,
                decision_id=form.cleaned_data["supersedes"],
                answer=form.answer(),
                correction_reason=form.cleaned_data["correction_reason"],
                deviation_reason=form.cleaned_data["deviation_reason"],
                override_reason=form.cleaned_data["override_reason"],
                record=record,
            )
        else:
            answered = svc.decision_record(
                user=request.user,
                agenda_item_id=item.pk,
                point=point,
                answer=form.answer(),
                deviation_reason=form.cleaned_data["deviation_reason"],
                override_reason=form.cleaned_data["override_reason"],
                record=record,
            )
    except ValidationError as error:
        add_service_errors(form, error)
        shown = _as_committed(screen, item_id, _drawn(request, "walk"))
        return _case_response(request, shown, posted={point: form}, status=422)
    except ConflictError as error:
        fresh = _load(item_id, _drawn(request, "walk"))
        text = describe_answer(point, form.answer())
        return _case_response(request, fresh, conflicts={point: (str(error), text)}, status=409)
    # Success: htmx swaps in the walk; a plain post is redirected to the walk's next card.
    return _case_response(request, _answered_screen(screen, answered), event="decision-recorded")


def _as_committed(screen: CaseScreen, item_id: int, partial: str | None) -> CaseScreen:
    """``screen``, or the screen read again when a commit has changed its record since: an
    answer the service refused on newer facts is shown against those facts (hazard H05f)."""
    if data_version.unchanged(RECORD_READS, screen.versions, data_version.versions()):
        return screen
    return _load(item_id, partial)


def _answered_screen(screen: CaseScreen, answered: svc.Answered) -> CaseScreen:
    """The screen as the answer left it, from what the service read under the agenda item's
    lock (every decision of the item, and the record the answer was checked against): nothing
    is read again."""
    walk = build_walk(answered.record, answered.decisions, meeting_day=screen.day)
    return replace(screen, case=answered.record, decisions=answered.decisions, walk=walk, cards=[])


def _drawn(request: HttpRequest, partial: str) -> str | None:
    """What ``_case_response`` draws after a write: the partial for htmx, else the page."""
    return partial if request.htmx else None


def _case_response(
    request: HttpRequest,
    screen: CaseScreen,
    *,
    posted: dict[str, AnswerForm] | None = None,
    conflicts: dict[str, tuple[str, str]] | None = None,
    status: int = 200,
    event: str = "",
    partial: str = "walk",
    **extra: Any,
) -> HttpResponse:
    """After a write: the partial (htmx), the redirect (success) or the page with the message."""
    if status == 200 and not request.htmx:
        anchor = screen.walk.current.dom_id if screen.walk.current else "outcome"
        return redirect(reverse("cases:agenda-item-detail", args=[screen.item.pk]) + f"#{anchor}")
    screen.cards = _cards(request, screen, posted=posted, conflicts=conflicts)
    response = _render_case(
        request, screen, partial=_drawn(request, partial), status=status, **extra
    )
    if event:
        trigger_client_event(response, event)
    return response


@require_POST
@capability_required(C.EDIT_CASES)
def meeting_fact_correct(request: HttpRequest, item_id: int) -> HttpResponse:
    item = _item_or_404(item_id)
    form = FactForm(request.POST)
    status = 422
    if form.is_valid():
        try:
            svc.meeting_fact_correct(
                user=request.user,
                agenda_item_id=item.pk,
                marker=form.cleaned_data["marker"],
                status=form.cleaned_data["status"],
                reported_on=form.cleaned_data["reported_on"],
                method=form.cleaned_data["method"],
                expected_version=form.expected_version(),
            )
        except ValidationError as error:
            add_service_errors(form, error)
        except ConflictError as error:
            form.add_error(None, str(error))
            status = 409
        else:
            return _case_response(request, _load(item.pk, "walk"), event="fact-changed")
    screen = _load(item.pk, _drawn(request, "walk"))
    return _case_response(request, screen, status=status, fact_form=form, fact_open=True)


@require_POST
@capability_required(C.RECORD_DECISIONS)
def action_create(request: HttpRequest, item_id: int) -> HttpResponse:
    item = _item_or_404(item_id)
    form = ActionForm(request.POST, owners=_members())
    if form.is_valid():
        try:
            svc.action_create(
                user=request.user,
                agenda_item_id=item.pk,
                description=form.cleaned_data["description"],
                owner_id=form.cleaned_data["owner"].pk,
                due_on=form.cleaned_data["due_on"],
            )
        except ValidationError as error:
            add_service_errors(form, error)
        except ConflictError as error:
            form.add_error(None, str(error))
        else:
            if not request.htmx:
                return redirect(reverse("cases:agenda-item-detail", args=[item.pk]) + "#outcome")
            return _case_response(request, _load(item.pk, "outcome"), partial="outcome", status=201)
    screen = _load(item.pk, _drawn(request, "outcome"))
    return _case_response(request, screen, partial="outcome", status=422, action_form=form)


@require_POST
@capability_required(C.MANAGE_MEETINGS)
def agenda_item_defer(request: HttpRequest, item_id: int) -> HttpResponse:
    item = _item_or_404(item_id)
    form = DeferForm(request.POST)
    if form.is_valid():
        try:
            svc.agenda_item_defer(
                user=request.user, agenda_item_id=item.pk, reason=form.cleaned_data["reason"]
            )
        except ValidationError as error:
            add_service_errors(form, error)
        except ConflictError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "The case was deferred from this meeting.")
            return _redirect_page(request, item)
    screen = _load(item.pk, _drawn(request, "outcome"))
    return _case_response(request, screen, partial="outcome", status=422, defer_form=form)


@require_POST
@capability_required(C.SIGN_OFF)
def outcome_sign_off(request: HttpRequest, item_id: int) -> HttpResponse:
    item = _item_or_404(item_id)
    try:
        result = svc.outcome_sign_off(user=request.user, agenda_item_id=item.pk)
    except (ValidationError, ConflictError, PermissionDenied) as error:
        text = " ".join(error.messages) if isinstance(error, ValidationError) else str(error)
        screen = _load(item.pk, _drawn(request, "outcome"))
        return _case_response(request, screen, partial="outcome", status=409, sign_off_problem=text)
    when = (
        f" Next reassessment due {result.next_reassessment_on:%d %b %Y}."
        if result.next_reassessment_on
        else ""
    )
    messages.success(request, f"Outcome signed off and locked.{when}")
    return _redirect_page(request, item)


def _redirect_page(request: HttpRequest, item: AgendaItem) -> HttpResponse:
    url = reverse("cases:agenda-item-detail", args=[item.pk]) + "#outcome"
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@require_GET
@capability_required(C.VIEW_CLINICAL)
def outcome_print(request: HttpRequest, item_id: int) -> HttpResponse:
    screen = _load(item_id)
    item = screen.item
    access_log_record(user=request.user, case_id=item.case_id, context="meeting-print")
    attendances = list(
        Attendance.objects.filter(meeting_id=item.meeting_id)
        .select_related("member")
        .order_by("discipline")
    )
    context = _case_context(request, screen)
    context["attendance_list"] = attendances
    context["printed_at"] = timezone.now()
    return render(request, "cases/meetings/meeting_print.html", context)
