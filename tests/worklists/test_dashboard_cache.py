"""The dashboard's panel cache (cases/data_version.py): current the moment data changes.

These tests commit for real (``transaction=True``): the data versions move when a transaction
commits, and inside a test's wrapping transaction the cache is never used.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time

import psycopg
import pytest
import time_machine
from django.apps import apps
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.test import Client
from django.test.utils import CaptureQueriesContext

from cases import models
from cases.common import data_version, kept_html
from cases.meetings.selectors import next_meeting
from cases.worklists import queries as worklists
from cases.worklists import views
from tests.cohort import populate, upcoming_meeting
from tests.conftest import make_user, signed_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("frozen")]
NOW = dt.datetime(2026, 3, 10, 10, 0, tzinfo=dt.UTC)
# Tables the dashboard never reads: logs, the reminder queue, and the versions themselves.
NOT_CLINICAL = {
    "Reminder",
    "ReminderAttempt",
    "DispatchHeartbeat",
    "CaseAccess",
    "ApiToken",
    "ApiAccess",
    "DataChange",
    "DataVersion",
    "SavedSearch",
    "EnrolmentLink",
    "AccountEvent",
    "FactCorrection",
}


@pytest.fixture
def world() -> dict[str, models.User]:
    """Six cases on every worklist, and tomorrow's meeting with all of them as candidates."""
    users = {role: make_user(role) for role in ("coordinator", "clinician", "chair", "auditor")}
    populate(6, today=NOW.date(), owner=users["clinician"])
    upcoming_meeting(users["chair"], days=1)
    return users


def dashboard(client: Client) -> tuple[str, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/")
    assert response.status_code == 200
    return response.content.decode(), len(queries)


def count_on(html: str, slug: str) -> int:
    section = re.search(rf'<section id="wl-{slug}".*?</section>', html, re.S)
    assert section is not None, slug
    return int(re.search(r'aria-label="(\d+) on this list"', section.group(0)).group(1))


def worklists_without_tokens(html: str) -> str:
    """The worklist panels, without the per-request CSRF tokens."""
    panels = html[
        html.index('<div class="worklists">') : html.index('<section class="grid charts"')
    ]
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", panels)


# --- The versions ----------------------------------------------------------------------------


def test_a_committed_write_changes_its_tables_version_and_no_other(world):
    before = data_version.versions()
    models.Reassessment.objects.update(imaging_booked_for=NOW.date())  # a bulk update, no service
    after = data_version.versions()
    assert after["cases_reassessment"] != before["cases_reassessment"]
    assert {k: v for k, v in after.items() if k != "cases_reassessment"} == {
        k: v for k, v in before.items() if k != "cases_reassessment"
    }
    assert not models.DataChange.objects.exists()  # the commit's notes are gone with it


def test_a_rolled_back_write_changes_nothing_and_inside_a_transaction_nothing_is_cached(world):
    before = data_version.versions()
    with transaction.atomic():
        models.Case.objects.update(ecog=3)
        assert data_version.versions() is None
        assert data_version.key("x", [models.Case], before) is not None  # computed from outside
        transaction.set_rollback(True)
    assert data_version.versions() == before


def test_a_key_changes_with_each_tables_version_and_without_the_row_there_is_none():
    assert data_version.key("x", [models.Case], {}) is None  # no row: just flushed
    current = {"_created": "5", "cases_case": "7"}
    key = data_version.key("x", [models.Case, models.Patient], current, "day")
    assert key == data_version.key("x", [models.Patient, models.Case], dict(current), "day")
    assert key.startswith("x:")
    assert key.endswith(":day")
    changed = [
        data_version.key("x", [models.Case, models.Patient], current | {"cases_case": "8"}, "day"),
        data_version.key(
            "x", [models.Case, models.Patient], current | {"cases_patient": "9"}, "day"
        ),
        data_version.key("x", [models.Case, models.Patient], current | {"_created": "6"}, "day"),
        data_version.key("x", [models.Case, models.Patient], current, "next day"),
    ]
    assert len({key, *changed}) == 5


def test_unchanged_looks_only_at_the_tables_read():
    before = {"_created": "1", "cases_case": "5", "cases_decision": "6"}
    assert data_version.unchanged([models.Case], before, before | {"cases_decision": "7"})
    assert not data_version.unchanged([models.Case], before, before | {"cases_case": "8"})
    assert not data_version.unchanged([models.Patient], before, before | {"_created": "2"})
    assert not data_version.unchanged([models.Case], None, before)
    assert not data_version.unchanged([models.Case], before, None)


def test_every_clinical_table_carries_the_data_version_trigger():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgrelid::regclass::text FROM pg_trigger "
            "WHERE tgname LIKE 'pgtrigger_data_version_%%'"
        )
        with_trigger = {row[0] for row in cursor.fetchall()}
    clinical = {
        model._meta.db_table
        for model in apps.get_app_config("cases").get_models()
        if not model.__name__.endswith("Event") and model.__name__ not in NOT_CLINICAL
    }
    assert with_trigger == clinical


def commit(conn: psycopg.Connection) -> str:
    try:
        conn.commit()
    except psycopg.Error as error:
        return type(error).__name__
    return "committed"


def test_two_commits_at_once_never_deadlock_over_the_version_row(world):
    """B holds a case FOR UPDATE; A's commit must check a new child row of that case against
    it, so A waits for B. B's commit then needs the version row: A must not be holding it."""
    case = models.Case.objects.select_related("patient").first()
    a = psycopg.connect(**connection.get_connection_params())
    b = psycopg.connect(**connection.get_connection_params())
    outcome: dict[str, str] = {}
    try:
        b.execute("SELECT 1 FROM cases_case WHERE id = %s FOR UPDATE", [case.pk])
        b.execute("UPDATE cases_reassessment SET cycle = cycle WHERE case_id = %s", [case.pk])
        a.execute(
            "UPDATE cases_patient SET given_name = given_name WHERE id = %s", [case.patient.pk]
        )
        a.execute(
            "INSERT INTO cases_action (version, created_at, updated_at, case_id, description, "
            "owner_id, due_on, status, not_done_reason) "
            "VALUES (1, now(), now(), %s, 'Book MRI', %s, %s, 'open', '')",
            [case.pk, world["clinician"].pk, NOW.date()],
        )
        waiting = threading.Thread(target=lambda: outcome.setdefault("a", commit(a)))
        waiting.start()
        time.sleep(0.5)  # A is now at its commit, waiting for B's lock on the case
        outcome["b"] = commit(b)
        waiting.join(timeout=10)
    finally:
        a.close()
        b.close()
    assert outcome == {"a": "committed", "b": "committed"}
    assert models.Action.objects.filter(case=case, description="Book MRI").exists()


@pytest.mark.parametrize("spec", worklists.WORKLISTS, ids=lambda spec: spec.slug)
def test_each_worklist_declares_every_table_its_panel_reads(world, spec):
    meeting = next_meeting()
    with CaptureQueriesContext(connection) as queries:
        [panel] = views._build_panels((spec,), today=NOW.date(), meeting=meeting)
        render_to_string(panel.template, {"panel": panel, "can_list": True})
    assert panel.count > 0
    read = {table for q in queries for table in re.findall(r'"(cases_\w+)"', q["sql"])}
    declared = {model._meta.db_table for model in spec.reads}
    assert read <= declared, read - declared


# --- The dashboard ---------------------------------------------------------------------------


def test_a_second_view_is_served_from_the_cache_with_the_same_panels(world):
    client = signed_in(world["coordinator"])
    cold, cold_queries = dashboard(client)
    warm, warm_queries = dashboard(client)
    assert cold_queries <= 12
    # The user, the next meeting, the versions, the dispatch banner, and the access-log entry
    # naming the cases the panels show (the same ids as the cold view's, kept with the panels).
    assert warm_queries == 5
    [cold_entry, warm_entry] = models.CaseAccess.objects.filter(context="dashboard").order_by("id")
    assert cold_entry.case_ids
    assert warm_entry.case_ids == cold_entry.case_ids
    assert worklists_without_tokens(warm) == worklists_without_tokens(cold)
    # The charts too, still drawn as markup (kept as a SafeString, never escaped).
    assert warm.count('<svg class="chart-svg') == 2
    charts = warm[warm.index('<section class="grid charts"') :]
    assert charts == cold[cold.index('<section class="grid charts"') :]


def test_a_write_shows_on_the_next_view_however_it_was_made(world):
    client = signed_in(world["coordinator"])
    html, _ = dashboard(client)
    assert count_on(html, "reimaging-unbooked") > 0
    models.Reassessment.objects.update(imaging_booked_for=NOW.date())
    html, _ = dashboard(client)
    assert count_on(html, "reimaging-unbooked") == 0


def test_a_write_recomputes_only_the_panels_that_read_its_table(world):
    client = signed_in(world["coordinator"])
    _, cold = dashboard(client)
    _, warm = dashboard(client)
    pending = count_on(dashboard(client)[0], "results-pending")
    models.MolecularResult.objects.filter(status=models.MarkerStatus.PENDING).update(
        requested_on=NOW.date()
    )
    html, after = dashboard(client)
    assert count_on(html, "results-pending") == 0 < pending
    assert warm < after < cold  # results and the meeting's lists again, not the rest


def overdue_days(html: str) -> list[int]:
    section = re.search(r'<section id="wl-reassessments-overdue".*?</section>', html, re.S)
    assert section is not None
    return [int(n) for n in re.findall(r"(\d+) days?</td>", section.group(0))]


def test_the_panels_follow_the_day(world):
    today = overdue_days(dashboard(signed_in(world["coordinator"]))[0])
    with time_machine.travel(NOW + dt.timedelta(days=1), tick=False):
        tomorrow = overdue_days(dashboard(signed_in(world["coordinator"]))[0])
    assert today
    # One more a day later (due today, overdue tomorrow), and the others a day more overdue.
    assert tomorrow[: len(today)] == [n + 1 for n in today]


def test_a_cached_panel_carries_each_viewers_own_working_csrf_token(world):
    first = signed_in(world["coordinator"], enforce_csrf_checks=True)
    dashboard(first)  # fills the cache
    client = signed_in(make_user("coordinator"), enforce_csrf_checks=True)
    html, _ = dashboard(client)
    assert kept_html.CSRF_PLACEHOLDER not in html
    form = re.search(
        r'<form method="post" action="(/cases/\d+/list/)".*?name="csrfmiddlewaretoken" '
        r'value="([^"]+)".*?name="meeting" value="(\d+)"',
        html,
        re.S,
    )
    assert form is not None
    action, token, meeting = form.groups()
    # The agenda froze: a listing now needs a reason (the CSRF check passed before that).
    data = {"csrfmiddlewaretoken": token, "meeting": meeting, "late_reason": "Urgent review"}
    response = client.post(action, data)
    assert response.status_code == 302
    assert models.AgendaItem.objects.filter(meeting_id=meeting).count() == 1


def test_a_viewer_who_may_not_list_cases_never_gets_the_list_buttons_from_the_cache(world):
    dashboard(signed_in(world["coordinator"]))
    html, _ = dashboard(signed_in(world["auditor"]))
    assert count_on(html, "meeting-ready") > 0
    assert "/list/" not in html
