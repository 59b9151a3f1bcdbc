"""Search text never travels in a URL, and never reaches Redis.

URLs end up in server and proxy logs and in browser history, and a search for a patient is a
patient's name or number. A search is posted; its text is kept in PostgreSQL (``SavedSearch``)
under a short random token, and the results URL carries only the token. Links, reloads and the
Back button still work for that user. The text is not kept in the session: sessions are cached
in Redis, and nothing naming a patient goes to Redis (issue 18, finding 8).
"""

from __future__ import annotations

import datetime as dt
import secrets

from django.conf import settings
from django.db import connection
from django.http import HttpRequest
from django.utils import timezone

from cases.models import SavedSearch

# One statement: forget searches older than any session, then store the text, or refresh the
# user's earlier search for the same text and return its token.
_KEEP_SEARCH = """
    WITH forgotten AS (DELETE FROM cases_savedsearch WHERE created_at < %s)
    INSERT INTO cases_savedsearch (user_id, token, text, created_at)
    VALUES (%s, %s, %s, now())
    ON CONFLICT (user_id, text) DO UPDATE SET created_at = now()
    RETURNING token
"""
assert SavedSearch._meta.db_table == "cases_savedsearch"  # noqa: S101 (the SQL above names it)


def _oldest_kept() -> dt.datetime:
    # A token need not outlive the longest a session can last.
    return timezone.now() - dt.timedelta(seconds=settings.SESSION_ABSOLUTE_SECONDS)


def search_token(request: HttpRequest, text: str) -> str:
    """Keep ``text`` for this user; return the token to put in the URL.

    One statement: it forgets searches older than any session, and stores the text (or, if the
    user searched for it before, refreshes and returns its token).
    """
    text = text.replace("\x00", "").strip()  # PostgreSQL text cannot hold NUL
    if not text:
        return ""
    with connection.cursor() as cursor:
        cursor.execute(
            _KEEP_SEARCH, [_oldest_kept(), request.user.pk, secrets.token_urlsafe(9), text]
        )
        return cursor.fetchone()[0]


def search_text(request: HttpRequest, token: str | None) -> str:
    """The text behind one of this user's tokens ("" for an unknown or expired token)."""
    token = (token or "").replace("\x00", "")[:16]
    if not token or request.user.pk is None:
        return ""
    found = (
        SavedSearch.objects.filter(
            user_id=request.user.pk, token=token, created_at__gte=_oldest_kept()
        )
        .values_list("text", flat=True)
        .first()
    )
    return found or ""
