"""`assess_series` on dataclasses: the way the app will call the RECIST engine, without JSON."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from cases.pathway import RecistInputError, assess_series, recist_json
from cases.pathway.recist import (
    Assessment,
    Lesion,
    LesionKind,
    NonTargetStatus,
    Problem,
    Response,
    Series,
    Unmeasured,
    result_to_dict,
    to_json,
)

T1 = Lesion("T1", LesionKind.TARGET, "liver")
N1 = Lesion("N1", LesionKind.TARGET, "lymph_node", nodal=True)
NT1 = Lesion("NT1", LesionKind.NON_TARGET, "lung")


def example(follow_up_t1: object = 30) -> Series:
    """The contract's example as dataclasses (42 + 18 → 30 + 9)."""
    return Series(
        lesions=(T1, N1, NT1),
        assessments=(
            Assessment(date(2026, 1, 5), {"T1": 42, "N1": 18}, {"NT1": NonTargetStatus.PRESENT}),
            Assessment(
                date(2026, 3, 5),
                {"T1": follow_up_t1, "N1": Decimal(9)},  # type: ignore[dict-item]
                {"NT1": NonTargetStatus.PRESENT},
                new_lesions=False,
            ),
        ),
    )


def test_the_contract_example_from_dataclasses() -> None:
    result = assess_series(example())
    assert result.baseline_sum_mm == Decimal(60)
    (point,) = result.timepoints
    assert point.assessed_on == date(2026, 3, 5)
    assert point.sum_mm == Decimal(39)
    assert point.nadir_mm == Decimal(60)
    assert str(point.change_from_baseline_percent) == "-35.0"
    assert str(point.change_from_nadir_percent) == "-35.0"
    assert point.target_response is Response.PR
    assert point.non_target_response is Response.NON_CR_NON_PD
    assert point.overall_response is Response.PR
    assert result.best_overall_response is Response.PR
    assert to_json(result_to_dict(result), indent=0).replace("\n", "") == (
        '{"baseline_sum_mm": 60.0,"timepoints": [{"date": "2026-03-05","sum_mm": 39.0,'
        '"nadir_mm": 60.0,"change_from_baseline_percent": -35.0,'
        '"change_from_nadir_percent": -35.0,"target_response": "PR",'
        '"non_target_response": "non_CR_non_PD","overall_response": "PR"}],'
        '"best_overall_response": "PR"}'
    )


def test_a_binary_float_is_refused_in_a_series() -> None:
    with pytest.raises(RecistInputError) as raised:
        assess_series(example(follow_up_t1=30.5))
    assert raised.value.problems == (
        Problem(
            0,
            "assessments[1].target_mm.T1",
            "must be an exact Decimal, not the binary float 30.5",
        ),
    )


def test_a_plain_string_is_not_a_status() -> None:
    # The app passes Unmeasured members; a bare string is a programming error, reported.
    with pytest.raises(RecistInputError, match=r"assessments\[1\]\.target_mm\.T1"):
        assess_series(example(follow_up_t1="too_small"))
    assert assess_series(example(follow_up_t1=Unmeasured.TOO_SMALL)).timepoints[0].sum_mm == 14


def test_every_problem_of_a_series_is_reported_at_once() -> None:
    series = Series(
        lesions=(T1, N1, NT1),
        assessments=(
            Assessment(date(2026, 1, 5), {"T1": 9, "N1": Unmeasured.TOO_SMALL}),
            Assessment(date(2026, 1, 5), {"T9": 3}),
        ),
    )
    with pytest.raises(RecistInputError) as raised:
        assess_series(series)
    assert sorted(problem.field for problem in raised.value.problems) == [
        "assessments[0].target_mm.N1",
        "assessments[0].target_mm.T1",
        "assessments[1].date",
        "assessments[1].new_lesions",
        "assessments[1].target_mm.T9",
    ]
    assert str(raised.value).count("\n") == 4  # one line per problem


def test_json_decoded_with_binary_floats_still_gives_exact_sums() -> None:
    # 12.3 + 17.8 as floats is 30.1 by luck; 10.1 + 20.2 is 30.299999999999997. Read through their
    # repr, both are the decimals that were written.
    text = """{"lesions": [{"id": "T1", "kind": "target", "organ": "liver", "nodal": false},
                          {"id": "T2", "kind": "target", "organ": "liver", "nodal": false}],
               "assessments": [{"date": "2026-01-05", "target_mm": {"T1": 10.1, "T2": 20.2}},
                               {"date": "2026-03-05", "target_mm": {"T1": 7.07, "T2": 14.14},
                                "new_lesions": false}]}"""
    output = recist_json(json.loads(text))
    assert isinstance(output, dict)
    assert str(output["baseline_sum_mm"]) == "30.3"
    point = output["timepoints"][0]  # type: ignore[index]
    assert str(point["sum_mm"]) == "21.21"
    assert point["target_response"] == "PR"
