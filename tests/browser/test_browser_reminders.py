"""The reminder log in a real browser: filtering swaps the table in place and keeps the URL."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from django.utils import timezone

from cases import models
from cases.reminders.planning import reminders_sync_for_case
from tests.browser.conftest import sign_in
from tests.conftest import make_case, make_user

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_coordinator_filters_the_log_and_retries_a_failed_reminder(page):
    coordinator = make_user("coordinator", username="coord")
    case = make_case(coordinator=coordinator)
    models.Reassessment.objects.create(case=case, cycle=1, due_on=timezone.localdate())
    reminders_sync_for_case(case_id=case.pk)
    failed = models.Reminder.objects.get(kind=models.ReminderKind.REIMAGING_DUE)
    models.Reminder.objects.filter(pk=failed.pk).update(
        state=models.ReminderState.FAILED, last_error="SMTPDataError: 554 rejected", attempts=8
    )
    models.DispatchHeartbeat.objects.create(last_run_at=timezone.now() - dt.timedelta(minutes=7))

    sign_in(page, "coord")
    page.get_by_role("link", name="Reminders", exact=True).click()
    assert page.locator("#dispatch-banner").is_visible()
    assert page.locator("#reminder-table tbody tr").count() == 2

    page.get_by_label("State", exact=True).select_option("failed")
    page.wait_for_url("**/reminders/?state=failed*")
    page.locator("#reminder-table tbody tr").first.wait_for()
    assert page.locator("#reminder-table tbody tr").count() == 1
    assert "554 rejected" in page.locator("#reminder-table").inner_text()
    if shots := os.environ.get("TUMOURBOARD_SCREENSHOTS"):  # a folder, as in the other tests
        Path(shots).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{shots}/reminder-log.png", full_page=True)

    page.get_by_role("button", name="Retry").click()
    page.get_by_text("will be sent again").wait_for()
    assert models.Reminder.objects.get(pk=failed.pk).state == models.ReminderState.PENDING
