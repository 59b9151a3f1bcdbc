"""Validation of JSON input (G4, V1–V4) and the A.1 defaults."""

from datetime import date

import pytest

from cases.pathway import (
    FACT_KEYS,
    Agent,
    CaseFacts,
    InputError,
    KrasStatus,
    LiverSurgery,
    MmrStatus,
    PrimarySite,
    PrimarySymptom,
    SurgeryUrgency,
    advise_json,
    facts_to_dict,
    parse_facts,
)

FULL_CASE: dict[str, object] = {
    "age_years": 64,
    "ecog": 1,
    "primary_site": "rectum",
    "sidedness_reported": "left",
    "mmr_msi_status": "pmmr_mss",
    "kras_status": "wild_type",
    "nras_status": "wild_type",
    "braf_v600e_status": "wild_type",
    "her2_status": "not_amplified",
    "primary_symptom": "none",
    "hpb_mdt_reviewed": True,
    "r0_achievable": True,
    "flr_percent_slv": 32.5,
    "flr_segments_remaining": 3,
    "extrahepatic_disease": "none",
    "pet_complete_metabolic_response": False,
    "combined_resection_technically_feasible": True,
    "planned_hepatectomy_extent": "minor",
    "proposed_agents": ["fluorouracil", "oxaliplatin", "panitumumab"],
    "proposed_liver_surgery": "one_stage_hepatectomy",
    "liver_biopsy_proposed": False,
    "primary_resection_proposed": True,
    "pelvic_rt_proposed": "short_course_5x5",
    "liver_metastases_cleared": False,
    "colorectal_stent_proposed": False,
    "chemo_start_date": "2025-01-06",
    "last_reassessment_date": "2025-03-03",
    "last_bevacizumab_dose_date": "2025-02-17",
    "planned_surgery_date": "2025-04-14",
    "planned_surgery_urgency": "elective",
    "planned_surgery_includes_primary": True,
    "scrt_completion_date": "2025-03-28",
    "surgical_margin": "r0",
    "preop_chemo_months_given": 4,
    "preop_backbone": "folfox",
}


def error_for(obj: object) -> InputError:
    with pytest.raises(InputError) as caught:
        parse_facts(obj)
    return caught.value


def test_the_full_case_uses_every_key_and_round_trips() -> None:
    assert set(FULL_CASE) == set(FACT_KEYS)
    facts = parse_facts(FULL_CASE)
    assert facts.primary_site is PrimarySite.RECTUM
    assert facts.proposed_agents == {Agent.FLUOROURACIL, Agent.OXALIPLATIN, Agent.PANITUMUMAB}
    assert facts.planned_surgery_date == date(2025, 4, 14)
    assert facts.flr_percent_slv == 32.5
    assert parse_facts(facts_to_dict(facts)) == facts


def test_missing_keys_take_the_a1_defaults() -> None:
    facts = parse_facts({})
    assert facts == CaseFacts()
    assert facts.primary_site is PrimarySite.UNKNOWN
    assert facts.mmr_msi_status is MmrStatus.NOT_TESTED
    assert facts.kras_status is KrasStatus.NOT_TESTED
    assert facts.primary_symptom is PrimarySymptom.NONE
    assert facts.proposed_liver_surgery is LiverSurgery.NONE
    assert facts.planned_surgery_urgency is SurgeryUrgency.ELECTIVE
    assert facts.proposed_agents == frozenset()
    assert facts.hpb_mdt_reviewed is False  # G2
    assert facts.r0_achievable is None  # G2: not assessed
    assert facts.age_years is None
    assert facts.flr_percent_slv is None
    assert facts.chemo_start_date is None


def test_null_is_accepted_for_r0_achievable_only() -> None:
    # G4
    assert parse_facts({"r0_achievable": None}).r0_achievable is None
    assert parse_facts({"r0_achievable": False}).r0_achievable is False


@pytest.mark.parametrize("key", [k for k in FACT_KEYS if k != "r0_achievable"])
def test_null_is_refused_for_every_other_key(key: str) -> None:
    error = error_for({key: None})
    assert error.key == key
    assert error.message.startswith(f"{key}: ")
    assert "null is not allowed" in error.message


def test_it_refuses_an_unknown_key_and_suggests_the_right_one() -> None:
    error = error_for({"ecgo": 1})
    assert error.key == "ecgo"
    assert "unknown key" in error.message
    assert "did you mean 'ecog'" in error.message
    assert "age_years" in error.message  # the allowed keys are listed
    assert "did you mean" not in error_for({"colour": "red"}).message


def test_an_enumeration_error_lists_the_allowed_values() -> None:
    error = error_for({"primary_site": "colon"})
    assert error.key == "primary_site"
    assert "'colon'" in error.message
    for site in PrimarySite:
        assert site.value in error.message


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("mmr_msi_status", "MSI-H"),
        ("kras_status", "Wild_Type"),
        ("nras_status", "wild_type_exon2_only"),  # only KRAS has that value
        ("sidedness_reported", "undetermined"),  # a derived value, not a reported one
        ("surgical_margin", "R1"),
        ("planned_surgery_urgency", 1),
        ("pelvic_rt_proposed", True),
        ("preop_backbone", ["folfox"]),
    ],
)
def test_it_refuses_values_outside_an_enumeration(key: str, value: object) -> None:
    error = error_for({key: value})
    assert error.key == key
    assert "allowed values:" in error.message


@pytest.mark.parametrize(
    ("key", "value"),
    [
        pytest.param("ecog", True, id="bool-for-ecog"),
        pytest.param("age_years", False, id="bool-for-age"),
        pytest.param("ecog", 2.5, id="ecog-2.5"),
        pytest.param("ecog", 2.0, id="ecog-2.0-not-an-integer"),
        pytest.param("ecog", "2", id="ecog-string"),
        pytest.param("flr_segments_remaining", 2.5, id="segments-2.5"),
        pytest.param("ecog", 7, id="ecog-7"),
        pytest.param("ecog", -1, id="ecog-negative"),
        pytest.param("age_years", -1, id="age-negative"),
        pytest.param("flr_segments_remaining", -1, id="segments-negative"),
        pytest.param("flr_percent_slv", 140, id="flr-140"),
        pytest.param("flr_percent_slv", -1, id="flr-negative"),
        pytest.param("flr_percent_slv", 100.01, id="flr-just-over-100"),
        pytest.param("flr_percent_slv", float("nan"), id="flr-nan"),
        pytest.param("flr_percent_slv", float("inf"), id="flr-inf"),
        pytest.param("flr_percent_slv", True, id="flr-bool"),
        pytest.param("flr_percent_slv", "30", id="flr-string"),
        pytest.param("preop_chemo_months_given", -0.5, id="months-negative"),
        pytest.param("preop_chemo_months_given", float("-inf"), id="months-minus-inf"),
    ],
)
def test_it_refuses_bad_numbers(key: str, value: object) -> None:
    # V1 (JSON integers, finite numbers) and V2 (ranges)
    error = error_for({key: value})
    assert error.key == key
    assert error.message.startswith(f"{key}: must be")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("ecog", 0),
        ("ecog", 4),
        ("age_years", 0),
        ("age_years", 130),
        ("age_years", 131),  # V2 sets no upper bound
        ("flr_segments_remaining", 9),
        ("flr_segments_remaining", 0),
        ("flr_segments_remaining", 8),
        ("flr_percent_slv", 0),
        ("flr_percent_slv", 100),
        ("flr_percent_slv", 29.9),
        ("preop_chemo_months_given", 0),
        ("preop_chemo_months_given", 6.5),
    ],
)
def test_it_accepts_numbers_on_the_range_edges(key: str, value: object) -> None:
    # V2: the bounds are inclusive
    assert getattr(parse_facts({key: value}), key) == value


def test_a_huge_whole_number_is_finite_and_accepted() -> None:
    # Python ints have no infinity: checking one must not overflow a float conversion.
    huge = 10**5000  # more digits than Python will print
    facts = parse_facts({"preop_chemo_months_given": huge, "surgical_margin": "r0"})
    assert facts.preop_chemo_months_given == huge
    output = advise_json({"preop_chemo_months_given": huge, "surgical_margin": "r0"})
    assert isinstance(output, dict)
    assert output["postop_chemo_months"] == 0
    assert "PREOP_CHEMO_EXCEEDS_6_MONTHS" in output["warnings"]  # type: ignore[operator]


def test_a_huge_out_of_range_number_still_gets_a_clear_message() -> None:
    assert "a number with more than 19 digits" in error_for({"hpb_mdt_reviewed": 10**5000}).message
    error = error_for({"ecog": 10**5000})
    assert error.message == "ecog: must be from 0 to 4, got a number with more than 19 digits"
    error = error_for({"age_years": -(10**5000)})
    assert error.message == "age_years: must be ≥ 0, got a number with more than 19 digits"


@pytest.mark.parametrize("value", ["true", 1, 0, "yes", []])
def test_booleans_must_be_json_booleans(value: object) -> None:
    error = error_for({"hpb_mdt_reviewed": value})
    assert error.key == "hpb_mdt_reviewed"
    assert "must be true or false" in error.message
    assert error_for({"r0_achievable": value}).key == "r0_achievable"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        pytest.param("2025-2-3", "YYYY-MM-DD", id="unpadded"),
        pytest.param("2025-02-30", "not a real calendar date", id="30-feb"),
        pytest.param("2025-02-29", "not a real calendar date", id="29-feb-2025"),
        pytest.param("2100-02-29", "not a real calendar date", id="29-feb-2100"),
        pytest.param("2025-13-01", "not a real calendar date", id="month-13"),
        pytest.param("2025-00-10", "not a real calendar date", id="month-0"),
        pytest.param("20250203", "YYYY-MM-DD", id="basic-iso"),
        pytest.param("2025-02-03T10:00", "YYYY-MM-DD", id="datetime"),
        pytest.param(" 2025-02-03", "YYYY-MM-DD", id="leading-space"),
        pytest.param("2025-02-03\n", "YYYY-MM-DD", id="trailing-newline"),
        pytest.param("٢٠٢٥-٠٢-٠٣", "YYYY-MM-DD", id="non-ascii-digits"),
        pytest.param("03/02/2025", "YYYY-MM-DD", id="slashes"),
        pytest.param(20250203, "YYYY-MM-DD", id="number"),
    ],
)
def test_it_refuses_bad_dates(value: object, problem: str) -> None:
    # V3: exactly YYYY-MM-DD and a real calendar date
    error = error_for({"planned_surgery_date": value})
    assert error.key == "planned_surgery_date"
    assert problem in error.message


@pytest.mark.parametrize(
    "value", ["2024-02-29", "2000-02-29", "1900-01-01", "2999-12-31", "1899-12-31", "3000-01-01"]
)
def test_it_accepts_real_dates(value: str) -> None:
    assert parse_facts({"chemo_start_date": value}).chemo_start_date == date.fromisoformat(value)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        pytest.param("cetuximab", "must be a list", id="string-not-list"),
        pytest.param({"cetuximab": True}, "must be a list", id="object"),
        pytest.param(["cetuximab", "aspirin"], "item 1 is the string 'aspirin'", id="unknown"),
        pytest.param(["Cetuximab"], "item 0", id="case-sensitive"),
        pytest.param([1], "item 0 is the number 1", id="number-item"),
        pytest.param([None], "item 0 is null", id="null-item"),
    ],
)
def test_it_refuses_bad_agent_lists(value: object, problem: str) -> None:
    # V4
    error = error_for({"proposed_agents": value})
    assert error.key == "proposed_agents"
    assert problem in error.message
    if "item" in problem:
        for agent in Agent:
            assert agent.value in error.message


def test_a_repeated_agent_counts_once() -> None:
    # V4
    facts = parse_facts({"proposed_agents": ["cetuximab", "cetuximab", "oxaliplatin"]})
    assert facts.proposed_agents == {Agent.CETUXIMAB, Agent.OXALIPLATIN}
    assert parse_facts({"proposed_agents": []}).proposed_agents == frozenset()


@pytest.mark.parametrize(
    "obj",
    [[{"ecog": 1}], "rectum", 42, None, True],
    ids=["list", "string", "number", "null", "bool"],
)
def test_the_top_level_must_be_an_object(obj: object) -> None:
    error = error_for(obj)
    assert error.key == ""
    assert "expected a JSON object" in error.message


def test_a_list_names_the_failing_item_by_index() -> None:
    with pytest.raises(InputError) as caught:
        advise_json([{"ecog": 1}, {"primary_site": "rectum"}, {"flr_percent_slv": 140}])
    assert caught.value.key == "[2].flr_percent_slv"
    assert caught.value.message.startswith("[2].flr_percent_slv: must be")


def test_input_error_is_a_value_error_with_its_parts() -> None:
    error = error_for({"ecog": 7})
    assert isinstance(error, ValueError)
    assert str(error) == error.message == "ecog: must be from 0 to 4, got 7"
    assert error.problem == "must be from 0 to 4, got 7"
    assert error.within("[3]").message == "[3].ecog: must be from 0 to 4, got 7"


def test_dates_near_the_end_of_the_calendar_give_advice_with_null_derived_dates() -> None:
    """V3 accepts any real date; a derived date past year 9999 does not exist, so it is null."""
    output = advise_json(
        {
            "chemo_start_date": "9999-12-01",
            "last_bevacizumab_dose_date": "9999-12-31",
            "scrt_completion_date": "9999-08-01",
            "planned_surgery_date": "9999-12-31",
            "planned_surgery_includes_primary": True,
        }
    )
    assert isinstance(output, dict)
    assert output["next_reassessment_date"] is None
    assert output["next_reassessment_date_8_weeks"] is None
    assert output["earliest_elective_surgery_date"] is None
    assert output["latest_primary_surgery_date_after_scrt"] is None
    assert output["hard_stops"] == []
