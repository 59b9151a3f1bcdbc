"""The hash chain over the audit trail: ``audit_verify`` says OK on an intact trail and names
the first broken link of a tampered one, whoever tampered; concurrent writers extend the chain
without forking it or deadlocking; the daily log line pins each chain's head."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import threading
from io import StringIO

import psycopg
import pytest
from celery.schedules import crontab
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from cases import models
from cases.audit import chain
from cases.audit.access import access_log_record
from cases.audit.tasks import audit_log_chain_heads
from cases.management.bulk import copy_rows
from tests.audit.conftest import owner_settings, session
from tests.audit.test_audit_trail import BUILDERS, event_models
from tests.conftest import make_case, make_user

pytestmark = pytest.mark.django_db(transaction=True)


def audit_verify(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("audit_verify", *args, stdout=out)
    except SystemExit as exit_:
        return int(exit_.code), out.getvalue()
    return 0, out.getvalue()


def audit_event_count() -> int:
    events = sum(model.objects.count() for model in event_models())
    return events + models.CaseAccess.objects.count()


@pytest.fixture
def trail():
    """One row of every audited model, changed once, and an access-log row: committed."""
    for build, change, _bulk in BUILDERS.values():
        row = build()
        for name, value in change.items():
            setattr(row, name, value)
        row.save()
    access_log_record(user=make_user("clinician"), case_id=make_case().pk, context="case-page")


def test_audit_verify_prints_ok_and_the_number_of_events_checked(trail):
    code, out = audit_verify()
    n = audit_event_count()
    assert n > 40
    chains = len(event_models()) + 1
    # (After the flush of an earlier test it also notes the chains that TRUNCATE restarted.)
    last = out.strip().splitlines()[-1]
    assert (code, last) == (0, f"OK: {n} events checked in {chains} chains")


def _bypassing_everything(superuser_db: psycopg.Connection, statement: str, *params) -> int:
    """Run ``statement`` as a superuser with every trigger off; return the id it RETURNs."""
    with superuser_db.transaction():
        superuser_db.execute("SET LOCAL session_replication_role = replica")
        return superuser_db.execute(statement, params).fetchone()[0]


def _one(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT max(pgh_id) FROM {table} WHERE pgh_label = 'insert'")  # noqa: S608
        return cursor.fetchone()[0]


def test_an_event_edited_by_a_superuser_is_named(trail, superuser_db):
    pgh_id = _bypassing_everything(
        superuser_db,
        "UPDATE cases_molecularresultevent SET status = 'wild_type' WHERE pgh_id = %s "
        "RETURNING pgh_id",
        _one("cases_molecularresultevent"),
    )
    code, out = audit_verify()
    assert code == 1
    assert f"BROKEN cases_molecularresultevent pgh_id={pgh_id}:" in out
    assert out.count("BROKEN") == 1  # the other chains are intact


@pytest.mark.parametrize(
    ("tampering", "problem"),
    [
        (
            "DELETE FROM cases_decisionevent WHERE pgh_id = %s RETURNING pgh_id",
            "has been deleted",
        ),
        (
            "UPDATE cases_decisionevent SET pgh_context = '{\"user\": 1}' WHERE pgh_id = %s "
            "RETURNING pgh_id",
            "does not match",
        ),
        (  # an event slipped in with the triggers off: in no link
            "INSERT INTO cases_decisionevent SELECT (jsonb_populate_record("
            "NULL::cases_decisionevent, to_jsonb(e) || jsonb_build_object('pgh_id', "
            "e.pgh_id + 1000))).* FROM cases_decisionevent e WHERE pgh_id = %s RETURNING pgh_id",
            "in no link",
        ),
        (
            "UPDATE audit_seal SET db_role = 'someone_else' WHERE chain = 'cases_decisionevent' "
            "AND event_id = %s RETURNING event_id",
            "does not match",
        ),
    ],
    ids=["deleted", "context rewritten", "slipped in", "session rewritten"],
)
def test_each_kind_of_tampering_is_named(trail, superuser_db, tampering, problem):
    chair = make_user("chair")
    models.Decision.objects.create(
        agenda_item=models.AgendaItem.objects.first(),
        point="outcome",
        answer={},
        advice_snapshot={},
        follows_recommendation=True,
        recorded_by=chair,
    )
    event_id = _bypassing_everything(superuser_db, tampering, _one("cases_decisionevent"))
    code, out = audit_verify()
    assert code == 1
    assert re.search(rf"^BROKEN cases_decisionevent pgh_id={event_id}: .*{problem}", out, re.M)


def test_an_access_log_row_changed_by_a_superuser_is_named(trail, superuser_db):
    row = _bypassing_everything(
        superuser_db, "UPDATE cases_caseaccess SET context = 'elsewhere' RETURNING id"
    )
    code, out = audit_verify()
    assert (code, f"BROKEN cases_caseaccess id={row}:" in out) == (1, True)


def _update_in(conn: psycopg.Connection, case_id: int, ecog: int) -> None:
    conn.execute("UPDATE cases_case SET ecog = %s WHERE id = %s", [ecog, case_id])


def test_two_open_transactions_extend_one_chain_without_forking_it():
    first, second = make_case(), make_case()
    before = models.Case.pgh_event_model.objects.count()
    with (
        session(connection.settings_dict) as a,
        session(connection.settings_dict) as b,
        a.transaction(),
    ):
        _update_in(a, first.pk, 2)  # written first, committed last
        with b.transaction():
            _update_in(b, second.pk, 3)
    assert models.Case.pgh_event_model.objects.count() == before + 2
    with connection.cursor() as cursor:
        cursor.execute("SELECT seq FROM audit_seal WHERE chain = 'cases_caseevent' ORDER BY seq")
        seqs = [row[0] for row in cursor.fetchall()]
    assert seqs == list(range(1, before + 3))
    assert audit_verify()[0] == 0


def test_many_concurrent_writers_leave_one_intact_chain():
    cases = [make_case() for _ in range(4)]
    user = make_user("clinician")
    errors: list[BaseException] = []

    def writer(case: models.Case) -> None:
        try:
            with session(connection.settings_dict) as conn:
                for n in range(15):
                    with conn.transaction():
                        _update_in(conn, case.pk, n % 4)
                        conn.execute(
                            "INSERT INTO cases_caseaccess (user_id, case_id, context, at) "
                            "VALUES (%s, %s, 'case-page', now())",
                            [user.pk, case.pk],
                        )
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(case,)) for case in cases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    code, out = audit_verify()
    assert code == 0, out
    with connection.cursor() as cursor:
        cursor.execute("SELECT length FROM audit_chain WHERE chain = 'cases_caseaccess'")
        assert cursor.fetchone()[0] == 60


def test_commits_that_wrote_two_chains_in_opposite_orders_do_not_deadlock():
    """Each writer changes rows of its own, in two audited tables, in opposite orders: only the
    chains' heads are shared, and each commit locks them in one order (by name), at the end."""
    rows = [
        (
            make_case().pk,
            models.MolecularResult.objects.create(
                case=make_case(), marker="kras", status="mutant", reported_on=dt.date(2026, 1, 2)
            ).pk,
        )
        for _ in range(2)
    ]
    ready = threading.Barrier(2)
    errors: list[BaseException] = []

    def writer(case_id: int, result_id: int, case_first: bool) -> None:
        statements = [
            ("UPDATE cases_case SET ecog = ecog + 1 - 2 * (ecog / 2) WHERE id = %s", case_id),
            ("UPDATE cases_molecularresult SET method = 'NGS' WHERE id = %s", result_id),
        ]
        try:
            with session(connection.settings_dict) as conn:
                conn.execute("SET lock_timeout = '10s'")
                for _ in range(10):
                    with conn.transaction():
                        for statement, row in statements if case_first else statements[::-1]:
                            conn.execute(statement, [row])
                        ready.wait(timeout=10)  # both hold their writes, then both commit
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)
            ready.abort()

    threads = [threading.Thread(target=writer, args=(*row, n == 0)) for n, row in enumerate(rows)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert audit_verify()[0] == 0


def test_a_bulk_insert_is_sealed_in_one_commit():
    course = models.TreatmentCourse.objects.create(case=make_case(), started_on=dt.date(2026, 1, 1))
    models.AgentAdministration.objects.bulk_create(
        models.AgentAdministration(
            course=course, agent="bevacizumab", given_on=dt.date(2026, 1, 1) + dt.timedelta(n)
        )
        for n in range(3000)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT length, (SELECT count(*) FROM audit_pending) FROM audit_chain "
            "WHERE chain = 'cases_agentadministrationevent'"
        )
        assert cursor.fetchone() == (3000, 0)
    assert audit_verify()[0] == 0


def test_the_demo_loaders_copy_is_audited_and_sealed_like_an_insert():
    """demo_data writes its largest tables with COPY (cases/management/bulk.py): the rows get
    their pks, one audit event each, and the chain stays intact."""
    course = models.TreatmentCourse.objects.create(case=make_case(), started_on=dt.date(2026, 1, 1))
    cycles = [
        models.TreatmentCycle(
            course=course,
            number=n + 1,
            given_on=dt.date(2026, 1, 1) + dt.timedelta(days=14 * n),
            agents=["oxaliplatin"],
        )
        for n in range(40)
    ]
    assert copy_rows(models.TreatmentCycle, cycles, with_pks=True) == 40
    doses = [
        models.AgentAdministration(
            course=course, cycle=cycle, agent="oxaliplatin", given_on=cycle.given_on
        )
        for cycle in cycles
    ]
    copy_rows(models.AgentAdministration, doses)
    assert sorted(models.TreatmentCycle.objects.values_list("pk", flat=True)) == sorted(
        c.pk for c in cycles
    )
    assert models.AgentAdministration.objects.filter(cycle__in=cycles).count() == 40
    events = apps.get_app_config("cases")
    for name in ("TreatmentCycleEvent", "AgentAdministrationEvent"):
        assert events.get_model(name).objects.filter(pgh_label="insert").count() == 40
    assert audit_verify()[0] == 0


def test_a_column_added_to_an_event_table_leaves_older_links_valid(trail):
    """A later migration adding a field (and its column on the event table, filled in for the
    old events) must not make the trail look tampered with."""
    with session(owner_settings()) as owner, owner.transaction(force_rollback=True):
        owner.execute("ALTER TABLE cases_caseevent ADD COLUMN probe text NOT NULL DEFAULT 'x'")
        with owner.cursor() as cursor:
            assert chain.verify(cursor).ok
            owner.execute("ALTER TABLE cases_caseevent DROP COLUMN ecog")  # data lost: shows
            assert [b.chain for b in chain.verify(cursor).breaks] == ["cases_caseevent"]


def test_emptying_a_table_restarts_its_chain_and_says_so(trail):
    with session(owner_settings()) as owner:
        owner.execute("TRUNCATE cases_caseaccess")
    code, out = audit_verify()
    assert code == 0
    assert "note: cases_caseaccess: emptied by TRUNCATE and restarted at" in out


def test_the_daily_log_line_pins_each_head_even_against_a_superuser(trail, superuser_db, caplog):
    """A superuser can rewrite an event and recompute every link after it, and the chain then
    verifies: only a head kept outside the database, as the daily task logs it, shows it."""
    with caplog.at_level(logging.INFO, logger="cases.audit"):
        assert audit_log_chain_heads.apply().get() == len(event_models()) + 1
    logged = [r.getMessage().removeprefix("audit chain head ") for r in caplog.records]
    head = next(line for line in logged if line.startswith("cases_molecularresultevent="))
    assert re.fullmatch(r"cases_molecularresultevent=\d+:[0-9a-f]{64}", head)
    assert audit_verify("--expect", head)[0] == 0

    _bypassing_everything(
        superuser_db,
        "UPDATE cases_molecularresultevent SET status = 'wild_type' WHERE pgh_id = %s "
        "RETURNING pgh_id",
        _one("cases_molecularresultevent"),
    )
    _recompute_chain(superuser_db, "cases_molecularresultevent")
    assert audit_verify()[0] == 0  # the rewrite is self-consistent…
    code, out = audit_verify("--expect", head)
    assert code == 1  # …but no longer passes through the head logged before it
    assert "differs from the head logged then" in out


def _recompute_chain(conn: psycopg.Connection, table: str) -> None:
    with conn.transaction():
        links = conn.execute("SELECT * FROM audit_chain_links(%s, 0, 100000)", [table]).fetchall()
        previous = b""
        for seq, _event_id, _stored, digest in links:
            previous = hashlib.sha256(previous + digest).digest()
            conn.execute(
                "UPDATE audit_seal SET hash = %s WHERE chain = %s AND seq = %s",
                [previous, table, seq],
            )
        conn.execute("UPDATE audit_chain SET head = %s WHERE chain = %s", [previous, table])


def test_beat_logs_the_heads_once_a_day():
    entry = settings.CELERY_BEAT_SCHEDULE["audit-log-chain-heads"]
    assert entry["task"] == audit_log_chain_heads.name
    schedule = entry["schedule"]
    assert isinstance(schedule, crontab)
    assert (len(schedule.hour), len(schedule.minute), len(schedule.day_of_week)) == (1, 1, 7)


def test_an_expected_head_in_the_wrong_form_is_a_clear_error():
    out = StringIO()
    with pytest.raises(Exception, match="table=length:sha256hex"):
        call_command("audit_verify", "--expect", "cases_caseevent:12", stdout=out)


def test_a_chain_whose_trigger_is_disabled_is_reported(trail):
    with session(owner_settings()) as owner, owner.transaction(force_rollback=True):
        owner.execute("ALTER TABLE cases_caseevent DISABLE TRIGGER audit_chain_note")
        with owner.cursor() as cursor:
            (broken,) = chain.verify(cursor).breaks
    assert str(broken) == (
        "BROKEN cases_caseevent (no event): the chain's trigger is missing or disabled"
    )
