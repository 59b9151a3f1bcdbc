"""The audit hash chain's tables, the app role's grants and the hardened triggers.

The tables are created here, once. Everything else (functions, triggers on every chained table,
the pgtrigger ignore switch honoured only for the owner, and the app role's grants) is put in
place by ``cases.audit.db_roles.install``, which this migration runs and which runs again after
every ``migrate``, so tables and triggers that later migrations create are covered as well.
"""

from django.db import migrations

TABLES = """
CREATE TABLE audit_chain (
    chain text PRIMARY KEY,
    id_column text NOT NULL,
    length bigint NOT NULL DEFAULT 0 CHECK (length >= 0),
    head bytea NOT NULL DEFAULT ''::bytea,
    updated_at timestamptz,
    restarted_at timestamptz
);
CREATE TABLE audit_layout (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    chain text NOT NULL,
    columns text[] NOT NULL,
    UNIQUE (chain, columns)
);
-- A transaction's events until its commit seals them: never needed after a crash (a crash
-- aborts the transaction), so unlogged, which spares the WAL of every event written twice.
CREATE UNLOGGED TABLE audit_pending (
    xact xid8 NOT NULL,
    chain text NOT NULL,
    event_id bigint NOT NULL,
    layout integer NOT NULL,
    digest bytea NOT NULL,
    db_role text,
    db_session_user text,
    db_client_addr inet,
    db_pid integer,
    by_trigger boolean
);
CREATE INDEX audit_pending_xact_idx ON audit_pending (xact, chain);
CREATE TABLE audit_seal (
    chain text NOT NULL,
    seq bigint NOT NULL CHECK (seq > 0),
    event_id bigint NOT NULL,
    layout integer NOT NULL,
    hash bytea NOT NULL,
    db_role text,
    db_session_user text,
    db_client_addr inet,
    db_pid integer,
    by_trigger boolean,
    xact xid8 NOT NULL,
    PRIMARY KEY (chain, seq),
    UNIQUE (chain, event_id)
);
CREATE UNLOGGED TABLE audit_seal_request (xact xid8 PRIMARY KEY);
"""

DROP_TABLES = """
DROP TABLE audit_seal_request, audit_seal, audit_pending, audit_layout, audit_chain;
"""


def install(apps, schema_editor):
    from cases.audit import db_roles

    with schema_editor.connection.cursor() as cursor:
        db_roles.install(cursor)


def uninstall(apps, schema_editor):
    from cases.audit import db_roles

    with schema_editor.connection.cursor() as cursor:
        db_roles.uninstall(cursor)


class Migration(migrations.Migration):
    dependencies = [("cases", "0010_covering_indexes")]

    operations = [
        migrations.RunSQL(TABLES, DROP_TABLES),
        migrations.RunPython(install, uninstall),
    ]
