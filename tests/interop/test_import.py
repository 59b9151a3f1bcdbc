"""Referral import: a bundle opens a case for the coordinator, or is refused whole with an
OperationOutcome listing every problem, writing nothing."""

from __future__ import annotations

import copy
import datetime as dt
import json
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import transaction

from cases import models
from cases.interop import codes
from cases.interop.export import case_bundle
from tests.conftest import make_patient, make_user
from tests.interop.helpers import (
    clinical_counts,
    demo_cohort,
    post_bundle,
    signed_off_case,
    token_client,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]

HOSPITAL = "https://tumourboard.invalid/fhir/Id/hospital-number"


def referral(nhs="9990000001", hospital="REF0001", kras_code="21702-6") -> dict:
    """What another hospital's system sends: standard codes only, none of ours."""
    patient = {
        "resourceType": "Patient",
        "identifier": [
            {"system": codes.NHS_NUMBER_SYSTEM, "value": nhs},
            {
                "type": {"coding": [{"system": codes.V2_0203, "code": "MR"}]},
                "system": HOSPITAL,
                "value": hospital,
            },
        ],
        "name": [{"family": "Referral", "given": ["Robin"]}],
        "gender": "unknown",
        "birthDate": "1958-04-02",
    }
    subject = {"reference": "urn:uuid:p"}

    def observation(code: str, **value) -> dict:
        return {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": codes.LOINC, "code": code}]},
            "subject": subject,
            "effectiveDateTime": "2026-02-01",
            **value,
        }

    def answer(c: codes.Code) -> dict:
        return {"valueCodeableConcept": {"coding": [c.coding()]}}

    resources = [
        ("p", patient),
        (
            "c1",
            {
                "resourceType": "Condition",
                "code": {"coding": [{"system": codes.ICD10CM, "code": "C20"}]},
                "subject": subject,
                "onsetDateTime": "2026-01-15",
            },
        ),
        (
            "c2",
            {
                "resourceType": "Condition",
                "code": {"coding": [{"system": codes.ICD10CM, "code": "C78.7"}]},
                "subject": subject,
            },
        ),
        ("o1", observation(kras_code, **answer(codes.PRESENT))),
        ("o2", observation("81695-9", **answer(codes.NEGATIVE))),
        ("o3", observation("89247-1", valueInteger=1)),
        ("pr", {"resourceType": "Practitioner", "name": [{"family": "Referrer"}]}),
    ]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": f"urn:uuid:{key}", "resource": body} for key, body in resources],
    }


def test_a_referral_opens_a_case_in_work_up_for_the_coordinator():
    client, _name = token_client("import")
    response = post_bundle(client, referral())
    assert response.status_code == 201, response.content
    answer = response.json()
    assert answer["patientCreated"] is True
    assert answer["caseCreated"] is True
    assert answer["ignored"] == {"Practitioner": 1}
    case = models.Case.objects.get()
    assert answer["case"] == case.reference
    assert case.stage == models.Stage.WORKUP
    assert case.primary_site == "rectum"
    assert case.ecog == 1
    assert case.patient.nhs_number == "9990000001"
    assert case.patient.hospital_number == "REF0001"
    results = dict(case.molecular_results.values_list("marker", "status"))
    assert results == {"kras": "mutant", "mmr_msi": "pmmr_mss"}


def test_a_second_import_matches_the_patient_and_opens_no_second_case():
    client, _name = token_client("import")
    first = post_bundle(client, referral()).json()
    again = post_bundle(client, referral())
    assert again.status_code == 200
    assert again.json()["case"] == first["case"]
    assert again.json()["patientCreated"] is False
    assert again.json()["caseCreated"] is False
    assert models.Patient.objects.count() == 1
    assert models.Case.objects.count() == 1


def test_a_patient_known_by_hospital_number_only_is_matched_not_duplicated():
    patient = make_patient(
        hospital_number="REF0001", family_name="Referral", date_of_birth=dt.date(1958, 4, 2)
    )
    result = post_bundle(token_client("import")[0], referral()).json()
    assert result["patient"] == f"Patient/{patient.pk}"
    assert models.Patient.objects.count() == 1


def _staging(t: str, n: str, m: str) -> list[dict]:
    def category(part: str, value: str) -> dict:
        return {
            "fullUrl": f"urn:uuid:tnm-{part}",
            "resource": {
                "resourceType": "Observation",
                "status": "final",
                "code": {"coding": [codes.TNM_TYPE[("clinical", part)].coding()]},
                "subject": {"reference": "urn:uuid:p"},
                "effectiveDateTime": "2026-01-20",
                "valueCodeableConcept": {"coding": [codes.TNM_CATEGORY_LOCAL[value].coding()]},
            },
        }

    return [category("T", t), category("N", n), category("M", m)]


def test_a_referral_with_its_tnm_staging_stores_the_staging():
    body = referral()
    body["entry"] += _staging("T3", "N1b", "M1a")
    assert post_bundle(token_client("import")[0], body).status_code == 201
    staging = models.TnmStaging.objects.get()
    assert (staging.kind, staging.t, staging.n, staging.m) == ("clinical", "T3", "N1b", "M1a")
    assert staging.staged_on == dt.date(2026, 1, 20)


def _lab(code: str, value, ucum: str) -> dict:
    return {
        "fullUrl": f"urn:uuid:lab-{code}",
        "resource": {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": codes.LOINC, "code": code}]},
            "subject": {"reference": "urn:uuid:p"},
            "effectiveDateTime": "2026-01-28",
            "valueQuantity": {"value": value, "system": codes.UCUM, "code": ucum},
        },
    }


def test_a_referral_with_blood_results_stores_them():
    body = referral()
    body["entry"] += [_lab("2039-6", 7.5, "ng/mL"), _lab("14631-6", 9, "umol/L")]
    assert post_bundle(token_client("import")[0], body).status_code == 201
    rows = {r.test: r for r in models.LabResult.objects.all()}
    assert rows["cea"].value == Decimal("7.50")
    assert rows["cea"].unit == "ng/mL"
    assert rows["bilirubin"].unit == "µmol/L"
    assert rows["bilirubin"].taken_on == dt.date(2026, 1, 28)


def test_a_result_in_another_unit_is_refused_not_converted():
    body = referral()
    body["entry"] += [_lab("2039-6", 7.5, "ug/L")]
    before = clinical_counts()
    response = post_bundle(token_client("import")[0], body)
    assert response.status_code == 422
    assert "ng/mL" in response.json()["issue"][0]["diagnostics"]
    assert clinical_counts() == before


def _referral_request(**changes) -> dict:
    return {
        "fullUrl": "urn:uuid:sr",
        "resource": {
            "resourceType": "ServiceRequest",
            "status": "active",
            "intent": "order",
            "category": [{"coding": [{"system": codes.SNOMED, "code": "3457005"}]}],
            "priority": "urgent",
            "subject": {"reference": "urn:uuid:p"},
            "authoredOn": "2026-01-30",
            "requester": {"display": "Dr B. Sender, County Hospital"},
            "note": [{"text": "Please consider liver resection."}],
            **changes,
        },
    }


def test_a_referral_request_becomes_the_case_referral():
    body = referral()
    body["entry"].append(_referral_request())
    assert post_bundle(token_client("import")[0], body).status_code == 201
    stored = models.Referral.objects.get()
    assert stored.received_on == dt.date(2026, 1, 30)
    assert (stored.urgency, stored.source) == ("urgent", "other")
    assert stored.referrer == "Dr B. Sender, County Hospital"
    assert stored.question == "Please consider liver resection."


def test_a_referral_request_without_its_question_is_refused():
    body = referral()
    body["entry"].append(_referral_request(note=[], priority="soon"))
    before = clinical_counts()
    response = post_bundle(token_client("import")[0], body)
    assert response.status_code == 422
    assert clinical_counts() == before


def test_a_staging_the_manual_does_not_allow_is_refused_with_the_reason():
    body = referral()
    body["entry"] += _staging("Tis", "N1a", "M0")
    before = clinical_counts()
    response = post_bundle(token_client("import")[0], body)
    assert response.status_code == 422
    (issue,) = response.json()["issue"]
    assert "Tis" in issue["diagnostics"]
    assert clinical_counts() == before


# --- Refused bundles write nothing --------------------------------------------------------------


def _too_big() -> bytes:
    body = referral()
    body["entry"][0]["resource"]["name"][0]["text"] = "x" * (10 * 1024 * 1024)
    return json.dumps(body).encode()


def _two_patients() -> dict:
    make_patient(nhs_number="9990000001", hospital_number="OTHER01")
    make_patient(hospital_number="REF0001")
    return referral()


BAD = {
    "malformed": (lambda: b'{"resourceType": "Bundle", "entry": [', 400, "structure"),
    "not FHIR": (
        lambda: {**referral(), "entry": [{"resource": {"resourceType": "Patient", "x": 1}}]},
        400,
        "structure",
    ),
    "unknown code": (lambda: referral(kras_code="99999-9"), 422, "code-invalid"),
    "patient matching two records": (_two_patients, 409, "multiple-matches"),
    "10 MB": (_too_big, 413, "too-long"),
}


@pytest.mark.parametrize("kind", BAD)
def test_a_bad_bundle_gets_an_operation_outcome_and_writes_nothing(kind):
    make_body, status, issue = BAD[kind]
    body = make_body()
    before = clinical_counts()
    response = post_bundle(token_client("import")[0], body)
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/fhir+json"
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert issue in {i["code"] for i in outcome["issue"]}
    assert clinical_counts() == before


@pytest.mark.parametrize("kind", BAD)
def test_the_command_refuses_the_same_bundles_with_exit_2(kind, tmp_path):
    make_body, _status, issue = BAD[kind]
    body = make_body()
    path = tmp_path / "bundle.json"
    path.write_bytes(body if isinstance(body, bytes) else json.dumps(body).encode())
    before = clinical_counts()
    out = StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command("fhir_import", str(path), stdout=out)
    assert exit_info.value.code == 2
    outcome = json.loads(out.getvalue())
    assert outcome["resourceType"] == "OperationOutcome"
    assert issue in {i["code"] for i in outcome["issue"]}
    assert clinical_counts() == before


def test_every_problem_is_listed_not_only_the_first():
    body = referral(kras_code="99999-9")
    body["entry"][0]["resource"]["name"] = [{"given": ["Robin"]}]
    body["entry"][5]["resource"]["valueInteger"] = 7
    issues = post_bundle(token_client("import")[0], body).json()["issue"]
    assert len(issues) == 3
    assert {i["code"] for i in issues} == {"code-invalid", "required", "value"}


def test_a_half_written_import_leaves_nothing_behind():
    """A dose on a date the course forbids breaks a database rule after rows were written."""
    case = signed_off_case(make_user("chair"))
    body = json.loads(json.dumps(case_bundle(case_id=case.pk)))
    # The same person re-registered elsewhere: the bundle makes a new patient and case.
    models.Case.objects.filter(pk=case.pk).update(stage=models.Stage.LEFT_PATHWAY,
                                                   exit_reason="transferred")  # fmt: skip
    models.Patient.objects.filter(pk=case.patient_id).update(hospital_number="MOVED1",
                                                              nhs_number="")  # fmt: skip
    dose = next(e["resource"] for e in body["entry"]
                if e["resource"]["resourceType"] == "MedicationAdministration")  # fmt: skip
    body["entry"].append(copy.deepcopy({"fullUrl": "urn:uuid:dup", "resource": dose}))
    before = clinical_counts()
    response = post_bundle(token_client("import")[0], body)
    assert response.status_code == 422, response.content
    assert "administration_once_a_day" in response.json()["issue"][0]["diagnostics"]
    assert clinical_counts() == before


# --- Round trip -------------------------------------------------------------------------------


def normalised(bundle: dict) -> list:
    """The bundle's content with ids, the envelope and the MDT's own outcomes left out."""
    urls = {e["fullUrl"]: f"#{i}" for i, e in enumerate(bundle["entry"])}
    text = json.dumps([e["resource"] for e in bundle["entry"]])
    for url, label in urls.items():
        text = text.replace(url, label).replace(url.removeprefix("urn:uuid:"), label)
    return [r for r in json.loads(text) if r["resourceType"] != "CarePlan"]


def test_export_then_import_into_an_empty_database_then_export_gives_the_same_bundle():
    with transaction.atomic():
        demo_cohort(patients=15, seed=5)
        signed_off_case(make_user("chair"))
        exported = [
            case_bundle(case_id=pk) for pk in models.Case.objects.values_list("pk", flat=True)
        ]
        transaction.set_rollback(True)
    assert models.Case.objects.count() == 0
    client = token_client("import")[0]
    for before in exported:
        response = post_bundle(client, json.loads(json.dumps(before)))
        assert response.status_code == 201, response.content
        case = models.Case.objects.get(pk=int(response.json()["case"].removeprefix("TB")))
        after = json.loads(json.dumps(case_bundle(case_id=case.pk)))
        assert normalised(after) == normalised(json.loads(json.dumps(before)))
    assert models.Case.objects.count() == len(exported)


def test_the_command_prints_the_patient_and_case(tmp_path):
    path = tmp_path / "referral.json"
    path.write_text(json.dumps(referral()))
    out = StringIO()
    call_command("fhir_import", str(path), stdout=out)
    printed = json.loads(out.getvalue())
    case = models.Case.objects.get()
    assert printed["case"] == case.reference
    assert printed["patient"] == f"Patient/{case.patient_id}"
    assert Path(path).exists()
