"""`Advice`: the A.2 outputs with their alerts and explanations, and its F-contract dict."""

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from .catalogue import CatalogueEntry
from .constants import RuleConstants
from .vocabulary import (
    AlertCode,
    Backbone,
    ConversionStatus,
    HepatectomyStrategy,
    RecommendedSequence,
    RegimenFamily,
    SequencingOption,
    Sidedness,
    SymptomaticPrimaryOption,
)

# The A.2 keys in the specification's order: every one is present in the contract (G5).
OUTPUT_KEYS: tuple[str, ...] = (
    "sidedness",
    "triplet_eligible",
    "recommended_regimen_family",
    "regimen_provisional",
    "hard_stops",
    "warnings",
    "conversion_status",
    "hepatectomy_strategy",
    "sequencing_options",
    "recommended_sequence",
    "symptomatic_primary_options",
    "next_reassessment_date",
    "next_reassessment_date_8_weeks",
    "earliest_elective_surgery_date",
    "latest_primary_surgery_date_after_scrt",
    "postop_chemo_recommended",
    "postop_chemo_months",
    "postop_backbone",
)


@dataclass(frozen=True, slots=True)
class Advice:
    """What the engine says about one case. `None` means "does not apply" (G5)."""

    sidedness: Sidedness
    triplet_eligible: bool
    recommended_regimen_family: RegimenFamily
    regimen_provisional: bool
    hard_stops: tuple[AlertCode, ...]
    warnings: tuple[AlertCode, ...]
    conversion_status: ConversionStatus
    hepatectomy_strategy: HepatectomyStrategy | None  # None: converted, FLR not measured (L2)
    sequencing_options: tuple[SequencingOption, ...]
    recommended_sequence: RecommendedSequence
    symptomatic_primary_options: tuple[SymptomaticPrimaryOption, ...]
    next_reassessment_date: date | None
    next_reassessment_date_8_weeks: date | None
    earliest_elective_surgery_date: date | None
    latest_primary_surgery_date_after_scrt: date | None
    postop_chemo_recommended: bool | None
    postop_chemo_months: float | None
    postop_backbone: Backbone | None
    guideline_version: str
    # One entry per fired code (hard stops, then warnings, in A.3 order), then one per
    # recommendation output that has a value, in A.2 order.
    explanations: tuple[CatalogueEntry, ...]
    rule_constants: RuleConstants

    @property
    def codes(self) -> tuple[AlertCode, ...]:
        """Every fired code, hard stops first."""
        return self.hard_stops + self.warnings


@lru_cache(maxsize=64)
def _constants_dict(constants: RuleConstants) -> dict[str, float | int]:
    return constants.as_dict()


def _iso(d: date | None) -> str | None:
    return None if d is None else d.isoformat()


def _text(value: str | None) -> str | None:
    # StrEnum members are str already; `str()` gives the plain value for JSON encoders that
    # check exact types.
    return None if value is None else str(value)


def advice_to_dict(advice: Advice) -> dict[str, object]:
    """The F contract: every A.2 key (null where it does not apply), ISO dates, codes as lists in
    A.3 order, the guideline version, the explanations and the constants in force."""
    return {
        "sidedness": str(advice.sidedness),
        "triplet_eligible": advice.triplet_eligible,
        "recommended_regimen_family": str(advice.recommended_regimen_family),
        "regimen_provisional": advice.regimen_provisional,
        "hard_stops": [str(code) for code in advice.hard_stops],
        "warnings": [str(code) for code in advice.warnings],
        "conversion_status": str(advice.conversion_status),
        "hepatectomy_strategy": _text(advice.hepatectomy_strategy),
        "sequencing_options": [str(option) for option in advice.sequencing_options],
        "recommended_sequence": str(advice.recommended_sequence),
        "symptomatic_primary_options": [
            str(option) for option in advice.symptomatic_primary_options
        ],
        "next_reassessment_date": _iso(advice.next_reassessment_date),
        "next_reassessment_date_8_weeks": _iso(advice.next_reassessment_date_8_weeks),
        "earliest_elective_surgery_date": _iso(advice.earliest_elective_surgery_date),
        "latest_primary_surgery_date_after_scrt": _iso(
            advice.latest_primary_surgery_date_after_scrt
        ),
        "postop_chemo_recommended": advice.postop_chemo_recommended,
        "postop_chemo_months": advice.postop_chemo_months,
        "postop_backbone": _text(advice.postop_backbone),
        "guideline_version": advice.guideline_version,
        "explanations": [entry.as_dict() for entry in advice.explanations],
        "rule_constants": dict(_constants_dict(advice.rule_constants)),  # a copy: callers own it
    }
