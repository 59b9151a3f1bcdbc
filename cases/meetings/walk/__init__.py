"""The decision walk of the MDT meeting (DESIGN.md §2): which decision points apply to a case, in
order, and everything a point's card shows: the facts it uses, the engine's recommendation with
its explanation and citations, the hard stops and warnings that belong to it, and the answer form.

Pure: no queries. It works on a case loaded with ``case_clinical_record``, the agenda item's
decisions (already loaded) and the day of the meeting, which is "today" for every rule (age,
imaging recency, the reassessment anchor), so a past meeting replays the same way.

How an answer reaches the engine
    The answers recorded so far become facts for every later point: they form the MDT's
    *proposal* (pathway-spec A.1 proposal keys) and the facts the meeting itself establishes,
    laid over the stored record in walk order, later points winning:
    - resectability: the HPB verdict given in the meeting (R0 achievable, FLR, segments,
      extrahepatic disease, planned extent, simultaneous resection feasible) replaces the
      record's verdict; ``hpb_mdt_reviewed`` is true when a hepatobiliary surgeon is recorded
      present;
    - primary tumour management: ``primary_resection`` → ``primary_resection_proposed``,
      ``colorectal_stent`` → ``colorectal_stent_proposed``, ``short_course_rt`` →
      ``pelvic_rt_proposed = short_course_5x5`` (the pelvic radiotherapy answer, if given, wins);
    - systemic therapy: the ticked agents → ``proposed_agents``;
    - pelvic radiotherapy: → ``pelvic_rt_proposed``;
    - liver surgery: → ``proposed_liver_surgery`` and ``liver_biopsy_proposed``;
    - timing: the surgery date the MDT sets is tried as ``planned_surgery_date`` (a what-if on
      the record, stored in the decision's snapshot; the operation itself is booked elsewhere).

Which points apply (in this order; "deferred" means the data-completeness answer was "defer"):
    1. data completeness and molecular profile: always;
    2. resectability: unless deferred or the liver disease is already cleared;
    3. primary tumour management: unless deferred or the primary has been resected;
    4. systemic therapy: unless deferred;
    5. pelvic radiotherapy: unless deferred; rectal primary still in place;
    6. liver surgery strategy and sequencing: unless deferred or the liver is cleared; the
       sequencing question appears only when the disease is converted, surgery is proposed and
       the primary is still in place;
    7. timing: unless deferred; an operation proposed now (sign-off books it on the date set
       here), a bevacizumab dose (given, or in the plan) and a surgery planned on the record, or
       a short-course RT completion and a surgery that includes the primary. When the plan
       continues bevacizumab before elective surgery, the point asks for the planned last dose
       and counts the interval from it (pathway-spec H2);
    8. post-operative plan: unless deferred; the last operation has a margin and no treatment
       course has started since it;
    9. outcome and next reassessment: always.

Which card an alert belongs to: ``CODE_POINTS`` below. Only the hard stops of the point being
answered can block that answer (so a bevacizumab-interval stop from the record blocks the timing
answer, not the systemic therapy answer).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cases.meetings.walk.answers import answer_complete, check_answer, complete_answer, evaluate
from cases.meetings.walk.cards import BUILDERS, alert_for, marker_facts
from cases.meetings.walk.context import WalkContext, current_decisions, proposal_from, without
from cases.meetings.walk.labels import describe_answer
from cases.meetings.walk.parts import (
    Alert,
    AnswerError,
    Evaluation,
    Field,
    ReassessmentPlan,
    Step,
    Walk,
)
from cases.meetings.walk.plan import chosen_plan, plan_for
from cases.meetings.walk.points import POINT_ORDER, applies, point_codes

if TYPE_CHECKING:
    from cases.models import Case, Decision

__all__ = [
    "Alert",
    "AnswerError",
    "Evaluation",
    "Field",
    "ReassessmentPlan",
    "Step",
    "Walk",
    "alert_for",
    "build_walk",
    "current_decisions",
    "describe_answer",
    "evaluate_answer",
    "marker_facts",
    "plan_for",
    "proposal_from",
    "walk_step",
]


def build_walk(
    case: Case, decisions: Sequence[Decision], *, meeting_day: dt.date, hpb_present: bool = False
) -> Walk:
    """The applicable points, in order, each with its card's content and its recorded answer.

    ``hpb_present``: a hepatobiliary surgeon is recorded present at the meeting, so the verdict
    given at the resectability point is an HPB MDT review."""
    ctx = WalkContext(case, decisions, meeting_day, hpb_present=hpb_present)
    steps: list[Step] = []
    superseded = {d.supersedes_id for d in ctx.decisions if d.supersedes_id}
    for point in POINT_ORDER:
        if not applies(ctx, point):
            continue
        step = _step(ctx, point, len(steps) + 1)
        step.history = [
            (d, describe_answer(point, d.answer))
            for d in sorted(ctx.decisions, key=lambda d: d.pk)
            if d.point == point and d.pk in superseded
        ]
        steps.append(step)
    plan = chosen_plan(ctx)
    _inputs, advice = ctx.advise(ctx.answers)
    return Walk(
        steps=steps,
        meeting_day=meeting_day,
        missing=ctx.missing,
        plan=plan,
        advice=advice,
        superseded_ids={pk for pk in superseded if pk},
    )


def _step(ctx: WalkContext, point: str, number: int) -> Step:
    builder = BUILDERS[point]
    decision = ctx.current.get(point)
    step = builder(ctx, decision)
    step.number = number
    step.decision = decision
    shown = decision.answer if decision else step.initial
    # A recorded answer was checked when it was recorded: it is tried as it stands.
    complete = decision is not None or answer_complete(step, shown)
    evaluation = evaluate(ctx, point, shown) if complete else None
    if evaluation is None:
        _inputs, advice = ctx.advise(without(ctx.answers, point))
        stops, warns = point_codes(point, advice)
    else:
        stops, warns = evaluation.hard_stops, evaluation.warnings
    step.alerts = [alert_for(c) for c in (*stops, *warns)]
    if decision is not None:
        covered = set(decision.overridden_hard_stops)
        step.unresolved = [alert_for(c) for c in stops if c not in covered]
        step.answer_text = describe_answer(point, decision.answer)
    return step


def walk_step(
    case: Case,
    decisions: Sequence[Decision],
    *,
    meeting_day: dt.date,
    point: str,
    hpb_present: bool = False,
) -> Step | None:
    """The card of ``point`` alone, its fields and content without its alerts (None when the
    point does not apply): what an answer's form is read against, without trying every point."""
    ctx = WalkContext(case, decisions, meeting_day, hpb_present=hpb_present)
    if point not in POINT_ORDER or not applies(ctx, point):
        return None
    return BUILDERS[point](ctx, ctx.current.get(point))


def evaluate_answer(
    case: Case,
    decisions: Sequence[Decision],
    *,
    meeting_day: dt.date,
    point: str,
    answer: Mapping[str, Any],
    hpb_present: bool = False,
) -> tuple[Step, dict[str, Any], Evaluation]:
    """Validate ``answer`` for ``point`` and try it: (the card, the clean answer, evaluation).

    Raises ``AnswerError`` when the point does not apply, the answer is not valid for it, or it
    contradicts an answer at another point (the message names the points).
    """
    ctx = WalkContext(case, decisions, meeting_day, hpb_present=hpb_present)
    if point not in POINT_ORDER or not applies(ctx, point):
        raise AnswerError("", "This decision point does not apply to this case any more.")
    step = BUILDERS[point](ctx, ctx.current.get(point))
    clean = complete_answer(ctx, step, check_answer(step, dict(answer)))
    return step, clean, evaluate(ctx, point, clean)
