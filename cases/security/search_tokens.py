"""Search text never travels in a URL: URLs end up in server and proxy logs and in browser
history, and a search for a patient is a patient's name or number.

A search is posted; its text is kept in the signed-in user's session under a short random token,
and the results URL carries only the token. Links, reloads and the Back button still work for
that user, and nothing identifying is written anywhere but the session.
"""

from __future__ import annotations

import secrets

from django.http import HttpRequest

SESSION_KEY = "searches"
KEEP = 20  # the most recent searches a session remembers


def search_token(request: HttpRequest, text: str) -> str:
    """Remember ``text`` for this session; return the token to put in the URL."""
    searches = dict(request.session.get(SESSION_KEY, {}))
    for token, saved in searches.items():
        if saved == text:
            return token
    token = secrets.token_urlsafe(6)
    searches[token] = text
    request.session[SESSION_KEY] = dict(list(searches.items())[-KEEP:])
    return token


def search_text(request: HttpRequest, token: str | None) -> str:
    """The text behind a token of this session ("" for an unknown or expired token)."""
    return request.session.get(SESSION_KEY, {}).get(token or "", "")
