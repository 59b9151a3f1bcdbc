"""Checking an answer: valid for its card (``AnswerError`` names the field), then tried against
the engine with the other answers in force, which tells the point's hard stops and warnings and
whether the answer follows the recommendation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from cases.meetings.walk.context import WalkContext
from cases.meetings.walk.labels import describe_answer, fmt_date
from cases.meetings.walk.parts import AnswerError, Evaluation, Field, Step
from cases.meetings.walk.plan import reassessment_plan
from cases.meetings.walk.points import (
    P,
    applies,
    current_course,
    data_recommended,
    liver_recommendation,
    pelvic_recommended,
    point_codes,
    primary_recommended,
    recommended_outcome,
    surgery_proposed,
)
from cases.pathway import Advice
from cases.pathway.regimens import CYTOTOXIC_PARTNERS, regimen_family_of


def check_answer(step: Step, answer: dict[str, Any]) -> dict[str, Any]:
    """The answer in canonical form, or ``AnswerError`` naming the field that is wrong."""
    clean: dict[str, Any] = {}
    for f in step.fields:
        value = answer.get(f.name)
        allowed = {c.value for c in f.choices}
        if f.kind in ("radio", "select"):
            if value in (None, ""):
                if f.required:
                    raise AnswerError(f.name, f"Choose one: {f.label.lower()}.")
                clean[f.name] = None
            elif value not in allowed:
                raise AnswerError(
                    f.name, f"“{value}” is not one of the choices for {f.label.lower()}."
                )
            else:
                clean[f.name] = value
        elif f.kind == "checkboxes":
            values = list(value or [])
            unknown = [v for v in values if v not in allowed]
            if unknown:
                raise AnswerError(f.name, f"Not a choice: {', '.join(map(str, unknown))}.")
            clean[f.name] = [c.value for c in f.choices if c.value in values]  # canonical order
        elif f.kind == "checkbox":
            clean[f.name] = bool(value)
        elif f.kind == "date":
            clean[f.name] = _check_date(f, value)
        elif f.kind in ("number", "integer"):
            clean[f.name] = _check_number(f, value)
    if step.point == P.LIVER_SURGERY:
        _check_sequence(step, clean)
    return clean


def _check_date(f: Field, value: object) -> str | None:
    if value in (None, ""):
        if f.required:
            raise AnswerError(f.name, f"Enter the {f.label.lower()}.")
        return None
    try:
        day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
    except ValueError:
        raise AnswerError(f.name, f"“{value}” is not a date (use YYYY-MM-DD).") from None
    if f.min_value and day < f.min_value:
        raise AnswerError(
            f.name, f"The date cannot be before {fmt_date(f.min_value.isoformat())} (the meeting)."
        )
    if f.max_value and day > f.max_value:
        raise AnswerError(
            f.name,
            f"The date cannot be after {fmt_date(f.max_value.isoformat())}: check the year.",
        )
    return day.isoformat()


def _check_number(f: Field, value: object) -> float | None:
    if value in (None, ""):
        if f.required:
            raise AnswerError(f.name, f"Enter the {f.label.lower()}.")
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise AnswerError(f.name, f"“{value}” is not a number.") from None
    if not number.is_finite() or number < f.min_value or number > f.max_value:
        raise AnswerError(f.name, f"{f.label} must be between {f.min_value} and {f.max_value}.")
    if f.kind == "integer":
        if number != number.to_integral_value():
            raise AnswerError(f.name, f"{f.label} must be a whole number.")
        return int(number)
    return float(number)


def _check_sequence(step: Step, clean: dict[str, Any]) -> None:
    asked = any(f.name == "sequence" for f in step.fields)
    if not asked:
        clean["sequence"] = None
        return
    if clean["surgery"] == "none":
        clean["sequence"] = None
    elif not clean.get("sequence"):
        raise AnswerError("sequence", "Choose the sequence of the operations.")


def complete_answer(ctx: WalkContext, step: Step, clean: dict[str, Any]) -> dict[str, Any]:
    """The checked answer with what the meeting adds to it, or ``AnswerError`` when it
    contradicts itself or an answer at another point (the message names the points)."""
    point = step.point
    if point == P.RESECTABILITY and "r0_achievable" in clean:
        # The verdict is an HPB MDT review when a hepatobiliary surgeon is recorded present.
        clean["hpb_reviewed"] = ctx.hpb_present
    elif point == P.SYSTEMIC_THERAPY and "plan" in clean:
        _complete_systemic(ctx, clean)
    elif point == P.OUTCOME:
        _complete_outcome(ctx, clean)
    return clean


def _complete_systemic(ctx: WalkContext, clean: dict[str, Any]) -> None:
    agents = clean.get("agents") or []
    if clean["plan"] == "continue":
        course = current_course(ctx)
        current = list(course.agents) if course else []
        if agents and sorted(agents) != sorted(current):
            raise AnswerError(
                "agents",
                "The agents ticked differ from the current course: choose “start a new course” "
                "to change them, or untick them to continue the course as it is.",
            )
        clean["agents"] = current
    elif clean["plan"] == "new" and not agents:
        raise AnswerError("agents", "Tick the agents of the new course.")
    elif clean["plan"] == "none" and agents:
        raise AnswerError("agents", "No systemic therapy: untick the agents.")


def _point_text(ctx: WalkContext, point: str) -> str:
    answer = ctx.answers.get(point)
    said = describe_answer(point, answer) if answer else "not answered"
    return f"{P(point).label} ({said})"


def _complete_outcome(ctx: WalkContext, clean: dict[str, Any]) -> None:
    choice = clean["choice"]
    if choice == "proceed_to_surgery" and not surgery_proposed(ctx)[0]:
        points = " and ".join(
            _point_text(ctx, p) for p in (P.PRIMARY_MANAGEMENT, P.LIVER_SURGERY) if applies(ctx, p)
        )
        raise AnswerError(
            "choice",
            f"“Proceed to surgery” disagrees with {points}: no operation was proposed. "
            "Correct those points or choose another outcome.",
        )
    systemic = ctx.answers.get(P.SYSTEMIC_THERAPY)
    if choice == "continue_pathway" and systemic is not None and not systemic.get("agents"):
        raise AnswerError(
            "choice",
            "“Continue the pathway” continues chemotherapy, but it disagrees with "
            f"{_point_text(ctx, P.SYSTEMIC_THERAPY)}: correct that point or choose another "
            "outcome.",
        )
    rule = reassessment_plan(ctx, "continue_pathway").rule_on
    clean["rule_next_reassessment_on"] = rule.isoformat() if rule else None
    clean["rule_date_passed"] = rule is not None and rule <= ctx.meeting_day
    if choice == "leave_pathway" and not clean.get("exit_reason"):
        raise AnswerError("exit_reason", "Choose the reason the case leaves the pathway.")
    if choice != "leave_pathway":
        clean["exit_reason"] = None
    if choice != "continue_pathway":
        clean["next_reassessment_on"] = None
    elif not clean.get("next_reassessment_on"):
        passed = rule is not None and rule <= ctx.meeting_day
        raise AnswerError(
            "next_reassessment_on",
            (
                f"The rule date ({fmt_date(rule)}) has passed: enter the date of the next "
                "reassessment, on or after the meeting day."
                if passed
                else "Enter the date of the next reassessment."
            ),
        )


def answer_complete(step: Step, answer: Mapping[str, Any]) -> bool:
    """Whether a pre-filled answer is complete enough to try against the engine."""
    try:
        check_answer(step, dict(answer))
    except AnswerError:
        return False
    return True


def timing_what_if(ctx: WalkContext, target: str) -> dict[str, object]:
    _proposed, proposed_with_primary = surgery_proposed(ctx)
    record = ctx.record
    return {
        "planned_surgery_date": target,
        "planned_surgery_urgency": record.get("planned_surgery_urgency", "elective"),
        "planned_surgery_includes_primary": bool(record.get("planned_surgery_includes_primary"))
        or proposed_with_primary,
    }


def evaluate(ctx: WalkContext, point: str, answer: Mapping[str, Any]) -> Evaluation:
    """Try ``answer`` at ``point`` with the other answers in force: codes and adherence."""
    answers = {**ctx.answers, point: dict(answer)}
    what_if = None
    if point == P.TIMING and answer.get("target_surgery_date"):
        what_if = timing_what_if(ctx, answer["target_surgery_date"])
    inputs, advice = ctx.advise(answers, what_if)
    stops, warns = point_codes(point, advice)
    follows, recommendation = _adherence(ctx, point, answer, advice, bool(stops or warns))
    return Evaluation(point, dict(answer), inputs, advice, stops, warns, follows, recommendation)


def _adherence(
    ctx: WalkContext, point: str, answer: Mapping[str, Any], advice: Advice, alerted: bool
) -> tuple[bool, dict[str, Any]]:
    """(does the answer follow the recommendation, the recommendation as stored)."""
    if point == P.DATA_COMPLETENESS:
        recs = data_recommended(ctx)
        return answer["choice"] in recs, {
            "choice": recs[0],
            "choices": recs,
            "missing": ctx.missing,
        }
    if point == P.RESECTABILITY:
        # The status the engine computes with the verdict given here laid over the record.
        status = str(advice.conversion_status)
        return answer["choice"] == status, {
            "conversion_status": status,
            "hepatectomy_strategy": advice.hepatectomy_strategy
            and str(advice.hepatectomy_strategy),
        }
    if point == P.PRIMARY_MANAGEMENT:
        rec = primary_recommended(advice)
        return answer["choice"] in rec, {"choices": rec}
    if point == P.SYSTEMIC_THERAPY:
        family = str(advice.recommended_regimen_family)
        agents = answer.get("agents", [])
        if family == "no_intensive_therapy_mdt_review":
            follows = not set(agents) & CYTOTOXIC_PARTNERS
        else:
            follows = regimen_family_of(agents) == family
        return follows, {
            "recommended_regimen_family": family,
            "regimen_provisional": advice.regimen_provisional,
            "triplet_eligible": advice.triplet_eligible,
            "answer_family": regimen_family_of(agents),
        }
    if point == P.PELVIC_RADIOTHERAPY:
        rec = pelvic_recommended(ctx)
        return answer["choice"] in rec, {"choices": rec}
    if point == P.LIVER_SURGERY:
        surgeries, sequence = liver_recommendation(advice)
        follows = answer["surgery"] in surgeries and (
            answer["surgery"] == "none"
            or not answer.get("sequence")
            or answer["sequence"] == sequence
        )
        return follows, {
            "conversion_status": str(advice.conversion_status),
            "hepatectomy_strategy": advice.hepatectomy_strategy
            and str(advice.hepatectomy_strategy),
            "surgery": surgeries,
            "recommended_sequence": sequence,
            "sequencing_options": [str(o) for o in advice.sequencing_options],
        }
    if point == P.TIMING:
        return not alerted, {
            "earliest_elective_surgery_date": _iso(advice.earliest_elective_surgery_date),
            "latest_primary_surgery_date_after_scrt": _iso(
                advice.latest_primary_surgery_date_after_scrt
            ),
        }
    if point == P.POSTOPERATIVE:
        return _postop_follows(answer, advice), {
            "postop_chemo_recommended": advice.postop_chemo_recommended,
            "postop_chemo_months": advice.postop_chemo_months,
            "postop_backbone": advice.postop_backbone and str(advice.postop_backbone),
        }
    if point == P.OUTCOME:
        rec = recommended_outcome(ctx)
        plan = reassessment_plan(ctx, answer["choice"])
        return answer["choice"] == rec, {
            "outcome": rec,
            "next_reassessment_date": _iso(plan.next_on),
            "anchor": _iso(plan.anchor),
        }
    raise ValueError(f"unknown decision point {point!r}")


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def _postop_follows(answer: Mapping[str, Any], advice: Advice) -> bool:
    recommended = advice.postop_chemo_recommended
    chemo = answer.get("postop_chemo") == "yes"
    if recommended is not None and chemo != recommended:
        return False
    if not chemo:
        return True
    months = advice.postop_chemo_months
    if months is not None and answer.get("months") is not None and answer["months"] != months:
        return False
    backbone = advice.postop_backbone
    return not (backbone and answer.get("backbone") and answer["backbone"] != str(backbone))
