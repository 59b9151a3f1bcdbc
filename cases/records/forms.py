"""Forms of the clinical record: they turn posted text into typed values; the services judge
them (``cases/common/forms.py`` says how the two meet)."""

from __future__ import annotations

from typing import Any

from django import forms

from cases import models
from cases.common.forms import (
    MAX_VERSION,
    DateInput,
    ServiceModelForm,
    VersionedForm,
    blank_choice,
    date_field,
)
from cases.records.services.reassessments import REASSESSMENT_FIELDS

# --- Patient and case ------------------------------------------------------------------------


class PatientForm(ServiceModelForm):
    class Meta:
        model = models.Patient
        fields = ["hospital_number", "nhs_number", "family_name", "given_name", "date_of_birth"]
        widgets = {"date_of_birth": DateInput()}
        labels = {"nhs_number": "NHS number"}
        help_texts = {"nhs_number": "Ten digits; leave empty if not known."}

    def service_kwargs(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class PatientEditForm(PatientForm, VersionedForm):
    class Meta(PatientForm.Meta):
        pass


ECOG_CHOICES = [("", "Not assessed"), *[(str(n), str(n)) for n in range(5)]]


class CaseForm(ServiceModelForm):
    ecog = forms.TypedChoiceField(
        label="ECOG performance status",
        choices=ECOG_CHOICES,
        coerce=int,
        empty_value=None,
        required=False,
    )
    responsible_clinician = forms.ModelChoiceField(
        queryset=models.User.objects.none(), required=False, label="Responsible clinician"
    )
    coordinator = forms.ModelChoiceField(
        queryset=models.User.objects.none(), required=False, label="Coordinator"
    )

    class Meta:
        model = models.Case
        fields = [
            "primary_site",
            "sidedness_reported",
            "primary_symptom",
            "diagnosed_on",
            "ecog",
            "ecog_assessed_on",
            "stage",
            "exit_reason",
            "responsible_clinician",
            "coordinator",
        ]
        widgets = {"diagnosed_on": DateInput(), "ecog_assessed_on": DateInput()}
        labels = {
            "sidedness_reported": "Side as written on the referral",
            "diagnosed_on": "Date of diagnosis",
            "ecog_assessed_on": "ECOG assessed on",
        }
        help_texts = {
            "sidedness_reported": "For information only: the app derives the side from the site.",
            "exit_reason": "Only when the case has left the pathway.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        active = models.User.objects.filter(is_active=True).order_by("last_name", "first_name")
        self.fields["responsible_clinician"].queryset = active.filter(
            role__in=[models.Role.CLINICIAN, models.Role.CHAIR]
        )
        self.fields["coordinator"].queryset = active.filter(role=models.Role.COORDINATOR)

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        kwargs = {
            name: data[name]
            for name in self.Meta.fields
            if name not in ("responsible_clinician", "coordinator")
        }
        kwargs["responsible_clinician_id"] = getattr(data["responsible_clinician"], "pk", None)
        kwargs["coordinator_id"] = getattr(data["coordinator"], "pk", None)
        return kwargs


class CaseEditForm(CaseForm, VersionedForm):
    class Meta(CaseForm.Meta):
        pass


# --- Molecular results -----------------------------------------------------------------------


def marker_status_text(marker: str, status: str) -> str:
    """A result in words; "extended: exons 2, 3, 4" is RAS wording, never offered for BRAF."""
    if status == models.MarkerStatus.WILD_TYPE and marker not in ("kras", "nras"):
        return "Wild-type"
    return models.MarkerStatus(status).label


class MolecularResultForm(forms.Form):
    """One marker's result. ``version`` is empty for a marker not yet recorded."""

    status = forms.ChoiceField(label="Result")
    method = forms.CharField(
        label="Method", max_length=120, required=False, help_text="Assay and extent tested."
    )
    requested_on = date_field("Requested on", help_text="Needed while the result is pending.")
    reported_on = date_field("Reported on")
    version = forms.IntegerField(
        widget=forms.HiddenInput, min_value=1, max_value=MAX_VERSION, required=False
    )

    def __init__(self, *args: Any, marker: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.marker = marker
        self.fields["status"].choices = [
            (value, marker_status_text(marker, value)) for value in models.MARKER_STATUSES[marker]
        ]

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "marker": self.marker,
            "status": data["status"],
            "method": data["method"],
            "requested_on": data["requested_on"],
            "reported_on": data["reported_on"],
            "expected_version": data["version"],
        }


# --- Reassessment ----------------------------------------------------------------------------


class ReassessmentForm(ServiceModelForm):
    r0_achievable = forms.NullBooleanField(
        label="R0 achievable (HPB MDT)",
        required=False,
        widget=forms.Select(
            choices=[("unknown", "Not assessed"), ("true", "Yes"), ("false", "No")]
        ),
    )
    flr_percent_slv = forms.DecimalField(
        label="FLR (% of standard liver volume)",
        required=False,
        min_value=0,
        max_value=100,
        max_digits=4,
        decimal_places=1,
        error_messages={
            "min_value": "The future liver remnant is a percentage from 0 to 100.",
            "max_value": "The future liver remnant is a percentage from 0 to 100.",
            "max_digits": "The future liver remnant is a percentage from 0 to 100.",
        },
    )
    flr_segments_remaining = forms.IntegerField(
        label="Segments remaining",
        required=False,
        min_value=0,
        max_value=8,
        error_messages={
            "min_value": "The liver has 8 segments: enter 0 to 8.",
            "max_value": "The liver has 8 segments: enter 0 to 8.",
        },
    )

    class Meta:
        model = models.Reassessment
        fields = list(REASSESSMENT_FIELDS)  # the fields the service takes
        widgets = {
            "due_on": DateInput(),
            "imaging_booked_for": DateInput(),
            "imaging_performed_on": DateInput(),
            "reassessed_on": DateInput(),
        }
        labels = {
            "due_on": "Due on",
            "imaging_booked_for": "Scan booked for",
            "imaging_performed_on": "Scan performed on",
            "reassessed_on": "Formal reassessment on",
            "pet_complete_metabolic_response": "PET complete metabolic response",
            "combined_resection_technically_feasible": "Synchronous resection feasible",
        }
        help_texts = {
            "due_on": "Leave empty on a new cycle to use the engine's date (2 months after the "
            "last reassessment).",
            "reassessed_on": "Recording it opens the next cycle.",
        }

    def __init__(self, *args: Any, due_required: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["due_on"].required = due_required

    def service_kwargs(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class ReassessmentEditForm(ReassessmentForm, VersionedForm):
    class Meta(ReassessmentForm.Meta):
        pass


# --- Treatment -------------------------------------------------------------------------------


class TreatmentCourseForm(ServiceModelForm):
    agents = forms.MultipleChoiceField(
        choices=models.Agent.choices, widget=forms.CheckboxSelectMultiple, label="Agents"
    )

    class Meta:
        model = models.TreatmentCourse
        fields = [
            "line",
            "intent",
            "backbone",
            "agents",
            "planned_cycles",
            "started_on",
            "stopped_on",
            "stop_cause",
            "stop_reason",
            "bevacizumab_last_planned_on",
        ]
        widgets = {
            "started_on": DateInput(),
            "stopped_on": DateInput(),
            "bevacizumab_last_planned_on": DateInput(),
        }
        help_texts = {
            "bevacizumab_last_planned_on": "When the plan stops bevacizumab before elective "
            "surgery: the 6-week interval counts from this dose while the course runs.",
        }
        labels = {
            "started_on": "Cycle 1 day 1",
            "stopped_on": "Stopped on",
            "stop_cause": "Why it stopped",
            "stop_reason": "Stop details",
        }

    def service_kwargs(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class TreatmentCourseEditForm(TreatmentCourseForm, VersionedForm):
    class Meta(TreatmentCourseForm.Meta):
        pass


class AdministrationForm(ServiceModelForm):
    agent = forms.ChoiceField(label="Agent")
    cycle_number = forms.IntegerField(label="Cycle", required=False, min_value=1, max_value=200)

    class Meta:
        model = models.AgentAdministration
        fields = ["agent", "given_on", "cycle_number", "note"]
        widgets = {"given_on": DateInput()}
        labels = {"given_on": "Given on"}
        help_texts = {
            "note": "Needed for bevacizumab given after an operation: say why (wound healing)."
        }

    def __init__(self, *args: Any, course: models.TreatmentCourse, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["agent"].choices = [(a, models.Agent(a).label) for a in course.agents]

    def service_kwargs(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class AdministrationEditForm(AdministrationForm, VersionedForm):
    class Meta(AdministrationForm.Meta):
        pass


class RadiotherapyForm(ServiceModelForm):
    class Meta:
        model = models.Radiotherapy
        fields = ["kind", "started_on", "completed_on"]
        widgets = {"started_on": DateInput(), "completed_on": DateInput()}
        labels = {"completed_on": "Last fraction on"}

    def service_kwargs(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class RadiotherapyEditForm(RadiotherapyForm, VersionedForm):
    class Meta(RadiotherapyForm.Meta):
        pass


class SurgeryForm(ServiceModelForm):
    class Meta:
        model = models.Surgery
        fields = [
            "kind",
            "urgency",
            "hepatectomy_extent",
            "planned_on",
            "performed_on",
            "margin",
            "cancelled_on",
            "cancel_reason",
        ]
        widgets = {
            "planned_on": DateInput(),
            "performed_on": DateInput(),
            "cancelled_on": DateInput(),
        }
        labels = {"planned_on": "Planned for", "performed_on": "Performed on"}

    def service_kwargs(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class SurgeryEditForm(SurgeryForm, VersionedForm):
    class Meta(SurgeryForm.Meta):
        pass


# --- Actions and agenda ----------------------------------------------------------------------


class ActionStatusForm(VersionedForm):
    status = forms.ChoiceField(choices=models.ActionStatus.choices, label="Status")
    not_done_reason = forms.CharField(label="Reason (if not done)", max_length=300, required=False)


# --- Search ----------------------------------------------------------------------------------


class CaseSearchForm(forms.Form):
    q = forms.CharField(
        label="Name, hospital or NHS number",
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )
    stage = forms.ChoiceField(
        label="Stage", required=False, choices=blank_choice(models.Stage.choices, "Any stage")
    )
    clinician = forms.ModelChoiceField(
        queryset=models.User.objects.none(), required=False, label="Clinician", empty_label="Anyone"
    )

    def __init__(self, *args: Any, clinicians: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["clinician"].queryset = clinicians
