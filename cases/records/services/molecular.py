"""Molecular results: one per marker, with request and report dates."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from cases import models
from cases.common.services import ConflictError
from cases.records.services.checks import (
    Problems,
    local_today,
    save_row,
    update_row,
)
from cases.reminders.planning import reminders_sync_for_case
from cases.security.permissions import Capability, require


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
) -> models.MolecularResult:
    """Record one marker's result, or change it (e.g. pending → mutant when the report comes).

    ``expected_version`` is None for the first entry of a marker and the version the editor saw
    for a change; a result someone else entered meanwhile is a conflict, never overwritten.
    """
    require(user, Capability.EDIT_CASES)
    case = models.Case.objects.get(pk=case_id)
    today = local_today()
    p = Problems()
    p.choice("marker", marker, models.Marker)
    if "marker" not in p and status not in models.MARKER_STATUSES[marker]:
        allowed = ", ".join(models.MarkerStatus(s).label for s in models.MARKER_STATUSES[marker])
        p.add("status", f"{models.Marker(marker).label} can be: {allowed}.")
    p.text("method", method, label="Method", max_length=120, required=False)
    p.date("requested_on", requested_on, label="Request date", today=today, past_only=True)
    p.date("reported_on", reported_on, label="Report date", today=today, past_only=True)
    if status == models.MarkerStatus.PENDING:
        if requested_on is None:
            p.add("requested_on", "A pending result needs the date it was requested.")
        if reported_on is not None:
            p.add("reported_on", "A pending result has no report date yet.")
    elif status == models.MarkerStatus.NOT_TESTED:
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
    existing = models.MolecularResult.objects.filter(case_id=case_id, marker=marker).first()
    if expected_version is None:
        if existing is not None:
            raise ConflictError(
                f"Someone has already recorded a {models.Marker(marker).label} result for this "
                "case. Nothing was saved: reload to see it, then change it if you need to."
            )
        result = models.MolecularResult(case_id=case_id, marker=marker, **fields)
        save_row(result)
    else:
        if existing is None:
            raise ConflictError()
        update_row(
            models.MolecularResult,
            pk=existing.pk,
            expected_version=expected_version,
            changes=fields,
        )
        result = models.MolecularResult.objects.get(pk=existing.pk)
    reminders_sync_for_case(case_id=case_id)
    return result


@transaction.atomic
def molecular_profile_record(
    *, user: Any, case_id: int, entries: list[dict[str, Any]]
) -> list[models.MolecularResult]:
    """Several markers at once (the one-page molecular form): all are written or none.

    Each entry holds ``molecular_result_record``'s arguments. A refused marker's messages come
    back keyed ``<marker>-<field>``, every marker's problems together.
    """
    require(user, Capability.EDIT_CASES)
    problems: dict[str, list[str]] = {}
    saved = []
    for entry in entries:
        try:
            saved.append(molecular_result_record(user=user, case_id=case_id, **entry))
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                problems.setdefault(f"{entry['marker']}-{field}", []).extend(messages)
    if problems:
        raise ValidationError(problems)
    return saved
