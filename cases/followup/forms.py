"""Forms after the meeting: a letter's check and send (the version seen), a follow-up's status,
and the administrator's letter template."""

from __future__ import annotations

from django import forms

from cases.common.forms import VersionedForm, blank_choice, date_field
from cases.models import FollowUpStatus, NotDoneReason


class LetterStepForm(VersionedForm):
    """Check or send: only the version of the letter the user saw."""


class FollowUpForm(VersionedForm):
    status = forms.ChoiceField(label="Status", choices=FollowUpStatus.choices)
    status_on = date_field("Date done, or found not done")
    not_done_reason = forms.ChoiceField(
        label="If not done, why", choices=blank_choice(NotDoneReason.choices), required=False
    )
    not_done_text = forms.CharField(label="Other reason", max_length=300, required=False)

    def __init__(self, *args, prefix_id: int | None = None, **kwargs) -> None:
        kwargs.setdefault("auto_id", f"fu{prefix_id}-%s" if prefix_id else "id_%s")
        super().__init__(*args, **kwargs)


class LetterTemplateForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0, required=True)
    salutation = forms.CharField(label="Salutation", max_length=200)
    opening = forms.CharField(label="Opening paragraph", widget=forms.Textarea(attrs={"rows": 4}))
    closing = forms.CharField(
        label="Closing paragraph", widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
