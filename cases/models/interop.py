"""System access for integrations: API tokens and the log of every call made with one."""

from __future__ import annotations

import pgtrigger
from django.db import models
from django.db.models import Q

from cases.models.base import audited

# --- API tokens ------------------------------------------------------------------------------


class TokenScope(models.TextChoices):
    READ = "read", "Read (export)"
    IMPORT = "import", "Read and import"


@audited(exclude=["token_hash"])
class ApiToken(models.Model):
    """A token one outside system presents as ``Authorization: Bearer …`` on /fhir/.

    Only the SHA-256 of the token is stored: the token is 32 random bytes, so a plain hash is as
    strong as a slow one, and it is shown once, when created (``manage.py api_token create``).
    A revoked token stays (its calls in the log keep their name) and is refused.
    """

    name = models.CharField(max_length=60, unique=True)
    scope = models.CharField(max_length=10, choices=TokenScope.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    # The first characters, shown by ``api_token list`` so a token can be recognised.
    prefix = models.CharField(max_length=8)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "API token"
        constraints = [
            models.CheckConstraint(
                condition=Q(scope__in=TokenScope.values), name="api_token_scope_valid"
            ),
            models.CheckConstraint(
                condition=Q(name__regex=r"^[A-Za-z0-9][A-Za-z0-9._-]*$"), name="api_token_name"
            ),
            models.CheckConstraint(
                condition=Q(token_hash__regex=r"^[0-9a-f]{64}$"),  # noqa: S106
                name="api_token_hash_sha256",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_scope_display()})"

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@audited()
@pgtrigger.register(
    pgtrigger.Protect(name="api_access_append_only", operation=pgtrigger.Update | pgtrigger.Delete)
)
class ApiAccess(models.Model):
    """One call to /fhir/ with a token: which token (by name), what, the answer, which case.

    Append-only (a trigger refuses edits). The token's name is copied so the line still reads
    right whatever happens to the token later; a call with an unknown token is logged with an
    empty name. No patient identifier is stored: the case and patient are ids.
    """

    token = models.ForeignKey(
        ApiToken, on_delete=models.PROTECT, related_name="calls", null=True, blank=True
    )
    token_name = models.CharField(max_length=60, blank=True)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=200)
    status = models.PositiveSmallIntegerField()
    case_id = models.BigIntegerField(null=True, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "API call"
        indexes = [models.Index(fields=["token", "-at"], name="api_access_token_idx")]

    def __str__(self) -> str:
        return f"{self.token_name or 'no token'}: {self.method} {self.path} → {self.status}"
