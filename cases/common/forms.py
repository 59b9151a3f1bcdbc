"""What every form shares: dates as date inputs, the version an editor saw, and a service's
field-keyed messages shown next to the fields.

The clinical rules live in the services, which raise ``ValidationError`` keyed by field;
``add_service_errors`` puts those messages on the form the user filled in, so the form shows every
message in one place. Edit forms carry the ``version`` of the record the editor loaded: the service
refuses to save over a newer one.

ModelForms are used for their fields and widgets only. Record-level checks (uniqueness, check
constraints) are the service's job, with clinical wording, so the forms skip Django's generic
model-constraint validation (``validate_unique`` below).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

MAX_VERSION = 2**31 - 1


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%d")


def date_field(label: str, *, required: bool = False, help_text: str = "") -> forms.DateField:
    return forms.DateField(label=label, required=required, widget=DateInput(), help_text=help_text)


class VersionedForm(forms.Form):
    """Carries the version the editor saw; posted back so a stale save is refused."""

    version = forms.IntegerField(
        widget=forms.HiddenInput, min_value=1, max_value=MAX_VERSION, required=True
    )


def add_service_errors(form: forms.BaseForm, error: ValidationError) -> None:
    """Show a service's field-keyed messages on the form; unknown keys become form-wide."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, errors in error.error_dict.items():
        target = field if field in form.fields or field == NON_FIELD_ERRORS else None
        if target == NON_FIELD_ERRORS:
            target = None
        for item in errors:
            form.add_error(target, item)


class ServiceModelForm(forms.ModelForm):
    def validate_unique(self) -> None:
        """The service checks uniqueness and constraints, with clinical wording."""

    def validate_constraints(self) -> None:
        """Likewise the check constraints (Django checks them apart from uniqueness): a form
        would otherwise name the constraint instead of saying what is wrong."""


def blank_choice(choices: list[tuple[str, str]], label: str = "—") -> list[tuple[str, str]]:
    return [("", label), *choices]
