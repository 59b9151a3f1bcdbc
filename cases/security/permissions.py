"""Who may do what: one matrix, checked in services (the rule) and in views (a clear 403 early).

The README's permission matrix is generated from ``ROLE_CAPABILITIES``
(``python manage.py permission_matrix``) and a test keeps the two in step. The role-matrix test
walks every URL pattern and checks each view against ``required_capability``, which
``capability_required`` records on the view (docs/architecture.md, "Permissions").
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from functools import wraps
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse


class Capability(StrEnum):
    VIEW_CLINICAL = "view_clinical"
    EDIT_CASES = "edit_cases"
    RECORD_IMAGING = "record_imaging"
    LIST_CASES = "list_cases"
    MANAGE_MEETINGS = "manage_meetings"
    RECORD_DECISIONS = "record_decisions"
    OVERRIDE_HARD_STOPS = "override_hard_stops"
    SIGN_OFF = "sign_off"
    MANAGE_REMINDERS = "manage_reminders"
    VIEW_AUDIT = "view_audit"
    MANAGE_USERS = "manage_users"
    CHECK_LETTERS = "check_letters"
    SEND_LETTERS = "send_letters"
    EDIT_LETTER_TEMPLATES = "edit_letter_templates"
    RECORD_FOLLOW_UP = "record_follow_up"
    VIEW_REPORTS = "view_reports"


LABELS = {
    Capability.VIEW_CLINICAL: "see cases, meetings and worklists",
    Capability.EDIT_CASES: "create and edit cases and their clinical data",
    Capability.RECORD_IMAGING: "record scans and their RECIST lesion measurements",
    Capability.LIST_CASES: "list cases on a meeting agenda",
    Capability.MANAGE_MEETINGS: "create meetings, order the agenda and take attendance",
    Capability.RECORD_DECISIONS: "record MDT decisions and actions",
    Capability.OVERRIDE_HARD_STOPS: "override a hard stop (with a reason)",
    Capability.SIGN_OFF: "sign off a case's outcome",
    Capability.MANAGE_REMINDERS: "see and retry reminders",
    Capability.VIEW_AUDIT: "see the audit trail and access log",
    Capability.MANAGE_USERS: "manage user accounts",
    Capability.CHECK_LETTERS: "check an outcome letter (as the named clinician)",
    Capability.SEND_LETTERS: "mark a checked outcome letter sent",
    Capability.EDIT_LETTER_TEMPLATES: "edit the outcome letters' templates",
    Capability.RECORD_FOLLOW_UP: "record whether a recommendation was carried out",
    Capability.VIEW_REPORTS: "see the MDT's audit reports",
}


C = Capability

ROLE_CAPABILITIES: dict[str, frozenset[Capability]] = {
    "coordinator": frozenset(
        {
            C.VIEW_CLINICAL,
            C.EDIT_CASES,
            C.LIST_CASES,
            C.MANAGE_MEETINGS,
            C.MANAGE_REMINDERS,
            C.SEND_LETTERS,
            C.RECORD_FOLLOW_UP,
            C.VIEW_REPORTS,
        }
    ),
    "clinician": frozenset(
        {
            C.VIEW_CLINICAL,
            C.EDIT_CASES,
            C.RECORD_IMAGING,
            C.LIST_CASES,
            C.RECORD_DECISIONS,
            C.CHECK_LETTERS,
            C.SEND_LETTERS,
            C.RECORD_FOLLOW_UP,
        }
    ),
    "chair": frozenset(
        {
            C.VIEW_CLINICAL,
            C.EDIT_CASES,
            C.RECORD_IMAGING,
            C.LIST_CASES,
            C.MANAGE_MEETINGS,
            C.RECORD_DECISIONS,
            C.OVERRIDE_HARD_STOPS,
            C.SIGN_OFF,
            C.CHECK_LETTERS,
            C.SEND_LETTERS,
            C.RECORD_FOLLOW_UP,
            C.VIEW_REPORTS,
        }
    ),
    "admin": frozenset({C.MANAGE_USERS, C.MANAGE_REMINDERS, C.EDIT_LETTER_TEMPLATES}),
    "auditor": frozenset({C.VIEW_CLINICAL, C.VIEW_AUDIT, C.VIEW_REPORTS}),
}


def has_capability(user: Any, capability: Capability) -> bool:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return capability in ROLE_CAPABILITIES.get(user.role, frozenset())


def require(user: Any, capability: Capability) -> None:
    """Services call this before any write: the rule holds whatever the entry point."""
    if not has_capability(user, capability):
        raise PermissionDenied(f"Your role may not {LABELS[capability]}.")


def capability_required(
    capability: Capability,
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """View decorator: 403 for a signed-in user whose role lacks the capability.

    It runs before the view body, so the check comes before any object lookup: a role without
    the capability gets 403 even for an id that does not exist (no probing for valid ids).
    ``wrapper.required_capability`` tells the role-matrix test what the view demands; outer
    decorators built with ``functools.wraps`` (``require_POST`` and the like) carry it along.
    """

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            require(request.user, capability)
            return view(request, *args, **kwargs)

        wrapper.required_capability = capability  # type: ignore[attr-defined]
        return wrapper

    return decorator


def matrix_markdown() -> str:
    """The README's permission table: one row per capability, one column per role."""
    roles = list(ROLE_CAPABILITIES)
    lines = [
        "| may … | " + " | ".join(roles) + " |",
        "|---|" + "---|" * len(roles),
    ]
    for capability in Capability:
        marks = ["yes" if capability in ROLE_CAPABILITIES[role] else "–" for role in roles]
        lines.append(f"| {LABELS[capability]} (`{capability}`) | " + " | ".join(marks) + " |")
    return "\n".join(lines) + "\n"
