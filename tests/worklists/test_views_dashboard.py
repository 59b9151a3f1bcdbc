"""The dashboard page: every worklist with its count, in-place htmx partials that are also real
links, charts with their numbers, listing from the dashboard, and fixed query counts."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cases import models
from cases.worklists import queries as worklists
from tests.cohort import populate, upcoming_meeting
from tests.conftest import make_case, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]
NOW = dt.datetime(2026, 3, 10, 10, 0, tzinfo=dt.UTC)
HTMX = {"HX-Request": "true"}


@pytest.fixture
def coordinator(client):
    user = make_user("coordinator")
    client.force_login(user)
    return user


@pytest.fixture
def cohort(coordinator):
    meeting = upcoming_meeting(make_user("chair"))
    populate(12, today=timezone.localdate(), owner=make_user("clinician"))
    return meeting


def test_anonymous_users_are_sent_to_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_the_dashboard_shows_every_worklist_with_its_count(client, cohort):
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    today = timezone.localdate()
    for spec in worklists.WORKLISTS:
        section = re.search(rf'<section id="{spec.partial}".*?</section>', html, re.S).group(0)
        count = worklists.worklist_queryset(spec, today=today, meeting=cohort).count()
        assert count > 0, spec.slug
        assert f'aria-label="{count} on this list"' in section, spec.slug
        assert spec.title in section


def test_a_long_worklist_is_capped_with_a_show_all_link_that_works_without_javascript(
    client, cohort
):
    html = client.get("/").content.decode()
    url = reverse("cases:worklist-detail", args=["actions"])
    assert f'href="{url}"' in html
    assert "Show all 12" in html
    assert html.count("?next=dashboard") == 8  # the dashboard shows the first 8
    page = client.get(url)
    assert page.status_code == 200
    assert b"<html" in page.content
    assert page.content.count(b"?next=dashboard") == 12


def test_htmx_gets_just_the_worklist_partial_in_place(client, cohort):
    url = reverse("cases:worklist-detail", args=["results-pending"])
    response = client.get(url, headers=HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="wl-results-pending"')
    assert "<html" not in html
    panel = client.get(reverse("cases:worklist-panel", args=["actions"]), headers=HTMX)
    assert panel.content.decode().lstrip().startswith('<section id="wl-actions"')
    # Without htmx the refresh link is a plain link back to the dashboard.
    plain = client.get(reverse("cases:worklist-panel", args=["actions"]))
    assert plain.status_code == 302


def test_an_unknown_worklist_is_a_404(client, coordinator):
    assert client.get("/worklists/nope/").status_code == 404


def test_charts_are_accessible_pictures_with_their_numbers_and_no_inline_styles(client, cohort):
    html = client.get("/").content.decode()
    for slug, title in (("chart-cohort", "Cohort by pathway stage"),
                        ("chart-due", "Reassessments due per week")):  # fmt: skip
        figure = re.search(rf'<figure class="card chart" id="{slug}">.*?</figure>', html, re.S)
        svg = figure.group(0)
        assert 'role="img"' in svg
        assert f'<title id="{slug}-title">{title}</title>' in svg
        assert "<table>" in svg
    assert "Conversion chemotherapy: 12" in html  # the cohort chart's text alternative
    assert " style=" not in html


def test_the_due_per_week_chart_counts_open_reassessments_by_week(client, coordinator):
    today = timezone.localdate()
    for days in (0, 6, 7, 55, 56, -1):
        models.Reassessment.objects.create(case=make_case(), cycle=1,
                                      due_on=today + dt.timedelta(days=days))  # fmt: skip
    weeks = worklists.reassessments_due_by_week(today=today)
    assert [n for _start, n in weeks] == [2, 1, 0, 0, 0, 0, 0, 1]


def test_a_role_without_clinical_access_sees_no_patients(client):
    client.force_login(make_user("admin"))
    make_case()
    response = client.get("/")
    assert response.status_code == 200
    assert b"does not see patient records" in response.content
    assert client.get("/worklists/actions/").status_code == 403


def test_an_auditor_sees_the_worklists_but_no_list_buttons(client, cohort):
    client.force_login(make_user("auditor"))
    html = client.get("/").content.decode()
    assert "Ready to list for the next meeting" in html
    assert "List TB" not in html


def test_listing_a_ready_case_from_the_dashboard(client, cohort):
    today = timezone.localdate()
    case = worklists.meeting_ready(cohort, today=today).first()
    response = client.post(
        reverse("cases:agenda-item-add", args=[case.pk]),
        {"meeting": cohort.pk, "next": "/"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/"
    assert f"{case.reference} listed as item 1".encode() in response.content
    assert not worklists.meeting_ready(cohort, today=today).filter(pk=case.pk).exists()


def test_listing_an_incomplete_case_asks_for_a_reason(client, cohort):
    case = worklists.meeting_incomplete(cohort, today=timezone.localdate()).first()
    url = reverse("cases:agenda-item-add", args=[case.pk])
    page = client.get(url)
    assert b"The minimum dataset is incomplete" in page.content
    assert b"ECOG performance status" in page.content
    refused = client.post(url, {"meeting": cohort.pk})
    assert refused.status_code == 422
    assert b"Give a reason to list the case without them." in refused.content
    assert not models.AgendaItem.objects.filter(case=case).exists()
    client.post(url, {"meeting": cohort.pk, "incomplete_reason": "Bleeding: needs decision"})
    item = models.AgendaItem.objects.get(case=case)
    assert item.incomplete_reason == "Bleeding: needs decision"


def test_listing_never_redirects_off_site(client, cohort):
    case = worklists.meeting_ready(cohort, today=timezone.localdate()).first()
    response = client.post(
        reverse("cases:agenda-item-add", args=[case.pk]),
        {"meeting": cohort.pk, "next": "https://evil.example/"},
    )
    assert response["Location"] == reverse("cases:case-detail", args=[case.pk])


def dashboard_queries(client, urls):
    counts = {}
    for url, headers in urls:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, headers=headers)
        assert response.status_code == 200, url
        counts[url, bool(headers)] = len(queries)
    return counts


def test_every_dashboard_page_and_partial_runs_a_fixed_number_of_queries(client, coordinator):
    today = timezone.localdate()
    upcoming_meeting(make_user("chair"))
    owner = make_user("clinician")
    urls = [("/", {}), ("/cases/", {}), ("/cases/?q=family&stage=conversion", HTMX)]
    for spec in worklists.WORKLISTS:
        urls += [
            (reverse("cases:worklist-detail", args=[spec.slug]), {}),
            (reverse("cases:worklist-detail", args=[spec.slug]), HTMX),
            (reverse("cases:worklist-panel", args=[spec.slug]), HTMX),
        ]
    populate(10, today=today, owner=owner)
    small = dashboard_queries(client, urls)
    populate(190, today=today, owner=owner)
    large = dashboard_queries(client, urls)
    assert small == large
    assert small["/", False] < 30


def test_the_benchmark_baseline_page_exists_only_when_switched_on(settings):
    from cases.ops.bench import benchmark_urlpatterns

    settings.DEBUG, settings.BENCHMARK_VIEWS = False, False
    assert benchmark_urlpatterns(settings) == []
    settings.BENCHMARK_VIEWS = True
    assert [p.name for p in benchmark_urlpatterns(settings)] == ["bench-ok"]
