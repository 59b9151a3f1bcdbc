"""The meeting page keeps its agenda and attendance sections (cases/data_version.py) while the
tables they read are unchanged: current the moment anything under them is committed.

These tests commit for real (``transaction=True``): inside a test's wrapping transaction the
cache is never used.
"""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases import models
from cases.common import kept_html
from cases.meetings import selectors
from cases.meetings.views import meetings as views
from tests.conftest import make_user, signed_in
from tests.meeting_factory import (
    list_case,
    make_conversion_case,
    make_core_members,
    make_meeting,
)

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world() -> dict[str, object]:
    chair = make_user("chair", username="chair", discipline=models.Discipline.MEDICAL_ONCOLOGIST)
    meeting = make_meeting(chair)
    items = [list_case(meeting, make_conversion_case(), by=chair) for _ in range(3)]
    return {"chair": chair, "meeting": meeting, "items": items}


def page(client: Client, meeting: models.Meeting) -> tuple[str, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("cases:meeting-detail", args=[meeting.pk]))
    assert response.status_code == 200
    return response.content.decode(), len(queries)


def section(html: str, name: str) -> str:
    found = re.search(rf'<section id="{name}".*?</section>', html, re.S)
    assert found is not None, name
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", found.group(0))


def test_a_second_view_draws_the_same_sections_from_the_cache(world):
    client = signed_in(world["chair"])
    cold, cold_queries = page(client, world["meeting"])
    warm, warm_queries = page(client, world["meeting"])
    # The user, the meeting and the versions; nothing of the agenda or the attendance.
    assert warm_queries == 3 < cold_queries
    for name in ("agenda", "attendance"):
        assert section(warm, name) == section(cold, name)


def test_every_committed_change_under_a_section_shows_on_the_next_view(world):
    client = signed_in(world["chair"])
    meeting, item = world["meeting"], world["items"][0]
    page(client, meeting)  # fills the cache
    member = make_core_members()["hpb"]
    models.Attendance.objects.create(meeting=meeting, member=member, discipline=member.discipline)
    models.Decision.objects.create(
        agenda_item=item, point=models.DecisionPoint.DATA_COMPLETENESS, answer={"complete": True},
        advice_snapshot={}, follows_recommendation=True, recorded_by=world["chair"],
    )  # fmt: skip
    models.Patient.objects.filter(pk=item.case.patient_id).update(family_name="Renamed")
    models.Case.objects.filter(pk=item.case_id).update(stage=models.Stage.SURGERY_PLANNED)
    html, _ = page(client, meeting)
    agenda, attendance = section(html, "agenda"), section(html, "attendance")
    assert "RENAMED" in agenda
    assert "1 answered" in agenda
    assert models.Stage.SURGERY_PLANNED.label in agenda
    assert str(member) in attendance
    models.User.objects.filter(pk=member.pk).update(last_name="Newname")
    assert "Newname" in section(page(client, meeting)[0], "attendance")


def test_a_viewer_who_may_not_manage_the_meeting_never_gets_its_buttons_from_the_cache(world):
    page(signed_in(world["chair"]), world["meeting"])
    html, _ = page(signed_in(make_user("clinician")), world["meeting"])
    assert "Up<span" not in section(html, "agenda")
    assert "Mark present" not in section(html, "attendance")
    html, _ = page(signed_in(world["chair"]), world["meeting"])
    assert "Up<span" in section(html, "agenda")


def test_a_kept_section_carries_each_viewers_own_working_csrf_token(world):
    meeting = world["meeting"]
    page(signed_in(world["chair"], enforce_csrf_checks=True), meeting)  # fills the cache
    other_chair = make_user("chair", discipline=models.Discipline.HPB_SURGEON)
    client = signed_in(other_chair, enforce_csrf_checks=True)
    html, _ = page(client, meeting)
    assert kept_html.CSRF_PLACEHOLDER not in html
    agenda = re.search(r'<section id="agenda".*?</section>', html, re.S).group(0)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', agenda).group(1)
    last = world["items"][-1]
    data = {"csrfmiddlewaretoken": token, "item": last.pk, "direction": "up"}
    response = client.post(reverse("cases:agenda-reorder", args=[meeting.pk]), data)
    assert response.status_code == 302
    last.refresh_from_db()
    assert last.position == 2


@pytest.mark.parametrize(
    ("build", "template", "reads", "shown"),
    [
        (selectors.agenda_rows, views.AGENDA, views.AGENDA_READS, "3 cases"),
        (
            selectors.attendance_rows,
            views.ATTENDANCE,
            views.ATTENDANCE_READS,
            "Clinician Tester",
        ),
    ],
    ids=["agenda", "attendance"],
)
def test_each_section_declares_every_table_it_reads(world, build, template, reads, shown):
    meeting = models.Meeting.objects.get(pk=world["meeting"].pk)
    member = make_core_members()["hpb"]
    models.Attendance.objects.create(meeting=meeting, member=member, discipline=member.discipline)
    context = {"meeting": meeting, "can_manage": True}
    with CaptureQueriesContext(connection) as queries:
        html = render_to_string(template, context | build(meeting))
    assert shown in html
    read = {table for q in queries for table in re.findall(r'"(cases_\w+)"', q["sql"])}
    assert read
    assert read <= {model._meta.db_table for model in reads}, read
