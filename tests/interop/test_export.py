"""Export: every case is a FHIR R4 Bundle that parses with fhir.resources and satisfies our
checks of the mCODE profiles it claims, built from one query whatever the case's size."""

from __future__ import annotations

import copy
import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import call_command

from cases import models
from cases.interop import codes
from cases.interop.export import case_bundle, case_bundles
from cases.interop.validation import bundle_problems, profile_problems, structure_problems
from tests.conftest import make_user
from tests.interop.helpers import demo_cohort, entries_of, signed_off_case

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]


def as_json(bundle):
    return json.loads(json.dumps(bundle))


def coded(concept, code):
    return (code.system, code.code) in {(c["system"], c["code"]) for c in concept["coding"]}


def test_every_demo_case_exports_a_bundle_that_validates():
    demo_cohort(patients=25)
    make_user("chair", username="chair-x")
    signed_off_case(models.User.objects.get(username="chair-x"))
    checked = 0
    for case_id in models.Case.objects.values_list("pk", flat=True):
        bundle = as_json(case_bundle(case_id=case_id))
        assert bundle_problems(bundle) == [], case_id
        claimed = {
            profile
            for entry in bundle["entry"]
            for profile in entry["resource"].get("meta", {}).get("profile", [])
        }
        assert claimed <= set(codes.PROFILES.values())
        checked += 1
    assert checked == 26


def test_the_bundle_says_what_the_record_says():
    case = signed_off_case(make_user("chair"))
    bundle = as_json(case_bundle(case_id=case.pk))
    assert bundle["type"] == "collection"
    assert bundle["identifier"]["value"] == case.reference
    (patient,) = entries_of(bundle, "Patient")
    assert patient["meta"]["profile"] == [codes.PROFILES["patient"]]
    assert patient["identifier"][-1]["type"]["coding"][0]["code"] == "MR"
    primary, secondary = entries_of(bundle, "Condition")
    assert coded(primary["code"], codes.PRIMARY_SITE_CONDITION["rectum"])
    assert coded(primary["bodySite"][0], codes.PRIMARY_SITE_BODY["rectum"])
    assert coded(secondary["code"], codes.LIVER_METASTASES)
    observations = entries_of(bundle, "Observation")
    kras = [o for o in observations if coded(o["code"], codes.MARKER_TEST["kras"])]
    assert len(kras) == 1
    assert coded(kras[0]["valueCodeableConcept"], codes.PRESENT)
    assert kras[0]["code"]["coding"][0]["code"] == "21702-6"
    msi = [o for o in observations if coded(o["code"], codes.MARKER_TEST["mmr_msi"])]
    assert msi[0]["code"]["coding"][0]["code"] == "81695-9"
    # HER2 was not tested: no Observation, no request.
    assert not [o for o in observations if coded(o["code"], codes.MARKER_TEST["her2"])]
    ecog = [o for o in observations if coded(o["code"], codes.ECOG)]
    assert ecog[0]["valueInteger"] == 1
    assert ecog[0]["code"]["coding"][0]["code"] == "89247-1"
    statuses = [o for o in observations if coded(o["code"], codes.DISEASE_STATUS)]
    # Two reassessments have a scan: two disease statuses; the first with its RECIST response.
    assert len(statuses) == 2
    assert coded(statuses[0]["valueCodeableConcept"], codes.RECIST_RESPONSE["partial_response"])
    assert len(entries_of(bundle, "ImagingStudy")) == 3
    requests = entries_of(bundle, "MedicationRequest")
    assert {r["medicationCodeableConcept"]["coding"][0]["code"] for r in requests} == {
        "4492", "32592", "253337"
    }  # fmt: skip
    assert all(coded(r["extension"][0]["valueCodeableConcept"], codes.CURATIVE) for r in requests)
    procedures = entries_of(bundle, "Procedure")
    assert {p["meta"]["profile"][0] for p in procedures} == {
        codes.PROFILES["radiotherapy"], codes.PROFILES["surgery"]
    }  # fmt: skip


def test_each_tnm_staging_is_three_category_observations_and_its_stage_group():
    case = signed_off_case(make_user("chair"))
    bundle = as_json(case_bundle(case_id=case.pk))
    staging = {
        o["code"]["coding"][0]["code"]: o
        for o in entries_of(bundle, "Observation")
        if o["code"]["coding"][0]["code"] in {c.code for c in codes.TNM_TYPE.values()}
    }
    # cT3 N1a M1a: T, N, M and stage IVA; ypT2 NX M1a: T, N, M and stage IVA (M1 groups).
    assert set(staging) == {"21905-5", "21906-3", "21907-1", "21908-9",
                            "21899-0", "21900-6", "21901-4", "21902-2"}  # fmt: skip
    clinical_t = staging["21905-5"]
    assert clinical_t["meta"]["profile"] == [codes.PROFILES["tnm_t"]]
    assert clinical_t["valueCodeableConcept"]["text"] == "cT3"
    assert coded(clinical_t["method"], codes.AJCC_8TH)
    assert clinical_t["effectiveDateTime"] == "2025-09-20"
    assert staging["21900-6"]["valueCodeableConcept"]["text"] == "ypNX"
    assert coded(staging["21899-0"]["code"], codes.TNM_KIND_LOCAL["post_neoadjuvant"])
    group = staging["21908-9"]
    assert group["meta"]["profile"] == [codes.PROFILES["tnm_stage_group"]]
    assert coded(group["valueCodeableConcept"], codes.STAGE_GROUP_LOCAL["IVA"])
    assert len(group["hasMember"]) == 3
    (primary, _) = entries_of(bundle, "Condition")
    assert group["focus"] == [{"reference": f"urn:uuid:{primary['id']}"}]


def test_the_primary_carries_the_latest_histology_and_every_report():
    case = signed_off_case(make_user("chair"))
    primary = entries_of(as_json(case_bundle(case_id=case.pk)), "Condition")[0]
    assert primary["onsetDateTime"] == case.diagnosed_on.isoformat()
    by_url = {}
    for ext in primary["extension"]:
        by_url.setdefault(ext["url"], []).append(ext)
    (histology,) = by_url[codes.EXTENSIONS["histology"]]
    assert coded(histology["valueCodeableConcept"], codes.HISTOLOGY["mucinous_adenocarcinoma"])
    assert histology["valueCodeableConcept"]["coding"][0]["code"] == "8480/3"
    reports = by_url[codes.EXTENSIONS["histology_report"]]
    assert [
        {p["url"]: next(v for k, v in p.items() if k.startswith("value")) for p in r["extension"]}[
            "reportedOn"
        ]
        for r in reports
    ] == ["2025-09-12", "2025-11-02"]


def test_a_case_without_histology_has_no_histology_extension():
    case = signed_off_case(make_user("chair"))
    models.Histology.objects.filter(case=case).delete()
    primary = entries_of(as_json(case_bundle(case_id=case.pk)), "Condition")[0]
    assert "extension" not in primary


def test_a_staging_the_engine_cannot_group_has_no_stage_group():
    case = signed_off_case(make_user("chair"))
    models.TnmStaging.objects.filter(case=case, kind="clinical").update(t="TX", m="M0")
    bundle = as_json(case_bundle(case_id=case.pk))
    found = {o["code"]["coding"][0]["code"] for o in entries_of(bundle, "Observation")}
    assert "21905-5" in found
    assert "21908-9" not in found


def test_each_scan_is_an_imaging_study_and_its_reassessment_carries_the_recist_response():
    case = signed_off_case(make_user("chair"))
    bundle = as_json(case_bundle(case_id=case.pk))
    studies = entries_of(bundle, "ImagingStudy")
    # The baseline and reassessment 1's scan from the record; reassessment 2 has no scan of
    # the record, so its own (date and modality) stands.
    assert len(studies) == 3
    baseline, follow_up = studies[0], studies[1]
    assert baseline["identifier"][0]["value"] == "ACC-0001"
    assert baseline["identifier"][0]["type"]["coding"][0]["code"] == "ACSN"
    assert baseline["modality"] == [codes.STUDY_MODALITY["ct"].coding()]
    assert follow_up["modality"][0]["code"] == "MR"
    assert follow_up["started"] == case.reassessments.get(cycle=1).imaging_performed_on.isoformat()
    first, _second = [o for o in entries_of(bundle, "Observation")
                      if coded(o["code"], codes.DISEASE_STATUS)]  # fmt: skip
    assert first["derivedFrom"] == [{"reference": f"urn:uuid:{follow_up['id']}"}]
    assert coded(first["valueCodeableConcept"], codes.RECIST_RESPONSE["partial_response"])


def test_the_response_computed_from_the_measurements_wins_over_a_stale_one():
    case = signed_off_case(make_user("chair"))
    # 50 mm → 20 mm is a partial response whatever the reassessment row still says.
    case.reassessments.filter(cycle=1).update(response="progressive_disease")
    bundle = as_json(case_bundle(case_id=case.pk))
    first = next(
        o for o in entries_of(bundle, "Observation") if coded(o["code"], codes.DISEASE_STATUS)
    )
    assert coded(first["valueCodeableConcept"], codes.RECIST_RESPONSE["partial_response"])
    # A radiologist's own reading (with its reason) is the record's response.
    models.ImagingStudy.objects.filter(reassessment__cycle=1, case=case).update(
        response_override="stable_disease", response_override_reason="Necrosis, not shrinkage"
    )
    bundle = as_json(case_bundle(case_id=case.pk))
    first = next(
        o for o in entries_of(bundle, "Observation") if coded(o["code"], codes.DISEASE_STATUS)
    )
    assert coded(first["valueCodeableConcept"], codes.RECIST_RESPONSE["stable_disease"])


def test_laboratory_results_carry_loinc_codes_and_ucum_units():
    case = signed_off_case(make_user("chair"))
    models.LabResult.objects.create(
        case=case, test="ca19_9", taken_on=dt.date(2025, 10, 1), value=88, unit="U/mL"
    )
    labs = {
        o["code"]["coding"][0]["code"]: o
        for o in entries_of(as_json(case_bundle(case_id=case.pk)), "Observation")
        if "category" in o and coded(o["category"][0], codes.LAB)
    }
    cea, ca199, platelets = labs["2039-6"], labs["24108-3"], labs["26515-7"]
    assert cea["valueQuantity"] == {"value": 12.4, "unit": "ng/mL", "system": codes.UCUM,
                                    "code": "ng/mL"}  # fmt: skip
    assert cea["referenceRange"] == [{"high": {"value": 5.0, "unit": "ng/mL",
                                               "system": codes.UCUM, "code": "ng/mL"}}]  # fmt: skip
    assert cea["meta"]["profile"] == [codes.PROFILES["tumour_marker"]]
    assert ca199["valueQuantity"]["code"] == "[arb'U]/mL"
    assert ca199["meta"]["profile"] == [codes.PROFILES["tumour_marker"]]
    assert platelets["valueQuantity"]["code"] == "10*9/L"
    assert "meta" not in platelets  # a blood count is no tumour marker
    assert profile_problems(as_json(case_bundle(case_id=case.pk))) == []


def test_a_blood_result_in_the_wrong_unit_is_a_problem(bundle):
    lab = next(
        e["resource"] for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Observation"
        and e["resource"]["code"]["coding"][0]["code"] == "26515-7"
    )  # fmt: skip
    lab["valueQuantity"]["code"] = "10*3/uL"
    (problem,) = profile_problems(bundle)
    assert problem.expression.endswith("valueQuantity")


def test_each_recorded_cycle_is_an_administration_per_agent_with_the_course_intent():
    case = signed_off_case(make_user("chair"))
    course = case.treatment_courses.get()
    bundle = as_json(case_bundle(case_id=case.pk))
    given = [
        a for a in entries_of(bundle, "MedicationAdministration")
        if any(e["url"] == codes.EXTENSIONS["treatment_cycle"] for e in a["extension"])
    ]  # fmt: skip
    assert len(given) == 2 * len(course.agents)
    second = [a for a in given if a["extension"][1]["extension"][0]["valuePositiveInt"] == 2]
    assert len(second) == len(course.agents)
    parts = {p["url"]: p for p in second[0]["extension"][1]["extension"]}
    assert parts["doseReductionPercent"]["valuePositiveInt"] == 20
    assert parts["delayReason"]["valueString"] == "Neutropenia"
    assert all(coded(a["extension"][0]["valueCodeableConcept"], codes.CURATIVE) for a in given)
    assert all(coded(a["category"], codes.BACKBONE_LOCAL["folfox"]) for a in given)
    assert all(a["meta"]["profile"] == [codes.PROFILES["medication_administration"]]
               for a in given)  # fmt: skip


def test_the_referral_is_a_service_request_for_an_mdt_discussion():
    case = signed_off_case(make_user("chair"))
    bundle = as_json(case_bundle(case_id=case.pk))
    (referral,) = [r for r in entries_of(bundle, "ServiceRequest")
                   if coded(r["category"][0], codes.PATIENT_REFERRAL)]  # fmt: skip
    assert coded(referral["category"][0], codes.REFERRAL_SOURCE_LOCAL["gp"])
    assert referral["priority"] == "urgent"
    assert referral["authoredOn"] == "2025-09-01"
    assert referral["requester"] == {"display": "Dr A. Example, Riverside Surgery"}
    assert referral["note"] == [{"text": "Liver-only metastases: resectable after conversion?"}]
    (mdt,) = entries_of(bundle, "Organization")
    assert referral["performer"] == [{"reference": f"urn:uuid:{mdt['id']}"}]


def test_a_pending_test_is_a_request_not_a_result():
    from tests.meeting_factory import make_conversion_case

    case = make_conversion_case(kras="pending")
    bundle = as_json(case_bundle(case_id=case.pk))
    kras_code = codes.MARKER_TEST["kras"]
    assert not [o for o in entries_of(bundle, "Observation") if coded(o["code"], kras_code)]
    (request,) = [r for r in entries_of(bundle, "ServiceRequest") if coded(r["code"], kras_code)]
    assert request["status"] == "active"


def test_one_care_plan_per_signed_off_outcome_with_actions_and_notes():
    chair = make_user("chair")
    case = signed_off_case(chair)
    bundle = as_json(case_bundle(case_id=case.pk))
    (plan,) = entries_of(bundle, "CarePlan")
    assert plan["status"] == "active"
    assert plan["intent"] == "plan"
    descriptions = [a["detail"]["description"] for a in plan["activity"]]
    assert descriptions[0].startswith("Systemic therapy: Fluorouracil")
    assert "(recommended: FOLFOX, CAPOX or FOLFIRI + bevacizumab)" in descriptions[0]
    follow_up = {a["detail"]["description"]: a["detail"]["status"] for a in plan["activity"]}
    assert follow_up["Follow-up done"] == "completed"
    assert follow_up["Follow-up not_done"] == "cancelled"
    assert follow_up["Follow-up open"] == "not-started"
    cancelled = next(a for a in plan["activity"] if a["detail"]["status"] == "cancelled")
    assert cancelled["detail"]["statusReason"]["text"] == "Patient declined"
    notes = " ".join(n["text"] for n in plan["note"])
    assert "hard stop overridden" in notes
    assert "Trial protocol" in notes
    assert "Patient preference" in notes
    assert "ANTI_EGFR" not in json.dumps(plan)  # words, never the engine's codes


def test_an_outcome_not_signed_off_is_not_exported():
    chair = make_user("chair")
    case = signed_off_case(chair)
    models.AgendaItem.objects.filter(case=case).update(signed_off_at=None, signed_off_by=None)
    assert entries_of(as_json(case_bundle(case_id=case.pk)), "CarePlan") == []


@pytest.mark.parametrize("extra_cycles", [0, 40])
def test_a_case_exports_in_one_query_whatever_its_size(extra_cycles, django_assert_num_queries):
    case = signed_off_case(make_user("chair"))
    course = case.treatment_courses.get()
    for n in range(extra_cycles):
        models.AgentAdministration.objects.create(
            course=course,
            agent="oxaliplatin",
            given_on=course.started_on + dt.timedelta(days=n),
            cycle_number=n + 1,
        )
        models.TreatmentCycle.objects.create(
            course=course, number=n + 3, given_on=course.started_on + dt.timedelta(days=30 + n),
            agents=["oxaliplatin"],
        )  # fmt: skip
        models.LabResult.objects.create(
            case=case, test="cea", taken_on=course.started_on + dt.timedelta(days=n),
            value=n, unit="ng/mL",
        )  # fmt: skip
        models.ImagingStudy.objects.create(
            case=case, modality="ct", body_region="chest", performed_on=course.started_on
            + dt.timedelta(days=n), accession_number=f"X{n}",
        )  # fmt: skip
    with django_assert_num_queries(1):
        case_bundle(case_id=case.pk)


def test_many_cases_export_in_one_query_a_batch_and_as_one_by_one(django_assert_num_queries):
    chair = make_user("chair")
    cases = [signed_off_case(chair) for _ in range(3)]
    ids = [case.pk for case in reversed(cases)]
    with django_assert_num_queries(1):
        bundles = list(case_bundles(case_ids=ids))
    assert [b["entry"] for b in bundles] == [case_bundle(case_id=pk)["entry"] for pk in ids]


def test_two_exports_of_an_unchanged_case_are_identical_but_for_the_envelope():
    case = signed_off_case(make_user("chair"))
    first, second = case_bundle(case_id=case.pk), case_bundle(case_id=case.pk)
    assert first["entry"] == second["entry"]


# --- The checks themselves catch what they are for ----------------------------------------------


@pytest.fixture
def bundle():
    return as_json(case_bundle(case_id=signed_off_case(make_user("chair")).pk))


def resource(bundle, kind, code=None):
    for entry in bundle["entry"]:
        found = entry["resource"]
        if found["resourceType"] == kind and (code is None or coded(found["code"], code)):
            return found
    raise AssertionError(kind)


def test_the_structure_check_reports_every_bad_element(bundle):
    broken = copy.deepcopy(bundle)
    resource(broken, "Patient")["birthDate"] = "1960-13-45"
    resource(broken, "Condition")["colour"] = "blue"
    problems = structure_problems(broken)
    assert len(problems) == 2
    assert {p.code for p in problems} == {"structure"}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda b: resource(b, "Observation", codes.ECOG).pop("subject"), "subject"),
        (lambda b: resource(b, "Observation", codes.ECOG).update(valueInteger=9), "valueInteger"),
        (
            lambda b: resource(b, "Condition").update(
                code={"coding": [codes.LIVER_METASTASES.coding()]}
            ),
            "code",
        ),
        (
            lambda b: resource(b, "Observation", codes.DISEASE_STATUS).update(
                valueCodeableConcept={"coding": [codes.RECIST_RESPONSE["stable_disease"].coding()]}
            ),
            "valueCodeableConcept",
        ),
        (lambda b: resource(b, "MedicationRequest").pop("requester"), "requester"),
        (lambda b: resource(b, "Procedure").pop("reasonReference"), "reasonReference"),
        (
            lambda b: resource(b, "Observation", codes.MARKER_TEST["kras"]).update(
                code={"coding": [{"system": codes.LOINC, "code": "2039-6"}]},
                valueQuantity={"value": 3.1, "unit": "ug/L"},
            ),
            "valueQuantity",
        ),
        (lambda b: resource(b, "Patient").pop("gender"), "gender"),
        (
            lambda b: resource(b, "Condition")["extension"][0]["valueCodeableConcept"]["coding"][
                0
            ].update(code="8480"),
            "extension[histologyMorphologyBehavior]",
        ),
        (
            lambda b: resource(b, "Observation", codes.TNM_TYPE[("clinical", "T")]).pop("method"),
            "method",
        ),
        (
            lambda b: resource(b, "Observation", codes.TNM_TYPE[("clinical", "N")]).update(
                code={"coding": [codes.TNM_TYPE[("clinical", "T")].coding()]}
            ),
            "code",
        ),
        (
            lambda b: resource(b, "Observation", codes.TNM_TYPE[("clinical", "stage")]).update(
                hasMember=[{"reference": b["entry"][0]["fullUrl"]}]
            ),
            "hasMember[0]",
        ),
    ],
)
def test_each_profile_check_finds_its_problem(bundle, change, expected):
    assert profile_problems(bundle) == []
    change(bundle)
    problems = profile_problems(bundle)
    assert problems
    assert all(p.expression.endswith(expected) for p in problems), problems


def test_a_reference_outside_the_bundle_is_a_problem(bundle):
    resource(bundle, "Observation", codes.ECOG)["subject"] = {"reference": "Patient/elsewhere"}
    codes_found = {p.code for p in profile_problems(bundle)}
    assert "not-found" in codes_found


# --- The command ------------------------------------------------------------------------------


def test_the_command_prints_one_bundle_or_a_list():
    chair = make_user("chair")
    first, second = signed_off_case(chair), signed_off_case(chair)
    out = StringIO()
    call_command("fhir_export", "--case", first.reference, stdout=out)
    assert json.loads(out.getvalue())["identifier"]["value"] == first.reference
    out = StringIO()
    call_command("fhir_export", "--all", stdout=out)
    assert [b["identifier"]["value"] for b in json.loads(out.getvalue())] == [
        first.reference, second.reference
    ]  # fmt: skip


def test_the_command_refuses_an_unknown_case():
    with pytest.raises(SystemExit) as exit_info:
        call_command("fhir_export", "--case", "TB999999", stdout=StringIO(), stderr=StringIO())
    assert exit_info.value.code == 2
