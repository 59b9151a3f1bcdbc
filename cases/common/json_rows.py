"""Child rows as JSON in the parent's row: one query instead of one per related table.

``json_rows`` puts a table's matching rows into the outer query's row as a JSON array;
``instances`` turns the array back into model instances as if the ORM had loaded them; ``prefill``
puts them where ``prefetch_related`` would have, so ``parent.children.all()`` runs no query.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.contrib.postgres.expressions import ArraySubquery
from django.db import DEFAULT_DB_ALIAS, models
from django.db.models import Expression, Q


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
    rows = model._default_manager.filter(*where, **filters).order_by(*order_by, "pk")
    return ArraySubquery(rows.values(row=_WholeRow()))


def _value(field: models.Field, raw: Any) -> Any:
    """A JSON value as the ORM would have loaded it. JSON numbers arrive as floats: a decimal
    is rebuilt from the float's shortest text at the field's scale, so 33.3 stays 33.3."""
    if isinstance(field, models.DecimalField) and raw is not None:
        return Decimal(str(raw)).quantize(Decimal(1).scaleb(-field.decimal_places))
    return field.to_python(raw)


def instances(model: type[models.Model], rows: Iterable[dict[str, Any]] | None) -> list[Any]:
    """Model instances from ``json_rows`` output, as if loaded by the ORM (not "adding")."""
    fields = model._meta.concrete_fields
    names = [field.attname for field in fields]
    return [
        model.from_db(
            DEFAULT_DB_ALIAS, names, [_value(field, row[field.column]) for field in fields]
        )
        for row in rows or []
    ]


def prefill(instance: models.Model, accessor: str, objects: list[Any]) -> None:
    """Make ``instance.<accessor>.all()`` return ``objects`` without a query.

    This stores a result cache exactly where ``prefetch_related`` stores one (Django's own
    ``prefetch_one_level`` does the same), and points each child back at its parent.
    """
    manager = getattr(instance, accessor)
    for obj in objects:
        setattr(obj, manager.field.name, instance)
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
