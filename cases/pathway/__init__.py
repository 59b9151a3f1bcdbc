"""The guideline engine: rectal cancer with unresectable liver metastases.

Pure Python (no Django), implementing `shared/clinical/pathway-spec.md` sections A, E, F and G.
Nothing here reads the clock: every date output is computed from input dates.

    facts = parse_facts({"primary_site": "rectum", "ecog": 0, "age_years": 60})
    advice = advise(facts)
    advice_to_dict(advice)           # the JSON contract of section F
    advise_json(payload)             # the same, on decoded JSON (one object or a list)

Beside it, `recist` computes RECIST 1.1 responses (`shared/clinical/recist-contract.md`):
`assess_series` on dataclasses, `recist_json` on decoded JSON; the rest of its API is imported
from `cases.pathway.recist`.
"""

from .advice import OUTPUT_KEYS, Advice, advice_to_dict
from .calendar import (
    add_days,
    add_months,
    add_working_days,
    earliest_elective_surgery,
    latest_on_time_start,
    latest_primary_surgery_after_scrt,
    next_reassessment,
    reassessment_schedule,
)
from .catalogue import CODES, RECOMMENDATIONS, CatalogueEntry
from .citations import SEED_STATEMENTS, SOURCES, citation_label
from .constants import (
    DEFAULT_CONSTANTS,
    DEFAULT_WORKFLOW,
    GUIDELINE_VERSION,
    RuleConstants,
    WorkflowConstants,
    guideline_version,
)
from .engine import advise, advise_json
from .facts import FACT_KEYS, CaseFacts
from .parse import InputError, facts_to_dict, parse_facts
from .recist import RecistInputError, assess_series, recist_json
from .vocabulary import (
    HARD_STOP_CODES,
    SITE_SIDEDNESS,
    WARNING_CODES,
    Agent,
    AlertCode,
    Backbone,
    BrafStatus,
    ConversionStatus,
    ExplanationKind,
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
    RecommendedSequence,
    RegimenFamily,
    ReportedSidedness,
    SequencingOption,
    Severity,
    Sidedness,
    SurgeryUrgency,
    SurgicalMargin,
    SymptomaticPrimaryOption,
)

__all__ = [
    "CODES",
    "DEFAULT_CONSTANTS",
    "DEFAULT_WORKFLOW",
    "FACT_KEYS",
    "GUIDELINE_VERSION",
    "HARD_STOP_CODES",
    "OUTPUT_KEYS",
    "RECOMMENDATIONS",
    "SEED_STATEMENTS",
    "SITE_SIDEDNESS",
    "SOURCES",
    "WARNING_CODES",
    "Advice",
    "Agent",
    "AlertCode",
    "Backbone",
    "BrafStatus",
    "CaseFacts",
    "CatalogueEntry",
    "ConversionStatus",
    "ExplanationKind",
    "ExtrahepaticDisease",
    "HepatectomyExtent",
    "HepatectomyStrategy",
    "Her2Status",
    "InputError",
    "KrasStatus",
    "LiverSurgery",
    "MmrStatus",
    "NrasStatus",
    "PelvicRt",
    "PrimarySite",
    "PrimarySymptom",
    "RecistInputError",
    "RecommendedSequence",
    "RegimenFamily",
    "ReportedSidedness",
    "RuleConstants",
    "SequencingOption",
    "Severity",
    "Sidedness",
    "SurgeryUrgency",
    "SurgicalMargin",
    "SymptomaticPrimaryOption",
    "WorkflowConstants",
    "add_days",
    "add_months",
    "add_working_days",
    "advice_to_dict",
    "advise",
    "advise_json",
    "assess_series",
    "citation_label",
    "earliest_elective_surgery",
    "facts_to_dict",
    "guideline_version",
    "latest_on_time_start",
    "latest_primary_surgery_after_scrt",
    "next_reassessment",
    "parse_facts",
    "reassessment_schedule",
    "recist_json",
]
