"""Writing the demo cohort fast: PostgreSQL COPY instead of multi-row INSERTs.

``bulk_create`` spends most of its time building the INSERT text (a million rows of the 10,000-
patient cohort were two thirds of ``demo_data``'s run). COPY streams the same rows as data. The
database does exactly what it does for an INSERT: the audit triggers, the hash chain, the
constraints and the data-version notes all fire, because they are statement triggers, which
COPY fires too. Only the demo loader uses this; the app writes through the ORM.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.db import connection, models
from psycopg import sql

# Field types whose Python value psycopg writes as is (everything else is prepared by Django).
PLAIN = {
    "AutoField",
    "BigAutoField",
    "BigIntegerField",
    "BooleanField",
    "CharField",
    "DateField",
    "DateTimeField",
    "DecimalField",
    "ForeignKey",
    "IntegerField",
    "OneToOneField",
    "PositiveIntegerField",
    "PositiveSmallIntegerField",
    "SmallIntegerField",
    "TextField",
}


def copy_rows(
    model: type[models.Model], objs: Iterable[models.Model], *, with_pks: bool = False
) -> int:
    """Write ``objs`` (unsaved instances of ``model``) with one COPY; returns the row count.

    With ``with_pks`` each instance first gets its primary key from the table's sequence, so
    rows written after it can point at it (as ``bulk_create`` fills in pks from RETURNING).
    """
    rows = list(objs)
    if not rows:
        return 0
    for obj in rows:  # a related instance assigned before it was saved gives its pk now
        obj._prepare_related_fields_for_save(operation_name="copy_rows")
    meta = model._meta
    fields = [f for f in meta.concrete_fields if with_pks or not f.primary_key]
    if with_pks:
        _assign_pks(meta.db_table, meta.pk.column, rows)
    values = [_value_of(field) for field in fields]
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(meta.db_table), sql.SQL(", ").join(sql.Identifier(f.column) for f in fields)
    )
    connection.ensure_connection()
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for obj in rows:
            copy.write_row([value(obj) for value in values])
    for obj in rows:
        obj._state.adding = False
        obj._state.db = connection.alias
    return len(rows)


def _assign_pks(table: str, column: str, rows: list[models.Model]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [table, column, len(rows)],
        )
        for obj, (pk,) in zip(rows, cursor.fetchall(), strict=True):
            obj.pk = pk


def _value_of(field: models.Field) -> Callable[[models.Model], Any]:
    """How to read one column's value from an instance, as ``bulk_create`` would write it."""
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return lambda obj: field.pre_save(obj, True)
    attname = field.attname
    if field.get_internal_type() in PLAIN:
        return lambda obj: getattr(obj, attname)
    return lambda obj: field.get_db_prep_save(getattr(obj, attname), connection)
