"""A signed-off outcome to write letters about and follow up."""

from __future__ import annotations

import datetime as dt

import time_machine

from cases import models
from cases.meetings import services as meetings
from tests.conftest import make_user
from tests.meeting_factory import (
    MEETING_DAY,
    attend_all,
    list_case,
    make_conversion_case,
    make_core_members,
    make_meeting,
)

FOLFOXIRI_BEV = ["fluorouracil", "oxaliplatin", "irinotecan", "bevacizumab"]
ANTI_EGFR = ["fluorouracil", "oxaliplatin", "cetuximab"]
# The meeting day, 10:00 UTC: a Tuesday.
SIGN_OFF_AT = dt.datetime.combine(MEETING_DAY, dt.time(10), tzinfo=dt.UTC)


def make_chair(username: str = "chair") -> models.User:
    return make_user("chair", username=username, discipline=models.Discipline.MEDICAL_ONCOLOGIST)


def answer_all(user, item, **overrides) -> None:
    answers = {
        "data_completeness": {"choice": "proceed"},
        # The HPB verdict is given in the meeting: here, R0 not yet assessed.
        "resectability": {
            "r0_achievable": "not_assessed",
            "extrahepatic_disease": "none",
            "choice": "not_resectable",
        },
        "primary_management": {"choice": "no_intervention"},
        "systemic_therapy": {"plan": "new", "agents": FOLFOXIRI_BEV},
        "pelvic_radiotherapy": {"choice": "none"},
        "liver_surgery": {"surgery": "none", "liver_biopsy": False},
        "outcome": {
            "choice": "continue_pathway",
            "next_reassessment_on": "2026-05-10",  # two months after the meeting day
        },
    }
    answers.update(overrides)
    if "agents" in answers["systemic_therapy"]:
        answers["systemic_therapy"] = {"plan": "new", **answers["systemic_therapy"]}
    for point, answer in answers.items():
        extra = {}
        if point == "systemic_therapy" and answer["agents"] == ANTI_EGFR:
            extra = {
                "override_reason": "Patient refuses bevacizumab after a previous bleed",
                "deviation_reason": "Patient refuses bevacizumab after a previous bleed",
            }
        meetings.decision_record(
            user=user, agenda_item_id=item.pk, point=point, answer=answer, **extra
        )


def signed_off_item(
    *, chair: models.User | None = None, override: bool = False, quorate: bool = True, **answers
) -> models.AgendaItem:
    """A RAS-mutant conversion case discussed and signed off on the meeting day (Tuesday 10 March
    2026), with one action; ``override`` answers anti-EGFR therapy over its hard stop."""
    chair = chair or make_chair()
    with time_machine.travel(SIGN_OFF_AT, tick=False):
        meeting = make_meeting(chair)
        if quorate:
            attend_all(meeting, make_core_members(prefix=f"m{meeting.pk}-"))
        item = list_case(meeting, make_conversion_case(), by=chair)
        if override:
            answers["systemic_therapy"] = {"agents": ANTI_EGFR}
        answer_all(chair, item, **answers)
        models.Action.objects.create(
            case_id=item.case_id,
            agenda_item=item,
            description="Book CT chest, abdomen and pelvis",
            owner=chair,
            due_on=MEETING_DAY + dt.timedelta(days=14),
        )
        meetings.outcome_sign_off(user=chair, agenda_item_id=item.pk)
    item.refresh_from_db()
    return item


def bulk_outcomes(
    cases: list[models.Case], *, today: dt.date, owner: models.User
) -> models.AgendaItem:
    """Each case signed off at a meeting 60 days ago, its GP letter drafted 10 days ago and its
    treatment not started: rows on both after-the-meeting worklists. Returns the first item."""
    from django.utils import timezone

    held = timezone.make_aware(dt.datetime.combine(today - dt.timedelta(days=60), dt.time(9)))
    meeting = models.Meeting.objects.create(
        scheduled_for=held,
        chair=owner,
        status="closed",
        opened_at=held,
        opened_by=owner,
        closed_at=held + dt.timedelta(hours=2),
        closed_by=owner,
    )
    items = models.AgendaItem.objects.bulk_create(
        models.AgendaItem(
            meeting=meeting,
            case=case,
            position=n + 1,
            listed_by=owner,
            status=models.AgendaStatus.DISCUSSED,
            signed_off_at=held,
            signed_off_by=owner,
        )
        for n, case in enumerate(cases)
    )
    decisions = models.Decision.objects.bulk_create(
        models.Decision(
            agenda_item=item,
            point="systemic_therapy",
            answer={"agents": ["fluorouracil", "oxaliplatin", "bevacizumab"]},
            advice_snapshot={},
            follows_recommendation=True,
            recorded_by=owner,
        )
        for item in items
    )
    letters = models.OutcomeLetter.objects.bulk_create(
        models.OutcomeLetter(agenda_item=item, case_id=item.case_id, kind="gp") for item in items
    )
    models.OutcomeLetter.objects.filter(pk__in=[x.pk for x in letters]).update(
        created_at=timezone.now() - dt.timedelta(days=10)
    )
    models.FollowUp.objects.bulk_create(
        models.FollowUp(
            agenda_item=d.agenda_item,
            case_id=d.agenda_item.case_id,
            decision=d,
            kind="treatment",
            description="Start or continue systemic therapy",
            planned_on=held.date(),
        )
        for d in decisions
    )
    return items[0]
