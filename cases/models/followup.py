"""After the meeting: outcome letters (and their editable templates) and the follow-up of each
recommendation that asks for something to happen (docs/after-the-meeting.md)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from cases.models.base import Versioned, audited, tracks_data_version
from cases.models.meetings import AgendaItem, Decision
from cases.models.people import User
from cases.models.record import Case

# --- Outcome letters ---------------------------------------------------------------------------


class RecipientKind(models.TextChoices):
    GP = "gp", "GP"
    REFERRER = "referrer", "Referring clinician"
    PATIENT = "patient", "Patient (plain language)"


class LetterStatus(models.TextChoices):
    DRAFTED = "drafted", "Drafted"
    CHECKED = "checked", "Checked"
    SENT = "sent", "Sent"


@audited()
@tracks_data_version()
class LetterTemplate(Versioned):
    """The words around an outcome letter, one per kind of recipient, edited by the
    administrator: the opening and closing paragraphs (the facts and decisions between them
    come from the signed-off outcome and cannot be edited)."""

    kind = models.CharField(max_length=10, choices=RecipientKind.choices, unique=True)
    salutation = models.CharField(max_length=200)
    opening = models.TextField()
    closing = models.TextField()
    updated_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )

    class Meta:
        ordering = ["kind"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=RecipientKind.values), name="letter_template_kind"
            ),
            models.CheckConstraint(
                condition=Q(opening__regex=r"\S") & Q(salutation__regex=r"\S"),
                name="letter_template_has_text",
            ),
        ]

    def __str__(self) -> str:
        return f"Letter template: {self.get_kind_display()}"


@audited()
@tracks_data_version()
class OutcomeLetter(Versioned):
    """One letter of a signed-off outcome to one recipient: drafted at sign-off, checked by a
    named clinician (the letter as checked is kept), then marked sent."""

    agenda_item = models.ForeignKey(AgendaItem, on_delete=models.PROTECT, related_name="letters")
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="letters")
    kind = models.CharField(max_length=10, choices=RecipientKind.choices)
    status = models.CharField(
        max_length=10, choices=LetterStatus.choices, default=LetterStatus.DRAFTED
    )
    checked_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    checked_at = models.DateTimeField(null=True, blank=True)
    # The letter exactly as the clinician checked it: what is sent, whatever changes later.
    checked_html = models.TextField(blank=True)
    sent_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["agenda_item", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["agenda_item", "kind"], name="letter_once_per_kind"),
            models.CheckConstraint(condition=Q(kind__in=RecipientKind.values), name="letter_kind"),
            models.CheckConstraint(
                condition=Q(status__in=LetterStatus.values), name="letter_status"
            ),
            # Drafted: nobody has checked it. Checked or sent: who checked it, when, and what.
            models.CheckConstraint(
                condition=(
                    Q(status="drafted", checked_by__isnull=True, checked_at__isnull=True)
                    | (
                        Q(status__in=["checked", "sent"])
                        & Q(checked_by__isnull=False, checked_at__isnull=False)
                        & Q(checked_html__regex=r"\S")
                    )
                ),
                name="letter_checked_by_someone",
            ),
            # Sent exactly when who sent it and when are recorded.
            models.CheckConstraint(
                condition=(
                    Q(status="sent", sent_by__isnull=False, sent_at__isnull=False)
                    | (~Q(status="sent") & Q(sent_by__isnull=True, sent_at__isnull=True))
                ),
                name="letter_sent_by_someone",
            ),
            models.CheckConstraint(
                condition=Q(sent_at__isnull=True) | Q(sent_at__gte=models.F("checked_at")),
                name="letter_sent_after_checked",
            ),
        ]
        indexes = [
            # The worklist "not sent within N working days" reads only letters not yet sent.
            models.Index(
                fields=["created_at"], condition=~Q(status="sent"), name="letter_unsent_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"Outcome letter to the {self.get_kind_display()} ({self.get_status_display()})"


# --- Implementation follow-up ------------------------------------------------------------------


class FollowUpKind(models.TextChoices):
    TREATMENT = "treatment", "Start or change treatment"
    REFERRAL = "referral", "Referral"
    SURGERY = "surgery", "Book surgery"
    SCAN = "scan", "Scan"
    BIOPSY = "biopsy", "Biopsy"
    RADIOTHERAPY = "radiotherapy", "Radiotherapy"


class FollowUpStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    NOT_DONE = "not_done", "Not done"


OPEN_FOLLOW_UP = (FollowUpStatus.PLANNED, FollowUpStatus.IN_PROGRESS)


class NotDoneReason(models.TextChoices):
    PATIENT_DECLINED = "patient_declined", "Patient declined"
    DETERIORATION = "deterioration", "Clinical deterioration"
    PROGRESSION = "progression", "Disease progression"
    TOXICITY = "toxicity", "Toxicity"
    NOT_FIT = "not_fit", "Not fit"
    DIED = "died", "Died"
    LOST = "lost_to_follow_up", "Lost to follow-up"
    OTHER = "other", "Other"


@audited()
@tracks_data_version()
class FollowUp(Versioned):
    """Whether one signed-off recommendation was carried out."""

    agenda_item = models.ForeignKey(AgendaItem, on_delete=models.PROTECT, related_name="follow_ups")
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="follow_ups")
    decision = models.ForeignKey(Decision, on_delete=models.PROTECT, related_name="follow_ups")
    kind = models.CharField(max_length=15, choices=FollowUpKind.choices)
    description = models.CharField(max_length=300)
    # The meeting day: "not implemented after N days" counts from here.
    planned_on = models.DateField()
    status = models.CharField(
        max_length=12, choices=FollowUpStatus.choices, default=FollowUpStatus.PLANNED
    )
    # The day it was done, or found not to be done.
    status_on = models.DateField(null=True, blank=True)
    not_done_reason = models.CharField(max_length=20, choices=NotDoneReason.choices, blank=True)
    not_done_text = models.CharField(max_length=300, blank=True)
    updated_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )

    class Meta:
        ordering = ["planned_on", "id"]
        constraints = [
            models.UniqueConstraint(fields=["decision", "kind"], name="follow_up_once"),
            models.CheckConstraint(
                condition=Q(kind__in=FollowUpKind.values), name="follow_up_kind"
            ),
            models.CheckConstraint(
                condition=Q(status__in=FollowUpStatus.values), name="follow_up_status"
            ),
            models.CheckConstraint(
                condition=Q(description__regex=r"\S"), name="follow_up_has_description"
            ),
            # Done or not done exactly when the day is recorded.
            models.CheckConstraint(
                condition=(
                    Q(status__in=["done", "not_done"], status_on__isnull=False)
                    | (Q(status__in=["planned", "in_progress"]) & Q(status_on__isnull=True))
                ),
                name="follow_up_closed_has_date",
            ),
            # Not done exactly when a reason from the list is given; "other" says what.
            models.CheckConstraint(
                condition=(
                    Q(status="not_done", not_done_reason__in=NotDoneReason.values)
                    | (~Q(status="not_done") & Q(not_done_reason=""))
                ),
                name="follow_up_not_done_has_reason",
            ),
            models.CheckConstraint(
                condition=~Q(not_done_reason="other") | Q(not_done_text__regex=r"\S"),
                name="follow_up_other_reason_has_text",
            ),
            models.CheckConstraint(
                condition=Q(status_on__isnull=True) | Q(status_on__gte=models.F("planned_on")),
                name="follow_up_closed_after_planned",
            ),
        ]
        indexes = [
            # The worklist "not implemented after N days" reads only the open ones.
            models.Index(
                fields=["planned_on"],
                condition=Q(status__in=["planned", "in_progress"]),
                name="follow_up_open_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.get_status_display()}"
