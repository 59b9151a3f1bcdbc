"""POST /api/advise/: the `manage.py advise` contract over HTTP, for signed-in users.

Bounded so that one user cannot tie up a worker (issue 18, hazard H18c): at most
``MAX_CASES`` cases a request (413 beyond), at most ``settings.API_RATE_LIMIT`` requests per
user (django-ratelimit, counted in the shared Redis cache; 429 with ``Retry-After`` beyond),
and every number in the body is bounded in length *before* Python converts it, so a number of
thousands of digits is a 400 rather than Python's ``ValueError`` (a 500).
"""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_POST
from django_ratelimit.core import get_usage

from cases.common.constants import rule_constants
from cases.pathway import InputError, advise_json

logger = logging.getLogger(__name__)

MAX_CASES = 1000
# No case input needs more than a few digits; 20 characters leave room for any real value
# (and a sign, decimals, an exponent) while keeping Python's int()/float() cheap.
MAX_NUMBER_CHARACTERS = 20


class _NumberTooLong(ValueError):
    pass


def _bounded_int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARACTERS:
        raise _NumberTooLong(text[:10])
    return int(text)


def _bounded_float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARACTERS:
        raise _NumberTooLong(text[:10])
    return float(text)


def _not_json_constant(text: str) -> object:
    # NaN and Infinity are not JSON: refuse them like any malformed input.
    raise json.JSONDecodeError(f"{text} is not a JSON value", text, 0)


def _bad_request(message: str, key: str | None = None) -> JsonResponse:
    return JsonResponse({"error": message, "key": key}, status=400)


def _api_rate(group: str, request: HttpRequest) -> str:
    return settings.API_RATE_LIMIT


def _seconds_to_wait(request: HttpRequest) -> int | None:
    """Count this request against the user; the seconds to wait when over the limit.

    A Redis that does not answer lets the request through (and says so in the log): the cache
    is never a reason to refuse a signed-in user a calculation, and the body is bounded anyway.
    """
    try:
        usage = get_usage(request, group="api-advise", key="user", rate=_api_rate, increment=True)
    except Exception:
        logger.warning("API rate limit not counted: the cache is unavailable")
        return None
    if usage is None or not usage["should_limit"]:
        return None
    return max(1, usage["time_left"])


@require_POST
def advise(request: HttpRequest) -> JsonResponse:
    wait = _seconds_to_wait(request)
    if wait is not None:
        response = JsonResponse(
            {
                "error": f"too many requests: at most {settings.API_RATE_LIMIT} per user; "
                f"try again in {wait} seconds",
                "key": None,
            },
            status=429,
        )
        response["Retry-After"] = str(wait)
        return response
    try:
        payload = json.loads(
            request.body,
            parse_int=_bounded_int,
            parse_float=_bounded_float,
            parse_constant=_not_json_constant,
        )
    except _NumberTooLong:
        return _bad_request(
            f"a number in the input is longer than {MAX_NUMBER_CHARACTERS} characters"
        )
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        return _bad_request(f"input is not valid JSON: {error}")
    except RecursionError:
        return _bad_request("input is nested too deeply to be case data")
    if isinstance(payload, list) and len(payload) > MAX_CASES:
        return JsonResponse(
            {
                "error": f"too many cases: at most {MAX_CASES} per request, got {len(payload)}; "
                "split the list",
                "key": None,
            },
            status=413,
        )
    try:
        result = advise_json(payload, rule_constants())
    except InputError as error:
        return _bad_request(error.message, error.key)
    return JsonResponse(result, safe=False, json_dumps_params={"ensure_ascii": False})
