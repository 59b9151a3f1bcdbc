"""The outcome's plan: the next reassessment date and what signing off will change."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from cases.meetings.walk.context import WalkContext
from cases.meetings.walk.labels import fmt_date
from cases.meetings.walk.parts import ReassessmentPlan
from cases.meetings.walk.points import P, recommended_outcome

if TYPE_CHECKING:
    from cases.models import Case, Decision


def plan_for(
    case: Case, decisions: Sequence[Decision], *, meeting_day: dt.date, hpb_present: bool = False
) -> ReassessmentPlan:
    """The reassessment plan for the outcome in force (sign-off schedules exactly this)."""
    ctx = WalkContext(case, decisions, meeting_day, hpb_present=hpb_present)
    return chosen_plan(ctx)


def chosen_plan(ctx: WalkContext) -> ReassessmentPlan:
    """The plan of the outcome answered (with the date the MDT set), else the recommended one."""
    answer = ctx.answers.get(P.OUTCOME, {})
    outcome = answer.get("choice") or recommended_outcome(ctx)
    chosen = answer.get("next_reassessment_on")
    return reassessment_plan(ctx, outcome, dt.date.fromisoformat(chosen) if chosen else None)


def reassessment_plan(
    ctx: WalkContext, outcome: str, chosen_on: dt.date | None = None
) -> ReassessmentPlan:
    """The next reassessment date and what signing off will change (the anchor rule).

    Anchor rule (pathway-spec R9, re-anchored on the actual reassessment): if the case has an
    open reassessment whose scan was done on or before the meeting day, this meeting *is* that
    reassessment: sign-off marks it reassessed on the meeting day and the engine counts the next
    one from the meeting day. Otherwise the engine's own anchor stands (the last reassessment,
    else the start of chemotherapy). Only "continue the pathway" schedules a reassessment;
    surgery, leaving the pathway and re-discussion schedule none (the surgery and the next
    meeting are booked on the record, so no reassessment reminder runs meanwhile).

    ``chosen_on``: the date the MDT set at the outcome point. The engine's date is only its
    default, and only when it is after the meeting day; a passed rule date is never scheduled.
    """
    open_rows = [r for r in ctx.case.reassessments.all() if r.reassessed_on is None]
    imaged = [
        r for r in open_rows if r.imaging_performed_on and r.imaging_performed_on <= ctx.meeting_day
    ]
    performed = max(imaged, key=lambda r: r.cycle, default=None)
    waiting = [r for r in open_rows if r is not performed and not r.imaging_performed_on]
    reschedule = max(waiting, key=lambda r: r.cycle, default=None)
    if outcome not in ("continue_pathway", "proceed_to_surgery"):
        note = {
            "rediscuss": "The case is to be re-discussed; no reassessment is scheduled now.",
            "leave_pathway": "The case leaves the conversion pathway; no reassessment.",
        }.get(outcome, "")
        return ReassessmentPlan(outcome, None, None, "", None, None, note)
    if outcome == "proceed_to_surgery":
        return ReassessmentPlan(
            outcome,
            None,
            ctx.meeting_day if performed else None,
            "",
            performed,
            None,
            "The case proceeds to surgery; no further conversion reassessment is scheduled.",
        )
    what_if = {"last_reassessment_date": ctx.meeting_day.isoformat()} if performed else None
    inputs, advice = ctx.advise(ctx.answers, what_if)
    anchor_key = (
        "last_reassessment_date" if "last_reassessment_date" in inputs else "chemo_start_date"
    )
    anchor_value = inputs.get(anchor_key)
    anchor = dt.date.fromisoformat(str(anchor_value)) if anchor_value else None
    if performed is not None:
        text = (
            f"this meeting ({fmt_date(ctx.meeting_day)}), "
            f"reassessing the scan of cycle {performed.cycle}"
        )
    elif anchor_key == "last_reassessment_date" and anchor:
        text = f"the last reassessment on {fmt_date(anchor.isoformat())}"
    elif anchor:
        text = f"the start of chemotherapy on {fmt_date(anchor.isoformat())}"
    else:
        text = ""
    note = (
        ""
        if advice.next_reassessment_date
        else "No date yet: chemotherapy has not started and no reassessment has been done."
    )
    next_on = advice.next_reassessment_date
    if chosen_on is not None:
        next_on = chosen_on
    elif next_on is not None and next_on <= ctx.meeting_day:
        note = (
            f"The rule date ({fmt_date(next_on)}) has passed: the MDT sets the next reassessment "
            "on or after the meeting day."
        )
        next_on = None
    return ReassessmentPlan(
        outcome, next_on, anchor, text, performed, reschedule, note, advice.next_reassessment_date
    )
