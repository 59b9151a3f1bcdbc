"""Table-driven tests of rules R1–R14 and the readings of section G.

Inputs are written in the JSON vocabulary and go through `parse_facts`, so each row reads like a
case a clinician would type into `manage.py advise`.
"""

import re
from datetime import date
from pathlib import Path

import pytest

from cases.pathway import (
    CODES,
    HARD_STOP_CODES,
    WARNING_CODES,
    Advice,
    AlertCode,
    advise,
    parse_facts,
)

A = AlertCode


def run(**inputs: object) -> Advice:
    return advise(parse_facts(inputs))


def fired(**inputs: object) -> set[AlertCode]:
    return set(run(**inputs).codes)


# Disease the HPB MDT has judged resectable with a comfortable remnant (R7 converted branch).
CONVERTED = {
    "r0_achievable": True,
    "hpb_mdt_reviewed": True,
    "flr_percent_slv": 35,
    "flr_segments_remaining": 4,
}
# Every biomarker known and wild-type, MMR proficient: no biomarker warnings.
ALL_WILD = {
    "mmr_msi_status": "pmmr_mss",
    "kras_status": "wild_type",
    "nras_status": "wild_type",
    "braf_v600e_status": "wild_type",
}
BEV_DOSE = {"last_bevacizumab_dose_date": "2025-01-01"}  # + 42 days = 2025-02-12


# ---------------------------------------------------------------------------------------------
# Every A.3 code: one case where it fires, one near miss where it does not
# ---------------------------------------------------------------------------------------------

FIRING: dict[AlertCode, dict[str, object]] = {
    A.ANTI_EGFR_RAS_MUTANT: {"kras_status": "mutant", "proposed_agents": ["cetuximab"]},
    A.ANTI_EGFR_RAS_UNKNOWN: {
        "kras_status": "wild_type_exon2_only",
        "nras_status": "wild_type",
        "proposed_agents": ["panitumumab"],
    },
    A.ANTI_EGFR_RIGHT_SIDED: {"primary_site": "caecum", "proposed_agents": ["cetuximab"]},
    A.ANTI_EGFR_SIDEDNESS_UNDETERMINED: {
        "primary_site": "unknown",
        "proposed_agents": ["cetuximab"],
    },
    A.ANTI_EGFR_BRAF_V600E: {"braf_v600e_status": "mutant", "proposed_agents": ["panitumumab"]},
    A.DUAL_BIOLOGIC: {"proposed_agents": ["bevacizumab", "cetuximab"]},
    A.IMMUNOTHERAPY_NOT_INDICATED_PMMR: {
        "mmr_msi_status": "pmmr_mss",
        "proposed_agents": ["pembrolizumab"],
    },
    A.IMMUNOTHERAPY_MMR_UNCONFIRMED: {
        "mmr_msi_status": "pending",
        "proposed_agents": ["nivolumab"],
    },
    A.TRIPLET_NOT_APPROPRIATE: {
        "age_years": 60,
        "ecog": 2,
        "proposed_agents": ["oxaliplatin", "irinotecan"],
    },
    A.BEV_SURGERY_INTERVAL_LT_6_WEEKS: {**BEV_DOSE, "planned_surgery_date": "2025-02-11"},
    A.LONG_COURSE_CRT_UPFRONT: {"pelvic_rt_proposed": "long_course_crt"},
    A.DEBULKING_NOT_PERMITTED: {
        "proposed_liver_surgery": "one_stage_hepatectomy",
        "r0_achievable": False,
    },
    A.FLR_INADEQUATE: {
        **CONVERTED,
        "proposed_liver_surgery": "one_stage_hepatectomy",
        "flr_percent_slv": 29.9,
    },
    A.EXTRAHEPATIC_DISEASE_UNRESECTABLE: {
        **CONVERTED,
        "proposed_liver_surgery": "two_stage_hepatectomy",
        "extrahepatic_disease": "unresectable",
    },
    A.HPB_MDT_REVIEW_REQUIRED: {
        "proposed_liver_surgery": "one_stage_hepatectomy",
        "hpb_mdt_reviewed": False,
    },
    A.LIVER_BIOPSY_WITHOUT_HPB_DISCUSSION: {"liver_biopsy_proposed": True},
    A.MMR_STATUS_REQUIRED: {"mmr_msi_status": "pending"},
    A.RAS_STATUS_REQUIRED: {"kras_status": "wild_type", "nras_status": "pending"},
    A.BRAF_STATUS_REQUIRED: {"braf_v600e_status": "not_tested"},
    A.RAS_TESTING_INCOMPLETE_KRAS_EXON2_ONLY: {"kras_status": "wild_type_exon2_only"},
    A.SIDEDNESS_CONFLICT: {"primary_site": "rectum", "sidedness_reported": "right"},
    A.PERFORMANCE_STATUS_TOO_POOR_FOR_CONVERSION: {"ecog": 3},
    A.PEMBROLIZUMAB_ECOG2_OUTSIDE_TRIAL: {"mmr_msi_status": "dmmr_msi_h", "ecog": 2},
    A.BRAF_V600E_CONSIDER_ENCORAFENIB_CETUXIMAB: {
        "mmr_msi_status": "pmmr_mss",
        "braf_v600e_status": "mutant",
    },
    A.ANTI_EGFR_BRAF_STATUS_UNKNOWN: {
        "braf_v600e_status": "pending",
        "proposed_agents": ["cetuximab"],
    },
    A.ANTI_EGFR_WITH_CAPECITABINE: {"proposed_agents": ["capecitabine", "panitumumab"]},
    A.HER2_AMPLIFIED_ANTI_EGFR_LESS_EFFECTIVE: {
        "her2_status": "amplified",
        "proposed_agents": ["cetuximab"],
    },
    A.IMMUNOTHERAPY_PREFERRED_DMMR: {
        "mmr_msi_status": "dmmr_msi_h",
        "proposed_agents": ["fluorouracil", "oxaliplatin"],
    },
    A.TRIPLET_OUTSIDE_TRIBE_CRITERIA: {
        "age_years": 73,
        "ecog": 1,
        "proposed_agents": ["oxaliplatin", "irinotecan"],
    },
    A.BEV_WITH_COLORECTAL_STENT: {
        "proposed_agents": ["bevacizumab"],
        "colorectal_stent_proposed": True,
    },
    A.BEV_CAUTION_BLEEDING_OR_PERFORATION: {
        "proposed_agents": ["bevacizumab"],
        "primary_symptom": "bleeding",
    },
    A.BEV_RECENT_EMERGENCY_SURGERY: {
        **BEV_DOSE,
        "planned_surgery_date": "2025-02-11",
        "planned_surgery_urgency": "emergency",
    },
    A.FLR_BELOW_THRESHOLD_TWO_STAGE_OR_PVE: {**CONVERTED, "flr_percent_slv": 25},
    A.PET_CMR_RESECT_ORIGINAL_SITES: {"pet_complete_metabolic_response": True},
    A.PRIMARY_LOCOREGIONAL_TREATMENT_DEFERRED: {"primary_resection_proposed": True},
    A.SIMULTANEOUS_MAJOR_HEPATECTOMY_AND_RECTAL_RESECTION: {
        **CONVERTED,
        "combined_resection_technically_feasible": True,
        "planned_hepatectomy_extent": "major",
    },
    A.SCRT_TO_SURGERY_INTERVAL_GT_6_MONTHS: {
        "scrt_completion_date": "2025-01-15",
        "planned_surgery_date": "2025-07-16",
        "planned_surgery_includes_primary": True,
    },
    A.R1_MARGIN_POSTOP_CHEMO_STRONGLY_RECOMMENDED: {"surgical_margin": "r1"},
    A.R2_RESIDUAL_DISEASE_NOT_CURATIVE: {"surgical_margin": "r2"},
    A.PREOP_CHEMO_EXCEEDS_6_MONTHS: {"preop_chemo_months_given": 6.5},
}

# The smallest change to the firing case that must silence the code.
NEAR_MISS: dict[AlertCode, dict[str, object]] = {
    A.ANTI_EGFR_RAS_MUTANT: {**FIRING[A.ANTI_EGFR_RAS_MUTANT], "kras_status": "wild_type"},
    A.ANTI_EGFR_RAS_UNKNOWN: {**FIRING[A.ANTI_EGFR_RAS_UNKNOWN], "kras_status": "wild_type"},
    A.ANTI_EGFR_RIGHT_SIDED: {**FIRING[A.ANTI_EGFR_RIGHT_SIDED], "primary_site": "sigmoid_colon"},
    A.ANTI_EGFR_SIDEDNESS_UNDETERMINED: {
        **FIRING[A.ANTI_EGFR_SIDEDNESS_UNDETERMINED],
        "primary_site": "rectum",
    },
    A.ANTI_EGFR_BRAF_V600E: {
        **FIRING[A.ANTI_EGFR_BRAF_V600E],
        "proposed_agents": ["panitumumab", "encorafenib"],
    },
    A.DUAL_BIOLOGIC: {"proposed_agents": ["cetuximab"]},
    A.IMMUNOTHERAPY_NOT_INDICATED_PMMR: {
        **FIRING[A.IMMUNOTHERAPY_NOT_INDICATED_PMMR],
        "mmr_msi_status": "dmmr_msi_h",
    },
    A.IMMUNOTHERAPY_MMR_UNCONFIRMED: {
        **FIRING[A.IMMUNOTHERAPY_MMR_UNCONFIRMED],
        "mmr_msi_status": "dmmr_msi_h",
    },
    A.TRIPLET_NOT_APPROPRIATE: {**FIRING[A.TRIPLET_NOT_APPROPRIATE], "ecog": 1},
    A.BEV_SURGERY_INTERVAL_LT_6_WEEKS: {**BEV_DOSE, "planned_surgery_date": "2025-02-12"},
    A.LONG_COURSE_CRT_UPFRONT: {
        "pelvic_rt_proposed": "long_course_crt",
        "liver_metastases_cleared": True,
    },
    A.DEBULKING_NOT_PERMITTED: {
        "proposed_liver_surgery": "one_stage_hepatectomy",
        "r0_achievable": None,  # G2: not assessed is not "false"
    },
    A.FLR_INADEQUATE: {**FIRING[A.FLR_INADEQUATE], "flr_percent_slv": 30},
    A.EXTRAHEPATIC_DISEASE_UNRESECTABLE: {
        **FIRING[A.EXTRAHEPATIC_DISEASE_UNRESECTABLE],
        "extrahepatic_disease": "resectable",
    },
    A.HPB_MDT_REVIEW_REQUIRED: {**FIRING[A.HPB_MDT_REVIEW_REQUIRED], "hpb_mdt_reviewed": True},
    A.LIVER_BIOPSY_WITHOUT_HPB_DISCUSSION: {
        "liver_biopsy_proposed": True,
        "hpb_mdt_reviewed": True,
    },
    A.MMR_STATUS_REQUIRED: {"mmr_msi_status": "pmmr_mss"},
    A.RAS_STATUS_REQUIRED: {"kras_status": "wild_type", "nras_status": "wild_type"},
    A.BRAF_STATUS_REQUIRED: {"braf_v600e_status": "wild_type"},
    A.RAS_TESTING_INCOMPLETE_KRAS_EXON2_ONLY: {"kras_status": "wild_type"},
    A.SIDEDNESS_CONFLICT: {"primary_site": "rectum", "sidedness_reported": "left"},
    A.PERFORMANCE_STATUS_TOO_POOR_FOR_CONVERSION: {"ecog": 2},
    A.PEMBROLIZUMAB_ECOG2_OUTSIDE_TRIAL: {"mmr_msi_status": "dmmr_msi_h", "ecog": 1},
    A.BRAF_V600E_CONSIDER_ENCORAFENIB_CETUXIMAB: {
        "mmr_msi_status": "dmmr_msi_h",  # B3: not in the dMMR branch
        "braf_v600e_status": "mutant",
    },
    A.ANTI_EGFR_BRAF_STATUS_UNKNOWN: {
        **FIRING[A.ANTI_EGFR_BRAF_STATUS_UNKNOWN],
        "braf_v600e_status": "wild_type",
    },
    A.ANTI_EGFR_WITH_CAPECITABINE: {"proposed_agents": ["fluorouracil", "panitumumab"]},
    A.HER2_AMPLIFIED_ANTI_EGFR_LESS_EFFECTIVE: {
        **FIRING[A.HER2_AMPLIFIED_ANTI_EGFR_LESS_EFFECTIVE],
        "her2_status": "not_amplified",
    },
    A.IMMUNOTHERAPY_PREFERRED_DMMR: {"mmr_msi_status": "dmmr_msi_h", "proposed_agents": []},
    A.TRIPLET_OUTSIDE_TRIBE_CRITERIA: {**FIRING[A.TRIPLET_OUTSIDE_TRIBE_CRITERIA], "ecog": 0},
    A.BEV_WITH_COLORECTAL_STENT: {"colorectal_stent_proposed": True},
    A.BEV_CAUTION_BLEEDING_OR_PERFORATION: {
        "proposed_agents": ["bevacizumab"],
        "primary_symptom": "obstruction",
    },
    A.BEV_RECENT_EMERGENCY_SURGERY: {
        **FIRING[A.BEV_RECENT_EMERGENCY_SURGERY],
        "planned_surgery_date": "2025-02-12",
    },
    A.FLR_BELOW_THRESHOLD_TWO_STAGE_OR_PVE: {**CONVERTED, "flr_percent_slv": 30},
    A.PET_CMR_RESECT_ORIGINAL_SITES: {"pet_complete_metabolic_response": False},
    A.PRIMARY_LOCOREGIONAL_TREATMENT_DEFERRED: {
        "primary_resection_proposed": True,
        "primary_symptom": "pain_tenesmus",
    },
    A.SIMULTANEOUS_MAJOR_HEPATECTOMY_AND_RECTAL_RESECTION: {
        **FIRING[A.SIMULTANEOUS_MAJOR_HEPATECTOMY_AND_RECTAL_RESECTION],
        "planned_hepatectomy_extent": "minor",
    },
    A.SCRT_TO_SURGERY_INTERVAL_GT_6_MONTHS: {
        **FIRING[A.SCRT_TO_SURGERY_INTERVAL_GT_6_MONTHS],
        "planned_surgery_date": "2025-07-15",
    },
    A.R1_MARGIN_POSTOP_CHEMO_STRONGLY_RECOMMENDED: {"surgical_margin": "r0"},
    A.R2_RESIDUAL_DISEASE_NOT_CURATIVE: {"surgical_margin": "r1"},
    A.PREOP_CHEMO_EXCEEDS_6_MONTHS: {"preop_chemo_months_given": 6},
}


# G1: each code fires on its A.3 condition, as narrowed by the readings named beside the rows.
def test_every_catalogue_code_has_a_firing_case_and_a_near_miss() -> None:
    # A new code added to the vocabulary or catalogue without a test makes this fail.
    assert set(CODES) == set(AlertCode)
    assert set(FIRING) == set(CODES)
    assert set(NEAR_MISS) == set(CODES)


READINGS = (
    *(f"G{n}" for n in range(1, 6)),
    *(f"B{n}" for n in range(1, 6)),
    *(f"X{n}" for n in range(1, 4)),
    *(f"L{n}" for n in range(1, 5)),
    *(f"P{n}" for n in range(1, 4)),
    *(f"D{n}" for n in range(1, 5)),
    *(f"O{n}" for n in range(1, 4)),
    *(f"V{n}" for n in range(1, 5)),
)


def test_every_g_reading_is_named_by_some_test() -> None:
    # Traceability for the safety case: each binding reading of section G is cited by the test
    # (id or comment) that exercises it. A reading added to the list without a test fails here.
    sources = "\n".join(
        path.read_text(encoding="utf-8") for path in Path(__file__).parent.glob("test_pathway_*.py")
    )
    missing = [r for r in READINGS if not re.search(rf"\b{r}\b", sources)]
    assert missing == []


def test_the_code_tables_have_the_a3_sizes() -> None:
    assert len(HARD_STOP_CODES) == 16
    assert len(WARNING_CODES) == 24
    assert HARD_STOP_CODES[-1] is A.LIVER_BIOPSY_WITHOUT_HPB_DISCUSSION
    assert WARNING_CODES[0] is A.MMR_STATUS_REQUIRED


@pytest.mark.parametrize("code", list(FIRING), ids=str)
def test_it_fires_each_code_in_its_own_list(code: AlertCode) -> None:
    advice = run(**FIRING[code])
    if code in HARD_STOP_CODES:
        assert code in advice.hard_stops
        assert code not in advice.warnings
    else:
        assert code in advice.warnings
        assert code not in advice.hard_stops


@pytest.mark.parametrize("code", list(NEAR_MISS), ids=str)
def test_it_stays_silent_on_the_near_miss(code: AlertCode) -> None:
    assert code not in fired(**NEAR_MISS[code])


def test_it_raises_no_alert_for_a_fully_known_case_with_nothing_proposed() -> None:
    assert fired(**ALL_WILD, primary_site="rectum", age_years=60, ecog=0) == set()


# ---------------------------------------------------------------------------------------------
# R1 sidedness, B5
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("site", "side"),
    [
        ("caecum", "right"),
        ("ascending_colon", "right"),
        ("hepatic_flexure", "right"),
        ("transverse_colon", "right"),  # R1 choice: conservative side
        ("splenic_flexure", "left"),
        ("descending_colon", "left"),
        ("sigmoid_colon", "left"),
        ("rectosigmoid", "left"),
        ("rectum", "left"),
        ("unknown", "undetermined"),
    ],
)
def test_it_derives_sidedness_from_the_primary_site(site: str, side: str) -> None:
    assert run(primary_site=site).sidedness == side


@pytest.mark.parametrize(
    ("site", "reported", "conflict"),
    [
        pytest.param("rectum", "right", True, id="rectum-reported-right"),
        pytest.param("caecum", "left", True, id="caecum-reported-left"),
        pytest.param("rectum", "left", False, id="agrees"),
        pytest.param("unknown", "left", False, id="B5-undetermined-never-conflicts"),
        pytest.param("unknown", "right", False, id="B5-undetermined-right"),
        pytest.param("caecum", None, False, id="nothing-reported"),
    ],
)
def test_it_flags_a_reported_side_that_disagrees(
    site: str, reported: str | None, conflict: bool
) -> None:
    inputs: dict[str, object] = {"primary_site": site}
    if reported is not None:
        inputs["sidedness_reported"] = reported
    advice = run(**inputs)
    assert (A.SIDEDNESS_CONFLICT in advice.warnings) is conflict
    assert advice.sidedness == run(primary_site=site).sidedness  # the derived side wins


# ---------------------------------------------------------------------------------------------
# R2 triplet eligibility and the triplet alerts, G3, X3
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "ecog", "eligible"),
    [
        (18, 0, True),
        (70, 0, True),
        (70, 1, True),
        (70, 2, False),  # TRIBE allowed ECOG 2 at ≤70; the spec does not
        (71, 0, True),
        (71, 1, False),
        (71, 2, False),
        (75, 0, True),
        (75, 1, False),
        (75, 2, False),
        (76, 0, False),
        (76, 1, False),
        (76, 2, False),
        (None, 0, False),  # G3
        (60, None, False),  # G3
        (None, None, False),
    ],
    ids=lambda v: repr(v),
)
def test_it_decides_triplet_eligibility_on_tribe_criteria(
    age: int | None, ecog: int | None, eligible: bool
) -> None:
    inputs: dict[str, object] = {}
    if age is not None:
        inputs["age_years"] = age
    if ecog is not None:
        inputs["ecog"] = ecog
    assert run(**inputs).triplet_eligible is eligible


TRIPLET = ["fluorouracil", "oxaliplatin", "irinotecan"]


@pytest.mark.parametrize(
    ("age", "ecog", "agents", "expected"),
    [
        pytest.param(70, 1, TRIPLET, set(), id="70-ecog1-eligible"),
        pytest.param(75, 0, TRIPLET, set(), id="75-ecog0-eligible"),
        pytest.param(70, 2, TRIPLET, {A.TRIPLET_NOT_APPROPRIATE}, id="70-ecog2"),
        pytest.param(76, 0, TRIPLET, {A.TRIPLET_NOT_APPROPRIATE}, id="76-ecog0"),
        pytest.param(71, 1, TRIPLET, {A.TRIPLET_OUTSIDE_TRIBE_CRITERIA}, id="71-ecog1"),
        pytest.param(75, 1, TRIPLET, {A.TRIPLET_OUTSIDE_TRIBE_CRITERIA}, id="75-ecog1"),
        pytest.param(76, 1, TRIPLET, {A.TRIPLET_NOT_APPROPRIATE}, id="76-ecog1-stop-only"),
        pytest.param(72, 2, TRIPLET, {A.TRIPLET_NOT_APPROPRIATE}, id="72-ecog2-stop-only"),
        pytest.param(None, 1, TRIPLET, set(), id="G3-no-age-ecog1"),
        pytest.param(None, 2, TRIPLET, {A.TRIPLET_NOT_APPROPRIATE}, id="G3-no-age-ecog2"),
        pytest.param(80, None, TRIPLET, {A.TRIPLET_NOT_APPROPRIATE}, id="G3-age80-no-ecog"),
        pytest.param(73, None, TRIPLET, set(), id="G3-age73-no-ecog"),
        pytest.param(None, None, TRIPLET, set(), id="G3-nothing-known"),
        pytest.param(80, 2, ["oxaliplatin"], set(), id="X3-oxaliplatin-alone"),
        pytest.param(80, 2, ["irinotecan", "bevacizumab"], set(), id="X3-irinotecan-alone"),
    ],
)
def test_it_checks_a_proposed_triplet(
    age: int | None, ecog: int | None, agents: list[str], expected: set[AlertCode]
) -> None:
    inputs: dict[str, object] = {"proposed_agents": agents}
    if age is not None:
        inputs["age_years"] = age
    if ecog is not None:
        inputs["ecog"] = ecog
    triplet_codes = {A.TRIPLET_NOT_APPROPRIATE, A.TRIPLET_OUTSIDE_TRIBE_CRITERIA}
    assert fired(**inputs) & triplet_codes == expected


# ---------------------------------------------------------------------------------------------
# R3–R5 regimen family, B2, B3
# ---------------------------------------------------------------------------------------------

FIT = {"age_years": 60, "ecog": 0}
UNFIT_FOR_TRIPLET = {"age_years": 80, "ecog": 1}
REGIMEN_CODES = {
    A.PERFORMANCE_STATUS_TOO_POOR_FOR_CONVERSION,
    A.PEMBROLIZUMAB_ECOG2_OUTSIDE_TRIAL,
    A.BRAF_V600E_CONSIDER_ENCORAFENIB_CETUXIMAB,
}


@pytest.mark.parametrize(
    ("inputs", "family", "provisional", "codes"),
    [
        pytest.param(
            {"ecog": 3, "mmr_msi_status": "dmmr_msi_h"},
            "no_intensive_therapy_mdt_review",
            False,
            {A.PERFORMANCE_STATUS_TOO_POOR_FOR_CONVERSION},
            id="R3.1-ecog3-before-dmmr",
        ),
        pytest.param(
            {"ecog": 4, "mmr_msi_status": "pmmr_mss", "braf_v600e_status": "mutant"},
            "no_intensive_therapy_mdt_review",
            False,
            {A.PERFORMANCE_STATUS_TOO_POOR_FOR_CONVERSION},
            id="R3.1-B3-no-braf-hint-at-ecog4",
        ),
        pytest.param(
            {"ecog": 3, "mmr_msi_status": "pending"},
            "no_intensive_therapy_mdt_review",
            False,
            {A.PERFORMANCE_STATUS_TOO_POOR_FOR_CONVERSION},
            id="R3.1-B2-not-provisional-with-mmr-pending",
        ),
        pytest.param(
            {"ecog": 2, "mmr_msi_status": "dmmr_msi_h"},
            "pembrolizumab",
            False,
            {A.PEMBROLIZUMAB_ECOG2_OUTSIDE_TRIAL},
            id="R3.2-dmmr-ecog2",
        ),
        pytest.param(
            {
                **FIT,
                "mmr_msi_status": "dmmr_msi_h",
                "primary_site": "caecum",
                "kras_status": "mutant",
                "braf_v600e_status": "mutant",
            },
            "pembrolizumab",
            False,
            set(),
            id="R3.2-B3-dmmr-wins-over-ras-braf-side",
        ),
        pytest.param(
            {"mmr_msi_status": "dmmr_msi_h"},
            "pembrolizumab",
            False,
            set(),
            id="R3.2-G3-no-ecog-no-ecog2-warning",
        ),
        pytest.param(
            {**FIT, "mmr_msi_status": "pmmr_mss", "braf_v600e_status": "mutant"},
            "folfoxiri_bevacizumab",
            False,
            {A.BRAF_V600E_CONSIDER_ENCORAFENIB_CETUXIMAB},
            id="R3a-braf-fit",
        ),
        pytest.param(
            {**UNFIT_FOR_TRIPLET, "mmr_msi_status": "pmmr_mss", "braf_v600e_status": "mutant"},
            "doublet_bevacizumab",
            False,
            {A.BRAF_V600E_CONSIDER_ENCORAFENIB_CETUXIMAB},
            id="R3a-braf-unfit",
        ),
        pytest.param(
            {"mmr_msi_status": "pmmr_mss", "braf_v600e_status": "mutant"},
            "doublet_bevacizumab",
            False,
            {A.BRAF_V600E_CONSIDER_ENCORAFENIB_CETUXIMAB},
            id="R3a-G3-braf-age-unknown",
        ),
        pytest.param(
            {**FIT, "mmr_msi_status": "pending", "braf_v600e_status": "mutant"},
            "folfoxiri_bevacizumab",
            True,
            {A.BRAF_V600E_CONSIDER_ENCORAFENIB_CETUXIMAB},
            id="R3a-B2-provisional-mmr-pending",
        ),
        pytest.param(
            {
                **FIT,
                "mmr_msi_status": "pmmr_mss",
                "braf_v600e_status": "mutant",
                "proposed_agents": ["encorafenib", "cetuximab", "fluorouracil", "oxaliplatin"],
            },
            "folfoxiri_bevacizumab",
            False,
            {A.BRAF_V600E_CONSIDER_ENCORAFENIB_CETUXIMAB},
            id="R3a-B3-hint-even-when-already-proposed",
        ),
        pytest.param(
            {**FIT, "mmr_msi_status": "pmmr_mss", "kras_status": "mutant"},
            "folfoxiri_bevacizumab",
            False,
            set(),
            id="R3b-kras-fit",
        ),
        pytest.param(
            {**UNFIT_FOR_TRIPLET, "mmr_msi_status": "pmmr_mss", "nras_status": "mutant"},
            "doublet_bevacizumab",
            False,
            set(),
            id="R3b-nras-unfit",
        ),
        pytest.param(
            {
                **FIT,
                "mmr_msi_status": "pmmr_mss",
                "kras_status": "mutant",
                "nras_status": "pending",
                "braf_v600e_status": "pending",
            },
            "folfoxiri_bevacizumab",
            False,
            set(),
            id="R3b-B1-known-mutation-settles-ras",
        ),
        pytest.param(
            {**FIT, "mmr_msi_status": "not_tested", "nras_status": "mutant"},
            "folfoxiri_bevacizumab",
            True,
            set(),
            id="R3b-B2-provisional-mmr-untested",
        ),
        pytest.param(
            {**FIT, **ALL_WILD, "primary_site": "rectum"},
            "doublet_anti_egfr",
            False,
            set(),
            id="R3c-left",
        ),
        pytest.param(
            {**FIT, **ALL_WILD, "mmr_msi_status": "not_tested", "primary_site": "sigmoid_colon"},
            "doublet_anti_egfr",
            True,
            set(),
            id="R3c-left-B2-provisional",
        ),
        pytest.param(
            {**FIT, **ALL_WILD, "primary_site": "caecum"},
            "folfoxiri_bevacizumab",
            False,
            set(),
            id="R3c-right-fit",
        ),
        pytest.param(
            {"age_years": 60, "ecog": 2, **ALL_WILD, "primary_site": "transverse_colon"},
            "doublet_bevacizumab",
            False,
            set(),
            id="R3c-right-ecog2",
        ),
        pytest.param(
            {**FIT, **ALL_WILD, "primary_site": "unknown"},
            "folfoxiri_bevacizumab",
            False,
            set(),
            id="R3c-undetermined-fit",
        ),
        pytest.param(
            {**UNFIT_FOR_TRIPLET, **ALL_WILD, "primary_site": "unknown"},
            "doublet_bevacizumab",
            False,
            set(),
            id="R3c-undetermined-unfit",
        ),
        pytest.param(
            {**FIT, **ALL_WILD, "kras_status": "wild_type_exon2_only", "primary_site": "rectum"},
            "doublet_chemotherapy_pending_biomarkers",
            True,
            set(),
            id="R3d-kras-exon2-only",
        ),
        pytest.param(
            {**FIT, **ALL_WILD, "braf_v600e_status": "pending", "primary_site": "rectum"},
            "doublet_chemotherapy_pending_biomarkers",
            True,
            set(),
            id="R3d-braf-pending",
        ),
        pytest.param(
            {**FIT, **ALL_WILD, "braf_v600e_status": "not_tested", "primary_site": "rectum"},
            "doublet_chemotherapy_pending_biomarkers",
            True,
            set(),
            id="R3d-braf-untested-pmmr-B2",
        ),
        pytest.param(
            {**FIT, **ALL_WILD, "nras_status": "not_tested", "primary_site": "rectum"},
            "doublet_chemotherapy_pending_biomarkers",
            True,
            set(),
            id="R3d-nras-untested",
        ),
        pytest.param(
            {}, "doublet_chemotherapy_pending_biomarkers", True, set(), id="R3d-all-defaults"
        ),
        pytest.param(
            {**ALL_WILD, "primary_site": "rectum"},
            "doublet_anti_egfr",
            False,
            set(),
            id="R3c-G3-age-and-ecog-unknown-still-anti-egfr",
        ),
    ],
)
def test_it_recommends_the_regimen_family(
    inputs: dict[str, object], family: str, provisional: bool, codes: set[AlertCode]
) -> None:
    advice = run(**inputs)
    assert advice.recommended_regimen_family == family
    assert advice.regimen_provisional is provisional
    assert set(advice.codes) & REGIMEN_CODES == codes


# ---------------------------------------------------------------------------------------------
# B1 RAS reading, B4 biomarker warnings
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kras", "nras", "ras_reading"),
    [
        ("mutant", "not_tested", "mutant"),
        ("mutant", "wild_type", "mutant"),
        ("wild_type", "mutant", "mutant"),
        ("pending", "mutant", "mutant"),
        ("wild_type_exon2_only", "mutant", "mutant"),
        ("mutant", "mutant", "mutant"),
        ("wild_type", "wild_type", "wild_type"),
        ("wild_type_exon2_only", "wild_type", "unknown"),
        ("wild_type", "pending", "unknown"),
        ("wild_type", "not_tested", "unknown"),
        ("pending", "wild_type", "unknown"),
        ("not_tested", "not_tested", "unknown"),
    ],
)
def test_it_reads_ras_per_b1(kras: str, nras: str, ras_reading: str) -> None:
    codes = fired(kras_status=kras, nras_status=nras, proposed_agents=["cetuximab"])
    assert (A.ANTI_EGFR_RAS_MUTANT in codes) is (ras_reading == "mutant")
    assert (A.ANTI_EGFR_RAS_UNKNOWN in codes) is (ras_reading == "unknown")
    assert (A.RAS_STATUS_REQUIRED in codes) is (ras_reading == "unknown")
    assert (A.RAS_TESTING_INCOMPLETE_KRAS_EXON2_ONLY in codes) is (kras == "wild_type_exon2_only")


@pytest.mark.parametrize(
    "context",
    [
        pytest.param({"ecog": 4}, id="ecog4"),
        pytest.param({"mmr_msi_status": "dmmr_msi_h"}, id="dmmr"),
        pytest.param({"proposed_agents": []}, id="no-agents"),
        pytest.param({"proposed_agents": ["bevacizumab", "capecitabine"]}, id="bev"),
    ],
)
def test_b4_biomarker_warnings_fire_whatever_the_context(context: dict[str, object]) -> None:
    inputs = {
        "kras_status": "wild_type_exon2_only",
        "braf_v600e_status": "pending",
        **context,
    }
    codes = fired(**inputs)
    assert {A.RAS_STATUS_REQUIRED, A.BRAF_STATUS_REQUIRED} <= codes
    assert A.RAS_TESTING_INCOMPLETE_KRAS_EXON2_ONLY in codes
    mmr_open = context.get("mmr_msi_status") != "dmmr_msi_h"
    assert (A.MMR_STATUS_REQUIRED in codes) is mmr_open


@pytest.mark.parametrize(
    ("mmr", "expected"),
    [("pending", True), ("not_tested", True), ("pmmr_mss", False), ("dmmr_msi_h", False)],
)
def test_it_asks_for_mmr_until_it_is_known(mmr: str, expected: bool) -> None:
    assert (A.MMR_STATUS_REQUIRED in fired(mmr_msi_status=mmr)) is expected


@pytest.mark.parametrize(
    ("braf", "expected"),
    [("pending", True), ("not_tested", True), ("wild_type", False), ("mutant", False)],
)
def test_it_asks_for_braf_until_it_is_known(braf: str, expected: bool) -> None:
    assert (A.BRAF_STATUS_REQUIRED in fired(braf_v600e_status=braf)) is expected


# ---------------------------------------------------------------------------------------------
# R6 anti-EGFR checks, X1
# ---------------------------------------------------------------------------------------------

ANTI_EGFR_CODES = {
    A.ANTI_EGFR_RAS_MUTANT,
    A.ANTI_EGFR_RAS_UNKNOWN,
    A.ANTI_EGFR_RIGHT_SIDED,
    A.ANTI_EGFR_SIDEDNESS_UNDETERMINED,
    A.ANTI_EGFR_BRAF_V600E,
    A.DUAL_BIOLOGIC,
    A.ANTI_EGFR_BRAF_STATUS_UNKNOWN,
    A.ANTI_EGFR_WITH_CAPECITABINE,
    A.HER2_AMPLIFIED_ANTI_EGFR_LESS_EFFECTIVE,
}
RAS_WILD = {"kras_status": "wild_type", "nras_status": "wild_type"}
BRAF_V600E = {**RAS_WILD, "braf_v600e_status": "mutant"}


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        pytest.param(
            {
                **ALL_WILD,
                "primary_site": "rectum",
                "proposed_agents": ["fluorouracil", "oxaliplatin", "cetuximab"],
            },
            set(),
            id="licensed-use-clean",
        ),
        pytest.param(
            {**ALL_WILD, "primary_site": "ascending_colon", "proposed_agents": ["cetuximab"]},
            {A.ANTI_EGFR_RIGHT_SIDED},
            id="right",
        ),
        pytest.param(
            {**ALL_WILD, "proposed_agents": ["panitumumab"]},
            {A.ANTI_EGFR_SIDEDNESS_UNDETERMINED},
            id="undetermined",
        ),
        pytest.param(
            {
                **BRAF_V600E,
                "primary_site": "caecum",
                "proposed_agents": ["encorafenib", "cetuximab"],
            },
            set(),
            id="X1-breakwater-right-exempt",
        ),
        pytest.param(
            {**BRAF_V600E, "proposed_agents": ["encorafenib", "cetuximab"]},
            set(),
            id="X1-breakwater-undetermined-exempt",
        ),
        pytest.param(
            {
                **BRAF_V600E,
                "primary_site": "caecum",
                "proposed_agents": ["encorafenib", "panitumumab"],
            },
            {A.ANTI_EGFR_RIGHT_SIDED},
            id="X1-panitumumab-not-side-exempt-but-braf-exempt",
        ),
        pytest.param(
            {**BRAF_V600E, "proposed_agents": ["encorafenib", "panitumumab"]},
            {A.ANTI_EGFR_SIDEDNESS_UNDETERMINED},
            id="X1-panitumumab-undetermined",
        ),
        pytest.param(
            {
                **BRAF_V600E,
                "primary_site": "caecum",
                "proposed_agents": ["encorafenib", "cetuximab", "panitumumab"],
            },
            set(),
            id="X1-cetuximab-present-exempts",
        ),
        pytest.param(
            {**BRAF_V600E, "primary_site": "rectum", "proposed_agents": ["cetuximab"]},
            {A.ANTI_EGFR_BRAF_V600E},
            id="braf-without-encorafenib",
        ),
        pytest.param(
            {**BRAF_V600E, "primary_site": "caecum", "proposed_agents": ["cetuximab"]},
            {A.ANTI_EGFR_BRAF_V600E, A.ANTI_EGFR_RIGHT_SIDED},
            id="braf-right-no-encorafenib-no-exemption",
        ),
        pytest.param(
            {**ALL_WILD, "primary_site": "caecum", "proposed_agents": ["encorafenib", "cetuximab"]},
            {A.ANTI_EGFR_RIGHT_SIDED},
            id="X1-exemption-needs-braf-mutant",
        ),
        pytest.param(
            {
                **ALL_WILD,
                "primary_site": "rectum",
                "proposed_agents": ["bevacizumab", "panitumumab"],
            },
            {A.DUAL_BIOLOGIC},
            id="dual-biologic",
        ),
        pytest.param(
            {
                **ALL_WILD,
                "primary_site": "rectum",
                "proposed_agents": ["capecitabine", "oxaliplatin", "cetuximab"],
            },
            {A.ANTI_EGFR_WITH_CAPECITABINE},
            id="capecitabine",
        ),
        pytest.param(
            {
                **ALL_WILD,
                "primary_site": "rectum",
                "her2_status": "amplified",
                "proposed_agents": ["cetuximab"],
            },
            {A.HER2_AMPLIFIED_ANTI_EGFR_LESS_EFFECTIVE},
            id="her2",
        ),
        pytest.param(
            {
                **RAS_WILD,
                "primary_site": "rectum",
                "braf_v600e_status": "not_tested",
                "proposed_agents": ["cetuximab"],
            },
            {A.ANTI_EGFR_BRAF_STATUS_UNKNOWN},
            id="braf-untested",
        ),
        pytest.param(
            {
                "primary_site": "caecum",
                "kras_status": "mutant",
                "braf_v600e_status": "mutant",
                "her2_status": "amplified",
                "proposed_agents": ["capecitabine", "bevacizumab", "panitumumab"],
            },
            {
                A.ANTI_EGFR_RAS_MUTANT,
                A.ANTI_EGFR_RIGHT_SIDED,
                A.ANTI_EGFR_BRAF_V600E,
                A.DUAL_BIOLOGIC,
                A.ANTI_EGFR_WITH_CAPECITABINE,
                A.HER2_AMPLIFIED_ANTI_EGFR_LESS_EFFECTIVE,
            },
            id="all-that-apply-fire-together",
        ),
        pytest.param(
            {
                "primary_site": "caecum",
                "kras_status": "mutant",
                "braf_v600e_status": "mutant",
                "her2_status": "amplified",
                "proposed_agents": ["capecitabine", "bevacizumab"],
            },
            set(),
            id="nothing-without-anti-egfr",
        ),
    ],
)
def test_it_checks_a_proposed_anti_egfr(
    inputs: dict[str, object], expected: set[AlertCode]
) -> None:
    assert fired(**inputs) & ANTI_EGFR_CODES == expected


# ---------------------------------------------------------------------------------------------
# R6 immunotherapy, X2
# ---------------------------------------------------------------------------------------------

IMMUNO_CODES = {
    A.IMMUNOTHERAPY_NOT_INDICATED_PMMR,
    A.IMMUNOTHERAPY_MMR_UNCONFIRMED,
    A.IMMUNOTHERAPY_PREFERRED_DMMR,
}


@pytest.mark.parametrize(
    ("mmr", "agents", "expected"),
    [
        ("pmmr_mss", ["pembrolizumab"], {A.IMMUNOTHERAPY_NOT_INDICATED_PMMR}),
        ("pmmr_mss", ["nivolumab", "ipilimumab"], {A.IMMUNOTHERAPY_NOT_INDICATED_PMMR}),
        ("pending", ["nivolumab"], {A.IMMUNOTHERAPY_MMR_UNCONFIRMED}),
        ("not_tested", ["ipilimumab"], {A.IMMUNOTHERAPY_MMR_UNCONFIRMED}),
        ("dmmr_msi_h", ["pembrolizumab"], set()),
        ("dmmr_msi_h", ["nivolumab", "ipilimumab"], set()),  # D3: accepted alternative
        ("dmmr_msi_h", ["fluorouracil", "oxaliplatin"], {A.IMMUNOTHERAPY_PREFERRED_DMMR}),
        ("dmmr_msi_h", ["bevacizumab"], {A.IMMUNOTHERAPY_PREFERRED_DMMR}),
        ("dmmr_msi_h", [], set()),  # X2: nothing proposed
        ("pmmr_mss", ["fluorouracil", "oxaliplatin"], set()),
        ("pending", ["fluorouracil"], set()),
    ],
    ids=lambda v: "-".join(v) if isinstance(v, list) else repr(v),
)
def test_it_checks_checkpoint_inhibitors(
    mmr: str, agents: list[str], expected: set[AlertCode]
) -> None:
    assert fired(mmr_msi_status=mmr, proposed_agents=agents) & IMMUNO_CODES == expected


# ---------------------------------------------------------------------------------------------
# R6 bevacizumab with stent, bleeding or perforation
# ---------------------------------------------------------------------------------------------

BEV_AGENT_CODES = {A.BEV_WITH_COLORECTAL_STENT, A.BEV_CAUTION_BLEEDING_OR_PERFORATION}


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        pytest.param(
            {"proposed_agents": ["bevacizumab"], "colorectal_stent_proposed": True},
            {A.BEV_WITH_COLORECTAL_STENT},
            id="stent",
        ),
        pytest.param(
            {"proposed_agents": ["bevacizumab"], "primary_symptom": "perforation"},
            {A.BEV_CAUTION_BLEEDING_OR_PERFORATION},
            id="perforation",
        ),
        pytest.param(
            {
                "proposed_agents": ["bevacizumab"],
                "primary_symptom": "bleeding",
                "colorectal_stent_proposed": True,
            },
            BEV_AGENT_CODES,
            id="both",
        ),
        pytest.param(
            {"proposed_agents": ["bevacizumab"], "primary_symptom": "fistula"},
            set(),
            id="fistula",
        ),
        pytest.param(
            {"primary_symptom": "bleeding", "colorectal_stent_proposed": True},
            set(),
            id="no-bevacizumab",
        ),
    ],
)
def test_it_cautions_about_bevacizumab_with_the_primary(
    inputs: dict[str, object], expected: set[AlertCode]
) -> None:
    assert fired(**inputs) & BEV_AGENT_CODES == expected


# ---------------------------------------------------------------------------------------------
# R7 resectability, L2, L3, L4, G2
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inputs", "status", "strategy", "flr_warning"),
    [
        pytest.param({}, "not_resectable", "not_applicable", False, id="G2-r0-missing"),
        pytest.param(
            {**CONVERTED, "r0_achievable": None},
            "not_resectable",
            "not_applicable",
            False,
            id="G2-r0-null",
        ),
        pytest.param(
            {**CONVERTED, "r0_achievable": False},
            "not_resectable",
            "not_applicable",
            False,
            id="r0-false",
        ),
        pytest.param(
            {**CONVERTED, "hpb_mdt_reviewed": False},
            "resectability_unconfirmed",
            "not_applicable",
            False,
            id="no-hpb-review",
        ),
        pytest.param(
            {**CONVERTED, "hpb_mdt_reviewed": False, "flr_percent_slv": 20},
            "resectability_unconfirmed",
            "not_applicable",
            False,
            id="L3-L4-low-flr-but-unconfirmed",
        ),
        pytest.param(
            {**CONVERTED, "extrahepatic_disease": "unresectable"},
            "not_resectable",
            "not_applicable",
            False,
            id="extrahepatic-unresectable",
        ),
        pytest.param(
            {**CONVERTED, "extrahepatic_disease": "resectable"},
            "converted_resectable",
            "one_stage_hepatectomy",
            False,
            id="extrahepatic-resectable",
        ),
        pytest.param(
            {**CONVERTED, "flr_segments_remaining": 1},
            "not_resectable",
            "not_applicable",
            False,
            id="one-segment",
        ),
        pytest.param(
            {**CONVERTED, "flr_segments_remaining": 1, "flr_percent_slv": 20},
            "not_resectable",
            "not_applicable",
            False,
            id="L3-low-flr-and-one-segment-no-two-stage",
        ),
        pytest.param(
            {**CONVERTED, "flr_segments_remaining": 2, "flr_percent_slv": 30},
            "converted_resectable",
            "one_stage_hepatectomy",
            False,
            id="two-segments-flr-exactly-30",
        ),
        pytest.param(
            {**CONVERTED, "flr_percent_slv": 29.9},
            "converted_resectable",
            "two_stage_hepatectomy",
            True,
            id="flr-29.9",
        ),
        pytest.param(
            {**CONVERTED, "flr_percent_slv": 0},
            "converted_resectable",
            "two_stage_hepatectomy",
            True,
            id="flr-0",
        ),
        pytest.param(
            {"r0_achievable": True, "hpb_mdt_reviewed": True, "flr_percent_slv": 25},
            "converted_resectable",
            "two_stage_hepatectomy",
            True,  # H1: the warning fires in the two-stage branch, segments given or not
            id="H1-segments-missing-still-warns",
        ),
        pytest.param(
            {"r0_achievable": True, "hpb_mdt_reviewed": True, "flr_segments_remaining": 3},
            "converted_resectable",
            None,
            False,
            id="L2-flr-not-measured",
        ),
        pytest.param(
            {**CONVERTED, "pet_complete_metabolic_response": True},
            "converted_resectable",
            "one_stage_hepatectomy",
            False,
            id="PET-CMR-changes-nothing",
        ),
    ],
)
def test_it_assesses_resectability(
    inputs: dict[str, object], status: str, strategy: str | None, flr_warning: bool
) -> None:
    advice = run(**inputs)
    assert advice.conversion_status == status
    assert advice.hepatectomy_strategy == strategy
    assert (A.FLR_BELOW_THRESHOLD_TWO_STAGE_OR_PVE in advice.warnings) is flr_warning


LIVER_STOPS = {
    A.DEBULKING_NOT_PERMITTED,
    A.FLR_INADEQUATE,
    A.EXTRAHEPATIC_DISEASE_UNRESECTABLE,
    A.HPB_MDT_REVIEW_REQUIRED,
    A.LIVER_BIOPSY_WITHOUT_HPB_DISCUSSION,
}
ONE_STAGE = {"proposed_liver_surgery": "one_stage_hepatectomy"}
TWO_STAGE = {"proposed_liver_surgery": "two_stage_hepatectomy"}


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        pytest.param({**CONVERTED, **ONE_STAGE}, set(), id="converted-one-stage-clean"),
        pytest.param(
            {**CONVERTED, **ONE_STAGE, "r0_achievable": False},
            {A.DEBULKING_NOT_PERMITTED},
            id="debulking",
        ),
        pytest.param(
            {**CONVERTED, **ONE_STAGE, "r0_achievable": None}, set(), id="G2-null-not-debulking"
        ),
        pytest.param(
            {**ONE_STAGE, "r0_achievable": False},
            {A.DEBULKING_NOT_PERMITTED, A.HPB_MDT_REVIEW_REQUIRED},
            id="G2-missing-hpb-counts-false",
        ),
        pytest.param(
            {**CONVERTED, **TWO_STAGE, "extrahepatic_disease": "unresectable"},
            {A.EXTRAHEPATIC_DISEASE_UNRESECTABLE},
            id="extrahepatic",
        ),
        pytest.param(
            {**CONVERTED, **ONE_STAGE, "flr_percent_slv": 29.9},
            {A.FLR_INADEQUATE},
            id="one-stage-flr-29.9",
        ),
        pytest.param(
            {**CONVERTED, **ONE_STAGE, "flr_percent_slv": 30}, set(), id="one-stage-flr-30"
        ),
        pytest.param(
            {**CONVERTED, **TWO_STAGE, "flr_percent_slv": 20},
            set(),
            id="two-stage-low-flr-is-the-remedy",
        ),
        pytest.param(
            {**CONVERTED, **TWO_STAGE, "flr_segments_remaining": 1},
            {A.FLR_INADEQUATE},
            id="two-stage-one-segment",
        ),
        pytest.param(
            {**CONVERTED, **ONE_STAGE, "flr_segments_remaining": 0},
            {A.FLR_INADEQUATE},
            id="one-stage-zero-segments",
        ),
        pytest.param(
            {**CONVERTED, **ONE_STAGE, "flr_segments_remaining": 2}, set(), id="two-segments"
        ),
        pytest.param(
            {"r0_achievable": True, "hpb_mdt_reviewed": True, **ONE_STAGE},
            set(),
            id="G3-nothing-measured",
        ),
        pytest.param(
            {"r0_achievable": False, "flr_segments_remaining": 1, "flr_percent_slv": 10},
            set(),
            id="L1-no-surgery-no-stops",
        ),
        pytest.param(
            {"liver_biopsy_proposed": True}, {A.LIVER_BIOPSY_WITHOUT_HPB_DISCUSSION}, id="biopsy"
        ),
        pytest.param(
            {"liver_biopsy_proposed": True, "hpb_mdt_reviewed": True}, set(), id="biopsy-after-hpb"
        ),
        pytest.param({"liver_biopsy_proposed": False}, set(), id="no-biopsy"),
    ],
)
def test_it_guards_liver_procedures(inputs: dict[str, object], expected: set[AlertCode]) -> None:
    assert fired(**inputs) & LIVER_STOPS == expected


# ---------------------------------------------------------------------------------------------
# R8 primary and pelvic treatment, P1
# ---------------------------------------------------------------------------------------------

R8_CODES = {A.LONG_COURSE_CRT_UPFRONT, A.PRIMARY_LOCOREGIONAL_TREATMENT_DEFERRED}


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        pytest.param(
            {"pelvic_rt_proposed": "long_course_crt"},
            {A.LONG_COURSE_CRT_UPFRONT, A.PRIMARY_LOCOREGIONAL_TREATMENT_DEFERRED},
            id="lcrt-upfront-asymptomatic",
        ),
        pytest.param(
            {"pelvic_rt_proposed": "long_course_crt", "primary_symptom": "bleeding"},
            {A.LONG_COURSE_CRT_UPFRONT},
            id="lcrt-upfront-symptomatic",
        ),
        pytest.param(
            {**CONVERTED, "pelvic_rt_proposed": "long_course_crt"},
            {A.LONG_COURSE_CRT_UPFRONT},
            id="lcrt-converted-but-liver-in-situ",
        ),
        pytest.param(
            {"pelvic_rt_proposed": "long_course_crt", "liver_metastases_cleared": True},
            set(),
            id="lcrt-after-liver-first",
        ),
        pytest.param(
            {"pelvic_rt_proposed": "short_course_5x5"},
            {A.PRIMARY_LOCOREGIONAL_TREATMENT_DEFERRED},
            id="P1-scrt-counts-as-pelvic-rt",
        ),
        pytest.param(
            {**CONVERTED, "pelvic_rt_proposed": "short_course_5x5"}, set(), id="scrt-once-converted"
        ),
        pytest.param(
            {**CONVERTED, "hpb_mdt_reviewed": False, "primary_resection_proposed": True},
            {A.PRIMARY_LOCOREGIONAL_TREATMENT_DEFERRED},
            id="unconfirmed-is-not-converted",
        ),
        pytest.param(
            {"primary_resection_proposed": True, "primary_symptom": "obstruction"},
            set(),
            id="symptomatic-resection",
        ),
        pytest.param(
            {"primary_resection_proposed": True, "liver_metastases_cleared": True},
            set(),
            id="liver-cleared",
        ),
        pytest.param({"pelvic_rt_proposed": "none"}, set(), id="nothing-proposed"),
    ],
)
def test_it_defers_treatment_of_the_primary(
    inputs: dict[str, object], expected: set[AlertCode]
) -> None:
    assert fired(**inputs) & R8_CODES == expected


# ---------------------------------------------------------------------------------------------
# R9 reassessment dates
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inputs", "next_date", "next_8w"),
    [
        pytest.param({}, None, None, id="no-anchor"),
        pytest.param(
            {"chemo_start_date": "2025-01-15"}, date(2025, 3, 15), date(2025, 3, 12), id="start"
        ),
        pytest.param(
            {"chemo_start_date": "2025-01-15", "last_reassessment_date": "2025-03-20"},
            date(2025, 5, 20),
            date(2025, 5, 15),
            id="last-reassessment-wins",
        ),
        pytest.param(
            {"last_reassessment_date": "2024-12-31"},
            date(2025, 2, 28),
            date(2025, 2, 25),
            id="31-dec-2024-clamps-to-28-feb",
        ),
        pytest.param(
            {"chemo_start_date": "2023-12-31"},
            date(2024, 2, 29),
            date(2024, 2, 25),
            id="leap-2024",
        ),
        pytest.param(
            {"chemo_start_date": "2099-12-31"},
            date(2100, 2, 28),
            date(2100, 2, 25),
            id="2100-not-leap",
        ),
        pytest.param(
            {"chemo_start_date": "2024-02-29"},
            date(2024, 4, 29),
            date(2024, 4, 25),
            id="29-feb",
        ),
        pytest.param(
            {"chemo_start_date": "2025-11-30"},
            date(2026, 1, 30),
            date(2026, 1, 25),
            id="year-carry",
        ),
    ],
)
def test_it_dates_the_next_reassessment(
    inputs: dict[str, object], next_date: date | None, next_8w: date | None
) -> None:
    advice = run(**inputs)
    assert advice.next_reassessment_date == next_date
    assert advice.next_reassessment_date_8_weeks == next_8w


# ---------------------------------------------------------------------------------------------
# R10 bevacizumab interval, D1–D3
# ---------------------------------------------------------------------------------------------

BEV_TIMING_CODES = {A.BEV_SURGERY_INTERVAL_LT_6_WEEKS, A.BEV_RECENT_EMERGENCY_SURGERY}


@pytest.mark.parametrize(
    ("surgery", "urgency", "expected"),
    [
        pytest.param("2025-02-11", "elective", {A.BEV_SURGERY_INTERVAL_LT_6_WEEKS}, id="day41"),
        pytest.param("2025-02-12", "elective", set(), id="D1-day42-allowed"),
        pytest.param("2025-03-01", "elective", set(), id="later"),
        pytest.param("2025-01-01", "elective", {A.BEV_SURGERY_INTERVAL_LT_6_WEEKS}, id="day0"),
        pytest.param(
            "2024-12-20", "elective", {A.BEV_SURGERY_INTERVAL_LT_6_WEEKS}, id="before-dose"
        ),
        pytest.param(
            "2025-02-11", "emergency", {A.BEV_RECENT_EMERGENCY_SURGERY}, id="emergency-day41"
        ),
        pytest.param("2025-02-12", "emergency", set(), id="D1-emergency-day42"),
        pytest.param(
            "2025-02-11", None, {A.BEV_SURGERY_INTERVAL_LT_6_WEEKS}, id="D2-urgency-default"
        ),
        pytest.param(None, "emergency", set(), id="no-surgery-date"),
    ],
)
def test_it_times_surgery_after_bevacizumab(
    surgery: str | None, urgency: str | None, expected: set[AlertCode]
) -> None:
    inputs: dict[str, object] = {**BEV_DOSE}  # D2: bevacizumab is not in proposed_agents
    if surgery is not None:
        inputs["planned_surgery_date"] = surgery
    if urgency is not None:
        inputs["planned_surgery_urgency"] = urgency
    advice = run(**inputs)
    assert set(advice.codes) & BEV_TIMING_CODES == expected
    assert advice.earliest_elective_surgery_date == date(2025, 2, 12)  # D3: any urgency


def test_it_gives_no_earliest_surgery_date_without_a_bevacizumab_dose() -> None:
    advice = run(planned_surgery_date="2025-02-11")
    assert advice.earliest_elective_surgery_date is None
    assert not set(advice.codes) & BEV_TIMING_CODES


# ---------------------------------------------------------------------------------------------
# R11 SCRT window, D4
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scrt", "surgery", "includes_primary", "latest", "warns"),
    [
        pytest.param("2025-01-15", "2025-07-15", True, date(2025, 7, 15), False, id="D4-6m-ok"),
        pytest.param("2025-01-15", "2025-07-16", True, date(2025, 7, 15), True, id="6m+1day"),
        pytest.param(
            "2025-01-15", "2025-07-16", False, date(2025, 7, 15), False, id="D4-liver-only"
        ),
        pytest.param("2025-01-15", None, True, date(2025, 7, 15), False, id="no-surgery-date"),
        pytest.param("2024-08-31", "2025-02-28", True, date(2025, 2, 28), False, id="clamp-ok"),
        pytest.param("2024-08-31", "2025-03-01", True, date(2025, 2, 28), True, id="clamp+1"),
        pytest.param("2023-08-31", "2024-02-29", True, date(2024, 2, 29), False, id="leap-ok"),
        pytest.param("2023-08-31", "2024-03-01", True, date(2024, 2, 29), True, id="leap+1"),
    ],
)
def test_it_keeps_primary_surgery_within_six_months_of_scrt(
    scrt: str, surgery: str | None, includes_primary: bool, latest: date, warns: bool
) -> None:
    inputs: dict[str, object] = {
        "scrt_completion_date": scrt,
        "planned_surgery_includes_primary": includes_primary,
    }
    if surgery is not None:
        inputs["planned_surgery_date"] = surgery
    advice = run(**inputs)
    assert advice.latest_primary_surgery_date_after_scrt == latest
    assert (A.SCRT_TO_SURGERY_INTERVAL_GT_6_MONTHS in advice.warnings) is warns


def test_it_gives_no_scrt_window_without_scrt() -> None:
    advice = run(planned_surgery_date="2030-01-01", planned_surgery_includes_primary=True)
    assert advice.latest_primary_surgery_date_after_scrt is None
    assert A.SCRT_TO_SURGERY_INTERVAL_GT_6_MONTHS not in advice.warnings


# ---------------------------------------------------------------------------------------------
# R12 symptomatic primary options, P2
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("symptom", "options"),
    [
        ("none", []),
        ("obstruction", ["defunctioning_stoma", "colorectal_stent", "primary_resection"]),
        ("impending_obstruction", ["defunctioning_stoma", "colorectal_stent", "short_course_rt"]),
        (
            "bleeding",
            [
                "short_course_rt",
                "endoscopic_haemostasis",
                "transfusion_support",
                "primary_resection",
            ],
        ),
        ("perforation", ["emergency_surgery"]),
        ("pain_tenesmus", ["short_course_rt"]),
        ("fistula", ["defunctioning_stoma", "primary_resection"]),
    ],
)
def test_it_lists_options_for_a_symptomatic_primary(symptom: str, options: list[str]) -> None:
    assert list(run(primary_symptom=symptom).symptomatic_primary_options) == options


# ---------------------------------------------------------------------------------------------
# R13 sequencing, P3
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inputs", "options", "recommended", "warns"),
    [
        pytest.param(
            CONVERTED, ["liver_first", "primary_first_staged"], "liver_first", False, id="asym"
        ),
        pytest.param(
            {**CONVERTED, "primary_symptom": "bleeding"},
            ["primary_first_staged"],
            "primary_first_staged",
            False,
            id="symptomatic",
        ),
        pytest.param(
            {**CONVERTED, "combined_resection_technically_feasible": True},
            ["liver_first", "primary_first_staged", "synchronous_resection"],
            "liver_first",
            False,
            id="feasible-extent-unknown",
        ),
        pytest.param(
            {
                **CONVERTED,
                "combined_resection_technically_feasible": True,
                "planned_hepatectomy_extent": "minor",
            },
            ["liver_first", "primary_first_staged", "synchronous_resection"],
            "liver_first",
            False,
            id="feasible-minor",
        ),
        pytest.param(
            {
                **CONVERTED,
                "primary_symptom": "obstruction",
                "combined_resection_technically_feasible": True,
                "planned_hepatectomy_extent": "major",
            },
            ["primary_first_staged", "synchronous_resection"],
            "primary_first_staged",
            True,
            id="P3-feasible-major",
        ),
        pytest.param(
            {**CONVERTED, "planned_hepatectomy_extent": "major"},
            ["liver_first", "primary_first_staged"],
            "liver_first",
            False,
            id="major-not-feasible",
        ),
        pytest.param(
            {
                **CONVERTED,
                "hpb_mdt_reviewed": False,
                "combined_resection_technically_feasible": True,
                "planned_hepatectomy_extent": "major",
            },
            [],
            "not_applicable",
            False,
            id="P3-not-converted",
        ),
        pytest.param({}, [], "not_applicable", False, id="defaults"),
    ],
)
def test_it_sequences_liver_and_primary_surgery(
    inputs: dict[str, object], options: list[str], recommended: str, warns: bool
) -> None:
    advice = run(**inputs)
    assert list(advice.sequencing_options) == options
    assert advice.recommended_sequence == recommended
    simultaneous = A.SIMULTANEOUS_MAJOR_HEPATECTOMY_AND_RECTAL_RESECTION
    assert (simultaneous in advice.warnings) is warns


# ---------------------------------------------------------------------------------------------
# R14 post-operative plan, O1–O3
# ---------------------------------------------------------------------------------------------

POSTOP_CODES = {
    A.R1_MARGIN_POSTOP_CHEMO_STRONGLY_RECOMMENDED,
    A.R2_RESIDUAL_DISEASE_NOT_CURATIVE,
    A.PREOP_CHEMO_EXCEEDS_6_MONTHS,
}


@pytest.mark.parametrize(
    ("margin", "given", "recommended", "months", "codes"),
    [
        pytest.param(None, 4, None, None, set(), id="O1-no-margin"),
        pytest.param(None, 7, None, None, {A.PREOP_CHEMO_EXCEEDS_6_MONTHS}, id="O3-no-margin"),
        pytest.param("r0", 4, True, 2, set(), id="r0-4-given"),
        pytest.param("r0", 4.3, True, 1.7, set(), id="r0-decimal"),
        pytest.param("r0", 0, True, 6, set(), id="r0-none-given"),
        pytest.param("r0", 6, False, 0, set(), id="r0-all-given"),
        pytest.param("r0", 7, False, 0, {A.PREOP_CHEMO_EXCEEDS_6_MONTHS}, id="r0-over"),
        pytest.param("r0", 6.01, False, 0, {A.PREOP_CHEMO_EXCEEDS_6_MONTHS}, id="r0-just-over"),
        pytest.param("r0", None, None, None, set(), id="O2-r0-unknown-given"),
        pytest.param(
            "r1", 3, True, 3, {A.R1_MARGIN_POSTOP_CHEMO_STRONGLY_RECOMMENDED}, id="r1-remaining"
        ),
        pytest.param(
            "r1", 6, True, None, {A.R1_MARGIN_POSTOP_CHEMO_STRONGLY_RECOMMENDED}, id="r1-none-left"
        ),
        pytest.param(
            "r1",
            8,
            True,
            None,
            {A.R1_MARGIN_POSTOP_CHEMO_STRONGLY_RECOMMENDED, A.PREOP_CHEMO_EXCEEDS_6_MONTHS},
            id="r1-over",
        ),
        pytest.param(
            "r1", None, True, None, {A.R1_MARGIN_POSTOP_CHEMO_STRONGLY_RECOMMENDED}, id="O2-r1"
        ),
        pytest.param("r2", 2, True, None, {A.R2_RESIDUAL_DISEASE_NOT_CURATIVE}, id="r2"),
        pytest.param("r2", 6, True, None, {A.R2_RESIDUAL_DISEASE_NOT_CURATIVE}, id="r2-all-given"),
        pytest.param("r2", None, True, None, {A.R2_RESIDUAL_DISEASE_NOT_CURATIVE}, id="O2-r2"),
    ],
)
def test_it_plans_postoperative_chemotherapy(
    margin: str | None,
    given: float | None,
    recommended: bool | None,
    months: float | None,
    codes: set[AlertCode],
) -> None:
    inputs: dict[str, object] = {"preop_backbone": "capox"}
    if margin is not None:
        inputs["surgical_margin"] = margin
    if given is not None:
        inputs["preop_chemo_months_given"] = given
    advice = run(**inputs)
    assert advice.postop_chemo_recommended is recommended
    assert advice.postop_chemo_months == months
    assert set(advice.codes) & POSTOP_CODES == codes
    assert advice.postop_backbone == ("capox" if margin is not None else None)  # O1


def test_it_keeps_the_backbone_null_when_none_was_recorded() -> None:
    advice = run(surgical_margin="r0", preop_chemo_months_given=3)
    assert advice.postop_backbone is None
    assert advice.postop_chemo_months == 3
