"""/healthz: is this instance able to serve? Public, no patient data, no login.

``dispatch`` is "stale" (and the answer 503) when the reminder dispatcher has not run for
REMINDER_HEARTBEAT_STALE_SECONDS: beat or every worker is down, so no reminder email goes out.
See ``cases.reminders.selectors.dispatch_status`` for how a fresh install is judged.
"""

import redis
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from cases.reminders.selectors import dispatch_status


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:  # any failure means "down"; the reason goes to the server log only
        return False


def _dispatch() -> str:
    try:
        return "stale" if dispatch_status().stale else "ok"
    except Exception:  # the database check already reports why
        return "unknown"


def _redis_ok() -> bool:
    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2
        )
        return bool(client.ping())
    except redis.RedisError:
        return False


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {
        "database": "ok" if _database_ok() else "down",
        "redis": "ok" if _redis_ok() else "down",
    }
    dispatch = _dispatch() if checks["database"] == "ok" else "unknown"
    healthy = all(value == "ok" for value in checks.values()) and dispatch == "ok"
    return JsonResponse(
        {"status": "ok" if healthy else "down", "checks": checks, "dispatch": dispatch},
        status=200 if healthy else 503,
    )
