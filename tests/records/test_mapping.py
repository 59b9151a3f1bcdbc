"""A stored case becomes engine inputs without guesswork, in the spec's own vocabulary."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cases import models, pathway
from cases.records.mapping import advice_for_case, case_inputs, facts_for_case
from cases.records.selectors import case_clinical_record
from tests.conftest import make_case, make_patient

D = dt.date
pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("model_choices", "engine_enum"),
    [
        (models.PrimarySite, pathway.PrimarySite),
        (models.Side, pathway.ReportedSidedness),
        (models.PrimarySymptom, pathway.PrimarySymptom),
        (models.Agent, pathway.Agent),
        (models.Backbone, pathway.Backbone),
        (models.ExtrahepaticDisease, pathway.ExtrahepaticDisease),
        (models.HepatectomyExtent, pathway.HepatectomyExtent),
        (models.Urgency, pathway.SurgeryUrgency),
        (models.Margin, pathway.SurgicalMargin),
    ],
)
def test_model_choices_are_the_spec_vocabulary(model_choices, engine_enum):
    assert set(model_choices.values) == {member.value for member in engine_enum}


@pytest.mark.parametrize(
    ("marker", "engine_enum"),
    [
        ("mmr_msi", pathway.MmrStatus),
        ("kras", pathway.KrasStatus),
        ("nras", pathway.NrasStatus),
        ("braf_v600e", pathway.BrafStatus),
        ("her2", pathway.Her2Status),
    ],
)
def test_each_marker_takes_exactly_the_spec_values(marker, engine_enum):
    assert set(models.MARKER_STATUSES[marker]) == {member.value for member in engine_enum}


def test_pelvic_radiotherapy_kinds_are_the_spec_values_less_none():
    assert set(models.PelvicRadiotherapy.values) == {v.value for v in pathway.PelvicRt} - {"none"}


@pytest.fixture
def converted_case():
    case = make_case(
        patient=make_patient(date_of_birth=D(1961, 12, 1)),
        primary_site="rectum", primary_symptom="none", ecog=0, sidedness_reported="left",
    )  # fmt: skip
    for marker, status in [
        ("mmr_msi", "pmmr_mss"), ("kras", "mutant"), ("nras", "wild_type"),
        ("braf_v600e", "wild_type"), ("her2", "not_amplified"),
    ]:  # fmt: skip
        models.MolecularResult.objects.create(
            case=case, marker=marker, status=status, requested_on=D(2026, 1, 12),
            reported_on=D(2026, 1, 26),
        )  # fmt: skip
    course = models.TreatmentCourse.objects.create(
        case=case, backbone="folfoxiri", started_on=D(2026, 2, 2),
        agents=["fluorouracil", "oxaliplatin", "irinotecan", "bevacizumab"],
    )  # fmt: skip
    for day in (D(2026, 2, 2), D(2026, 2, 16), D(2026, 3, 2)):
        models.AgentAdministration.objects.create(course=course, agent="bevacizumab", given_on=day)
    models.Reassessment.objects.create(
        case=case, cycle=1, due_on=D(2026, 4, 2), imaging_performed_on=D(2026, 3, 30),
        reassessed_on=D(2026, 4, 1), hpb_mdt_reviewed=True, r0_achievable=True,
        flr_percent_slv=34, flr_segments_remaining=4,
    )  # fmt: skip
    models.Reassessment.objects.create(case=case, cycle=2, due_on=D(2026, 6, 2))
    models.Radiotherapy.objects.create(
        case=case, kind="short_course_5x5", started_on=D(2026, 3, 9), completed_on=D(2026, 3, 13)
    )
    models.Surgery.objects.create(
        case=case, kind="synchronous_resection", planned_on=D(2026, 4, 10)
    )
    return case


def test_it_maps_a_stored_case_onto_the_spec_inputs(converted_case):
    record = case_clinical_record(case_id=converted_case.pk)
    assert case_inputs(record, today=D(2026, 4, 5)) == {
        "age_years": 64,
        "ecog": 0,
        "primary_site": "rectum",
        "sidedness_reported": "left",
        "primary_symptom": "none",
        "mmr_msi_status": "pmmr_mss",
        "kras_status": "mutant",
        "nras_status": "wild_type",
        "braf_v600e_status": "wild_type",
        "her2_status": "not_amplified",
        "hpb_mdt_reviewed": True,
        "r0_achievable": True,
        "flr_percent_slv": 34.0,
        "flr_segments_remaining": 4,
        "extrahepatic_disease": "none",
        "pet_complete_metabolic_response": False,
        "combined_resection_technically_feasible": False,
        "chemo_start_date": "2026-02-02",
        "last_reassessment_date": "2026-04-01",
        "last_bevacizumab_dose_date": "2026-03-02",
        "planned_surgery_date": "2026-04-10",
        "planned_surgery_urgency": "elective",
        "planned_surgery_includes_primary": True,
        "scrt_completion_date": "2026-03-13",
        "liver_metastases_cleared": False,
    }


def test_mapping_a_loaded_record_runs_no_queries(converted_case):
    record = case_clinical_record(case_id=converted_case.pk)
    with CaptureQueriesContext(connection) as queries:
        advice_for_case(record, today=D(2026, 4, 5))
    assert len(queries) == 0


def test_the_engine_sees_the_record_and_the_proposal_together(converted_case):
    record = case_clinical_record(case_id=converted_case.pk)
    _inputs, advice = advice_for_case(
        record, today=D(2026, 4, 5), proposal={"proposed_agents": ["fluorouracil", "cetuximab"]}
    )
    assert "ANTI_EGFR_RAS_MUTANT" in advice.hard_stops
    # Surgery on 10 April is 39 days after the 2 March bevacizumab dose.
    assert "BEV_SURGERY_INTERVAL_LT_6_WEEKS" in advice.hard_stops
    assert advice.earliest_elective_surgery_date == D(2026, 4, 13)
    assert advice.conversion_status == "converted_resectable"
    assert advice.next_reassessment_date == D(2026, 6, 1)


def test_it_counts_chemotherapy_before_the_operation_for_the_postop_plan(converted_case):
    surgery = converted_case.surgeries.get()
    models.Surgery.objects.filter(pk=surgery.pk).update(performed_on=D(2026, 6, 2), margin="r1")
    models.TreatmentCourse.objects.filter(case=converted_case).update(stopped_on=D(2026, 4, 20))
    record = case_clinical_record(case_id=converted_case.pk)
    inputs, _facts = facts_for_case(record, today=D(2026, 6, 10))
    assert inputs["surgical_margin"] == "r1"
    assert inputs["preop_chemo_months_given"] == 2.5  # 2 Feb → 20 Apr: 77 days / 30.44
    assert inputs["preop_backbone"] == "folfoxiri"
    assert inputs["liver_metastases_cleared"] is True
    assert "planned_surgery_date" not in inputs


def test_a_proposal_may_only_set_proposal_keys(converted_case):
    record = case_clinical_record(case_id=converted_case.pk)
    with pytest.raises(ValueError, match="not a proposal key: kras_status"):
        facts_for_case(record, today=D(2026, 4, 5), proposal={"kras_status": "wild_type"})
    with pytest.raises(pathway.InputError, match="proposed_agents"):
        facts_for_case(record, today=D(2026, 4, 5), proposal={"proposed_agents": ["aspirin"]})


def test_a_new_scan_without_its_verdict_is_not_reviewed_yet(converted_case):
    """The previous scan's HPB verdict never stands in for a newer scan (hazard H05)."""
    models.Reassessment.objects.filter(case=converted_case, cycle=2).update(
        imaging_performed_on=D(2026, 5, 28)
    )
    inputs = case_inputs(case_clinical_record(case_id=converted_case.pk), today=D(2026, 6, 1))
    assert inputs["hpb_mdt_reviewed"] is False
    assert "r0_achievable" not in inputs
    assert "flr_percent_slv" not in inputs


def _perform(case, kind, on, margin):
    return models.Surgery.objects.create(
        case=case, kind=kind, planned_on=on, performed_on=on, margin=margin
    )


def test_an_r2_resection_does_not_clear_the_liver(converted_case):
    models.Surgery.objects.filter(case=converted_case).delete()
    _perform(converted_case, "one_stage_hepatectomy", D(2026, 5, 20), "r2")
    inputs = case_inputs(case_clinical_record(case_id=converted_case.pk), today=D(2026, 6, 1))
    assert inputs["liver_metastases_cleared"] is False
    assert inputs["surgical_margin"] == "r2"


def test_a_later_operation_without_a_margin_does_not_hide_the_postop_plan(converted_case):
    models.Surgery.objects.filter(case=converted_case).delete()
    _perform(converted_case, "one_stage_hepatectomy", D(2026, 5, 20), "r1")
    _perform(converted_case, "defunctioning_stoma", D(2026, 5, 27), "")
    record = case_clinical_record(case_id=converted_case.pk)
    _inputs, advice = advice_for_case(record, today=D(2026, 6, 1))
    assert advice.postop_chemo_recommended is True
    assert "R1_MARGIN_POSTOP_CHEMO_STRONGLY_RECOMMENDED" in advice.warnings
