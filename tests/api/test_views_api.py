"""POST /api/advise/: the same contract as the command, for signed-in users."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from cases.pathway.parse import _BOOLS, _DATES, _ENUMS, _INT_RANGES, _NUMBER_RANGES
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


# --- Limits (issue 18: batch cap, rate limit, bounded numbers, fuzz) ------------------------


@pytest.fixture(autouse=True)
def _fresh_rate_counts(settings):
    """Forget earlier runs' counts (user ids repeat between runs within a minute)."""
    from django.core.cache import cache

    client = cache._cache.get_client(write=True)
    for key in client.scan_iter(match="*rl:*"):
        client.delete(key)


def test_it_refuses_more_than_1000_cases_with_413(clinician_client):
    response = post(clinician_client, json.dumps([{}] * 1001))
    assert response.status_code == 413
    assert "1000" in response.json()["error"]


def test_it_accepts_exactly_1000_cases(clinician_client):
    response = post(clinician_client, json.dumps([{}] * 1000))
    assert response.status_code == 200
    assert len(response.json()) == 1000


def test_it_refuses_the_pen_tests_150000_empty_objects_without_advising_them(clinician_client):
    response = post(clinician_client, "[" + ",".join(["{}"] * 150_000) + "]")
    assert response.status_code == 413


def test_it_limits_each_user_to_the_rate_with_retry_after(settings, db):
    settings.API_RATE_LIMIT = "3/m"
    first, second = signed_in(make_user("clinician")), signed_in(make_user("chair"))
    assert [post(first, "{}").status_code for _ in range(3)] == [200, 200, 200]
    refused = post(first, "{}")
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert "3/m" in refused.json()["error"]
    # The count is per user: another user is not held back by the first one's requests.
    assert post(second, "{}").status_code == 200


def test_the_rate_limit_defaults_to_60_a_minute():
    from django.conf import settings

    assert settings.API_RATE_LIMIT == "60/m"


@pytest.mark.parametrize("number", ["1" * 4301, "-" + "9" * 5000, "1" * 5000 + ".5", "1e99999"])
def test_a_number_of_thousands_of_digits_is_a_clear_400(clinician_client, number):
    response = post(clinician_client, '{"ecog": ' + number + "}")
    assert response.status_code == 400
    assert "number" in response.json()["error"]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_json_constants_are_a_400(clinician_client, constant):
    response = post(clinician_client, '{"flr_percent_slv": ' + constant + "}")
    assert response.status_code == 400


_KEYS = sorted({*_INT_RANGES, *_NUMBER_RANGES, *_ENUMS, *_BOOLS, *_DATES})
_ENUM_VALUES = sorted({member.value for enum in _ENUMS.values() for member in enum})
_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**19), max_value=10**19)
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
    | st.dates().map(str)
    | st.sampled_from(_ENUM_VALUES),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=20), children, max_size=5)
    ),
    max_leaves=20,
)
_case_keys = st.sampled_from(_KEYS)
_cases = st.dictionaries(_case_keys | st.text(max_size=12), _json_values, max_size=8)
_bodies = (
    _cases.map(json.dumps)
    | st.lists(_cases, max_size=5).map(json.dumps)
    | _json_values.map(json.dumps)
    | st.text(max_size=60)
    | st.binary(max_size=60).map(lambda b: b.decode("latin-1"))
    | st.integers(min_value=4000, max_value=6000).map(lambda n: '{"ecog": ' + "7" * n + "}")
)


@hypothesis_settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=_bodies)
def test_fuzzing_the_json_body_never_gets_a_500(settings, clinician_client, body):
    settings.API_RATE_LIMIT = "100000/m"
    response = post(clinician_client, body)
    assert response.status_code in (200, 400), (response.status_code, body[:200])
