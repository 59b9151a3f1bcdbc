"""Writes after the meeting: letters drafted at sign-off, checked and sent; the follow-up of each
recommendation; the administrator's letter templates.

``outcome_signed_off`` is the one hook into the meeting: the sign-off service calls it inside its
transaction, so a signed-off outcome never exists without its letters and follow-ups.
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.template import TemplateSyntaxError
from django.utils import timezone

from cases.common.services import ConflictError, update_versioned
from cases.followup.implementation import follow_ups_implied
from cases.followup.letters import fill, letter_html
from cases.meetings.selectors import case_screen, meeting_day
from cases.meetings.walk.context import current_decisions
from cases.models import (
    OPEN_FOLLOW_UP,
    AgendaItem,
    FollowUp,
    FollowUpStatus,
    LetterStatus,
    LetterTemplate,
    NotDoneReason,
    OutcomeLetter,
    RecipientKind,
    User,
)
from cases.reminders.planning import reminders_sync_for_case
from cases.security.permissions import Capability, require

C = Capability
TEXT_MAX = 300
TEMPLATE_MAX = 4000
# The letters every signed-off outcome gets; the patient's when the MDT ticks it.
STANDARD_LETTERS = (RecipientKind.GP, RecipientKind.REFERRER)


# --- At sign-off ----------------------------------------------------------------------------------


def outcome_signed_off(*, agenda_item_id: int) -> None:
    """Draft the outcome's letters and open a follow-up for each recommendation that asks for
    something to happen. Called by ``cases.meetings.services.outcome_sign_off`` (which checked the
    chair's right to sign off) inside its transaction, before the case's reminders are synced:
    the sync then asks a clinician to check the new letters."""
    item = AgendaItem.objects.select_related("meeting").get(pk=agenda_item_id)
    OutcomeLetter.objects.bulk_create(
        [OutcomeLetter(agenda_item=item, case_id=item.case_id, kind=k) for k in STANDARD_LETTERS],
        ignore_conflicts=True,
    )
    decisions = current_decisions(item.decisions.all()).values()
    implied = follow_ups_implied(decisions, next_reassessment=item.next_reassessment_on)
    FollowUp.objects.bulk_create(
        [
            FollowUp(
                agenda_item=item,
                case_id=item.case_id,
                decision=i.decision,
                kind=i.kind,
                description=i.description,
                planned_on=meeting_day(item.meeting),
            )
            for i in implied
        ],
        ignore_conflicts=True,
    )


# --- Letters --------------------------------------------------------------------------------------


def _signed_off_item(agenda_item_id: int) -> AgendaItem:
    item = AgendaItem.objects.select_for_update().filter(pk=agenda_item_id).first()
    if item is None or item.signed_off_at is None:
        raise ValidationError("Letters are written once the outcome has been signed off.")
    return item


@transaction.atomic
def patient_letter_add(*, user: User, agenda_item_id: int) -> OutcomeLetter:
    """The MDT ticked "write to the patient": a plain-language letter is drafted."""
    require(user, C.RECORD_DECISIONS)
    item = _signed_off_item(agenda_item_id)
    letter, created = OutcomeLetter.objects.get_or_create(
        agenda_item=item, kind=RecipientKind.PATIENT, defaults={"case_id": item.case_id}
    )
    if not created:
        raise ValidationError("A letter to the patient has already been drafted.")
    reminders_sync_for_case(case_id=item.case_id)
    return letter


def _letter_for_update(letter_id: int) -> OutcomeLetter:
    letter = OutcomeLetter.objects.select_for_update().filter(pk=letter_id).first()
    if letter is None:
        raise ValidationError("No such letter.")
    return letter


@transaction.atomic
def letter_check(*, user: User, letter_id: int, expected_version: int) -> OutcomeLetter:
    """A named clinician checked the letter: the letter as they saw it is kept and sent."""
    require(user, C.CHECK_LETTERS)
    letter = _letter_for_update(letter_id)
    if letter.version != expected_version:
        raise ConflictError()
    if letter.status != LetterStatus.DRAFTED:
        raise ConflictError(
            f"This letter was already checked by {letter.checked_by} "
            f"on {timezone.localtime(letter.checked_at):%d %b %Y at %H:%M}."
        )
    html = letter_html(case_screen(letter.agenda_item_id), letter.kind)
    update_versioned(
        OutcomeLetter,
        pk=letter.pk,
        expected_version=expected_version,
        changes={
            "status": LetterStatus.CHECKED,
            "checked_by": user,
            "checked_at": timezone.now(),
            "checked_html": html,
        },
    )
    reminders_sync_for_case(case_id=letter.case_id)
    letter.refresh_from_db()
    return letter


@transaction.atomic
def letter_send(*, user: User, letter_id: int, expected_version: int) -> OutcomeLetter:
    """The checked letter went out: who sent it and when."""
    require(user, C.SEND_LETTERS)
    letter = _letter_for_update(letter_id)
    if letter.version != expected_version:
        raise ConflictError()
    if letter.status == LetterStatus.DRAFTED:
        raise ValidationError("A clinician must check this letter before it is sent.")
    if letter.status == LetterStatus.SENT:
        raise ConflictError(
            f"This letter was already marked sent by {letter.sent_by} "
            f"on {timezone.localtime(letter.sent_at):%d %b %Y at %H:%M}."
        )
    update_versioned(
        OutcomeLetter,
        pk=letter.pk,
        expected_version=expected_version,
        changes={"status": LetterStatus.SENT, "sent_by": user, "sent_at": timezone.now()},
    )
    letter.refresh_from_db()
    return letter


def _template_text(value: str, field: str, *, required: bool) -> str:
    text = (value or "").strip()
    if required and not text:
        raise ValidationError({field: "This part of the letter cannot be empty."})
    if len(text) > TEMPLATE_MAX:
        raise ValidationError({field: f"At most {TEMPLATE_MAX} characters."})
    try:
        fill(text, {})
    except TemplateSyntaxError as error:
        raise ValidationError(
            {field: f"The placeholders cannot be read ({error}). Use {{{{ patient_name }}}}."}
        ) from None
    return text


@transaction.atomic
def letter_template_save(
    *,
    user: User,
    kind: str,
    salutation: str,
    opening: str,
    closing: str,
    expected_version: int | None,
) -> LetterTemplate:
    """Save the administrator's words for one kind of letter (letters already checked keep the
    words they were checked with)."""
    require(user, C.EDIT_LETTER_TEMPLATES)
    if kind not in RecipientKind.values:
        raise ValidationError("No such kind of letter.")
    changes = {
        "salutation": _template_text(salutation, "salutation", required=True),
        "opening": _template_text(opening, "opening", required=True),
        "closing": _template_text(closing, "closing", required=False),
        "updated_by": user,
    }
    stored = LetterTemplate.objects.select_for_update().filter(kind=kind).first()
    if stored is None:
        if expected_version not in (None, 0):
            raise ConflictError()
        try:
            with transaction.atomic():
                return LetterTemplate.objects.create(kind=kind, **changes)
        except IntegrityError:
            raise ConflictError() from None
    update_versioned(
        LetterTemplate, pk=stored.pk, expected_version=expected_version or 0, changes=changes
    )
    stored.refresh_from_db()
    return stored


# --- Follow-up ------------------------------------------------------------------------------------

_RANK = {
    FollowUpStatus.PLANNED: 0,
    FollowUpStatus.IN_PROGRESS: 1,
    FollowUpStatus.DONE: 2,
    FollowUpStatus.NOT_DONE: 2,
}


@transaction.atomic
def follow_up_update(
    *,
    user: User,
    follow_up_id: int,
    status: str,
    status_on: dt.date | None,
    not_done_reason: str = "",
    not_done_text: str = "",
    expected_version: int,
) -> FollowUp:
    """Move a recommendation on: planned → in progress → done, or not done with a reason.

    A follow-up moves forward only; a closed one stays as recorded (the history is audited)."""
    require(user, C.RECORD_FOLLOW_UP)
    follow_up = FollowUp.objects.select_for_update().filter(pk=follow_up_id).first()
    if follow_up is None:
        raise ValidationError("No such follow-up.")
    if follow_up.version != expected_version:
        raise ConflictError()
    if status not in FollowUpStatus.values:
        raise ValidationError({"status": "Choose a status from the list."})
    if follow_up.status not in OPEN_FOLLOW_UP:
        raise ConflictError(
            f"This recommendation was already recorded as {follow_up.get_status_display().lower()}."
        )
    if _RANK[status] < _RANK[follow_up.status]:
        raise ValidationError({"status": "A follow-up moves forward only."})
    errors: dict[str, str] = {}
    closed = status in (FollowUpStatus.DONE, FollowUpStatus.NOT_DONE)
    reason = not_done_reason if status == FollowUpStatus.NOT_DONE else ""
    text = (not_done_text or "").strip() if status == FollowUpStatus.NOT_DONE else ""
    if closed:
        if status_on is None:
            errors["status_on"] = "Give the date it was done, or found not to be done."
        elif status_on < follow_up.planned_on:
            errors["status_on"] = "The date cannot be before the meeting."
        elif status_on > timezone.localdate():
            errors["status_on"] = "The date cannot be in the future."
    if status == FollowUpStatus.NOT_DONE:
        if reason not in NotDoneReason.values:
            errors["not_done_reason"] = "Choose why it was not done."
        elif reason == NotDoneReason.OTHER and not text:
            errors["not_done_text"] = "Say what the other reason was."
    if len(text) > TEXT_MAX:
        errors["not_done_text"] = f"At most {TEXT_MAX} characters."
    if errors:
        raise ValidationError(errors)
    update_versioned(
        FollowUp,
        pk=follow_up.pk,
        expected_version=expected_version,
        changes={
            "status": status,
            "status_on": status_on if closed else None,
            "not_done_reason": reason,
            "not_done_text": text,
            "updated_by": user,
        },
    )
    follow_up.refresh_from_db()
    return follow_up
