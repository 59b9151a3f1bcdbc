"""Rendered HTML kept in the cache (cases/data_version.py) and served to any viewer.

HTML is kept without a request, so a form's CSRF token in it is a placeholder, replaced with
the viewer's own token each time it is served. The placeholder is random per process: nobody
can type it into a field whose value ends up in the kept HTML.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

CSRF_PLACEHOLDER = f"csrf-{secrets.token_hex(16)}"


def render_to_keep(template_name: str, context: dict[str, Any]) -> str:
    """``template_name`` drawn for any viewer: no request, the placeholder for the token."""
    return render_to_string(template_name, {**context, "csrf_token": CSRF_PLACEHOLDER})


def serve(request: HttpRequest, html: str) -> SafeString:
    """Kept HTML with this viewer's token in place of the placeholder."""
    # Our own template's output (escaped when rendered) with an alphanumeric token put in.
    return mark_safe(html.replace(CSRF_PLACEHOLDER, get_token(request)))  # noqa: S308  # nosec B308 B703
