"""Forms for staging, pathology, the referral, cycles and toxicities, and the one-page molecular
profile. As in ``forms.py``: they parse, the services judge (a future date, a combination TNM
does not allow, a grade CTCAE does not define are the services' messages)."""

from __future__ import annotations

from typing import Any

from django import forms

from cases import models
from cases.common.forms import DateInput, ServiceModelForm, VersionedForm, date_field


class _ServiceFields(ServiceModelForm):
    def service_kwargs(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


# --- Staging and pathology -------------------------------------------------------------------


class TnmStagingForm(_ServiceFields):
    class Meta:
        model = models.TnmStaging
        fields = ["kind", "t", "n", "m", "staged_on"]
        widgets = {"staged_on": DateInput()}
        labels = {"kind": "Staging", "staged_on": "Staged on"}
        help_texts = {"m": "AJCC / UICC 8th edition."}


class TnmStagingEditForm(TnmStagingForm, VersionedForm):
    class Meta(TnmStagingForm.Meta):
        pass


class PelvicMriForm(_ServiceFields):
    crm_distance_mm = forms.DecimalField(
        label="Distance to the mesorectal fascia (mm)",
        required=False,
        max_digits=4,
        decimal_places=1,
        min_value=0,
        error_messages={"min_value": "The distance to the fascia is 0 mm or more."},
    )
    tumour_height_cm = forms.DecimalField(
        label="Tumour height from the anal verge (cm)",
        max_digits=3,
        decimal_places=1,
        error_messages={"max_digits": "The height from the anal verge is at most 20 cm."},
    )

    class Meta:
        model = models.PelvicMri
        fields = ["performed_on", "t", "n", "crm", "crm_distance_mm", "emvi", "tumour_height_cm"]
        widgets = {"performed_on": DateInput()}
        labels = {"performed_on": "MRI on", "t": "mrT", "n": "mrN", "crm": "CRM"}


class PelvicMriEditForm(PelvicMriForm, VersionedForm):
    class Meta(PelvicMriForm.Meta):
        pass


class HistologyForm(_ServiceFields):
    class Meta:
        model = models.Histology
        fields = [
            "specimen",
            "reported_on",
            "histological_type",
            "grade",
            "mucinous",
            "signet_ring",
        ]
        widgets = {"reported_on": DateInput()}
        labels = {"reported_on": "Reported on", "histological_type": "Type"}


class HistologyEditForm(HistologyForm, VersionedForm):
    class Meta(HistologyForm.Meta):
        pass


# --- Referral --------------------------------------------------------------------------------


class ReferralForm(_ServiceFields):
    class Meta:
        model = models.Referral
        fields = ["source", "referrer", "received_on", "urgency", "question"]
        widgets = {"received_on": DateInput(), "question": forms.Textarea(attrs={"rows": 3})}
        labels = {"received_on": "Date received"}


class ReferralEditForm(ReferralForm, VersionedForm):
    class Meta(ReferralForm.Meta):
        pass


class ReferralIntakeForm(ReferralForm):
    """The referral on the new-case page: optional as a whole (a case may come without one),
    judged by the service once any of it is filled in."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False
        self.fields["urgency"].choices = self.fields["urgency"].choices[1:] or [
            ("routine", "Routine")
        ]

    def provided(self) -> bool:
        data = self.cleaned_data
        return any(data.get(name) for name in ("source", "referrer", "question"))


# --- Cycles and toxicities -------------------------------------------------------------------


class CycleForm(_ServiceFields):
    number = forms.IntegerField(label="Cycle", min_value=1, max_value=200)
    agents = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple, label="Agents given")
    dose_reduction_percent = forms.IntegerField(
        label="Dose reduction (%)", required=False, min_value=1, max_value=99
    )
    delay_days = forms.IntegerField(
        label="Delayed by (days)", required=False, min_value=1, max_value=365
    )

    class Meta:
        model = models.TreatmentCycle
        fields = [
            "number",
            "given_on",
            "agents",
            "dose_reduction_percent",
            "delay_days",
            "delay_reason",
            "note",
        ]
        widgets = {"given_on": DateInput()}
        labels = {"given_on": "Day 1 on"}
        help_texts = {
            "note": "Needed for bevacizumab given after an operation: say why (wound healing)."
        }

    def __init__(self, *args: Any, course: models.TreatmentCourse, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["agents"].choices = [(a, models.Agent(a).label) for a in course.agents]


class CycleEditForm(CycleForm, VersionedForm):
    class Meta(CycleForm.Meta):
        pass


class ToxicityForm(_ServiceFields):
    cycle_id = forms.TypedChoiceField(label="After cycle", coerce=int, empty_value=None)
    grade = forms.TypedChoiceField(
        label="CTCAE grade", coerce=int, choices=[(g, str(g)) for g in range(1, 6)]
    )

    class Meta:
        model = models.Toxicity
        fields = ["term", "grade", "cycle_id", "noted_on", "note"]
        widgets = {"noted_on": DateInput()}
        labels = {"noted_on": "Noted on"}
        help_texts = {"term": "CTCAE v5.0."}

    def __init__(self, *args: Any, course: models.TreatmentCourse, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["cycle_id"].choices = [("", "Not tied to a cycle")] + [
            (c.pk, str(c)) for c in course.cycles.all()
        ]
        self.fields["cycle_id"].required = False


class ToxicityEditForm(ToxicityForm, VersionedForm):
    class Meta(ToxicityForm.Meta):
        pass


# --- The molecular profile on one form -------------------------------------------------------


class MolecularProfileForm(forms.Form):
    """Every marker of the case in one POST: each with its own result and dates, prefixed by
    the marker (``kras-status``). A marker left at "not recorded" is not written."""

    def __init__(self, *args: Any, existing: dict[str, models.MolecularResult], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.existing = existing
        for marker in models.Marker:
            result = existing.get(marker.value)
            statuses = [(s, models.MarkerStatus(s).label) for s in models.MARKER_STATUSES[marker]]
            self.fields[f"{marker.value}-status"] = forms.ChoiceField(
                label=f"{marker.label} result",
                choices=[("", "Not recorded"), *statuses],
                required=False,
                initial=result.status if result else "",
            )
            self.fields[f"{marker.value}-method"] = forms.CharField(
                label=f"{marker.label} method",
                max_length=120,
                required=False,
                initial=result.method if result else "",
            )
            self.fields[f"{marker.value}-requested_on"] = date_field(f"{marker.label} requested on")
            self.fields[f"{marker.value}-reported_on"] = date_field(f"{marker.label} reported on")
            self.fields[f"{marker.value}-version"] = forms.IntegerField(
                widget=forms.HiddenInput, required=False, min_value=1
            )
            if result is not None:
                self.fields[f"{marker.value}-requested_on"].initial = result.requested_on
                self.fields[f"{marker.value}-reported_on"].initial = result.reported_on
                self.fields[f"{marker.value}-version"].initial = result.version

    def rows(self) -> list[tuple[str, list[forms.BoundField]]]:
        """Each marker's fields, for a table with one row a marker."""
        return [
            (
                marker.label,
                [
                    self[f"{marker.value}-{name}"]
                    for name in ("status", "method", "requested_on", "reported_on")
                ],
                self[f"{marker.value}-version"],
            )
            for marker in models.Marker
        ]

    def entries(self) -> list[dict[str, Any]]:
        """The markers to write, as ``molecular_profile_record`` takes them."""
        data = self.cleaned_data
        out = []
        for marker in models.Marker:
            status = data[f"{marker.value}-status"]
            if not status:
                continue
            entry = {
                "marker": marker.value,
                "status": status,
                "method": data[f"{marker.value}-method"],
                "requested_on": data[f"{marker.value}-requested_on"],
                "reported_on": data[f"{marker.value}-reported_on"],
                "expected_version": data[f"{marker.value}-version"],
            }
            old = self.existing.get(marker.value)
            unchanged = old is not None and (
                old.status,
                old.method,
                old.requested_on,
                old.reported_on,
                old.version,
            ) == (
                status,
                entry["method"].strip(),
                entry["requested_on"],
                entry["reported_on"],
                entry["expected_version"],
            )
            if not unchanged:
                out.append(entry)
        return out
