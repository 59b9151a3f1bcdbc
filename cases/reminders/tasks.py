"""Celery tasks: thin wrappers that take ids and call a service (cases/reminders/dispatch.py).

Neither task uses an ETA, a countdown or Celery's own retries: the schedule, the retries and the
back-off live in PostgreSQL (DESIGN.md §5). A test walks the code to keep it that way.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from cases.reminders import dispatch

# Killed after REMINDER_SEND_TIME_LIMIT seconds, which is shorter than the claim lease, so a
# claim older than the lease always belongs to a task that is no longer running.
SEND_LIMITS = {
    "time_limit": settings.REMINDER_SEND_TIME_LIMIT,
    "soft_time_limit": max(1, settings.REMINDER_SEND_TIME_LIMIT - 5),
}


@shared_task(name="cases.reminders_dispatch_due", ignore_result=True, **SEND_LIMITS)
def reminders_dispatch_due() -> int:
    """Beat runs this every minute: claim what is due and queue one send per reminder."""
    return len(dispatch.reminders_dispatch_due(enqueue=enqueue_sends).queued)


@shared_task(name="cases.reminder_send", ignore_result=True, **SEND_LIMITS)
def reminder_send(reminder_id: int) -> str:
    return dispatch.reminder_send(reminder_id=reminder_id)


def enqueue_sends(reminder_ids: list[int]) -> None:
    """Queue one send task per reminder over a single broker connection."""
    with reminder_send.app.producer_or_acquire() as producer:
        for reminder_id in reminder_ids:
            reminder_send.apply_async((reminder_id,), producer=producer)
