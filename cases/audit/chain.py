"""A hash chain over every audit event, so that an edited, deleted or slipped-in event shows.

Each chained table (every pghistory event table, and the access log) has a chain: link ``n`` is
``sha256(link n-1 || digest n)``, where the digest covers the event row as it was written and
the database session that wrote it (role, login role, client address, backend, transaction).
The links live in ``audit_seal``, which only the owner role can write: the app's role reads it.

How rows get there, cheaply and without forking the chain:

1. an AFTER INSERT statement trigger on the chained table (``audit_note_events``) reads the
   statement's transition table and writes one ``audit_pending`` row per event, with its digest:
   one INSERT … SELECT whatever the number of rows (pghistory's triggers are per statement too);
   it also asks, once per transaction, for the transaction to be sealed (``audit_seal_request``);
2. at commit, a deferred constraint trigger on that request (``audit_seal_pending``) locks the
   head row of each chain the transaction wrote, in name order, appends its events with one
   window aggregate per chain, and moves the head. The head rows are locked only for the end of
   the commit, as with the data-version row (cases/models.py), and always in the same order, so
   two commits never deadlock over them and never both append after the same link.

Both functions are SECURITY DEFINER (the owner's), and the app's role has no privilege on the
tables they write. The row digest is computed with the time zone and number formats pinned, so
``audit_verify`` recomputes the same text from any session. A row is hashed over the columns the
table had when the event was written (``audit_layout``): a column added later does not change
the digest of older events; renaming or dropping a column of an event table does, and
``audit_verify`` then reports those events (see docs/security.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

# The access log is chained as well; its id column is ``id``. Event tables are found by their
# pghistory columns, so one added by a later migration is chained by the next ``migrate``.
ACCESS_LOG = ("cases_caseaccess", "id")
EVENT_ID = "pgh_id"
NOTE_TRIGGER = "audit_chain_note"
TRUNCATE_TRIGGER = "audit_chain_truncate"
GENESIS = b""


FUNCTIONS_SQL = """
CREATE OR REPLACE FUNCTION public.audit_digest(
    p_chain text, p_row jsonb, p_role text, p_session_user text, p_client_addr inet,
    p_pid integer, p_by_trigger boolean, p_xact xid8
) RETURNS bytea LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT sha256(convert_to(jsonb_build_object(
        'table', p_chain,
        'row', p_row,
        'db', jsonb_build_object(
            'role', p_role, 'session_user', p_session_user,
            'client_addr', p_client_addr::text, 'pid', p_pid,
            'by_trigger', p_by_trigger, 'xact', p_xact::text)
    )::text, 'UTF8'))
$$;

CREATE OR REPLACE FUNCTION public.audit_chain_step(state bytea, head bytea, digest bytea)
RETURNS bytea LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT sha256(coalesce(state, head) || digest)
$$;

CREATE OR REPLACE AGGREGATE public.audit_chain_hash(bytea, bytea) (
    SFUNC = public.audit_chain_step, STYPE = bytea
);

-- The columns a table has now, as a row of audit_layout (created on first use).
CREATE OR REPLACE FUNCTION public.audit_layout_of(p_relid oid, p_chain text)
RETURNS integer LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    cols text[];
    found integer;
BEGIN
    SELECT array_agg(attname::text ORDER BY attnum) INTO cols
    FROM pg_catalog.pg_attribute
    WHERE attrelid = p_relid AND attnum > 0 AND NOT attisdropped;
    SELECT id INTO found FROM audit_layout WHERE chain = p_chain AND columns = cols;
    IF found IS NULL THEN
        INSERT INTO audit_layout (chain, columns) VALUES (p_chain, cols)
        ON CONFLICT DO NOTHING RETURNING id INTO found;
        IF found IS NULL THEN  -- another transaction created it meanwhile
            SELECT id INTO found FROM audit_layout WHERE chain = p_chain AND columns = cols;
        END IF;
    END IF;
    RETURN found;
END;
$$;

-- Step 1: note the statement's new rows, with their digests, and ask for a seal at commit.
CREATE OR REPLACE FUNCTION public.audit_note_events() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
    -- Pinned: a row's text (timestamps, floats, intervals) must not depend on the session.
    SET search_path = public, pg_temp SET TimeZone = 'UTC' SET IntervalStyle = 'postgres'
    SET extra_float_digits = 1 SET DateStyle = 'ISO, YMD'
AS $$
DECLARE
    xact xid8 := pg_current_xact_id();
    layout integer := audit_layout_of(TG_RELID, TG_TABLE_NAME);
    -- Who wrote the rows: the role in force (SET ROLE) and the login role, which only a
    -- superuser can change. Inside this function current_user is the owner, not the writer.
    writer text := coalesce(nullif(current_setting('role'), 'none'), session_user::text);
    -- An event table written by its audit trigger is one trigger down; a direct INSERT is not.
    by_trigger boolean := pg_trigger_depth() > 1;
BEGIN
    INSERT INTO audit_pending (
        xact, chain, event_id, layout, digest,
        db_role, db_session_user, db_client_addr, db_pid, by_trigger)
    SELECT xact, TG_TABLE_NAME, (r ->> TG_ARGV[0])::bigint, layout,
        audit_digest(TG_TABLE_NAME, r, writer, session_user::text, inet_client_addr(),
                     pg_backend_pid(), by_trigger, xact),
        writer, session_user::text, inet_client_addr(), pg_backend_pid(), by_trigger
    FROM (SELECT to_jsonb(audit_new_rows) AS r FROM audit_new_rows) AS new_rows;
    INSERT INTO audit_seal_request (xact) VALUES (xact) ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$$;

-- Step 2, at commit: append the transaction's events to their chains.
CREATE OR REPLACE FUNCTION public.audit_seal_pending() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    chain_name text;
    last_seq bigint;
    last_hash bytea;
BEGIN
    DELETE FROM audit_seal_request WHERE xact = NEW.xact;
    FOR chain_name IN
        SELECT DISTINCT p.chain FROM audit_pending p WHERE p.xact = NEW.xact ORDER BY 1
    LOOP
        SELECT length, head INTO last_seq, last_hash
        FROM audit_chain WHERE chain = chain_name FOR UPDATE;
        INSERT INTO audit_seal (
            chain, seq, event_id, layout, hash,
            db_role, db_session_user, db_client_addr, db_pid, by_trigger, xact)
        SELECT p.chain, last_seq + row_number() OVER w, p.event_id, p.layout,
            audit_chain_hash(last_hash, p.digest) OVER w,
            p.db_role, p.db_session_user, p.db_client_addr, p.db_pid, p.by_trigger, p.xact
        FROM audit_pending p
        WHERE p.xact = NEW.xact AND p.chain = chain_name
        WINDOW w AS (ORDER BY p.event_id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW);
        SELECT s.seq, s.hash INTO last_seq, last_hash
        FROM audit_seal s WHERE s.chain = chain_name ORDER BY s.seq DESC LIMIT 1;
        UPDATE audit_chain SET length = last_seq, head = last_hash, updated_at = now()
        WHERE chain = chain_name;
        DELETE FROM audit_pending WHERE xact = NEW.xact AND chain = chain_name;
    END LOOP;
    RETURN NULL;
END;
$$;

-- TRUNCATE (only the owner may) empties the table: its chain starts again, and says when.
CREATE OR REPLACE FUNCTION public.audit_chain_truncated() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    DELETE FROM audit_seal WHERE chain = TG_TABLE_NAME;
    DELETE FROM audit_pending WHERE chain = TG_TABLE_NAME;
    UPDATE audit_chain SET length = 0, head = ''::bytea, restarted_at = now(), updated_at = now()
    WHERE chain = TG_TABLE_NAME;
    RETURN NULL;
END;
$$;

-- The rows of a table written before its chain existed, sealed as such (no session known).
CREATE OR REPLACE FUNCTION public.audit_chain_backfill(p_table regclass, p_chain text, p_id text)
RETURNS bigint LANGUAGE plpgsql
    -- Pinned: a row's text (timestamps, floats, intervals) must not depend on the session.
    SET search_path = public, pg_temp SET TimeZone = 'UTC' SET IntervalStyle = 'postgres'
    SET extra_float_digits = 1 SET DateStyle = 'ISO, YMD'
AS $$
DECLARE
    xact xid8 := pg_current_xact_id();
    layout integer := audit_layout_of(p_table, p_chain);
    n bigint;
BEGIN
    EXECUTE format(
        'INSERT INTO audit_pending (xact, chain, event_id, layout, digest)
         SELECT $1, $2, (r ->> $4)::bigint, $3,
                audit_digest($2, r, NULL, NULL, NULL, NULL, NULL, $1)
         FROM (SELECT to_jsonb(t) AS r FROM %s t) AS existing', p_table)
    USING xact, p_chain, layout, p_id;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN
        INSERT INTO audit_seal_request (xact) VALUES (xact) ON CONFLICT DO NOTHING;
    END IF;
    RETURN n;
END;
$$;

-- For audit_verify: links after p_after, each with the digest recomputed from the event row
-- as it is now (NULL when the row is gone), over the columns it was sealed with.
CREATE OR REPLACE FUNCTION public.audit_chain_links(p_chain text, p_after bigint, p_limit integer)
RETURNS TABLE (seq bigint, event_id bigint, hash bytea, digest bytea)
LANGUAGE plpgsql STABLE
    -- Pinned: a row's text (timestamps, floats, intervals) must not depend on the session.
    SET search_path = public, pg_temp SET TimeZone = 'UTC' SET IntervalStyle = 'postgres'
    SET extra_float_digits = 1 SET DateStyle = 'ISO, YMD'
AS $$
DECLARE
    id_column text;
BEGIN
    SELECT c.id_column INTO id_column FROM audit_chain c WHERE c.chain = p_chain;
    RETURN QUERY EXECUTE format(
        'SELECT s.seq, s.event_id, s.hash,
                CASE WHEN e.%2$I IS NOT NULL THEN audit_digest(
                    s.chain,
                    (SELECT jsonb_object_agg(k.key, k.value) FROM jsonb_each(to_jsonb(e)) AS k
                     WHERE k.key = ANY (l.columns)),
                    s.db_role, s.db_session_user, s.db_client_addr, s.db_pid, s.by_trigger,
                    s.xact) END
         FROM audit_seal s
         JOIN audit_layout l ON l.id = s.layout
         LEFT JOIN %1$I e ON e.%2$I = s.event_id
         WHERE s.chain = $1 AND s.seq > $2
         ORDER BY s.seq LIMIT $3', p_chain, id_column)
    USING p_chain, p_after, p_limit;
END;
$$;

-- What the auditor's screens show beside each event: the database session that wrote it
-- (sealed, or still pending inside the reader's own transaction).
CREATE OR REPLACE VIEW public.audit_event_session AS
    SELECT chain, event_id, db_role, db_session_user, db_client_addr, db_pid, by_trigger,
           true AS sealed
    FROM audit_seal
    UNION ALL
    SELECT chain, event_id, db_role, db_session_user, db_client_addr, db_pid, by_trigger, false
    FROM audit_pending
    WHERE xact = pg_current_xact_id_if_assigned();

REVOKE ALL ON FUNCTION public.audit_layout_of(oid, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.audit_note_events() FROM PUBLIC;
REVOKE ALL ON FUNCTION public.audit_seal_pending() FROM PUBLIC;
REVOKE ALL ON FUNCTION public.audit_chain_truncated() FROM PUBLIC;
REVOKE ALL ON FUNCTION public.audit_chain_backfill(regclass, text, text) FROM PUBLIC;
"""

# Step 2's trigger: deferred to the commit. (No OR REPLACE for constraint triggers.)
SEAL_TRIGGER_SQL = """
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger WHERE tgname = 'audit_seal_at_commit'
                   AND tgrelid = 'public.audit_seal_request'::regclass) THEN
        CREATE CONSTRAINT TRIGGER audit_seal_at_commit AFTER INSERT ON public.audit_seal_request
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.audit_seal_pending();
    END IF;
END $$;
"""

UNINSTALL_SQL = """
DROP TRIGGER IF EXISTS audit_seal_at_commit ON public.audit_seal_request;
DROP VIEW IF EXISTS public.audit_event_session;
DROP FUNCTION IF EXISTS public.audit_chain_links(text, bigint, integer),
    public.audit_chain_backfill(regclass, text, text), public.audit_chain_truncated(),
    public.audit_seal_pending(), public.audit_note_events(), public.audit_layout_of(oid, text);
DROP AGGREGATE IF EXISTS public.audit_chain_hash(bytea, bytea);
DROP FUNCTION IF EXISTS public.audit_chain_step(bytea, bytea, bytea),
    public.audit_digest(text, jsonb, text, text, inet, integer, boolean, xid8);
"""

CHAINED_TABLES_SQL = """
SELECT c.relname, 'pgh_id'
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind = 'r'
  AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
              WHERE a.attrelid = c.oid AND a.attname = 'pgh_id' AND NOT a.attisdropped)
  AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
              WHERE a.attrelid = c.oid AND a.attname = 'pgh_created_at' AND NOT a.attisdropped)
UNION ALL
SELECT c.relname, 'id'
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname = %s
ORDER BY 1
"""


def run(cursor: Any, query: str | sql.Composable, params: Any = None) -> None:
    """``cursor.execute`` for composed SQL too (pghistory's cursor wrapper wants a string)."""
    if isinstance(query, sql.Composable):
        query = query.as_string(getattr(cursor, "cursor", cursor))
    cursor.execute(query, params)


def chained_tables(cursor: Any) -> list[tuple[str, str]]:
    """(table, id column) of every table the chain covers, as the database has them now."""
    cursor.execute(CHAINED_TABLES_SQL, [ACCESS_LOG[0]])
    return [(table, id_column) for table, id_column in cursor.fetchall()]


def installed(cursor: Any) -> bool:
    cursor.execute("SELECT to_regclass('public.audit_seal') IS NOT NULL")
    return bool(cursor.fetchone()[0])


def install(cursor: Any) -> list[str]:
    """Create or refresh the chain's functions and put its triggers on every chained table
    (idempotent; run by migration 0011 and after every ``migrate``). Rows a table held before it
    was chained are sealed as such. Returns the tables chained for the first time."""
    cursor.execute(FUNCTIONS_SQL)
    cursor.execute(SEAL_TRIGGER_SQL)
    new = []
    for table, id_column in chained_tables(cursor):
        cursor.execute(
            "INSERT INTO audit_chain (chain, id_column) VALUES (%s, %s) "
            "ON CONFLICT (chain) DO NOTHING RETURNING chain",
            [table, id_column],
        )
        if cursor.fetchone():
            new.append(table)
            cursor.execute(
                "SELECT audit_chain_backfill(%s::regclass, %s, %s)", [table, table, id_column]
            )
        run(
            cursor,
            sql.SQL(
                "CREATE OR REPLACE TRIGGER {note} AFTER INSERT ON {table} "
                "REFERENCING NEW TABLE AS audit_new_rows FOR EACH STATEMENT "
                "EXECUTE FUNCTION public.audit_note_events({id_column});"
                "CREATE OR REPLACE TRIGGER {truncate} AFTER TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION public.audit_chain_truncated();"
            ).format(
                note=sql.Identifier(NOTE_TRIGGER),
                truncate=sql.Identifier(TRUNCATE_TRIGGER),
                table=sql.Identifier(table),
                id_column=sql.Literal(id_column),
            ),
        )
    return new


# --- Reading the chain -----------------------------------------------------------------------


@dataclass(frozen=True)
class Head:
    chain: str
    length: int
    head: str  # hex

    def __str__(self) -> str:
        """The form ``audit_verify --expect`` takes back: ``table=length:hash``."""
        return f"{self.chain}={self.length}:{self.head}"


def heads(cursor: Any) -> list[Head]:
    cursor.execute("SELECT chain, length, head FROM audit_chain ORDER BY chain")
    return [Head(chain, length, bytes(head).hex()) for chain, length, head in cursor.fetchall()]


@dataclass(frozen=True)
class Break:
    chain: str
    event_id: int | None
    problem: str

    def __str__(self) -> str:
        column = ACCESS_LOG[1] if self.chain == ACCESS_LOG[0] else EVENT_ID
        where = f"{column}={self.event_id}" if self.event_id is not None else "(no event)"
        return f"BROKEN {self.chain} {where}: {self.problem}"


@dataclass
class Report:
    checked: int = 0
    chains: int = 0
    breaks: list[Break] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaks


BATCH = 5000


def verify(cursor: Any, expected: Iterable[Head] = ()) -> Report:
    """Walk every chain and report, per chain, the first broken link. Run it inside one
    REPEATABLE READ transaction, so the walk sees one moment of a live database."""
    report = Report()
    expect = {(h.chain, h.length): h.head for h in expected}
    tables = dict(chained_tables(cursor))
    cursor.execute(
        "SELECT chain, id_column, length, head, restarted_at FROM audit_chain ORDER BY chain"
    )
    chains = {row[0]: row[1:] for row in cursor.fetchall()}
    triggers = _enabled_note_triggers(cursor)
    for chain in sorted(set(tables) | set(chains)):
        report.chains += 1
        id_column, length, head, restarted_at = chains.get(chain, (tables[chain], 0, b"", None))
        if restarted_at is not None:
            report.notes.append(f"{chain}: emptied by TRUNCATE and restarted at {restarted_at}")
        problem = _walk(cursor, chain, bytes(head), length, expect, report)
        if problem is None and chain in tables:
            problem = _unsealed(cursor, chain, id_column)
        if problem is None and chain in tables and chain not in triggers:
            problem = Break(chain, None, "the chain's trigger is missing or disabled")
        if problem is None and chain not in tables:
            problem = Break(chain, None, "the chained table is gone")
        if problem is not None:
            report.breaks.append(problem)
    broken = {b.chain for b in report.breaks}
    for chain, length in sorted(expect.keys()):  # logged heads the walk never reached
        if chain not in broken:
            report.breaks.append(Break(chain, None, f"link {length}, logged earlier, is gone"))
    return report


def _walk(
    cursor: Any,
    chain: str,
    head: bytes,
    length: int,
    expect: dict[tuple[str, int], str],
    report: Report,
) -> Break | None:
    previous, seq = GENESIS, 0
    while True:
        cursor.execute("SELECT * FROM audit_chain_links(%s, %s, %s)", [chain, seq, BATCH])
        rows = cursor.fetchall()
        for link_seq, event_id, stored, digest in rows:
            report.checked += 1
            if link_seq != seq + 1:
                return Break(chain, event_id, f"links {seq + 1} to {link_seq - 1} are missing")
            if digest is None:
                return Break(chain, event_id, f"the event of link {link_seq} has been deleted")
            link = hashlib.sha256(previous + bytes(digest)).digest()
            if link != bytes(stored):
                return Break(
                    chain, event_id, f"link {link_seq} does not match the event or the chain"
                )
            previous, seq = link, link_seq
            logged = expect.pop((chain, seq), None)
            if logged is not None and logged != link.hex():
                return Break(chain, event_id, f"link {seq} differs from the head logged then")
        if len(rows) < BATCH:
            break
    if seq != length or previous != head:
        return Break(chain, None, f"the chain's head says {length} links, the walk found {seq}")
    return None


def _unsealed(cursor: Any, chain: str, id_column: str) -> Break | None:
    run(
        cursor,
        sql.SQL(
            "SELECT min(e.{id}) FROM {table} e WHERE NOT EXISTS ("
            "SELECT 1 FROM audit_seal s WHERE s.chain = %s AND s.event_id = e.{id})"
        ).format(id=sql.Identifier(id_column), table=sql.Identifier(chain)),
        [chain],
    )
    event_id = cursor.fetchone()[0]
    if event_id is None:
        return None
    return Break(chain, event_id, "the event is in no link (written with the chain switched off)")


def _enabled_note_triggers(cursor: Any) -> set[str]:
    cursor.execute(
        "SELECT c.relname FROM pg_catalog.pg_trigger t "
        "JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid "
        "WHERE t.tgname = %s AND t.tgenabled <> 'D'",
        [NOTE_TRIGGER],
    )
    return {row[0] for row in cursor.fetchall()}
