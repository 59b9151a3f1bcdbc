"""RECIST 1.1 response of measured lesions: `shared/clinical/recist-contract.md`.

Pure Python (no Django, no clock), beside the guideline engine. Two ways in:

    assess_series(Series(lesions=..., assessments=...))   # the app, from its own rows
    recist_json(payload)                                   # the command, on decoded JSON
    to_json(recist_json(payload))                          # the contract's JSON text

Millimetres are exact decimals: `Decimal` or `int` in a `Series` (a binary float is refused).
The command decodes JSON numbers straight to `Decimal`; a float in decoded JSON is read back
through its shortest repr, the text it came from. Every threshold (−30 %, +20 % and +5 mm,
< 10 mm, …) is decided on exact values, never on binary floats; percentages are rounded half away
from zero to one decimal for display only.

Measurements are limited to 0–1,000 mm with at most 6 decimal places, beyond the contract: no
lesion is a metre across, and the bound keeps every sum exact (a value such as 1e999999999 would
otherwise need a billion digits to add exactly).
"""

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Context, Decimal, Inexact, InvalidOperation, Rounded, localcontext
from enum import StrEnum
from fractions import Fraction
from typing import cast

from .parse import describe_json

# ---------------------------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------------------------


class LesionKind(StrEnum):
    TARGET = "target"
    NON_TARGET = "non_target"


class Unmeasured(StrEnum):
    """A target lesion's value at a time point when it is not a number of millimetres."""

    TOO_SMALL = "too_small"  # present but too small to measure: counts 5 mm
    NOT_EVALUATED = "not_evaluated"  # the same as leaving the lesion out


class NonTargetStatus(StrEnum):
    ABSENT = "absent"  # for a nodal lesion: non-pathological
    PRESENT = "present"
    UNEQUIVOCAL_PROGRESSION = "unequivocal_progression"
    NOT_EVALUATED = "not_evaluated"  # the same as leaving the lesion out


class Response(StrEnum):
    CR = "CR"
    PR = "PR"
    SD = "SD"
    NON_CR_NON_PD = "non_CR_non_PD"
    PD = "PD"
    NE = "NE"
    NA = "NA"  # no lesion of that kind in the series


# Best first, as the contract ranks a best overall response.
BEST_ORDER: tuple[Response, ...] = (
    Response.CR,
    Response.PR,
    Response.SD,
    Response.NON_CR_NON_PD,
    Response.PD,
    Response.NE,
)
_RANK = {response: rank for rank, response in enumerate(BEST_ORDER)}

LYMPH_NODE = "lymph_node"  # every nodal lesion counts under this organ for the per-organ limit
MAX_TARGETS = 5
MAX_TARGETS_PER_ORGAN = 2
MIN_BASELINE_MM = Decimal(10)  # non-nodal, longest diameter
MIN_BASELINE_NODE_MM = Decimal(15)  # nodal, short axis
NORMAL_NODE_MM = Decimal(10)  # a nodal target below this is normal (target CR)
TOO_SMALL_MM = Decimal(5)
PR_FRACTION = Decimal("0.7")  # at least a 30 % decrease from the baseline sum
PD_FRACTION = Decimal("1.2")  # at least a 20 % increase over the nadir …
PD_ABSOLUTE_MM = Decimal(5)  # … and at least 5 mm more
MAX_MM = Decimal(1000)
_SMALLEST_STEP = Decimal("0.000001")  # 6 decimal places

Measurement = Decimal | int | Unmeasured

# ---------------------------------------------------------------------------------------------
# Input and output
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Lesion:
    id: str
    kind: LesionKind
    organ: str
    nodal: bool = False

    @property
    def organ_group(self) -> str:
        """The organ that counts for the limit of two target lesions per organ."""
        return LYMPH_NODE if self.nodal else self.organ


@dataclass(frozen=True, slots=True)
class Assessment:
    """One time point. A lesion missing from `target_mm` or `non_target` was not evaluated."""

    assessed_on: date
    target_mm: Mapping[str, Measurement] = field(default_factory=dict)
    non_target: Mapping[str, NonTargetStatus] = field(default_factory=dict)
    new_lesions: bool | None = None  # required on follow-ups; ignored at baseline


@dataclass(frozen=True, slots=True)
class Series:
    """One patient's lesions and assessments; `assessments[0]` is the baseline."""

    lesions: tuple[Lesion, ...]
    assessments: tuple[Assessment, ...]


@dataclass(frozen=True, slots=True)
class Timepoint:
    """The response at one follow-up. Millimetres are exact; percentages are display values."""

    assessed_on: date
    sum_mm: Decimal | None
    nadir_mm: Decimal | None
    change_from_baseline_percent: Decimal | None
    change_from_nadir_percent: Decimal | None
    target_response: Response
    non_target_response: Response
    overall_response: Response


@dataclass(frozen=True, slots=True)
class SeriesResult:
    baseline_sum_mm: Decimal | None
    timepoints: tuple[Timepoint, ...]
    best_overall_response: Response | None  # None: baseline only


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason the input is bad. `field` is the path inside the series, written as in the
    JSON (`assessments[2].target_mm.T1`); `series` is None for the document as a whole."""

    series: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = [] if self.series is None else [f"series {self.series}"]
        if self.field:
            where.append(self.field)
        return ": ".join([*where, self.message])


class RecistInputError(ValueError):
    """Bad input: every problem found, one per line."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


# ---------------------------------------------------------------------------------------------
# Validation shared by both ways in (the baseline validity rules of the contract)
# ---------------------------------------------------------------------------------------------


def _describe(value: object) -> str:
    if isinstance(value, Decimal):
        return f"the number {value}"
    return describe_json(value)


def _measurement_problem(value: object) -> str | None:
    """Why a target value is not acceptable, or None."""
    if isinstance(value, Unmeasured):
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return f"must be a finite number of millimetres, got {_describe(value)}"
        # A binary float is not the decimal that was measured: thresholds would be inexact.
        return f"must be an exact Decimal, not the binary float {value!r}"
    if isinstance(value, bool) or not isinstance(value, Decimal | int):  # bool is an int
        allowed = "a number of millimetres, 'too_small' or 'not_evaluated'"
        return f"must be {allowed}, got {_describe(value)}"
    number = Decimal(value)
    if not number.is_finite():
        return f"must be a finite number of millimetres, got {_describe(value)}"
    if number < 0:
        return f"must be ≥ 0 mm, got {number}"
    if number > MAX_MM:
        return f"must be at most {MAX_MM} mm, got {number}"
    if number != number.quantize(_SMALLEST_STEP):
        return f"must have at most 6 decimal places, got {number}"
    return None


def _lesion_problems(lesions: Sequence[Lesion]) -> list[Problem]:
    problems: list[Problem] = []
    if not lesions:
        problems.append(Problem(0, "lesions", "a series needs at least one lesion"))
    first_use: dict[str, int] = {}
    per_organ: dict[str, int] = {}
    targets = 0
    for index, lesion in enumerate(lesions):
        where = f"lesions[{index}]"
        if lesion.id in first_use:
            problems.append(
                Problem(
                    0,
                    f"{where}.id",
                    f"{lesion.id!r} is already the id of lesions[{first_use[lesion.id]}]; "
                    "every lesion id must be unique",
                )
            )
        first_use.setdefault(lesion.id, index)
        if lesion.kind is not LesionKind.TARGET:
            continue
        targets += 1
        if targets == MAX_TARGETS + 1:  # one line for the series, at the first one too many
            problems.append(
                Problem(
                    0,
                    f"{where}.kind",
                    f"more than {MAX_TARGETS} target lesions; RECIST 1.1 allows at most "
                    f"{MAX_TARGETS} (make the others non_target)",
                )
            )
        organ = lesion.organ_group
        per_organ[organ] = per_organ.get(organ, 0) + 1
        if per_organ[organ] == MAX_TARGETS_PER_ORGAN + 1:
            problems.append(
                Problem(
                    0,
                    f"{where}.organ",
                    f"more than {MAX_TARGETS_PER_ORGAN} target lesions in organ {organ!r}; "
                    f"RECIST 1.1 allows at most {MAX_TARGETS_PER_ORGAN} per organ "
                    f"(every nodal lesion counts under {LYMPH_NODE!r})",
                )
            )
    return problems


def _declared_id_problems(
    where: str, ids: Iterable[str], kind: LesionKind, kinds: Mapping[str, LesionKind]
) -> list[Problem]:
    """Ids that are not declared lesions of `kind`."""
    problems: list[Problem] = []
    for lesion_id in ids:
        declared = kinds.get(lesion_id)
        if declared is None:
            message = f"no lesion {lesion_id!r} is declared in lesions"
        elif declared is not kind:
            message = f"lesion {lesion_id!r} is declared as {declared}, not {kind}"
        else:
            continue
        problems.append(Problem(0, f"{where}.{lesion_id}", message))
    return problems


def _assessment_problems(
    assessment: Assessment, index: int, kinds: Mapping[str, LesionKind]
) -> list[Problem]:
    where = f"assessments[{index}]"
    problems = _declared_id_problems(
        f"{where}.target_mm", assessment.target_mm, LesionKind.TARGET, kinds
    )
    problems += _declared_id_problems(
        f"{where}.non_target", assessment.non_target, LesionKind.NON_TARGET, kinds
    )
    for lesion_id, value in assessment.target_mm.items():
        message = _measurement_problem(value)
        if message is not None:
            problems.append(Problem(0, f"{where}.target_mm.{lesion_id}", message))
    for lesion_id, status in assessment.non_target.items():
        if not isinstance(status, NonTargetStatus):
            allowed = ", ".join(NonTargetStatus)
            problems.append(
                Problem(
                    0,
                    f"{where}.non_target.{lesion_id}",
                    f"{_describe(status)} is not allowed; allowed values: {allowed}",
                )
            )
    if index > 0 and assessment.new_lesions is None:
        problems.append(
            Problem(0, f"{where}.new_lesions", "required on every follow-up (true or false)")
        )
    return problems


def _baseline_problems(baseline: Assessment, targets: Sequence[Lesion]) -> list[Problem]:
    problems: list[Problem] = []
    for lesion in targets:
        where = f"assessments[0].target_mm.{lesion.id}"
        value = baseline.target_mm.get(lesion.id, Unmeasured.NOT_EVALUATED)
        if value is Unmeasured.NOT_EVALUATED:
            problems.append(Problem(0, where, "every target lesion must be measured at baseline"))
        elif value is Unmeasured.TOO_SMALL:
            problems.append(
                Problem(
                    0,
                    where,
                    "'too_small' is not allowed at baseline: a target lesion must be measurable",
                )
            )
        elif _measurement_problem(value) is not None:
            continue  # already reported by _assessment_problems
        elif lesion.nodal and Decimal(value) < MIN_BASELINE_NODE_MM:
            problems.append(
                Problem(
                    0,
                    where,
                    f"a nodal target must be ≥ {MIN_BASELINE_NODE_MM} mm in short axis at "
                    f"baseline, got {value}",
                )
            )
        elif not lesion.nodal and Decimal(value) < MIN_BASELINE_MM:
            problems.append(
                Problem(
                    0,
                    where,
                    f"a non-nodal target must be ≥ {MIN_BASELINE_MM} mm at baseline, got {value}",
                )
            )
    return problems


def _date_problems(assessments: Sequence[Assessment]) -> list[Problem]:
    problems: list[Problem] = []
    for index in range(1, len(assessments)):
        previous, current = assessments[index - 1].assessed_on, assessments[index].assessed_on
        if current <= previous:
            problems.append(
                Problem(
                    0,
                    f"assessments[{index}].date",
                    f"{current.isoformat()} is not after assessments[{index - 1}].date "
                    f"{previous.isoformat()}; dates must be strictly increasing",
                )
            )
    return problems


def series_problems(series: Series, index: int = 0) -> list[Problem]:
    """Every reason `series` breaks the contract's validity rules (empty when it is valid)."""
    # Helpers file every problem under series 0; the caller's index is set here.
    problems = _lesion_problems(series.lesions)
    if not series.assessments:
        problems.append(Problem(0, "assessments", "a series needs at least a baseline assessment"))
    else:
        kinds: dict[str, LesionKind] = {}
        for lesion in series.lesions:  # a duplicate id is reported once; its first kind holds
            kinds.setdefault(lesion.id, lesion.kind)
        for position, assessment in enumerate(series.assessments):
            problems += _assessment_problems(assessment, position, kinds)
        targets = [lesion for lesion in series.lesions if lesion.kind is LesionKind.TARGET]
        problems += _baseline_problems(series.assessments[0], targets)
        problems += _date_problems(series.assessments)
    return [Problem(index, problem.field, problem.message) for problem in problems]


# ---------------------------------------------------------------------------------------------
# The response
# ---------------------------------------------------------------------------------------------

# Inputs are bounded (at most 1,000 mm, 6 decimal places), so sums and their products with 1.2
# or 0.7 fit in far fewer than 40 digits. Trapping Inexact and Rounded turns any rounding, which
# would silently break a threshold, into an error instead.
_EXACT = Context(prec=40, traps=[Inexact, Rounded, InvalidOperation])


def _millimetres(value: Measurement | None) -> Decimal | None:
    """The millimetres a target value counts for; None when it was not evaluated."""
    if value is None or value is Unmeasured.NOT_EVALUATED:
        return None
    if value is Unmeasured.TOO_SMALL:
        return TOO_SMALL_MM
    return Decimal(value)


def _meets_pd(total: Decimal, nadir: Decimal) -> bool:
    return total >= nadir * PD_FRACTION and total - nadir >= PD_ABSOLUTE_MM


def _is_target_cr(measured: Sequence[tuple[Lesion, Decimal]]) -> bool:
    # Nodes shrink to a normal size, not to nothing: they keep counting in the sum.
    return all(mm < NORMAL_NODE_MM if lesion.nodal else mm == 0 for lesion, mm in measured)


def _target_response(
    measured: Sequence[tuple[Lesion, Decimal | None]], baseline: Decimal, nadir: Decimal
) -> tuple[Response, Decimal | None]:
    """The target response and the sum of diameters (None when a target was not evaluated)."""
    known = [(lesion, mm) for lesion, mm in measured if mm is not None]
    if len(known) < len(measured):
        # Progression is sure when the lesions that were measured already prove it.
        partial = sum((mm for _, mm in known), Decimal(0))
        return (Response.PD if _meets_pd(partial, nadir) else Response.NE), None
    total = sum((mm for _, mm in known), Decimal(0))
    if _is_target_cr(known):
        return Response.CR, total
    if _meets_pd(total, nadir):
        return Response.PD, total
    if total <= baseline * PR_FRACTION:
        return Response.PR, total
    return Response.SD, total


def _non_target_response(statuses: Sequence[NonTargetStatus]) -> Response:
    if not statuses:
        return Response.NA
    if NonTargetStatus.UNEQUIVOCAL_PROGRESSION in statuses:
        return Response.PD
    if NonTargetStatus.NOT_EVALUATED in statuses:
        return Response.NE
    if all(status is NonTargetStatus.ABSENT for status in statuses):
        return Response.CR
    return Response.NON_CR_NON_PD


def _overall_response(target: Response, non_target: Response, new_lesions: bool) -> Response:
    if new_lesions or Response.PD in (target, non_target):
        return Response.PD
    if target is Response.NA:  # Table 2: non-target disease only
        return non_target
    if target is Response.CR:  # Table 1: residual or unassessed non-targets make it a PR
        return Response.CR if non_target in (Response.CR, Response.NA) else Response.PR
    return target  # PR, SD or NE whatever the (non-PD) non-targets


def display_percent(value: Decimal, reference: Decimal) -> Decimal | None:
    """The change from `reference` to `value` in percent, rounded half away from zero to one
    decimal (for display only); None when the reference is 0."""
    if reference == 0:
        return None
    exact = (Fraction(value) - Fraction(reference)) * 100 / Fraction(reference)
    tenths = math.floor(abs(exact) * 10 + Fraction(1, 2))
    return Decimal(-tenths if exact < 0 else tenths).scaleb(-1)


def _best_response(responses: Iterable[Response]) -> Response | None:
    """The best response up to and including the first PD: later time points belong to the
    next line of treatment."""
    counted: list[Response] = []
    for response in responses:
        counted.append(response)
        if response is Response.PD:
            break
    return min(counted, key=_RANK.__getitem__) if counted else None


def _assess(series: Series) -> SeriesResult:
    """The response of a series already validated by `series_problems`."""
    targets = [lesion for lesion in series.lesions if lesion.kind is LesionKind.TARGET]
    non_targets = [lesion for lesion in series.lesions if lesion.kind is LesionKind.NON_TARGET]
    baseline, *follow_ups = series.assessments
    with localcontext(_EXACT):
        # Valid series: every target is measured at baseline, so none of these is None.
        at_baseline = [_millimetres(baseline.target_mm.get(lesion.id)) for lesion in targets]
        baseline_sum = (
            sum((mm for mm in at_baseline if mm is not None), Decimal(0)) if targets else None
        )
        nadir = baseline_sum
        timepoints: list[Timepoint] = []
        for assessment in follow_ups:
            timepoint = _timepoint(assessment, targets, non_targets, baseline_sum, nadir)
            timepoints.append(timepoint)
            # The nadir only ever comes from complete time points, whatever their response.
            if nadir is not None and timepoint.sum_mm is not None:
                nadir = min(nadir, timepoint.sum_mm)
    return SeriesResult(
        baseline_sum_mm=baseline_sum,
        timepoints=tuple(timepoints),
        best_overall_response=_best_response(t.overall_response for t in timepoints),
    )


def _timepoint(
    assessment: Assessment,
    targets: Sequence[Lesion],
    non_targets: Sequence[Lesion],
    baseline_sum: Decimal | None,
    nadir: Decimal | None,
) -> Timepoint:
    total: Decimal | None = None
    from_baseline = from_nadir = None
    if baseline_sum is None or nadir is None:
        target = Response.NA
    else:
        measured = [
            (lesion, _millimetres(assessment.target_mm.get(lesion.id))) for lesion in targets
        ]
        target, total = _target_response(measured, baseline_sum, nadir)
        if total is not None:
            from_baseline = display_percent(total, baseline_sum)
            from_nadir = display_percent(total, nadir)
    statuses = [
        assessment.non_target.get(lesion.id, NonTargetStatus.NOT_EVALUATED)
        for lesion in non_targets
    ]
    non_target = _non_target_response(statuses)
    return Timepoint(
        assessed_on=assessment.assessed_on,
        sum_mm=total,
        nadir_mm=nadir,
        change_from_baseline_percent=from_baseline,
        change_from_nadir_percent=from_nadir,
        target_response=target,
        non_target_response=non_target,
        overall_response=_overall_response(target, non_target, bool(assessment.new_lesions)),
    )


def assess_series(series: Series) -> SeriesResult:
    """The RECIST 1.1 response at every follow-up of `series`. Raises `RecistInputError` with
    every problem when the series breaks a validity rule. Pure: same input, same output."""
    problems = series_problems(series)
    if problems:
        raise RecistInputError(problems)
    return _assess(series)


# ---------------------------------------------------------------------------------------------
# JSON: decoded input → Series, SeriesResult → the contract's output
# ---------------------------------------------------------------------------------------------

_DATE_PATTERN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # ASCII digits only, unlike \d
_SERIES_KEYS = ("lesions", "assessments")
_LESION_KEYS = ("id", "kind", "organ", "nodal")
_ASSESSMENT_KEYS = ("date", "target_mm", "non_target", "new_lesions")
_UNMEASURED = {member.value: member for member in Unmeasured}
_STATUSES = {member.value: member for member in NonTargetStatus}
_KINDS = {member.value: member for member in LesionKind}


class _Collector:
    """Gathers the structural problems of one series, so all of them are reported at once."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, where: str, message: str) -> None:
        self.problems.append(Problem(0, where, message))

    def json_object(
        self, where: str, value: object, keys: Sequence[str], required: Sequence[str]
    ) -> dict[str, object] | None:
        """`value` as a JSON object with only `keys`, all of `required`; None if it is not."""
        if not isinstance(value, dict):
            self.add(where, f"must be an object, got {_describe(value)}")
            return None
        prefix = f"{where}." if where else ""
        for key in value:
            if key not in keys:
                self.add(f"{prefix}{key}", f"unknown key; allowed keys: {', '.join(keys)}")
        for key in required:
            if key not in value:
                self.add(f"{prefix}{key}", "this key is required")
        return value

    def items(self, where: str, value: object) -> list[object]:
        if not isinstance(value, list):
            self.add(where, f"must be a list, got {_describe(value)}")
            return []
        return value


def _json_number(value: object) -> object:
    """A JSON number as an exact Decimal. A float (JSON decoded without parse_float=Decimal)
    goes through its shortest repr, which is the decimal text it was read from."""
    if isinstance(value, float) and math.isfinite(value):
        return Decimal(repr(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return value  # Decimal as is; anything else is judged by _measurement_problem


def _parse_lesion(out: _Collector, where: str, value: object) -> Lesion | None:
    obj = out.json_object(where, value, _LESION_KEYS, _LESION_KEYS)
    if obj is None:
        return None
    before = len(out.problems)
    lesion_id, kind, organ, nodal = (obj.get(key) for key in _LESION_KEYS)
    if "id" in obj and not (isinstance(lesion_id, str) and lesion_id):
        out.add(f"{where}.id", f"must be a non-empty string, got {_describe(lesion_id)}")
    if "kind" in obj and not (isinstance(kind, str) and kind in _KINDS):
        out.add(
            f"{where}.kind", f"{_describe(kind)} is not allowed; allowed values: target, non_target"
        )
    if "organ" in obj and not (isinstance(organ, str) and organ):
        out.add(f"{where}.organ", f"must be a non-empty string, got {_describe(organ)}")
    if "nodal" in obj and type(nodal) is not bool:
        out.add(f"{where}.nodal", f"must be true or false, got {_describe(nodal)}")
    if len(out.problems) > before:
        return None
    return Lesion(id=str(lesion_id), kind=_KINDS[str(kind)], organ=str(organ), nodal=bool(nodal))


def _parse_date(out: _Collector, where: str, value: object) -> date | None:
    if not isinstance(value, str) or not _DATE_PATTERN.fullmatch(value):
        out.add(where, f"must be a date written YYYY-MM-DD, got {_describe(value)}")
        return None
    try:
        return date(int(value[0:4]), int(value[5:7]), int(value[8:10]))
    except ValueError:
        out.add(where, f"{value!r} is not a real calendar date")
        return None


def _parse_lesion_map(
    out: _Collector, where: str, value: object, vocabulary: Mapping[str, StrEnum]
) -> dict[str, object]:
    """An object of lesion id → value. Known strings become members of `vocabulary` and numbers
    become Decimals; anything else is kept as is for `series_problems` to report, so that one
    run names every bad value, not just the first."""
    if not isinstance(value, dict):
        out.add(where, f"must be an object of lesion id → value, got {_describe(value)}")
        return {}
    return {
        lesion_id: vocabulary.get(raw, raw) if isinstance(raw, str) else _json_number(raw)
        for lesion_id, raw in value.items()
    }


def _parse_assessment(out: _Collector, where: str, value: object) -> Assessment | None:
    obj = out.json_object(where, value, _ASSESSMENT_KEYS, ("date",))
    if obj is None:
        return None
    before = len(out.problems)
    assessed_on = _parse_date(out, f"{where}.date", obj["date"]) if "date" in obj else None
    targets = _parse_lesion_map(out, f"{where}.target_mm", obj.get("target_mm", {}), _UNMEASURED)
    statuses = _parse_lesion_map(out, f"{where}.non_target", obj.get("non_target", {}), _STATUSES)
    new_lesions = obj.get("new_lesions")
    if new_lesions is not None and type(new_lesions) is not bool:
        out.add(f"{where}.new_lesions", f"must be true or false, got {_describe(new_lesions)}")
    if len(out.problems) > before or assessed_on is None:
        return None
    return Assessment(
        assessed_on=assessed_on,
        # Values not yet checked: series_problems checks them at run time, as for any caller.
        target_mm=cast(dict[str, Measurement], targets),
        non_target=cast(dict[str, NonTargetStatus], statuses),
        new_lesions=cast(bool | None, new_lesions),
    )


def _parse_structure(value: object) -> tuple[Series | None, list[Problem]]:
    """The `Series` of one decoded JSON object, or None with the problems of its structure."""
    out = _Collector()
    obj = out.json_object("", value, _SERIES_KEYS, _SERIES_KEYS)
    if obj is None:
        return None, out.problems
    lesions = [
        _parse_lesion(out, f"lesions[{index}]", item)
        for index, item in enumerate(out.items("lesions", obj.get("lesions", [])))
    ]
    assessments = [
        _parse_assessment(out, f"assessments[{index}]", item)
        for index, item in enumerate(out.items("assessments", obj.get("assessments", [])))
    ]
    if out.problems:
        return None, out.problems
    series = Series(
        lesions=tuple(lesion for lesion in lesions if lesion is not None),
        assessments=tuple(assessment for assessment in assessments if assessment is not None),
    )
    return series, []


def parse_series(value: object, index: int = 0) -> Series:
    """Validate one decoded JSON series and build its `Series`. Raises `RecistInputError` with
    every problem found; the RECIST validity rules are checked once the structure is sound."""
    series, problems = _parse_structure(value)
    if series is not None:
        problems = series_problems(series, index)
    if series is None or problems:  # no series means structural problems
        raise RecistInputError([Problem(index, p.field, p.message) for p in problems])
    return series


def display_mm(value: Decimal) -> Decimal:
    """Millimetres for display: the exact value, with at least one decimal (60 → 60.0) and no
    trailing zeros beyond it (30.10 → 30.1), as the contract's examples show."""
    if value == 0:
        return Decimal("0.0")  # also turns -0 into 0
    normal = value.normalize(_EXACT)
    exponent = normal.as_tuple().exponent
    if isinstance(exponent, int) and exponent < 0:
        return normal
    return normal.quantize(Decimal("0.1"), context=_EXACT)


def _mm(value: Decimal | None) -> Decimal | None:
    return None if value is None else display_mm(value)


def _text(value: Response | None) -> str | None:
    return None if value is None else str(value)


def timepoint_to_dict(timepoint: Timepoint) -> dict[str, object]:
    return {
        "date": timepoint.assessed_on.isoformat(),
        "sum_mm": _mm(timepoint.sum_mm),
        "nadir_mm": _mm(timepoint.nadir_mm),
        "change_from_baseline_percent": timepoint.change_from_baseline_percent,
        "change_from_nadir_percent": timepoint.change_from_nadir_percent,
        "target_response": str(timepoint.target_response),
        "non_target_response": str(timepoint.non_target_response),
        "overall_response": str(timepoint.overall_response),
    }


def result_to_dict(result: SeriesResult) -> dict[str, object]:
    """The contract's output for one series; numbers are `Decimal` (see `to_json`)."""
    return {
        "baseline_sum_mm": _mm(result.baseline_sum_mm),
        "timepoints": [timepoint_to_dict(timepoint) for timepoint in result.timepoints],
        "best_overall_response": _text(result.best_overall_response),
    }


def recist_json(payload: object) -> dict[str, object] | list[dict[str, object]]:
    """The contract on an already decoded JSON document (numbers ideally decoded as `Decimal`):
    one object gives one output object; a list gives a list in the same order. Every series is
    validated before any is assessed, so bad input yields a `RecistInputError` and no output."""
    if isinstance(payload, list):
        problems: list[Problem] = []
        series_list: list[Series] = []
        for index, item in enumerate(payload):
            try:
                series_list.append(parse_series(item, index))
            except RecistInputError as error:
                problems += error.problems
        if problems:
            raise RecistInputError(problems)
        return [result_to_dict(_assess(series)) for series in series_list]
    if not isinstance(payload, dict):
        raise RecistInputError(
            [
                Problem(
                    None,
                    "",
                    "expected a JSON object (one series) or a list of them, got "
                    + _describe(payload),
                )
            ]
        )
    return result_to_dict(_assess(parse_series(payload)))


def to_json(value: object, indent: int = 2) -> str:
    """JSON text in which a `Decimal` is written as the number it is (60.0, -35.0, 30.1): the
    json module would turn it into a binary float or refuse it."""
    return _encode(value, indent, 0)


def _encode(value: object, indent: int, level: int) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict | list) and value:
        inner = "\n" + " " * (indent * (level + 1))
        if isinstance(value, dict):
            parts = [
                f"{json.dumps(str(key), ensure_ascii=False)}: {_encode(item, indent, level + 1)}"
                for key, item in value.items()
            ]
            opening, closing = "{", "}"
        else:
            parts = [_encode(item, indent, level + 1) for item in value]
            opening, closing = "[", "]"
        return opening + inner + ("," + inner).join(parts) + "\n" + " " * (indent * level) + closing
    return json.dumps(value, ensure_ascii=False)  # scalars, {} and []
