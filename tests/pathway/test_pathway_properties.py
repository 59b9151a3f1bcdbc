"""Property tests: calendar arithmetic, inclusive intervals and invariants over random cases."""

import json
from datetime import date
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from cases.pathway import (
    CODES,
    FACT_KEYS,
    HARD_STOP_CODES,
    OUTPUT_KEYS,
    WARNING_CODES,
    Agent,
    AlertCode,
    Backbone,
    BrafStatus,
    CaseFacts,
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
    PrimarySite,
    PrimarySymptom,
    RegimenFamily,
    ReportedSidedness,
    RuleConstants,
    Sidedness,
    SurgeryUrgency,
    SurgicalMargin,
    add_days,
    add_months,
    advice_to_dict,
    advise,
    advise_json,
    facts_to_dict,
    guideline_version,
    parse_facts,
    reassessment_schedule,
)
from cases.pathway.calendar import days_in_month

A = AlertCode
ANTI_EGFR = {Agent.CETUXIMAB, Agent.PANITUMUMAB}
# Dates that keep every derived date inside Python's range, like parse_facts' window.
DATES = st.dates(min_value=date(1900, 1, 1), max_value=date(2999, 12, 31))


def optional[T](strategy: st.SearchStrategy[T]) -> st.SearchStrategy[T | None]:
    return st.none() | strategy


# Case dates fall in a window of under two years that spans a leap day and every month end, so
# random pairs land on both sides of the 42-day and 6-month limits.
CASE_DATES = optional(st.dates(min_value=date(2024, 1, 1), max_value=date(2025, 9, 30)))

# Any valid case (the same domain `parse_facts` accepts).
CASE_FACTS = st.builds(
    CaseFacts,
    age_years=optional(st.integers(0, 130)),
    ecog=optional(st.integers(0, 4)),
    primary_site=st.sampled_from(PrimarySite),
    sidedness_reported=optional(st.sampled_from(ReportedSidedness)),
    mmr_msi_status=st.sampled_from(MmrStatus),
    kras_status=st.sampled_from(KrasStatus),
    nras_status=st.sampled_from(NrasStatus),
    braf_v600e_status=st.sampled_from(BrafStatus),
    her2_status=st.sampled_from(Her2Status),
    primary_symptom=st.sampled_from(PrimarySymptom),
    hpb_mdt_reviewed=st.booleans(),
    r0_achievable=optional(st.booleans()),
    flr_percent_slv=optional(st.integers(0, 100) | st.floats(0, 100) | st.just(30.0)),
    flr_segments_remaining=optional(st.integers(0, 8)),
    extrahepatic_disease=st.sampled_from(ExtrahepaticDisease),
    pet_complete_metabolic_response=st.booleans(),
    combined_resection_technically_feasible=st.booleans(),
    planned_hepatectomy_extent=optional(st.sampled_from(HepatectomyExtent)),
    proposed_agents=st.frozensets(st.sampled_from(Agent)),
    proposed_liver_surgery=st.sampled_from(LiverSurgery),
    liver_biopsy_proposed=st.booleans(),
    primary_resection_proposed=st.booleans(),
    pelvic_rt_proposed=st.sampled_from(PelvicRt),
    liver_metastases_cleared=st.booleans(),
    colorectal_stent_proposed=st.booleans(),
    chemo_start_date=CASE_DATES,
    last_reassessment_date=CASE_DATES,
    last_bevacizumab_dose_date=CASE_DATES,
    planned_surgery_date=CASE_DATES,
    planned_surgery_urgency=st.sampled_from(SurgeryUrgency),
    planned_surgery_includes_primary=st.booleans(),
    scrt_completion_date=CASE_DATES,
    surgical_margin=optional(st.sampled_from(SurgicalMargin)),
    preop_chemo_months_given=optional(
        st.integers(0, 24)
        | st.floats(0, 24)
        | st.integers(min_value=0)
        | st.floats(min_value=0, allow_infinity=False)
    ),
    preop_backbone=optional(st.sampled_from(Backbone)),
)
INVARIANTS = settings(max_examples=150)


# ---------------------------------------------------------------------------------------------
# add_months and the schedule
# ---------------------------------------------------------------------------------------------


@given(DATES, st.integers(-120, 120))
def test_add_months_moves_the_month_and_clamps_only_when_needed(d: date, n: int) -> None:
    result = add_months(d, n)
    assert (result.year * 12 + result.month) - (d.year * 12 + d.month) == n
    assert result.day <= d.day
    last_day = days_in_month(result.year, result.month)
    if d.day <= last_day:
        assert result.day == d.day  # the target month has the day: keep it
    else:
        assert result.day == last_day  # otherwise the month's last day


@given(DATES, st.integers(0, 60), st.integers(0, 60))
def test_chained_additions_never_overtake_a_single_one(d: date, a: int, b: int) -> None:
    # Clamping can only pull a chained result earlier, which is why schedules use start + 2k.
    assert add_months(add_months(d, a), b) <= add_months(d, a + b)


@given(DATES, st.integers(0, 24))
def test_the_schedule_never_drifts(start: date, count: int) -> None:
    schedule = reassessment_schedule(start, count)
    assert len(schedule) == count
    for k, when in enumerate(schedule, start=1):
        assert when == add_months(start, 2 * k)
        if start.day <= days_in_month(when.year, when.month):
            assert when.day == start.day  # a clamp in one month does not carry to the next
    assert all(earlier < later for earlier, later in pairwise(schedule))


# ---------------------------------------------------------------------------------------------
# Inclusive intervals (R10, R11)
# ---------------------------------------------------------------------------------------------


@given(DATES.filter(lambda d: d.year < 2999), st.integers(-10, 90), st.sampled_from(SurgeryUrgency))
def test_bevacizumab_interval_is_strict_before_day_42(
    dose: date, gap: int, urgency: SurgeryUrgency
) -> None:
    facts = CaseFacts(
        last_bevacizumab_dose_date=dose,
        planned_surgery_date=add_days(dose, gap),
        planned_surgery_urgency=urgency,
    )
    advice = advise(facts)
    too_soon = gap < 42
    elective = urgency is SurgeryUrgency.ELECTIVE
    assert (A.BEV_SURGERY_INTERVAL_LT_6_WEEKS in advice.hard_stops) is (too_soon and elective)
    assert (A.BEV_RECENT_EMERGENCY_SURGERY in advice.warnings) is (too_soon and not elective)
    assert advice.earliest_elective_surgery_date == add_days(dose, 42)


@given(DATES.filter(lambda d: d.year < 2999), st.integers(-30, 400), st.booleans())
def test_scrt_window_includes_its_last_day(scrt: date, gap: int, includes_primary: bool) -> None:
    surgery = add_days(scrt, gap)
    latest = add_months(scrt, 6)
    advice = advise(
        CaseFacts(
            scrt_completion_date=scrt,
            planned_surgery_date=surgery,
            planned_surgery_includes_primary=includes_primary,
        )
    )
    assert advice.latest_primary_surgery_date_after_scrt == latest
    warned = A.SCRT_TO_SURGERY_INTERVAL_GT_6_MONTHS in advice.warnings
    assert warned is (includes_primary and surgery > latest)


# ---------------------------------------------------------------------------------------------
# Invariants over random valid cases
# ---------------------------------------------------------------------------------------------


@INVARIANTS
@given(CASE_FACTS)
def test_anti_egfr_is_only_recommended_for_left_sided_wild_type_proficient_disease(
    facts: CaseFacts,
) -> None:
    advice = advise(facts)
    if advice.recommended_regimen_family is RegimenFamily.DOUBLET_ANTI_EGFR:
        assert facts.kras_status is KrasStatus.WILD_TYPE
        assert facts.nras_status is NrasStatus.WILD_TYPE
        assert facts.braf_v600e_status is BrafStatus.WILD_TYPE
        assert facts.mmr_msi_status is not MmrStatus.DMMR_MSI_H
        assert advice.sidedness is Sidedness.LEFT
        assert facts.ecog is None or facts.ecog < 3


@INVARIANTS
@given(CASE_FACTS)
def test_anti_egfr_with_mutant_ras_is_always_stopped(facts: CaseFacts) -> None:
    ras_mutant = facts.kras_status is KrasStatus.MUTANT or facts.nras_status is NrasStatus.MUTANT
    proposed = bool(ANTI_EGFR & facts.proposed_agents)
    assert (A.ANTI_EGFR_RAS_MUTANT in advise(facts).hard_stops) is (proposed and ras_mutant)


@INVARIANTS
@given(CASE_FACTS)
def test_advice_is_complete_ordered_and_explained(facts: CaseFacts) -> None:
    advice = advise(facts)
    assert advise(facts) == advice  # deterministic
    output = advice_to_dict(advice)
    assert set(OUTPUT_KEYS) <= set(output)  # G5
    assert json.loads(json.dumps(output)) == output
    assert set(advice.hard_stops) <= set(HARD_STOP_CODES)
    assert set(advice.warnings) <= set(WARNING_CODES)
    order = list(AlertCode)
    fired = list(advice.codes)
    assert fired == sorted(set(fired), key=order.index)  # A.3 order, no repeats
    explained = {entry.code: entry for entry in advice.explanations}
    for code in fired:
        assert explained[code] is CODES[code]
        assert CODES[code].citations
    assert all(entry.citations for entry in advice.explanations)


@INVARIANTS
@given(CASE_FACTS)
def test_outputs_keep_the_g_readings(facts: CaseFacts) -> None:
    advice = advise(facts)
    converted = advice.conversion_status is ConversionStatus.CONVERTED_RESECTABLE
    # L4
    if not converted:
        assert advice.hepatectomy_strategy is HepatectomyStrategy.NOT_APPLICABLE
        assert advice.sequencing_options == ()
    # L3 as changed by H1 (2026-12-03): exactly the two-stage branch
    two_stage = advice.hepatectomy_strategy is HepatectomyStrategy.TWO_STAGE_HEPATECTOMY
    assert (A.FLR_BELOW_THRESHOLD_TWO_STAGE_OR_PVE in advice.warnings) is two_stage
    # P2
    assert (advice.symptomatic_primary_options == ()) is (
        facts.primary_symptom is PrimarySymptom.NONE
    )
    # B2
    if advice.recommended_regimen_family in (
        RegimenFamily.PEMBROLIZUMAB,
        RegimenFamily.NO_INTENSIVE_THERAPY_MDT_REVIEW,
    ):
        assert advice.regimen_provisional is False
    # G3
    if facts.age_years is None or facts.ecog is None:
        assert advice.triplet_eligible is False
    # O1
    if facts.surgical_margin is None:
        assert advice.postop_chemo_recommended is None
        assert advice.postop_chemo_months is None
        assert advice.postop_backbone is None
    # R9
    if facts.last_reassessment_date is None and facts.chemo_start_date is None:
        assert advice.next_reassessment_date is None


@settings(max_examples=100)
@given(CASE_FACTS)
def test_facts_round_trip_through_json(facts: CaseFacts) -> None:
    document = json.loads(json.dumps(facts_to_dict(facts)))
    assert set(document) <= set(FACT_KEYS)
    assert parse_facts(document) == facts
    assert advise_json(document) == advice_to_dict(advise(facts))


@given(
    st.builds(
        RuleConstants,
        flr_min_percent_slv=st.integers(0, 100),
        bev_min_days=st.integers(0, 120),
        reassess_months=st.integers(0, 12),
        reassess_days=st.integers(0, 120),
        scrt_max_delay_months=st.integers(0, 12),
        periop_total_months=st.integers(0, 12),
    )
)
def test_the_version_changes_exactly_when_a_constant_does(constants: RuleConstants) -> None:
    default = guideline_version()
    assert (guideline_version(constants) == default) is (constants == RuleConstants())
