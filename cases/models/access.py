"""The access log: who opened which patient's case."""

from __future__ import annotations

import pgtrigger
from django.db import models

from cases.models.people import User
from cases.models.record import Case

# --- Access log ------------------------------------------------------------------------------


@pgtrigger.register(
    pgtrigger.Protect(name="case_access_append_only", operation=pgtrigger.Update | pgtrigger.Delete)
)
class CaseAccess(models.Model):
    """Who opened which patient's case, where and when. Append-only (a trigger refuses edits).

    The case is referenced without a database constraint so the log outlives a deleted case.
    """

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    case = models.ForeignKey(
        Case, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    context = models.CharField(max_length=40, help_text="The screen, e.g. case-page")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "case access"
        verbose_name_plural = "case access log"
        indexes = [
            models.Index(fields=["case", "-at"], name="case_access_case_idx"),
            models.Index(fields=["user", "-at"], name="case_access_user_idx"),
        ]

    def __str__(self) -> str:
        return f"user {self.user_id} opened case {self.case_id} ({self.context})"
