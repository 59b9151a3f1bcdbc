"""Run the reminder dispatcher once, as Celery beat does every minute.

    python manage.py dispatch_once            # claim due reminders and queue them for the workers
    python manage.py dispatch_once --inline   # ... and send them here, without a worker

``--inline`` is for a laptop or an incident: it uses the same claims and compare-and-set as the
workers, so running it beside them sends nothing twice.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from cases.reminders import dispatch, tasks


class Command(BaseCommand):
    help = "Claim the reminders that are due and queue (or, with --inline, send) them."

    def add_arguments(self, parser):
        parser.add_argument("--inline", action="store_true", help="send here, not via Celery")

    def handle(self, *args, **options):
        if options["inline"]:
            # Claimed (and committed) here; this process sends them instead of a worker.
            claimed = dispatch.reminders_dispatch_due(enqueue=lambda ids: None).queued
            outcomes = [dispatch.reminder_send(reminder_id=rid) for rid in claimed]
            summary = {o: outcomes.count(o) for o in sorted(set(outcomes))}
            self.stdout.write(f"Claimed {len(claimed)} reminders and sent them here: {summary}")
            return
        result = dispatch.reminders_dispatch_due(enqueue=tasks.enqueue_sends)
        self.stdout.write(
            f"Queued {len(result.queued)} reminders ({len(result.reclaimed)} reclaimed from "
            f"stopped workers, {len(result.failed)} failed after their last attempt)."
        )
