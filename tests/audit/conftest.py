"""Database sessions for the audit tests, each its own connection outside the test's
transaction (so the tests that use them commit their data: ``transactional_db``):

- ``app_db``: the app's role, as an attacker holding the app's credentials would use it (psql);
- ``owner_db``: the owner role (DATABASE_MIGRATE_URL);
- ``superuser_db``: a superuser (DATABASE_SUPERUSER_URL), who bypasses everything;
- ``pentest_db``: a role made for the test like the penetration tester's, a non-superuser that
  owns nothing and holds SELECT, INSERT, UPDATE and DELETE on every table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from django.db import connection
from django.utils import timezone
from psycopg import sql

from cases import models
from cases.audit import db_roles
from cases.audit.access import access_log_record
from tests.audit.test_audit_trail import as_request_by
from tests.conftest import make_case, make_user, superuser_url


def session(settings_dict: dict[str, Any]) -> psycopg.Connection:
    params = {
        "dbname": settings_dict["NAME"],
        "user": settings_dict["USER"],
        "password": settings_dict["PASSWORD"] or None,
        "host": settings_dict["HOST"] or settings_dict["OPTIONS"].get("host"),
        "port": settings_dict["PORT"] or None,
    }
    return psycopg.connect(**{k: v for k, v in params.items() if v}, autocommit=True)


def owner_settings() -> dict[str, Any]:
    owner = db_roles.owner_credentials(connection.settings_dict)
    assert owner is not None, "DATABASE_MIGRATE_URL is not set: run the tests with `make test`"
    return {**connection.settings_dict, **owner}


@pytest.fixture
def app_db(transactional_db) -> Iterator[psycopg.Connection]:
    with session(connection.settings_dict) as conn:
        yield conn


@pytest.fixture
def owner_db(transactional_db) -> Iterator[psycopg.Connection]:
    with session(owner_settings()) as conn:
        yield conn


@pytest.fixture
def superuser_db(transactional_db) -> Iterator[psycopg.Connection]:
    with psycopg.connect(superuser_url(), autocommit=True) as conn:
        yield conn


@pytest.fixture
def pentest_db(superuser_db) -> Iterator[psycopg.Connection]:
    # Roles are global to the server: named after this test database's app role.
    role = f"{connection.settings_dict['USER']}_pentest"
    name = sql.Identifier(role)
    if _exists(superuser_db, role):  # left by an interrupted run
        superuser_db.execute(sql.SQL("DROP OWNED BY {}").format(name))
    else:
        superuser_db.execute(sql.SQL("CREATE ROLE {} LOGIN").format(name))
    superuser_db.execute(
        sql.SQL(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role};"
            "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}"
        ).format(role=name)
    )
    try:
        with session({**connection.settings_dict, "USER": role, "PASSWORD": ""}) as conn:
            yield conn
    finally:
        superuser_db.execute(sql.SQL("DROP OWNED BY {}").format(name))
        superuser_db.execute(sql.SQL("DROP ROLE {}").format(name))


def _exists(conn: psycopg.Connection, role: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone() is not None


@dataclass
class World:
    """What the penetration test went after, committed: a chair, a decision that overrode a
    hard stop (with its audit event), a KRAS-mutant result and an access-log row."""

    chair: models.User
    case: models.Case
    decision: models.Decision
    kras: models.MolecularResult


@pytest.fixture
def world(transactional_db) -> World:
    chair = make_user("chair", username="chair")
    case = make_case()
    meeting = models.Meeting.objects.create(scheduled_for=timezone.now(), chair=chair)
    item = models.AgendaItem.objects.create(
        meeting=meeting, case=case, position=1, listed_by=make_user("coordinator")
    )
    decision = as_request_by(
        chair,
        lambda: models.Decision.objects.create(
            agenda_item=item,
            point="timing",
            answer={"proceed": True},
            advice_snapshot={"codes": ["BEV_INTERVAL_TOO_SHORT"]},
            follows_recommendation=True,
            overridden_hard_stops=["BEV_INTERVAL_TOO_SHORT"],
            override_reason="Bleeding: surgery cannot wait",
            recorded_by=chair,
        ),
    )
    kras = as_request_by(
        chair,
        lambda: models.MolecularResult.objects.create(
            case=case, marker="kras", status="mutant", reported_on=dt.date(2026, 1, 20)
        ),
    )
    access_log_record(user=chair, case_id=case.pk, context="case-page")
    return World(chair, case, decision, kras)


def trigger_names(conn: psycopg.Connection, *tables: str) -> str:
    """Every trigger on ``tables``, as the value of ``pgtrigger.ignore`` (a text array)."""
    rows = conn.execute(
        "SELECT tgname FROM pg_trigger "
        "WHERE NOT tgisinternal AND tgrelid::regclass::text = ANY(%s)",
        [list(tables)],
    ).fetchall()
    return "{" + ",".join(name for (name,) in rows) + "}"
