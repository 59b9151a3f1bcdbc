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


def reminder(case, state=S.PENDING, kind=K.REASSESSMENT_DUE, due_at=NOW, key=None, **fields):
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
    assert page.count("<tr>") == 4  # the header and three rows
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
    assert "matching the filter" in page
    assert page.count("Sent 2 Mar 2026") == 1
    assert client.get(LIST, {"state": "sent"}).content.decode().count("Sent 2 Mar 2026") == 2


def test_an_unknown_filter_value_is_ignored_not_an_error(client, users, case):
    reminder(case)
    client.force_login(users["coordinator"])
    response = client.get(LIST, {"state": "exploded", "kind": "<script>", "after": "x_y"})
    assert response.status_code == 200
    assert response.content.decode().count("<tr>") == 2


def test_htmx_filtering_returns_only_the_table(client, users, case):
    reminder(case, S.FAILED)
    client.force_login(users["coordinator"])
    response = client.get(LIST, {"state": "failed"}, headers={"HX-Request": "true"})
    page = response.content.decode()
    assert page.lstrip().startswith('<section id="reminder-table"')
    assert "<html" not in page


def test_it_pages_fifty_at_a_time_newest_first_by_keyset(client, users, case):
    rows = [reminder(case, S.SENT, due_at=NOW - dt.timedelta(hours=n)) for n in range(51)]
    rows.append(reminder(case, S.SENT, due_at=rows[49].due_at))  # a tie on due_at
    client.force_login(users["coordinator"])
    first = client.get(LIST, {"state": "sent"}).content.decode()
    assert first.count("Sent 2 Mar 2026") == 50
    last_on_page = rows[49] if rows[49].pk > rows[51].pk else rows[51]
    cursor = f"{last_on_page.due_at.isoformat()}_{last_on_page.pk}"
    assert f'href="?state=sent&amp;after={cursor.replace(":", "%3A").replace("+", "%2B")}"' in first
    second = client.get(LIST, {"state": "sent", "after": cursor}).content.decode()
    assert second.count("Sent 2 Mar 2026") == 2  # the tie's other row, and the oldest
    assert "Older" not in second
    assert 'href="?state=sent"' in second  # back to the newest


@pytest.mark.parametrize("role", ["clinician", "chair", "auditor"])
def test_other_roles_may_not_see_the_log(client, users, role):
    client.force_login(users[role])
    assert client.get(LIST).status_code == 403


def test_signed_out_users_go_to_the_login_page(client):
    response = client.get(LIST)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_an_expired_reminder_says_why_and_each_attempt_shows_its_error(client, users, case):
    expired = reminder(
        case, S.EXPIRED, kind=K.REIMAGING_DUE, expired_at=NOW, expires_on=dt.date(2026, 3, 23)
    )
    failed = reminder(case, S.FAILED, attempts=2, last_error="SMTPDataError: 550 no")
    for number, error in ((1, "451 later"), (2, "550 no")):
        models.ReminderAttempt.objects.create(
            reminder=failed, number=number, claim_token=f"{number:032x}",
            message_id=f"<m{number}>", outcome="failed", error=error, started_at=NOW,
        )  # fmt: skip
    client.force_login(users["coordinator"])
    page = client.get(LIST).content.decode()
    assert "Expired 2 Mar 2026" in page
    assert "more than 7 days overdue (last day to send 23 Mar 2026)" in page
    assert "2 attempts" in page
    assert "451 later" in page
    assert "550 no" in page
    assert expired.pk  # listed


def test_the_log_runs_a_fixed_number_of_queries_at_any_depth(
    client, users, case, django_assert_max_num_queries
):
    for n in range(120):
        reminder(case, S.SENT, due_at=NOW - dt.timedelta(hours=n))
    client.force_login(users["coordinator"])
    client.get(LIST)
    last = models.Reminder.objects.order_by("due_at").first()
    with django_assert_max_num_queries(12):
        client.get(LIST, {"after": f"{last.due_at.isoformat()}_{last.pk + 1}"})


# --- Cancel ----------------------------------------------------------------------------------


def test_the_coordinator_cancels_a_pending_reminder_and_it_is_audited(client, users, case):
    pending = reminder(case, S.PENDING)
    client.force_login(users["coordinator"])
    response = client.post(reverse("cases:reminder-cancel", args=[pending.pk]), follow=True)
    assert "will not be sent" in response.content.decode()
    pending.refresh_from_db()
    assert pending.state == S.CANCELLED
    event = models.Reminder.pgh_event_model.objects.filter(pgh_obj_id=pending.pk).last()
    assert event.state == S.CANCELLED
    assert event.pgh_context["user"] == users["coordinator"].pk


def test_cancel_needs_post_and_the_capability_and_leaves_sent_ones(client, users, case):
    sent = reminder(case, S.SENT)
    url = reverse("cases:reminder-cancel", args=[sent.pk])
    client.force_login(users["clinician"])
    assert client.post(url).status_code == 403
    client.force_login(users["coordinator"])
    assert client.get(url).status_code == 405
    assert "nothing was changed" in client.post(url, follow=True).content.decode()
    assert models.Reminder.objects.get(pk=sent.pk).state == S.SENT


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


def test_the_dashboard_counts_reminders_expired_unsent_this_week(client, users, case):
    client.force_login(users["coordinator"])
    assert 'id="expired-reminders"' not in client.get("/").content.decode()
    for n, days_ago in enumerate((0, 6, 8)):
        reminder(case, S.EXPIRED, expired_at=NOW - dt.timedelta(days=days_ago), key=n)
    html = client.get("/").content.decode()
    assert "2 reminders expired unsent this week" in html
    assert "/reminders/?state=expired" in html
