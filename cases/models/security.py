"""Security bookkeeping: searches kept server-side, two-factor enrolment links, and the
record of administrators' changes to accounts."""

from __future__ import annotations

import datetime as dt

import pgtrigger
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Now

from cases.models.base import audited
from cases.models.people import User

# An enrolment link is good for 72 hours (issue 18); the database refuses a longer one.
ENROLMENT_LINK_LIFETIME = dt.timedelta(hours=72)


class SavedSearch(models.Model):
    """A search's text, kept in PostgreSQL under a short random token (issue 18, finding 8).

    The results URL carries only the token, and the session (cached in Redis) carries nothing:
    the text names a patient, and nothing naming a patient goes to Redis. A token resolves only
    for the user who made it, and only while a session could still be signed in
    (``SESSION_ABSOLUTE_SECONDS``); older rows are deleted by the next search.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    token = models.CharField(max_length=16, unique=True)
    text = models.CharField(max_length=100)
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        indexes = [models.Index(fields=["created_at"], name="saved_search_created_idx")]
        constraints = [
            models.UniqueConstraint(fields=["user", "text"], name="saved_search_once_per_user"),
            models.CheckConstraint(condition=~Q(text=""), name="saved_search_has_text"),
            models.CheckConstraint(
                condition=Q(token__regex=r"^[A-Za-z0-9_-]{8,16}$"),  # noqa: S106 (a shape)
                name="saved_search_token_shape",
            ),
        ]

    def __str__(self) -> str:
        return f"search {self.token} of user {self.user_id}"


@audited()
class EnrolmentLink(models.Model):
    """A one-time link an administrator issues so that a user can link an authenticator app.

    The password alone never shows a TOTP secret (issue 18, finding 6): the setup page needs
    this link (or the user's existing device). The database holds the token's SHA-256 only;
    the link is used once (``used_at``) and expires ``ENROLMENT_LINK_LIFETIME`` after issue.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="enrolment_links")
    # None: issued on the server with ``manage.py enrolment_link`` (the first administrator).
    issued_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(db_default=Now())
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("created_at"))
                & Q(expires_at__lte=F("created_at") + ENROLMENT_LINK_LIFETIME),
                name="enrolment_link_expires_within_72_hours",
            ),
            models.CheckConstraint(
                condition=Q(used_at__isnull=True) | Q(used_at__gte=F("created_at")),
                name="enrolment_link_used_after_issue",
            ),
        ]

    def __str__(self) -> str:
        return f"enrolment link for user {self.user_id}"


@audited()
@pgtrigger.register(
    pgtrigger.Protect(
        name="account_event_append_only", operation=pgtrigger.Update | pgtrigger.Delete
    )
)
class AccountEvent(models.Model):
    """A change to a user account that matters for security (issue 18, finding 4): role,
    password, two-factor devices and enrolment links, active flag. Append-only; written by
    ``cases/security/accounts.py`` whatever screen made the change, and shown to the auditor.
    ``detail`` never holds a secret or patient data (a role's label, a device's name)."""

    class Kind(models.TextChoices):
        ROLE_CHANGED = "role_changed", "Role changed"
        PASSWORD_SET = "password_set", "Password set"
        DEVICE_ADDED = "device_added", "Two-factor device added"
        DEVICE_REMOVED = "device_removed", "Two-factor device removed"
        ACTIVATED = "activated", "Account activated"
        DEACTIVATED = "deactivated", "Account deactivated"
        LINK_ISSUED = "link_issued", "Two-factor enrolment link issued"

    at = models.DateTimeField(db_default=Now())
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # Without database constraints, like the access log: the record outlives a deleted account.
    user = models.ForeignKey(
        User, on_delete=models.DO_NOTHING, db_constraint=False, related_name="account_events"
    )
    actor = models.ForeignKey(
        User,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        null=True,
        blank=True,
    )
    detail = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["user", "-at"], name="account_event_user_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    kind__in=[
                        "role_changed",
                        "password_set",
                        "device_added",
                        "device_removed",
                        "activated",
                        "deactivated",
                        "link_issued",
                    ]
                ),
                name="account_event_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: user {self.user_id}"
