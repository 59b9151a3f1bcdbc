"""Every URL is behind sign-in and every POST needs a CSRF token: checked by walking the URL
resolver, so URLs added later on any branch are covered without being listed here."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.http import HttpResponse
from django.test import Client
from django.urls import path
from django.views.decorators.http import require_POST

from cases.security.permissions import Capability, capability_required
from tests.conftest import make_user
from tests.url_walk import endpoints

pytestmark = pytest.mark.django_db

# The only pages an anonymous visitor may see (static files are served before any URL pattern).
PUBLIC = {"login", "healthz"}


def token_authenticated(endpoint) -> bool:
    """The system API under /fhir/ (cases/interop/views.py): no session, no CSRF cookie, an API
    token on every call instead. Without one it answers 401, never the sign-in page."""
    return getattr(endpoint.callback, "token_authenticated", False)


HOST = "localhost"


def walk():
    found, unreachable = endpoints()
    assert not unreachable, f"no sample path resolves to these patterns: {unreachable}"
    return found


def test_the_walk_finds_the_project_urls():
    names = {endpoint.name for endpoint in walk()}
    assert {"login", "healthz", "cases:home", "cases:api-advise", "admin:index"} <= names
    assert "cases:audit-case" in names


@pytest.mark.parametrize("method", ["get", "post"])
def test_every_url_sends_anonymous_visitors_to_sign_in_or_404s(method):
    client = Client(HTTP_HOST=HOST)
    wrong = []
    for endpoint in walk():
        if endpoint.name in PUBLIC:
            continue
        response = getattr(client, method)(endpoint.path, follow=True)
        if token_authenticated(endpoint):
            if response.status_code not in (401, 405) or response.redirect_chain:
                wrong.append(f"{endpoint}: {response.status_code} for no token")
            continue
        chain = [urlsplit(url).path for url, _status in response.redirect_chain]
        if response.status_code == 404 and not chain:
            continue
        if chain and chain[-1] == "/login/" and response.status_code == 200:
            continue
        wrong.append(f"{endpoint}: {response.status_code} after {chain}")
    assert not wrong, "\n".join(wrong)


def test_the_public_pages_answer_without_sign_in():
    client = Client(HTTP_HOST=HOST)
    assert client.get("/login/").status_code == 200
    assert client.get("/healthz").status_code in (200, 503)


def test_static_files_are_served_without_sign_in(client):
    response = client.get("/static/css/app.css")
    assert response.status_code == 200


def test_every_post_without_a_csrf_token_is_refused():
    """Signed in, so the refusal is the CSRF check and not the login redirect."""
    client = Client(enforce_csrf_checks=True, HTTP_HOST=HOST)
    client.force_login(make_user("chair"))
    wrong = []
    for endpoint in walk():
        if token_authenticated(endpoint):
            # Exempt by design: a signed-in session opens nothing there (no token, 401).
            if client.post(endpoint.path, {"anything": "1"}).status_code not in (401, 405):
                wrong.append(f"{endpoint}: a session without a token got through")
            continue
        if getattr(endpoint.callback, "csrf_exempt", False):
            wrong.append(f"{endpoint}: marked csrf_exempt")
            continue
        response = client.post(endpoint.path, {"anything": "1"})
        if response.status_code != 403 or b"CSRF" not in response.content:
            wrong.append(f"{endpoint}: {response.status_code}")
    assert not wrong, "\n".join(wrong)


def test_an_anonymous_post_to_sign_in_without_a_token_is_refused():
    client = Client(enforce_csrf_checks=True, HTTP_HOST=HOST)
    response = client.post("/login/", {"username": "x", "password": "y"})
    assert response.status_code == 403


# --- The walk itself can fail --------------------------------------------------------------


@capability_required(Capability.EDIT_CASES)
@require_POST
def _guarded(request, thing_id):
    return HttpResponse("ok")


def _unguarded(request, slug):
    return HttpResponse("ok")


urlpatterns = [
    path("things/<int:thing_id>/edit/", _guarded, name="thing-edit"),
    path("pages/<slug:slug>/", _unguarded, name="page"),
]


def test_the_walk_builds_paths_for_route_converters_and_sees_the_capability():
    found, unreachable = endpoints("tests.security.test_security_urls")
    assert unreachable == []
    by_name = {endpoint.name: endpoint for endpoint in found}
    assert by_name["thing-edit"].path == "/things/999999/edit/"
    assert by_name["page"].path == "/pages/x/"
    assert by_name["thing-edit"].callback.required_capability == Capability.EDIT_CASES
    assert getattr(by_name["page"].callback, "required_capability", None) is None
