"""Account security: two-factor enrolment links, and the record of changes to accounts.

Issue 18 (findings 4 and 6). What holds, whatever screen makes the change (the Django admin,
a management command, a future screen):

1. every change of a user's role, password, active flag or two-factor devices, and every
   enrolment link issued, is an ``AccountEvent`` (append-only) naming who made it; the
   auditor's "Account changes" screen lists them;
2. the user is emailed when their password or second factor changes (no patient data: the
   kind of change, when, and by whom);
3. a user cannot change their own role (another administrator must), so an administrator
   cannot give themselves a clinical role;
4. the password alone never shows a TOTP secret: the setup page needs a one-time enrolment
   link issued by an administrator (single use, 72 hours) or the user's existing device.

The signal handlers below see changes made through the ORM (``save()``/``delete()``); the
role and active flag are also in the user table's trigger-written audit trail, whatever wrote
them.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from typing import Any

import pghistory.runtime
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_save
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from cases.models import ENROLMENT_LINK_LIFETIME, AccountEvent, EnrolmentLink, Role, User
from cases.security.permissions import Capability, require

logger = logging.getLogger(__name__)

Kind = AccountEvent.Kind
# Changes the user is told about by email.
NOTIFIED = {Kind.PASSWORD_SET, Kind.DEVICE_ADDED, Kind.DEVICE_REMOVED}


def current_actor_id() -> int | None:
    """The signed-in user on whose behalf this code runs (the audit context), if any."""
    context = getattr(pghistory.runtime._tracker, "value", None)
    user = context.metadata.get("user") if context is not None else None
    return user if isinstance(user, int) else None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- Enrolment links -------------------------------------------------------------------------


@transaction.atomic
def enrolment_link_issue(*, user: User, issued_by: User | None) -> str:
    """A new one-time enrolment link for ``user``; returns its absolute URL (shown once).

    ``issued_by`` None is the server's operator (``manage.py enrolment_link``): how the first
    administrator enrols. Earlier unused links of the user stop working.
    """
    if issued_by is not None:
        require(issued_by, Capability.MANAGE_USERS)
    now = timezone.now()
    EnrolmentLink.objects.filter(user=user, used_at__isnull=True, expires_at__gt=now).update(
        expires_at=now
    )
    token = secrets.token_urlsafe(32)
    link = EnrolmentLink.objects.create(
        user=user,
        issued_by=issued_by,
        token_hash=_digest(token),
        created_at=now,
        expires_at=now + ENROLMENT_LINK_LIFETIME,
    )
    actor_id = issued_by.pk if issued_by is not None else None
    _event(Kind.LINK_ISSUED, user=user, actor_id=actor_id, detail=f"link {link.pk}")
    return f"{settings.SITE_URL}{reverse('two-factor-enrol', args=[token])}"


def enrolment_link_for(*, user: Any, token: str) -> EnrolmentLink | None:
    """The usable link ``token`` opens for ``user`` (unused, unexpired, theirs), else None."""
    return EnrolmentLink.objects.filter(
        token_hash=_digest(token),
        user_id=user.pk,
        used_at__isnull=True,
        expires_at__gt=timezone.now(),
    ).first()


def enrolment_link_usable(*, user: Any, link_id: int | None) -> bool:
    if link_id is None:
        return False
    return EnrolmentLink.objects.filter(
        pk=link_id, user_id=user.pk, used_at__isnull=True, expires_at__gt=timezone.now()
    ).exists()


def enrolment_link_use(*, user: Any, link_id: int) -> bool:
    """Spend the link: True for the one caller that does, while it is still usable."""
    return (
        EnrolmentLink.objects.filter(
            pk=link_id, user_id=user.pk, used_at__isnull=True, expires_at__gt=timezone.now()
        ).update(used_at=timezone.now())
        == 1
    )


# --- What changed, recorded and told ---------------------------------------------------------


def _event(kind: str, *, user: User, actor_id: int | None, detail: str = "") -> None:
    AccountEvent.objects.create(kind=kind, user=user, actor_id=actor_id, detail=detail[:200])
    if kind in NOTIFIED and user.email:
        transaction.on_commit(lambda: _tell(user, kind, actor_id))


def _tell(user: User, kind: str, actor_id: int | None) -> None:
    actor = User.objects.filter(pk=actor_id).first() if actor_id else None
    context = {
        "user": user,
        "change": Kind(kind).label,
        "by_someone_else": actor is not None and actor.pk != user.pk,
        "actor": actor,
        "at": timezone.localtime(),
        "site_url": settings.SITE_URL,
    }
    subject = " ".join(render_to_string("emails/account-change-subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("emails/account-change-body.txt", context),
        to=[user.email],
        headers={"Auto-Submitted": "auto-generated"},
    )
    message.attach_alternative(
        render_to_string("emails/account-change-body.html", context), "text/html"
    )
    try:
        message.send()
    except Exception:  # the change is recorded; a mail server down must not undo it
        logger.warning("Account-change email not sent (user %s, %s)", user.pk, kind)


def _user_before_save(sender: Any, instance: User, update_fields: Any = None, **kwargs: Any):
    if instance.pk is None or (update_fields and set(update_fields) <= {"last_login"}):
        instance._account_before = None
        return
    before = User.objects.filter(pk=instance.pk).values("role", "is_active", "password").first()
    instance._account_before = before
    actor_id = current_actor_id()
    if before and actor_id == instance.pk and before["role"] != instance.role:
        # The admin form says so first (check_role_change); this holds for any other path.
        raise PermissionDenied("You cannot change your own role: ask another administrator.")


def _user_saved(sender: Any, instance: User, created: bool, **kwargs: Any) -> None:
    before = getattr(instance, "_account_before", None)
    instance._account_before = None
    actor_id = current_actor_id()
    if created:
        detail = f"new account: {_role(instance.role)}"
        _event(Kind.ROLE_CHANGED, user=instance, actor_id=actor_id, detail=detail)
        return
    if not before:
        return
    if before["role"] != instance.role:
        detail = f"{_role(before['role'])} to {_role(instance.role)}"
        _event(Kind.ROLE_CHANGED, user=instance, actor_id=actor_id, detail=detail)
    if before["is_active"] != instance.is_active:
        kind = Kind.ACTIVATED if instance.is_active else Kind.DEACTIVATED
        _event(kind, user=instance, actor_id=actor_id)
    if before["password"] != instance.password:
        _event(Kind.PASSWORD_SET, user=instance, actor_id=actor_id)


def _role(value: str) -> str:
    return Role(value).label if value in Role.values else value


def _device_saved(sender: Any, instance: TOTPDevice, created: bool, **kwargs: Any) -> None:
    if created:
        _event(
            Kind.DEVICE_ADDED, user=instance.user, actor_id=current_actor_id(), detail=instance.name
        )


def _device_deleted(sender: Any, instance: TOTPDevice, **kwargs: Any) -> None:
    _event(
        Kind.DEVICE_REMOVED, user=instance.user, actor_id=current_actor_id(), detail=instance.name
    )


def connect_account_signals() -> None:
    """Called once at start-up (``cases/apps.py``)."""
    pre_save.connect(_user_before_save, sender=User, dispatch_uid="account-user-before")
    post_save.connect(_user_saved, sender=User, dispatch_uid="account-user-saved")
    post_save.connect(_device_saved, sender=TOTPDevice, dispatch_uid="account-device-saved")
    post_delete.connect(_device_deleted, sender=TOTPDevice, dispatch_uid="account-device-gone")
