"""`advise`: run R1–R14 on one case; `advise_json`: the F contract on decoded JSON."""

from functools import lru_cache

from .advice import Advice, advice_to_dict
from .catalogue import CODES, RECOMMENDATIONS, CatalogueEntry, recommendation_key
from .constants import DEFAULT_CONSTANTS, RuleConstants, guideline_version
from .facts import CaseFacts
from .parse import InputError, describe_json, parse_facts
from .rules import (
    anti_egfr_alerts,
    assess_resectability,
    bevacizumab_agent_alerts,
    bevacizumab_surgery_timing,
    biomarker_alerts,
    choose_regimen,
    derive_sidedness,
    immunotherapy_alerts,
    is_triplet_eligible,
    liver_procedure_alerts,
    postoperative_plan,
    primary_treatment_alerts,
    ras_state,
    reassessment_dates,
    scrt_surgery_window,
    sequencing,
    sidedness_alerts,
    symptomatic_primary_options,
    triplet_alerts,
)
from .vocabulary import (
    HARD_STOP_CODES,
    AlertCode,
    ConversionStatus,
    HepatectomyStrategy,
    RecommendedSequence,
    RegimenFamily,
    SequencingOption,
    Sidedness,
    SymptomaticPrimaryOption,
)

# Lookups built once so that `advise` does no string formatting on the hot path.
_RANK = {code: index for index, code in enumerate(AlertCode)}  # A.3 table order
_HARD = frozenset(HARD_STOP_CODES)
_ALERT_ENTRY = dict(CODES)


def _entries[T](output: str, values: list[T]) -> dict[T, CatalogueEntry]:
    return {value: RECOMMENDATIONS[recommendation_key(output, value)] for value in values}


_BOOLS = [True, False]
_SIDEDNESS = _entries("sidedness", list(Sidedness))
_TRIPLET = _entries("triplet_eligible", _BOOLS)
_REGIMEN = _entries("recommended_regimen_family", list(RegimenFamily))
_PROVISIONAL = _entries("regimen_provisional", _BOOLS)
_CONVERSION = _entries("conversion_status", list(ConversionStatus))
_STRATEGY = _entries("hepatectomy_strategy", list(HepatectomyStrategy))
_SEQUENCING_OPTION = _entries("sequencing_options", list(SequencingOption))
_SEQUENCE = _entries("recommended_sequence", list(RecommendedSequence))
_SYMPTOM_OPTION = _entries("symptomatic_primary_options", list(SymptomaticPrimaryOption))
_POSTOP_RECOMMENDED = _entries("postop_chemo_recommended", _BOOLS)
_NEXT_REASSESSMENT = RECOMMENDATIONS["next_reassessment_date"]
_NEXT_REASSESSMENT_8W = RECOMMENDATIONS["next_reassessment_date_8_weeks"]
_EARLIEST_SURGERY = RECOMMENDATIONS["earliest_elective_surgery_date"]
_LATEST_AFTER_SCRT = RECOMMENDATIONS["latest_primary_surgery_date_after_scrt"]
_POSTOP_MONTHS = RECOMMENDATIONS["postop_chemo_months"]
_POSTOP_BACKBONE = RECOMMENDATIONS["postop_backbone"]


@lru_cache(maxsize=64)
def _version(constants: RuleConstants) -> str:
    return guideline_version(constants)


def advise(facts: CaseFacts, constants: RuleConstants = DEFAULT_CONSTANTS) -> Advice:
    """Apply R1–R14 to `facts`. Pure: same input, same output; no clock, no I/O."""
    sidedness = derive_sidedness(facts)  # R1
    triplet_eligible = is_triplet_eligible(facts.age_years, facts.ecog)  # R2
    ras = ras_state(facts)  # B1
    family, provisional, regimen_codes = choose_regimen(facts, sidedness, triplet_eligible, ras)
    status, strategy, resectability_codes = assess_resectability(facts, constants)  # R7
    options, sequence, sequencing_codes = sequencing(facts, status)  # R13
    next_date, next_date_8w = reassessment_dates(facts, constants)  # R9
    earliest_surgery, bev_codes = bevacizumab_surgery_timing(facts, constants)  # R10
    latest_after_scrt, scrt_codes = scrt_surgery_window(facts, constants)  # R11
    symptom_options = symptomatic_primary_options(facts)  # R12
    postop_recommended, postop_months, postop_backbone, postop_codes = postoperative_plan(
        facts, constants
    )  # R14

    fired = sorted(
        (
            *sidedness_alerts(facts.sidedness_reported, sidedness),
            *triplet_alerts(facts),
            *biomarker_alerts(facts, ras),
            *regimen_codes,
            *anti_egfr_alerts(facts, sidedness, ras),  # R6
            *immunotherapy_alerts(facts),
            *bevacizumab_agent_alerts(facts),
            *resectability_codes,
            *liver_procedure_alerts(facts, constants),
            *primary_treatment_alerts(facts, status),  # R8
            *sequencing_codes,
            *bev_codes,
            *scrt_codes,
            *postop_codes,
        ),
        key=_RANK.__getitem__,
    )
    hard_stops = tuple(code for code in fired if code in _HARD)
    warnings = tuple(code for code in fired if code not in _HARD)

    explanations = [_ALERT_ENTRY[code] for code in fired]
    explanations += (
        _SIDEDNESS[sidedness],
        _TRIPLET[triplet_eligible],
        _REGIMEN[family],
        _PROVISIONAL[provisional],
        _CONVERSION[status],
    )
    if strategy is not None:
        explanations.append(_STRATEGY[strategy])
    explanations += [_SEQUENCING_OPTION[option] for option in options]
    explanations.append(_SEQUENCE[sequence])
    explanations += [_SYMPTOM_OPTION[option] for option in symptom_options]
    if next_date is not None:
        explanations += (_NEXT_REASSESSMENT, _NEXT_REASSESSMENT_8W)
    if earliest_surgery is not None:
        explanations.append(_EARLIEST_SURGERY)
    if latest_after_scrt is not None:
        explanations.append(_LATEST_AFTER_SCRT)
    if postop_recommended is not None:
        explanations.append(_POSTOP_RECOMMENDED[postop_recommended])
    if postop_months is not None:
        explanations.append(_POSTOP_MONTHS)
    if postop_backbone is not None:
        explanations.append(_POSTOP_BACKBONE)

    return Advice(
        sidedness=sidedness,
        triplet_eligible=triplet_eligible,
        recommended_regimen_family=family,
        regimen_provisional=provisional,
        hard_stops=hard_stops,
        warnings=warnings,
        conversion_status=status,
        hepatectomy_strategy=strategy,
        sequencing_options=options,
        recommended_sequence=sequence,
        symptomatic_primary_options=symptom_options,
        next_reassessment_date=next_date,
        next_reassessment_date_8_weeks=next_date_8w,
        earliest_elective_surgery_date=earliest_surgery,
        latest_primary_surgery_date_after_scrt=latest_after_scrt,
        postop_chemo_recommended=postop_recommended,
        postop_chemo_months=postop_months,
        postop_backbone=postop_backbone,
        guideline_version=_version(constants),
        explanations=tuple(explanations),
        rule_constants=constants,
    )


def advise_json(
    payload: object, constants: RuleConstants = DEFAULT_CONSTANTS
) -> dict[str, object] | list[dict[str, object]]:
    """The F contract on an already decoded JSON document: one object gives one output object; a
    list gives a list in the same order. Every item is validated before any advice is made, so
    bad input yields an `InputError` (keys of list items prefixed `[i].`) and no output."""
    if isinstance(payload, list):
        facts_list = []
        for index, item in enumerate(payload):
            try:
                facts_list.append(parse_facts(item))
            except InputError as error:
                raise error.within(f"[{index}]") from None
        return [advice_to_dict(advise(facts, constants)) for facts in facts_list]
    if not isinstance(payload, dict):
        raise InputError(
            "",
            "expected a JSON object of case inputs or a list of such objects, got "
            + describe_json(payload),
        )
    return advice_to_dict(advise(parse_facts(payload), constants))
