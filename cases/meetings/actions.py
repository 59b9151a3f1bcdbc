"""MDT actions: created from the discussion of an open agenda item, then closed (done, or not
done with the reason) on the case's record. Both ends of an action's life are here."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from cases import models
from cases.meetings.selectors import meeting_day
from cases.meetings.services import lock_open_item
from cases.records.services.checks import Problems, check_version, update_row
from cases.reminders.planning import reminders_sync_for_case
from cases.security.permissions import Capability, require

ACTION_MAX_DAYS_AHEAD = 730


@transaction.atomic
def action_create(
    *, user: Any, agenda_item_id: int, description: str, owner_id: int, due_on: dt.date
) -> models.Action:
    """An action from the discussion: what, who, by when (before sign-off)."""
    require(user, Capability.RECORD_DECISIONS)
    item = lock_open_item(agenda_item_id)
    day = meeting_day(item.meeting)
    errors: dict[str, str] = {}
    text = (description or "").strip()
    if not text:
        errors["description"] = "Say what has to be done."
    elif len(text) > 300:
        errors["description"] = "Keep the action under 300 characters."
    owner = models.User.objects.filter(pk=owner_id, is_active=True).first()
    if owner is None:
        errors["owner"] = "Choose who owns the action."
    if due_on < day:
        errors["due_on"] = "The due date cannot be before the meeting."
    elif due_on > day + dt.timedelta(days=ACTION_MAX_DAYS_AHEAD):
        errors["due_on"] = "That is more than two years ahead: check the year."
    if errors:
        raise ValidationError(errors)
    action = models.Action.objects.create(
        case_id=item.case_id, agenda_item=item, description=text, owner=owner, due_on=due_on
    )
    reminders_sync_for_case(case_id=item.case_id)
    return action


@transaction.atomic
def action_status_set(
    *,
    user: Any,
    action_id: int,
    expected_version: int,
    status: str,
    not_done_reason: str = "",
) -> models.Action:
    """Mark an MDT action done, not done (with the reason), or open again."""
    require(user, Capability.EDIT_CASES)
    action = models.Action.objects.get(pk=action_id)
    p = Problems()
    p.choice("status", status, models.ActionStatus)
    p.text(
        "not_done_reason",
        not_done_reason,
        label="Reason",
        max_length=300,
        required=status == models.ActionStatus.NOT_DONE,
    )
    p.raise_if_any()
    closed = status != models.ActionStatus.OPEN
    update_row(
        models.Action,
        pk=action_id,
        expected_version=check_version(expected_version),
        changes={
            "status": status,
            "not_done_reason": not_done_reason.strip()
            if status == models.ActionStatus.NOT_DONE
            else "",
            "completed_at": timezone.now() if closed else None,
        },
    )
    reminders_sync_for_case(case_id=action.case_id)
    return models.Action.objects.get(pk=action_id)
