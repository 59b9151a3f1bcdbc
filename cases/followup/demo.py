"""Demo history for the after-the-meeting screens: a year of weekly meetings with attendance,
signed-off outcomes, their letters in every status and follow-ups in every status, and past
reminders, so that every report has something to show. Synthetic data written in bulk, like the
rest of ``demo_data`` (which calls ``demo_history`` with one line)."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from django.db import connection
from django.utils import timezone

from cases import models
from cases.pathway import GUIDELINE_VERSION

WEEKS = 52
ENTRY_AFTER_DIAGNOSIS = dt.timedelta(weeks=2)  # a demo case enters the pathway then
CASES_PER_MEETING = 8
FEWEST_CASES = 3
CORE = ("hpb", "clinician", "radiologist", "clinonc")
# Who covers an absent core member (same discipline), when someone does.
COVER = {"clinician": "chair"}
NOT_DONE = [r for r in models.NotDoneReason.values if r != models.NotDoneReason.OTHER]
HARD_STOP_OVERRIDE = ("ANTI_EGFR_RIGHT_SIDED", "Patient declined bevacizumab; MDT agreed.")


def _at(day: dt.date, hour: int) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def demo_history(
    rng: random.Random, today: dt.date, users: dict[str, models.User], cases: list[models.Case]
) -> dict[str, int]:
    """1. Each case entered the pathway a fortnight after its diagnosis (its ``created_at``).
    2. A Tuesday meeting each week of the past year, with attendance (some absences, some cover).
    3. A few cases signed off at each: decisions, letters and follow-ups by the meeting's age.
    4. Past reminders: sent (with a delay), failed and expired."""
    # 1. One statement: the day of entry drives the conversion cohorts.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE cases_case SET created_at = LEAST(now(), diagnosed_on::timestamptz"
            " + %s + interval '9 hours') WHERE id = ANY(%s)",
            [ENTRY_AFTER_DIAGNOSIS, [c.pk for c in cases]],
        )
    liver_done = set(
        models.Surgery.objects.filter(
            case__in=cases, kind__in=models.Surgery.LIVER_KINDS, performed_on__isnull=False
        ).values_list("case_id", "performed_on")
    )
    resected = dict(liver_done)
    chair = users["chair"]
    last_tuesday = today - dt.timedelta(days=(today.weekday() - 1) % 7 or 7)
    series = models.MeetingSeries.objects.filter(name="Colorectal MDT").first()
    meetings = []
    for w in range(WEEKS):
        start = _at(last_tuesday - dt.timedelta(weeks=w), 8)
        meetings.append(
            models.Meeting(
                title="Colorectal MDT",
                series=series,
                scheduled_for=start,
                chair=chair,
                status=models.MeetingStatus.CLOSED,  # past meetings: opened and closed that day
                opened_at=start,
                opened_by=chair,
                closed_at=start + dt.timedelta(hours=2),
                closed_by=chair,
            )
        )
    meetings = models.Meeting.objects.bulk_create(meetings)
    attendances, items = [], []
    quorate: dict[int, bool] = {}
    for meeting in meetings:
        present = [u for u in CORE if rng.random() > 0.2]
        for absent in set(CORE) - set(present):
            if absent in COVER and rng.random() < 0.7:
                present.append(COVER[absent])
        disciplines = {users[u].discipline for u in present}
        quorate[meeting.pk] = {users[u].discipline for u in CORE} <= disciplines
        attendances += [
            models.Attendance(meeting=meeting, member=users[u], discipline=users[u].discipline)
            for u in dict.fromkeys(present)
        ]
        day = meeting.scheduled_for.date()
        eligible = [c for c in cases if c.diagnosed_on < day - ENTRY_AFTER_DIAGNOSIS]
        chosen = rng.sample(
            eligible, k=min(len(eligible), rng.randint(FEWEST_CASES, CASES_PER_MEETING))
        )
        items += [
            models.AgendaItem(
                meeting=meeting,
                case=case,
                position=n + 1,
                listed_by=users["coordinator"],
                status=models.AgendaStatus.DISCUSSED,
                signed_off_at=meeting.scheduled_for + dt.timedelta(hours=1),
                signed_off_by=chair,
                quorate_at_sign_off=quorate[meeting.pk],
                next_reassessment_on=day + dt.timedelta(weeks=8),
            )
            for n, case in enumerate(chosen)
        ]
    models.Attendance.objects.bulk_create(attendances)
    models.AgendaItem.objects.bulk_create(items)
    decisions = _decisions(rng, items, resected, chair)
    models.Decision.objects.bulk_create([d for d, _kind in decisions])
    follow_ups = _follow_ups(rng, today, decisions)
    models.FollowUp.objects.bulk_create(follow_ups)
    letters = _letters(rng, today, items, users)
    models.OutcomeLetter.objects.bulk_create(letters)
    with connection.cursor() as cursor:  # drafted at the sign-off, not today
        cursor.execute(
            "UPDATE cases_outcomeletter l SET created_at = ai.signed_off_at"
            " FROM cases_agendaitem ai WHERE ai.id = l.agenda_item_id AND l.id = ANY(%s)",
            [[x.pk for x in letters]],
        )
    reminders = _reminders(rng, today, cases)
    models.Reminder.objects.bulk_create(reminders)
    return {
        "past meetings": len(meetings),
        "signed-off outcomes": len(items),
        "outcome letters": len(letters),
        "follow-ups": len(follow_ups),
        "past reminders": len(reminders),
    }


def _decision(item: models.AgendaItem, point: str, answer: dict[str, Any], chair, **extra):
    return models.Decision(
        agenda_item=item,
        point=point,
        answer=answer,
        advice_snapshot={"guideline_version": GUIDELINE_VERSION},
        follows_recommendation=extra.pop("follows", True),
        recorded_by=chair,
        **extra,
    )


def _decisions(rng, items, resected, chair) -> list[tuple[models.Decision, str | None]]:
    """(decision, follow-up kind or None): resectability, systemic therapy and the outcome."""
    out: list[tuple[models.Decision, str | None]] = []
    for item in items:
        day = item.meeting.scheduled_for.date()
        surgery_on = resected.get(item.case_id)
        converted = surgery_on is not None and day <= surgery_on
        choice = "converted_resectable" if converted else "not_resectable"
        follows = rng.random() > 0.1
        out.append(
            (
                _decision(
                    item,
                    "resectability",
                    {"choice": choice},
                    chair,
                    follows=follows,
                    deviation_reason="" if follows else "HPB surgeon's judgement on the scan",
                ),
                "surgery" if converted else None,
            )
        )
        override = rng.random() < 0.05
        out.append(
            (
                _decision(
                    item,
                    "systemic_therapy",
                    {"agents": ["fluorouracil", "oxaliplatin", "bevacizumab"]},
                    chair,
                    overridden_hard_stops=[HARD_STOP_OVERRIDE[0]] if override else [],
                    override_reason=HARD_STOP_OVERRIDE[1] if override else "",
                ),
                "treatment",
            )
        )
        out.append((_decision(item, "outcome", {"choice": "continue_pathway"}, chair), "scan"))
    return out


DESCRIPTIONS = {
    "surgery": "Book liver surgery: One-stage hepatectomy",
    "treatment": "Start or continue systemic therapy: Fluorouracil, Oxaliplatin, Bevacizumab",
    "scan": "Reassessment imaging",
}


def _follow_ups(rng, today, decisions) -> list[models.FollowUp]:
    """Older recommendations are mostly done (some not done, with reasons); recent ones open."""
    rows = []
    for decision, kind in decisions:
        if kind is None:
            continue
        planned = decision.agenda_item.meeting.scheduled_for.date()
        age = (today - planned).days
        fields: dict[str, Any] = {"status": models.FollowUpStatus.PLANNED}
        roll = rng.random()
        if (age > 60 and roll < 0.7) or (age > 14 and roll < 0.3):
            closed_on = min(today, planned + dt.timedelta(days=rng.randint(3, 40)))
            fields = {"status": models.FollowUpStatus.DONE, "status_on": closed_on}
        elif age > 14 and roll < 0.85:
            reason = rng.choice([*NOT_DONE, models.NotDoneReason.OTHER])
            fields = {
                "status": models.FollowUpStatus.NOT_DONE,
                "status_on": min(today, planned + dt.timedelta(days=rng.randint(3, 40))),
                "not_done_reason": reason,
                "not_done_text": "Moved to another hospital" if reason == "other" else "",
            }
        elif roll < 0.95:
            fields = {"status": models.FollowUpStatus.IN_PROGRESS}
        rows.append(
            models.FollowUp(
                agenda_item=decision.agenda_item,
                case_id=decision.agenda_item.case_id,
                decision=decision,
                kind=kind,
                description=DESCRIPTIONS[kind],
                planned_on=planned,
                **fields,
            )
        )
    return rows


def _letters(rng, today, items, users) -> list[models.OutcomeLetter]:
    """GP and referrer letters: sent for all but the last fortnight's outcomes (a few late),
    checked or still drafted for the recent ones; a patient letter now and then."""
    rows = []
    clinician, coordinator = users["clinician"], users["coordinator"]
    for item in items:
        signed = item.signed_off_at
        kinds = ["gp", "referrer"] + (["patient"] if rng.random() < 0.2 else [])
        for kind in kinds:
            age = (today - signed.date()).days
            letter = models.OutcomeLetter(agenda_item=item, case_id=item.case_id, kind=kind)
            left = item.case.stage == models.Stage.LEFT_PATHWAY
            if age > 14 or left or rng.random() < 0.3:
                checked = signed + dt.timedelta(hours=rng.choice([3, 20, 30, 75]))
                letter.status, letter.checked_by, letter.checked_at = "checked", clinician, checked
                letter.checked_html = (
                    "<article class='letter'><p>Checked demo letter.</p></article>"
                )
                if age > 14 or left or rng.random() < 0.5:
                    letter.status = "sent"
                    letter.sent_by, letter.sent_at = coordinator, checked + dt.timedelta(hours=2)
            rows.append(letter)
    return rows


def _reminders(rng, today, cases) -> list[models.Reminder]:
    """Reminders of the past year: mostly sent a few minutes late, some failed, some expired."""
    rows = []
    # Cases still on the pathway: one that left it has no reminders at all (its were cancelled).
    on_pathway = [c for c in cases if c.stage != models.Stage.LEFT_PATHWAY] or cases
    for n in range(min(400, 4 * len(on_pathway))):
        case = rng.choice(on_pathway)
        due = _at(today - dt.timedelta(days=rng.randint(1, 360)), 8)
        roll = rng.random()
        state = "sent" if roll < 0.8 else "failed" if roll < 0.88 else "cancelled"
        rows.append(
            models.Reminder(
                kind=rng.choice(["reassessment_due", "reimaging_due", "action_due"]),
                case=case,
                dedupe_key=f"demo-history-{cases[0].pk}-{n}",
                due_at=due,
                event_on=due.date(),
                state=state,
                attempts=1 if state != "cancelled" else 0,
                last_error="SMTP 451: try again later" if state == "failed" else "",
                sent_at=due + dt.timedelta(minutes=rng.randint(1, 30)) if state == "sent" else None,
                cancelled_at=due if state == "cancelled" else None,
            )
        )
    return rows
