"""`manage.py recist` end to end, run as a separate process as an integration would run it."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from cases.pathway.recist import RecistInputError, recist_json

BASE_DIR = Path(__file__).resolve().parents[2]


def recist(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "recist", *args],
        cwd=BASE_DIR, input=stdin, capture_output=True, text=True, timeout=60,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tumourboard.settings"},
    )  # fmt: skip


# The contract's example, as JSON text: its answer is known by heart (60 → 39, −35 %, PR).
EXAMPLE_TEXT = """{
  "lesions": [
    {"id": "T1", "kind": "target", "organ": "liver", "nodal": false},
    {"id": "T2", "kind": "target", "organ": "lymph_node", "nodal": true},
    {"id": "NT1", "kind": "non_target", "organ": "lung", "nodal": false}
  ],
  "assessments": [
    {"date": "2026-01-05", "target_mm": {"T1": 42, "T2": 18}, "non_target": {"NT1": "present"},
     "new_lesions": false},
    {"date": "2026-03-05", "target_mm": {"T1": 30, "T2": 9}, "non_target": {"NT1": "present"},
     "new_lesions": false}
  ]
}"""
EXAMPLE_ANSWER = """{
  "baseline_sum_mm": 60.0,
  "timepoints": [
    {
      "date": "2026-03-05",
      "sum_mm": 39.0,
      "nadir_mm": 60.0,
      "change_from_baseline_percent": -35.0,
      "change_from_nadir_percent": -35.0,
      "target_response": "PR",
      "non_target_response": "non_CR_non_PD",
      "overall_response": "PR"
    }
  ],
  "best_overall_response": "PR"
}"""

# Decimals that binary floats get wrong: 12.3 + 17.8 = 30.1 and 21.07 = 0.7 × 30.1 exactly.
DECIMAL_TEXT = """{
  "lesions": [
    {"id": "T1", "kind": "target", "organ": "liver", "nodal": false},
    {"id": "T2", "kind": "target", "organ": "liver", "nodal": false}
  ],
  "assessments": [
    {"date": "2026-01-05", "target_mm": {"T1": 12.3, "T2": 17.8}},
    {"date": "2026-03-05", "target_mm": {"T1": 8.61, "T2": 12.46}, "new_lesions": false}
  ]
}"""

NON_TARGET_ONLY_TEXT = """{
  "lesions": [{"id": "NT1", "kind": "non_target", "organ": "peritoneum", "nodal": false}],
  "assessments": [{"date": "2026-01-05"}]
}"""


def test_one_object_from_a_file_prints_the_contract_answer(tmp_path):
    path = tmp_path / "series.json"
    path.write_text(EXAMPLE_TEXT, encoding="utf-8")
    result = recist(str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == EXAMPLE_ANSWER
    assert result.stderr == ""


def test_a_list_from_standard_input_answers_in_the_same_order():
    stdin = f"[{DECIMAL_TEXT}, {NON_TARGET_ONLY_TEXT}, {EXAMPLE_TEXT}]"
    result = recist("-", stdin=stdin)
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout)
    assert [a["best_overall_response"] for a in answers] == ["PR", None, "PR"]
    assert [a["baseline_sum_mm"] for a in answers] == [30.1, None, 60.0]
    # 8.61 + 12.46 = 21.07 = 0.7 × 30.1: exactly −30 %, a PR.
    assert answers[0]["timepoints"][0]["sum_mm"] == 21.07
    assert answers[0]["timepoints"][0]["change_from_baseline_percent"] == -30.0
    assert answers[1]["timepoints"] == []
    assert '"sum_mm": 21.07,' in result.stdout  # written as the exact decimal
    assert '"baseline_sum_mm": 30.1,' in result.stdout


def test_no_argument_means_standard_input():
    result = recist(stdin=EXAMPLE_TEXT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == EXAMPLE_ANSWER


def test_an_empty_list_gives_an_empty_list():
    result = recist("-", stdin="[]")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


# ---------------------------------------------------------------------------------------------
# Bad input: one variant of a valid series per rule, each with exactly one problem
# ---------------------------------------------------------------------------------------------

Series = dict[str, object]


def valid() -> Series:
    series: Series = json.loads(EXAMPLE_TEXT)
    return series


def lesion(lesion_id: str, organ: str = "liver", nodal: bool = False, kind: str = "target"):
    return {"id": lesion_id, "kind": kind, "organ": organ, "nodal": nodal}


def with_targets(lesions: list[dict[str, object]], sizes: dict[str, object]) -> Series:
    """A baseline-only series of `lesions` measured as `sizes`."""
    return {"lesions": lesions, "assessments": [{"date": "2026-01-05", "target_mm": sizes}]}


def changed(edit: Callable[[Series], None]) -> Series:
    series = copy.deepcopy(valid())
    edit(series)
    return series


def baseline(series: Series) -> dict[str, object]:
    return series["assessments"][0]  # type: ignore[index]


def follow_up(series: Series) -> dict[str, object]:
    return series["assessments"][1]  # type: ignore[index]


def set_follow_up_t1(value: object) -> Series:
    return changed(lambda s: follow_up(s)["target_mm"].update(T1=value))  # type: ignore[attr-defined]


SIX_TARGETS = [lesion(f"T{i}", organ) for i, organ in enumerate("abcdef")]
THREE_NODES = [
    lesion("N1", "lymph_node", nodal=True),
    lesion("N2", "mediastinum", nodal=True),
    lesion("N3", "pelvis", nodal=True),
]

# (what it breaks, series, the field named, a fragment of the message)
BAD_SERIES: list[tuple[str, object, str, str]] = [
    ("more_than_5_targets", with_targets(SIX_TARGETS, {f"T{i}": 20 for i in range(6)}),
     "lesions[5].kind", "at most 5"),
    ("more_than_2_per_organ",
     with_targets([lesion("T1"), lesion("T2"), lesion("T3")], {"T1": 20, "T2": 20, "T3": 20}),
     "lesions[2].organ", "at most 2 per organ"),
    ("nodes_count_as_one_organ", with_targets(THREE_NODES, {"N1": 20, "N2": 20, "N3": 20}),
     "lesions[2].organ", "'lymph_node'"),
    ("baseline_target_not_measured", changed(lambda s: baseline(s)["target_mm"].pop("T2")),
     "assessments[0].target_mm.T2", "measured at baseline"),
    ("baseline_target_not_evaluated",
     changed(lambda s: baseline(s)["target_mm"].update(T1="not_evaluated")),
     "assessments[0].target_mm.T1", "measured at baseline"),
    ("non_nodal_under_10_mm", changed(lambda s: baseline(s)["target_mm"].update(T1=9.9)),
     "assessments[0].target_mm.T1", "≥ 10 mm"),
    ("nodal_under_15_mm", changed(lambda s: baseline(s)["target_mm"].update(T2=14.9)),
     "assessments[0].target_mm.T2", "≥ 15 mm in short axis"),
    ("too_small_at_baseline",
     changed(lambda s: baseline(s)["target_mm"].update(T1="too_small")),
     "assessments[0].target_mm.T1", "'too_small' is not allowed at baseline"),
    ("duplicate_id", changed(lambda s: s["lesions"].append(lesion("T1"))),
     "lesions[3].id", "unique"),
    ("undeclared_target_id", changed(lambda s: follow_up(s)["target_mm"].update(T9=3)),
     "assessments[1].target_mm.T9", "no lesion 'T9' is declared"),
    ("undeclared_non_target_id",
     changed(lambda s: follow_up(s)["non_target"].update(NT9="present")),
     "assessments[1].non_target.NT9", "no lesion 'NT9' is declared"),
    ("target_id_given_a_non_target_status",
     changed(lambda s: follow_up(s)["non_target"].update(T1="present")),
     "assessments[1].non_target.T1", "declared as target, not non_target"),
    ("non_target_id_given_millimetres",
     changed(lambda s: follow_up(s)["target_mm"].update(NT1=12)),
     "assessments[1].target_mm.NT1", "declared as non_target, not target"),
    ("same_date_twice", changed(lambda s: follow_up(s).update(date="2026-01-05")),
     "assessments[1].date", "strictly increasing"),
    ("date_going_back", changed(lambda s: follow_up(s).update(date="2025-12-31")),
     "assessments[1].date", "strictly increasing"),
    ("missing_new_lesions", changed(lambda s: follow_up(s).pop("new_lesions")),
     "assessments[1].new_lesions", "required on every follow-up"),
    ("null_new_lesions", changed(lambda s: follow_up(s).update(new_lesions=None)),
     "assessments[1].new_lesions", "required on every follow-up"),
    ("new_lesions_as_a_string", changed(lambda s: follow_up(s).update(new_lesions="no")),
     "assessments[1].new_lesions", "true or false"),
    ("decimal_comma", set_follow_up_t1("12,3"), "assessments[1].target_mm.T1", "'12,3'"),
    ("number_in_a_string", set_follow_up_t1("12.3"), "assessments[1].target_mm.T1", "'12.3'"),
    ("number_with_unit", set_follow_up_t1("12 mm"), "assessments[1].target_mm.T1", "'12 mm'"),
    ("boolean_measurement", set_follow_up_t1(True), "assessments[1].target_mm.T1", "boolean"),
    ("null_measurement", set_follow_up_t1(None), "assessments[1].target_mm.T1", "null"),
    ("list_measurement", set_follow_up_t1([12]), "assessments[1].target_mm.T1", "a list"),
    ("nan_measurement", set_follow_up_t1(float("nan")), "assessments[1].target_mm.T1", "finite"),
    ("infinite_measurement", set_follow_up_t1(float("inf")), "assessments[1].target_mm.T1",
     "finite"),
    ("negative_measurement", set_follow_up_t1(-1), "assessments[1].target_mm.T1", "≥ 0 mm"),
    ("huge_integer", set_follow_up_t1(10**30), "assessments[1].target_mm.T1", "at most 1000"),
    ("negative_decimal", set_follow_up_t1(-0.1), "assessments[1].target_mm.T1", "≥ 0 mm"),
    ("absurdly_large", set_follow_up_t1(1e300), "assessments[1].target_mm.T1", "at most 1000"),
    ("too_many_decimals", set_follow_up_t1(12.0000001), "assessments[1].target_mm.T1",
     "6 decimal places"),
    ("unknown_non_target_status",
     changed(lambda s: follow_up(s)["non_target"].update(NT1="smaller")),
     "assessments[1].non_target.NT1", "allowed values: absent, present"),
    ("not_a_real_date", changed(lambda s: follow_up(s).update(date="2026-02-30")),
     "assessments[1].date", "not a real calendar date"),
    ("badly_written_date", changed(lambda s: follow_up(s).update(date="5/3/2026")),
     "assessments[1].date", "YYYY-MM-DD"),
    ("unknown_lesion_kind", changed(lambda s: s["lesions"][0].update(kind="tumour")),
     "lesions[0].kind", "allowed values: target, non_target"),
    ("nodal_not_a_boolean", changed(lambda s: s["lesions"][0].update(nodal="no")),
     "lesions[0].nodal", "true or false"),
    ("lesion_missing_its_organ", changed(lambda s: s["lesions"][0].pop("organ")),
     "lesions[0].organ", "required"),
    ("unknown_key", changed(lambda s: s.update(patient="x")), "patient", "unknown key"),
    ("no_lesions", {"lesions": [], "assessments": [{"date": "2026-01-05"}]},
     "lesions", "at least one lesion"),
    ("no_assessments", changed(lambda s: s.update(assessments=[])),
     "assessments", "baseline"),
    ("target_mm_not_an_object", changed(lambda s: follow_up(s).update(target_mm=[30, 9])),
     "assessments[1].target_mm", "must be an object"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("series", "field", "fragment"),
    [case[1:] for case in BAD_SERIES],
    ids=[case[0] for case in BAD_SERIES],
)
def test_each_rule_is_one_problem_naming_the_field(series, field, fragment):
    # In process, to pin down each message; the command runs them all below.
    with pytest.raises(RecistInputError) as raised:
        recist_json(json.loads(json.dumps(series), parse_float=Decimal, parse_int=Decimal))
    problems = raised.value.problems
    assert [(p.series, p.field) for p in problems] == [(0, field)], problems
    assert fragment in problems[0].message


def test_the_command_reports_every_bad_series_on_its_own_line_and_prints_nothing():
    stdin = json.dumps([series for _, series, _, _ in BAD_SERIES], allow_nan=True)
    result = recist("-", stdin=stdin)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == len(BAD_SERIES)  # one line per problem
    for index, (name, _, field, fragment) in enumerate(BAD_SERIES):
        line = lines[index]
        assert line.startswith(f"recist: series {index}: {field}: "), (name, line)
        assert fragment in line, (name, line)


def test_bad_single_series_names_series_0_and_prints_nothing():
    bad = changed(lambda s: baseline(s)["target_mm"].update(T1=9.9))
    result = recist("-", stdin=json.dumps(bad))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        "recist: series 0: assessments[0].target_mm.T1: "
        "a non-nodal target must be ≥ 10 mm at baseline, got 9.9\n"
    )


def test_one_bad_series_in_a_list_stops_every_answer():
    result = recist("-", stdin=f"[{EXAMPLE_TEXT}, {json.dumps(set_follow_up_t1(-2))}]")
    assert result.returncode == 2
    assert result.stdout == ""
    assert (
        result.stderr == "recist: series 1: assessments[1].target_mm.T1: must be ≥ 0 mm, got -2\n"
    )


def test_several_problems_in_one_series_are_each_reported():
    def edit(series: Series) -> None:
        baseline(series)["target_mm"].update(T1=9)  # type: ignore[attr-defined]
        follow_up(series).pop("new_lesions")

    result = recist("-", stdin=json.dumps(changed(edit)))
    assert result.returncode == 2
    assert result.stdout == ""
    assert sorted(result.stderr.splitlines()) == [
        "recist: series 0: assessments[0].target_mm.T1: "
        "a non-nodal target must be ≥ 10 mm at baseline, got 9",
        "recist: series 0: assessments[1].new_lesions: required on every follow-up (true or false)",
    ]


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        ("{not json", "recist: input is not valid JSON"),
        ('"liver"', "recist: expected a JSON object (one series) or a list of them"),
        ("[1]", "recist: series 0: must be an object, got the number 1"),
        ("", "recist: input is not valid JSON"),
    ],
)
def test_input_that_is_not_a_series_is_refused(stdin, message):
    result = recist("-", stdin=stdin)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(message)


def test_a_missing_file_is_a_clear_error():
    result = recist("/nonexistent/series.json")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "cannot read /nonexistent/series.json" in result.stderr
