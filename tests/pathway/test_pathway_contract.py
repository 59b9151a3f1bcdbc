"""The F contract (`advice_to_dict`, `advise_json`), the catalogue, constants and versions."""

import json
from datetime import date

import pytest

import cases.pathway.engine as engine_module
from cases.pathway import (
    CODES,
    DEFAULT_CONSTANTS,
    GUIDELINE_VERSION,
    HARD_STOP_CODES,
    OUTPUT_KEYS,
    RECOMMENDATIONS,
    SEED_STATEMENTS,
    SOURCES,
    AlertCode,
    ConversionStatus,
    ExplanationKind,
    HepatectomyStrategy,
    InputError,
    RecommendedSequence,
    RegimenFamily,
    RuleConstants,
    SequencingOption,
    Severity,
    Sidedness,
    SymptomaticPrimaryOption,
    advice_to_dict,
    advise,
    advise_json,
    citation_label,
    guideline_version,
    parse_facts,
)

A = AlertCode
CONTRACT_EXTRAS = ("guideline_version", "explanations", "rule_constants")

# A case that fires many codes from different rules, to check ordering.
BUSY_CASE: dict[str, object] = {
    "primary_site": "caecum",
    "sidedness_reported": "left",
    "kras_status": "mutant",
    "braf_v600e_status": "pending",
    "proposed_agents": ["capecitabine", "bevacizumab", "cetuximab", "pembrolizumab"],
    "liver_biopsy_proposed": True,
    "proposed_liver_surgery": "one_stage_hepatectomy",
    "r0_achievable": False,
    "last_bevacizumab_dose_date": "2025-01-01",
    "planned_surgery_date": "2025-01-20",
    "pelvic_rt_proposed": "long_course_crt",
    "surgical_margin": "r1",
    "preop_chemo_months_given": 7,
    "chemo_start_date": "2024-10-31",
    "scrt_completion_date": "2024-06-30",
    "planned_surgery_includes_primary": True,
}


def busy_output() -> dict[str, object]:
    output = advise_json(BUSY_CASE)
    assert isinstance(output, dict)
    return output


# ---------------------------------------------------------------------------------------------
# advice_to_dict
# ---------------------------------------------------------------------------------------------


def test_it_answers_every_output_key_even_for_an_empty_case() -> None:
    output = advise_json({})
    assert isinstance(output, dict)
    assert list(output) == [*OUTPUT_KEYS, *CONTRACT_EXTRAS]  # G5, in A.2 order
    assert output["hard_stops"] == []
    assert output["next_reassessment_date"] is None
    assert output["postop_chemo_months"] is None
    assert output["hepatectomy_strategy"] == "not_applicable"  # L4


def test_it_answers_null_strategy_for_a_converted_case_without_flr() -> None:
    output = advise_json({"r0_achievable": True, "hpb_mdt_reviewed": True})
    assert isinstance(output, dict)
    assert "hepatectomy_strategy" in output
    assert output["hepatectomy_strategy"] is None  # L2


def test_it_serialises_to_plain_json_types() -> None:
    output = busy_output()
    text = json.dumps(output)
    assert json.loads(text) == output
    assert type(output["sidedness"]) is str  # not a StrEnum leaking out
    assert all(type(code) is str for code in output["hard_stops"])  # type: ignore[attr-defined]
    assert output["next_reassessment_date"] == "2024-12-31"
    assert output["earliest_elective_surgery_date"] == "2025-02-12"
    assert output["latest_primary_surgery_date_after_scrt"] == "2024-12-30"


def test_it_orders_codes_as_the_a3_tables_list_them() -> None:
    output = busy_output()
    assert output["hard_stops"] == [
        "ANTI_EGFR_RAS_MUTANT",
        "ANTI_EGFR_RIGHT_SIDED",
        "DUAL_BIOLOGIC",
        "IMMUNOTHERAPY_MMR_UNCONFIRMED",
        "BEV_SURGERY_INTERVAL_LT_6_WEEKS",
        "LONG_COURSE_CRT_UPFRONT",
        "DEBULKING_NOT_PERMITTED",
        "HPB_MDT_REVIEW_REQUIRED",
        "LIVER_BIOPSY_WITHOUT_HPB_DISCUSSION",
    ]
    assert output["warnings"] == [
        "MMR_STATUS_REQUIRED",
        "BRAF_STATUS_REQUIRED",
        "SIDEDNESS_CONFLICT",
        "ANTI_EGFR_BRAF_STATUS_UNKNOWN",
        "ANTI_EGFR_WITH_CAPECITABINE",
        "PRIMARY_LOCOREGIONAL_TREATMENT_DEFERRED",
        "SCRT_TO_SURGERY_INTERVAL_GT_6_MONTHS",
        "R1_MARGIN_POSTOP_CHEMO_STRONGLY_RECOMMENDED",
        "PREOP_CHEMO_EXCEEDS_6_MONTHS",
    ]


def test_it_explains_every_fired_code_then_every_recommendation() -> None:
    output = busy_output()
    explanations = output["explanations"]
    assert isinstance(explanations, list)
    fired = [*output["hard_stops"], *output["warnings"]]  # type: ignore[misc]
    assert [e["code"] for e in explanations[: len(fired)]] == fired
    for entry in explanations[: len(fired)]:
        hard = entry["code"] in {str(c) for c in HARD_STOP_CODES}
        assert entry["kind"] == ("hard_stop" if hard else "warning")
        assert entry["severity"] == ("hard_stop" if hard else "warning")
    recommendations = explanations[len(fired) :]
    assert [e["code"] for e in recommendations] == [
        "sidedness:right",
        "triplet_eligible:false",
        "recommended_regimen_family:doublet_bevacizumab",
        "regimen_provisional:true",
        "conversion_status:not_resectable",
        "hepatectomy_strategy:not_applicable",
        "recommended_sequence:not_applicable",
        "next_reassessment_date",
        "next_reassessment_date_8_weeks",
        "earliest_elective_surgery_date",
        "latest_primary_surgery_date_after_scrt",
        "postop_chemo_recommended:true",
    ]
    for entry in recommendations:
        assert entry["kind"] == "recommendation"
        assert entry["severity"] == "info"
    for entry in explanations:
        assert set(entry) == {"code", "kind", "severity", "text", "citations"}
        assert entry["text"]
        assert entry["citations"]


def test_it_explains_a_converted_case_with_its_options() -> None:
    advice = advise(
        parse_facts(
            {
                "r0_achievable": True,
                "hpb_mdt_reviewed": True,
                "flr_percent_slv": 40,
                "combined_resection_technically_feasible": True,
                "primary_symptom": "fistula",
                "surgical_margin": "r0",
                "preop_chemo_months_given": 3,
                "preop_backbone": "folfox",
            }
        )
    )
    codes = [entry.code for entry in advice.explanations]
    assert "hepatectomy_strategy:one_stage_hepatectomy" in codes
    assert "sequencing_options:primary_first_staged" in codes
    assert "sequencing_options:synchronous_resection" in codes
    assert "recommended_sequence:primary_first_staged" in codes
    assert "symptomatic_primary_options:defunctioning_stoma" in codes
    assert "symptomatic_primary_options:primary_resection" in codes
    assert "postop_chemo_months" in codes
    assert "postop_backbone" in codes


def test_it_reports_the_constants_in_force() -> None:
    output = busy_output()
    assert output["guideline_version"] == GUIDELINE_VERSION
    assert output["rule_constants"] == {
        "flr_min_percent_slv": 30,
        "bev_min_days": 42,
        "reassess_months": 2,
        "reassess_days": 56,
        "scrt_max_delay_months": 6,
        "periop_total_months": 6,
    }


# ---------------------------------------------------------------------------------------------
# advise_json
# ---------------------------------------------------------------------------------------------


def test_it_answers_a_list_in_the_same_order() -> None:
    payload = [{"ecog": 3}, {"mmr_msi_status": "dmmr_msi_h"}, {}]
    output = advise_json(payload)
    assert isinstance(output, list)
    assert [item["recommended_regimen_family"] for item in output] == [
        "no_intensive_therapy_mdt_review",
        "pembrolizumab",
        "doublet_chemotherapy_pending_biomarkers",
    ]
    assert advise_json([]) == []


def test_it_validates_every_item_before_advising_any(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    real_advise = engine_module.advise

    def counting_advise(*args: object, **kwargs: object) -> object:
        calls.append(args)
        return real_advise(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(engine_module, "advise", counting_advise)
    with pytest.raises(InputError) as caught:
        advise_json([{}, {"ecog": 1}, {"ecog": 7}])
    assert caught.value.key == "[2].ecog"
    assert caught.value.message.startswith("[2].ecog: ")
    assert calls == []
    advise_json([{}, {"ecog": 1}])
    assert len(calls) == 2  # the counter does see real calls


@pytest.mark.parametrize(
    ("payload", "key"),
    [
        pytest.param("rectum", "", id="string"),
        pytest.param(3, "", id="number"),
        pytest.param(None, "", id="null"),
        pytest.param([{}, "x"], "[1]", id="list-item-not-object"),
        pytest.param([{"colour": "red"}], "[0].colour", id="list-item-unknown-key"),
    ],
)
def test_it_refuses_a_payload_that_is_not_objects(payload: object, key: str) -> None:
    with pytest.raises(InputError) as caught:
        advise_json(payload)
    assert caught.value.key == key


# ---------------------------------------------------------------------------------------------
# Constants and the guideline version
# ---------------------------------------------------------------------------------------------


def test_the_default_constants_are_the_specifications() -> None:
    assert DEFAULT_CONSTANTS.as_dict() == {
        "flr_min_percent_slv": 30,
        "bev_min_days": 42,
        "reassess_months": 2,
        "reassess_days": 56,
        "scrt_max_delay_months": 6,
        "periop_total_months": 6,
    }
    assert RuleConstants() == DEFAULT_CONSTANTS
    assert guideline_version(DEFAULT_CONSTANTS) == GUIDELINE_VERSION
    assert guideline_version(RuleConstants(flr_min_percent_slv=30.0)) == GUIDELINE_VERSION


@pytest.mark.parametrize(
    ("changes", "version"),
    [
        ({"flr_min_percent_slv": 25}, "+flr25"),
        ({"flr_min_percent_slv": 25.5}, "+flr25.5"),
        ({"bev_min_days": 56}, "+bev56"),
        ({"reassess_months": 3}, "+rm3"),
        ({"reassess_days": 84}, "+rd84"),
        ({"scrt_max_delay_months": 5}, "+scrt5"),
        ({"periop_total_months": 4}, "+periop4"),
        ({"flr_min_percent_slv": 20, "bev_min_days": 28}, "+flr20+bev28"),
    ],
    ids=lambda v: str(v),
)
def test_it_versions_tuned_constants(changes: dict[str, float], version: str) -> None:
    constants = RuleConstants(**changes)  # type: ignore[arg-type]
    assert guideline_version(constants) == GUIDELINE_VERSION + version
    output = advise_json({}, constants)
    assert isinstance(output, dict)
    assert output["guideline_version"] == GUIDELINE_VERSION + version
    assert output["rule_constants"] == constants.as_dict()


def test_tuned_constants_change_the_rules() -> None:
    facts = parse_facts(
        {
            "r0_achievable": True,
            "hpb_mdt_reviewed": True,
            "flr_percent_slv": 27,
            "proposed_liver_surgery": "one_stage_hepatectomy",
            "last_bevacizumab_dose_date": "2025-01-01",
            "planned_surgery_date": "2025-02-20",  # day 50
            "chemo_start_date": "2025-01-31",
            "scrt_completion_date": "2025-01-31",
            "surgical_margin": "r0",
            "preop_chemo_months_given": 3,
        }
    )
    default = advise(facts)
    assert default.hepatectomy_strategy is HepatectomyStrategy.TWO_STAGE_HEPATECTOMY
    assert A.FLR_INADEQUATE in default.hard_stops
    assert default.hard_stops == (A.FLR_INADEQUATE,)
    tuned = advise(
        facts,
        RuleConstants(
            flr_min_percent_slv=25,
            bev_min_days=56,
            reassess_months=3,
            reassess_days=84,
            scrt_max_delay_months=5,
            periop_total_months=4,
        ),
    )
    assert tuned.hepatectomy_strategy is HepatectomyStrategy.ONE_STAGE_HEPATECTOMY
    assert A.BEV_SURGERY_INTERVAL_LT_6_WEEKS in tuned.hard_stops
    assert A.FLR_INADEQUATE not in tuned.hard_stops
    assert tuned.earliest_elective_surgery_date == date(2025, 2, 26)
    assert tuned.next_reassessment_date == date(2025, 4, 30)
    assert tuned.next_reassessment_date_8_weeks == date(2025, 4, 25)
    assert tuned.latest_primary_surgery_date_after_scrt == date(2025, 6, 30)
    assert tuned.postop_chemo_months == 1


@pytest.mark.parametrize(
    "changes",
    [
        {"flr_min_percent_slv": 101},
        {"flr_min_percent_slv": float("nan")},
        {"bev_min_days": -1},
        {"reassess_months": 2.5},
        {"scrt_max_delay_months": True},
        {"periop_total_months": -1},
    ],
    ids=lambda v: str(v),
)
def test_it_refuses_nonsense_constants(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="must be"):
        RuleConstants(**changes)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# The catalogue
# ---------------------------------------------------------------------------------------------


def test_every_alert_has_severity_text_and_known_citations() -> None:
    for code, entry in CODES.items():
        hard = code in HARD_STOP_CODES
        assert entry.code == code
        assert entry.severity is (Severity.HARD_STOP if hard else Severity.WARNING)
        assert entry.kind is (ExplanationKind.HARD_STOP if hard else ExplanationKind.WARNING)
        assert entry.beyond_seed in {"no", "yes", "partly"}
        assert len(entry.text) > 40
        assert entry.citations
        for citation in entry.citations:
            assert citation_label(citation)


def test_the_catalogue_iterates_in_a3_order() -> None:
    assert list(CODES) == list(AlertCode)


@pytest.mark.parametrize(
    ("code", "beyond_seed"),
    [
        (A.ANTI_EGFR_RAS_MUTANT, "no"),
        (A.ANTI_EGFR_RAS_UNKNOWN, "yes"),
        (A.FLR_INADEQUATE, "partly"),
        (A.PET_CMR_RESECT_ORIGINAL_SITES, "no"),
        (A.PREOP_CHEMO_EXCEEDS_6_MONTHS, "yes"),
    ],
)
def test_it_keeps_the_beyond_seed_column(code: AlertCode, beyond_seed: str) -> None:
    assert CODES[code].beyond_seed == beyond_seed


def test_every_recommendation_value_is_explained() -> None:
    expected = {
        *(f"sidedness:{v}" for v in Sidedness),
        "triplet_eligible:true",
        "triplet_eligible:false",
        *(f"recommended_regimen_family:{v}" for v in RegimenFamily),
        "regimen_provisional:true",
        "regimen_provisional:false",
        *(f"conversion_status:{v}" for v in ConversionStatus),
        *(f"hepatectomy_strategy:{v}" for v in HepatectomyStrategy),
        *(f"sequencing_options:{v}" for v in SequencingOption),
        *(f"recommended_sequence:{v}" for v in RecommendedSequence),
        *(f"symptomatic_primary_options:{v}" for v in SymptomaticPrimaryOption),
        "next_reassessment_date",
        "next_reassessment_date_8_weeks",
        "earliest_elective_surgery_date",
        "latest_primary_surgery_date_after_scrt",
        "postop_chemo_recommended:true",
        "postop_chemo_recommended:false",
        "postop_chemo_months",
        "postop_backbone",
    }
    assert set(RECOMMENDATIONS) == expected
    for entry in RECOMMENDATIONS.values():
        assert entry.severity is Severity.INFO
        assert entry.kind is ExplanationKind.RECOMMENDATION
        assert entry.beyond_seed is None
        assert entry.text
        assert entry.citations
        for citation in entry.citations:
            assert citation_label(citation)


def test_no_two_entries_share_a_text() -> None:
    texts = [entry.text for entry in (*CODES.values(), *RECOMMENDATIONS.values())]
    assert len(texts) == len(set(texts))


def test_citation_ids_cover_sections_c_and_d() -> None:
    assert set(SOURCES) == {f"C{n}" for n in range(1, 32)}
    assert set(SEED_STATEMENTS) == {f"D{n}" for n in range(1, 32)}
    with pytest.raises(KeyError):
        citation_label("C99")


def test_advice_to_dict_and_advise_json_agree() -> None:
    facts = parse_facts(BUSY_CASE)
    assert advice_to_dict(advise(facts)) == advise_json(BUSY_CASE)
