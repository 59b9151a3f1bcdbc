"""Writes to the clinical record: patient, case, molecular results, reassessments, treatment,
radiotherapy, surgery and the status of MDT actions.

Every service here follows the same steps:

1. ``require`` the capability (the rule holds whatever the entry point: form, API, shell);
2. check the new values clinically and raise ``ValidationError`` keyed by field, so a form can
   show each message next to the field it is about;
3. write: an insert, or an optimistic-lock compare-and-set (``update_versioned``) that refuses
   with ``ConflictError``, writing nothing, when someone else changed the row since the editor
   loaded it;
4. bring the case's reminders in line with the new facts, in the same transaction.

Dates: ``timezone.localdate()`` is "today". A fact (a scan, an operation, a dose) cannot be in the
future; a plan can, but not by years (a mistyped year must not reach the date arithmetic).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import Max, Min
from django.utils import timezone

from cases import models as m
from cases.common.services import ConflictError, update_versioned
from cases.pathway import advise, parse_facts
from cases.records.mapping import rule_constants
from cases.reminders.planning import reminders_sync_for_case
from cases.security.permissions import Capability, require

EARLIEST_DATE = dt.date(1900, 1, 1)
# Plans further ahead than this are almost certainly a mistyped year.
PLANNING_HORIZON = dt.timedelta(days=3 * 366)
# Five fractions of 5 Gy are given over about a week.
SCRT_MAX_DAYS = 14
CLINICAL_ROLES = (m.Role.CLINICIAN, m.Role.CHAIR)

# What each backbone is made of (a course naming FOLFOX must include both of its drugs).
BACKBONE_AGENTS = {
    m.Backbone.FOLFOX: {"fluorouracil", "oxaliplatin"},
    m.Backbone.CAPOX: {"capecitabine", "oxaliplatin"},
    m.Backbone.FOLFIRI: {"fluorouracil", "irinotecan"},
    m.Backbone.FOLFOXIRI: {"fluorouracil", "oxaliplatin", "irinotecan"},
}


def fmt(day: dt.date) -> str:
    return day.strftime("%d %b %Y").lstrip("0")


# --- Shared checking helpers -----------------------------------------------------------------


class Problems:
    """Collects field-keyed messages so the user sees every problem at once, not one per try."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def __contains__(self, field: str) -> bool:
        return field in self.errors

    def raise_if_any(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)

    def date(
        self,
        field: str,
        value: dt.date | None,
        *,
        label: str,
        today: dt.date,
        past_only: bool = False,
        required: bool = False,
    ) -> None:
        """A date that exists, is not before 1900, and is not in the future when it is a fact."""
        if value is None:
            if required:
                self.add(field, f"{label} is required.")
            return
        if value < EARLIEST_DATE:
            self.add(field, f"{label} cannot be before 1900: check the year.")
        elif past_only and value > today:
            self.add(field, f"{label} cannot be in the future (today is {fmt(today)}).")
        elif value > today + PLANNING_HORIZON:
            self.add(field, f"{label} is more than three years ahead: check the year.")

    def choice(
        self, field: str, value: str, choices: type[models.TextChoices], *, blank: bool = False
    ) -> None:
        if blank and value == "":
            return
        if value not in choices.values:
            self.add(field, f"“{value}” is not one of the allowed values.")

    def text(self, field: str, value: str, *, label: str, max_length: int, required: bool) -> None:
        if required and not value.strip():
            self.add(field, f"{label} is required.")
        elif len(value) > max_length:
            self.add(field, f"{label} must be at most {max_length} characters.")

    def not_before(
        self, field: str, value: dt.date | None, limit: dt.date | None, message: str
    ) -> None:
        if value is not None and limit is not None and value < limit and field not in self:
            self.add(field, message)


def _today() -> dt.date:
    return timezone.localdate()


def _save(obj: models.Model) -> None:
    """Insert a row; a database constraint the checks above missed becomes a message, not a 500."""
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError as error:
        raise ValidationError({NON_FIELD_ERRORS: [_integrity_message(error)]}) from error


def _update(
    model: type[models.Model], *, pk: int, expected_version: int, changes: dict[str, Any]
) -> int:
    try:
        with transaction.atomic():
            return update_versioned(
                model, pk=pk, expected_version=expected_version, changes=changes
            )
    except IntegrityError as error:
        raise ValidationError({NON_FIELD_ERRORS: [_integrity_message(error)]}) from error


def _integrity_message(error: IntegrityError) -> str:
    text = str(error)
    if "unique" in text.lower() or "duplicate" in text.lower():
        return "This would duplicate a record that already exists. Nothing was saved."
    return "These values break a rule of the clinical record. Nothing was saved."


def _check_version(expected_version: int | None) -> int:
    if expected_version is None or expected_version < 1:
        raise ConflictError("The form did not say which version of the record it edited.")
    return expected_version


# --- Patient ---------------------------------------------------------------------------------


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
    others = m.Patient.objects.exclude(pk=patient_id)
    if "hospital_number" not in p and others.filter(hospital_number=hospital_number).exists():
        p.add("hospital_number", "Another patient already has this hospital number.")
    if "nhs_number" not in p and nhs_number and others.filter(nhs_number=nhs_number).exists():
        p.add("nhs_number", "Another patient already has this NHS number.")
    if patient_id is not None and date_of_birth and "date_of_birth" not in p:
        first = m.Case.objects.filter(patient_id=patient_id).aggregate(d=Min("diagnosed_on"))["d"]
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
) -> m.Patient:
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
        today=_today(),
    )
    p.raise_if_any()
    patient = m.Patient(
        hospital_number=hospital_number,
        nhs_number=nhs_number,
        family_name=family_name.strip(),
        given_name=given_name.strip(),
        date_of_birth=date_of_birth,
    )
    _save(patient)
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
) -> m.Patient:
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
        today=_today(),
    )
    p.raise_if_any()
    _update(
        m.Patient,
        pk=patient_id,
        expected_version=_check_version(expected_version),
        changes={
            "hospital_number": hospital_number,
            "nhs_number": nhs_number,
            "family_name": family_name.strip(),
            "given_name": given_name.strip(),
            "date_of_birth": date_of_birth,
        },
    )
    for case_id in m.Case.objects.filter(patient_id=patient_id).values_list("pk", flat=True):
        reminders_sync_for_case(case_id=case_id)
    return m.Patient.objects.get(pk=patient_id)


# --- Case ------------------------------------------------------------------------------------


def _first_clinical_events(case_id: int) -> list[tuple[dt.date, str]]:
    """The earliest dated fact of each kind, to keep the diagnosis date before all of them."""
    scans = m.Reassessment.objects.filter(case_id=case_id).aggregate(d=Min("imaging_performed_on"))[
        "d"
    ]
    courses = m.TreatmentCourse.objects.filter(case_id=case_id).aggregate(d=Min("started_on"))["d"]
    rt = m.Radiotherapy.objects.filter(case_id=case_id).aggregate(d=Min("started_on"))["d"]
    ops = m.Surgery.objects.filter(case_id=case_id).aggregate(d=Min("performed_on"))["d"]
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
    patient: m.Patient,
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
    p.choice("primary_site", primary_site, m.PrimarySite)
    p.choice("sidedness_reported", sidedness_reported, m.Side, blank=True)
    p.choice("primary_symptom", primary_symptom, m.PrimarySymptom)
    p.choice("stage", stage, m.Stage)
    p.choice("exit_reason", exit_reason, m.ExitReason, blank=True)
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
    if stage == m.Stage.LEFT_PATHWAY and not exit_reason:
        p.add("exit_reason", "Say why the case left the pathway.")
    if exit_reason and stage != m.Stage.LEFT_PATHWAY:
        p.add("exit_reason", "Only a case that left the pathway has an exit reason.")
    if (
        responsible_clinician_id is not None
        and not m.User.objects.filter(
            pk=responsible_clinician_id, is_active=True, role__in=CLINICAL_ROLES
        ).exists()
    ):
        p.add("responsible_clinician", "Choose an active clinician.")
    if (
        coordinator_id is not None
        and not m.User.objects.filter(pk=coordinator_id, is_active=True).exists()
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
    primary_symptom: str = m.PrimarySymptom.NONE,
    ecog: int | None = None,
    ecog_assessed_on: dt.date | None = None,
    stage: str = m.Stage.WORKUP,
    exit_reason: str = "",
    responsible_clinician_id: int | None = None,
    coordinator_id: int | None = None,
) -> m.Case:
    require(user, Capability.EDIT_CASES)
    patient = m.Patient.objects.get(pk=patient_id)
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
        today=_today(),
    )
    p.raise_if_any()
    case = m.Case(
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
    _save(case)
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
    primary_symptom: str = m.PrimarySymptom.NONE,
    ecog: int | None = None,
    ecog_assessed_on: dt.date | None = None,
    stage: str = m.Stage.WORKUP,
    exit_reason: str = "",
    responsible_clinician_id: int | None = None,
    coordinator_id: int | None = None,
) -> m.Case:
    require(user, Capability.EDIT_CASES)
    case = m.Case.objects.select_related("patient").get(pk=case_id)
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
        today=_today(),
    )
    p.raise_if_any()
    _update(
        m.Case,
        pk=case_id,
        expected_version=_check_version(expected_version),
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
    return m.Case.objects.get(pk=case_id)


# --- Molecular results -----------------------------------------------------------------------


@transaction.atomic
def molecular_result_record(
    *,
    user: Any,
    case_id: int,
    marker: str,
    status: str,
    method: str = "",
    requested_on: dt.date | None = None,
    reported_on: dt.date | None = None,
    expected_version: int | None = None,
) -> m.MolecularResult:
    """Record one marker's result, or change it (e.g. pending → mutant when the report comes).

    ``expected_version`` is None for the first entry of a marker and the version the editor saw
    for a change; a result someone else entered meanwhile is a conflict, never overwritten.
    """
    require(user, Capability.EDIT_CASES)
    case = m.Case.objects.get(pk=case_id)
    today = _today()
    p = Problems()
    p.choice("marker", marker, m.Marker)
    if "marker" not in p and status not in m.MARKER_STATUSES[marker]:
        allowed = ", ".join(m.MarkerStatus(s).label for s in m.MARKER_STATUSES[marker])
        p.add("status", f"{m.Marker(marker).label} can be: {allowed}.")
    p.text("method", method, label="Method", max_length=120, required=False)
    p.date("requested_on", requested_on, label="Request date", today=today, past_only=True)
    p.date("reported_on", reported_on, label="Report date", today=today, past_only=True)
    if status == m.MarkerStatus.PENDING:
        if requested_on is None:
            p.add("requested_on", "A pending result needs the date it was requested.")
        if reported_on is not None:
            p.add("reported_on", "A pending result has no report date yet.")
    elif status == m.MarkerStatus.NOT_TESTED:
        if reported_on is not None:
            p.add("reported_on", "A marker that was not tested has no report date.")
    elif reported_on is None:
        p.add("reported_on", "A reported result needs its report date.")
    if requested_on and reported_on and reported_on < requested_on:
        p.add("reported_on", "The report cannot be before the request.")
    p.not_before(
        "requested_on",
        requested_on,
        case.diagnosed_on - dt.timedelta(days=31),
        "The request is more than a month before the diagnosis: check the date.",
    )
    p.raise_if_any()
    fields = {
        "status": status,
        "method": method.strip(),
        "requested_on": requested_on,
        "reported_on": reported_on,
    }
    existing = m.MolecularResult.objects.filter(case_id=case_id, marker=marker).first()
    if expected_version is None:
        if existing is not None:
            raise ConflictError(
                f"Someone has already recorded a {m.Marker(marker).label} result for this case. "
                "Nothing was saved: reload to see it, then change it if you need to."
            )
        result = m.MolecularResult(case_id=case_id, marker=marker, **fields)
        _save(result)
    else:
        if existing is None:
            raise ConflictError()
        _update(
            m.MolecularResult, pk=existing.pk, expected_version=expected_version, changes=fields
        )
        result = m.MolecularResult.objects.get(pk=existing.pk)
    reminders_sync_for_case(case_id=case_id)
    return result


# --- Reassessments ---------------------------------------------------------------------------


def next_reassessment_due(*, case_id: int) -> dt.date | None:
    """The engine's R9 date: the last formal reassessment (else chemotherapy start) + 2 months."""
    last = m.Reassessment.objects.filter(case_id=case_id).aggregate(d=Max("reassessed_on"))["d"]
    start = m.TreatmentCourse.objects.filter(case_id=case_id).aggregate(d=Min("started_on"))["d"]
    inputs: dict[str, object] = {}
    if last is not None:
        inputs["last_reassessment_date"] = last.isoformat()
    if start is not None:
        inputs["chemo_start_date"] = start.isoformat()
    if not inputs:
        return None
    return advise(parse_facts(inputs), rule_constants()).next_reassessment_date


def _schedule_next_reassessment(case: m.Case) -> m.Reassessment | None:
    """Open the next cycle when a case on conversion therapy has none open."""
    if case.stage not in (m.Stage.WORKUP, m.Stage.CONVERSION):
        return None
    cycles = m.Reassessment.objects.filter(case_id=case.pk)
    if cycles.filter(reassessed_on__isnull=True).exists():
        return None
    due = next_reassessment_due(case_id=case.pk)
    if due is None:
        return None
    last_cycle = cycles.aggregate(c=Max("cycle"))["c"] or 0
    row = m.Reassessment(case_id=case.pk, cycle=last_cycle + 1, due_on=due)
    _save(row)
    return row


REASSESSMENT_FIELDS = (
    "due_on",
    "imaging_booked_for",
    "imaging_performed_on",
    "modality",
    "response",
    "reassessed_on",
    "hpb_mdt_reviewed",
    "r0_achievable",
    "flr_percent_slv",
    "flr_segments_remaining",
    "extrahepatic_disease",
    "pet_complete_metabolic_response",
    "combined_resection_technically_feasible",
    "planned_hepatectomy_extent",
)


def _check_reassessment(p: Problems, case: m.Case, values: dict[str, Any], today: dt.date) -> None:
    before_diagnosis = f"is before the diagnosis ({fmt(case.diagnosed_on)})."
    p.date("due_on", values["due_on"], label="Due date", today=today, required=True)
    p.date(
        "imaging_booked_for", values["imaging_booked_for"], label="Booked scan date", today=today
    )
    p.date(
        "imaging_performed_on",
        values["imaging_performed_on"],
        label="Scan date",
        today=today,
        past_only=True,
    )
    p.date(
        "reassessed_on",
        values["reassessed_on"],
        label="Reassessment date",
        today=today,
        past_only=True,
    )
    for field, label in (
        ("due_on", "The due date"),
        ("imaging_booked_for", "The booked scan"),
        ("imaging_performed_on", "The scan"),
        ("reassessed_on", "The reassessment"),
    ):
        p.not_before(field, values[field], case.diagnosed_on, f"{label} {before_diagnosis}")
    scanned = values["imaging_performed_on"]
    if scanned is not None and not values["modality"]:
        p.add("modality", "Say which scan was done.")
    if values["response"] and scanned is None:
        p.add("response", "A response is read from a scan: give the scan date.")
    if values["reassessed_on"] is not None:
        if scanned is None:
            p.add("reassessed_on", "A reassessment judges a scan: give the scan date first.")
        else:
            p.not_before(
                "reassessed_on",
                values["reassessed_on"],
                scanned,
                "The reassessment cannot be before the scan it judged.",
            )
    p.choice("modality", values["modality"], m.Modality, blank=True)
    p.choice("response", values["response"], m.Response, blank=True)
    p.choice("extrahepatic_disease", values["extrahepatic_disease"], m.ExtrahepaticDisease)
    p.choice(
        "planned_hepatectomy_extent",
        values["planned_hepatectomy_extent"],
        m.HepatectomyExtent,
        blank=True,
    )
    flr = values["flr_percent_slv"]
    if flr is not None and not (Decimal(0) <= Decimal(flr) <= Decimal(100)):
        p.add("flr_percent_slv", "The future liver remnant is a percentage from 0 to 100.")
    segments = values["flr_segments_remaining"]
    if segments is not None and not 0 <= segments <= 8:
        p.add("flr_segments_remaining", "The liver has 8 segments: enter 0 to 8.")


def _reassessment_values(values: dict[str, Any]) -> dict[str, Any]:
    unknown = set(values) - set(REASSESSMENT_FIELDS)
    if unknown:
        raise TypeError(f"unexpected reassessment fields: {', '.join(sorted(unknown))}")
    defaults: dict[str, Any] = {
        "due_on": None,
        "imaging_booked_for": None,
        "imaging_performed_on": None,
        "modality": "",
        "response": "",
        "reassessed_on": None,
        "hpb_mdt_reviewed": False,
        "r0_achievable": None,
        "flr_percent_slv": None,
        "flr_segments_remaining": None,
        "extrahepatic_disease": m.ExtrahepaticDisease.NONE,
        "pet_complete_metabolic_response": False,
        "combined_resection_technically_feasible": False,
        "planned_hepatectomy_extent": "",
    }
    return defaults | values


@transaction.atomic
def reassessment_create(*, user: Any, case_id: int, **values: Any) -> m.Reassessment:
    """Add the next cycle. ``due_on`` defaults to the engine's next reassessment date (R9)."""
    require(user, Capability.EDIT_CASES)
    case = m.Case.objects.get(pk=case_id)
    values = _reassessment_values(values)
    if values["due_on"] is None:
        values["due_on"] = next_reassessment_due(case_id=case_id)
    p = Problems()
    _check_reassessment(p, case, values, _today())
    p.raise_if_any()
    last_cycle = m.Reassessment.objects.filter(case_id=case_id).aggregate(c=Max("cycle"))["c"]
    row = m.Reassessment(case=case, cycle=(last_cycle or 0) + 1, **values)
    _save(row)
    if row.reassessed_on is not None:
        _schedule_next_reassessment(case)
    reminders_sync_for_case(case_id=case_id)
    return row


@transaction.atomic
def reassessment_update(
    *, user: Any, reassessment_id: int, expected_version: int, **values: Any
) -> m.Reassessment:
    """Book the scan, record it, record the HPB verdict. Recording the formal reassessment of
    the open cycle opens the next one, due by the engine's rule (R9)."""
    require(user, Capability.EDIT_CASES)
    current = m.Reassessment.objects.select_related("case").get(pk=reassessment_id)
    values = _reassessment_values(values)
    p = Problems()
    _check_reassessment(p, current.case, values, _today())
    p.raise_if_any()
    _update(
        m.Reassessment,
        pk=reassessment_id,
        expected_version=_check_version(expected_version),
        changes=values,
    )
    if current.reassessed_on is None and values["reassessed_on"] is not None:
        _schedule_next_reassessment(current.case)
    reminders_sync_for_case(case_id=current.case_id)
    return m.Reassessment.objects.get(pk=reassessment_id)


# --- Treatment courses and doses -------------------------------------------------------------


def _check_course(
    p: Problems,
    case: m.Case,
    *,
    course_id: int | None,
    intent: str,
    backbone: str,
    agents: Iterable[str],
    started_on: dt.date | None,
    stopped_on: dt.date | None,
    stop_reason: str,
    today: dt.date,
) -> None:
    agents = list(agents)
    p.choice("intent", intent, m.Intent)
    p.choice("backbone", backbone, m.Backbone, blank=True)
    if not agents:
        p.add("agents", "Tick the agents of this course.")
    for agent in agents:
        if agent not in m.Agent.values:
            p.add("agents", f"“{agent}” is not a known agent.")
    if "backbone" not in p and backbone:
        needed = BACKBONE_AGENTS[m.Backbone(backbone)] - set(agents)
        if needed:
            names = ", ".join(m.Agent(a).label.lower() for a in sorted(needed))
            p.add("agents", f"{m.Backbone(backbone).label} includes {names}: tick it too.")
    p.date("started_on", started_on, label="Start date", today=today, past_only=True, required=True)
    p.date("stopped_on", stopped_on, label="Stop date", today=today, past_only=True)
    p.not_before(
        "started_on",
        started_on,
        case.diagnosed_on,
        f"Treatment cannot start before the diagnosis ({fmt(case.diagnosed_on)}).",
    )
    p.not_before("stopped_on", stopped_on, started_on, "A course cannot stop before it started.")
    p.text("stop_reason", stop_reason, label="Stop reason", max_length=200, required=False)
    if stop_reason.strip() and stopped_on is None:
        p.add("stopped_on", "Give the date the course stopped.")
    if course_id is None or "started_on" in p or "stopped_on" in p or started_on is None:
        return
    doses = m.AgentAdministration.objects.filter(course_id=course_id)
    outside = doses.filter(given_on__lt=started_on)
    if stopped_on is not None:
        outside = outside | doses.filter(given_on__gt=stopped_on)
    first_outside = outside.order_by("given_on").first()
    if first_outside is not None:
        p.add(
            "started_on",
            f"A dose on {fmt(first_outside.given_on)} would fall outside the "
            "course: correct that dose first.",
        )
    stray = doses.exclude(agent__in=agents).order_by("given_on").first()
    if stray is not None and "agents" not in p:
        p.add(
            "agents",
            f"{stray.get_agent_display()} doses are recorded for this course: keep it ticked.",
        )


@transaction.atomic
def treatment_course_create(
    *,
    user: Any,
    case_id: int,
    agents: list[str],
    started_on: dt.date,
    intent: str = m.Intent.CONVERSION,
    backbone: str = "",
    stopped_on: dt.date | None = None,
    stop_reason: str = "",
) -> m.TreatmentCourse:
    """Record a course. The first course of a case on the pathway opens reassessment cycle 1,
    due two months after the start (R9)."""
    require(user, Capability.EDIT_CASES)
    case = m.Case.objects.get(pk=case_id)
    p = Problems()
    _check_course(
        p,
        case,
        course_id=None,
        intent=intent,
        backbone=backbone,
        agents=agents,
        started_on=started_on,
        stopped_on=stopped_on,
        stop_reason=stop_reason,
        today=_today(),
    )
    p.raise_if_any()
    course = m.TreatmentCourse(
        case=case,
        intent=intent,
        backbone=backbone,
        agents=sorted(set(agents), key=m.Agent.values.index),
        started_on=started_on,
        stopped_on=stopped_on,
        stop_reason=stop_reason.strip(),
    )
    _save(course)
    _schedule_next_reassessment(case)
    reminders_sync_for_case(case_id=case_id)
    return course


@transaction.atomic
def treatment_course_update(
    *,
    user: Any,
    course_id: int,
    expected_version: int,
    agents: list[str],
    started_on: dt.date,
    intent: str = m.Intent.CONVERSION,
    backbone: str = "",
    stopped_on: dt.date | None = None,
    stop_reason: str = "",
) -> m.TreatmentCourse:
    require(user, Capability.EDIT_CASES)
    course = m.TreatmentCourse.objects.select_related("case").get(pk=course_id)
    p = Problems()
    _check_course(
        p,
        course.case,
        course_id=course_id,
        intent=intent,
        backbone=backbone,
        agents=agents,
        started_on=started_on,
        stopped_on=stopped_on,
        stop_reason=stop_reason,
        today=_today(),
    )
    p.raise_if_any()
    _update(
        m.TreatmentCourse,
        pk=course_id,
        expected_version=_check_version(expected_version),
        changes={
            "intent": intent,
            "backbone": backbone,
            "agents": sorted(set(agents), key=m.Agent.values.index),
            "started_on": started_on,
            "stopped_on": stopped_on,
            "stop_reason": stop_reason.strip(),
        },
    )
    reminders_sync_for_case(case_id=course.case_id)
    return m.TreatmentCourse.objects.get(pk=course_id)


def _check_administration(
    p: Problems,
    course: m.TreatmentCourse,
    *,
    administration_id: int | None,
    agent: str,
    given_on: dt.date | None,
    cycle_number: int | None,
    note: str,
    today: dt.date,
) -> None:
    p.choice("agent", agent, m.Agent)
    if "agent" not in p and agent not in course.agents:
        p.add(
            "agent",
            f"{m.Agent(agent).label} is not part of this course: add it to the course first.",
        )
    p.date("given_on", given_on, label="Date given", today=today, past_only=True, required=True)
    p.not_before(
        "given_on",
        given_on,
        course.started_on,
        f"The course started on {fmt(course.started_on)}, after this dose.",
    )
    if given_on and course.stopped_on and given_on > course.stopped_on and "given_on" not in p:
        p.add("given_on", f"The course stopped on {fmt(course.stopped_on)}, before this dose.")
    if cycle_number is not None and not 1 <= cycle_number <= 200:
        p.add("cycle_number", "A cycle number is between 1 and 200.")
    p.text("note", note, label="Note", max_length=300, required=False)
    if agent == m.Agent.BEVACIZUMAB and given_on is not None and "given_on" not in p:
        operation = (
            m.Surgery.objects.filter(case_id=course.case_id, performed_on__lt=given_on)
            .order_by("-performed_on")
            .first()
        )
        if operation is not None and not note.strip():
            p.add(
                "note",
                f"Bevacizumab after the operation on {fmt(operation.performed_on)} "
                "(wound healing): say why it was given, e.g. restarted after recovery.",
            )
    if given_on is not None and "given_on" not in p and "agent" not in p:
        twin = m.AgentAdministration.objects.filter(
            course_id=course.pk, agent=agent, given_on=given_on
        ).exclude(pk=administration_id)
        if twin.exists():
            p.add(
                "given_on",
                f"A {m.Agent(agent).label} dose on {fmt(given_on)} is already "
                "recorded for this course.",
            )


@transaction.atomic
def administration_create(
    *,
    user: Any,
    course_id: int,
    agent: str,
    given_on: dt.date,
    cycle_number: int | None = None,
    note: str = "",
) -> m.AgentAdministration:
    require(user, Capability.EDIT_CASES)
    course = m.TreatmentCourse.objects.get(pk=course_id)
    p = Problems()
    _check_administration(
        p,
        course,
        administration_id=None,
        agent=agent,
        given_on=given_on,
        cycle_number=cycle_number,
        note=note,
        today=_today(),
    )
    p.raise_if_any()
    dose = m.AgentAdministration(
        course=course, agent=agent, given_on=given_on, cycle_number=cycle_number, note=note.strip()
    )
    _save(dose)
    reminders_sync_for_case(case_id=course.case_id)
    return dose


@transaction.atomic
def administration_update(
    *,
    user: Any,
    administration_id: int,
    expected_version: int,
    agent: str,
    given_on: dt.date,
    cycle_number: int | None = None,
    note: str = "",
) -> m.AgentAdministration:
    require(user, Capability.EDIT_CASES)
    dose = m.AgentAdministration.objects.select_related("course").get(pk=administration_id)
    p = Problems()
    _check_administration(
        p,
        dose.course,
        administration_id=administration_id,
        agent=agent,
        given_on=given_on,
        cycle_number=cycle_number,
        note=note,
        today=_today(),
    )
    p.raise_if_any()
    _update(
        m.AgentAdministration,
        pk=administration_id,
        expected_version=_check_version(expected_version),
        changes={
            "agent": agent,
            "given_on": given_on,
            "cycle_number": cycle_number,
            "note": note.strip(),
        },
    )
    reminders_sync_for_case(case_id=dose.course.case_id)
    return m.AgentAdministration.objects.get(pk=administration_id)


# --- Radiotherapy ----------------------------------------------------------------------------


def _check_radiotherapy(
    p: Problems,
    case: m.Case,
    *,
    kind: str,
    started_on: dt.date | None,
    completed_on: dt.date | None,
    today: dt.date,
) -> None:
    p.choice("kind", kind, m.PelvicRadiotherapy)
    p.date("started_on", started_on, label="Start date", today=today, required=True)
    p.date("completed_on", completed_on, label="Completion date", today=today, past_only=True)
    p.not_before(
        "started_on",
        started_on,
        case.diagnosed_on,
        f"Radiotherapy cannot start before the diagnosis ({fmt(case.diagnosed_on)}).",
    )
    p.not_before(
        "completed_on", completed_on, started_on, "Radiotherapy cannot finish before it started."
    )
    if (
        kind == m.PelvicRadiotherapy.SHORT_COURSE_5X5
        and started_on
        and completed_on
        and "completed_on" not in p
        and (completed_on - started_on).days > SCRT_MAX_DAYS
    ):
        p.add(
            "completed_on",
            "Short-course radiotherapy is five fractions over about a week: "
            "check the dates (the last fraction starts the 6-month surgery window).",
        )


@transaction.atomic
def radiotherapy_create(
    *,
    user: Any,
    case_id: int,
    kind: str,
    started_on: dt.date,
    completed_on: dt.date | None = None,
) -> m.Radiotherapy:
    require(user, Capability.EDIT_CASES)
    case = m.Case.objects.get(pk=case_id)
    p = Problems()
    _check_radiotherapy(
        p, case, kind=kind, started_on=started_on, completed_on=completed_on, today=_today()
    )
    p.raise_if_any()
    rt = m.Radiotherapy(case=case, kind=kind, started_on=started_on, completed_on=completed_on)
    _save(rt)
    reminders_sync_for_case(case_id=case_id)
    return rt


@transaction.atomic
def radiotherapy_update(
    *,
    user: Any,
    radiotherapy_id: int,
    expected_version: int,
    kind: str,
    started_on: dt.date,
    completed_on: dt.date | None = None,
) -> m.Radiotherapy:
    require(user, Capability.EDIT_CASES)
    rt = m.Radiotherapy.objects.select_related("case").get(pk=radiotherapy_id)
    p = Problems()
    _check_radiotherapy(
        p, rt.case, kind=kind, started_on=started_on, completed_on=completed_on, today=_today()
    )
    p.raise_if_any()
    _update(
        m.Radiotherapy,
        pk=radiotherapy_id,
        expected_version=_check_version(expected_version),
        changes={"kind": kind, "started_on": started_on, "completed_on": completed_on},
    )
    reminders_sync_for_case(case_id=rt.case_id)
    return m.Radiotherapy.objects.get(pk=radiotherapy_id)


# --- Surgery ---------------------------------------------------------------------------------


def _check_surgery(
    p: Problems,
    case: m.Case,
    *,
    kind: str,
    urgency: str,
    hepatectomy_extent: str,
    planned_on: dt.date | None,
    performed_on: dt.date | None,
    margin: str,
    cancelled_on: dt.date | None,
    cancel_reason: str,
    today: dt.date,
) -> None:
    p.choice("kind", kind, m.SurgeryKind)
    p.choice("urgency", urgency, m.Urgency)
    p.choice("hepatectomy_extent", hepatectomy_extent, m.HepatectomyExtent, blank=True)
    p.choice("margin", margin, m.Margin, blank=True)
    if hepatectomy_extent and kind not in m.Surgery.LIVER_KINDS:
        p.add("hepatectomy_extent", "Only a liver resection has a hepatectomy extent.")
    if planned_on is None and performed_on is None:
        p.add("planned_on", "Give the planned date, or the date it was performed.")
    p.date("planned_on", planned_on, label="Planned date", today=today)
    p.date("performed_on", performed_on, label="Date performed", today=today, past_only=True)
    p.date("cancelled_on", cancelled_on, label="Cancellation date", today=today, past_only=True)
    for field, value in (("planned_on", planned_on), ("performed_on", performed_on)):
        p.not_before(
            field,
            value,
            case.diagnosed_on,
            f"Surgery cannot be before the diagnosis ({fmt(case.diagnosed_on)}).",
        )
    if margin and performed_on is None:
        p.add("margin", "A margin comes from the pathology of an operation that was performed.")
    if cancelled_on is not None and performed_on is not None:
        p.add("cancelled_on", "An operation that was performed was not cancelled.")
    p.text(
        "cancel_reason",
        cancel_reason,
        label="Cancellation reason",
        max_length=200,
        required=cancelled_on is not None,
    )
    if cancel_reason.strip() and cancelled_on is None:
        p.add("cancelled_on", "Give the date it was cancelled.")


SURGERY_DEFAULTS: dict[str, Any] = {
    "urgency": m.Urgency.ELECTIVE,
    "hepatectomy_extent": "",
    "planned_on": None,
    "performed_on": None,
    "margin": "",
    "cancelled_on": None,
    "cancel_reason": "",
}


@transaction.atomic
def surgery_create(*, user: Any, case_id: int, kind: str, **values: Any) -> m.Surgery:
    require(user, Capability.EDIT_CASES)
    case = m.Case.objects.get(pk=case_id)
    values = _surgery_values(values)
    p = Problems()
    _check_surgery(p, case, kind=kind, today=_today(), **values)
    p.raise_if_any()
    values["cancel_reason"] = values["cancel_reason"].strip()
    surgery = m.Surgery(case=case, kind=kind, **values)
    _save(surgery)
    reminders_sync_for_case(case_id=case_id)
    return surgery


@transaction.atomic
def surgery_update(
    *, user: Any, surgery_id: int, expected_version: int, kind: str, **values: Any
) -> m.Surgery:
    require(user, Capability.EDIT_CASES)
    surgery = m.Surgery.objects.select_related("case").get(pk=surgery_id)
    values = _surgery_values(values)
    p = Problems()
    _check_surgery(p, surgery.case, kind=kind, today=_today(), **values)
    p.raise_if_any()
    values["cancel_reason"] = values["cancel_reason"].strip()
    _update(
        m.Surgery,
        pk=surgery_id,
        expected_version=_check_version(expected_version),
        changes={"kind": kind, **values},
    )
    reminders_sync_for_case(case_id=surgery.case_id)
    return m.Surgery.objects.get(pk=surgery_id)


def _surgery_values(values: dict[str, Any]) -> dict[str, Any]:
    unknown = set(values) - set(SURGERY_DEFAULTS)
    if unknown:
        raise TypeError(f"unexpected surgery fields: {', '.join(sorted(unknown))}")
    return SURGERY_DEFAULTS | values


# --- MDT actions -----------------------------------------------------------------------------


@transaction.atomic
def action_status_set(
    *,
    user: Any,
    action_id: int,
    expected_version: int,
    status: str,
    not_done_reason: str = "",
) -> m.Action:
    """Mark an MDT action done, not done (with the reason), or open again."""
    require(user, Capability.EDIT_CASES)
    action = m.Action.objects.get(pk=action_id)
    p = Problems()
    p.choice("status", status, m.ActionStatus)
    p.text(
        "not_done_reason",
        not_done_reason,
        label="Reason",
        max_length=300,
        required=status == m.ActionStatus.NOT_DONE,
    )
    p.raise_if_any()
    closed = status != m.ActionStatus.OPEN
    _update(
        m.Action,
        pk=action_id,
        expected_version=_check_version(expected_version),
        changes={
            "status": status,
            "not_done_reason": not_done_reason.strip() if status == m.ActionStatus.NOT_DONE else "",
            "completed_at": timezone.now() if closed else None,
        },
    )
    reminders_sync_for_case(case_id=action.case_id)
    return m.Action.objects.get(pk=action_id)
