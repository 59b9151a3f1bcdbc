"""Bring stored reminders in line with the cases' current facts (backfill, or after a settings
change such as REMINDER_REIMAGING_LEAD_DAYS).

    python manage.py reminders_sync --all
    python manage.py reminders_sync --case 12 --case 40

Idempotent: running it twice changes nothing the second time. Sent and failed reminders are
history and are never touched. Each batch of 1,000 cases is its own transaction.
"""

from __future__ import annotations

import time
from itertools import batched

from django.core.management.base import BaseCommand, CommandError

from cases.models import Case
from cases.reminders.planning import CHUNK_SIZE, SyncCounts, reminders_sync_for_cases


class Command(BaseCommand):
    help = "Create, move or cancel reminders so they match each case's current facts."

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="every case")
        parser.add_argument(
            "--case", type=int, action="append", default=[], help="a case id (repeatable)"
        )

    def handle(self, *args, **options):
        if options["all"] == bool(options["case"]):
            raise CommandError("give either --all or one or more --case ID")
        ids = options["case"] or list(Case.objects.order_by("id").values_list("id", flat=True))
        missing = set(ids) - set(Case.objects.filter(id__in=ids).values_list("id", flat=True))
        if missing:
            raise CommandError(f"no such case: {', '.join(map(str, sorted(missing)))}")
        started = time.monotonic()
        total = SyncCounts()
        for chunk in batched(ids, CHUNK_SIZE):
            total.add(reminders_sync_for_cases(case_ids=chunk))
        self.stdout.write(
            f"Synced reminders for {len(ids)} cases in {time.monotonic() - started:.1f} s: "
            f"{total.created} created, {total.updated} updated, {total.cancelled} cancelled."
        )
