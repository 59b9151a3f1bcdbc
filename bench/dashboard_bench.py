"""Dashboard server time on a large cohort.

Loads ``demo_data --patients 10000`` into a database of its own (created if missing, loaded once
and reused), then times with bench/harness.py: the dashboard page, each worklist's htmx panel
and full page, and case search, signed in as the demo coordinator.

    python bench/dashboard_bench.py [--patients 10000] [--runs 20]
        [--database-url postgres://postgres@127.0.0.1:5432/tb_bench_dashboard]

Prints the table (median and p95 server time, queries per request, ratio to a bare
HttpResponse through the same middleware) and writes JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import Page, print_table, setup_django, time_pages, write_results

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/tb_bench_dashboard"


def ensure_database(url: str) -> None:
    """Create the benchmark database if it does not exist (never touches any other)."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"created database {name}")


def load_cohort(patients: int) -> None:
    from django.core.management import call_command
    from django.db import connection

    from cases.models import Patient

    call_command("migrate", verbosity=0)
    have = Patient.objects.count()
    if have >= patients:
        print(f"cohort already loaded: {have} patients")
    else:
        started = time.monotonic()
        call_command("demo_data", patients=patients - have)
        print(f"loaded in {time.monotonic() - started:.0f} s")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # fresh statistics, as autovacuum would give a live database


def pages() -> list[Page]:
    from cases.worklists.queries import WORKLISTS

    result = [Page("dashboard /", "/")]
    for spec in WORKLISTS:
        panel = f"/worklists/{spec.slug}/panel/"
        result.append(Page(f"panel {spec.slug} (htmx)", panel, {"HX-Request": "true"}))
        result.append(Page(f"worklist {spec.slug} (page 1)", f"/worklists/{spec.slug}/"))
    result += [
        Page("case search: name", "/cases/?q=smith"),
        Page("case search: stage filter, htmx", "/cases/?stage=conversion&page=3",
             {"HX-Request": "true", "HX-Target": "case-results"}),
    ]  # fmt: skip
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    args = parser.parse_args()
    ensure_database(args.database_url)
    setup_django(args.database_url)
    load_cohort(args.patients)

    from cases.models import Case, Meeting

    print(f"{Case.objects.count()} cases, {Meeting.objects.count()} meetings")
    results = time_pages(pages(), username="coordinator", runs=args.runs)
    print_table(results)
    meta = {"patients": args.patients, "runs": args.runs, "user": "coordinator"}
    print(f"written to {write_results('dashboard', results, meta)}")


if __name__ == "__main__":
    main()
