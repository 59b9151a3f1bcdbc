"""Redis is a cache for sessions, never their record: signed-in pages keep working without it."""

from __future__ import annotations

import socket

import pytest
from django.core.cache import caches

pytestmark = pytest.mark.django_db


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def redis_down(settings):
    down = dict(settings.CACHES["default"], LOCATION=f"redis://127.0.0.1:{closed_port()}/0")
    settings.CACHES = dict(settings.CACHES, default=down)
    caches["default"].close()
    yield
    caches["default"].close()


def test_a_signed_in_user_keeps_working_while_redis_is_down(client, users, redis_down):
    client.post("/login/", {"username": "coordinator", "password": "correct-horse-battery-staple"})
    assert client.get("/meetings/").status_code == 200
    assert client.get("/cases/").status_code == 200
    client.post("/logout/")
    assert client.get("/meetings/").status_code == 302  # signed out for real
