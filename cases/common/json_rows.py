"""Child rows as JSON in the parent's row: one query instead of one per related table.

``json_rows`` puts a table's matching rows into the outer query's row as a JSON array;
``instances`` turns the array back into model instances as if the ORM had loaded them; ``prefill``
puts them where ``prefetch_related`` would have, so ``parent.children.all()`` runs no query.
``CompiledRow`` is a one-row query of such arrays whose SQL is compiled once a process.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from django.contrib.postgres.expressions import ArraySubquery
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import FieldDoesNotExist
from django.db import DEFAULT_DB_ALIAS, connection, models, transaction
from django.db.models import Expression, F, OrderBy, Q
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init
from django.db.transaction import TransactionManagementError
from psycopg.types.json import JsonbLoader


class _WholeRow(Expression):
    """``to_jsonb(t)`` for the query's own table ``t``: the whole row as one JSON object keyed
    by column name. Far cheaper for Django to build than a jsonb_build_object of every field."""

    output_field = models.JSONField()

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        table = compiler.quote_name(compiler.query.get_initial_alias())
        return f"to_jsonb({table})", []


def json_rows(
    model: type[models.Model], *where: Q, order_by: list[str] | None = None, **filters: Any
) -> ArraySubquery:
    """Every ``model`` row matching the filters as a JSON array, in ``order_by`` or else the
    model's default order (pk breaks ties).

    A default ordering term that a filter holds to one value (``case`` when filtering on
    ``case=``) orders nothing, so it is left out: ordering by a foreign key means ordering by
    the related model's own ordering, which costs a join in every subquery and, for Django, a
    good part of the time it takes to build the query.
    """
    if order_by is None:
        order_by = [term for term in model._meta.ordering if term.lstrip("-") not in filters]
    terms = [_ordered(model, term) for term in [*order_by, "pk"]]
    rows = model._default_manager.filter(*where, **filters).order_by(*terms)
    return ArraySubquery(rows.values(row=_WholeRow()))


def whole_row() -> Expression:
    """The outer query's own row as one JSON object (for ``CompiledRow``'s columns)."""
    return _WholeRow()


class CompiledRow:
    """A query of one row of JSON columns about one ``model`` row, compiled once.

    Django takes longer to compile a query of a dozen correlated subqueries than PostgreSQL
    takes to run it, and nothing in such a query but the row's pk depends on the request: the
    SQL is compiled once, with a placeholder where the pk goes, and each ``fetch`` only runs it.
    """

    # No row has this pk: it marks the parameter each fetch replaces with its own.
    _PLACEHOLDER = -(2**62)

    def __init__(
        self, model: type[models.Model], columns: dict[str, Expression], *, lock: bool = False
    ) -> None:
        rows = model._default_manager.filter(pk=self._PLACEHOLDER)
        # FOR UPDATE locks the outer row only: the columns are subqueries, not joins.
        self.lock = lock
        if lock:
            rows = rows.select_for_update()
        query = rows.values(**columns).order_by().query
        if lock and not connection.in_atomic_block:
            with transaction.atomic():  # Django compiles FOR UPDATE only in a transaction
                sql, params = query.sql_with_params()
        else:
            sql, params = query.sql_with_params()
        if list(params).count(self._PLACEHOLDER) != 1:
            raise ValueError("the columns must not hold the placeholder pk themselves")
        self.sql = sql
        self.params = tuple(params)

    def fetch(self, pk: int) -> dict[str, Any] | None:
        """The row of ``pk`` as {column: value}, JSON decoded (None when there is no such row)."""
        if self.lock and not connection.in_atomic_block:
            raise TransactionManagementError("a locking row query must run in a transaction")
        params = [int(pk) if p == self._PLACEHOLDER else p for p in self.params]
        with connection.cursor() as cursor:
            # Django reads jsonb as text for its JSONField to decode; this cursor decodes it
            # (and each element of a jsonb array) itself.
            cursor.cursor.adapters.register_loader("jsonb", JsonbLoader)
            cursor.execute(self.sql, params)
            row = cursor.fetchone()
            names = [column.name for column in cursor.description]
        return None if row is None else dict(zip(names, row, strict=True))


def _ordered(model: type[models.Model], term: str) -> str | OrderBy:
    """``"-given_on"`` as ``F("given_on").desc()``: Django compiles an expression faster than it
    resolves an ordering name, and these subqueries are compiled on every request. A relation's
    name stays a name: it orders by the related model's own ordering."""
    name = term.lstrip("-")
    field = model._meta.pk if name == "pk" else _field_or_none(model, name)
    if field is None or field.is_relation:
        return term
    return F(name).desc() if term.startswith("-") else F(name).asc()


def _field_or_none(model: type[models.Model], name: str) -> Any:
    try:
        return model._meta.get_field(name)
    except FieldDoesNotExist:
        return None


def _converter(field: models.Field) -> Callable[[Any], Any]:
    """How a JSON value of ``field`` becomes what the ORM would have loaded. Strings, integers,
    booleans, lists and objects arrive as they are stored; dates and times come as text, and
    JSON numbers as floats: a decimal is rebuilt from the float's shortest text at the field's
    scale, so 33.3 stays 33.3."""
    if isinstance(field, models.DecimalField):
        scale = Decimal(1).scaleb(-field.decimal_places)
        return lambda raw: None if raw is None else Decimal(str(raw)).quantize(scale)
    if _stored_as_is(field):
        return _as_is
    return field.to_python  # dates and times arrive as text


def _stored_as_is(field: models.Field) -> bool:
    if isinstance(field, ArrayField):
        return _stored_as_is(field.base_field)
    plain = (models.CharField, models.TextField, models.IntegerField, models.BooleanField)
    return isinstance(field, (*plain, models.JSONField, models.ForeignKey))


def _as_is(raw: Any) -> Any:
    return raw


@functools.cache
def _loader(model: type[models.Model]) -> tuple[list[str], list[str], list[Callable[[Any], Any]]]:
    """Per model, once: the attribute names, the JSON keys and the converters."""
    fields = model._meta.concrete_fields
    return (
        [field.attname for field in fields],
        [field.column for field in fields],
        [_converter(field) for field in fields],
    )


def instances(model: type[models.Model], rows: Iterable[dict[str, Any]] | None) -> list[Any]:
    """Model instances from ``json_rows`` output, as if loaded by the ORM (not "adding")."""
    names, columns, converters = _loader(model)
    pairs = list(zip(columns, converters, strict=True))
    if pre_init.has_listeners(model) or post_init.has_listeners(model):
        return [
            model.from_db(DEFAULT_DB_ALIAS, names, [convert(row[c]) for c, convert in pairs])
            for row in rows or []
        ]
    # What ``Model.__init__`` leaves for a fresh row, without its per-field setattr: a clinical
    # record is a hundred rows or more, and building them was a good part of a screen's time.
    loaded = []
    for row in rows or []:
        obj = model.__new__(model)
        obj.__dict__.update(zip(names, [convert(row[c]) for c, convert in pairs], strict=True))
        state = obj._state = ModelState()
        state.adding, state.db = False, DEFAULT_DB_ALIAS
        loaded.append(obj)
    return loaded


def prefill(instance: models.Model, accessor: str, objects: list[Any]) -> None:
    """Make ``instance.<accessor>.all()`` return ``objects`` without a query.

    This stores a result cache exactly where ``prefetch_related`` stores one (Django's own
    ``prefetch_one_level`` does the same), and points each child back at its parent.
    """
    manager = getattr(instance, accessor)
    for obj in objects:
        manager.field.set_cached_value(obj, instance)  # obj's foreign key already names it
    queryset = manager.get_queryset()  # builds the related queryset, runs nothing
    queryset._result_cache = objects
    queryset._prefetch_done = True
    if not hasattr(instance, "_prefetched_objects_cache"):
        instance._prefetched_objects_cache = {}
    instance._prefetched_objects_cache[manager.field.remote_field.cache_name] = queryset


def by_parent(objects: list[Any], attname: str) -> dict[int, list[Any]]:
    grouped: dict[int, list[Any]] = defaultdict(list)
    for obj in objects:
        grouped[getattr(obj, attname)].append(obj)
    return grouped
