"""Shared fixtures: one user per role, and a small builder for clinical records.

Test patients carry sentinel identities (``tests/phi_guard.py``): the run fails if one of them
shows up in a log record or an email.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
import time_machine
from django.test import Client

from cases import models
from tests import phi_guard


def pytest_configure(config):
    config.pluginmanager.register(phi_guard, "phi_guard")


_numbers = itertools.count(1)

# Mid-morning in London on a Tuesday: localdate() is the same day in UTC and in London.
DEFAULT_NOW = dt.datetime(2026, 3, 10, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def frozen(request):
    """Time stands still at the test module's ``NOW`` (else ``DEFAULT_NOW``). A module that
    needs it for every test says ``pytestmark = pytest.mark.usefixtures("frozen")``."""
    moment = getattr(request.module, "NOW", DEFAULT_NOW)
    with time_machine.travel(moment, tick=False) as traveller:
        yield traveller


def make_user(role: str, username: str | None = None, discipline: str = "") -> models.User:
    username = username or f"{role}{next(_numbers)}"
    return models.User.objects.create_user(
        username=username,
        password="correct-horse-battery-staple",
        email=f"{username}@hospital.invalid",
        first_name=role.title(),
        last_name="Tester",
        role=role,
        discipline=discipline,
    )


def signed_in(user: models.User, **options: object) -> Client:
    """A test client signed in as ``user`` (``options`` as for ``Client``)."""
    client = Client(**options)
    client.force_login(user)
    return client


@pytest.fixture
def users(db) -> dict[str, models.User]:
    """One user for each role."""
    return {role: make_user(role, username=role) for role in models.Role.values}


def make_patient(**overrides) -> models.Patient:
    n = next(_numbers)
    fields = {
        # Sentinels: the PHI guard fails the run if these reach a log or an email.
        "hospital_number": f"{phi_guard.HOSPITAL_PREFIX}{n:06d}",
        "family_name": phi_guard.FAMILY_NAME,
        "given_name": phi_guard.GIVEN_NAME,
        "date_of_birth": dt.date(1960, 5, 17),
    }
    fields.update(overrides)
    return models.Patient.objects.create(**fields)


def make_case(**overrides) -> models.Case:
    fields = {
        "primary_site": models.PrimarySite.RECTUM,
        "diagnosed_on": dt.date(2026, 1, 10),
        "ecog": 1,
        "stage": models.Stage.CONVERSION,
    }
    fields.update(overrides)
    if "patient" not in fields:
        fields["patient"] = make_patient()
    return models.Case.objects.create(**fields)


@pytest.fixture
def case(db) -> models.Case:
    return make_case()


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing(django_test_environment):
    """Real hashing is deliberately slow; tests only need passwords to round-trip."""
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_database_url() -> str:
    """A DATABASE_URL that points a child process (worker, manage.py) at the test database, over
    TCP or through the socket directory of the embedded PostgreSQL."""
    from urllib.parse import quote

    from django.db import connection

    db = connection.settings_dict
    user = quote(db["USER"] or "")
    password = f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else ""
    host = db["HOST"] or db["OPTIONS"].get("host", "")
    if host.startswith("/"):
        return f"postgres://{user}{password}@/{db['NAME']}?host={quote(host, safe='')}"
    return f"postgres://{user}{password}@{host or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


test_database_url.__test__ = False  # a helper, not a test
