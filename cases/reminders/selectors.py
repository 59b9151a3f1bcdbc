"""Reads about reminders: the reminder log, and dispatch health (with the failed count the
dashboard shows)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.db.models import Count, QuerySet
from django.utils import timezone

from cases.models import Reminder, ReminderState


def reminder_log(*, state: str = "", kind: str = "") -> QuerySet[Reminder]:
    """The reminder log, newest due first; empty filters mean "all"."""
    rows = Reminder.objects.all()
    if state:
        rows = rows.filter(state=state)
    if kind:
        rows = rows.filter(kind=kind)
    return rows.order_by("-due_at", "-id")


def reminder_state_counts() -> dict[str, int]:
    counts = dict(Reminder.objects.values_list("state").annotate(n=Count("id")).order_by())
    return {state: counts.get(state, 0) for state in ReminderState.values}


@dataclass(frozen=True)
class DispatchStatus:
    last_run_at: dt.datetime | None
    stale: bool
    failed: int = 0  # reminders that could not be sent and need a person


def dispatch_status(*, now: dt.datetime | None = None) -> DispatchStatus:
    """Is the reminder dispatcher running, and how many reminders failed? One query.

    Stale when the last run is older than REMINDER_HEARTBEAT_STALE_SECONDS. Before the first run
    ever (a fresh install, the tests) there is no heartbeat to judge by, so it is stale only if
    a reminder has been due for that long without being dispatched: that is the harm to show.
    """
    now = now or timezone.now()
    cutoff = now - dt.timedelta(seconds=settings.REMINDER_HEARTBEAT_STALE_SECONDS)
    with connection.cursor() as cursor:
        # All three answers in one round trip (this runs on every staff page).
        cursor.execute(
            "SELECT (SELECT last_run_at FROM cases_dispatchheartbeat WHERE id = 1), "
            "EXISTS (SELECT 1 FROM cases_reminder WHERE state = %s AND due_at < %s), "
            "(SELECT count(*) FROM cases_reminder WHERE state = %s)",
            [ReminderState.PENDING, cutoff, ReminderState.FAILED],
        )
        last_run_at, overdue, failed = cursor.fetchone()
    if last_run_at is None:
        return DispatchStatus(None, stale=overdue, failed=failed)
    return DispatchStatus(last_run_at, stale=last_run_at < cutoff, failed=failed)
