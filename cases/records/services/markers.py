"""Tumour markers and bloods: a row of values taken on one date, entered in one go."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import transaction

from cases import models
from cases.pathway.labs import LAB_TEST_SPECS
from cases.records.services.checks import Problems, local_today, save_row
from cases.security.permissions import Capability, require

MAX_VALUE = Decimal("9999999.99")  # the column's limit: no result comes near it


@transaction.atomic
def lab_results_record(
    *, user: Any, case_id: int, taken_on: dt.date | None, values: dict[str, Decimal | None]
) -> list[models.LabResult]:
    """Record the results of one sample date: one row per test given, each with the unit and
    the reference range it is read against (cases/pathway/labs.py).

    A result already recorded for that test and date is never overwritten: the form says so
    and nothing of the row is saved.
    """
    require(user, Capability.EDIT_CASES)
    case = models.Case.objects.select_for_update().get(pk=case_id)
    p = Problems()
    p.date("taken_on", taken_on, label="Sample date", today=local_today(), past_only=True,
           required=True)  # fmt: skip
    unknown = set(values) - set(LAB_TEST_SPECS)
    if unknown:
        raise TypeError(f"unknown tests: {', '.join(sorted(unknown))}")
    given = {test: value for test, value in values.items() if value is not None}
    if not given:
        p.add("taken_on", "Enter at least one result.")
    for test, value in given.items():
        if not Decimal(0) <= value <= MAX_VALUE:
            p.add(test, f"{LAB_TEST_SPECS[test].label} cannot be negative.")
    if taken_on is not None and given:
        taken = models.LabResult.objects.filter(case=case, taken_on=taken_on, test__in=list(given))
        for test in taken.values_list("test", flat=True):
            p.add(test, f"{LAB_TEST_SPECS[test].label} is already recorded for this date.")
    p.raise_if_any()
    rows = []
    for test, value in given.items():
        spec = LAB_TEST_SPECS[test]
        row = models.LabResult(
            case=case,
            test=test,
            taken_on=taken_on,
            value=value,
            unit=spec.unit,
            reference_low=spec.low,
            reference_high=spec.high,
        )
        save_row(row)
        rows.append(row)
    return rows
