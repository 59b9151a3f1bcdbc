"""Reassessments: the 2-monthly cycles, their scans and the HPB verdict. The next cycle is
opened here, on the engine's date, and nowhere else."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max, Min

from cases import models
from cases.common.constants import rule_constants
from cases.common.services import ConflictError
from cases.pathway import advise, parse_facts
from cases.records.services.checks import (
    Problems,
    check_version,
    fmt,
    local_today,
    save_row,
    update_row,
)
from cases.records.services.imaging import check_response_against_scan
from cases.reminders.planning import reminders_sync_for_case
from cases.security.permissions import Capability, require


def next_reassessment_due(*, case_id: int) -> dt.date | None:
    """The engine's R9 date: the last formal reassessment (else chemotherapy start) + 2 months."""
    last = models.Reassessment.objects.filter(case_id=case_id).aggregate(d=Max("reassessed_on"))[
        "d"
    ]
    start = models.TreatmentCourse.objects.filter(case_id=case_id).aggregate(d=Min("started_on"))[
        "d"
    ]
    inputs: dict[str, object] = {}
    if last is not None:
        inputs["last_reassessment_date"] = last.isoformat()
    if start is not None:
        inputs["chemo_start_date"] = start.isoformat()
    if not inputs:
        return None
    return advise(parse_facts(inputs), rule_constants()).next_reassessment_date


def reassessment_open_next(case: models.Case) -> models.Reassessment | None:
    """Open the next cycle, on the engine's date, when a case on conversion therapy has none
    open (its first course started, or its last cycle was reassessed)."""
    if case.stage not in (models.Stage.WORKUP, models.Stage.CONVERSION):
        return None
    if models.Reassessment.objects.filter(case_id=case.pk, reassessed_on__isnull=True).exists():
        return None
    due = next_reassessment_due(case_id=case.pk)
    return None if due is None else reassessment_schedule(case_id=case.pk, due_on=due)


def reassessment_schedule(
    *, case_id: int, due_on: dt.date, reschedule: models.Reassessment | None = None
) -> models.Reassessment:
    """Schedule the case's next reassessment on ``due_on``: move ``reschedule`` (an open cycle
    not yet imaged) there, or else open the next cycle. The MDT's sign-off and the record's own
    services both schedule through here, with a date the engine gave."""
    if reschedule is not None:
        if reschedule.due_on != due_on:
            update_row(
                models.Reassessment,
                pk=reschedule.pk,
                expected_version=reschedule.version,
                changes={"due_on": due_on},
            )
        return models.Reassessment.objects.get(pk=reschedule.pk)
    last_cycle = models.Reassessment.objects.filter(case_id=case_id).aggregate(c=Max("cycle"))["c"]
    row = models.Reassessment(case_id=case_id, cycle=(last_cycle or 0) + 1, due_on=due_on)
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:
        raise ConflictError(
            "Someone added a reassessment to this case at the same moment. Nothing was saved: "
            "reload and try again."
        ) from None
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


def _check_reassessment(
    p: Problems, case: models.Case, values: dict[str, Any], today: dt.date
) -> None:
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
    p.choice("modality", values["modality"], models.Modality, blank=True)
    p.choice("response", values["response"], models.Response, blank=True)
    p.choice("extrahepatic_disease", values["extrahepatic_disease"], models.ExtrahepaticDisease)
    p.choice(
        "planned_hepatectomy_extent",
        values["planned_hepatectomy_extent"],
        models.HepatectomyExtent,
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
        "extrahepatic_disease": models.ExtrahepaticDisease.NONE,
        "pet_complete_metabolic_response": False,
        "combined_resection_technically_feasible": False,
        "planned_hepatectomy_extent": "",
    }
    return defaults | values


@transaction.atomic
def reassessment_create(*, user: Any, case_id: int, **values: Any) -> models.Reassessment:
    """Add the next cycle. ``due_on`` defaults to the engine's next reassessment date (R9)."""
    require(user, Capability.EDIT_CASES)
    case = models.Case.objects.get(pk=case_id)
    values = _reassessment_values(values)
    if values["due_on"] is None:
        values["due_on"] = next_reassessment_due(case_id=case_id)
    p = Problems()
    _check_reassessment(p, case, values, local_today())
    p.raise_if_any()
    last_cycle = models.Reassessment.objects.filter(case_id=case_id).aggregate(c=Max("cycle"))["c"]
    row = models.Reassessment(case=case, cycle=(last_cycle or 0) + 1, **values)
    save_row(row)
    if row.reassessed_on is not None:
        reassessment_open_next(case)
    reminders_sync_for_case(case_id=case_id)
    return row


@transaction.atomic
def reassessment_update(
    *, user: Any, reassessment_id: int, expected_version: int, **values: Any
) -> models.Reassessment:
    """Book the scan, record it, record the HPB verdict. Recording the formal reassessment of
    the open cycle opens the next one, due by the engine's rule (R9)."""
    require(user, Capability.EDIT_CASES)
    current = models.Reassessment.objects.select_related("case").get(pk=reassessment_id)
    values = _reassessment_values(values)
    p = Problems()
    _check_reassessment(p, current.case, values, local_today())
    check_response_against_scan(p, reassessment_id=reassessment_id, response=values["response"])
    p.raise_if_any()
    update_row(
        models.Reassessment,
        pk=reassessment_id,
        expected_version=check_version(expected_version),
        changes=values,
    )
    if current.reassessed_on is None and values["reassessed_on"] is not None:
        reassessment_open_next(current.case)
    reminders_sync_for_case(case_id=current.case_id)
    return models.Reassessment.objects.get(pk=reassessment_id)
