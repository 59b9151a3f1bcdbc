"""Audit: who opened which patient. Changes themselves are captured by database triggers."""

from __future__ import annotations

from typing import Any


def access_log_record(*, user: Any, case_id: int, context: str) -> None:
    """Record that ``user`` opened case ``case_id`` on screen ``context`` (e.g. "case-page").

    The security work (issue 7) replaces this body; the call sites in the views stay.
    """
