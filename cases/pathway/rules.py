"""Rules R1–R14 of section E, read with the binding readings of section G.

Each rule is a small pure function of the facts (and the constants it needs). A rule returns its
outputs and the alert codes it fired; `engine.advise` puts them together. Branch comments name
the rule or reading they implement.
"""

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from enum import Enum

from .calendar import (
    add_days,
    earliest_elective_surgery,
    latest_primary_surgery_after_scrt,
    next_reassessment,
)
from .constants import RuleConstants
from .facts import CaseFacts
from .vocabulary import (
    ANTI_EGFR_AGENTS,
    BEV_BLEEDING_RISK_SYMPTOMS,
    BRAF_UNRESOLVED,
    CHECKPOINT_INHIBITORS,
    LIVER_SURGERY_PROPOSED,
    MMR_UNRESOLVED,
    SITE_SIDEDNESS,
    SYMPTOM_OPTIONS,
    TRIPLET_AGENTS,
    Agent,
    AlertCode,
    Backbone,
    BrafStatus,
    ConversionStatus,
    ExtrahepaticDisease,
    HepatectomyExtent,
    HepatectomyStrategy,
    Her2Status,
    KrasStatus,
    LiverSurgery,
    MmrStatus,
    NrasStatus,
    PelvicRt,
    PrimarySymptom,
    RecommendedSequence,
    RegimenFamily,
    ReportedSidedness,
    SequencingOption,
    Sidedness,
    SurgeryUrgency,
    SurgicalMargin,
    SymptomaticPrimaryOption,
)

A = AlertCode
Codes = tuple[AlertCode, ...]


class RasState(Enum):
    """B1: the combined KRAS/NRAS reading."""

    MUTANT = "mutant"
    WILD_TYPE = "wild_type"  # both KRAS and NRAS wild-type on extended testing
    UNKNOWN = "unknown"


# ---------------------------------------------------------------------------------------------
# R1 sidedness
# ---------------------------------------------------------------------------------------------


def derive_sidedness(facts: CaseFacts) -> Sidedness:
    """R1: the side comes from the primary site only, never from the referral's free text."""
    return SITE_SIDEDNESS[facts.primary_site]


def sidedness_alerts(reported: ReportedSidedness | None, derived: Sidedness) -> Codes:
    # R1, B5: no conflict can be shown against an undetermined side.
    if reported is None or derived is Sidedness.UNDETERMINED:
        return ()
    if reported.value != derived.value:
        return (A.SIDEDNESS_CONFLICT,)
    return ()


# ---------------------------------------------------------------------------------------------
# R2 triplet eligibility
# ---------------------------------------------------------------------------------------------


def is_triplet_eligible(age: int | None, ecog: int | None) -> bool:
    """R2 (TRIBE criteria, without ECOG 2); G3: false when age or ECOG is missing."""
    if age is None or ecog is None:
        return False
    return (age <= 70 and ecog <= 1) or (71 <= age <= 75 and ecog == 0)


def triplet_alerts(facts: CaseFacts) -> Codes:
    # X3: the triplet alerts need both oxaliplatin and irinotecan proposed.
    if not facts.proposed_agents >= TRIPLET_AGENTS:
        return ()
    age, ecog = facts.age_years, facts.ecog
    # R2; G3: a missing value never satisfies "≥ 2" or "> 75".
    if (ecog is not None and ecog >= 2) or (age is not None and age > 75):
        return (A.TRIPLET_NOT_APPROPRIATE,)
    if age is not None and 71 <= age <= 75 and ecog == 1:
        return (A.TRIPLET_OUTSIDE_TRIBE_CRITERIA,)
    return ()


# ---------------------------------------------------------------------------------------------
# Biomarkers (B1, B4)
# ---------------------------------------------------------------------------------------------


def ras_state(facts: CaseFacts) -> RasState:
    """B1: mutant if either gene is mutant; wild-type only if both are extended wild-type."""
    if facts.kras_status is KrasStatus.MUTANT or facts.nras_status is NrasStatus.MUTANT:
        return RasState.MUTANT
    if facts.kras_status is KrasStatus.WILD_TYPE and facts.nras_status is NrasStatus.WILD_TYPE:
        return RasState.WILD_TYPE
    return RasState.UNKNOWN


def biomarker_alerts(facts: CaseFacts, ras: RasState) -> Codes:
    """B4: these fire whatever the agents, the regimen family or the ECOG."""
    codes: list[AlertCode] = []
    if facts.mmr_msi_status in MMR_UNRESOLVED:
        codes.append(A.MMR_STATUS_REQUIRED)
    if ras is RasState.UNKNOWN:  # B1: a known mutation settles RAS even if the other gene is open
        codes.append(A.RAS_STATUS_REQUIRED)
    if facts.braf_v600e_status in BRAF_UNRESOLVED:
        codes.append(A.BRAF_STATUS_REQUIRED)
    if facts.kras_status is KrasStatus.WILD_TYPE_EXON2_ONLY:  # B1
        codes.append(A.RAS_TESTING_INCOMPLETE_KRAS_EXON2_ONLY)
    return tuple(codes)


# ---------------------------------------------------------------------------------------------
# R3–R5 recommended regimen family
# ---------------------------------------------------------------------------------------------


def _bevacizumab_family(triplet_eligible: bool) -> RegimenFamily:
    # R3a: the triplet for the fit, otherwise a doublet (ESMO fallback).
    if triplet_eligible:
        return RegimenFamily.FOLFOXIRI_BEVACIZUMAB
    return RegimenFamily.DOUBLET_BEVACIZUMAB


def choose_regimen(
    facts: CaseFacts, sidedness: Sidedness, triplet_eligible: bool, ras: RasState
) -> tuple[RegimenFamily, bool, Codes]:
    """R3–R5, first match wins. Returns (family, provisional, codes)."""
    ecog = facts.ecog
    # R3 step 1; B2: never provisional.
    if ecog is not None and ecog >= 3:
        return (
            RegimenFamily.NO_INTENSIVE_THERAPY_MDT_REVIEW,
            False,
            (A.PERFORMANCE_STATUS_TOO_POOR_FOR_CONVERSION,),
        )
    # R3 step 2: dMMR overrides RAS, BRAF and side; B2: never provisional.
    if facts.mmr_msi_status is MmrStatus.DMMR_MSI_H:
        codes = (A.PEMBROLIZUMAB_ECOG2_OUTSIDE_TRIAL,) if ecog == 2 else ()
        return RegimenFamily.PEMBROLIZUMAB, False, codes
    # R3 step 3; B2: provisional while MMR is unresolved.
    provisional = facts.mmr_msi_status in MMR_UNRESOLVED
    braf = facts.braf_v600e_status
    if braf is BrafStatus.MUTANT:  # R3a; B3: the only place the encorafenib hint fires
        return (
            _bevacizumab_family(triplet_eligible),
            provisional,
            (A.BRAF_V600E_CONSIDER_ENCORAFENIB_CETUXIMAB,),
        )
    if ras is RasState.MUTANT:  # R3b
        return _bevacizumab_family(triplet_eligible), provisional, ()
    if ras is RasState.WILD_TYPE and braf is BrafStatus.WILD_TYPE:  # R3c
        if sidedness is Sidedness.LEFT:
            return RegimenFamily.DOUBLET_ANTI_EGFR, provisional, ()
        return _bevacizumab_family(triplet_eligible), provisional, ()
    # R3d (R5): something is still outstanding and no mutation is known.
    return RegimenFamily.DOUBLET_CHEMOTHERAPY_PENDING_BIOMARKERS, True, ()


# ---------------------------------------------------------------------------------------------
# R6 checks on proposed agents
# ---------------------------------------------------------------------------------------------


def anti_egfr_alerts(facts: CaseFacts, sidedness: Sidedness, ras: RasState) -> Codes:
    agents = facts.proposed_agents
    if agents.isdisjoint(ANTI_EGFR_AGENTS):
        return ()
    braf_mutant = facts.braf_v600e_status is BrafStatus.MUTANT
    with_encorafenib = Agent.ENCORAFENIB in agents
    # X1: BREAKWATER (encorafenib + cetuximab, any side) excuses the sidedness checks only.
    side_exempt = braf_mutant and with_encorafenib and Agent.CETUXIMAB in agents
    codes: list[AlertCode] = []
    if ras is RasState.MUTANT:
        codes.append(A.ANTI_EGFR_RAS_MUTANT)
    elif ras is RasState.UNKNOWN:  # B1: pending, not tested or exon 2 only, no mutation
        codes.append(A.ANTI_EGFR_RAS_UNKNOWN)
    if not side_exempt:
        if sidedness is Sidedness.RIGHT:
            codes.append(A.ANTI_EGFR_RIGHT_SIDED)
        elif sidedness is Sidedness.UNDETERMINED:
            codes.append(A.ANTI_EGFR_SIDEDNESS_UNDETERMINED)
    if braf_mutant and not with_encorafenib:  # X1: encorafenib with either antibody excuses it
        codes.append(A.ANTI_EGFR_BRAF_V600E)
    if Agent.BEVACIZUMAB in agents:
        codes.append(A.DUAL_BIOLOGIC)
    if facts.braf_v600e_status in BRAF_UNRESOLVED:  # warning only: the labels require RAS
        codes.append(A.ANTI_EGFR_BRAF_STATUS_UNKNOWN)
    if Agent.CAPECITABINE in agents:
        codes.append(A.ANTI_EGFR_WITH_CAPECITABINE)
    if facts.her2_status is Her2Status.AMPLIFIED:
        codes.append(A.HER2_AMPLIFIED_ANTI_EGFR_LESS_EFFECTIVE)
    return tuple(codes)


def immunotherapy_alerts(facts: CaseFacts) -> Codes:
    agents = facts.proposed_agents
    mmr = facts.mmr_msi_status
    if agents.isdisjoint(CHECKPOINT_INHIBITORS):
        # R6, X2: dMMR with a non-empty proposal that leaves out immunotherapy.
        if mmr is MmrStatus.DMMR_MSI_H and agents:
            return (A.IMMUNOTHERAPY_PREFERRED_DMMR,)
        return ()
    if mmr is MmrStatus.PMMR_MSS:
        return (A.IMMUNOTHERAPY_NOT_INDICATED_PMMR,)
    if mmr in MMR_UNRESOLVED:
        return (A.IMMUNOTHERAPY_MMR_UNCONFIRMED,)
    return ()  # D3: any checkpoint inhibitor in dMMR disease is accepted


def bevacizumab_agent_alerts(facts: CaseFacts) -> Codes:
    if Agent.BEVACIZUMAB not in facts.proposed_agents:
        return ()
    codes: list[AlertCode] = []
    if facts.colorectal_stent_proposed:
        codes.append(A.BEV_WITH_COLORECTAL_STENT)
    if facts.primary_symptom in BEV_BLEEDING_RISK_SYMPTOMS:
        codes.append(A.BEV_CAUTION_BLEEDING_OR_PERFORATION)
    return tuple(codes)


# ---------------------------------------------------------------------------------------------
# R7 resectability and liver surgery
# ---------------------------------------------------------------------------------------------


def _too_few_segments(facts: CaseFacts) -> bool:
    # G3: missing segments are not "fewer than 2".
    segments = facts.flr_segments_remaining
    return segments is not None and segments < 2


def _flr_below(facts: CaseFacts, constants: RuleConstants) -> bool:
    # G3: a missing FLR is not "< 30 %"; the threshold itself passes (inclusive).
    flr = facts.flr_percent_slv
    return flr is not None and flr < constants.flr_min_percent_slv


def assess_resectability(
    facts: CaseFacts, constants: RuleConstants
) -> tuple[ConversionStatus, HepatectomyStrategy | None, Codes]:
    """R7: (conversion status, hepatectomy strategy, codes)."""
    not_applicable = HepatectomyStrategy.NOT_APPLICABLE  # L4
    if facts.r0_achievable is not True:  # G2: null (not assessed) counts here
        return ConversionStatus.NOT_RESECTABLE, not_applicable, ()
    if not facts.hpb_mdt_reviewed:
        return ConversionStatus.RESECTABILITY_UNCONFIRMED, not_applicable, ()
    if facts.extrahepatic_disease is ExtrahepaticDisease.UNRESECTABLE or _too_few_segments(facts):
        return ConversionStatus.NOT_RESECTABLE, not_applicable, ()
    converted = ConversionStatus.CONVERTED_RESECTABLE
    if facts.flr_percent_slv is None:  # L2: undetermined until the remnant is measured
        return converted, None, ()
    if _flr_below(facts, constants):
        # H1 (2026-12-03): the warning fires exactly in this branch, whether or not the segment
        # count is given: it is the reason for the two-stage strategy shown with it.
        codes = (A.FLR_BELOW_THRESHOLD_TWO_STAGE_OR_PVE,)
        return converted, HepatectomyStrategy.TWO_STAGE_HEPATECTOMY, codes
    return converted, HepatectomyStrategy.ONE_STAGE_HEPATECTOMY, ()


def liver_procedure_alerts(facts: CaseFacts, constants: RuleConstants) -> Codes:
    """R7 hard stops for a proposed hepatectomy or liver biopsy, and the PET warning."""
    codes: list[AlertCode] = []
    if facts.proposed_liver_surgery in LIVER_SURGERY_PROPOSED:  # L1
        if facts.r0_achievable is False:  # G2: needs an explicit false, not null
            codes.append(A.DEBULKING_NOT_PERMITTED)
        if not facts.hpb_mdt_reviewed:
            codes.append(A.HPB_MDT_REVIEW_REQUIRED)
        if facts.extrahepatic_disease is ExtrahepaticDisease.UNRESECTABLE:
            codes.append(A.EXTRAHEPATIC_DISEASE_UNRESECTABLE)
        one_stage = facts.proposed_liver_surgery is LiverSurgery.ONE_STAGE_HEPATECTOMY
        # Both the segment count and (for one stage) the volume must be met; PVE before a
        # second stage can grow volume, so two-stage is judged on segments alone.
        if _too_few_segments(facts) or (one_stage and _flr_below(facts, constants)):
            codes.append(A.FLR_INADEQUATE)
    if facts.liver_biopsy_proposed and not facts.hpb_mdt_reviewed:
        codes.append(A.LIVER_BIOPSY_WITHOUT_HPB_DISCUSSION)
    if facts.pet_complete_metabolic_response:  # does not change resectability
        codes.append(A.PET_CMR_RESECT_ORIGINAL_SITES)
    return tuple(codes)


# ---------------------------------------------------------------------------------------------
# R8 primary and pelvic treatment
# ---------------------------------------------------------------------------------------------


def primary_treatment_alerts(facts: CaseFacts, status: ConversionStatus) -> Codes:
    codes: list[AlertCode] = []
    if facts.pelvic_rt_proposed is PelvicRt.LONG_COURSE_CRT and not facts.liver_metastases_cleared:
        codes.append(A.LONG_COURSE_CRT_UPFRONT)
    # P1: resection is primary_resection_proposed; pelvic RT is any course other than none.
    locoregional = facts.primary_resection_proposed or facts.pelvic_rt_proposed is not PelvicRt.NONE
    if (
        locoregional
        and facts.primary_symptom is PrimarySymptom.NONE
        and status is not ConversionStatus.CONVERTED_RESECTABLE  # once converted, SCRT is fine
        and not facts.liver_metastases_cleared
    ):
        codes.append(A.PRIMARY_LOCOREGIONAL_TREATMENT_DEFERRED)
    return tuple(codes)


# ---------------------------------------------------------------------------------------------
# R9–R11 dates
# ---------------------------------------------------------------------------------------------


def _shifted(shift: Callable[[], date]) -> date | None:
    """A derived date, or None when it would fall after year 9999 (no such calendar date)."""
    try:
        return shift()
    except OverflowError:
        return None


def reassessment_dates(
    facts: CaseFacts, constants: RuleConstants
) -> tuple[date | None, date | None]:
    """R9: (calendar-month date, 8-week date) from the last reassessment, else chemo start."""
    anchor = facts.last_reassessment_date or facts.chemo_start_date
    if anchor is None:
        return None, None
    return (
        _shifted(lambda: next_reassessment(anchor, constants.reassess_months)),
        _shifted(lambda: add_days(anchor, constants.reassess_days)),
    )


def bevacizumab_surgery_timing(
    facts: CaseFacts, constants: RuleConstants
) -> tuple[date | None, Codes]:
    """R10: (earliest elective surgery date, codes)."""
    last_dose = facts.last_bevacizumab_dose_date
    if last_dose is None:
        return None, ()
    earliest = _shifted(lambda: earliest_elective_surgery(last_dose, constants.bev_min_days))
    # D3: the interval is computed whatever the urgency
    planned = facts.planned_surgery_date
    if earliest is None:  # G3: a date that does not exist compares with nothing
        return None, ()
    # D1: strict "before": surgery on the earliest day is allowed. D2: bevacizumab need not
    # be among the proposed agents; the dates alone decide.
    if planned is None or planned >= earliest:
        return earliest, ()
    if facts.planned_surgery_urgency is SurgeryUrgency.EMERGENCY:
        return earliest, (A.BEV_RECENT_EMERGENCY_SURGERY,)
    return earliest, (A.BEV_SURGERY_INTERVAL_LT_6_WEEKS,)


def scrt_surgery_window(facts: CaseFacts, constants: RuleConstants) -> tuple[date | None, Codes]:
    """R11: (latest surgery date on the primary after SCRT, codes)."""
    scrt = facts.scrt_completion_date
    if scrt is None:
        return None, ()
    latest = _shifted(
        lambda: latest_primary_surgery_after_scrt(scrt, constants.scrt_max_delay_months)
    )
    planned = facts.planned_surgery_date
    if latest is None:  # G3, as above
        return None, ()
    # D4: only surgery that includes the primary; the last day itself is allowed.
    if facts.planned_surgery_includes_primary and planned is not None and planned > latest:
        return latest, (A.SCRT_TO_SURGERY_INTERVAL_GT_6_MONTHS,)
    return latest, ()


# ---------------------------------------------------------------------------------------------
# R12 symptomatic primary, R13 sequencing
# ---------------------------------------------------------------------------------------------


def symptomatic_primary_options(facts: CaseFacts) -> tuple[SymptomaticPrimaryOption, ...]:
    return SYMPTOM_OPTIONS[facts.primary_symptom]  # R12; P2: none → ()


def sequencing(
    facts: CaseFacts, status: ConversionStatus
) -> tuple[tuple[SequencingOption, ...], RecommendedSequence, Codes]:
    """R13: (options, recommended sequence, codes)."""
    if status is not ConversionStatus.CONVERTED_RESECTABLE:
        return (), RecommendedSequence.NOT_APPLICABLE, ()
    options: list[SequencingOption]
    if facts.primary_symptom is PrimarySymptom.NONE:
        options = [SequencingOption.LIVER_FIRST, SequencingOption.PRIMARY_FIRST_STAGED]
        recommended = RecommendedSequence.LIVER_FIRST  # the seed's "consider liver first"
    else:
        options = [SequencingOption.PRIMARY_FIRST_STAGED]
        recommended = RecommendedSequence.PRIMARY_FIRST_STAGED  # symptoms come first (C30)
    codes: Codes = ()
    if facts.combined_resection_technically_feasible:
        options.append(SequencingOption.SYNCHRONOUS_RESECTION)
        if facts.planned_hepatectomy_extent is HepatectomyExtent.MAJOR:  # P3
            codes = (A.SIMULTANEOUS_MAJOR_HEPATECTOMY_AND_RECTAL_RESECTION,)
    return tuple(options), recommended, codes


# ---------------------------------------------------------------------------------------------
# R14 post-operative plan
# ---------------------------------------------------------------------------------------------


def _exact(number: float) -> Decimal:
    # Floats via their shortest repr (what was typed); ints directly, which also works for ints
    # too long to print.
    return Decimal(number) if isinstance(number, int) else Decimal(repr(number))


def months_remaining(total: float, given: float) -> float:
    """max(0, total − given), computed on the decimal values as entered so that 6 − 4.3 is 1.7,
    not 1.7000000000000002; whole results come back as `int`."""
    remaining = max(Decimal(0), _exact(total) - _exact(given))
    if remaining == remaining.to_integral_value():
        return int(remaining)
    return float(remaining)


def postoperative_plan(
    facts: CaseFacts, constants: RuleConstants
) -> tuple[bool | None, float | None, Backbone | None, Codes]:
    """R14: (chemo recommended, months, backbone, codes)."""
    given = facts.preop_chemo_months_given
    codes: list[AlertCode] = []
    if given is not None and given > constants.periop_total_months:  # O3: with or without margin
        codes.append(A.PREOP_CHEMO_EXCEEDS_6_MONTHS)
    margin = facts.surgical_margin
    if margin is None:  # O1
        return None, None, None, tuple(codes)
    if margin is SurgicalMargin.R1:
        codes.append(A.R1_MARGIN_POSTOP_CHEMO_STRONGLY_RECOMMENDED)
    elif margin is SurgicalMargin.R2:
        codes.append(A.R2_RESIDUAL_DISEASE_NOT_CURATIVE)
    involved = margin is not SurgicalMargin.R0
    if given is None:  # O2: duration unknown; recommended only where the margin demands it
        return (True if involved else None), None, facts.preop_backbone, tuple(codes)
    remaining = months_remaining(constants.periop_total_months, given)
    months: float | None
    if margin is SurgicalMargin.R0:
        months = remaining  # may be 0
    elif margin is SurgicalMargin.R1:
        months = remaining if remaining > 0 else None  # none left: the MDT decides
    else:
        months = None  # R2: continue as metastatic disease
    return remaining > 0 or involved, months, facts.preop_backbone, tuple(codes)
