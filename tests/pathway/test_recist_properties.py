"""Property tests of the RECIST 1.1 engine over random valid series."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from cases.pathway.recist import (
    Assessment,
    Lesion,
    LesionKind,
    NonTargetStatus,
    Response,
    Series,
    SeriesResult,
    Unmeasured,
    assess_series,
    recist_json,
    result_to_dict,
    series_problems,
    to_json,
)

# Organ groups for target lesions: each appears twice, so any sample respects two per organ.
ORGAN_SLOTS = ["liver", "liver", "lung", "lung", "adrenal", "adrenal", "lymph_node", "lymph_node"]
# The best-response order of the contract, written out here rather than imported.
RANK = {"CR": 0, "PR": 1, "SD": 2, "non_CR_non_PD": 3, "PD": 4, "NE": 5}


def tenths(low: int, high: int) -> st.SearchStrategy[Decimal]:
    """Millimetres with one decimal, from low/10 to high/10."""
    return st.integers(low, high).map(lambda n: Decimal(n).scaleb(-1))


def follow_up_value(at_baseline: Decimal) -> st.SearchStrategy[Decimal | Unmeasured | None]:
    """A target's value at a follow-up: mostly a multiple of its baseline size (0.0 to 2.0, to
    reach PR, SD and PD), often 0 or a few mm (CR, nodes below 10 mm), sometimes too small, not
    evaluated or left out (None)."""
    scaled = tenths(0, 20).map(lambda factor: at_baseline * factor)
    return st.one_of(
        scaled,
        scaled,
        scaled,
        st.just(Decimal(0)),
        tenths(0, 120),
        st.sampled_from([Unmeasured.TOO_SMALL, Unmeasured.NOT_EVALUATED, None]),
    )


# Mostly absent or present; progression or no evaluation now and then (None: left out).
NON_TARGET_STATUS = st.sampled_from(
    [NonTargetStatus.ABSENT, NonTargetStatus.PRESENT] * 3
    + [NonTargetStatus.UNEQUIVOCAL_PROGRESSION, NonTargetStatus.NOT_EVALUATED, None]
)


@st.composite
def series_strategy(draw: st.DrawFn) -> Series:
    slots = draw(st.permutations(ORGAN_SLOTS))
    target_count = draw(st.integers(0, 5))
    non_target_count = draw(st.integers(0 if target_count else 1, 3))
    lesions = [
        Lesion(f"T{i}", LesionKind.TARGET, organ, nodal=organ == "lymph_node")
        for i, organ in enumerate(slots[:target_count])
    ]
    lesions += [
        Lesion(f"NT{i}", LesionKind.NON_TARGET, "lung", draw(st.booleans()))
        for i in range(non_target_count)
    ]
    targets = [lesion for lesion in lesions if lesion.kind is LesionKind.TARGET]
    non_targets = [lesion for lesion in lesions if lesion.kind is LesionKind.NON_TARGET]

    on = draw(st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 1, 1)))
    baseline = Assessment(
        assessed_on=on,
        target_mm={
            t.id: draw(tenths(150 if t.nodal else 100, 800 if t.nodal else 1500)) for t in targets
        },
        non_target={n.id: NonTargetStatus.PRESENT for n in non_targets},
    )
    assessments = [baseline]
    for _ in range(draw(st.integers(0, 6))):
        on += timedelta(days=draw(st.integers(1, 120)))
        values = {t.id: draw(follow_up_value(baseline.target_mm[t.id])) for t in targets}
        statuses = {n.id: draw(NON_TARGET_STATUS) for n in non_targets}
        assessments.append(
            Assessment(
                assessed_on=on,
                target_mm={key: value for key, value in values.items() if value is not None},
                non_target={key: value for key, value in statuses.items() if value is not None},
                new_lesions=draw(st.integers(0, 5)) == 0,  # rarer, or PD would swamp the rest
            )
        )
    return Series(lesions=tuple(lesions), assessments=tuple(assessments))


SERIES = series_strategy()
PROPERTIES = settings(max_examples=150, deadline=None)


def independent_sum(series: Series, assessment: Assessment) -> Decimal | None:
    """The sum of diameters, computed here from the input (too_small = 5 mm)."""
    total = Decimal(0)
    for lesion in series.lesions:
        if lesion.kind is not LesionKind.TARGET:
            continue
        value = assessment.target_mm.get(lesion.id, Unmeasured.NOT_EVALUATED)
        if value is Unmeasured.NOT_EVALUATED:
            return None
        total += Decimal(5) if value is Unmeasured.TOO_SMALL else Decimal(value)
    return total


def non_nodal_sum(series: Series, assessment: Assessment) -> Decimal:
    total = Decimal(0)
    for lesion in series.lesions:
        if lesion.kind is LesionKind.TARGET and not lesion.nodal:
            value = assessment.target_mm[lesion.id]
            total += Decimal(5) if value is Unmeasured.TOO_SMALL else Decimal(value)
    return total


def has_targets(series: Series) -> bool:
    return any(lesion.kind is LesionKind.TARGET for lesion in series.lesions)


@PROPERTIES
@given(SERIES)
def test_generated_series_are_valid(series: Series) -> None:
    assert series_problems(series) == []


@PROPERTIES
@given(SERIES)
def test_one_time_point_per_follow_up_in_input_order(series: Series) -> None:
    result = assess_series(series)
    assert [t.assessed_on for t in result.timepoints] == [
        a.assessed_on for a in series.assessments[1:]
    ]


@PROPERTIES
@given(SERIES)
def test_the_nadir_never_exceeds_the_baseline(series: Series) -> None:
    result = assess_series(series)
    for point in result.timepoints:
        if has_targets(series):
            assert result.baseline_sum_mm is not None
            assert point.nadir_mm is not None
            assert point.nadir_mm <= result.baseline_sum_mm
        else:
            assert point.nadir_mm is None


@PROPERTIES
@given(SERIES)
def test_the_sum_is_the_sum_of_the_measurements(series: Series) -> None:
    result = assess_series(series)
    for assessment, point in zip(series.assessments[1:], result.timepoints, strict=True):
        if has_targets(series):
            assert point.sum_mm == independent_sum(series, assessment)
        else:
            assert point.sum_mm is None
            assert point.target_response is Response.NA


@PROPERTIES
@given(SERIES)
def test_target_cr_means_every_non_nodal_target_is_gone(series: Series) -> None:
    result = assess_series(series)
    for assessment, point in zip(series.assessments[1:], result.timepoints, strict=True):
        if point.target_response is Response.CR:
            assert non_nodal_sum(series, assessment) == 0


@PROPERTIES
@given(SERIES)
def test_target_pr_means_at_least_a_30_percent_decrease(series: Series) -> None:
    result = assess_series(series)
    for point in result.timepoints:
        if point.target_response is Response.PR:
            assert point.sum_mm is not None
            assert result.baseline_sum_mm is not None
            assert point.sum_mm * 10 <= result.baseline_sum_mm * 7


@PROPERTIES
@given(SERIES)
def test_a_complete_target_pd_is_20_percent_and_5_mm_over_the_nadir(series: Series) -> None:
    result = assess_series(series)
    for point in result.timepoints:
        if point.target_response is Response.PD and point.sum_mm is not None:
            assert point.nadir_mm is not None
            assert point.sum_mm * 5 >= point.nadir_mm * 6
            assert point.sum_mm - point.nadir_mm >= 5


@PROPERTIES
@given(SERIES)
def test_best_response_never_comes_from_after_the_first_pd(series: Series) -> None:
    result = assess_series(series)
    responses = [str(point.overall_response) for point in result.timepoints]
    if not responses:
        assert result.best_overall_response is None
        return
    counted = responses[: responses.index("PD") + 1] if "PD" in responses else responses
    assert result.best_overall_response == min(counted, key=RANK.__getitem__)
    # Dropping every follow-up after the first PD does not change it.
    kept = Series(series.lesions, series.assessments[: len(counted) + 1])
    assert assess_series(kept).best_overall_response == result.best_overall_response


@PROPERTIES
@given(SERIES)
def test_the_response_is_deterministic_and_the_same_through_json(series: Series) -> None:
    first: SeriesResult = assess_series(series)
    assert assess_series(series) == first
    assert to_json(recist_json(to_payload(series))) == to_json(result_to_dict(first))


def json_value(value: object) -> object:
    return value if isinstance(value, Decimal) else str(value)  # statuses as plain strings


def to_payload(series: Series) -> dict[str, object]:
    """The JSON form of `series`, as the command would decode it."""
    assessments: list[dict[str, object]] = []
    for index, assessment in enumerate(series.assessments):
        item: dict[str, object] = {
            "date": assessment.assessed_on.isoformat(),
            "target_mm": {key: json_value(v) for key, v in assessment.target_mm.items()},
            "non_target": {key: str(v) for key, v in assessment.non_target.items()},
        }
        if index:
            item["new_lesions"] = assessment.new_lesions
        assessments.append(item)
    lesions = [
        {"id": lesion.id, "kind": str(lesion.kind), "organ": lesion.organ, "nodal": lesion.nodal}
        for lesion in series.lesions
    ]
    return {"lesions": lesions, "assessments": assessments}
