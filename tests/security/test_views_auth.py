"""Sign-in is the front door: everything else needs it, and the pages carry a strict CSP."""

from __future__ import annotations

import re

import pytest

from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def test_it_redirects_anonymous_users_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/")


def test_it_shows_the_login_page(client):
    response = client.get("/login/")
    assert response.status_code == 200
    assert b"Sign in" in response.content


def test_a_user_can_sign_in_and_see_the_home_page(client):
    make_user("coordinator", username="casey")
    response = client.post(
        "/login/", {"username": "casey", "password": "correct-horse-battery-staple"}, follow=True
    )
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == "/"
    assert b"Case coordinator" in response.content


def test_a_wrong_password_is_refused(client):
    make_user("coordinator", username="casey")
    response = client.post("/login/", {"username": "casey", "password": "nope"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content


def test_pages_carry_a_nonce_csp_without_unsafe_inline(client):
    response = client.get("/login/")
    policy = response["Content-Security-Policy"]
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
    html = response.content.decode()
    # htmx 2 comes from our own static files, with the page's nonce.
    assert re.search(
        rf'<script src="/static/django_htmx/htmx-2\.min\.js"[^>]* nonce="{nonce}"', html
    )
    # No inline script or style elements, no inline event handlers, no style attributes.
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert "<style" not in html
    assert not re.search(r"\son[a-z]+=", html)
    assert not re.search(r'\sstyle="', html)


def test_the_body_sends_the_csrf_token_to_htmx(client):
    user = make_user("clinician")
    client.force_login(user)
    html = client.get("/").content.decode()
    assert re.search(r"<body[^>]*hx-headers='\{\"X-CSRFToken\": \"[A-Za-z0-9]+\"\}'", html)
