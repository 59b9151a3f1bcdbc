"""Pelvic radiotherapy courses."""

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

# Five fractions of 5 Gy are given over about a week.
SCRT_MAX_SPAN = dt.timedelta(weeks=2)


def _check_radiotherapy(
    p: Problems,
    case: models.Case,
    *,
    kind: str,
    started_on: dt.date | None,
    completed_on: dt.date | None,
    today: dt.date,
) -> None:
    p.choice("kind", kind, models.PelvicRadiotherapy)
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
        kind == models.PelvicRadiotherapy.SHORT_COURSE_5X5
        and started_on
        and completed_on
        and "completed_on" not in p
        and completed_on - started_on > SCRT_MAX_SPAN
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
) -> models.Radiotherapy:
    require(user, Capability.EDIT_CASES)
    case = models.Case.objects.get(pk=case_id)
    p = Problems()
    _check_radiotherapy(
        p, case, kind=kind, started_on=started_on, completed_on=completed_on, today=local_today()
    )
    p.raise_if_any()
    rt = models.Radiotherapy(case=case, kind=kind, started_on=started_on, completed_on=completed_on)
    save_row(rt)
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
) -> models.Radiotherapy:
    require(user, Capability.EDIT_CASES)
    rt = models.Radiotherapy.objects.select_related("case").get(pk=radiotherapy_id)
    p = Problems()
    _check_radiotherapy(
        p, rt.case, kind=kind, started_on=started_on, completed_on=completed_on, today=local_today()
    )
    p.raise_if_any()
    update_row(
        models.Radiotherapy,
        pk=radiotherapy_id,
        expected_version=check_version(expected_version),
        changes={"kind": kind, "started_on": started_on, "completed_on": completed_on},
    )
    reminders_sync_for_case(case_id=rt.case_id)
    return models.Radiotherapy.objects.get(pk=radiotherapy_id)
