"""Shared fixtures: one user per role, and a small builder for clinical records.

Test patients carry sentinel identities (``tests/phi_guard.py``): the run fails if one of them
shows up in a log record or an email.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os

import pytest
import time_machine
from django.test import Client

from cases import models
from cases.audit import db_roles
from tests import phi_guard


def pytest_configure(config):
    config.pluginmanager.register(phi_guard, "phi_guard")


# --- Database roles (docs/security.md) ---------------------------------------------------------
# The owner role (DATABASE_MIGRATE_URL) creates, migrates and finally drops the test database;
# every test runs as the app's role (DATABASE_URL), which owns nothing. A test that needs more
# opens its own connection (tests/audit/conftest.py).
_app_credentials: dict[str, object] = {}


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix) -> None:
    from django.db import connection

    owner = db_roles.owner_credentials(connection.settings_dict)
    if owner is not None:
        _app_credentials.update(db_roles.use_credentials(owner))


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    if not _app_credentials:  # no DATABASE_MIGRATE_URL: one role for everything
        yield
        return
    with django_db_blocker.unblock():
        owner = db_roles.use_credentials(_app_credentials)
    yield
    with django_db_blocker.unblock():
        db_roles.use_credentials(owner)  # for pytest-django to drop the test database


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


def superuser_url(database: str | None = None) -> str:
    """A superuser's URL to the server, to ``database`` (default: the test database). `make
    test` passes it as DATABASE_SUPERUSER_URL; only a few tests need it."""
    from urllib.parse import quote, urlsplit, urlunsplit

    from django.db import connection

    url = os.environ.get("DATABASE_SUPERUSER_URL")
    if not url:
        pytest.fail("DATABASE_SUPERUSER_URL is not set: run the tests with `make test` (README)")
    database = database or connection.settings_dict["NAME"]
    return urlunsplit(urlsplit(url)._replace(path=f"/{quote(database, safe='')}"))
