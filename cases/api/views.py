"""POST /api/advise/: the `manage.py advise` contract over HTTP, for signed-in users."""

from __future__ import annotations

import json

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_POST

from cases.common.constants import rule_constants
from cases.pathway import InputError, advise_json


def _bad_request(message: str, key: str | None = None) -> JsonResponse:
    return JsonResponse({"error": message, "key": key}, status=400)


@require_POST
def advise(request: HttpRequest) -> JsonResponse:
    try:
        payload = json.loads(request.body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        return _bad_request(f"input is not valid JSON: {error}")
    except RecursionError:
        return _bad_request("input is nested too deeply to be case data")
    try:
        result = advise_json(payload, rule_constants())
    except InputError as error:
        return _bad_request(error.message, error.key)
    return JsonResponse(result, safe=False, json_dumps_params={"ensure_ascii": False})
