"""API tokens for outside systems: create, revoke, list, authenticate, rate-limit, log.

Only the administrator makes tokens, from the command line (``manage.py api_token``), where
the token is printed once and never again: the database holds its SHA-256. A call presents it
as ``Authorization: Bearer <token>``; no session cookie is read or set on /fhir/.

Every call is logged in ``ApiAccess`` with the token's name (append-only). The rate limit is
per token, counted in Redis (a fixed window per period): every web process sees the same
count. If Redis does not answer the call is let through and a warning logged: Redis is a cache
here, never a reason to stop an integration (each bundle is still bounded in size).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from cases.models import ApiAccess, ApiToken, TokenScope

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "tbfhir_"  # noqa: S105 (a visible marker, not a secret)
PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class NewToken:
    """A token just made: ``secret`` is shown once and never stored."""

    token: ApiToken
    secret: str


@transaction.atomic
def api_token_create(*, name: str, scope: str) -> NewToken:
    """A new token for one outside system. The name is how logs and ``list`` refer to it."""
    if scope not in TokenScope.values:
        raise ValidationError({"scope": f"The scope is one of {', '.join(TokenScope.values)}."})
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(name=name, scope=scope, token_hash=_digest(secret), prefix=secret[:8])
    try:
        token.full_clean()
        with transaction.atomic():
            token.save()
    except IntegrityError:
        raise ValidationError({"name": "A token with this name exists already."}) from None
    return NewToken(token, secret)


@transaction.atomic
def api_token_revoke(*, name: str) -> ApiToken:
    """Refuse the token from now on. Its calls stay in the log under its name."""
    token = ApiToken.objects.select_for_update().filter(name=name).first()
    if token is None:
        raise ValidationError({"name": f"No token is named {name!r}."})
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def api_tokens() -> list[ApiToken]:
    return list(ApiToken.objects.order_by("name"))


def authenticate(header: str) -> ApiToken | None:
    """The active token an ``Authorization: Bearer …`` header carries, else None (one query)."""
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    token = ApiToken.objects.filter(token_hash=_digest(secret.strip())).first()
    return token if token is not None and token.active else None


def may_import(token: ApiToken) -> bool:
    return token.scope == TokenScope.IMPORT


def api_access_record(
    *, token: ApiToken | None, method: str, path: str, status: int, case_id: int | None = None
) -> None:
    """Log one call (one INSERT). Paths carry ids only, never a patient identifier."""
    ApiAccess.objects.create(
        token=token,
        token_name=token.name if token else "",
        method=method[:10],
        path=path[:200],
        status=status,
        case_id=case_id,
    )


def parse_rate(rate: str) -> tuple[int, int]:
    """ "120/m" → (120, 60)."""
    count, _, period = rate.partition("/")
    return int(count), PERIOD_SECONDS[period]


def wait_seconds(token: ApiToken) -> int | None:
    """Count this call against the token; the seconds to wait if it is over the limit."""
    limit, period = parse_rate(settings.FHIR_RATE_LIMIT)
    now = time.time()
    window = int(now // period)
    key = f"fhir-rate:{token.pk}:{period}:{window}"
    try:
        cache.add(key, 0, timeout=period + 1)
        count = cache.incr(key)
    except Exception:  # Redis unavailable: let the call through (module docstring)
        logger.warning("FHIR rate limit not counted: the cache is unavailable")
        return None
    if count <= limit:
        return None
    return max(1, int((window + 1) * period - now) + 1)
