"""`make run` as a new user meets it: the launcher serves the login page, a demo user signs in and
sees the home page, and Ctrl-C stops every process it started.

The launcher runs for real (web server, Celery worker and beat) against a fresh database of its
own on the test PostgreSQL server.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import psycopg
import pytest

from tests.conftest import superuser_url
from tumourboard.embedded import role_names

BASE_DIR = Path(__file__).resolve().parents[2]
DB_NAME = "tumourboard_run_smoke"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def admin_connection() -> psycopg.Connection:
    return psycopg.connect(superuser_url("postgres"), autocommit=True)


@pytest.fixture
def fresh_database_url():
    """A superuser's URL to a database that does not exist yet, as on a fresh machine: the
    launcher creates it, with its two roles (docs/security.md), and the test removes them."""
    owner, app = role_names(DB_NAME)

    def drop_all():
        with admin_connection() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
            conn.execute(f"DROP ROLE IF EXISTS {owner}, {app}")

    drop_all()
    yield superuser_url(DB_NAME)
    drop_all()


def wait_for(url: str, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the launcher exited before serving"
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {timeout} s")


def test_it_serves_the_login_page_and_a_demo_user_signs_in(fresh_database_url, tmp_path):
    port = free_port()
    env = dict(os.environ, DATABASE_URL=fresh_database_url, PORT=str(port))
    for variable in ("DATABASE_MIGRATE_URL", "DATABASE_SUPERUSER_URL"):
        env.pop(variable, None)
    env["TUMOURBOARD_VAR_DIR"] = str(tmp_path)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    launcher = subprocess.Popen(
        [sys.executable, "-m", "tumourboard.embedded", "run"],
        cwd=BASE_DIR, env=env, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        # As a shell starts a background job: SIGINT ignored. Ctrl-C must still stop it all.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/login/", launcher)
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        login_page = opener.open(f"{base}/login/").read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page).group(1)
        form = urllib.parse.urlencode(
            {
                "username": "coordinator",
                "password": "tumourboard-demo",
                "csrfmiddlewaretoken": token,
            }
        ).encode()
        request = urllib.request.Request(f"{base}/login/", data=form, headers={"Referer": base})
        home = opener.open(request)
        assert home.url == f"{base}/"
        assert "Case coordinator" in home.read().decode()
    finally:
        os.killpg(launcher.pid, signal.SIGINT)  # what Ctrl-C does
        output, _ = launcher.communicate(timeout=60)
    assert launcher.returncode == 0, output
    # It set up the two roles itself: the app ran as one that owns nothing.
    owner, app = role_names(DB_NAME)
    assert f"{owner} runs migrations, {app} is what the app connects as" in output
    # The launcher printed the demo sign-ins.
    assert "coordinator" in output
    assert "tumourboard-demo" in output
    # Nothing it started is left running.
    leftovers = subprocess.run(
        ["pgrep", "-f", f"runserver 127.0.0.1:{port}"], capture_output=True, text=True
    )
    assert leftovers.stdout.strip() == ""
