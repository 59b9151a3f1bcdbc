"""JSON (already decoded) → `CaseFacts`, with the validation of G4 and V1–V4.

Bad input never produces advice: the first problem found raises `InputError`, whose message
names the key and, for enumerations, lists the allowed values. `facts_to_dict` is the inverse, for
storing the inputs a piece of advice was made from.
"""

import difflib
import math
import re
from collections.abc import Callable, Iterable
from datetime import date
from enum import StrEnum

from .facts import FACT_KEYS, CaseFacts
from .vocabulary import (
    Agent,
    Backbone,
    BrafStatus,
    ExtrahepaticDisease,
    HepatectomyExtent,
    Her2Status,
    KrasStatus,
    LiverSurgery,
    MmrStatus,
    NrasStatus,
    PelvicRt,
    PrimarySite,
    PrimarySymptom,
    ReportedSidedness,
    SurgeryUrgency,
    SurgicalMargin,
)


class InputError(ValueError):
    """Bad input. `key` names the offending input (`""` for the whole document; list items are
    prefixed with their 0-based index, as in `[2].ecog`); `message` is the full text to show."""

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        self.problem = problem
        self.message = f"{key}: {problem}" if key else problem
        super().__init__(self.message)

    def within(self, prefix: str) -> "InputError":
        """The same problem, located inside a list item or other container."""
        return InputError(f"{prefix}.{self.key}" if self.key else prefix, self.problem)


# Ranges (V2), exactly as the specification gives them: no upper bound for age or segments
# (the database applies its own plausibility limits to what it stores).
_INT_RANGES: dict[str, tuple[int, int | None]] = {
    "age_years": (0, None),
    "ecog": (0, 4),
    "flr_segments_remaining": (0, None),
}
_NUMBER_RANGES: dict[str, tuple[float, float]] = {
    "flr_percent_slv": (0, 100),
    "preop_chemo_months_given": (0, math.inf),
}
# V3: any real calendar date. A date whose derived dates would pass year 9999 still gets advice;
# those derived dates are null (rules.py).
_DATE_PATTERN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # ASCII digits only, unlike \d

_ENUMS: dict[str, type[StrEnum]] = {
    "primary_site": PrimarySite,
    "sidedness_reported": ReportedSidedness,
    "mmr_msi_status": MmrStatus,
    "kras_status": KrasStatus,
    "nras_status": NrasStatus,
    "braf_v600e_status": BrafStatus,
    "her2_status": Her2Status,
    "primary_symptom": PrimarySymptom,
    "extrahepatic_disease": ExtrahepaticDisease,
    "planned_hepatectomy_extent": HepatectomyExtent,
    "proposed_liver_surgery": LiverSurgery,
    "pelvic_rt_proposed": PelvicRt,
    "planned_surgery_urgency": SurgeryUrgency,
    "surgical_margin": SurgicalMargin,
    "preop_backbone": Backbone,
}
_BOOLS = frozenset(
    {
        "hpb_mdt_reviewed",
        "r0_achievable",
        "pet_complete_metabolic_response",
        "combined_resection_technically_feasible",
        "liver_biopsy_proposed",
        "primary_resection_proposed",
        "liver_metastases_cleared",
        "colorectal_stent_proposed",
        "planned_surgery_includes_primary",
    }
)
_DATES = frozenset(
    {
        "chemo_start_date",
        "last_reassessment_date",
        "last_bevacizumab_dose_date",
        "planned_surgery_date",
        "scrt_completion_date",
    }
)
_NULLABLE = frozenset({"r0_achievable"})  # G4

# Value lookups built once: a dict hit is far cheaper than constructing the enum.
_ENUM_VALUES: dict[str, dict[str, StrEnum]] = {
    key: {member.value: member for member in enum} for key, enum in _ENUMS.items()
}
_AGENT_VALUES: dict[str, Agent] = {agent.value: agent for agent in Agent}


def _number_text(value: float) -> str:
    # Python refuses to print ints of more than 4,300 digits; no message needs that many.
    if isinstance(value, int) and value.bit_length() > 64:
        return "a number with more than 19 digits"
    return repr(value)


def describe_json(value: object) -> str:
    """How a JSON value is named in an error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean (" + ("true" if value else "false") + ")"
    if isinstance(value, int | float):
        text = _number_text(value)
        return text if text.startswith("a number") else f"the number {text}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def _allowed(values: Iterable[object]) -> str:
    return "allowed values: " + ", ".join(str(v) for v in values)


def _parse_enum(key: str, value: object) -> StrEnum:
    members = _ENUM_VALUES[key]
    member = members.get(value) if isinstance(value, str) else None
    if member is None:
        raise InputError(key, f"{describe_json(value)} is not allowed; {_allowed(members)}")
    return member


def _parse_bool(key: str, value: object) -> bool:
    if type(value) is not bool:
        raise InputError(key, f"must be true or false, got {describe_json(value)}")
    return value


def _parse_int(key: str, value: object) -> int:
    low, high = _INT_RANGES[key]
    bounds = f"from {low} to {high}" if high is not None else f"≥ {low}"
    # V1: a JSON integer; bool is a subclass of int in Python and is refused explicitly.
    if type(value) is not int:
        raise InputError(key, f"must be a whole number {bounds}, got {describe_json(value)}")
    if value < low or (high is not None and value > high):
        raise InputError(key, f"must be {bounds}, got {_number_text(value)}")
    return value


def _parse_number(key: str, value: object) -> float:
    low, high = _NUMBER_RANGES[key]
    bounds = f"from {low:g} to {high:g}" if math.isfinite(high) else f"≥ {low:g}"
    if type(value) is int:
        number: float = value  # whole numbers stay exact; no float conversion overflow
    elif type(value) is float and math.isfinite(value):
        number = value
    else:  # V1: no booleans, strings, NaN or infinities
        raise InputError(key, f"must be a finite number {bounds}, got {describe_json(value)}")
    if not low <= number <= high:
        raise InputError(key, f"must be {bounds}, got {_number_text(value)}")
    return number


def _parse_date(key: str, value: object) -> date:
    if not isinstance(value, str) or not _DATE_PATTERN.fullmatch(value):
        raise InputError(key, f"must be a date written YYYY-MM-DD, got {describe_json(value)}")
    try:
        parsed = date(int(value[0:4]), int(value[5:7]), int(value[8:10]))
    except ValueError:
        raise InputError(key, f"{value!r} is not a real calendar date") from None
    return parsed


def _parse_agents(key: str, value: object) -> frozenset[Agent]:
    if not isinstance(value, list):
        raise InputError(key, f"must be a list of agents, got {describe_json(value)}")
    agents: set[Agent] = set()
    for index, item in enumerate(value):
        agent = _AGENT_VALUES.get(item) if isinstance(item, str) else None
        if agent is None:
            raise InputError(
                key,
                f"item {index} is {describe_json(item)}, which is not allowed; "
                f"{_allowed(_AGENT_VALUES)}",
            )
        agents.add(agent)  # V4: a repeated agent counts once
    return frozenset(agents)


_Parser = Callable[[str, object], object]


def _parser_for(key: str) -> _Parser:
    if key in _ENUMS:
        return _parse_enum
    if key in _BOOLS:
        return _parse_bool
    if key in _INT_RANGES:
        return _parse_int
    if key in _NUMBER_RANGES:
        return _parse_number
    if key in _DATES:
        return _parse_date
    if key == "proposed_agents":
        return _parse_agents
    raise AssertionError(f"no parser for {key}")  # caught by the import-time table below


_PARSERS: dict[str, _Parser] = {key: _parser_for(key) for key in FACT_KEYS}


def _unknown_key(key: object) -> InputError:
    name = key if isinstance(key, str) else repr(key)
    hint = ""
    if isinstance(key, str):
        close = difflib.get_close_matches(key, FACT_KEYS, n=1)
        if close:
            hint = f" (did you mean {close[0]!r}?)"
    return InputError(name, f"unknown key{hint}; allowed keys: {', '.join(FACT_KEYS)}")


def parse_facts(obj: object) -> CaseFacts:
    """Validate one decoded JSON object and build its `CaseFacts`; missing keys take their A.1
    defaults. Raises `InputError` on the first problem."""
    if not isinstance(obj, dict):
        raise InputError("", f"expected a JSON object of case inputs, got {describe_json(obj)}")
    values: dict[str, object] = {}
    for key, value in obj.items():
        parser = _PARSERS.get(key)
        if parser is None:
            raise _unknown_key(key)
        if value is None:
            if key in _NULLABLE:
                values[key] = None
                continue
            raise InputError(key, "null is not allowed; leave the key out to use its default")
        values[key] = parser(key, value)
    return CaseFacts(**values)  # type: ignore[arg-type]


def _json_value(value: object) -> object:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, frozenset):
        # Vocabulary order keeps the output stable.
        return [str(agent) for agent in Agent if agent in value]
    if isinstance(value, StrEnum):
        return str(value)
    return value


def facts_to_dict(facts: CaseFacts) -> dict[str, object]:
    """The JSON form of `facts` that `parse_facts` reads back to an equal value. Keys whose value
    is `None` are left out (null is only legal for `r0_achievable`, and omitting it means the
    same)."""
    out: dict[str, object] = {}
    for key in FACT_KEYS:
        value = getattr(facts, key)
        if value is not None:
            out[key] = _json_value(value)
    return out
