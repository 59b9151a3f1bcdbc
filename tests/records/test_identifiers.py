"""The NHS number's modulus-11 check digit, in the patient service and in the lookup."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from cases.models import CaseAccess
from cases.records import services as records
from cases.records.services.identifiers import nhs_number_valid
from tests.conftest import make_case, make_patient, signed_in


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("9434765919", True),  # the NHS Data Dictionary's example
        ("9434765918", False),  # one digit off
        ("4010232137", True),
        ("4010232138", False),
        ("9990000018", True),  # the demo range (999…) with its check digit
        ("0000000060", False),  # the check would be 10: such numbers are never issued
        ("943476591", False),  # nine digits
        ("94347659190", False),
        ("943476591a", False),
        ("９４３４７６５９１９", False),  # full-width digits are not ASCII
    ],
)
def test_the_check_digit(number, valid):
    assert nhs_number_valid(number) is valid


def test_every_single_digit_error_is_caught():
    good = "9434765919"
    for position in range(10):
        for digit in "0123456789":
            if digit != good[position]:
                typo = good[:position] + digit + good[position + 1 :]
                assert not nhs_number_valid(typo), typo


@pytest.mark.django_db
def test_the_patient_service_refuses_a_wrong_check_digit(users):
    with pytest.raises(ValidationError) as info:
        records.patient_create(
            user=users["coordinator"],
            hospital_number="H100",
            nhs_number="943 476 5918",
            family_name="Franklin",
            given_name="Rosalind",
            date_of_birth=dt.date(1960, 7, 25),
        )
    assert info.value.message_dict == {
        "nhs_number": [
            "This is not a valid NHS number (its check digit does not match): "
            "check each digit against the referral."
        ]
    }


@pytest.mark.django_db
def test_the_lookup_is_posted_finds_by_either_number_and_logs_the_access(users):
    patient = make_patient(nhs_number="9434765919")
    case = make_case(patient=patient)
    client = signed_in(users["coordinator"])
    assert client.get("/patients/lookup/?number=9434765919").status_code == 405
    by_nhs = client.post(
        "/patients/lookup/", {"number": "943-476-5919"}, headers={"HX-Request": "true"}
    )
    assert "Already registered" in by_nhs.text
    assert case.reference in by_nhs.text
    by_hospital = client.post("/patients/lookup/", {"number": patient.hospital_number.lower()})
    assert "Already registered" in by_hospital.text
    assert CaseAccess.objects.filter(case_id=case.pk, context="patient-lookup").count() == 2
    nobody = client.post("/patients/lookup/", {"number": "4010232137"})
    assert "No patient has the number 4010232137" in nobody.text
    assert 'id="id_patient-nhs_number" aria-describedby' in nobody.text  # carried into the form
    typo = client.post("/patients/lookup/", {"number": "4010232138"})
    assert "not a valid NHS number" in typo.text
    assert signed_in(users["auditor"]).post("/patients/lookup/", {"number": "x"}).status_code == 403
