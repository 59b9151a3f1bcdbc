"""The sweeps that run over whole tables use their partial indexes at a realistic volume.

Plans, not timings: each test writes a realistic volume with set-based SQL (most rows outside the
index's predicate, as in a live database), runs ANALYZE, and reads PostgreSQL's plan for the
exact queryset the application runs.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from cases import models
from cases.audit import db_roles
from cases.reminders.dispatch import due_for_claim, expired_claims
from cases.worklists import queries as worklists
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)
REMINDERS = 100_000


def uses_index(plan: str, index: str) -> bool:
    """An index scan (plain, bitmap or index-only) on ``index`` somewhere in the plan."""
    return any(
        index in line and ("Index Scan" in line or "Index Only Scan" in line)
        for line in plan.splitlines()
    )


@pytest.fixture(autouse=True, scope="module")
def _as_owner(django_db_setup, django_db_blocker):
    """Only the owner of a table may ANALYZE it, and these tests read plans, not privileges:
    they run as the owner role (docs/security.md)."""
    owner = db_roles.owner_credentials(connection.settings_dict)
    if owner is None:
        yield
        return
    with django_db_blocker.unblock():
        app = db_roles.use_credentials(owner)
    yield
    with django_db_blocker.unblock():
        db_roles.use_credentials(app)


def analyze(*tables: str) -> None:
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"ANALYZE {table}")


def cases(n: int) -> list[int]:
    patients = models.Patient.objects.bulk_create(
        models.Patient(hospital_number=f"X{k:07d}", family_name=f"Fam{k}", given_name="Lee",
                  date_of_birth=dt.date(1960, 1, 1))
        for k in range(n)
    )  # fmt: skip
    created = models.Case.objects.bulk_create(
        models.Case(patient=p, primary_site="rectum", diagnosed_on=dt.date(2025, 1, 1),
               stage=models.Stage.CONVERSION)
        for p in patients
    )  # fmt: skip
    return [c.pk for c in created]


def run_sql(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


# --- The reminder dispatcher -----------------------------------------------------------------


@pytest.fixture
def reminders():
    """100,000 reminders a year into service: 3 % pending, 0.1 % being sent, the rest sent or
    cancelled, due over the past year and the coming months."""
    first, last = cases(2)
    run_sql(
        """
        INSERT INTO cases_reminder (kind, case_id, dedupe_key, due_at, recipients, state,
            attempts, last_error, claimed_at, claim_token, sent_at, cancelled_at, created_at,
            updated_at)
        SELECT 'action_due', CASE WHEN g %% 2 = 0 THEN %(first)s ELSE %(last)s END,
            'bench-' || g, %(now)s - interval '365 days' + g * interval '6 minutes',
            ARRAY['someone@example.org'],
            CASE WHEN g %% 1000 = 7 THEN 'sending' WHEN g %% 33 = 0 THEN 'pending'
                 WHEN g %% 10 = 0 THEN 'cancelled' ELSE 'sent' END,
            1, '',
            CASE WHEN g %% 1000 = 7 THEN %(now)s - interval '1 hour' END,
            CASE WHEN g %% 1000 = 7 THEN gen_random_uuid() END,
            CASE WHEN g %% 1000 <> 7 AND g %% 33 <> 0 AND g %% 10 <> 0 THEN %(now)s END,
            CASE WHEN g %% 1000 <> 7 AND g %% 33 <> 0 AND g %% 10 = 0 THEN %(now)s END,
            %(now)s, %(now)s
        FROM generate_series(1, %(n)s) AS g
        """,
        {"first": first, "last": last, "now": NOW, "n": REMINDERS},
    )
    analyze("cases_reminder")
    assert models.Reminder.objects.count() == REMINDERS


def test_the_claim_query_is_an_index_scan_at_100000_reminders(reminders):
    pending = models.Reminder.objects.filter(state="pending").count()
    assert 2_000 < pending < 5_000  # a realistic share, not a toy table
    plan = due_for_claim(NOW, 1000).explain()
    assert uses_index(plan, "reminder_due_idx"), plan
    assert "Seq Scan" not in plan, plan


def test_the_stale_lease_reclaim_is_an_index_scan_at_100000_reminders(reminders):
    plan = expired_claims(NOW, 1000).explain()
    assert uses_index(plan, "reminder_claim_idx"), plan
    assert "Seq Scan" not in plan, plan


# --- The worklists' due-date sweeps ----------------------------------------------------------


@pytest.fixture
def clinical_history():
    """2,000 cases with years of history: almost every reassessment done, result reported,
    operation performed and action closed; a few of each still open."""
    ids = cases(2000)
    owner = make_user("clinician")
    today = NOW.date()
    params = {"ids": ids, "today": today, "owner": owner.pk, "now": NOW}
    common = "1, %(now)s, %(now)s"  # version, created_at, updated_at
    run_sql(
        f"""
        INSERT INTO cases_reassessment (version, created_at, updated_at, case_id, cycle, due_on,
            modality, response, hpb_mdt_reviewed, extrahepatic_disease,
            pet_complete_metabolic_response, combined_resection_technically_feasible,
            planned_hepatectomy_extent, reassessed_on, imaging_performed_on)
        SELECT {common}, c.id, k, %(today)s - (20 - k) * 60 + (c.id %% 30), 'ct', '', false, 'none',
            false, false, '',
            CASE WHEN k < 20 THEN %(today)s - (20 - k) * 60 END,
            CASE WHEN k < 20 THEN %(today)s - (20 - k) * 60 - 3 END
        FROM unnest(%(ids)s::int[]) AS c(id), generate_series(1, 20) AS k
        """,  # noqa: S608 (fixed SQL, values as parameters)
        params,
    )
    markers = ["mmr_msi", "kras", "nras", "braf_v600e"]
    run_sql(
        f"""
        INSERT INTO cases_molecularresult (version, created_at, updated_at, case_id, marker,
            status, method, requested_on, reported_on)
        SELECT {common}, c.id, marker,
            CASE WHEN c.id %% 40 = 0 THEN 'pending' WHEN marker = 'mmr_msi' THEN 'pmmr_mss'
                 ELSE 'wild_type' END, '',
            %(today)s - 200 + (c.id %% 100),
            CASE WHEN c.id %% 40 = 0 THEN NULL ELSE %(today)s - 90 END
        FROM unnest(%(ids)s::int[]) AS c(id), unnest(%(markers)s::text[]) AS marker
        """,  # noqa: S608
        params | {"markers": markers},
    )
    run_sql(
        f"""
        INSERT INTO cases_surgery (version, created_at, updated_at, case_id, kind, urgency,
            hepatectomy_extent, margin, cancel_reason, planned_on, performed_on)
        SELECT {common}, c.id, 'primary_resection', 'elective', '',
            CASE WHEN k < 5 OR c.id %% 30 <> 0 THEN 'r0' ELSE '' END, '',
            %(today)s - (5 - k) * 90 + 20,
            CASE WHEN k < 5 OR c.id %% 30 <> 0 THEN %(today)s - (5 - k) * 90 END
        FROM unnest(%(ids)s::int[]) AS c(id), generate_series(1, 5) AS k
        """,  # noqa: S608
        params,
    )
    run_sql(
        f"""
        INSERT INTO cases_action (version, created_at, updated_at, case_id, description, owner_id,
            due_on, status, not_done_reason, completed_at)
        SELECT {common}, c.id, 'Book MRI', %(owner)s, %(today)s - (10 - k) * 30,
            CASE WHEN k = 10 AND c.id %% 20 = 0 THEN 'open' ELSE 'done' END, '',
            CASE WHEN k = 10 AND c.id %% 20 = 0 THEN NULL ELSE %(now)s END
        FROM unnest(%(ids)s::int[]) AS c(id), generate_series(1, 10) AS k
        """,  # noqa: S608
        params,
    )
    analyze(
        "cases_case", "cases_patient", "cases_reassessment", "cases_molecularresult",
        "cases_surgery", "cases_action",
    )  # fmt: skip


SWEEPS = [
    ("reassessments-due", "reassessment_open_due_idx"),
    ("reassessments-overdue", "reassessment_open_due_idx"),
    ("reimaging-unbooked", "reassessment_open_due_idx"),
    ("results-pending", "molecular_pending_idx"),
    ("bevacizumab-interval", "surgery_planned_idx"),
    ("scrt-window", "surgery_planned_idx"),
    ("actions", "action_open_idx"),
]


@pytest.mark.parametrize(("slug", "index"), SWEEPS)
def test_each_worklist_sweep_reads_its_partial_index(clinical_history, slug, index):
    with time_machine.travel(NOW, tick=False):
        today = timezone.localdate()
        rows = worklists.worklist_queryset(
            worklists.WORKLISTS_BY_SLUG[slug], today=today, meeting=None
        )
        assert rows.count() < rows.model.objects.count() / 10  # the index is selective
        for query in (rows, rows[:8]):  # the full list (and its count) and a dashboard panel
            plan = query.explain()
            assert uses_index(plan, index), plan
