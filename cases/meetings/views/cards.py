"""What the case-in-meeting screen draws: each card of the walk in its mode (answered, open,
upcoming), the summary, and the outcome rows."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from typing import Any

from django.forms.utils import ErrorDict
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse

from cases.meetings.forms import (
    ActionForm,
    AnswerForm,
    DeferForm,
    FactForm,
    FieldRow,
    NotesForm,
    QuestionForm,
    field_rows,
    initial_for,
)
from cases.meetings.selectors import (
    CaseScreen,
    members,
)
from cases.meetings.walk import (
    AnswerError,
    Step,
    alert_for,
    evaluate_answer,
    marker_facts,
)
from cases.meetings.walk.labels import fmt_date
from cases.models import (
    Decision,
)
from cases.records.mapping import (
    age_on,
    last_bevacizumab_dose,
    planned_last_bevacizumab_dose,
)
from cases.records.timeline import timeline_for_case
from cases.security.permissions import Capability, has_capability

C = Capability


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
    # Live preview: the answer being chosen, tried before it is submitted (None: not tried).
    preview_follows: bool | None = None


def cards_for(
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
    if hasattr(form, "cleaned_data"):
        _tried(screen, step, form.answer())


def _tried(screen: CaseScreen, step: Step, answer: dict[str, Any]) -> Any:
    """The engine's evaluation of ``answer`` at ``step`` (None if the point does not take it),
    with the step's alerts set to those the answer would raise."""
    try:
        _step, _clean, evaluation = evaluate_answer(
            screen.case,
            screen.decisions,
            meeting_day=screen.day,
            point=step.point,
            answer=answer,
            hpb_present=screen.hpb_present,
        )
    except AnswerError:
        return None
    step.alerts = [alert_for(c) for c in (*evaluation.hard_stops, *evaluation.warnings)]
    return evaluation


def preview_card(request: HttpRequest, screen: CaseScreen, step: Step, form: AnswerForm) -> Card:
    """The open card redrawn for the answer being chosen, before anything is submitted: the
    hard stops and warnings it would raise, the chair's override box, and whether it follows
    the recommendation. Nothing is stored and no error is shown for an unfinished answer; the
    server judges the answer again when it is submitted."""
    form.is_valid()
    answer = form.answer() if hasattr(form, "cleaned_data") else {}
    form._errors = ErrorDict()  # an unfinished answer is not an error yet
    card = Card(step, "open", form=form)
    card.correcting = step.decision
    evaluation = _tried(screen, step, answer)
    if evaluation is not None:
        card.preview_follows = evaluation.follows
        earliest = evaluation.recommendation.get("earliest_elective_surgery_date")
        if step.point == "timing" and earliest:
            step.recommended_text = f"Surgery on or after {fmt_date(earliest)}"
    card.rows = field_rows(form, step.dom_id)
    card.show_override = bool(step.hard_stops)
    return card


def case_context(
    request: HttpRequest, screen: CaseScreen, partial: str | None = None, **extra: Any
) -> dict[str, Any]:
    """What the page draws, or just what its ``partial`` draws (nothing is worked out for the
    other sections, whose data ``case_screen`` may have left out)."""
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
        "may_override": has_capability(request.user, C.OVERRIDE_HARD_STOPS),
        "page_url": reverse("cases:agenda-item-detail", args=[item.pk]),
    }
    if partial in (None, "case-summary"):
        context.update(_summary_context(screen))
    if partial in (None, "walk"):
        fact_form = extra.pop("fact_form", None)
        context["fact_form"] = fact_form or FactForm()
        context["blank_fact_fields"] = None if fact_form else blank_fact_fields()
        context["fact_versions"] = ",".join(
            f"{r.marker}:{r.version}" for r in case.molecular_results.all()
        )
    if partial in (None, "notes"):
        context["notes_form"] = extra.pop("notes_form", None) or NotesForm(
            initial={"notes": item.discussion_notes, "notes_before": item.discussion_notes}
        )
    if partial in (None, "outcome"):
        context["quorum"] = screen.quorum
        context["outcome_rows"] = _outcome_rows(screen)
        context["action_form"] = extra.pop("action_form", None) or ActionForm(
            owners=members(), initial={"due_on": screen.day + dt.timedelta(weeks=2)}
        )
        context["defer_form"] = extra.pop("defer_form", None) or DeferForm()
    if partial is None:
        context["can_edit_question"] = has_capability(request.user, C.LIST_CASES)
        context["can_edit_question"] &= not screen.locked
        context["question_form"] = extra.pop("question_form", None) or QuestionForm(
            initial={"question": item.clinical_question, "question_before": item.clinical_question}
        )
        order = item.agenda_order  # loaded with the item for the whole page (``case_screen``)
        index = order.index(item.pk)
        context["position"] = index + 1
        context["count"] = len(order)
        context["previous_id"] = order[index - 1] if index > 0 else None
        context["next_id"] = order[index + 1] if index + 1 < len(order) else None
    context.update(extra)
    return context


@functools.cache
def blank_fact_fields() -> str:
    """The fact form's fields as an empty form draws them, drawn once a process: they are the
    same on every card of every case, and drawing Django's widgets took a millisecond of every
    answer recorded at the meeting."""
    context = {"fact_form": FactForm()}
    return render_to_string("cases/meetings/meeting_card.html#fact-fields", context)


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
        "bev_planned": planned_last_bevacizumab_dose(case),
        "earliest_surgery": screen.walk.advice.earliest_elective_surgery_date,
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


def render_case(
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
    context = case_context(request, screen, partial, **extra)
    return render(request, template, context, status=status)


def htmx_target(request: HttpRequest, allowed: tuple[str, ...]) -> str | None:
    target = request.htmx.target if getattr(request, "htmx", None) else None
    return target if target in allowed else None


CASE_PARTIALS = ("case-summary", "walk", "notes", "outcome")
