"""Reads after the meeting: an outcome's letters and follow-ups, the two worklists, and the
previous outcome's implementation for the next meeting's case screen."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import reduce
from operator import or_

from django.db.models import Q, QuerySet
from django.utils import timezone

from cases.common.constants import bank_holidays, workflow_constants
from cases.models import (
    OPEN_FOLLOW_UP,
    AgendaItem,
    FollowUp,
    FollowUpKind,
    LetterStatus,
    OutcomeLetter,
)
from cases.pathway import latest_on_time_start


def letters_of_item(item_id: int) -> list[OutcomeLetter]:
    return list(
        OutcomeLetter.objects.filter(agenda_item_id=item_id)
        .select_related("checked_by", "sent_by")
        .order_by("kind")
    )


def follow_ups_of_item(item_id: int) -> list[FollowUp]:
    return list(
        FollowUp.objects.filter(agenda_item_id=item_id).select_related("updated_by").order_by("id")
    )


# --- Worklists (the coordinator's dashboard) -----------------------------------------------------


def letter_late_before(today: dt.date) -> dt.datetime:
    """Letters signed off before this moment are late today: their working days have run out."""
    days = workflow_constants().letter_send_working_days
    last_late_day = latest_on_time_start(today, days, bank_holidays())
    zone = timezone.get_current_timezone()
    return dt.datetime.combine(last_late_day + dt.timedelta(days=1), dt.time(), tzinfo=zone)


def letters_unsent(*, today: dt.date) -> QuerySet[OutcomeLetter]:
    """Outcome letters not sent within the working days allowed after the sign-off (weekends
    and bank holidays skipped)."""
    return (
        OutcomeLetter.objects.exclude(status=LetterStatus.SENT)
        .filter(created_at__lt=letter_late_before(today))
        .select_related("case__patient", "agenda_item__meeting")
        .order_by("created_at", "id")
    )


def follow_up_days() -> dict[str, int]:
    workflow = workflow_constants()
    return {kind: getattr(workflow, f"followup_{kind}_days") for kind in FollowUpKind.values}


def follow_ups_overdue(*, today: dt.date) -> QuerySet[FollowUp]:
    """Recommendations still planned or in progress more than their kind's days after the
    meeting (cases that left the pathway included: the recommendation still stands open)."""
    late = reduce(
        or_,
        (
            Q(kind=kind, planned_on__lt=today - dt.timedelta(days=days))
            for kind, days in follow_up_days().items()
        ),
    )
    return (
        FollowUp.objects.filter(status__in=OPEN_FOLLOW_UP)
        .filter(late)
        .select_related("case__patient")
        .order_by("planned_on", "id")
    )


# --- The previous outcome, at the next meeting ---------------------------------------------------


@dataclass(frozen=True)
class PreviousOutcome:
    item: AgendaItem
    follow_ups: list[FollowUp]

    @property
    def open_count(self) -> int:
        return sum(1 for f in self.follow_ups if f.status in OPEN_FOLLOW_UP)


def previous_outcome(item: AgendaItem) -> PreviousOutcome | None:
    """The case's last outcome signed off before this meeting, with its follow-ups (one query)."""
    rows = list(
        FollowUp.objects.filter(
            case_id=item.case_id,
            agenda_item__signed_off_at__isnull=False,
            agenda_item__meeting__scheduled_for__lt=item.meeting.scheduled_for,
        )
        .exclude(agenda_item_id=item.pk)
        .select_related("agenda_item__meeting")
        .order_by("-agenda_item__meeting__scheduled_for", "id")[:50]
    )
    if not rows:
        return None
    last = rows[0].agenda_item
    return PreviousOutcome(last, [r for r in rows if r.agenda_item_id == last.pk])
