"""The demo meeting can be walked end to end: every case's page renders, every point takes its
pre-filled answer (with reasons where the rules ask for them), and every outcome signs off."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from cases import models
from cases.meetings import services as svc
from cases.meetings.walk import build_walk
from cases.records.selectors import case_clinical_record
from tests.meeting_factory import answer_as_recommended

pytestmark = pytest.mark.django_db


def _answer_for(step, day: dt.date) -> dict:
    answer = answer_as_recommended(step, day)
    if step.point == "timing":
        target = answer.get("target_surgery_date")
        if not target or dt.date.fromisoformat(target) < day:
            answer["target_surgery_date"] = (day + dt.timedelta(days=60)).isoformat()
    return answer


def test_the_demo_meeting_can_be_walked_and_signed_off_case_by_case(client, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("demo_data", patients=40, seed=11, stdout=StringIO())
    chair = models.User.objects.get(username="chair")
    meeting = models.Meeting.objects.get(status=models.MeetingStatus.SCHEDULED)
    items = list(meeting.agenda_items.order_by("position"))
    assert len(items) == 12
    # Every core member is expected: one mark each makes the meeting quorate.
    expected = models.SeriesMember.objects.filter(series=meeting.series)
    assert {m.member.username for m in expected} == {
        "chair",
        "hpb",
        "radiologist",
        "clinonc",
        "colorectal",
    }
    for core in expected:
        svc.attendance_mark(
            user=chair, meeting_id=meeting.pk, member_id=core.member_id, presence="present"
        )
    # The demo meeting is next week's: the chair can open it today, with a reason.
    assert meeting.status == models.MeetingStatus.SCHEDULED
    svc.meeting_open(user=chair, meeting_id=meeting.pk, early_reason="Trying the demo")
    client.force_login(chair)
    day = svc.meeting_day(meeting)
    for item in items:
        assert client.get(reverse("cases:agenda-item-detail", args=[item.pk])).status_code == 200
        for _ in range(len(models.DecisionPoint.values) + 1):
            walk = build_walk(
                case_clinical_record(case_id=item.case_id),
                list(item.decisions.all()),
                meeting_day=day,
            )
            step = walk.current
            if step is None:
                break
            svc.decision_record(
                user=chair,
                agenda_item_id=item.pk,
                point=step.point,
                answer=_answer_for(step, day),
                deviation_reason="Demo: the MDT's reason",
                override_reason="Demo: the chair's reason",
            )
        response = client.post(reverse("cases:outcome-sign-off", args=[item.pk]))
        assert response.status_code == 302, response.content.decode()[:2000]
        item.refresh_from_db()
        assert item.signed_off_at is not None
        assert item.quorate_at_sign_off is True
        printed = client.get(reverse("cases:outcome-print", args=[item.pk]))
        assert printed.status_code == 200
        assert b"Trying the demo" in printed.content
    closed = client.post(reverse("cases:meeting-close", args=[meeting.pk]))
    assert closed.status_code == 302
    minutes = client.get(closed["Location"])
    assert minutes.status_code == 200
    assert minutes.content.count(b"Signed off by") == len(items)
