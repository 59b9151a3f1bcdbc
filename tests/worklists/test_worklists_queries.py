"""Every worklist costs the same number of queries for 10 cases as for 200."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cases.worklists import queries as worklists
from tests.cohort import populate, upcoming_meeting
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def measure(today, meeting):
    """(queries, count) per worklist for one dashboard-sized page."""
    figures = {}
    for spec in worklists.WORKLISTS:
        with CaptureQueriesContext(connection) as queries:
            rows = worklists.worklist_queryset(spec, today=today, meeting=meeting)
            count = rows.count()
            list(rows[:8])
        figures[spec.slug] = (len(queries), count)
    with CaptureQueriesContext(connection) as queries:
        worklists.cohort_by_stage()
        worklists.reassessments_due_by_week(today=today)
    figures["charts"] = (len(queries), None)
    return figures


def test_each_worklist_runs_a_fixed_number_of_queries_at_10_and_200_cases():
    with time_machine.travel(dt.datetime(2026, 3, 10, 10, 0, tzinfo=dt.UTC), tick=False):
        today = timezone.localdate()
        owner = make_user("clinician")
        meeting = upcoming_meeting(make_user("chair"))
        populate(10, today=today, owner=owner)
        small = measure(today, meeting)
        populate(190, today=today, owner=owner)
        large = measure(today, meeting)
    assert {slug: q for slug, (q, _) in small.items()} == dict.fromkeys(small, 2)
    assert {slug: q for slug, (q, _) in large.items()} == dict.fromkeys(large, 2)
    # Every list had rows, so the equality is about real pages, not empty ones.
    for slug, (_q, count) in small.items():
        if count is not None:
            assert 0 < count < large[slug][1], slug
