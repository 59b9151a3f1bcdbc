"""The penetration test's statements, replayed: each is refused, or made and audited.

The finding: a non-superuser, non-owner role with SELECT, INSERT, UPDATE and DELETE ran
``BEGIN; SET LOCAL pgtrigger.ignore = '{…every trigger…}';`` and then deleted access-log rows,
cleared a decision's hard-stop override, deleted that decision's audit event and changed KRAS
from mutant to wild-type without an event; and ``set_config('pghistory.context_metadata', …)``
made a psql edit look like the chair's. Each statement is replayed here in a session of its own,
as the app's role (what a stolen DATABASE_URL gives) and as such a role made for the test.
"""

from __future__ import annotations

import html
import json
import re

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from psycopg import errors, sql

from cases import models
from tests.audit.conftest import owner_settings, trigger_names
from tests.conftest import make_user

# Every table the four statements touch, and the event tables behind them.
TARGETS = (
    "cases_caseaccess",
    "cases_decision",
    "cases_decisionevent",
    "cases_molecularresult",
    "cases_molecularresultevent",
)


def as_pen_tester(conn: psycopg.Connection, statement: str, *params) -> psycopg.Error | None:
    """``BEGIN; SET LOCAL pgtrigger.ignore = '{…}'; <statement>; COMMIT``: the error, if any."""
    ignore = trigger_names(conn, *TARGETS)
    try:
        with conn.transaction():
            conn.execute(sql.SQL("SET LOCAL pgtrigger.ignore = {}").format(sql.Literal(ignore)))
            conn.execute(statement, params)
    except psycopg.Error as error:
        return error
    return None


@pytest.fixture(params=["app role", "pen-test role"])
def attacker(request, world) -> psycopg.Connection:
    return request.getfixturevalue("app_db" if request.param == "app role" else "pentest_db")


def test_the_app_role_owns_nothing_and_has_no_special_power(app_db):
    role = app_db.execute(
        "SELECT current_user, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolreplication"
        " FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    assert role == (settings.DATABASE_APP_ROLE, False, False, False, False, False)
    assert role[0] != owner_settings()["USER"]
    owned = app_db.execute(
        """
        SELECT (SELECT count(*) FROM pg_class WHERE relowner = r.oid)
             + (SELECT count(*) FROM pg_proc WHERE proowner = r.oid)
             + (SELECT count(*) FROM pg_namespace WHERE nspowner = r.oid)
             + (SELECT count(*) FROM pg_type WHERE typowner = r.oid)
        FROM pg_roles r WHERE r.rolname = current_user
        """
    ).fetchone()[0]
    assert owned == 0
    member_of = app_db.execute(
        "SELECT count(*) FROM pg_auth_members WHERE member = "
        "(SELECT oid FROM pg_roles WHERE rolname = current_user)"
    ).fetchone()[0]
    assert member_of == 0


def test_deleting_access_log_rows_is_refused(world, attacker):
    assert as_pen_tester(attacker, "DELETE FROM cases_caseaccess") is not None
    assert models.CaseAccess.objects.filter(case_id=world.case.pk).count() == 1


def test_clearing_a_decisions_hard_stop_override_is_refused(world, attacker):
    error = as_pen_tester(
        attacker,
        "UPDATE cases_decision SET overridden_hard_stops = '{}', override_reason = '' "
        "WHERE id = %s",
        world.decision.pk,
    )
    assert error is not None
    world.decision.refresh_from_db()
    assert world.decision.overridden_hard_stops == ["BEV_INTERVAL_TOO_SHORT"]


def test_deleting_the_decisions_audit_event_is_refused(world, attacker):
    events = models.Decision.pgh_event_model.objects.filter(pgh_obj_id=world.decision.pk)
    assert events.count() == 1
    error = as_pen_tester(
        attacker, "DELETE FROM cases_decisionevent WHERE pgh_obj_id = %s", world.decision.pk
    )
    assert error is not None
    assert events.count() == 1


def test_changing_kras_to_wild_type_is_audited_whatever_the_ignore_setting(world, attacker):
    error = as_pen_tester(
        attacker,
        "UPDATE cases_molecularresult SET status = 'wild_type' WHERE id = %s",
        world.kras.pk,
    )
    assert error is None  # clinical data stays writable: the change is recorded
    event = models.MolecularResult.pgh_event_model.objects.filter(pgh_obj_id=world.kras.pk).latest(
        "pgh_id"
    )
    assert (event.pgh_label, event.status) == ("update", "wild_type")
    # Sealed into the chain with the session that made it.
    writer = attacker.execute("SELECT current_user").fetchone()[0]
    sealed = attacker.execute(
        "SELECT db_role, sealed FROM audit_event_session WHERE chain = %s AND event_id = %s",
        ["cases_molecularresultevent", event.pgh_id],
    ).fetchone()
    assert sealed == (writer, True)


def test_a_forged_context_is_shown_beside_the_real_database_session(world, attacker):
    """The pen test made a psql edit appear to be the chair's. The context still says what the
    session claimed; the auditor sees the role and address PostgreSQL recorded beside it."""
    writer, address = attacker.execute("SELECT current_user, inet_client_addr()").fetchone()
    with attacker.transaction():
        attacker.execute(
            "SELECT set_config('pghistory.context_metadata', %s, true)",
            [json.dumps({"user": world.chair.pk, "url": f"/cases/{world.case.pk}/"})],
        )
        attacker.execute(
            "UPDATE cases_molecularresult SET status = 'wild_type' WHERE id = %s", [world.kras.pk]
        )
    auditor = Client(HTTP_HOST="localhost")
    auditor.force_login(make_user("auditor"))
    page = html.unescape(
        re.sub(r"\s+", " ", auditor.get(f"/audit/cases/{world.case.pk}/").content.decode())
    )
    where = str(address).split("/")[0] if address else "a local socket"
    if writer == settings.DATABASE_APP_ROLE:
        # The app's own role: exactly what the application's writes show, role and address
        # included. Only where the app's role may connect from tells them apart (pg_hba.conf).
        assert f"database session: the application's role {writer} from {where}" in page
    else:
        assert (
            f"context claims Chair Tester (chair) but the database session was role {writer} "
            f"from {where}"
        ) in page
    assert "Chair Tester (chair)" in page


def test_the_app_role_cannot_switch_triggers_off_truncate_or_rewrite_the_trail(world, app_db):
    def refused(statement: str) -> None:
        with pytest.raises(errors.InsufficientPrivilege), app_db.transaction():
            app_db.execute(statement)

    for table in TARGETS:
        refused(f"ALTER TABLE {table} DISABLE TRIGGER ALL")
        refused(f"TRUNCATE {table}")
    refused("ALTER TABLE cases_decision DISABLE TRIGGER pgtrigger_decision_append_only_35d2d")
    refused("DROP TRIGGER audit_chain_note ON cases_molecularresultevent")
    refused("TRUNCATE cases_case")  # no TRUNCATE anywhere: it would skip the audit triggers
    refused("UPDATE cases_molecularresultevent SET status = 'wild_type'")
    refused("DELETE FROM cases_molecularresultevent")
    refused("UPDATE cases_caseaccess SET context = 'nothing'")
    refused("SET session_replication_role = replica")  # the superuser's way round triggers
    refused("UPDATE audit_seal SET hash = ''")
    refused("UPDATE audit_chain SET length = 0")
    refused("INSERT INTO audit_seal_request VALUES (pg_current_xact_id())")
    refused("CREATE TEMPORARY TABLE cases_molecularresultevent (pgh_id int)")
    refused("CREATE FUNCTION public.probe() RETURNS int LANGUAGE sql AS 'SELECT 1'")
    refused(
        "CREATE OR REPLACE FUNCTION public._pgtrigger_should_ignore(trigger_name name) "
        "RETURNS boolean LANGUAGE sql AS 'SELECT true'"
    )
    refused("ALTER FUNCTION public._pgtrigger_should_ignore(name) RESET ALL")


def test_a_temporary_table_cannot_catch_the_events_meant_for_the_trail(world, superuser_db, app_db):
    """Were temporary tables allowed, one named like an event table would come first in the
    lookup of the audit trigger's unqualified table name: the trigger functions look in
    public first whatever the session's search_path."""
    database = sql.Identifier(app_db.info.dbname)
    role = sql.Identifier(settings.DATABASE_APP_ROLE)
    superuser_db.execute(sql.SQL("GRANT TEMPORARY ON DATABASE {} TO {}").format(database, role))
    try:
        app_db.execute(
            "CREATE TEMPORARY TABLE cases_molecularresultevent "
            "(LIKE public.cases_molecularresultevent INCLUDING ALL)"
        )
        app_db.execute(
            "UPDATE cases_molecularresult SET status = 'wild_type' WHERE id = %s", [world.kras.pk]
        )
        caught = app_db.execute("SELECT count(*) FROM pg_temp.cases_molecularresultevent")
        assert caught.fetchone()[0] == 0
    finally:
        superuser_db.execute(
            sql.SQL("REVOKE TEMPORARY ON DATABASE {} FROM {}").format(database, role)
        )
    latest = models.MolecularResult.pgh_event_model.objects.filter(pgh_obj_id=world.kras.pk)
    assert latest.latest("pgh_id").status == "wild_type"


def test_only_the_owner_may_still_switch_a_protection_off(world, owner_db):
    """The Protect triggers stand for the owner too, until it names them in pgtrigger.ignore
    (a deliberate data fix); the same setting from any other role changes nothing (above)."""
    with pytest.raises(errors.RaiseException, match="Cannot update or delete"):
        owner_db.execute("DELETE FROM cases_caseaccess")
    assert as_pen_tester(owner_db, "DELETE FROM cases_caseaccess") is None
    assert not models.CaseAccess.objects.exists()


def test_the_switch_stays_owner_only_after_a_later_migration(world, owner_db, pentest_db):
    """pgtrigger rewrites its ignore function each time a migration installs a trigger; the
    next migrate puts the owner-only version back before anyone uses the new schema."""
    owner_db.execute(
        "CREATE OR REPLACE FUNCTION public._pgtrigger_should_ignore(trigger_name name) "
        "RETURNS boolean LANGUAGE sql AS "
        "$$ SELECT trigger_name = ANY(current_setting('pgtrigger.ignore', true)::text[]) $$"
    )
    assert as_pen_tester(pentest_db, "DELETE FROM cases_caseaccess") is None  # the hole
    call_command("migrate", verbosity=0)
    models.CaseAccess.objects.create(user=world.chair, case_id=world.case.pk, context="case-page")
    assert as_pen_tester(pentest_db, "DELETE FROM cases_caseaccess") is not None
    assert models.CaseAccess.objects.count() == 1


def test_an_event_forged_straight_into_an_event_table_is_marked(world, app_db):
    """The app's role must INSERT into event tables (its audit triggers run as it), so it can
    write a fake event too; the chain records that no trigger wrote it."""
    app_db.execute(
        "INSERT INTO cases_molecularresultevent SELECT (jsonb_populate_record("
        "NULL::cases_molecularresultevent, to_jsonb(e) || jsonb_build_object("
        "'pgh_id', e.pgh_id + 1000, 'pgh_label', 'update', 'status', 'wild_type'))).* "
        "FROM cases_molecularresultevent e WHERE pgh_obj_id = %s",
        [world.kras.pk],
    )
    writer = app_db.execute("SELECT current_user").fetchone()[0]
    auditor = Client(HTTP_HOST="localhost")
    auditor.force_login(make_user("auditor"))
    page = html.unescape(auditor.get(f"/audit/cases/{world.case.pk}/").content.decode())
    assert f"inserted straight into the event table by role {writer}" in page
    assert "not by the audit trigger" in page
