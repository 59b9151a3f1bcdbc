"""Which decision points apply to a case, which alerts belong to which point, and what each
point recommends from the engine's advice."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from cases.meetings.walk.context import WalkContext, without
from cases.meetings.walk.labels import PELVIC_LABELS
from cases.models import DecisionPoint, PrimarySite
from cases.pathway import Advice, AlertCode
from cases.pathway.calendar import earliest_elective_surgery

if TYPE_CHECKING:
    from cases.models import TreatmentCourse

P = DecisionPoint


A = AlertCode


POINT_ORDER: tuple[str, ...] = tuple(P.values)


POINT_CODES: dict[str, tuple[str, ...]] = {
    # The facts themselves.
    P.DATA_COMPLETENESS: (
        A.MMR_STATUS_REQUIRED,
        A.RAS_STATUS_REQUIRED,
        A.BRAF_STATUS_REQUIRED,
        A.RAS_TESTING_INCOMPLETE_KRAS_EXON2_ONLY,
        A.SIDEDNESS_CONFLICT,
    ),
    P.RESECTABILITY: (A.FLR_BELOW_THRESHOLD_TWO_STAGE_OR_PVE, A.PET_CMR_RESECT_ORIGINAL_SITES),
    # Raised by resection of the primary or by pelvic RT: it belongs to both cards.
    P.PRIMARY_MANAGEMENT: (A.PRIMARY_LOCOREGIONAL_TREATMENT_DEFERRED,),
    # The proposed agents.
    P.SYSTEMIC_THERAPY: (
        A.ANTI_EGFR_RAS_MUTANT,
        A.ANTI_EGFR_RAS_UNKNOWN,
        A.ANTI_EGFR_RIGHT_SIDED,
        A.ANTI_EGFR_SIDEDNESS_UNDETERMINED,
        A.ANTI_EGFR_BRAF_V600E,
        A.DUAL_BIOLOGIC,
        A.IMMUNOTHERAPY_NOT_INDICATED_PMMR,
        A.IMMUNOTHERAPY_MMR_UNCONFIRMED,
        A.TRIPLET_NOT_APPROPRIATE,
        A.PERFORMANCE_STATUS_TOO_POOR_FOR_CONVERSION,
        A.PEMBROLIZUMAB_ECOG2_OUTSIDE_TRIAL,
        A.BRAF_V600E_CONSIDER_ENCORAFENIB_CETUXIMAB,
        A.ANTI_EGFR_BRAF_STATUS_UNKNOWN,
        A.ANTI_EGFR_WITH_CAPECITABINE,
        A.HER2_AMPLIFIED_ANTI_EGFR_LESS_EFFECTIVE,
        A.IMMUNOTHERAPY_PREFERRED_DMMR,
        A.TRIPLET_OUTSIDE_TRIBE_CRITERIA,
        A.BEV_WITH_COLORECTAL_STENT,
        A.BEV_CAUTION_BLEEDING_OR_PERFORATION,
    ),
    P.PELVIC_RADIOTHERAPY: (A.LONG_COURSE_CRT_UPFRONT, A.PRIMARY_LOCOREGIONAL_TREATMENT_DEFERRED),
    P.LIVER_SURGERY: (
        A.DEBULKING_NOT_PERMITTED,
        A.FLR_INADEQUATE,
        A.EXTRAHEPATIC_DISEASE_UNRESECTABLE,
        A.HPB_MDT_REVIEW_REQUIRED,
        A.LIVER_BIOPSY_WITHOUT_HPB_DISCUSSION,
        A.SIMULTANEOUS_MAJOR_HEPATECTOMY_AND_RECTAL_RESECTION,
    ),
    # The bevacizumab interval and the SCRT window: the surgery date.
    P.TIMING: (
        A.BEV_SURGERY_INTERVAL_LT_6_WEEKS,
        A.BEV_RECENT_EMERGENCY_SURGERY,
        A.SCRT_TO_SURGERY_INTERVAL_GT_6_MONTHS,
    ),
    P.POSTOPERATIVE: (
        A.R1_MARGIN_POSTOP_CHEMO_STRONGLY_RECOMMENDED,
        A.R2_RESIDUAL_DISEASE_NOT_CURATIVE,
        A.PREOP_CHEMO_EXCEEDS_6_MONTHS,
    ),
}


CODE_POINTS: dict[str, tuple[str, ...]] = {
    str(code): tuple(p for p, codes in POINT_CODES.items() if code in codes)
    for codes in POINT_CODES.values()
    for code in codes
}


def applies(ctx: WalkContext, point: str) -> bool:
    record = ctx.record
    if point in (P.DATA_COMPLETENESS, P.OUTCOME):
        return True
    if ctx.deferred:
        return False
    cleared = bool(record.get("liver_metastases_cleared"))
    if point == P.RESECTABILITY:
        return not cleared
    if point == P.PRIMARY_MANAGEMENT:
        return not ctx.primary_resected
    if point == P.SYSTEMIC_THERAPY:
        return True
    if point == P.PELVIC_RADIOTHERAPY:
        return record.get("primary_site") == PrimarySite.RECTUM and not ctx.primary_resected
    if point == P.LIVER_SURGERY:
        return not cleared
    if point == P.TIMING:
        return _timing_applies(ctx)
    if point == P.POSTOPERATIVE:
        return _postoperative_applies(ctx)
    raise ValueError(f"unknown decision point {point!r}")


def surgery_proposed(ctx: WalkContext) -> tuple[bool, bool]:
    """(a surgery is proposed in this meeting, it includes the primary)."""
    liver = ctx.answers.get(P.LIVER_SURGERY, {})
    primary = ctx.answers.get(P.PRIMARY_MANAGEMENT, {}).get("choice")
    liver_op = liver.get("surgery") in ("one_stage_hepatectomy", "two_stage_hepatectomy")
    with_primary = (
        liver_op and liver.get("sequence") in ("primary_first_staged", "synchronous_resection")
    ) or primary == "primary_resection"
    return liver_op or primary == "primary_resection", with_primary


def _timing_applies(ctx: WalkContext) -> bool:
    record = ctx.record
    proposed, proposed_with_primary = surgery_proposed(ctx)
    planned = "planned_surgery_date" in record
    any_surgery = planned or proposed
    with_primary = bool(record.get("planned_surgery_includes_primary")) or proposed_with_primary
    bev = "last_bevacizumab_dose_date" in record or ctx.bevacizumab_planned(ctx.answers)
    scrt = "scrt_completion_date" in record
    # An operation proposed in this meeting always gets its date (sign-off books it).
    return proposed or (bev and any_surgery) or (scrt and with_primary)


def _postoperative_applies(ctx: WalkContext) -> bool:
    operation = ctx.last_operation
    if "surgical_margin" not in ctx.record or operation is None:
        return False
    return not any(c.started_on >= operation.performed_on for c in ctx.case.treatment_courses.all())


def data_recommended(ctx: WalkContext) -> list[str]:
    """Complete data: decide today; missing or stale data: decide provisionally, or defer."""
    return ["proceed_provisional", "defer"] if ctx.missing else ["proceed"]


def bevacizumab_recent_or_planned(ctx: WalkContext) -> str:
    """Why a colorectal stent needs caution, in words ("" when it does not): bevacizumab given
    within the bevacizumab interval before the meeting, or in the plan under discussion."""
    if ctx.bevacizumab_planned(ctx.answers):
        return "In the plan under discussion"
    last = ctx.record.get("last_bevacizumab_dose_date")
    if last:
        day = dt.date.fromisoformat(str(last))
        if earliest_elective_surgery(day, ctx.constants.bev_min_days) > ctx.meeting_day:
            return f"Last dose given {day.day} {day:%b %Y}"
    return ""


def point_codes(point: str, advice: Advice) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(hard stops, warnings) of ``advice`` that belong to ``point``."""
    stops = tuple(str(c) for c in advice.hard_stops if point in CODE_POINTS.get(c, ()))
    warns = tuple(str(c) for c in advice.warnings if point in CODE_POINTS.get(c, ()))
    return stops, warns


def primary_recommended(advice: Advice) -> list[str]:
    options = [str(o) for o in advice.symptomatic_primary_options]
    return options or ["no_intervention"]


def pelvic_recommended(ctx: WalkContext) -> list[str]:
    """The pelvic choices that add no alert of their own.

    Compared with "none" rather than with no alert at all: the deferral warning can already be
    raised by the primary-management answer, and that must not make every pelvic choice wrong.
    """
    others = without(ctx.answers, P.PELVIC_RADIOTHERAPY)

    def codes(value: str) -> set[str]:
        answer = {**others, P.PELVIC_RADIOTHERAPY: {"choice": value}}
        return set(point_codes(P.PELVIC_RADIOTHERAPY, ctx.advise(answer)[1]))

    baseline = codes("none")
    return [value for value in PELVIC_LABELS if not codes(value) - baseline]


def liver_recommendation(advice: Advice) -> tuple[list[str], str | None]:
    """(recommended liver operations, recommended sequence or None)."""
    if str(advice.conversion_status) != "converted_resectable":
        return ["none"], None
    strategy = advice.hepatectomy_strategy
    surgeries = (
        [str(strategy)]
        if strategy is not None and str(strategy) != "not_applicable"
        else ["one_stage_hepatectomy", "two_stage_hepatectomy"]
    )
    sequence = str(advice.recommended_sequence)
    return surgeries, (None if sequence == "not_applicable" else sequence)


def sequencing_asked(ctx: WalkContext, advice: Advice) -> bool:
    return str(advice.conversion_status) == "converted_resectable" and not ctx.primary_resected


def recommended_outcome(ctx: WalkContext) -> str:
    if ctx.deferred:
        return "rediscuss"
    liver = ctx.answers.get(P.LIVER_SURGERY, {}).get("surgery")
    primary = ctx.answers.get(P.PRIMARY_MANAGEMENT, {}).get("choice")
    if liver in ("one_stage_hepatectomy", "two_stage_hepatectomy") or primary in (
        "primary_resection",
        "emergency_surgery",
    ):
        return "proceed_to_surgery"
    return "continue_pathway"


def current_course(ctx: WalkContext) -> TreatmentCourse | None:
    open_courses = [c for c in ctx.case.treatment_courses.all() if c.stopped_on is None]
    return max(open_courses, key=lambda c: c.started_on, default=None)
