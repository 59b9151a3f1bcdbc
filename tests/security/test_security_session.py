"""Sessions end after 30 idle minutes or 12 hours whatever happens; an htmx request on an ended
session takes the whole page to sign-in; signed-in pages are never cached; production cookies
are __Host- and secure, and the deploy checks pass."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import time_machine
from django.test import Client

from tests.conftest import make_user

pytestmark = pytest.mark.django_db

BASE_DIR = Path(__file__).resolve().parents[2]
START = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
HTMX = {"HX-Request": "true", "HX-Current-URL": "http://localhost/audit/?q=TB000001"}


@pytest.fixture
def session_with_clock():
    """A signed-in client whose clock the test moves."""
    with time_machine.travel(START, tick=False) as clock:
        client = Client(HTTP_HOST="localhost")
        client.force_login(make_user("auditor"))
        assert client.get("/").status_code == 200
        yield client, clock


def goes_to_sign_in(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith("/login/")


def test_it_keeps_an_active_session(session_with_clock):
    client, clock = session_with_clock
    for _ in range(30):  # 11 h 40 min of steady use, 20 minutes apart
        clock.shift(dt.timedelta(minutes=20))
        assert client.get("/").status_code == 200


def test_it_signs_out_after_30_idle_minutes(session_with_clock):
    client, clock = session_with_clock
    clock.shift(dt.timedelta(minutes=29))
    assert client.get("/").status_code == 200
    clock.shift(dt.timedelta(minutes=31))
    assert goes_to_sign_in(client.get("/"))
    page = client.get("/login/")
    assert b"30 minutes passed without activity" in page.content


def test_it_signs_out_12_hours_after_sign_in_even_when_active(session_with_clock):
    client, clock = session_with_clock
    for _ in range(35):  # 11 h 40 min
        clock.shift(dt.timedelta(minutes=20))
        assert client.get("/").status_code == 200
    clock.shift(dt.timedelta(minutes=21))
    assert goes_to_sign_in(client.get("/"))
    assert b"sessions last at most 12 hours" in client.get("/login/").content


def test_background_polling_does_not_keep_a_session_alive(session_with_clock):
    client, clock = session_with_clock
    for _ in range(4):
        clock.shift(dt.timedelta(minutes=10))
        client.get("/", headers={"X-Background-Refresh": "1"})
    assert goes_to_sign_in(client.get("/"))


def test_an_htmx_request_on_an_ended_session_redirects_the_whole_page(session_with_clock):
    client, clock = session_with_clock
    clock.shift(dt.timedelta(minutes=31))
    response = client.get("/audit/", headers=HTMX)
    assert response.status_code == 200
    assert response.content == b""
    # htmx does a full-page redirect; after sign-in the user lands on the page they were on.
    assert response["HX-Redirect"] == "/login/?next=%2Faudit%2F%3Fq%3DTB000001"


def test_an_anonymous_htmx_request_gets_a_full_page_redirect(client):
    response = client.post("/api/advise/", headers=HTMX)
    assert response.status_code == 200
    assert response["HX-Redirect"].startswith("/login/?next=")


def test_an_htmx_redirect_elsewhere_is_left_alone(session_with_clock):
    client, _ = session_with_clock
    response = client.get("/login/", headers=HTMX)  # signed in: login sends you home
    assert response.status_code == 302
    assert "HX-Redirect" not in response


def test_an_htmx_next_on_another_site_is_ignored(client):
    response = client.get(
        "/", headers={"HX-Request": "true", "HX-Current-URL": "https://evil.example/x"}
    )
    assert response["HX-Redirect"] == "/login/?next=%2F"


def test_signed_in_pages_are_not_stored_by_browsers_or_proxies(session_with_clock):
    client, _ = session_with_clock
    for path in ("/", "/audit/", "/audit/cases/999999/"):
        assert "no-store" in client.get(path)["Cache-Control"], path


def test_static_files_stay_cacheable_for_signed_in_users(session_with_clock):
    client, _ = session_with_clock
    assert "no-store" not in client.get("/static/css/app.css").get("Cache-Control", "")


def production(code: str) -> subprocess.CompletedProcess[str]:
    env = dict(
        os.environ,
        TUMOURBOARD_PROFILE="production",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="mdt.example.org",
        DJANGO_SETTINGS_MODULE="tumourboard.settings",
    )
    for name in ("OTP_REQUIRED", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"):  # as a server would run
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_production_uses_host_prefixed_secure_cookies_and_requires_two_factors():
    result = production(
        "from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_NAME, s.CSRF_COOKIE_NAME, s.SESSION_COOKIE_SECURE, "
        "s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, s.OTP_REQUIRED)"
    )
    assert result.stdout.split() == ["__Host-sessionid", "__Host-csrftoken", *["True"] * 4]


def test_production_passes_the_deploy_checks_at_warning_level():
    result = production(
        "import sys; from django.core.management import execute_from_command_line; "
        "execute_from_command_line(['manage.py', 'check', '--deploy', '--fail-level', 'WARNING'])"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
