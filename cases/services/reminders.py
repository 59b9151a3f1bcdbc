"""Reminders a case's facts imply. Every write service calls ``reminders_sync_for_case`` inside its
own transaction, so a reminder is created, moved or cancelled together with the fact behind it."""

from __future__ import annotations


def reminders_sync_for_case(*, case_id: int) -> None:
    """Bring the case's reminders in line with its current facts (idempotent).

    The reminder work (issue 6) replaces this body; the call sites in the write services stay.
    """
