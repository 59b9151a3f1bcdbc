"""Patients: identity checked against the people already registered."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import Min

from cases import models
from cases.records.services.checks import (
    Problems,
    check_version,
    fmt,
    local_today,
    save_row,
    update_row,
)
from cases.records.services.identifiers import nhs_number_valid
from cases.reminders.planning import reminders_sync_for_case
from cases.security.permissions import Capability, require


def _check_patient(
    p: Problems,
    *,
    patient_id: int | None,
    hospital_number: str,
    nhs_number: str,
    family_name: str,
    given_name: str,
    date_of_birth: dt.date | None,
    today: dt.date,
) -> None:
    p.text(
        "hospital_number", hospital_number, label="Hospital number", max_length=20, required=True
    )
    if hospital_number and any(c.isspace() for c in hospital_number):
        p.add("hospital_number", "A hospital number has no spaces.")
    if nhs_number and not (len(nhs_number) == 10 and nhs_number.isascii() and nhs_number.isdigit()):
        p.add("nhs_number", "An NHS number is ten digits.")
    elif nhs_number and not nhs_number_valid(nhs_number):
        p.add(
            "nhs_number",
            "This is not a valid NHS number (its check digit does not match): "
            "check each digit against the referral.",
        )
    p.text("family_name", family_name, label="Family name", max_length=100, required=True)
    p.text("given_name", given_name, label="Given name", max_length=100, required=True)
    p.date(
        "date_of_birth",
        date_of_birth,
        label="Date of birth",
        today=today,
        past_only=True,
        required=True,
    )
    others = models.Patient.objects.exclude(pk=patient_id)
    if "hospital_number" not in p and others.filter(hospital_number=hospital_number).exists():
        p.add("hospital_number", "Another patient already has this hospital number.")
    if "nhs_number" not in p and nhs_number and others.filter(nhs_number=nhs_number).exists():
        p.add("nhs_number", "Another patient already has this NHS number.")
    if patient_id is not None and date_of_birth and "date_of_birth" not in p:
        first = models.Case.objects.filter(patient_id=patient_id).aggregate(d=Min("diagnosed_on"))[
            "d"
        ]
        p.not_before(
            "date_of_birth",
            first,
            date_of_birth,
            f"A case of this patient was diagnosed on {fmt(first)}, before this date of birth.",
        )


@transaction.atomic
def patient_create(
    *,
    user: Any,
    hospital_number: str,
    family_name: str,
    given_name: str,
    date_of_birth: dt.date,
    nhs_number: str = "",
) -> models.Patient:
    require(user, Capability.EDIT_CASES)
    hospital_number, nhs_number = hospital_number.strip(), nhs_number.replace(" ", "")
    p = Problems()
    _check_patient(
        p,
        patient_id=None,
        hospital_number=hospital_number,
        nhs_number=nhs_number,
        family_name=family_name,
        given_name=given_name,
        date_of_birth=date_of_birth,
        today=local_today(),
    )
    p.raise_if_any()
    patient = models.Patient(
        hospital_number=hospital_number,
        nhs_number=nhs_number,
        family_name=family_name.strip(),
        given_name=given_name.strip(),
        date_of_birth=date_of_birth,
    )
    save_row(patient)
    return patient


@transaction.atomic
def patient_update(
    *,
    user: Any,
    patient_id: int,
    expected_version: int,
    hospital_number: str,
    family_name: str,
    given_name: str,
    date_of_birth: dt.date,
    nhs_number: str = "",
) -> models.Patient:
    require(user, Capability.EDIT_CASES)
    hospital_number, nhs_number = hospital_number.strip(), nhs_number.replace(" ", "")
    p = Problems()
    _check_patient(
        p,
        patient_id=patient_id,
        hospital_number=hospital_number,
        nhs_number=nhs_number,
        family_name=family_name,
        given_name=given_name,
        date_of_birth=date_of_birth,
        today=local_today(),
    )
    p.raise_if_any()
    update_row(
        models.Patient,
        pk=patient_id,
        expected_version=check_version(expected_version),
        changes={
            "hospital_number": hospital_number,
            "nhs_number": nhs_number,
            "family_name": family_name.strip(),
            "given_name": given_name.strip(),
            "date_of_birth": date_of_birth,
        },
    )
    for case_id in models.Case.objects.filter(patient_id=patient_id).values_list("pk", flat=True):
        reminders_sync_for_case(case_id=case_id)
    return models.Patient.objects.get(pk=patient_id)
