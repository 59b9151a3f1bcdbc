"""POST /api/advise/: the same contract as the command, for signed-in users."""

from __future__ import annotations

import json

import pytest

from tests.conftest import make_user, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinician_client(db):
    return signed_in(make_user("clinician"))


def post(client, body: str):
    return client.post("/api/advise/", data=body, content_type="application/json")


def test_it_answers_signed_in_users(clinician_client):
    response = post(
        clinician_client, json.dumps({"primary_site": "rectum", "kras_status": "mutant"})
    )
    assert response.status_code == 200
    assert response.json()["sidedness"] == "left"
    assert response.json()["warnings"] == ["MMR_STATUS_REQUIRED", "BRAF_STATUS_REQUIRED"]


def test_it_answers_a_list_in_order(clinician_client):
    response = post(clinician_client, json.dumps([{"primary_site": "caecum"}, {}]))
    assert [a["sidedness"] for a in response.json()] == ["right", "undetermined"]


@pytest.mark.parametrize(
    ("body", "key"),
    [('{"ecog": 7}', "ecog"), ('[{}, {"flr_percent_slv": -1}]', "[1].flr_percent_slv")],
)
def test_bad_input_is_a_400_naming_the_key(clinician_client, body, key):
    response = post(clinician_client, body)
    assert response.status_code == 400
    assert response.json()["key"] == key
    assert response.json()["error"].startswith(f"{key}: ")


def test_malformed_json_is_a_400_not_a_500(clinician_client):
    response = post(clinician_client, "{oops")
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]


def test_anonymous_users_are_sent_to_login(client):
    assert post(client, "{}").status_code == 302


def test_only_post_is_allowed(clinician_client):
    assert clinician_client.get("/api/advise/").status_code == 405


def test_absurdly_nested_json_is_a_400_not_a_500(clinician_client):
    response = post(clinician_client, "[" * 50_000)
    assert response.status_code == 400
