"""Cache keys that change the moment the data under them changes.

Every clinical table carries a commit-time trigger (``tracks_data_version`` in cases/models.py)
that writes the committing transaction's id into that table's entry of the one ``DataVersion``
row. Transaction ids are never reused, so an entry changes exactly when a change to its table
becomes visible to other sessions, whether it came from a service, the admin, a bulk update or
raw SQL.

A value computed from some tables and cached under their versions is therefore current for as
long as the key is, with no expiry to tune and no invalidation code to forget. The order of the
reads matters: the versions are read first and the data after, so data computed under a key is
never older than the key (it may be newer, which only means the next reader recomputes).

Two cases are never cached (``versions()`` answers None, and ``key()`` None):
- inside a transaction (``atomic``): its own uncommitted writes are not in the versions yet;
- no DataVersion row (just after a flush, in tests): the row's "_created" entry names the state
  of every table that has not changed since the row was created.

Values live in this process's memory (the "local" cache): patient names never leave the process.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Any

from django.core.cache import caches
from django.db import connection
from django.db.models import Model

from cases.models import DataVersion

CACHE_ALIAS = "local"


def versions() -> dict[str, str] | None:
    """Each clinical table's current version (one query); None when caching is not safe."""
    if connection.in_atomic_block:
        return None
    return committed()


def committed() -> dict[str, str]:
    """Each clinical table's version as committed, read even inside a transaction.

    Only for checking an earlier reading before this transaction has written to the tables
    checked: the row does not show this transaction's own writes until it commits.
    """
    found = DataVersion.objects.filter(pk=1).values_list("versions", flat=True).first()
    return found or {}


def _stamps(reads: Iterable[type[Model]], current: dict[str, str] | None) -> list[str] | None:
    """The version of each table of ``reads`` in ``current``; None when there are none to go by."""
    if current is None or "_created" not in current:
        return None
    # A table with no entry has not changed since the row was created.
    unchanged = f"since-{current['_created']}"
    tables = sorted({model._meta.db_table for model in reads})
    return [f"{table}={current.get(table, unchanged)}" for table in tables]


def key(
    name: str, reads: Iterable[type[Model]], current: dict[str, str] | None, *parts: object
) -> str | None:
    """The cache key of ``name`` computed from the tables of ``reads`` (and ``parts``, for
    whatever else it depends on: the day, the meeting, the viewer's permissions)."""
    stamps = _stamps(reads, current)
    if stamps is None:
        return None
    # Hashed: the stamps of seven tables would pass the 250 characters a cache key may have.
    digest = hashlib.sha256(" ".join(stamps).encode()).hexdigest()[:32]
    return ":".join([name, digest, *(str(part) for part in parts)])


def unchanged(
    reads: Iterable[type[Model]], before: dict[str, str] | None, after: dict[str, str] | None
) -> bool:
    """True when no commit has touched the tables of ``reads`` between two readings."""
    stamps = _stamps(reads, before)
    return stamps is not None and stamps == _stamps(reads, after)


def get_many(keys: Iterable[str | None]) -> dict[str, Any]:
    wanted = [k for k in keys if k is not None]
    return caches[CACHE_ALIAS].get_many(wanted) if wanted else {}


def remember[T](cache_key: str | None, value: T) -> T:
    if cache_key is not None:
        caches[CACHE_ALIAS].set(cache_key, value)
    return value


def cached[T](cache_key: str | None, build: Callable[[], T]) -> T:
    """The value under ``cache_key``, built (and kept) when absent."""
    if cache_key is not None:
        found = caches[CACHE_ALIAS].get(cache_key)
        if found is not None:
            return found  # type: ignore[no-any-return]
    return remember(cache_key, build())
