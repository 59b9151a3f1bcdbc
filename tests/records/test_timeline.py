"""The timeline picture shows the pathway so far, in order, with a text alternative."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.template.loader import render_to_string

from cases import models
from cases.records.selectors import case_page_record
from cases.records.timeline import timeline_for_case
from tests.conftest import make_case, make_user

D = dt.date
pytestmark = pytest.mark.django_db


@pytest.fixture
def record():
    case = make_case(diagnosed_on=D(2026, 1, 5))
    course = models.TreatmentCourse.objects.create(
        case=case, backbone="folfox", agents=["fluorouracil", "oxaliplatin", "bevacizumab"],
        started_on=D(2026, 1, 20), stopped_on=D(2026, 4, 1),
    )  # fmt: skip
    for day in (D(2026, 1, 20), D(2026, 2, 3)):
        models.AgentAdministration.objects.create(course=course, agent="bevacizumab", given_on=day)
    models.Reassessment.objects.create(
        case=case, cycle=1, due_on=D(2026, 3, 20), imaging_performed_on=D(2026, 3, 18)
    )
    models.Reassessment.objects.create(case=case, cycle=2, due_on=D(2026, 5, 20))
    models.Surgery.objects.create(
        case=case, kind="one_stage_hepatectomy", planned_on=D(2026, 5, 28)
    )
    chair = make_user("chair")
    meeting = models.Meeting.objects.create(scheduled_for="2026-03-24T09:00Z", chair=chair)
    models.AgendaItem.objects.create(meeting=meeting, case=case, position=1, listed_by=chair)
    return case_page_record(case_id=case.pk)  # the case page's record: with its meetings


def test_it_lays_out_every_event_in_date_order(record):
    timeline = timeline_for_case(record, today=D(2026, 4, 10))
    assert timeline.events == [
        "FOLFOX + bevacizumab: 20 Jan 2026 to 1 Apr 2026",
        "Bevacizumab 20 Jan 2026",
        "Bevacizumab 3 Feb 2026",
        "Reassessment 1 scan 18 Mar 2026",
        "MDT 24 Mar 2026",
        "Reassessment 2 due 20 May 2026",
        "One-stage hepatectomy planned 28 May 2026",
    ]
    xs = [marker.x for marker in timeline.markers]
    assert all(120 <= x <= 940 for x in xs)
    assert timeline.x(D(2026, 1, 20)) < timeline.today_x < timeline.x(D(2026, 5, 20))


def test_it_renders_an_accessible_svg_without_inline_styles(record):
    html = render_to_string(
        "cases/records/timeline.html#timeline",
        {"timeline": timeline_for_case(record, today=D(2026, 4, 10))},
    )
    assert 'role="img"' in html
    assert "Bevacizumab 3 Feb 2026" in html  # in the description
    assert "style=" not in html
    assert len(re.findall(r'class="tl-marker tl-dose"', html)) == 2
