"""The meeting screens show the rules' dates as the engine and the settings give them: the
agenda's freeze and the earliest elective surgery after bevacizumab. Written out by hand here,
from the meeting's time and the last dose, so a screen that counted its own dates would fail."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from cases import models
from tests.conftest import make_user, signed_in
from tests.meeting_factory import MEETING_DAY, list_case, make_conversion_case, make_meeting

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def chair():
    return make_user("chair", discipline=models.Discipline.MEDICAL_ONCOLOGIST)


def _freeze_line(client, meeting) -> str:
    page = client.get(reverse("cases:meeting-detail", args=[meeting.pk])).content.decode()
    return next(line for line in page.splitlines() if "listed until" in line or "froze at" in line)


def test_the_meeting_page_shows_the_freeze_24_hours_before_by_default(chair):
    meeting = make_meeting(chair, day=timezone.localdate() + dt.timedelta(days=7))
    local = timezone.localtime(meeting.scheduled_for) - dt.timedelta(hours=24)
    assert f"{local:%H:%M} on {local.day} {local:%b}" in _freeze_line(signed_in(chair), meeting)


def test_the_freeze_follows_its_setting_on_the_page_and_in_the_listing(chair, settings):
    settings.AGENDA_FREEZE_HOURS = 72
    meeting = make_meeting(chair, day=timezone.localdate() + dt.timedelta(days=2))
    local = timezone.localtime(meeting.scheduled_for) - dt.timedelta(hours=72)
    client = signed_in(chair)
    assert f"{local:%H:%M} on {local.day} {local:%b}" in _freeze_line(client, meeting)
    assert "froze at" in _freeze_line(client, meeting)  # two days ahead is inside 72 hours
    case = make_conversion_case(day=timezone.localdate())
    listed = client.post(reverse("cases:agenda-item-add", args=[case.pk]), {"meeting": meeting.pk})
    assert listed.status_code == 422  # the listing service froze the agenda at the same time
    assert "say why this case must be added late" in listed.content.decode()


@pytest.mark.parametrize("days", [42, 56])
def test_the_summary_shows_the_engines_earliest_surgery_after_bevacizumab(chair, settings, days):
    settings.PATHWAY_BEV_MIN_DAYS = days
    case = make_conversion_case(bev_days_before=10)
    item = list_case(make_meeting(chair), case, by=chair)
    last_dose = MEETING_DAY - dt.timedelta(days=10)
    earliest = last_dose + dt.timedelta(days=days)  # the dose's day plus the interval: D1
    page = signed_in(chair).get(reverse("cases:agenda-item-detail", args=[item.pk]))
    expected = f"(elective surgery from {earliest.day} {earliest:%b %Y})"
    assert expected in page.content.decode()
