"""Template context for every staff page."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from cases.reminders.selectors import dispatch_status


def reminders(request: HttpRequest) -> dict[str, object]:
    """``dispatch``: is the reminder dispatcher running (the banner in base.html reads it).

    Lazy: the query runs only when a full page renders the banner, never for htmx partials or
    signed-out pages.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"dispatch": SimpleLazyObject(dispatch_status)}
