"""One case in the meeting: the screen, an answer to a decision point, a fact corrected on a
card, an action, a deferral, the sign-off and the printable outcome."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from cases.audit.access import access_log_record
from cases.common import data_version
from cases.common.forms import add_service_errors
from cases.common.services import ConflictError
from cases.meetings import actions
from cases.meetings import services as svc
from cases.meetings.forms import (
    ActionForm,
    AnswerForm,
    DeferForm,
    FactForm,
    NotesForm,
    QuestionForm,
)
from cases.meetings.selectors import (
    CaseScreen,
    case_screen,
    members,
)
from cases.meetings.views.cards import (
    CASE_PARTIALS,
    cards_for,
    case_context,
    htmx_target,
    preview_card,
    render_case,
)
from cases.meetings.views.facts import awaiting_chair_message
from cases.meetings.walk import (
    describe_answer,
)
from cases.models import (
    AgendaItem,
    Attendance,
    DecisionPoint,
    FactCorrectionState,
    Presence,
)
from cases.records.selectors import (
    RECORD_READS,
    RecordAsRead,
)
from cases.security.permissions import Capability, capability_required

C = Capability


def item_or_404(item_id: int) -> AgendaItem:
    item = (
        AgendaItem.objects.select_related("meeting__chair", "signed_off_by", "listed_by")
        .filter(pk=item_id)
        .first()
    )
    if item is None:
        raise Http404("No such agenda item")
    return item


@require_GET
@capability_required(C.VIEW_CLINICAL)
def agenda_item_detail(request: HttpRequest, item_id: int) -> HttpResponse:
    partial = htmx_target(request, CASE_PARTIALS)
    screen = case_screen(item_id, partial)
    access_log_record(user=request.user, case_id=screen.item.case_id, context="meeting")
    correct = request.GET.get("correct") or None
    if correct and correct not in DecisionPoint.values:
        correct = None
    screen.cards = cards_for(request, screen, correct=correct)
    return render_case(request, screen, partial=partial)


@require_POST
@capability_required(C.RECORD_DECISIONS)
def decision_record(request: HttpRequest, item_id: int, point: str) -> HttpResponse:
    """Record (or, with ``supersedes``, correct) the answer to one decision point."""
    screen = case_screen(item_id, drawn(request, "walk"))
    item = screen.item
    # Every answer form names the case it was shown for: an answer typed into a stale tab or
    # window of another patient is refused, never recorded against this one (hazard H04c).
    if request.POST.get("patient_check") != screen.case.reference:
        problem = (
            f"This answer was not given on {screen.case.reference}'s screen, so it was not "
            "recorded. Check the patient's name at the top of the card and answer again."
        )
        return _case_response(request, screen, status=409, walk_problem=problem)
    step = screen.answer_step(point)
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
        shown = _as_committed(screen, item_id, drawn(request, "walk"))
        return _case_response(request, shown, posted={point: form}, status=422)
    except ConflictError as error:
        fresh = case_screen(item_id, drawn(request, "walk"))
        text = describe_answer(point, form.answer())
        return _case_response(request, fresh, conflicts={point: (str(error), text)}, status=409)
    # Success: htmx swaps in the walk; a plain post is redirected to the walk's next card.
    return _case_response(request, _answered_screen(screen, answered), event="decision-recorded")


@require_POST
@capability_required(C.RECORD_DECISIONS)
def decision_preview(request: HttpRequest, item_id: int, point: str) -> HttpResponse:
    """The open card's alerts redrawn for the answer being chosen (htmx, on change): the hard
    stops and warnings it would raise and the chair's override box. Nothing is stored; only
    the alerts are swapped, so nothing typed in the card's fields is lost."""
    screen = case_screen(item_id, "walk")
    step = screen.walk.step(point)
    if step is None or screen.locked or request.POST.get("patient_check") != screen.case.reference:
        return HttpResponse(status=204)  # nothing to redraw: the submit will say why
    card = preview_card(request, screen, step, AnswerForm(step, request.POST))
    context = case_context(request, screen, "walk")
    context["card"] = card
    return render(request, "cases/meetings/meeting_card.html#card-alerts", context)


def _as_committed(screen: CaseScreen, item_id: int, partial: str | None) -> CaseScreen:
    """``screen``, or the screen read again when a commit has changed its record since: an
    answer the service refused on newer facts is shown against those facts (hazard H05f)."""
    if data_version.unchanged(RECORD_READS, screen.versions, data_version.versions()):
        return screen
    return case_screen(item_id, partial)


def _answered_screen(screen: CaseScreen, answered: svc.Answered) -> CaseScreen:
    """The screen as the answer left it, from what the service read under the agenda item's
    lock (every decision of the item, and the record the answer was checked against): nothing
    is read again, and the walk is built from them when drawn."""
    return replace(screen, case=answered.record, decisions=answered.decisions, cards=[])


def drawn(request: HttpRequest, partial: str) -> str | None:
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
    screen.cards = cards_for(request, screen, posted=posted, conflicts=conflicts)
    response = render_case(request, screen, partial=drawn(request, partial), status=status, **extra)
    if event:
        trigger_client_event(response, event)
    return response


@require_POST
@capability_required(C.EDIT_CASES)
def meeting_fact_correct(request: HttpRequest, item_id: int) -> HttpResponse:
    item = item_or_404(item_id)
    form = FactForm(request.POST)
    status = 422
    if form.is_valid():
        try:
            correction = svc.meeting_fact_correct(
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
            if correction.state == FactCorrectionState.AWAITING_CHAIR:
                # Nothing changed yet: the chair confirms it (cases/meetings/views/facts.py).
                messages.info(request, awaiting_chair_message(correction))
                return _case_response(request, case_screen(item.pk, "walk"))
            return _case_response(request, case_screen(item.pk, "walk"), event="fact-changed")
    screen = case_screen(item.pk, drawn(request, "walk"))
    return _case_response(request, screen, status=status, fact_form=form, fact_open=True)


@require_POST
@capability_required(C.RECORD_DECISIONS)
def action_create(request: HttpRequest, item_id: int) -> HttpResponse:
    item = item_or_404(item_id)
    form = ActionForm(request.POST, owners=members())
    if form.is_valid():
        try:
            actions.action_create(
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
            return _case_response(
                request, case_screen(item.pk, "outcome"), partial="outcome", status=201
            )
    screen = case_screen(item.pk, drawn(request, "outcome"))
    return _case_response(request, screen, partial="outcome", status=422, action_form=form)


@require_POST
@capability_required(C.MANAGE_MEETINGS)
def agenda_item_defer(request: HttpRequest, item_id: int) -> HttpResponse:
    item = item_or_404(item_id)
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
    screen = case_screen(item.pk, drawn(request, "outcome"))
    return _case_response(request, screen, partial="outcome", status=422, defer_form=form)


@require_POST
@capability_required(C.RECORD_DECISIONS)
def discussion_notes_save(request: HttpRequest, item_id: int) -> HttpResponse:
    """Save the discussion notes; a plain post returns to the notes, htmx redraws them."""
    item = item_or_404(item_id)
    form = NotesForm(request.POST)
    status = 422
    if form.is_valid():
        try:
            svc.discussion_notes_save(
                user=request.user,
                agenda_item_id=item.pk,
                notes=form.cleaned_data["notes"],
                notes_before=form.cleaned_data["notes_before"],
            )
        except ValidationError as error:
            add_service_errors(form, error)
        except ConflictError as error:
            # Keep what was typed, now based on the notes saved meanwhile (shown above it).
            current = AgendaItem.objects.values_list("discussion_notes", flat=True).get(pk=item.pk)
            form = NotesForm({"notes": form.cleaned_data["notes"], "notes_before": current})
            form.is_valid()
            form.add_error(None, str(error))
            status = 409
        else:
            if not request.htmx:
                return redirect(reverse("cases:agenda-item-detail", args=[item.pk]) + "#notes")
            screen = case_screen(item.pk, "notes")
            response = render_case(request, screen, partial="notes", notes_saved=True)
            trigger_client_event(response, "notes-saved")
            return response
    screen = case_screen(item.pk, drawn(request, "notes"))
    return _case_response(request, screen, partial="notes", status=status, notes_form=form)


@require_POST
@capability_required(C.LIST_CASES)
def clinical_question_save(request: HttpRequest, item_id: int) -> HttpResponse:
    """Change the question asked of the MDT; the page is drawn again with it."""
    item = item_or_404(item_id)
    form = QuestionForm(request.POST)
    status = 422
    if form.is_valid():
        try:
            svc.clinical_question_save(
                user=request.user,
                agenda_item_id=item.pk,
                question=form.cleaned_data["question"],
                question_before=form.cleaned_data["question_before"],
            )
        except ValidationError as error:
            add_service_errors(form, error)
        except svc.OutcomeLockedError as error:
            form.add_error(None, str(error))  # signed off, deferred or closed: nothing changes
            status = 409
        except ConflictError as error:
            # Keep what was typed, now based on the question saved meanwhile (shown above it).
            current = AgendaItem.objects.values_list("clinical_question", flat=True).get(pk=item.pk)
            typed = form.cleaned_data["question"]
            form = QuestionForm({"question": typed, "question_before": current})
            form.is_valid()
            form.add_error(None, str(error))
            status = 409
        else:
            messages.success(request, "The question for the MDT was saved.")
            return redirect("cases:agenda-item-detail", item.pk)
    screen = case_screen(item.pk)  # the page: the question is drawn above every partial
    return _case_response(request, screen, status=status, question_form=form, question_open=True)


@require_POST
@capability_required(C.SIGN_OFF)
def outcome_sign_off(request: HttpRequest, item_id: int) -> HttpResponse:
    item = item_or_404(item_id)
    try:
        result = svc.outcome_sign_off(user=request.user, agenda_item_id=item.pk)
    except (ValidationError, ConflictError, PermissionDenied) as error:
        text = " ".join(error.messages) if isinstance(error, ValidationError) else str(error)
        screen = case_screen(item.pk, drawn(request, "outcome"))
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
    screen = case_screen(item_id)
    item = screen.item
    access_log_record(user=request.user, case_id=item.case_id, context="meeting-print")
    attendances = list(
        Attendance.objects.filter(meeting_id=item.meeting_id)
        .select_related("member", "deputy_for")
        .order_by("discipline")
    )
    context = case_context(request, screen)
    context["attendance_list"] = [a for a in attendances if a.presence == Presence.PRESENT]
    context["apologies_list"] = [a for a in attendances if a.presence == Presence.APOLOGIES]
    context["printed_at"] = timezone.now()
    return render(request, "cases/meetings/meeting_print.html", context)
