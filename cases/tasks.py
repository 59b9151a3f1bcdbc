"""Celery looks for tasks in ``cases.tasks``; they live with the reminders (reminders/tasks.py)."""

from cases.reminders.tasks import reminder_send, reminders_dispatch_due

__all__ = ["reminder_send", "reminders_dispatch_due"]
