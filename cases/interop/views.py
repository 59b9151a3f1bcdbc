"""/fhir/: the system API for outside systems, authenticated by API token only.

Thin views. Each is public to the login middleware (``login_not_required``) and CSRF-exempt, and
authenticates by ``Authorization: Bearer <token>`` instead: no session is read for it and none
is written, so no cookie is ever set here. Every call, refused or not, is logged with the
token's name (``ApiAccess``); every change it makes carries the token's name in the audit
trail. Answers are FHIR JSON; a refusal is a FHIR ``OperationOutcome``.

| URL | method | needs |
|---|---|---|
| ``/fhir/Patient/<id>/$everything`` | GET | a token (scope read or import) |
| ``/fhir/Bundle`` | POST | a token with scope import |
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

import pghistory
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from cases import models
from cases.interop.export import FHIR_JSON, patient_bundle
from cases.interop.imports import ImportRefused, bundle_import
from cases.interop.tokens import api_access_record, authenticate, parse_rate, wait_seconds
from cases.interop.validation import Problem, operation_outcome


def fhir_response(body: dict[str, Any], status: int = 200) -> HttpResponse:
    response = HttpResponse(
        json.dumps(body, ensure_ascii=False), status=status, content_type=FHIR_JSON
    )
    add_never_cache_headers(response)  # patient data stays out of every cache
    return response


def outcome(status: int, code: str, message: str) -> HttpResponse:
    return fhir_response(operation_outcome([Problem(code, "", message)]), status)


def _refusal(request: HttpRequest, token: models.ApiToken | None, response: HttpResponse) -> Any:
    api_access_record(
        token=token, method=request.method or "", path=request.path, status=response.status_code
    )
    return response


def token_authenticated(
    view: Callable[..., HttpResponse],
) -> Callable[..., HttpResponse]:
    """Authenticate by API token, rate-limit per token, log the call, keep sessions out."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        token = authenticate(request.headers.get("Authorization", ""))
        if token is None:
            response = outcome(401, "login", "A valid API token is required (Bearer).")
            response["WWW-Authenticate"] = 'Bearer realm="fhir"'
            return _finish(request, _refusal(request, None, response))
        wait = wait_seconds(token)
        if wait is not None:
            count, period = parse_rate(settings.FHIR_RATE_LIMIT)
            response = outcome(
                429,
                "throttled",
                f"Too many requests: at most {count} every {period} seconds for this token. "
                f"Try again in {wait} seconds.",
            )
            response["Retry-After"] = str(wait)
            return _finish(request, _refusal(request, token, response))
        try:
            with pghistory.context(api_token=token.name):
                response = view(request, token, *args, **kwargs)
        except PermissionDenied as error:
            response = outcome(403, "forbidden", str(error))
        api_access_record(
            token=token,
            method=request.method or "",
            path=request.path,
            status=response.status_code,
            case_id=getattr(response, "case_id", None),
        )
        return _finish(request, response)

    wrapper.token_authenticated = True  # type: ignore[attr-defined]
    return login_not_required(csrf_exempt(wrapper))


def _finish(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """No session cookie on /fhir/: whatever a middleware put in the session is not saved."""
    session = getattr(request, "session", None)
    if session is not None:
        session.modified = False
    return response


@require_GET
@token_authenticated
def patient_everything(
    request: HttpRequest, token: models.ApiToken, patient_id: int
) -> HttpResponse:
    try:
        body = patient_bundle(patient_id=patient_id)
    except models.Patient.DoesNotExist:
        return outcome(404, "not-found", f"No case of patient {patient_id}.")
    return fhir_response(body)


@require_POST
@token_authenticated
def bundle_post(request: HttpRequest, token: models.ApiToken) -> HttpResponse:
    # Read past Django's DATA_UPLOAD_MAX_MEMORY_SIZE, up to our own limit and one byte more.
    raw = request.read(settings.FHIR_MAX_BUNDLE_BYTES + 1)
    try:
        result = bundle_import(raw=raw, token=token)
    except ImportRefused as refused:
        return fhir_response(operation_outcome(refused.problems), refused.status)
    response = fhir_response(result.as_json(), 201 if result.case_created else 200)
    response.case_id = result.case_id  # type: ignore[attr-defined]
    return response
