"""Reminder dispatch end to end: N due reminders → dispatch → a real Celery worker → SMTP sink.

Creates a scratch database (``<your database>_bench``, dropped afterwards), starts an aiosmtpd
SMTP server in this process and ``celery -A tumourboard worker`` (prefork) as a subprocess,
inserts N due reminders, runs the dispatcher once (what Celery beat triggers every minute) and
times until every reminder is SENT and the SMTP server holds exactly N messages.

Run from the project root with PostgreSQL and Redis available:

    DATABASE_URL=postgres://... REDIS_URL=redis://127.0.0.1:6379/5 \\
        python bench/reminders_bench.py [--reminders 1000] [--concurrency 2]

It FLUSHES the Redis database named in REDIS_URL (that number only). It prints figures only;
no threshold is asserted (the issue's target is 1,000 in under 60 s on this machine).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere


def scratch_database(database_url: str) -> tuple[str, str]:
    """(server URL for admin statements, URL of a fresh scratch database)."""
    parts = urlsplit(database_url)
    name = parts.path.lstrip("/") + "_bench"
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return admin, urlunsplit(parts._replace(path=f"/{name}"))


def drop_database(admin: str, url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reminders", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=2, help="worker pool processes")
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()

    base_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tumourboard")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    admin, bench_url = scratch_database(base_url)
    os.environ.update(DATABASE_URL=bench_url, REDIS_URL=redis_url)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tumourboard.settings")

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from cases import models
    from cases.reminders import dispatch, tasks
    from tests.celery_harness import SmtpServer, Worker, flush_own_redis_db, wait_for, worker_env

    worker = None
    try:
        call_command("migrate", verbosity=0)
        flush_own_redis_db(redis_url)
        patient = models.Patient.objects.create(
            hospital_number="BENCH1", family_name="Bench", given_name="B",
            date_of_birth=dt.date(1960, 1, 1),
        )  # fmt: skip
        case = models.Case.objects.create(patient=patient, diagnosed_on=dt.date(2026, 1, 1))
        due = timezone.now() - dt.timedelta(minutes=1)
        models.Reminder.objects.bulk_create(
            models.Reminder(
                case=case, kind=models.ReminderKind.ACTION_DUE, dedupe_key=f"bench:{i}", due_at=due,
                event_on=dt.date(2026, 3, 16), recipients=["owner@hospital.invalid"],
            )
            for i in range(args.reminders)
        )  # fmt: skip
        connection.close()

        with SmtpServer() as smtp:
            env = worker_env(bench_url, redis_url, smtp.port)
            worker = Worker(env, concurrency=args.concurrency).start()
            started = time.perf_counter()
            result = dispatch.reminders_dispatch_due(
                enqueue=tasks.enqueue_sends, limit=args.reminders
            )
            dispatched = time.perf_counter() - started
            done = wait_for(
                lambda: (
                    smtp.sink.count() >= args.reminders
                    and not models.Reminder.objects.exclude(
                        state=models.ReminderState.SENT
                    ).exists()
                ),
                timeout=args.timeout,
                interval=0.1,
            )
            elapsed = time.perf_counter() - started
            delivered = smtp.sink.count()
            distinct = len(set(smtp.sink.reminder_ids()))

        print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, "
              f"worker prefork x{args.concurrency}")  # fmt: skip
        print(f"reminders due:         {args.reminders}")
        print(f"claimed and queued:    {len(result.queued)} in {dispatched:.2f} s")
        print(f"delivered to SMTP:     {delivered} ({distinct} distinct), all SENT: {done}")
        print(f"total time:            {elapsed:.1f} s")
        print(f"rate:                  {delivered / elapsed:.0f} emails/s")
        return 0 if done and delivered == distinct == args.reminders else 1
    finally:
        if worker is not None:
            worker.stop()
        connection.close()
        drop_database(admin, bench_url)


if __name__ == "__main__":
    sys.exit(main())
