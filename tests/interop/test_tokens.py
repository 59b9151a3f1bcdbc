"""System access: per-system API tokens, stored hashed, scoped, rate-limited, every call logged
with the token's name; no session is used or set on /fhir/."""

from __future__ import annotations

import hashlib
import json
import uuid
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import ProgrammingError, connection
from django.test import Client

from cases import models
from cases.interop.tokens import api_token_create, api_token_revoke
from tests.conftest import make_user, signed_in
from tests.interop.helpers import clinical_counts, post_bundle, signed_off_case, token_client
from tests.interop.test_import import referral

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]


@pytest.fixture(autouse=True)
def fresh_rate_counters(settings):
    """Each test counts calls from zero (token ids restart with each test database)."""
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            **settings.CACHES["default"],
            "KEY_PREFIX": f"fhir-test-{uuid.uuid4().hex}",
        },
    }


def everything(client: Client, case: models.Case):
    return client.get(f"/fhir/Patient/{case.patient_id}/$everything")


def test_the_command_prints_the_token_once_and_keeps_only_its_hash():
    out = StringIO()
    call_command("api_token", "create", "lab-system", "--scope", "read", stdout=out)
    secret = out.getvalue().splitlines()[1]
    token = models.ApiToken.objects.get(name="lab-system")
    assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM cases_apitoken")
        assert secret not in repr(cursor.fetchall())
    listed = StringIO()
    call_command("api_token", "list", stdout=listed)
    assert "lab-system\tread" in listed.getvalue()
    assert secret not in listed.getvalue()


def test_a_token_reads_a_patients_bundle():
    case = signed_off_case(make_user("chair"))
    client, _name = token_client("read")
    response = everything(client, case)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+json"
    assert "no-store" in response["Cache-Control"]
    assert response.json()["resourceType"] == "Bundle"


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer not-a-token", "Basic abc"])
def test_no_valid_token_gets_401(header):
    case = signed_off_case(make_user("chair"))
    response = everything(Client(HTTP_AUTHORIZATION=header), case)
    assert response.status_code == 401
    assert response.json()["resourceType"] == "OperationOutcome"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_token_gets_401():
    case = signed_off_case(make_user("chair"))
    made = api_token_create(name="old-system", scope="import")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {made.secret}")
    assert everything(client, case).status_code == 200
    call_command("api_token", "revoke", "old-system", stdout=StringIO())
    assert everything(client, case).status_code == 401
    assert post_bundle(client, referral()).status_code == 401


def test_a_read_only_token_gets_403_on_import_and_writes_nothing():
    client, _name = token_client("read")
    before = clinical_counts()
    response = post_bundle(client, referral())
    assert response.status_code == 403
    assert response.json()["issue"][0]["code"] == "forbidden"
    assert clinical_counts() == before


def test_every_call_is_logged_with_the_tokens_name():
    case = signed_off_case(make_user("chair"))
    reader, _reader = token_client("read", name="registry")
    importer, _importer = token_client("import", name="referrals")
    everything(reader, case)
    post_bundle(reader, referral())
    created = post_bundle(importer, referral()).json()
    everything(Client(HTTP_AUTHORIZATION="Bearer wrong"), case)
    calls = list(
        models.ApiAccess.objects.order_by("id").values_list("token_name", "method", "status")
    )
    assert calls == [
        ("registry", "GET", 200),
        ("registry", "POST", 403),
        ("referrals", "POST", 201),
        ("", "GET", 401),
    ]
    imported = models.ApiAccess.objects.get(status=201)
    assert imported.case_id == int(created["case"].removeprefix("TB"))


def test_changes_made_through_a_token_carry_its_name_in_the_audit_trail():
    post_bundle(token_client("import", name="referrals")[0], referral())
    event = models.Case.pgh_event_model.objects.get()
    assert event.pgh_context["api_token"] == "referrals"


def test_the_call_log_refuses_edits():
    token = api_token_create(name="x-system", scope="read").token
    models.ApiAccess.objects.create(
        token=token, token_name="x-system", method="GET", path="/", status=200
    )
    with pytest.raises(ProgrammingError, match="Cannot update or delete rows"):
        models.ApiAccess.objects.update(status=500)


def test_calls_beyond_the_rate_limit_get_429(settings):
    settings.FHIR_RATE_LIMIT = "2/m"
    case = signed_off_case(make_user("chair"))
    client, _name = token_client("read")
    other, _other = token_client("import")
    assert [everything(client, case).status_code for _ in range(3)] == [200, 200, 429]
    response = everything(client, case)
    assert 1 <= int(response["Retry-After"]) <= 61
    assert everything(other, case).status_code == 200  # per token


def test_a_signed_in_session_is_not_enough_and_no_cookie_is_set():
    case = signed_off_case(make_user("chair"))
    browser = signed_in(make_user("clinician"))
    response = everything(browser, case)
    assert response.status_code == 401
    assert response.cookies == {} or all(not c.value for c in response.cookies.values())
    client, _name = token_client("read")
    response = everything(client, case)
    assert response.status_code == 200
    assert not response.cookies


def test_an_unknown_patient_is_a_404_outcome():
    client, _name = token_client("read")
    response = client.get("/fhir/Patient/999999/$everything")
    assert response.status_code == 404
    assert json.loads(response.content)["issue"][0]["code"] == "not-found"


def test_revoking_an_unknown_token_says_so():
    with pytest.raises(SystemExit):
        call_command("api_token", "revoke", "nobody", stdout=StringIO(), stderr=StringIO())
    with pytest.raises(Exception, match="No token"):
        api_token_revoke(name="nobody")
