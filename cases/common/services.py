"""What every write service shares: optimistic locking and the errors views turn into messages."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import F
from django.utils import timezone


class ConflictError(Exception):
    """Someone else changed the record since it was read: nothing was written."""

    def __init__(self, message: str = "") -> None:
        super().__init__(
            message
            or "Someone else changed this record while you were editing it. Nothing was saved: "
            "reload to see their change, then make yours again."
        )


def update_versioned(
    model: type[models.Model], *, pk: int, expected_version: int, changes: dict[str, Any]
) -> int:
    """Compare-and-set: apply ``changes`` only if the row is still at ``expected_version``.

    Returns the new version. Raises ``ConflictError`` (and writes nothing) when the row was
    changed, or deleted, by someone else in between: clinical data is never silently overwritten.
    """
    updated = model.objects.filter(pk=pk, version=expected_version).update(
        **changes, version=F("version") + 1, updated_at=timezone.now()
    )
    if updated != 1:
        raise ConflictError()
    return expected_version + 1
