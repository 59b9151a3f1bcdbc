"""Two database roles: the owner, which runs migrations, and the app's role, which owns nothing.

- ``DATABASE_URL`` is the app's role. It may read and write clinical tables, but on the audit
  tables (every pghistory event table, the access log, decisions) only SELECT and INSERT; on the
  chain's own tables only SELECT; TRUNCATE nowhere. Owning nothing, it cannot alter, disable or
  drop a trigger.
- ``DATABASE_MIGRATE_URL`` is the owner. ``manage.py migrate`` and ``manage.py flush`` switch
  this process's connection to it for the length of the command (``as_owner``), then back.

``install`` puts everything in place and is idempotent: migration 0011 runs it, and it runs again
after every ``migrate`` (``after_migrate``), so a table, trigger or function that a later
migration creates is granted, chained and hardened before anyone uses the new schema.

Hardening the triggers: django-pgtrigger lets a session switch any of its triggers off by naming
it in the ``pgtrigger.ignore`` setting, which any role may set. ``_pgtrigger_should_ignore`` is
replaced by one that honours the setting only for the owner and superusers (pgtrigger rewrites
it whenever a migration installs a trigger: ``install`` writes ours back). And every trigger
function gets a fixed ``search_path``, so a temporary table named like an event table cannot
catch the rows meant for the real one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from psycopg import sql

from cases.audit import chain

logger = logging.getLogger(__name__)

CREDENTIALS = ("USER", "PASSWORD", "HOST", "PORT", "OPTIONS")

# Beyond the chained tables: decisions are append-only too (a correction supersedes), and so is
# the record of changes to accounts (cases/security/accounts.py).
APPEND_ONLY = ("cases_decision", "cases_accountevent")
READ_ONLY = (
    "django_migrations",
    "audit_chain",
    "audit_layout",
    "audit_pending",
    "audit_seal",
    "audit_seal_request",
    "audit_event_session",
)

HARDENED_MARK = "tumourboard: honoured only for the owner"


# --- Which role this process connects as -----------------------------------------------------


def owner_credentials(settings_dict: dict[str, Any]) -> dict[str, Any] | None:
    """The owner's credentials for a connection with ``settings_dict``, or None without
    DATABASE_MIGRATE_URL. The database name is always the connection's own."""
    owner = settings.DATABASE_OWNER
    if not owner:
        return None
    options = {**settings_dict.get("OPTIONS", {}), **owner["OPTIONS"]}
    return {**owner, "OPTIONS": options}


def _same(settings_dict: dict[str, Any], credentials: dict[str, Any]) -> bool:
    return all(settings_dict.get(key) == credentials[key] for key in CREDENTIALS)


@contextmanager
def as_owner(alias: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """This thread's connection runs as the owner inside the block (other threads and other
    connections are untouched). Without DATABASE_MIGRATE_URL, it changes nothing."""
    connection = connections[alias]
    owner = owner_credentials(connection.settings_dict)
    if owner is None or _same(connection.settings_dict, owner):
        yield
        return
    if connection.in_atomic_block:
        raise RuntimeError("cannot switch to the owner role inside a transaction")
    original = connection.settings_dict
    connection.close()
    connection.settings_dict = {**original, **owner}
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict = original


def use_credentials(credentials: dict[str, Any], alias: str = DEFAULT_DB_ALIAS) -> dict[str, Any]:
    """Point every connection of ``alias``, in every thread, at ``credentials`` from now on;
    return the ones in use before. For the test harness: it creates and drops the test
    database as the owner and runs the tests as the app's role."""
    connection = connections[alias]
    before = {key: connection.settings_dict.get(key) for key in CREDENTIALS}
    connection.close()
    connection.settings_dict.update(credentials)
    if settings.DATABASES[alias] is not connection.settings_dict:
        settings.DATABASES[alias].update(credentials)
    return before


# --- What the owner installs -----------------------------------------------------------------


def after_migrate(sender: Any, using: str = DEFAULT_DB_ALIAS, **kwargs: Any) -> None:
    """post_migrate: grant, chain and harden whatever the migrations just created. ``flush``
    sends the signal too, without a plan: it changes no schema, so there is nothing to do."""
    if kwargs.get("plan") is None:
        return
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        if chain.installed(cursor):  # not when migrated back to before 0011
            install(cursor)


def install(cursor: Any) -> None:
    cursor.execute("SELECT current_user")
    owner = cursor.fetchone()[0]
    chain.install(cursor)
    harden_triggers(cursor, owner)
    grant_app_role(cursor, owner)


def uninstall(cursor: Any) -> None:
    """Migration 0011 backwards: drop the chain's triggers and functions, and give pgtrigger
    back its own ignore switch. The app role keeps its grants."""
    for table, _id_column in chain.chained_tables(cursor):
        for trigger in (chain.NOTE_TRIGGER, chain.TRUNCATE_TRIGGER):
            chain.run(
                cursor,
                sql.SQL("DROP TRIGGER IF EXISTS {} ON {}").format(
                    sql.Identifier(trigger), sql.Identifier(table)
                ),
            )
    cursor.execute(chain.UNINSTALL_SQL)
    cursor.execute(PGTRIGGER_IGNORE_SQL)


def grant_app_role(cursor: Any, owner: str) -> None:
    app = settings.DATABASE_APP_ROLE
    if not app or app == owner:
        logger.warning(
            "The app connects as the owner of the schema (%s): set DATABASE_MIGRATE_URL to "
            "separate them (docs/security.md)",
            owner,
        )
        return
    cursor.execute("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = %s", [app])
    if cursor.fetchone() is None:
        raise ImproperlyConfigured(
            f"The app's database role {app!r} (the user of DATABASE_URL) does not exist: "
            "create it (CREATE ROLE … LOGIN) and run migrate again"
        )
    append_only = [table for table, _id in chain.chained_tables(cursor)] + list(APPEND_ONLY)
    role = sql.Identifier(app)
    statements = [
        # From scratch each time, so that no grant survives that should not.
        "REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}",
        "REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {role}",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
        "REVOKE UPDATE, DELETE ON {append_only} FROM {role}",
        "REVOKE INSERT, UPDATE, DELETE ON {read_only} FROM {role}",
        # Tables a later migration creates are usable at once; the next install narrows them.
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {role}",
    ]
    existing = _existing(cursor, [*append_only, *READ_ONLY])
    for statement in statements:
        chain.run(
            cursor,
            sql.SQL(statement).format(
                role=role,
                append_only=_names([t for t in append_only if t in existing]),
                read_only=_names([t for t in READ_ONLY if t in existing]),
            ),
        )
    _no_temporary_tables(cursor)


def _names(tables: list[str]) -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(table) for table in tables)


def _existing(cursor: Any, tables: list[str]) -> set[str]:
    cursor.execute(
        "SELECT relname FROM pg_catalog.pg_class "
        "WHERE relnamespace = 'public'::regnamespace AND relname = ANY(%s)",
        [tables],
    )
    return {row[0] for row in cursor.fetchall()}


def _no_temporary_tables(cursor: Any) -> None:
    """Nobody but the owner creates temporary tables here: one named like an audit table would
    come first in an unqualified name's lookup. (The trigger functions' fixed search_path
    already puts them last; this is the second lock.) Only the database's owner may do it."""
    cursor.execute(
        "SELECT pg_catalog.pg_get_userbyid(datdba) = current_user, current_database() "
        "FROM pg_catalog.pg_database WHERE datname = current_database()"
    )
    owns, database = cursor.fetchone()
    if owns:
        chain.run(
            cursor,
            sql.SQL("REVOKE TEMPORARY ON DATABASE {} FROM PUBLIC").format(sql.Identifier(database)),
        )
    else:
        logger.warning("Not the owner of database %s: temporary tables stay allowed", database)


PGTRIGGER_IGNORE_BODY = """
    BEGIN
        BEGIN
            SELECT INTO _pgtrigger_ignore CURRENT_SETTING('pgtrigger.ignore');
        EXCEPTION WHEN OTHERS THEN
        END;
        IF _pgtrigger_ignore IS NULL THEN
            RETURN FALSE;
        END IF;
        {guard}
        SELECT trigger_name = ANY(_pgtrigger_ignore) INTO _result;
        RETURN _result;
    END;
"""

PGTRIGGER_IGNORE_FUNCTION = """
CREATE OR REPLACE FUNCTION "public"._pgtrigger_should_ignore(trigger_name NAME)
RETURNS BOOLEAN AS $pgtrigger$
    DECLARE
        _pgtrigger_ignore TEXT[];
        _result BOOLEAN;
{body}
$pgtrigger$ LANGUAGE plpgsql {config};
"""

# pgtrigger's own version (as its UpsertTriggerSql template installs it), for going back.
PGTRIGGER_IGNORE_SQL = PGTRIGGER_IGNORE_FUNCTION.format(
    body=PGTRIGGER_IGNORE_BODY.format(guard=""), config=""
)


OWNER_GUARD = """-- tumourboard: honoured only for the owner and superusers (docs/security.md)
        IF current_user <> {owner} AND NOT coalesce(
            (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user), false
        ) THEN
            RETURN FALSE;
        END IF;"""


def hardened_ignore_sql(owner: str) -> sql.Composable:
    text = PGTRIGGER_IGNORE_FUNCTION.format(
        body=PGTRIGGER_IGNORE_BODY.format(guard=OWNER_GUARD),
        config="SET search_path = pg_catalog, pg_temp",
    )
    return sql.SQL(text).format(owner=sql.Literal(owner))


def harden_triggers(cursor: Any, owner: str) -> None:
    chain.run(cursor, hardened_ignore_sql(owner))
    # Every trigger function here (pgtrigger's, pghistory's, the data-version ones, ours) and
    # the helpers they call resolve table names in public, never in pg_temp first.
    cursor.execute(
        """
        SELECT p.oid::regprocedure::text
        FROM pg_catalog.pg_proc p
        WHERE p.pronamespace = 'public'::regnamespace
          AND p.proowner = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user)
          AND p.prokind = 'f'
          AND (p.prorettype = 'trigger'::regtype OR p.proname = '_pgh_attach_context')
          AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) AS c WHERE c LIKE 'search_path=%')
        """
    )
    for (function,) in cursor.fetchall():
        cursor.execute(f"ALTER FUNCTION {function} SET search_path = public, pg_temp")
