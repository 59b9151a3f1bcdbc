"""Every page and partial of the benchmark's page set runs at most 12 queries, and the same
number for a small and a larger database.

The issue compares 100 with 10,000 patients; `make bench` shows both. At test time the sizes are
5 and 60 cases, each with rows on every worklist, an agenda, decisions, reminders and accesses:
a count that grew with the data would differ between the two. The expected counts are exact, so
a change (a new query, or one saved) shows up here.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from cases import models
from cases.meetings import services as svc
from cases.meetings.selectors import next_meeting
from cases.meetings.services import meeting_day
from cases.meetings.walk import build_walk
from cases.records.selectors import case_clinical_record
from cases.reminders.planning import reminders_sync_for_cases
from cases.worklists import queries as worklists
from tests.cohort import populate, upcoming_meeting
from tests.conftest import make_user
from tests.followup.helpers import bulk_outcomes
from tests.imaging_factory import measured_series
from tests.meeting_factory import (
    answer_as_recommended,
    attend_all,
    list_case,
    make_conversion_case,
    make_core_members,
    make_meeting,
)

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 9, 10, 0, tzinfo=dt.UTC)  # the day before the meeting
HTMX = {"HX-Request": "true"}
MAX_QUERIES = 12

# page label: queries. The session comes from the cache (Redis), so a page's own work plus one
# query for the signed-in user; a full page adds one for the dispatch banner; pages that show a
# patient add the access-log INSERT. These tests run inside a transaction, where the dashboard
# never uses its panel cache (cases/data_version.py): these are the counts with nothing cached,
# less the one query that reads the data versions outside a transaction
# (tests/worklists/test_dashboard_cache.py counts that path too).
EXPECTED = {
    "dashboard": 11,
    # Lists of patients add one access-log INSERT naming every case shown (the dashboard's
    # two charts share one query to make room for it).
    **{f"panel {spec.slug}": 4 for spec in worklists.WORKLISTS if not spec.needs_meeting},
    "panel meeting-ready": 5,
    "panel meeting-incomplete": 5,
    **{f"worklist {spec.slug}": 6 for spec in worklists.WORKLISTS},
    "case list": 6,
    # A new search stores its text under a token in PostgreSQL, one statement (the session is
    # not written: nothing of a search goes to the session, which is cached in Redis).
    "case search (htmx POST)": 6,
    "case page": 5,
    "scan form": 4,  # user, banner, the one-query record, the access log
    "bloods form": 4,
    "meeting list": 5,
    "meeting page": 7,  # with the expected core members and the staff who may deputise
    "meeting minutes": 9,
    "core members page": 5,
    "meeting case (walk) page": 5,  # 4, and the previous outcome's follow-up (cases/followup/)
    "walk card partial": 3,
    "outcome partial": 4,
    "card preview (htmx POST)": 2,
    # The item's fact corrections are read only when the meeting has applied one (a hard stop
    # one of them cleared is recorded on the decision); this item has none. Once the row lock is
    # held, one statement reads the item's decisions and the committed data versions.
    "answer POST + walk swap": 10,
    "reminder log": 4,
    "audit case page": 9,
    "molecular form (htmx, in place)": 4,
    "patient lookup (htmx POST)": 4,
    # After the meeting (cases/followup/).
    **{f"panel {spec.slug}": 4 for spec in worklists.AFTER_MEETING_WORKLISTS},
    **{f"worklist {spec.slug}": 6 for spec in worklists.AFTER_MEETING_WORKLISTS},
    "outcome letters and follow-up": 6,
    "letter page": 6,
    "letter templates": 3,
    "letter template edit": 3,
    "reports": 9,
}


def with_staging_cycles_and_referral(case: models.Case) -> None:
    """TNM, MRI pelvis, histology, a referral, and cycles with a toxicity on each course."""
    day = case.diagnosed_on
    models.TnmStaging.objects.create(case=case, kind="clinical", t="T3", n="N1b", m="M1a",
                                     staged_on=day)  # fmt: skip
    models.PelvicMri.objects.create(case=case, performed_on=day, t="T3", n="N1", crm="clear",
                                    emvi="positive", tumour_height_cm=6)  # fmt: skip
    models.Histology.objects.create(case=case, specimen="biopsy", reported_on=day,
                                    histological_type="adenocarcinoma", grade="low")  # fmt: skip
    models.Referral.objects.create(case=case, source="gp", referrer="Dr Jones", received_on=day,
                                   question="Resectable?")  # fmt: skip
    for course in case.treatment_courses.all():
        for number in range(1, 7):
            cycle = models.TreatmentCycle.objects.create(
                course=course, number=number, agents=course.agents,
                given_on=course.started_on + dt.timedelta(days=number * 10),
            )  # fmt: skip
        models.Toxicity.objects.create(course=course, cycle=cycle, term="diarrhea", grade=3,
                                       noted_on=cycle.given_on)  # fmt: skip


def _world(size: int) -> dict[str, object]:
    """A database with ``size`` cases on every worklist (ready or not for tomorrow's meeting),
    and a meeting next week with all of them on its agenda."""
    chair, coordinator = make_user("chair"), make_user("coordinator")
    auditor, owner = make_user("auditor"), make_user("clinician")
    today = NOW.date()
    cases = populate(size, today=today, owner=owner)
    outcome = bulk_outcomes(cases, today=today, owner=owner)
    upcoming_meeting(chair, days=1)  # the dashboard's next meeting: the cohort is its candidates
    meeting = make_meeting(chair, day=today + dt.timedelta(days=7))
    core = make_core_members(prefix=f"s{size}-")
    attend_all(meeting, core)
    models.SeriesMember.objects.bulk_create(
        models.SeriesMember(series=meeting.series, member=m, discipline=m.discipline)
        for m in core.values()
    )
    item = list_case(meeting, make_conversion_case(day=today), by=chair, late_reason="urgent")
    # Scans with measured lesions and a CEA series: still part of the one-query record.
    measured_series(
        item.case,
        baseline_on=today - dt.timedelta(days=90),
        follow_up_on=today - dt.timedelta(days=5),
    )
    with_staging_cycles_and_referral(item.case)  # the larger record of issue 17
    for case in cases:
        list_case(meeting, case, by=chair)
    svc.decision_record(
        user=chair, agenda_item_id=item.pk, point="data_completeness", answer={"choice": "proceed"}
    )
    models.Action.objects.create(
        case_id=item.case_id, agenda_item=item, description="Book MRI", owner=owner,
        due_on=today + dt.timedelta(days=14),
    )  # fmt: skip
    reminders_sync_for_cases(case_ids=[c.pk for c in cases] + [item.case_id])
    fresh = list_case(meeting, make_conversion_case(day=today), by=chair)
    step = build_walk(
        case_clinical_record(case_id=fresh.case_id), [], meeting_day=meeting_day(meeting)
    ).current
    return {
        "users": {
            "coordinator": coordinator,
            "chair": chair,
            "auditor": auditor,
            "admin": make_user("admin"),
        },
        "outcome": outcome,
        "item": item,
        "answer": (
            f"/agenda/{fresh.pk}/points/{step.point}/",
            {**answer_as_recommended(step, today), "patient_check": fresh.case.reference},
        ),
    }


def _pages(world: dict[str, object]) -> list[tuple[str, str, str, dict[str, str], dict | None]]:
    """(label, user, path, headers, POST data) for every page of bench/app_bench.py."""
    item = world["item"]
    walk = f"/agenda/{item.pk}/"
    pages = [("dashboard", "coordinator", "/", {}, None)]
    for spec in worklists.WORKLISTS:
        pages += [
            (f"panel {spec.slug}", "coordinator", f"/worklists/{spec.slug}/panel/", HTMX, None),
            (f"worklist {spec.slug}", "coordinator", f"/worklists/{spec.slug}/", {}, None),
        ]
    answer_path, answer = world["answer"]
    pages += [
        ("case list", "coordinator", "/cases/", {}, None),
        ("case search (htmx POST)", "coordinator", "/cases/",
         HTMX | {"HX-Target": "case-results"}, {"q": "family"}),
        ("case page", "coordinator", f"/cases/{item.case_id}/", {}, None),
        ("scan form", "chair", f"/cases/{item.case_id}/scans/new/", {}, None),
        ("bloods form", "coordinator", f"/cases/{item.case_id}/bloods/new/", {}, None),
        ("meeting list", "coordinator", "/meetings/", {}, None),
        ("meeting page", "coordinator", f"/meetings/{item.meeting_id}/", {}, None),
        ("meeting minutes", "coordinator", f"/meetings/{item.meeting_id}/minutes/", {}, None),
        ("core members page", "coordinator",
         f"/meetings/series/{item.meeting.series_id}/members/", {}, None),
        ("meeting case (walk) page", "chair", walk, {}, None),
        ("walk card partial", "chair", walk, HTMX | {"HX-Target": "walk"}, None),
        ("outcome partial", "chair", walk, HTMX | {"HX-Target": "outcome"}, None),
        ("card preview (htmx POST)", "chair", answer_path + "preview/", HTMX, answer),
        ("answer POST + walk swap", "chair", answer_path, HTMX | {"HX-Target": "walk"}, answer),
        ("reminder log", "coordinator", "/reminders/", {}, None),
        ("audit case page", "auditor", f"/audit/cases/{item.case_id}/", {}, None),
        ("molecular form (htmx, in place)", "coordinator", f"/cases/{item.case_id}/molecular/",
         HTMX, None),
        ("patient lookup (htmx POST)", "coordinator", "/patients/lookup/", HTMX,
         {"number": item.case.patient.hospital_number}),
    ]  # fmt: skip
    outcome = world["outcome"]
    for spec in worklists.AFTER_MEETING_WORKLISTS:
        pages += [
            (f"panel {spec.slug}", "coordinator", f"/worklists/{spec.slug}/panel/", HTMX, None),
            (f"worklist {spec.slug}", "coordinator", f"/worklists/{spec.slug}/", {}, None),
        ]
    pages += [
        ("outcome letters and follow-up", "coordinator", f"/agenda/{outcome.pk}/after/", {}, None),
        ("letter page", "coordinator", f"/letters/{outcome.letters.get().pk}/", {}, None),
        ("letter templates", "admin", "/letter-templates/", {}, None),
        ("letter template edit", "admin", "/letter-templates/gp/", {}, None),
        ("reports", "auditor", "/reports/", {}, None),
    ]
    return pages


def _measure(world: dict[str, object]) -> dict[str, int]:
    clients = {}
    for name, user in world["users"].items():
        clients[name] = Client(HTTP_HOST="localhost")
        clients[name].force_login(user)
    counts = {}
    for label, user, path, headers, data in _pages(world):
        client = clients[user]
        if data is None:
            client.get(path, headers=headers)  # once first: per-process caches are warm
        with CaptureQueriesContext(connection) as queries:
            if data is None:
                response = client.get(path, headers=headers)
            else:
                response = client.post(path, data, headers=headers)
        assert response.status_code == 200, (label, response.status_code)
        counts[label] = len(queries)
    return counts


@pytest.mark.parametrize("size", [5, 60])
def test_every_page_runs_its_fixed_number_of_queries_at_5_and_60_cases(size):
    with time_machine.travel(NOW, tick=False):
        counts = _measure(_world(size))
    assert counts == EXPECTED
    assert max(EXPECTED.values()) <= MAX_QUERIES


def test_the_dashboard_panels_show_the_same_rows_as_the_worklists_themselves():
    with time_machine.travel(NOW, tick=False):
        _world(12)
        today, meeting = NOW.date(), next_meeting()
        plain = {
            spec.slug: worklists.worklist_queryset(spec, today=today, meeting=meeting)
            for spec in worklists.WORKLISTS
            if not spec.needs_meeting
        }
        specs = tuple(spec for spec in worklists.WORKLISTS if not spec.needs_meeting)
        found = worklists.capped_queries(plain, limit=8).run()
        # The dashboard's own path, with its queries built once a day, finds the same.
        by_dashboard = worklists.dashboard_first_rows(specs, today=today, limit=8)
        assert {slug: (n, [r.pk for r in rows]) for slug, (n, rows) in by_dashboard.items()} == {
            slug: (n, [r.pk for r in rows]) for slug, (n, rows) in found.items()
        }
        found |= worklists.meeting_first_rows(meeting, today=today, limit=8)
        for spec in worklists.WORKLISTS:
            rows = worklists.worklist_queryset(spec, today=today, meeting=meeting)
            count, shown = found[spec.slug]
            assert count == rows.count() > 0, spec.slug
            assert [r.pk for r in shown] == [r.pk for r in rows[:8]], spec.slug
            if spec.needs_meeting:
                assert [r.missing_mask for r in shown] == [r.missing_mask for r in rows[:8]]
