"""Forms of the meeting screens. The decision card's form is built from the walk's field specs
(``cases.meetings.walk.Field``), so a card and its validation can never disagree."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django import forms
from django.forms.utils import flatatt
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from cases.meetings.walk import Field, Step
from cases.models import (
    MARKER_STATUSES,
    Discipline,
    Marker,
    MarkerStatus,
    Meeting,
    User,
)


class FlatSelect(forms.Select):
    """A ``<select>`` of flat choices, drawn in Python with the HTML Django's templates draw.

    Django draws each ``<option>`` through a template and an options context of its own: for a
    list of every member of staff that is most of a meeting page's form (8.6 ms for 200 people,
    2.4 ms here), and the result form's two short lists cost every answer at the meeting about
    a millisecond. Grouped choices are not supported, and refused.
    """

    def render(self, name: str, value: Any, attrs: Any = None, renderer: Any = None) -> str:
        chosen = set(self.format_value(value))
        options = []
        for option_value, label in self.choices:
            if isinstance(label, (list, tuple)):
                raise TypeError("FlatSelect draws flat choices only")
            text = str(option_value)
            selected = " selected" if text in chosen else ""
            options.append((text, selected, label))
        return format_html(
            '<select name="{}"{}>{}</select>',
            name,
            flatatt(self.build_attrs(self.attrs, attrs)),
            format_html_join("", '<option value="{}"{}>{}</option>', options),
        )


REASON_WIDGET = forms.Textarea(attrs={"rows": 2})
# Browsers' date pickers read and write ISO dates, whatever the locale.
DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _django_field(spec: Field) -> forms.Field:
    choices = [(c.value, c.label) for c in spec.choices]
    if spec.kind in ("radio", "select"):
        # Nothing is pre-ticked: an answer without a choice says what to choose.
        return forms.ChoiceField(
            choices=choices,
            required=spec.required,
            label=spec.label,
            error_messages={"required": f"Choose one: {spec.label}."},
        )
    if spec.kind == "checkboxes":
        return forms.MultipleChoiceField(choices=choices, required=False, label=spec.label)
    if spec.kind == "checkbox":
        return forms.BooleanField(required=False, label=spec.label)
    if spec.kind == "date":
        return forms.DateField(required=spec.required, label=spec.label)
    if spec.kind == "integer":
        return forms.IntegerField(
            required=spec.required,
            label=spec.label,
            min_value=spec.min_value,
            max_value=spec.max_value,
        )
    if spec.kind == "number":
        return forms.DecimalField(
            required=spec.required,
            label=spec.label,
            min_value=spec.min_value,
            max_value=spec.max_value,
            max_digits=4,
            decimal_places=1,
        )
    raise ValueError(f"unknown field kind {spec.kind!r}")


class AnswerForm(forms.Form):
    """One decision card's answer, with the reasons the rules may ask for."""

    deviation_reason = forms.CharField(
        required=False, widget=REASON_WIDGET, label="Reason for departing from the recommendation"
    )
    override_reason = forms.CharField(
        required=False, widget=REASON_WIDGET, label="Reason for overriding the hard stop"
    )
    correction_reason = forms.CharField(
        required=False, widget=REASON_WIDGET, label="Why is this answer being corrected?"
    )
    supersedes = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, step: Step, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.step = step
        for spec in step.fields:
            self.fields[spec.name] = _django_field(spec)

    def answer(self) -> dict[str, Any]:
        data = self.cleaned_data
        answer: dict[str, Any] = {}
        for spec in self.step.fields:
            value = data.get(spec.name)
            if isinstance(value, dt.date):
                value = value.isoformat()
            elif spec.kind == "number" and value is not None:
                value = float(value)
            answer[spec.name] = value if value != "" else None
        return answer


@dataclass(frozen=True)
class ChoiceRow:
    value: str
    label: str
    recommended: bool
    checked: bool
    dom_id: str


@dataclass(frozen=True)
class FieldRow:
    """What the card template needs to draw one input by hand (fieldsets, badges, focus)."""

    spec: Field
    name: str
    dom_id: str
    value: Any
    errors: list[str]
    choices: list[ChoiceRow]


def field_rows(form: AnswerForm, prefix: str) -> list[FieldRow]:
    rows = []
    for spec in form.step.fields:
        bound = form[spec.name]
        value = bound.value()
        if spec.kind == "checkbox":
            value = value in (True, "on", "true", "True", "1")
        selected = {str(v) for v in value} if isinstance(value, list | tuple) else {str(value)}
        choices = [
            ChoiceRow(
                c.value, c.label, c.recommended, c.value in selected, f"{prefix}-{spec.name}-{i}"
            )
            for i, c in enumerate(spec.choices)
        ]
        rows.append(
            FieldRow(
                spec=spec,
                name=spec.name,
                dom_id=f"{prefix}-{spec.name}",
                value="" if value is None else value,
                errors=list(bound.errors),
                choices=choices,
            )
        )
    return rows


def initial_for(step: Step) -> dict[str, Any]:
    """The form's initial values: the recorded answer, else the card's pre-filled answer."""
    answer = step.decision.answer if step.decision else step.initial
    return {k: v for k, v in answer.items() if v is not None}


class MeetingForm(forms.Form):
    title = forms.CharField(max_length=100, initial="Colorectal MDT")
    scheduled_for = forms.DateTimeField(
        label="Date and time",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )
    chair = forms.ModelChoiceField(queryset=User.objects.none(), label="Chair", widget=FlatSelect())

    def __init__(self, *args: Any, chairs: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["chair"].queryset = chairs


class AttendanceForm(forms.Form):
    # After an htmx swap, focus returns here for the next person (static/js/app.js).
    member = forms.ModelChoiceField(
        queryset=User.objects.none(),
        label="Member",
        widget=FlatSelect(attrs={"data-autofocus": ""}),
    )
    discipline = forms.ChoiceField(
        choices=[("", "Their own discipline"), *Discipline.choices],
        required=False,
        label="Attending as",
        widget=FlatSelect(),
    )

    def __init__(self, *args: Any, members: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["member"].queryset = members


class PresenceForm(forms.Form):
    """One click on an expected member's row: present, apologies, or a deputy in their place."""

    member = forms.IntegerField(widget=forms.HiddenInput)
    presence = forms.ChoiceField(
        choices=[("present", "Present"), ("apologies", "Apologies"), ("deputy", "Deputy")]
    )
    deputy = forms.IntegerField(required=False, label="Deputy")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("presence") == "deputy" and not data.get("deputy"):
            self.add_error("deputy", "Choose who stands in as the deputy.")
        return data


class SeriesMemberForm(forms.Form):
    member = forms.ModelChoiceField(
        queryset=User.objects.none(), label="Member", widget=FlatSelect()
    )
    discipline = forms.ChoiceField(
        choices=[("", "Their own discipline"), *Discipline.choices],
        required=False,
        label="Sits in as",
        widget=FlatSelect(),
    )

    def __init__(self, *args: Any, members: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["member"].queryset = members


class MeetingOpenForm(forms.Form):
    early_reason = forms.CharField(
        label="Reason for opening before the meeting's day",
        max_length=300,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class NotesForm(forms.Form):
    notes = forms.CharField(
        label="Discussion notes",
        max_length=5000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    notes_before = forms.CharField(required=False, widget=forms.HiddenInput)


class QuestionForm(forms.Form):
    question = forms.CharField(
        label="Question for the MDT",
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    question_before = forms.CharField(required=False, widget=forms.HiddenInput)


class DeferForm(forms.Form):
    reason = forms.CharField(max_length=300, label="Reason for deferring")


class ActionForm(forms.Form):
    description = forms.CharField(max_length=300, label="What")
    owner = forms.ModelChoiceField(queryset=User.objects.none(), label="Owner", widget=FlatSelect())
    due_on = forms.DateField(label="Due", widget=DATE_WIDGET)

    def __init__(self, *args: Any, owners: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = owners


MARKER_STATUS_CHOICES = [
    # One list for every marker: wild-type says which extent it means for RAS only.
    (status, "Wild-type (for KRAS and NRAS: exons 2, 3 and 4 tested)" if status == "wild_type"
     else label)
    for status, label in MarkerStatus.choices
    if any(status in statuses for statuses in MARKER_STATUSES.values())
]  # fmt: skip


class FactForm(forms.Form):
    """Record or correct one molecular result from the data-completeness card."""

    marker = forms.ChoiceField(choices=Marker.choices, label="Marker", widget=FlatSelect)
    status = forms.ChoiceField(choices=MARKER_STATUS_CHOICES, label="Result", widget=FlatSelect)
    reported_on = forms.DateField(required=False, label="Reported on", widget=DATE_WIDGET)
    method = forms.CharField(required=False, max_length=120, label="Method (optional)")
    # The version of each marker's result the editor saw: a stale one is a conflict.
    versions = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean_reported_on(self) -> dt.date | None:
        day = self.cleaned_data.get("reported_on")
        if day and day > timezone.localdate():
            raise forms.ValidationError("A result cannot be reported in the future.")
        return day

    def expected_version(self) -> int | None:
        marker = self.cleaned_data["marker"]
        for pair in (self.cleaned_data.get("versions") or "").split(","):
            name, _, version = pair.partition(":")
            if name == marker and version.isdigit():
                return int(version)
        return None


class AgendaListingForm(forms.Form):
    meeting = forms.ModelChoiceField(queryset=Meeting.objects.none(), label="Meeting")
    clinical_question = forms.CharField(
        label="Question for the MDT",
        help_text="What the team is asked to decide, e.g. “Is the liver disease now resectable?”",
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    late_reason = forms.CharField(
        label="Reason for listing after the agenda froze",
        max_length=300,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    incomplete_reason = forms.CharField(
        label="Reason for listing without the minimum dataset",
        max_length=300,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, meetings: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["meeting"].queryset = meetings
