"""Operations, planned and performed."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

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


def _check_surgery(
    p: Problems,
    case: models.Case,
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
    p.choice("kind", kind, models.SurgeryKind)
    p.choice("urgency", urgency, models.Urgency)
    p.choice("hepatectomy_extent", hepatectomy_extent, models.HepatectomyExtent, blank=True)
    p.choice("margin", margin, models.Margin, blank=True)
    if hepatectomy_extent and kind not in models.Surgery.LIVER_KINDS:
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
    "urgency": models.Urgency.ELECTIVE,
    "hepatectomy_extent": "",
    "planned_on": None,
    "performed_on": None,
    "margin": "",
    "cancelled_on": None,
    "cancel_reason": "",
}


@transaction.atomic
def surgery_create(*, user: Any, case_id: int, kind: str, **values: Any) -> models.Surgery:
    require(user, Capability.EDIT_CASES)
    case = models.Case.objects.get(pk=case_id)
    values = _surgery_values(values)
    p = Problems()
    _check_surgery(p, case, kind=kind, today=local_today(), **values)
    p.raise_if_any()
    values["cancel_reason"] = values["cancel_reason"].strip()
    surgery = models.Surgery(case=case, kind=kind, **values)
    save_row(surgery)
    reminders_sync_for_case(case_id=case_id)
    return surgery


@transaction.atomic
def surgery_update(
    *, user: Any, surgery_id: int, expected_version: int, kind: str, **values: Any
) -> models.Surgery:
    require(user, Capability.EDIT_CASES)
    surgery = models.Surgery.objects.select_related("case").get(pk=surgery_id)
    values = _surgery_values(values)
    p = Problems()
    _check_surgery(p, surgery.case, kind=kind, today=local_today(), **values)
    p.raise_if_any()
    values["cancel_reason"] = values["cancel_reason"].strip()
    update_row(
        models.Surgery,
        pk=surgery_id,
        expected_version=check_version(expected_version),
        changes={"kind": kind, **values},
    )
    reminders_sync_for_case(case_id=surgery.case_id)
    return models.Surgery.objects.get(pk=surgery_id)


def _surgery_values(values: dict[str, Any]) -> dict[str, Any]:
    unknown = set(values) - set(SURGERY_DEFAULTS)
    if unknown:
        raise TypeError(f"unexpected surgery fields: {', '.join(sorted(unknown))}")
    return SURGERY_DEFAULTS | values
