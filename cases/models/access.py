"""The access log: who opened which patient's case, or saw which patients in a list."""

from __future__ import annotations

import pgtrigger
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models

from cases.models.people import User
from cases.models.record import Case, Patient

# --- Access log ------------------------------------------------------------------------------


@pgtrigger.register(
    pgtrigger.Protect(name="case_access_append_only", operation=pgtrigger.Update | pgtrigger.Delete)
)
class CaseAccess(models.Model):
    """Who opened which patient's case, where and when. Append-only (a trigger refuses edits).

    One row per page view: a case's page names its ``case``; a list (search results, a
    worklist, the dashboard) names every case it showed in ``case_ids``; a page naming a
    patient with no case of its own yet (a new case for them) names the ``patient``. Case and
    patient are referenced without a database constraint so the log outlives a deleted row.
    """

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    case = models.ForeignKey(
        Case,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        null=True,
        blank=True,
    )
    case_ids = ArrayField(
        models.BigIntegerField(),
        default=list,
        db_default=[],  # a row written by SQL (the audit tests, psql) lists no case
        blank=True,
        help_text="The cases a list page showed, in the order shown",
    )
    patient = models.ForeignKey(
        Patient,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        null=True,
        blank=True,
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
            GinIndex(fields=["case_ids"], name="case_access_case_ids_idx"),
        ]
        constraints = [
            # Every entry says whom it showed: a case, a list of cases, or a patient.
            models.CheckConstraint(
                condition=models.Q(case__isnull=False)
                | ~models.Q(case_ids=[])
                | models.Q(patient__isnull=False),
                name="case_access_names_someone",
            ),
        ]

    def __str__(self) -> str:
        if self.case_id is not None:
            return f"user {self.user_id} opened case {self.case_id} ({self.context})"
        if self.case_ids:
            return f"user {self.user_id} listed {len(self.case_ids)} cases ({self.context})"
        return f"user {self.user_id} viewed patient {self.patient_id} ({self.context})"
