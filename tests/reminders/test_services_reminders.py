"""Reminders follow the facts: created with them, moved with them, cancelled when they go."""

from __future__ import annotations

import datetime as dt
import threading
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from cases import models
from cases.reminders.planning import (
    reminder_retry,
    reminders_sync_for_case,
    reminders_sync_for_cases,
    send_time,
)
from tests.conftest import make_case, make_user

LONDON = ZoneInfo("Europe/London")
K = models.ReminderKind
S = models.ReminderState
NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=LONDON)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]


@pytest.fixture
def team(db):
    return {
        "clinician": make_user("clinician", username="onc"),
        "coordinator": make_user("coordinator", username="coord"),
    }


@pytest.fixture
def case(team):
    return make_case(responsible_clinician=team["clinician"], coordinator=team["coordinator"])


def at_eight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, 8, tzinfo=LONDON)


def live(case, kind=None):
    rows = models.Reminder.objects.filter(case=case, state__in=[S.PENDING, S.SENDING])
    return rows.filter(kind=kind) if kind else rows


def sync(case) -> None:
    reminders_sync_for_case(case_id=case.pk)


def reassessment(case, due_on=dt.date(2026, 4, 30), **fields):
    return models.Reassessment.objects.create(case=case, cycle=1, due_on=due_on, **fields)


def bev_dose(case, given_on):
    course, _ = models.TreatmentCourse.objects.get_or_create(
        case=case, defaults={"started_on": dt.date(2026, 1, 5), "agents": ["bevacizumab"]}
    )
    models.AgentAdministration.objects.create(course=course, agent="bevacizumab", given_on=given_on)


# --- Reassessment --------------------------------------------------------------------------


def test_it_reminds_to_book_imaging_two_weeks_ahead_and_that_the_reassessment_is_due(case, team):
    reassessment(case)
    sync(case)

    imaging = live(case, K.REIMAGING_DUE).get()
    assert imaging.due_at == at_eight(dt.date(2026, 4, 16))
    assert imaging.event_on == dt.date(2026, 4, 30)
    assert imaging.recipients == ["onc@hospital.invalid", "coord@hospital.invalid"]
    due = live(case, K.REASSESSMENT_DUE).get()
    assert due.due_at == at_eight(dt.date(2026, 4, 30))


def test_the_lead_time_is_a_setting(case, settings):
    settings.REMINDER_REIMAGING_LEAD_DAYS = 7
    reassessment(case)
    sync(case)
    assert live(case, K.REIMAGING_DUE).get().due_at == at_eight(dt.date(2026, 4, 23))


def test_booking_the_scan_cancels_the_reimaging_reminder_and_unbooking_restores_it(case):
    r = reassessment(case)
    sync(case)
    r.imaging_booked_for = dt.date(2026, 4, 28)
    r.save()
    sync(case)

    cancelled = models.Reminder.objects.get(case=case, kind=K.REIMAGING_DUE)
    assert cancelled.state == S.CANCELLED
    assert cancelled.cancelled_at == timezone.now()
    assert live(case, K.REASSESSMENT_DUE).count() == 1

    r.imaging_booked_for = None
    r.save()
    sync(case)
    assert models.Reminder.objects.get(case=case, kind=K.REIMAGING_DUE).state == S.PENDING


def test_moving_the_due_date_replaces_the_reminders_and_reassessing_cancels_them(case):
    r = reassessment(case)
    sync(case)
    r.due_on = dt.date(2026, 5, 7)
    r.save()
    sync(case)
    assert [x.event_on for x in live(case)] == [dt.date(2026, 5, 7)] * 2
    assert models.Reminder.objects.filter(case=case, state=S.CANCELLED).count() == 2

    r.imaging_performed_on = dt.date(2026, 5, 5)
    r.reassessed_on = dt.date(2026, 5, 6)
    r.save()
    sync(case)
    assert not live(case).exists()


def test_it_is_idempotent_and_never_duplicates(case):
    reassessment(case)
    sync(case)
    first = set(models.Reminder.objects.values_list("id", "due_at", "state"))
    sync(case)
    sync(case)
    assert set(models.Reminder.objects.values_list("id", "due_at", "state")) == first


def test_a_reminder_made_after_its_send_time_keeps_its_due_time_on_the_next_sync(case):
    """It is due at once (the sync's clock); its row is written a moment later. The next sync
    must not move its due time to that moment (the 10,000-patient backfill updated 2,545 rows
    on a second run that had nothing to change)."""
    reassessment(case, due_on=NOW.date() + dt.timedelta(days=3))  # its send time has passed
    sync(case)
    row = live(case, K.REIMAGING_DUE).get()
    assert row.due_at == NOW
    # As when the INSERT ran a little after the sync read the clock (auto_now_add).
    models.Reminder.objects.filter(pk=row.pk).update(
        created_at=row.created_at + dt.timedelta(milliseconds=40)
    )
    assert reminders_sync_for_cases(case_ids=[case.pk]).updated == 0
    assert live(case, K.REIMAGING_DUE).get().due_at == NOW


def test_it_leaves_sent_reminders_as_history(case):
    reassessment(case)
    sync(case)
    live(case, K.REIMAGING_DUE).update(state=S.SENT, sent_at=timezone.now())
    models.Reassessment.objects.update(imaging_booked_for=dt.date(2026, 4, 29))
    sync(case)
    assert models.Reminder.objects.get(kind=K.REIMAGING_DUE).state == S.SENT


# --- Bevacizumab -----------------------------------------------------------------------------


def plan_surgery(case, planned_on, **fields):
    fields.setdefault("kind", models.SurgeryKind.ONE_STAGE_HEPATECTOMY)
    return models.Surgery.objects.create(case=case, planned_on=planned_on, **fields)


def test_it_reminds_when_the_bevacizumab_interval_ends_before_planned_surgery(case):
    bev_dose(case, dt.date(2026, 2, 20))
    plan_surgery(case, dt.date(2026, 4, 10))
    sync(case)

    ends = live(case, K.BEV_INTERVAL_ENDS).get()
    assert ends.event_on == dt.date(2026, 4, 3)  # 20 Feb + 42 days
    assert ends.due_at == at_eight(dt.date(2026, 4, 3))
    assert not live(case, K.BEV_INTERVAL_BREACH).exists()


def test_no_surgery_planned_means_no_bevacizumab_reminder(case):
    bev_dose(case, dt.date(2026, 2, 20))
    plan_surgery(case, dt.date(2026, 3, 1), urgency=models.Urgency.EMERGENCY)
    sync(case)
    assert not live(case).exists()


def test_surgery_planned_inside_the_interval_alerts_at_once(case):
    bev_dose(case, dt.date(2026, 2, 20))
    surgery = plan_surgery(case, dt.date(2026, 4, 2))  # one day early
    sync(case)

    alert = live(case, K.BEV_INTERVAL_BREACH).get()
    assert alert.due_at == timezone.now()
    assert alert.event_on == dt.date(2026, 4, 2)

    # Moved to the first allowed day (D1: surgery on dose + 42 days is fine): alert withdrawn.
    surgery.planned_on = dt.date(2026, 4, 3)
    surgery.save()
    sync(case)
    assert not live(case, K.BEV_INTERVAL_BREACH).exists()
    assert models.Reminder.objects.get(kind=K.BEV_INTERVAL_BREACH).state == S.CANCELLED

    # A stale date before the last dose is inside the interval too (R10 has no lower bound),
    # but that day has passed: the alert would be about an event that is over, so none is made
    # (the worklist still shows the breach).
    surgery.planned_on = dt.date(2026, 2, 10)
    surgery.save()
    sync(case)
    assert not live(case, K.BEV_INTERVAL_BREACH).exists()


def test_an_alert_keeps_its_first_due_time_across_syncs(case):
    bev_dose(case, dt.date(2026, 2, 20))
    plan_surgery(case, dt.date(2026, 4, 1))
    sync(case)
    with time_machine.travel(NOW + dt.timedelta(minutes=5), tick=False):
        sync(case)
    assert live(case, K.BEV_INTERVAL_BREACH).get().due_at == NOW


def test_moving_surgery_after_an_alert_was_sent_alerts_again(case):
    bev_dose(case, dt.date(2026, 2, 20))
    surgery = plan_surgery(case, dt.date(2026, 3, 25))
    sync(case)
    live(case, K.BEV_INTERVAL_BREACH).update(state=S.SENT, sent_at=timezone.now())

    surgery.planned_on = dt.date(2026, 3, 30)  # still inside the interval
    surgery.save()
    sync(case)
    assert live(case, K.BEV_INTERVAL_BREACH).get().event_on == dt.date(2026, 3, 30)
    assert models.Reminder.objects.filter(kind=K.BEV_INTERVAL_BREACH).count() == 2


def test_a_new_dose_moves_the_interval_end(case):
    bev_dose(case, dt.date(2026, 2, 20))
    plan_surgery(case, dt.date(2026, 5, 1))
    sync(case)
    bev_dose(case, dt.date(2026, 3, 1))
    sync(case)
    assert live(case, K.BEV_INTERVAL_ENDS).get().event_on == dt.date(2026, 4, 12)


# --- SCRT, results, actions ------------------------------------------------------------------


def test_it_warns_before_the_scrt_window_for_primary_surgery_closes(case, settings):
    models.Radiotherapy.objects.create(
        case=case,
        kind=models.PelvicRadiotherapy.SHORT_COURSE_5X5,
        started_on=dt.date(2026, 2, 23),
        completed_on=dt.date(2026, 2, 27),
    )
    sync(case)
    closing = live(case, K.SCRT_WINDOW_CLOSING).get()
    assert closing.event_on == dt.date(2026, 8, 27)  # + 6 calendar months
    assert closing.due_at == at_eight(dt.date(2026, 8, 27) - dt.timedelta(days=49))

    plan_surgery(
        case,
        dt.date(2026, 6, 1),
        kind=models.SurgeryKind.PRIMARY_RESECTION,
        performed_on=dt.date(2026, 6, 1),
    )
    sync(case)
    assert not live(case, K.SCRT_WINDOW_CLOSING).exists()


def test_a_pending_result_is_chased_after_14_days_and_cancelled_when_it_arrives(case):
    result = models.MolecularResult.objects.create(
        case=case, marker="kras", status="pending", requested_on=dt.date(2026, 2, 25)
    )
    sync(case)
    chase = live(case, K.RESULT_OUTSTANDING).get()
    # Pending more than 14 days: day 15, the day the dashboard lists it too.
    assert chase.due_at == at_eight(dt.date(2026, 3, 12))

    result.status, result.reported_on = "mutant", dt.date(2026, 3, 5)
    result.save()
    sync(case)
    assert not live(case).exists()


def test_an_action_reminds_its_owner_when_due_and_the_coordinator_when_overdue(case, team):
    owner = make_user("clinician", username="hpb")
    action = models.Action.objects.create(
        case=case, description="Book PVE", owner=owner, due_on=dt.date(2026, 3, 9)
    )
    sync(case)
    due = live(case, K.ACTION_DUE).get()
    assert (due.recipients, due.due_at) == (["hpb@hospital.invalid"], at_eight(action.due_on))
    overdue = live(case, K.ACTION_OVERDUE).get()
    assert overdue.recipients == ["coord@hospital.invalid"]
    assert overdue.due_at == at_eight(dt.date(2026, 3, 10))

    # Handed to someone else: the new owner gets their own reminder.
    action.owner = team["clinician"]
    action.save()
    sync(case)
    assert live(case, K.ACTION_DUE).get().recipients == ["onc@hospital.invalid"]

    action.status, action.completed_at = models.ActionStatus.DONE, timezone.now()
    action.save()
    sync(case)
    assert not live(case).exists()


def test_leaving_the_pathway_cancels_everything_pending(case):
    reassessment(case)
    sync(case)
    models.Case.objects.filter(pk=case.pk).update(
        stage=models.Stage.LEFT_PATHWAY, exit_reason="palliative"
    )
    sync(case)
    assert not live(case).exists()


def test_a_case_without_a_team_falls_back_to_the_configured_mailbox(settings):
    settings.REMINDER_FALLBACK_EMAIL = "mdt-office@hospital.invalid"
    orphan = make_case()
    reassessment(orphan)
    sync(orphan)
    assert {tuple(r.recipients) for r in live(orphan)} == {("mdt-office@hospital.invalid",)}


def test_changing_the_responsible_clinician_updates_pending_recipients(case):
    reassessment(case)
    sync(case)
    models.Case.objects.filter(pk=case.pk).update(responsible_clinician=None)
    sync(case)
    assert {tuple(r.recipients) for r in live(case)} == {("coord@hospital.invalid",)}


def test_send_time_is_eight_oclock_london_in_winter_and_summer():
    assert send_time(dt.date(2026, 1, 15)).astimezone(dt.UTC).hour == 8
    assert send_time(dt.date(2026, 7, 15)).astimezone(dt.UTC).hour == 7


def test_a_bulk_sync_uses_a_fixed_number_of_queries(team, django_assert_max_num_queries):
    cases = [make_case(coordinator=team["coordinator"]) for _ in range(30)]
    for c in cases:
        reassessment(c)
        models.MolecularResult.objects.create(
            case=c, marker="kras", status="pending", requested_on=dt.date(2026, 2, 25)
        )
    with django_assert_max_num_queries(14):
        counts = reminders_sync_for_cases(case_ids=[c.pk for c in cases])
    assert counts.created == 90


# --- Retry from the reminder log -------------------------------------------------------------


def test_retry_requeues_a_failed_reminder_with_fresh_recipients(case, team):
    reassessment(case)
    sync(case)
    reminder = live(case, K.REASSESSMENT_DUE).get()
    models.Reminder.objects.filter(pk=reminder.pk).update(
        state=S.FAILED, recipients=["old@hospital.invalid"], last_error="550 no such user"
    )
    assert reminder_retry(user=team["coordinator"], reminder_id=reminder.pk) == "queued"
    reminder.refresh_from_db()
    assert (reminder.state, reminder.due_at, reminder.last_error) == (S.PENDING, NOW, "")
    assert reminder.recipients == ["onc@hospital.invalid", "coord@hospital.invalid"]


def test_retry_cancels_a_failed_reminder_the_facts_no_longer_imply(case, team):
    r = reassessment(case)
    sync(case)
    reminder = live(case, K.REIMAGING_DUE).get()
    models.Reminder.objects.filter(pk=reminder.pk).update(state=S.FAILED)
    r.imaging_booked_for = dt.date(2026, 4, 27)
    r.save()
    assert reminder_retry(user=team["coordinator"], reminder_id=reminder.pk) == "cancelled"


def test_only_coordinators_and_admins_may_retry(case, team):
    reassessment(case)
    sync(case)
    reminder = live(case).first()
    models.Reminder.objects.filter(pk=reminder.pk).update(state=S.FAILED)
    with pytest.raises(PermissionDenied):
        reminder_retry(user=team["clinician"], reminder_id=reminder.pk)
    assert models.Reminder.objects.get(pk=reminder.pk).state == S.FAILED


# --- Concurrency -----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_syncs_of_one_case_create_each_reminder_once(team):
    case = make_case(responsible_clinician=team["clinician"], coordinator=team["coordinator"])
    reassessment(case)
    models.MolecularResult.objects.create(
        case=case, marker="kras", status="pending", requested_on=dt.date(2026, 2, 25)
    )
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            sync(case)
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert models.Reminder.objects.count() == 3


# --- Commands --------------------------------------------------------------------------------


def test_the_demo_cohort_comes_with_its_reminders_and_a_resync_changes_nothing():
    call_command("demo_data", patients=40, seed=5, stdout=StringIO())
    assert models.Reminder.objects.filter(state=S.PENDING).exists()
    assert not models.Reminder.objects.filter(case__stage=models.Stage.LEFT_PATHWAY).exists()

    out = StringIO()
    call_command("reminders_sync", "--all", stdout=out)
    assert "0 created, 0 updated, 0 cancelled" in out.getvalue()


def test_reminders_sync_backfills_one_case_and_refuses_bad_arguments(case):
    reassessment(case)
    out = StringIO()
    call_command("reminders_sync", "--case", str(case.pk), stdout=out)
    assert "2 created" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("reminders_sync", stdout=StringIO())
    with pytest.raises(CommandError, match="no such case: 999999"):
        call_command("reminders_sync", "--case", "999999", stdout=StringIO())


def test_dispatch_once_inline_sends_what_is_due(case, mailoutbox, settings):
    settings.REMINDER_DIGEST = False
    reassessment(case, due_on=dt.date(2026, 3, 1))
    sync(case)
    out = StringIO()
    call_command("dispatch_once", "--inline", stdout=out)
    assert "Claimed 2 reminders" in out.getvalue()
    assert len(mailoutbox) == 2
    assert set(models.Reminder.objects.values_list("state", flat=True)) == {S.SENT}


def test_dispatch_once_inline_sends_one_digest_with_both(case, mailoutbox):
    reassessment(case, due_on=dt.date(2026, 3, 1))
    sync(case)
    call_command("dispatch_once", "--inline", stdout=StringIO())
    assert len(mailoutbox) == 1
    digest = models.Reminder.objects.get(kind=K.DIGEST)
    assert digest.state == S.SENT
    members = models.Reminder.objects.exclude(kind=K.DIGEST)
    assert {(m.state, m.digest_id) for m in members} == {(S.SENT, digest.pk)}
    assert "2 reminders" in mailoutbox[0].subject
