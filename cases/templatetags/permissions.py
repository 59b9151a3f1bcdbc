"""``{% load permissions %}{% if user|can:"view_audit" %}``: show a link only to roles that may
use it (the view enforces the rule anyway)."""

from typing import Any

from django import template
from django.conf import settings

from cases.security.permissions import Capability, has_capability

register = template.Library()


@register.filter
def can(user: Any, capability: str) -> bool:
    """False too between the password and the second factor: nothing is open yet."""
    if settings.OTP_REQUIRED and not getattr(user, "is_verified", lambda: False)():
        return False
    return has_capability(user, Capability(capability))
