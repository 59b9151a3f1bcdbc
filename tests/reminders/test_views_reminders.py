"""The reminder log, its retry button, and the dispatch heartbeat on /healthz and every page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from cases import models
from cases.reminders.planning import reminders_sync_for_case
from cases.reminders.selectors import dispatch_status
from tests.conftest import make_case

S = models.ReminderState
K = models.ReminderKind
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
LIST = "/reminders/"

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]


@pytest.fixture
def case(users):
    return make_case(responsible_clinician=users["clinician"], coordinator=users["coordinator"])


def reminder(case, state=S.PENDING, kind=K.REASSESSMENT_DUE, due_at=NOW, **fields):
    if state == S.SENT:
        fields.setdefault("sent_at", NOW)
    if state == S.CANCELLED:
        fields.setdefault("cancelled_at", NOW)
    return models.Reminder.objects.create(
        case=case,
        kind=kind,
        state=state,
        dedupe_key=f"view:{models.Reminder.objects.count()}",
        due_at=due_at,
        event_on=dt.date(2026, 3, 16),
        recipients=["clinician@hospital.invalid"],
        **fields,
    )


def heartbeat(at):
    models.DispatchHeartbeat.objects.create(last_run_at=at)


# --- The log ---------------------------------------------------------------------------------


def test_the_coordinator_sees_every_reminder_with_its_state(client, users, case):
    reminder(case, S.SENT)
    reminder(case, S.FAILED, last_error="SMTPDataError: 554 rejected")
    reminder(case, S.CANCELLED, kind=K.REIMAGING_DUE)
    client.force_login(users["coordinator"])

    response = client.get(LIST)
    assert response.status_code == 200
    page = response.content.decode()
    assert reverse("cases:reminder-list") == LIST
    assert "3 reminders" in page
    assert "554 rejected" in page
    assert f"TB{case.pk:06d}" in page
    assert f'href="/cases/{case.pk}/"' in page
    assert "Failed: 1" in page
    assert "Retry" in page  # only failed rows carry the button


def test_it_filters_by_state_and_kind(client, users, case):
    reminder(case, S.SENT, kind=K.REIMAGING_DUE)
    reminder(case, S.SENT, kind=K.ACTION_DUE)
    reminder(case, S.PENDING, kind=K.ACTION_DUE)
    client.force_login(users["coordinator"])

    page = client.get(LIST, {"state": "sent", "kind": "action_due"}).content.decode()
    assert "1 reminder matching the filter" in page
    assert client.get(LIST, {"state": "sent"}).content.decode().count("Sent 2 Mar 2026") == 2


def test_an_unknown_filter_value_is_ignored_not_an_error(client, users, case):
    reminder(case)
    client.force_login(users["coordinator"])
    response = client.get(LIST, {"state": "exploded", "kind": "<script>", "page": "x"})
    assert response.status_code == 200
    assert "1 reminder." in response.content.decode()


def test_htmx_filtering_returns_only_the_table(client, users, case):
    reminder(case, S.FAILED)
    client.force_login(users["coordinator"])
    response = client.get(LIST, {"state": "failed"}, headers={"HX-Request": "true"})
    page = response.content.decode()
    assert page.lstrip().startswith('<section id="reminder-table"')
    assert "<html" not in page


def test_it_pages_fifty_at_a_time_with_real_links(client, users, case):
    for _ in range(51):
        reminder(case, S.SENT)
    client.force_login(users["coordinator"])
    first = client.get(LIST, {"state": "sent"}).content.decode()
    assert 'href="?state=sent&amp;page=2"' in first
    second = client.get(LIST, {"state": "sent", "page": 2}).content.decode()
    assert second.count("Sent 2 Mar 2026") == 1


@pytest.mark.parametrize("role", ["clinician", "chair", "auditor"])
def test_other_roles_may_not_see_the_log(client, users, role):
    client.force_login(users[role])
    assert client.get(LIST).status_code == 403


def test_signed_out_users_go_to_the_login_page(client):
    response = client.get(LIST)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


# --- Retry -----------------------------------------------------------------------------------


def test_retry_puts_a_failed_reminder_back_in_the_queue(client, users, case):
    models.Reassessment.objects.create(case=case, cycle=1, due_on=dt.date(2026, 3, 16))
    reminders_sync_for_case(case_id=case.pk)
    failed = models.Reminder.objects.get(kind=K.REASSESSMENT_DUE)
    models.Reminder.objects.filter(pk=failed.pk).update(state=S.FAILED, last_error="550")
    assert dispatch_status().failed == 1
    client.force_login(users["coordinator"])

    response = client.post(reverse("cases:reminder-retry", args=[failed.pk]), {"state": "failed"})
    assert response.status_code == 302
    assert response["Location"] == f"{LIST}?state=failed"
    failed.refresh_from_db()
    assert (failed.state, failed.due_at) == (S.PENDING, timezone.now())
    assert dispatch_status().failed == 0
    page = client.get(response["Location"]).content.decode()
    assert "will be sent again" in page


def test_retry_needs_post_and_the_capability(client, users, case):
    failed = reminder(case, S.FAILED)
    url = reverse("cases:reminder-retry", args=[failed.pk])
    client.force_login(users["coordinator"])
    assert client.get(url).status_code == 405
    client.force_login(users["clinician"])
    assert client.post(url).status_code == 403
    assert models.Reminder.objects.get(pk=failed.pk).state == S.FAILED


def test_retrying_something_not_failed_changes_nothing(client, users, case):
    sent = reminder(case, S.SENT)
    client.force_login(users["coordinator"])
    response = client.post(reverse("cases:reminder-retry", args=[sent.pk]), follow=True)
    assert "nothing was changed" in response.content.decode()
    assert models.Reminder.objects.get(pk=sent.pk).state == S.SENT
    missing = client.post(reverse("cases:reminder-retry", args=[999999]), follow=True)
    assert missing.status_code == 200


# --- Heartbeat: /healthz and the banner ------------------------------------------------------


def test_healthz_reports_dispatch_ok_while_it_runs(client):
    heartbeat(NOW - dt.timedelta(seconds=170))
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["dispatch"] == "ok"


def test_healthz_is_503_when_dispatch_has_not_run_for_three_minutes(client):
    heartbeat(NOW - dt.timedelta(seconds=181))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "down"
    assert response.json()["dispatch"] == "stale"


def test_a_fresh_install_is_healthy_until_a_reminder_waits_too_long(client, case):
    reminder(case, due_at=NOW - dt.timedelta(minutes=2))
    assert client.get("/healthz").json()["dispatch"] == "ok"
    reminder(case, due_at=NOW - dt.timedelta(minutes=4))
    assert client.get("/healthz").status_code == 503


def test_every_staff_page_shows_a_banner_when_dispatch_is_stale(client, users):
    client.force_login(users["clinician"])
    heartbeat(NOW - dt.timedelta(minutes=10))
    page = client.get("/").content.decode()
    assert 'id="dispatch-banner"' in page
    assert "last ran 10\xa0minutes ago" in page

    models.DispatchHeartbeat.objects.update(last_run_at=NOW)
    assert 'id="dispatch-banner"' not in client.get("/").content.decode()


def test_the_login_page_has_no_banner_and_no_query_for_it(client, django_assert_num_queries):
    heartbeat(NOW - dt.timedelta(minutes=10))
    with django_assert_num_queries(0):
        page = client.get("/login/").content.decode()
    assert 'id="dispatch-banner"' not in page


def test_the_nav_links_to_the_log_for_coordinators_only(client, users):
    client.force_login(users["coordinator"])
    assert f'href="{LIST}"' in client.get("/").content.decode()
    client.force_login(users["clinician"])
    assert f'href="{LIST}"' not in client.get("/").content.decode()


def test_the_dashboard_shows_failed_reminders_with_a_link_to_them(client, users, case):
    client.force_login(users["coordinator"])
    assert 'id="failed-reminders"' not in client.get("/").content.decode()
    models.Reminder.objects.create(
        kind="reimaging_due", case=case, dedupe_key="failed-1", due_at=timezone.now(),
        state="failed", attempts=8, last_error="550 mailbox unavailable",
    )  # fmt: skip
    html = client.get("/").content.decode()
    assert "1 reminder email could not be sent." in html
    assert "/reminders/?state=failed" in html
