"""Forms for scans (with their lesions, in one POST) and for a row of bloods on one date."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from cases import models
from cases.common.forms import blank_choice, date_field
from cases.pathway.labs import LAB_TESTS
from cases.records.services import NewLesion, Remeasure

BASELINE_ROWS = 8
SIZE = {"max_digits": 5, "decimal_places": 1}  # the service says what a size may be


def _size(label: str) -> forms.DecimalField:
    return forms.DecimalField(label=label, required=False, **SIZE)


class ImagingStudyForm(forms.Form):
    """A scan; with ``lesions`` (the current baseline's) it re-measures them, without it the
    scan declares a baseline in up to eight rows (empty rows are ignored)."""

    modality = forms.ChoiceField(choices=models.ImagingModality.choices)
    body_region = forms.ChoiceField(choices=models.BodyRegion.choices)
    performed_on = date_field("Scan date", required=True)
    accession_number = forms.CharField(
        max_length=40, required=False, help_text="Links the scan to the PACS viewer."
    )
    reassessment = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=None, label="Answers reassessment"
    )
    report = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False)

    def __init__(self, data: Any, *, case: models.Case, lesions: list[models.Lesion] | None,
                 **kwargs: Any) -> None:  # fmt: skip
        super().__init__(data, **kwargs)
        self.lesions = lesions
        cycles = [
            (r.pk, f"Cycle {r.cycle}, due {r.due_on:%d %b %Y}") for r in case.reassessments.all()
        ]
        self.fields["reassessment"].choices = [("", "None"), *cycles]
        if lesions is None:
            for i in range(BASELINE_ROWS):
                self.fields[f"lesion_{i}_label"] = forms.CharField(
                    max_length=10, required=False, label=f"Row {i + 1} label"
                )
                self.fields[f"lesion_{i}_kind"] = forms.ChoiceField(
                    choices=models.LesionKind.choices, required=False, label=f"Row {i + 1} kind"
                )
                self.fields[f"lesion_{i}_organ"] = forms.ChoiceField(
                    choices=blank_choice(models.Organ.choices), required=False,
                    label=f"Row {i + 1} organ",
                )  # fmt: skip
                self.fields[f"lesion_{i}_segment"] = forms.TypedChoiceField(
                    choices=[("", "—"), *[(s, str(s)) for s in models.LIVER_SEGMENTS]],
                    coerce=int, empty_value=None, required=False,
                    label=f"Row {i + 1} liver segment",
                )  # fmt: skip
                self.fields[f"lesion_{i}_site"] = forms.CharField(
                    max_length=100, required=False, label=f"Row {i + 1} site"
                )
                self.fields[f"lesion_{i}_size"] = _size(f"Row {i + 1} size (mm)")
        else:
            for lesion in lesions:
                states = (
                    models.TARGET_STATES if lesion.kind == "target" else models.NON_TARGET_STATES
                )
                self.fields[f"m{lesion.pk}_state"] = forms.ChoiceField(
                    choices=[(s, models.LesionState(s).label) for s in states],
                    label=f"{lesion.label} state",
                )
                if lesion.kind == "target":
                    self.fields[f"m{lesion.pk}_size"] = _size(f"{lesion.label} size (mm)")
            self.fields["new_lesions"] = forms.TypedChoiceField(
                choices=[("", "—"), ("no", "No"), ("yes", "Yes")],
                coerce=lambda v: v == "yes", empty_value=None, required=False,
                label="New lesions",
            )  # fmt: skip
            self.fields["new_lesion_sites"] = forms.CharField(max_length=200, required=False)
            self.fields["response_override"] = forms.ChoiceField(
                choices=blank_choice(models.Response.choices, "As computed"),
                required=False,
                label="Response given by the radiologist",
                help_text="Only when it differs from the computed response.",
            )
            self.fields["response_override_reason"] = forms.CharField(
                max_length=300, required=False, label="Why it differs"
            )

    @property
    def baseline_rows(self) -> list[list[forms.BoundField]]:
        names = ("label", "kind", "organ", "segment", "site", "size")
        return [[self[f"lesion_{i}_{n}"] for n in names] for i in range(BASELINE_ROWS)]

    @property
    def measure_rows(self) -> list[tuple[models.Lesion, list[forms.BoundField]]]:
        rows = []
        for lesion in self.lesions or []:
            names = [f"m{lesion.pk}_state"] + (
                [f"m{lesion.pk}_size"] if lesion.kind == "target" else []
            )
            rows.append((lesion, [self[name] for name in names]))
        return rows

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        kwargs: dict[str, Any] = {
            name: data[name]
            for name in ("modality", "body_region", "performed_on", "accession_number", "report")
        }
        kwargs["reassessment_id"] = data["reassessment"]
        if self.lesions is None:
            kwargs["baseline_lesions"] = [
                NewLesion(
                    label=data[f"lesion_{i}_label"].strip(),
                    kind=data[f"lesion_{i}_kind"],
                    organ=data[f"lesion_{i}_organ"],
                    size_mm=data[f"lesion_{i}_size"],
                    segment=data[f"lesion_{i}_segment"],
                    site=data[f"lesion_{i}_site"],
                )
                for i in range(BASELINE_ROWS)
                if data[f"lesion_{i}_label"].strip()
                or data[f"lesion_{i}_organ"]
                or data[f"lesion_{i}_size"] is not None
            ]
        else:
            kwargs["measurements"] = [
                Remeasure(
                    lesion_id=lesion.pk,
                    state=data[f"m{lesion.pk}_state"],
                    size_mm=data.get(f"m{lesion.pk}_size"),
                )
                for lesion in self.lesions
            ]
            for name in ("new_lesions", "new_lesion_sites", "response_override",
                         "response_override_reason"):  # fmt: skip
                kwargs[name] = data[name]
        return kwargs

    def add_service_errors(self, error: ValidationError) -> None:
        """The service names a lesion row (``lesion_3``) or a lesion (``measure_12``): the
        message goes on the row's first field."""
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for key, errors in error.error_dict.items():
            if key.startswith("lesion_"):
                target: str | None = f"{key}_label"
            elif key.startswith("measure_"):
                target = f"m{key.removeprefix('measure_')}_state"
            else:
                target = key
            if target not in self.fields or target == NON_FIELD_ERRORS:
                target = None
            for item in errors:
                self.add_error(target, item)


class LabResultsForm(forms.Form):
    """One sample date and a value for each test taken that day (empty: not taken)."""

    taken_on = date_field("Sample date", required=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for spec in LAB_TESTS:
            self.fields[spec.code] = forms.DecimalField(
                label=f"{spec.label} ({spec.unit})",
                required=False,
                max_digits=9,
                decimal_places=2,
                min_value=Decimal(0),
            )

    def service_kwargs(self) -> dict[str, Any]:
        return {
            "taken_on": self.cleaned_data["taken_on"],
            "values": {spec.code: self.cleaned_data[spec.code] for spec in LAB_TESTS},
        }
