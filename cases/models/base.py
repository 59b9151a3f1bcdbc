"""The machinery every model shares: the audit trail, the data version that cached panels are
keyed on, and optimistic locking."""

from __future__ import annotations

import pghistory
import pgtrigger
from django.db import models
from django.db.models import Q

# --- Audit trail ------------------------------------------------------------------------------


def audited(**options):
    """Record every insert, update and delete of the model in an append-only event table.

    Database triggers write the events, so bulk updates, admin edits and raw SQL cannot skip
    them. Each event row carries a full snapshot (the new row; the old row for a delete) and
    the context of the change (who, from which URL or command) as JSON in the row itself, and
    the event tables refuse UPDATE and DELETE. See ``cases/audit/access.py``.
    """
    return pghistory.track(
        pghistory.InsertEvent(),
        pghistory.UpdateEvent(),
        pghistory.DeleteEvent(),
        context_field=pghistory.ContextJSONField(),
        append_only=True,
        # One trigger call per statement, reading the transition table: a bulk insert of
        # 100,000 rows costs one INSERT … SELECT, not 100,000 nested inserts.
        level=pghistory.Statement,
        **options,
    )


# --- Data version: what cached dashboard panels are keyed on -----------------------------------

# When a transaction that wrote to a clinical table commits, that table's entry in the one
# DataVersion row becomes the transaction's id (unique for the life of the cluster, never reused
# even after a rollback). Whoever reads the row therefore sees a new value for a table exactly
# when a change to it has become visible: see cases/data_version.py.
#
# So that a bulk write costs one trigger call per statement, and the version row is locked only
# for an instant at the very end of a commit, never for the rest of a transaction:
# 1. a statement trigger on the clinical table notes the table once per transaction, as a row
#    in DataChange (the setting remembers it was noted);
# 2. at commit, a deferred trigger on that note queues a final note, which PostgreSQL fires
#    after every check the commit still had queued (the deferred foreign keys);
# 3. the final note's trigger writes the version and the notes are deleted.
# Step 2 is why two commits can never deadlock here: once a transaction holds the version row
# it waits for nothing else, so it cannot be waiting on a row lock of one that waits for it.
# "_created" names the version row itself: a table with no entry has not changed since the row
# was created (by the migration, or by the first commit after a flush in the tests).
NOTE_TABLE_CHANGED = """
    IF coalesce(current_setting('tumourboard.changed_' || TG_TABLE_NAME, true), '') = '' THEN
        INSERT INTO cases_datachange (table_name, final) VALUES (TG_TABLE_NAME, false);
        PERFORM set_config('tumourboard.changed_' || TG_TABLE_NAME, 'yes', true);
    END IF;
    RETURN NULL;
"""
WRITE_DATA_VERSION = """
    IF NOT NEW.final THEN
        INSERT INTO cases_datachange (table_name, final) VALUES (NEW.table_name, true);
    ELSE
        INSERT INTO cases_dataversion (id, versions)
        VALUES (1, jsonb_build_object(
            '_created', pg_current_xact_id()::text, NEW.table_name, pg_current_xact_id()::text))
        ON CONFLICT (id) DO UPDATE SET versions = cases_dataversion.versions
            || jsonb_build_object(NEW.table_name, pg_current_xact_id()::text);
    END IF;
    DELETE FROM cases_datachange WHERE id = NEW.id;
    RETURN NULL;
"""


def tracks_data_version():
    """Register the trigger that versions this table's changes (step 1 above)."""
    return pgtrigger.register(
        pgtrigger.Trigger(
            name="data_version",
            level=pgtrigger.Statement,
            when=pgtrigger.After,
            operation=pgtrigger.Insert | pgtrigger.Update | pgtrigger.Delete,
            func=NOTE_TABLE_CHANGED,
        )
    )


# --- Abstract bases --------------------------------------------------------------------------


class Versioned(models.Model):
    """Optimistic locking: services update ``WHERE version = <the version the editor saw>``."""

    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


@pgtrigger.register(
    pgtrigger.Trigger(
        name="write_data_version",
        level=pgtrigger.Row,
        when=pgtrigger.After,
        operation=pgtrigger.Insert,
        timing=pgtrigger.Deferred,
        func=WRITE_DATA_VERSION,
    )
)
class DataChange(models.Model):
    """A clinical table written by a transaction that has not committed yet (steps 1–3 above)."""

    table_name = models.CharField(max_length=63)
    final = models.BooleanField(default=False)  # step 3's note, fired after everything else

    def __str__(self) -> str:
        return f"{self.table_name} changed"


class DataVersion(models.Model):
    """One row: for each clinical table, the id of the last transaction that changed it."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    versions = models.JSONField(default=dict)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="data_version_single_row")]

    def __str__(self) -> str:
        return f"Data versions of {len(self.versions)} tables"
