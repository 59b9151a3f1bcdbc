"""Cases: one cancer episode, its stage on the pathway and its team."""

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
from cases.reminders.planning import reminders_sync_for_case
from cases.security.permissions import Capability, require

CLINICAL_ROLES = (models.Role.CLINICIAN, models.Role.CHAIR)


def _first_clinical_events(case_id: int) -> list[tuple[dt.date, str]]:
    """The earliest dated fact of each kind, to keep the diagnosis date before all of them."""
    scans = models.Reassessment.objects.filter(case_id=case_id).aggregate(
        d=Min("imaging_performed_on")
    )["d"]
    courses = models.TreatmentCourse.objects.filter(case_id=case_id).aggregate(d=Min("started_on"))[
        "d"
    ]
    rt = models.Radiotherapy.objects.filter(case_id=case_id).aggregate(d=Min("started_on"))["d"]
    ops = models.Surgery.objects.filter(case_id=case_id).aggregate(d=Min("performed_on"))["d"]
    named = [
        (scans, "a scan"),
        (courses, "chemotherapy"),
        (rt, "radiotherapy"),
        (ops, "an operation"),
    ]
    return [(day, what) for day, what in named if day is not None]


def _check_case(
    p: Problems,
    *,
    case_id: int | None,
    patient: models.Patient,
    primary_site: str,
    sidedness_reported: str,
    primary_symptom: str,
    diagnosed_on: dt.date | None,
    ecog: int | None,
    ecog_assessed_on: dt.date | None,
    stage: str,
    exit_reason: str,
    responsible_clinician_id: int | None,
    coordinator_id: int | None,
    today: dt.date,
) -> None:
    p.choice("primary_site", primary_site, models.PrimarySite)
    p.choice("sidedness_reported", sidedness_reported, models.Side, blank=True)
    p.choice("primary_symptom", primary_symptom, models.PrimarySymptom)
    p.choice("stage", stage, models.Stage)
    p.choice("exit_reason", exit_reason, models.ExitReason, blank=True)
    p.date(
        "diagnosed_on",
        diagnosed_on,
        label="Date of diagnosis",
        today=today,
        past_only=True,
        required=True,
    )
    p.not_before(
        "diagnosed_on",
        diagnosed_on,
        patient.date_of_birth,
        "The diagnosis cannot be before the patient's date of birth.",
    )
    if ecog is not None and not 0 <= ecog <= 4:
        p.add("ecog", "ECOG performance status is 0 to 4.")
    if ecog_assessed_on is not None and ecog is None:
        p.add("ecog_assessed_on", "Give the ECOG score that was assessed on this date.")
    p.date(
        "ecog_assessed_on",
        ecog_assessed_on,
        label="ECOG assessment date",
        today=today,
        past_only=True,
    )
    p.not_before(
        "ecog_assessed_on",
        ecog_assessed_on,
        patient.date_of_birth,
        "The ECOG assessment cannot be before the patient's date of birth.",
    )
    if stage == models.Stage.LEFT_PATHWAY and not exit_reason:
        p.add("exit_reason", "Say why the case left the pathway.")
    if exit_reason and stage != models.Stage.LEFT_PATHWAY:
        p.add("exit_reason", "Only a case that left the pathway has an exit reason.")
    if (
        responsible_clinician_id is not None
        and not models.User.objects.filter(
            pk=responsible_clinician_id, is_active=True, role__in=CLINICAL_ROLES
        ).exists()
    ):
        p.add("responsible_clinician", "Choose an active clinician.")
    if (
        coordinator_id is not None
        and not models.User.objects.filter(pk=coordinator_id, is_active=True).exists()
    ):
        p.add("coordinator", "Choose an active member of staff.")
    if case_id is not None and diagnosed_on is not None and "diagnosed_on" not in p:
        for day, what in _first_clinical_events(case_id):
            if day < diagnosed_on:
                p.add(
                    "diagnosed_on",
                    f"The record has {what} on {fmt(day)}, before this diagnosis date.",
                )


@transaction.atomic
def case_create(
    *,
    user: Any,
    patient_id: int,
    primary_site: str,
    diagnosed_on: dt.date,
    sidedness_reported: str = "",
    primary_symptom: str = models.PrimarySymptom.NONE,
    ecog: int | None = None,
    ecog_assessed_on: dt.date | None = None,
    stage: str = models.Stage.WORKUP,
    exit_reason: str = "",
    responsible_clinician_id: int | None = None,
    coordinator_id: int | None = None,
) -> models.Case:
    require(user, Capability.EDIT_CASES)
    patient = models.Patient.objects.get(pk=patient_id)
    p = Problems()
    _check_case(
        p,
        case_id=None,
        patient=patient,
        primary_site=primary_site,
        sidedness_reported=sidedness_reported,
        primary_symptom=primary_symptom,
        diagnosed_on=diagnosed_on,
        ecog=ecog,
        ecog_assessed_on=ecog_assessed_on,
        stage=stage,
        exit_reason=exit_reason,
        responsible_clinician_id=responsible_clinician_id,
        coordinator_id=coordinator_id,
        today=local_today(),
    )
    p.raise_if_any()
    case = models.Case(
        patient=patient,
        primary_site=primary_site,
        sidedness_reported=sidedness_reported,
        primary_symptom=primary_symptom,
        diagnosed_on=diagnosed_on,
        ecog=ecog,
        ecog_assessed_on=ecog_assessed_on,
        stage=stage,
        exit_reason=exit_reason,
        responsible_clinician_id=responsible_clinician_id,
        coordinator_id=coordinator_id,
    )
    save_row(case)
    reminders_sync_for_case(case_id=case.pk)
    return case


@transaction.atomic
def case_update(
    *,
    user: Any,
    case_id: int,
    expected_version: int,
    primary_site: str,
    diagnosed_on: dt.date,
    sidedness_reported: str = "",
    primary_symptom: str = models.PrimarySymptom.NONE,
    ecog: int | None = None,
    ecog_assessed_on: dt.date | None = None,
    stage: str = models.Stage.WORKUP,
    exit_reason: str = "",
    responsible_clinician_id: int | None = None,
    coordinator_id: int | None = None,
) -> models.Case:
    require(user, Capability.EDIT_CASES)
    case = models.Case.objects.select_related("patient").get(pk=case_id)
    p = Problems()
    _check_case(
        p,
        case_id=case_id,
        patient=case.patient,
        primary_site=primary_site,
        sidedness_reported=sidedness_reported,
        primary_symptom=primary_symptom,
        diagnosed_on=diagnosed_on,
        ecog=ecog,
        ecog_assessed_on=ecog_assessed_on,
        stage=stage,
        exit_reason=exit_reason,
        responsible_clinician_id=responsible_clinician_id,
        coordinator_id=coordinator_id,
        today=local_today(),
    )
    p.raise_if_any()
    update_row(
        models.Case,
        pk=case_id,
        expected_version=check_version(expected_version),
        changes={
            "primary_site": primary_site,
            "sidedness_reported": sidedness_reported,
            "primary_symptom": primary_symptom,
            "diagnosed_on": diagnosed_on,
            "ecog": ecog,
            "ecog_assessed_on": ecog_assessed_on,
            "stage": stage,
            "exit_reason": exit_reason,
            "responsible_clinician_id": responsible_clinician_id,
            "coordinator_id": coordinator_id,
        },
    )
    reminders_sync_for_case(case_id=case_id)
    return models.Case.objects.get(pk=case_id)
