"""Deriving and dispatching reminders for a whole cohort (issue 22: "stays within today's figures").

On a scratch copy of a loaded benchmark database (``<database>_reminders``, dropped afterwards):

1. every reminder is removed (TRUNCATE, as the owner), then ``reminders_sync_for_cases`` derives
   them afresh for every case: the backfill a new installation or a settings change runs;
2. the same again with nothing to change: what each later sync costs;
3. ``reminders_dispatch_due`` runs until nothing is due, queueing to a list (the sending itself,
   through a real worker and SMTP server, is ``bench/reminders_bench.py``).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tb_bench REDIS_URL=redis://127.0.0.1:6379/12 \\
        python bench/reminders_plan_bench.py

The script uses only functions that existed before issue 22, so the same file can be run on an
older checkout to compare. It prints figures; it asserts nothing.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def scratch_copy(database_url: str) -> tuple[str, str, str]:
    """(admin URL, scratch database name, scratch URL): a copy of the loaded database."""
    parts = urlsplit(database_url)
    source = parts.path.lstrip("/")
    name = f"{source}_reminders"
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(source)
            )
        )
    return admin, name, urlunsplit(parts._replace(path=f"/{name}"))


def main() -> None:
    admin, name, url = scratch_copy(os.environ["DATABASE_URL"])
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tumourboard.settings")
    os.environ.setdefault("TUMOURBOARD_PROFILE", "local")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    try:
        import django

        django.setup()
        run()
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def run() -> None:
    from django.db import connection

    from cases.models import Case, Reminder
    from cases.reminders.dispatch import reminders_dispatch_due
    from cases.reminders.planning import reminders_sync_for_cases

    case_ids = list(Case.objects.order_by("pk").values_list("pk", flat=True))
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE cases_reminder CASCADE")
    started = time.perf_counter()
    first = reminders_sync_for_cases(case_ids=case_ids)
    derive = time.perf_counter() - started
    started = time.perf_counter()
    again = reminders_sync_for_cases(case_ids=case_ids)
    steady = time.perf_counter() - started

    queued: list[int] = []
    calls = 0
    started = time.perf_counter()
    while True:
        calls += 1
        result = reminders_dispatch_due(enqueue=queued.extend)
        if not result.queued and not getattr(result, "expired", []):
            break
    dispatch = time.perf_counter() - started
    states = dict(_state_counts(Reminder))
    print(f"cases:                              {len(case_ids)}")
    print(f"derive from nothing:                {derive:.2f} s ({first})")
    print(f"derive again, nothing to change:    {steady:.2f} s ({again})")
    print(
        f"dispatch until nothing is due:      {dispatch:.2f} s, {calls} calls, {len(queued)} queued"
    )
    print(f"reminders by state after dispatch:  {states}")


def _state_counts(model) -> list[tuple[str, int]]:
    from django.db.models import Count

    return list(model.objects.values_list("state").annotate(n=Count("pk")).order_by("state"))


if __name__ == "__main__":
    main()
