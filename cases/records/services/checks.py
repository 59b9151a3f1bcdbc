"""What every service of the clinical record shares: collecting field-keyed problems, the
local day, and writes that turn a database refusal or a concurrent edit into a message.

Dates: ``timezone.localdate()`` is "today". A fact (a scan, an operation, a dose) cannot be in the
future; a plan can, but not by years (a mistyped year must not reach the date arithmetic).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from cases.common.services import ConflictError, update_versioned

EARLIEST_DATE = dt.date(1900, 1, 1)


# Plans further ahead than this are almost certainly a mistyped year.
PLANNING_HORIZON = dt.timedelta(days=3 * 366)


def fmt(day: dt.date) -> str:
    return day.strftime("%d %b %Y").lstrip("0")


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


def local_today() -> dt.date:
    return timezone.localdate()


def save_row(obj: models.Model) -> None:
    """Insert a row; a database constraint the checks above missed becomes a message, not a 500."""
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError as error:
        raise ValidationError({NON_FIELD_ERRORS: [_integrity_message(error)]}) from error


def update_row(
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


def check_version(expected_version: int | None) -> int:
    if expected_version is None or expected_version < 1:
        raise ConflictError("The form did not say which version of the record it edited.")
    return expected_version
