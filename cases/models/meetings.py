"""MDT meetings: attendance, the agenda, the decisions taken at each point, and actions."""

from __future__ import annotations

import pgtrigger
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from cases.models.base import Versioned, audited, tracks_data_version
from cases.models.people import Discipline, User
from cases.models.record import Case

# --- Meetings and decisions ------------------------------------------------------------------


class MeetingStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    IN_PROGRESS = "in_progress", "In progress"
    CLOSED = "closed", "Closed"


@audited()
@tracks_data_version()
class MeetingSeries(models.Model):
    """A recurring MDT (the weekly colorectal MDT): its meetings share a list of core members."""

    name = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "meeting series"
        constraints = [models.CheckConstraint(condition=Q(name__regex=r"\S"), name="series_named")]

    def __str__(self) -> str:
        return self.name


@audited()
@tracks_data_version()
class SeriesMember(models.Model):
    """A core member of a meeting series, expected at each of its meetings (kept by the
    coordinator); ``discipline`` is the one they sit in."""

    series = models.ForeignKey(MeetingSeries, on_delete=models.CASCADE, related_name="members")
    member = models.ForeignKey(User, on_delete=models.PROTECT, related_name="series_memberships")
    discipline = models.CharField(max_length=30, choices=Discipline.choices)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["series", "discipline"]
        constraints = [
            models.UniqueConstraint(fields=["series", "member"], name="series_member_once"),
            models.CheckConstraint(
                condition=Q(discipline__in=Discipline.values), name="series_member_discipline"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member} ({self.get_discipline_display()})"


@audited()
@tracks_data_version()
class Meeting(models.Model):
    """One meeting. It is opened on its day (earlier only with the chair's reason), outcomes
    are signed off while it is open, and closing it freezes it and makes its minutes final."""

    title = models.CharField(max_length=100, default="Colorectal MDT")
    series = models.ForeignKey(
        MeetingSeries, on_delete=models.PROTECT, related_name="meetings", null=True, blank=True
    )
    scheduled_for = models.DateTimeField()
    chair = models.ForeignKey(User, on_delete=models.PROTECT, related_name="meetings_chaired")
    status = models.CharField(
        max_length=12, choices=MeetingStatus.choices, default=MeetingStatus.SCHEDULED
    )
    created_at = models.DateTimeField(auto_now_add=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    opened_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    # Opened before its day: the chair's reason, shown on every outcome of the meeting.
    early_open_reason = models.CharField(max_length=300, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )

    class Meta:
        ordering = ["-scheduled_for"]
        indexes = [models.Index(fields=["scheduled_for"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=MeetingStatus.values), name="meeting_status"
            ),
            # Open (or closed) means someone opened it, and when.
            models.CheckConstraint(
                condition=Q(status="scheduled")
                | Q(opened_at__isnull=False, opened_by__isnull=False),
                name="meeting_opened_by_someone",
            ),
            models.CheckConstraint(
                condition=~Q(status="closed") | Q(closed_at__isnull=False, closed_by__isnull=False),
                name="meeting_closed_by_someone",
            ),
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True) | Q(closed_at__gte=models.F("opened_at")),
                name="meeting_closed_after_opened",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title}, {self.scheduled_for:%d %b %Y %H:%M}"


class Presence(models.TextChoices):
    PRESENT = "present", "Present"
    APOLOGIES = "apologies", "Apologies"


@audited()
@tracks_data_version()
class Attendance(models.Model):
    """Who was at the meeting (``present``, counted for the quorum) and who sent apologies. A
    deputy is present in the discipline of the member they stand in for (``deputy_for``)."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="attendances")
    member = models.ForeignKey(User, on_delete=models.PROTECT, related_name="attendances")
    discipline = models.CharField(max_length=30, choices=Discipline.choices)
    presence = models.CharField(max_length=10, choices=Presence.choices, default=Presence.PRESENT)
    deputy_for = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="deputised_by", null=True, blank=True
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["meeting", "discipline"]
        constraints = [
            models.UniqueConstraint(fields=["meeting", "member"], name="attendance_once"),
            models.CheckConstraint(
                condition=Q(presence__in=Presence.values), name="attendance_presence"
            ),
            # Someone who sent apologies deputises for nobody, and nobody deputises for themself.
            models.CheckConstraint(
                condition=Q(deputy_for__isnull=True)
                | (Q(presence="present") & ~Q(deputy_for=models.F("member"))),
                name="attendance_deputy_present",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member} ({self.get_discipline_display()})"


class AgendaStatus(models.TextChoices):
    LISTED = "listed", "Listed"
    DISCUSSED = "discussed", "Discussed"
    DEFERRED = "deferred", "Deferred"


@audited()
@tracks_data_version()
class AgendaItem(models.Model):
    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="agenda_items")
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="agenda_items")
    position = models.PositiveSmallIntegerField()
    status = models.CharField(
        max_length=10, choices=AgendaStatus.choices, default=AgendaStatus.LISTED
    )
    listed_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    listed_at = models.DateTimeField(auto_now_add=True)
    # Listed after the agenda froze (24 h before the meeting).
    late_reason = models.CharField(max_length=300, blank=True)
    # Listed without the minimum dataset.
    incomplete_reason = models.CharField(max_length=300, blank=True)
    signed_off_at = models.DateTimeField(null=True, blank=True)
    signed_off_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    next_reassessment_on = models.DateField(null=True, blank=True)
    quorate_at_sign_off = models.BooleanField(null=True, blank=True)
    # Why the chair moved the case off this meeting (status "deferred").
    deferred_reason = models.CharField(max_length=300, blank=True)
    # The question put to the MDT (entered when listing) and the notes taken while it is
    # discussed; both go on the outcome and into the minutes.
    clinical_question = models.CharField(max_length=500, blank=True)
    discussion_notes = models.TextField(blank=True)

    class Meta:
        ordering = ["meeting", "position"]
        constraints = [
            models.UniqueConstraint(fields=["meeting", "case"], name="agenda_case_once"),
            # Deferred so the chair can reorder the agenda in one transaction.
            models.UniqueConstraint(
                fields=["meeting", "position"],
                name="agenda_position_unique",
                deferrable=models.Deferrable.DEFERRED,
            ),
            models.CheckConstraint(
                condition=Q(signed_off_at__isnull=True) | Q(signed_off_by__isnull=False),
                name="agenda_sign_off_has_signer",
            ),
            models.CheckConstraint(
                condition=~Q(status="deferred") | Q(deferred_reason__regex=r"\S"),
                name="agenda_deferral_has_reason",
            ),
            # A signed-off outcome is final: it cannot also be deferred.
            models.CheckConstraint(
                condition=Q(signed_off_at__isnull=True) | ~Q(status="deferred"),
                name="agenda_signed_off_not_deferred",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.case}"


class DecisionPoint(models.TextChoices):
    """The decision walk, in order (DESIGN.md §2)."""

    DATA_COMPLETENESS = "data_completeness", "Data completeness and molecular profile"
    RESECTABILITY = "resectability", "Resectability (HPB-led)"
    PRIMARY_MANAGEMENT = "primary_management", "Primary tumour management"
    SYSTEMIC_THERAPY = "systemic_therapy", "Systemic therapy"
    PELVIC_RADIOTHERAPY = "pelvic_radiotherapy", "Pelvic radiotherapy"
    LIVER_SURGERY = "liver_surgery", "Liver surgery strategy and sequencing"
    TIMING = "timing", "Timing (bevacizumab interval, SCRT window)"
    POSTOPERATIVE = "postoperative", "Post-operative plan"
    OUTCOME = "outcome", "Outcome and next reassessment"


@audited()
@pgtrigger.register(
    pgtrigger.Protect(name="decision_append_only", operation=pgtrigger.Update | pgtrigger.Delete)
)
@tracks_data_version()
class Decision(models.Model):
    """What the MDT decided at one decision point. Append-only: a correction supersedes."""

    agenda_item = models.ForeignKey(AgendaItem, on_delete=models.PROTECT, related_name="decisions")
    point = models.CharField(max_length=25, choices=DecisionPoint.choices)
    answer = models.JSONField()
    # What the engine said when the decision was made: inputs, guideline version, codes.
    advice_snapshot = models.JSONField()
    follows_recommendation = models.BooleanField()
    deviation_reason = models.TextField(blank=True)
    overridden_hard_stops = ArrayField(models.CharField(max_length=60), default=list, blank=True)
    override_reason = models.TextField(blank=True)
    supersedes = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="superseded_by"
    )
    correction_reason = models.TextField(blank=True)
    # Facts corrected in the meeting without which this answer would have met a hard stop
    # (issue 18, finding 2): [{"fact", "old", "new", "by", "confirmed_by", "hard_stops"}], each
    # value as its label and each person as a name, as the auditor reads them.
    corrected_facts = models.JSONField(default=list, blank=True)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["agenda_item", "recorded_at"]
        constraints = [
            # Two people answering the same point at once: the database lets only one through.
            models.UniqueConstraint(
                fields=["agenda_item", "point"],
                condition=Q(supersedes__isnull=True),
                name="decision_first_answer_once",
            ),
            models.CheckConstraint(
                condition=Q(overridden_hard_stops=[]) | Q(override_reason__regex=r"\S"),
                name="decision_override_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(follows_recommendation=True) | Q(deviation_reason__regex=r"\S"),
                name="decision_deviation_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(supersedes__isnull=True) | Q(correction_reason__regex=r"\S"),
                name="decision_correction_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_point_display()} ({self.recorded_at:%d %b %Y})"


class FactCorrectionState(models.TextChoices):
    AWAITING_CHAIR = "awaiting_chair", "Awaiting the chair's confirmation"
    APPLIED = "applied", "Applied"


@audited()
class FactCorrection(models.Model):
    """A molecular result corrected on a card during the meeting (issue 18, finding 2).

    A chair's correction is applied at once. Anyone else's waits for the chair's confirmation
    (``confirmed_by``) before the record changes: a fact edit must not become a way around a
    hard stop that only the chair may override. ``old_status`` is what the record said when the
    correction was asked for ("" when there was no result).
    """

    agenda_item = models.ForeignKey(
        AgendaItem, on_delete=models.PROTECT, related_name="fact_corrections"
    )
    marker = models.CharField(max_length=20)
    old_status = models.CharField(max_length=30, blank=True)
    new_status = models.CharField(max_length=30)
    requested_on = models.DateField(null=True, blank=True)
    reported_on = models.DateField(null=True, blank=True)
    method = models.CharField(max_length=120, blank=True)
    state = models.CharField(max_length=20, choices=FactCorrectionState.choices)
    requested_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    confirmed_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["requested_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=["awaiting_chair", "applied"]),
                name="fact_correction_state_valid",
            ),
            # Applied means confirmed by someone, at a time; awaiting means neither.
            models.CheckConstraint(
                condition=(
                    Q(
                        state="applied",
                        confirmed_by__isnull=False,
                        confirmed_at__isnull=False,
                    )
                    | Q(
                        state="awaiting_chair",
                        confirmed_by__isnull=True,
                        confirmed_at__isnull=True,
                    )
                ),
                name="fact_correction_confirmed_when_applied",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.marker}: {self.old_status or 'none'} to {self.new_status}"


class ActionStatus(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"
    NOT_DONE = "not_done", "Not done"


@audited()
@tracks_data_version()
class Action(Versioned):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="actions")
    agenda_item = models.ForeignKey(
        AgendaItem, on_delete=models.PROTECT, related_name="actions", null=True, blank=True
    )
    description = models.CharField(max_length=300)
    owner = models.ForeignKey(User, on_delete=models.PROTECT, related_name="actions")
    due_on = models.DateField()
    status = models.CharField(
        max_length=10, choices=ActionStatus.choices, default=ActionStatus.OPEN
    )
    not_done_reason = models.CharField(max_length=300, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_on", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="not_done") | Q(not_done_reason__regex=r"\S"),
                name="action_not_done_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(description__regex=r"\S"), name="action_has_description"
            ),
            models.CheckConstraint(
                condition=Q(status__in=ActionStatus.values), name="action_status"
            ),
        ]
        indexes = [
            models.Index(fields=["due_on"], condition=Q(status="open"), name="action_open_idx"),
            # The dashboard's actions list is "open and overdue OR not done": with this, both
            # arms are partial index scans (a BitmapOr) instead of a scan of every action.
            models.Index(
                fields=["due_on"], condition=Q(status="not_done"), name="action_not_done_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.description
