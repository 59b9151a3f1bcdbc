"""Beside each change, the auditor reads the database session PostgreSQL recorded for it."""

from __future__ import annotations

import html
import re

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from cases.audit.sessions import describe_session
from tests.audit.test_audit_trail import as_request_by
from tests.conftest import make_case, make_user

APP = {"db_role": settings.DATABASE_APP_ROLE, "db_session_user": settings.DATABASE_APP_ROLE}


@pytest.mark.django_db
def test_a_change_made_through_the_application_shows_its_session_unmarked():
    clinician = make_user("clinician", username="alex")
    case = as_request_by(clinician, lambda: make_case(ecog=1), path="/cases/new/")
    with connection.cursor() as cursor:
        cursor.execute("SELECT inet_client_addr()")
        address = cursor.fetchone()[0]
    auditor = Client(HTTP_HOST="localhost")
    auditor.force_login(make_user("auditor"))
    page = html.unescape(auditor.get(f"/audit/cases/{case.pk}/").content.decode())
    where = str(address).split("/")[0] if address else "a local socket"
    expected = f"database session: the application's role {settings.DATABASE_APP_ROLE} from {where}"
    assert re.search(rf'<span class="muted">{re.escape(expected)}</span>', page)
    assert "badge-warn" not in page


@pytest.mark.parametrize(
    ("session", "claimed", "text", "flagged"),
    [
        (
            {**APP, "db_client_addr": "10.0.0.5/32", "by_trigger": True},
            "Dr A (a)",
            "database session: the application's role {app} from 10.0.0.5",
            False,
        ),
        (
            {"db_role": "jo", "db_session_user": "jo", "db_client_addr": None, "by_trigger": True},
            "Dr A (a)",
            "context claims Dr A (a) but the database session was role jo from a local socket",
            True,
        ),
        (
            {"db_role": "owner", "db_session_user": "jo", "db_client_addr": "10.1.1.1/32"},
            None,
            "database session: role owner (signed in to the database as jo) from 10.1.1.1, "
            "not the application's role",
            True,
        ),
        (
            {**APP, "db_client_addr": "10.0.0.5/32", "by_trigger": False},
            "Dr A (a)",
            "inserted straight into the event table by role {app} from 10.0.0.5, "
            "not by the audit trigger",
            True,
        ),
        (
            {"db_role": None, "db_session_user": None, "db_client_addr": None},
            None,
            "written before the audit chain began: database session not recorded",
            False,
        ),
        (
            None,
            None,
            "in no link of the audit chain: written with the chain switched off",
            True,
        ),
    ],
    ids=["application", "another role", "set role", "direct insert", "before the chain", "none"],
)
def test_each_kind_of_session_is_described(session, claimed, text, flagged):
    described = describe_session(session, claimed)
    assert described.text == text.format(app=settings.DATABASE_APP_ROLE)
    assert described.flagged is flagged
