"""Reads about reminders: the reminder log, and dispatch health (with the failed count the
dashboard shows)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.db.models import Count, Prefetch, Q
from django.utils import timezone

from cases.models import Reminder, ReminderAttempt, ReminderState

PAGE_SIZE = 50


@dataclass(frozen=True)
class LogPage:
    rows: list[Reminder]
    next_cursor: str  # "" on the last page
    first: bool  # no cursor given: this is the newest page


def reminder_log(*, state: str = "", kind: str = "", cursor: str = "") -> LogPage:
    """One page of the reminder log, newest due first; empty filters mean "all".

    Keyset pagination: ``cursor`` is "<due_at ISO>_<id>" of the last row of the page before,
    so a page costs the same at any depth (an index scan of PAGE_SIZE + 1 rows, never a count
    or an OFFSET). Each row arrives with its attempts (one more query for the page).
    """
    rows = Reminder.objects.all()
    if state:
        rows = rows.filter(state=state)
    if kind:
        rows = rows.filter(kind=kind)
    after = _parse_cursor(cursor)
    if after is not None:
        due_at, pk = after
        # "(due_at, id) < cursor", written so that due_at <= … is the index's range condition
        # (an OR alone would be a filter over every row before the cursor).
        rows = rows.filter(due_at__lte=due_at).filter(Q(due_at__lt=due_at) | Q(id__lt=pk))
    page = list(
        rows.order_by("-due_at", "-id").prefetch_related(
            Prefetch("send_attempts", queryset=ReminderAttempt.objects.order_by("number"))
        )[: PAGE_SIZE + 1]
    )
    more = len(page) > PAGE_SIZE
    page = page[:PAGE_SIZE]
    next_cursor = f"{page[-1].due_at.isoformat()}_{page[-1].pk}" if more else ""
    return LogPage(page, next_cursor, first=after is None)


def _parse_cursor(cursor: str) -> tuple[dt.datetime, int] | None:
    """A cursor that does not parse is ignored (the first page), never an error."""
    when, _, pk = cursor.rpartition("_")
    try:
        due_at = dt.datetime.fromisoformat(when)
        return (due_at, int(pk)) if due_at.tzinfo is not None else None
    except ValueError:
        return None


def reminder_state_counts() -> dict[str, int]:
    """Counts by state over the whole table: for tests and commands, not for the log page
    (which must not grow with the table)."""
    counts = dict(Reminder.objects.values_list("state").annotate(n=Count("id")).order_by())
    return {state: counts.get(state, 0) for state in ReminderState.values}


@dataclass(frozen=True)
class DispatchStatus:
    last_run_at: dt.datetime | None
    stale: bool
    failed: int = 0  # reminders that could not be sent and need a person
    expired_this_week: int = 0  # expired unsent in the last seven days


def dispatch_status(*, now: dt.datetime | None = None) -> DispatchStatus:
    """Is the reminder dispatcher running, how many reminders failed, how many expired unsent
    this week? One query.

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
            "(SELECT count(*) FROM cases_reminder WHERE state = %s), "
            "(SELECT count(*) FROM cases_reminder WHERE state = %s AND expired_at >= %s)",
            [
                ReminderState.PENDING,
                cutoff,
                ReminderState.FAILED,
                ReminderState.EXPIRED,
                now - dt.timedelta(days=7),
            ],
        )
        last_run_at, overdue, failed, expired = cursor.fetchone()
    if last_run_at is None:
        return DispatchStatus(None, stale=overdue, failed=failed, expired_this_week=expired)
    return DispatchStatus(
        last_run_at, stale=last_run_at < cutoff, failed=failed, expired_this_week=expired
    )
