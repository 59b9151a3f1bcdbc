"""Search text never reaches Redis (issue 18, finding 8): it is kept in PostgreSQL under a
token that only its author can use; the session (cached in Redis) carries none of it."""

from __future__ import annotations

import datetime as dt
import secrets
import string

import pytest
import redis
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from cases import models
from tests.conftest import make_case, make_patient, make_user, signed_in

pytestmark = pytest.mark.django_db


def redis_holds(needle: str) -> list[str]:
    """Every key of the app's Redis database whose name or string value contains ``needle``."""
    server = redis.Redis.from_url(settings.REDIS_URL)
    found = []
    for key in server.scan_iter(count=1000):
        if server.type(key) != b"string":
            continue
        value = server.get(key) or b""
        if needle.encode() in key or needle.encode() in value:
            found.append(key.decode(errors="replace"))
    return found


@pytest.mark.parametrize("url", ["/cases/", "/audit/"])
def test_a_search_leaves_nothing_of_its_text_in_redis(url):
    # A name no earlier run can have left in Redis (sessions there outlive a test run).
    name = "Quixote" + "".join(secrets.choice(string.ascii_lowercase) for _ in range(10))
    case = make_case(patient=make_patient(family_name=name))
    role = "auditor" if url == "/audit/" else "clinician"
    client = signed_in(make_user(role))
    client.get(url)  # the session is in the Redis cache from here on
    response = client.post(url, {"q": name}, follow=True)
    assert case.reference in response.content.decode()
    assert name not in response.redirect_chain[-1][0]
    assert name not in str(dict(client.session))
    assert redis_holds(name) == []
    # The text is in PostgreSQL, for this user only.
    assert models.SavedSearch.objects.filter(text=name).count() == 1


def test_the_results_link_works_for_its_author_only():
    case = make_case(patient=make_patient(family_name="Zebedeeson"))
    author = signed_in(make_user("clinician"))
    results_url = author.post("/cases/", {"q": "Zebedeeson"}).headers["Location"]
    assert case.reference in author.get(results_url).content.decode()
    other = signed_in(make_user("clinician"))
    html = other.get(results_url).content.decode()
    assert 'value="Zebedeeson"' not in html  # the other user's box is empty: no search


def test_searching_again_for_the_same_text_reuses_its_token():
    client = signed_in(make_user("clinician"))
    first = client.post("/cases/", {"q": "Smith"}).headers["Location"]
    second = client.post("/cases/", {"q": "Smith"}).headers["Location"]
    assert first == second
    assert models.SavedSearch.objects.filter(text="Smith").count() == 1


def test_searches_are_forgotten_once_no_session_could_still_use_them():
    user = make_user("clinician")
    client = signed_in(user)
    models.SavedSearch.objects.create(
        user=user,
        token="oldtoken1",
        text="Old",
        created_at=timezone.now() - dt.timedelta(seconds=settings.SESSION_ABSOLUTE_SECONDS + 1),
    )
    client.post("/cases/", {"q": "New"})
    assert list(models.SavedSearch.objects.values_list("text", flat=True)) == ["New"]


def test_the_database_refuses_an_empty_search_or_a_short_token():
    user = make_user("clinician")
    with pytest.raises(IntegrityError), transaction.atomic():
        models.SavedSearch.objects.create(user=user, token="abcdefgh", text="")
    with pytest.raises(IntegrityError), transaction.atomic():
        models.SavedSearch.objects.create(user=user, token="abc", text="Smith")
