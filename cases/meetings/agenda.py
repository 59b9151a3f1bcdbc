"""Listing cases on an MDT meeting's agenda.

The agenda freezes before the meeting (``agenda_frozen_at``) so the team can prepare
(radiology reviews the scans, pathology the slides); a later addition needs a reason. A case
without the minimum dataset (``cases.records.completeness``) cannot be decided on, so listing
one needs a reason too. Both reasons are stored on the agenda item, where the meeting screen
shows them.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from cases import models
from cases.meetings.selectors import agenda_frozen_at, completeness_day
from cases.records.completeness import missing_minimum_dataset
from cases.records.selectors import case_clinical_record
from cases.reminders.planning import reminders_sync_for_case
from cases.security.permissions import Capability, require

REASON_MAX_LENGTH = 300
QUESTION_MAX_LENGTH = 500


def _already_listed_message(item: models.AgendaItem) -> str:
    return (
        f"{item.case.reference} is already on the agenda of this meeting "
        f"(item {item.position}). It was not listed twice."
    )


@transaction.atomic
def agenda_item_add(
    *,
    user: Any,
    meeting_id: int,
    case_id: int,
    late_reason: str = "",
    incomplete_reason: str = "",
    clinical_question: str = "",
) -> models.AgendaItem:
    """List a case at the end of a meeting's agenda.

    1. Lock the meeting row, so two coordinators listing at once get consecutive positions.
    2. Refuse a closed meeting and a case that is already listed.
    3. After the freeze (``agenda_frozen_at``) require ``late_reason``; without the minimum
       dataset require ``incomplete_reason``. Both problems are reported together.
    4. Append the item and keep the reminders in step.
    """
    require(user, Capability.LIST_CASES)
    meeting = models.Meeting.objects.select_for_update().filter(pk=meeting_id).first()
    if meeting is None:
        raise ValidationError({"meeting": "That meeting does not exist."})
    if meeting.status == models.MeetingStatus.CLOSED:
        raise ValidationError({"meeting": "That meeting is closed: list the case on another."})
    if not models.Case.objects.filter(pk=case_id).exists():
        raise ValidationError({"case": "That case does not exist."})
    listed = (
        models.AgendaItem.objects.filter(meeting=meeting, case_id=case_id)
        .select_related("case")
        .first()
    )
    if listed is not None:
        raise ValidationError({"case": _already_listed_message(listed)})

    late_reason, incomplete_reason = late_reason.strip(), incomplete_reason.strip()
    clinical_question = (clinical_question or "").strip()
    errors: dict[str, list[str]] = {}
    if len(clinical_question) > QUESTION_MAX_LENGTH:
        errors["clinical_question"] = [f"Keep the question to {QUESTION_MAX_LENGTH} characters."]
    late = timezone.now() >= agenda_frozen_at(meeting)
    if late and not late_reason:
        frozen = timezone.localtime(agenda_frozen_at(meeting))
        errors["late_reason"] = [
            f"The agenda froze at {frozen:%H:%M on %d %b %Y}: say why this case must be added late."
        ]
    today = timezone.localdate()
    record = case_clinical_record(case_id=case_id)
    missing = missing_minimum_dataset(record, today=completeness_day(meeting, today=today))
    if missing and not incomplete_reason:
        errors["incomplete_reason"] = [
            f"Missing: {'; '.join(missing)}. Give a reason to list the case without them."
        ]
    for field, text in (("late_reason", late_reason), ("incomplete_reason", incomplete_reason)):
        if len(text) > REASON_MAX_LENGTH:
            errors.setdefault(field, []).append(
                f"Keep the reason to {REASON_MAX_LENGTH} characters."
            )
    if errors:
        raise ValidationError(errors)

    last = models.AgendaItem.objects.filter(meeting=meeting).aggregate(p=Max("position"))["p"]
    item = models.AgendaItem(
        meeting=meeting,
        case=record,
        position=(last or 0) + 1,
        listed_by=user,
        late_reason=late_reason if late else "",
        incomplete_reason=incomplete_reason if missing else "",
        clinical_question=clinical_question,
    )
    try:
        with transaction.atomic():
            item.save()
    except IntegrityError as error:  # listed by someone else between the check and the insert
        raise ValidationError(
            {"case": f"{record.reference} is already on the agenda of this meeting."}
        ) from error
    reminders_sync_for_case(case_id=case_id)
    return item
