"""`manage.py advise` end to end, as a clinical safety officer or an integration runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cases.pathway import OUTPUT_KEYS

BASE_DIR = Path(__file__).resolve().parents[2]


def advise(*args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "advise", *args],
        cwd=BASE_DIR, input=stdin, capture_output=True, text=True, timeout=60,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tumourboard.settings", **env},
    )  # fmt: skip


RAS_MUTANT_ANTI_EGFR = {
    "age_years": 58,
    "ecog": 1,
    "primary_site": "rectum",
    "mmr_msi_status": "pmmr_mss",
    "kras_status": "mutant",
    "nras_status": "wild_type",
    "braf_v600e_status": "wild_type",
    "proposed_agents": ["fluorouracil", "oxaliplatin", "panitumumab"],
    "last_bevacizumab_dose_date": "2024-12-31",
    "chemo_start_date": "2024-12-31",
}


def test_it_advises_on_one_object_from_standard_input():
    result = advise("-", stdin=json.dumps(RAS_MUTANT_ANTI_EGFR))
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert set(OUTPUT_KEYS) <= set(answer)
    assert answer["sidedness"] == "left"
    assert answer["recommended_regimen_family"] == "folfoxiri_bevacizumab"
    assert "ANTI_EGFR_RAS_MUTANT" in answer["hard_stops"]
    assert answer["next_reassessment_date"] == "2025-02-28"  # 31 Dec + 2 months, clamped
    assert answer["earliest_elective_surgery_date"] == "2025-02-11"
    assert answer["guideline_version"]
    assert all(entry["citations"] for entry in answer["explanations"])


def test_it_reads_a_list_from_a_file_and_answers_in_order(tmp_path):
    path = tmp_path / "cases.json"
    path.write_text(json.dumps([RAS_MUTANT_ANTI_EGFR, {"primary_site": "caecum"}, {}]))
    result = advise(str(path))
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout)
    assert [a["sidedness"] for a in answers] == ["left", "right", "undetermined"]


def test_no_argument_means_standard_input():
    result = advise(stdin="{}")
    assert result.returncode == 0
    assert json.loads(result.stdout)["hard_stops"] == []


def test_the_constants_in_force_are_part_of_the_answer():
    result = advise(stdin="{}", PATHWAY_BEV_MIN_DAYS="56")
    answer = json.loads(result.stdout)
    assert answer["rule_constants"]["bev_min_days"] == 56
    default = json.loads(advise(stdin="{}").stdout)
    assert answer["guideline_version"] != default["guideline_version"]


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        ('{"ecog": 7}', "ecog"),
        ('{"flr_percent_slv": 140}', "flr_percent_slv"),
        ('{"kras_status": "positive"}', "wild_type_exon2_only"),  # lists the allowed values
        ('{"chemo_start_date": "2025-02-30"}', "chemo_start_date"),
        ('{"chemo_start_date": "2025-2-3"}', "chemo_start_date"),
        ('{"favourite_colour": "blue"}', "favourite_colour"),
        ('{"ecog": null}', "ecog"),
        ('[{}, {"age_years": 2.5}]', "[1].age_years"),
        ("{not json", "not valid JSON"),
        ('"rectum"', ""),
    ],
)
def test_bad_input_exits_2_naming_the_key_with_nothing_on_stdout(stdin, message):
    result = advise("-", stdin=stdin)
    assert result.returncode == 2
    assert result.stdout == ""
    assert message in result.stderr
    assert result.stderr.strip()


def test_a_missing_file_is_a_clear_error():
    result = advise("/nonexistent/cases.json")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "cannot read /nonexistent/cases.json" in result.stderr
