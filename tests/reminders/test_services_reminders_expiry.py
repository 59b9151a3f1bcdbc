"""Expiry, lateness and the daily digest, in process.

Each expiry rule is checked at its boundary: on its last day the reminder is still made and
sent; the next day it is not made, and a pending one becomes EXPIRED unsent.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from email import message_from_bytes, policy
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail

from cases import models
from cases.reminders import dispatch, planning
from tests.celery_harness import BASE_DIR
from tests.conftest import make_case, make_user

LONDON = ZoneInfo("Europe/London")
K = models.ReminderKind
S = models.ReminderState
NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=LONDON)
EVENT = dt.date(2026, 3, 2)

pytestmark = [pytest.mark.django_db]

TEAM = ("onc@hospital.invalid", "coord@hospital.invalid")


def facts(**fields) -> planning.CaseFacts:
    return planning.CaseFacts(
        case_id=1, stage="referred", team=TEAM, coordinator=TEAM[1:], **fields
    )


# (kind, facts whose reminder of that kind is about EVENT, days of grace after EVENT by default)
RULES = [
    (K.REIMAGING_DUE, lambda: facts(open_reassessments=[_reassessment()]), 7),
    (K.REASSESSMENT_DUE, lambda: facts(open_reassessments=[_reassessment()]), 14),
    (K.RESULT_OUTSTANDING, lambda: facts(pending_results=[_result()]), 28),
    (K.ACTION_DUE, lambda: facts(open_actions=[_action()]), 14),
    (K.ACTION_OVERDUE, lambda: facts(open_actions=[_action()]), 1 + 14),
    (K.BEV_INTERVAL_ENDS, lambda: facts(last_bev_dose=EVENT - dt.timedelta(days=42),
                                        surgeries=[_surgery(EVENT + dt.timedelta(days=30))]), 0),
    (K.BEV_INTERVAL_BREACH, lambda: facts(last_bev_dose=EVENT - dt.timedelta(days=10),
                                          surgeries=[_surgery(EVENT)]), 0),
    (K.SCRT_WINDOW_CLOSING, lambda: facts(last_scrt=dt.date(2025, 9, 2)), 0),
]  # fmt: skip


def _reassessment():
    return {"id": 1, "due_on": EVENT, "imaging_booked_for": None, "imaging_performed_on": None}


def _result():
    chase = dt.timedelta(days=14 + 1)  # RESULT_CHASE_DAYS (the engine's default) + 1
    return {"marker": "kras", "requested_on": EVENT - chase}


def _action():
    return {"id": 1, "due_on": EVENT, "owner_id": 1, "owner__email": "owner@hospital.invalid"}


def _surgery(planned_on):
    return {"id": 1, "kind": "liver_resection", "urgency": "elective", "planned_on": planned_on,
            "performed_on": None, "cancelled_on": None}  # fmt: skip


@pytest.mark.parametrize(("kind", "make_facts", "grace"), RULES, ids=[r[0] for r in RULES])
def test_each_kind_is_made_on_its_last_day_and_not_the_day_after(kind, make_facts, grace):
    wanted = [w for w in planning.reminders_implied(make_facts()) if w.kind == kind]
    assert len(wanted) == 1
    w = wanted[0]
    assert w.expires_on == w.event_on + dt.timedelta(days=grace)
    assert planning.expires_on(kind, w.event_on) == w.expires_on


@pytest.mark.parametrize(("kind", "make_facts", "grace"), RULES, ids=[r[0] for r in RULES])
def test_each_kind_is_sent_on_its_last_day_and_expires_the_day_after(
    kind, make_facts, grace, django_capture_on_commit_callbacks, settings
):
    settings.REMINDER_DIGEST = False
    case = make_case(responsible_clinician=make_user("clinician"))
    last_day = EVENT + dt.timedelta(days=grace)
    rows = [
        models.Reminder.objects.create(
            case=case, kind=kind, dedupe_key=f"{kind}:{n}", event_on=EVENT,
            expires_on=planning.expires_on(kind, EVENT), recipients=list(TEAM),
            due_at=dt.datetime(2026, 2, 1, 8, tzinfo=LONDON),
        )
        for n in range(2)
    ]  # fmt: skip
    assert rows[0].expires_on == last_day

    def run(day: dt.date) -> list[str]:
        with time_machine.travel(dt.datetime.combine(day, dt.time(23, 0), LONDON), tick=False):
            queued: list[int] = []
            with django_capture_on_commit_callbacks(execute=True):
                dispatch.reminders_dispatch_due(enqueue=queued.extend, limit=1)
            return [dispatch.reminder_send(reminder_id=i) for i in queued]

    assert run(last_day) == ["sent"]  # the last day: sent
    assert run(last_day + dt.timedelta(days=1)) == []  # the first day after: expired, not sent
    rows[1].refresh_from_db()
    assert rows[1].state == S.EXPIRED
    assert rows[1].expired_at is not None
    assert len(mail.outbox) == 1
    reason = planning.expiry_reason(kind, rows[1].event_on, rows[1].expires_on)
    assert f"{last_day:%-d %b %Y}" in reason


def test_the_sync_never_makes_a_reminder_whose_event_is_over_and_expires_pending_ones():
    case = make_case(responsible_clinician=make_user("clinician"))
    with time_machine.travel(NOW, tick=False):
        models.Reassessment.objects.create(case=case, cycle=1, due_on=EVENT)
        planning.reminders_sync_for_case(case_id=case.pk)
    kinds = dict(models.Reminder.objects.values_list("kind", "state"))
    assert kinds == {K.REIMAGING_DUE: S.PENDING, K.REASSESSMENT_DUE: S.PENDING}
    # Eight days on: the re-imaging reminder's last day (due + 7) has passed.
    with time_machine.travel(NOW + dt.timedelta(days=8), tick=False):
        planning.reminders_sync_for_case(case_id=case.pk)
    kinds = dict(models.Reminder.objects.values_list("kind", "state"))
    assert kinds == {K.REIMAGING_DUE: S.EXPIRED, K.REASSESSMENT_DUE: S.PENDING}
    # A reassessment entered 70 days overdue makes neither reminder.
    late_case = make_case(responsible_clinician=make_user("clinician"))
    with time_machine.travel(NOW, tick=False):
        models.Reassessment.objects.create(
            case=late_case, cycle=1, due_on=EVENT - dt.timedelta(days=70)
        )
        planning.reminders_sync_for_case(case_id=late_case.pk)
    assert not models.Reminder.objects.filter(case=late_case).exists()


def test_a_reminder_made_after_its_send_time_is_due_when_made_not_back_dated():
    case = make_case(responsible_clinician=make_user("clinician"))
    with time_machine.travel(NOW, tick=False):
        models.Reassessment.objects.create(case=case, cycle=1, due_on=EVENT - dt.timedelta(days=3))
        planning.reminders_sync_for_case(case_id=case.pk)
        assert set(models.Reminder.objects.values_list("due_at", flat=True)) == {NOW}
        planning.reminders_sync_for_case(case_id=case.pk)  # a resync does not back-date it
        assert set(models.Reminder.objects.values_list("due_at", flat=True)) == {NOW}


# --- Late --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("hours", "notice"), [(24, ""), (25, "1 day late"), (74, "3 days late")])
def test_a_reminder_sent_more_than_a_day_late_says_so(
    hours, notice, django_capture_on_commit_callbacks, settings
):
    settings.REMINDER_DIGEST = False
    case = make_case(responsible_clinician=make_user("clinician"))
    due = dt.datetime(2026, 3, 2, 8, tzinfo=LONDON)
    models.Reminder.objects.create(
        case=case, kind=K.REASSESSMENT_DUE, dedupe_key="late", event_on=EVENT,
        expires_on=EVENT + dt.timedelta(days=14), recipients=list(TEAM), due_at=due,
    )  # fmt: skip
    with time_machine.travel(due + dt.timedelta(hours=hours), tick=False):
        queued: list[int] = []
        with django_capture_on_commit_callbacks(execute=True):
            dispatch.reminders_dispatch_due(enqueue=queued.extend)
        assert [dispatch.reminder_send(reminder_id=i) for i in queued] == ["sent"]
    email = mail.outbox[0]
    html = email.alternatives[0].content
    if notice:
        for text in (email.subject, email.body, html):
            assert f"this reminder is {notice}" in text
    else:
        for text in (email.subject, email.body, html):
            assert "late" not in text


# --- Digest ----------------------------------------------------------------------------------


def _due(case, kind, key, event_on=EVENT, recipients=TEAM):
    return models.Reminder.objects.create(
        case=case, kind=kind, dedupe_key=key, event_on=event_on,
        expires_on=planning.expires_on(kind, event_on), recipients=list(recipients),
        due_at=NOW - dt.timedelta(minutes=5),
    )  # fmt: skip


def test_non_urgent_reminders_go_in_one_digest_per_recipient_list_and_urgent_ones_at_once(
    django_capture_on_commit_callbacks,
):
    a = make_case(responsible_clinician=make_user("clinician"))
    b = make_case(responsible_clinician=make_user("clinician"))
    members = [
        _due(a, K.REASSESSMENT_DUE, "a1"),
        _due(a, K.RESULT_OUTSTANDING, "a2"),
        _due(b, K.REASSESSMENT_DUE, "b1"),
        _due(b, K.SCRT_WINDOW_CLOSING, "b2", event_on=EVENT + dt.timedelta(days=40)),
    ]
    breach = _due(a, K.BEV_INTERVAL_BREACH, "a3", event_on=EVENT + dt.timedelta(days=3))
    closing = _due(b, K.SCRT_WINDOW_CLOSING, "b3", event_on=EVENT + dt.timedelta(days=14))
    other = _due(b, K.ACTION_DUE, "b4", recipients=("owner@hospital.invalid",))
    with time_machine.travel(NOW, tick=False):
        queued: list[int] = []
        with django_capture_on_commit_callbacks(execute=True):
            dispatch.reminders_dispatch_due(enqueue=queued.extend)
        outcomes = [dispatch.reminder_send(reminder_id=i) for i in queued]
    assert outcomes == ["sent"] * 4  # two urgent alerts, two digests
    digests = models.Reminder.objects.filter(kind=K.DIGEST)
    assert digests.count() == 2
    team_digest = digests.get(recipients=list(TEAM))
    for m in members:
        m.refresh_from_db()
        assert (m.state, m.digest_id) == (S.SENT, team_digest.pk)
    for alert in (breach, closing):
        alert.refresh_from_db()
        assert (alert.state, alert.digest_id) == (S.SENT, None)
    other.refresh_from_db()
    assert other.digest_id not in (None, team_digest.pk)

    email = next(e for e in mail.outbox if e.subject.startswith("Tumour board: daily digest, 4"))
    body = email.body
    assert body.count("Reassessment due") == 1  # grouped by kind
    for case in (a, b):
        assert case.reference in body
        assert f"/cases/{case.pk}/" in body
    assert "2 Mar 2026" in body


def test_a_second_batch_the_same_day_waits_for_the_next_digest(django_capture_on_commit_callbacks):
    case = make_case(responsible_clinician=make_user("clinician"))
    _due(case, K.REASSESSMENT_DUE, "first")

    def run():
        queued: list[int] = []
        with django_capture_on_commit_callbacks(execute=True):
            dispatch.reminders_dispatch_due(enqueue=queued.extend)
        return [dispatch.reminder_send(reminder_id=i) for i in queued]

    with time_machine.travel(NOW, tick=False):
        assert run() == ["sent"]
        later = _due(case, K.RESULT_OUTSTANDING, "later")
        assert run() == []
    later.refresh_from_db()
    assert later.state == S.PENDING
    assert later.due_at == dt.datetime(2026, 3, 3, 8, tzinfo=LONDON)
    with time_machine.travel(later.due_at, tick=False):
        assert run() == ["sent"]
    assert len(mail.outbox) == 2


# --- The demo cohort: a first start sends nothing stale ------------------------------------


def patient_identifiers(patients) -> list[re.Pattern[str]]:
    """Each patient's names, NHS number (plain and spaced), hospital number and date of birth
    in the common written forms, as patterns matched on word boundaries. A name that is also a
    word of the email templates themselves (a month, "Due") could not tell a leak from the
    template, so such names are left out of the name check."""
    template_words = {
        w.lower() for path in (BASE_DIR / "templates" / "emails").glob("*")
        for w in re.findall(r"[A-Za-z]+", path.read_text())
    } | {m.lower() for m in calendar.month_name[1:] + calendar.month_abbr[1:]} | {
        d.lower() for d in calendar.day_name
    }  # fmt: skip
    found: list[str] = []
    for p in patients:
        found += [n for n in (p.family_name, p.given_name) if n.lower() not in template_words]
        nhs = p.nhs_number
        found += [nhs, f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}", p.hospital_number]
        dob = p.date_of_birth
        found += [
            dob.isoformat(), f"{dob:%d/%m/%Y}", f"{dob:%d-%m-%Y}", f"{dob:%d.%m.%Y}",
            f"{dob:%Y%m%d}", f"{dob:%-d %b %Y}", f"{dob:%-d %B %Y}", f"{dob:%d %b %Y}",
            f"{dob:%m/%d/%Y}", f"{dob:%b %-d, %Y}",
        ]  # fmt: skip
    return [re.compile(rf"(?<![\w]){re.escape(text)}(?![\w])", re.I) for text in set(found)]


def email_texts(message) -> list[str]:
    """Subject, headers, the plain and HTML bodies, decoded."""
    parsed = message_from_bytes(message.message().as_bytes(), policy=policy.default)
    texts = [f"{name}: {value}" for name, value in parsed.items()]
    texts += [part.get_content() for part in parsed.walk() if not part.is_multipart()]
    return texts


def test_no_email_or_digest_about_the_demo_cohort_names_a_patient(
    django_capture_on_commit_callbacks,
):
    """Every email the demo cohort's reminders produce (the first start's digests and urgent
    alerts, sent; and each reminder rendered as a single email) is scanned for every patient's
    names, NHS number, hospital number and date of birth in several formats."""
    from io import StringIO

    from django.core.management import call_command

    call_command("demo_data", patients=60, seed=11, stdout=StringIO())
    patterns = patient_identifiers(models.Patient.objects.all())
    assert len(patterns) > 60 * 10
    queued: list[int] = []
    with django_capture_on_commit_callbacks(execute=True):
        dispatch.reminders_dispatch_due(enqueue=queued.extend)
    [dispatch.reminder_send(reminder_id=i) for i in queued]
    messages = list(mail.outbox)
    assert any(m.subject.startswith("Tumour board: daily digest") for m in messages)
    for r in models.Reminder.objects.exclude(kind=K.DIGEST):
        messages.append(dispatch.reminder_email(r, attempt_number=1))
    assert len(messages) > 60
    for message in messages:
        for text in email_texts(message):
            for pattern in patterns:
                assert not pattern.search(text), f"{pattern.pattern} in {message.subject}"


def test_a_first_start_on_the_demo_cohort_sends_nothing_due_before_today(
    django_capture_on_commit_callbacks, capsys
):
    """What `make run` loads (demo_data with its default size), then one dispatch at once, as
    the worker does on a first start: every email is about a reminder due today, none about an
    event that is over."""
    from io import StringIO

    from django.core.management import call_command
    from django.utils import timezone

    call_command("demo_data", stdout=StringIO())
    today = timezone.localdate()
    made = models.Reminder.objects.count()
    # The demo's year of history holds reminders already sent (for the reports): not this start's.
    sent_before = set(models.Reminder.objects.filter(state=S.SENT).values_list("id", flat=True))
    queued: list[int] = []
    with django_capture_on_commit_callbacks(execute=True):
        result = dispatch.reminders_dispatch_due(enqueue=queued.extend)
    outcomes = [dispatch.reminder_send(reminder_id=i) for i in queued]
    assert set(outcomes) <= {"sent"}
    sent = (
        models.Reminder.objects.filter(state=S.SENT)
        .exclude(kind=K.DIGEST)
        .exclude(id__in=sent_before)
    )
    stale = [
        r for r in sent
        if timezone.localdate(r.due_at) < today or (r.expires_on and r.expires_on < today)
    ]  # fmt: skip
    with capsys.disabled():
        print(
            f"\ndemo cohort: {made} reminders made, {sent.count()} sent on the first start "
            f"(in {len(mail.outbox)} emails), {len(result.expired)} expired, {len(stale)} stale"
        )
    assert stale == []
    assert all(timezone.localdate(r.due_at) == today for r in sent)
    assert (
        models.Reminder.objects.filter(due_at__lt=timezone.now() - dt.timedelta(days=1))
        .filter(state__in=[S.PENDING, S.SENDING, S.SENT])
        .exclude(id__in=sent_before)
        .count()
        == 0
    )


# --- The database's own checks -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "constraint"),
    [
        ({"state": S.EXPIRED}, "reminder_expired_has_time"),  # expired without a time
        ({"kind": K.DIGEST}, "reminder_digest_shape"),  # a digest about one case
        ({"case": None}, "reminder_digest_shape"),  # a reminder about no case
    ],
)
def test_the_database_refuses_reminders_of_the_wrong_shape(fields, constraint):
    from django.db import IntegrityError, transaction

    case = make_case()
    row = {"case": case, "kind": K.REASSESSMENT_DUE, "dedupe_key": "shape", "due_at": NOW}
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        models.Reminder.objects.create(**{**row, **fields})


def test_a_digest_inside_a_digest_is_refused():
    from django.db import IntegrityError, transaction

    digest = models.Reminder.objects.create(kind=K.DIGEST, dedupe_key="d1", due_at=NOW)
    with pytest.raises(IntegrityError, match="reminder_digest_shape"), transaction.atomic():
        models.Reminder.objects.create(kind=K.DIGEST, dedupe_key="d2", due_at=NOW, digest=digest)


@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_making_the_same_digest_at_once_both_succeed():
    """The second dispatcher's insert waits for the first's and finds its digest claimed: its
    reminders go in a digest of their own, nothing fails, nothing is sent twice."""
    import threading

    from django.db import connection

    a = make_case(responsible_clinician=make_user("clinician"))
    rows = [_due(a, K.REASSESSMENT_DUE, f"r{n}") for n in range(40)]
    barrier = threading.Barrier(2)
    queued: list[list[int]] = []
    errors: list[BaseException] = []

    def run():
        try:
            barrier.wait()
            with time_machine.travel(NOW, tick=False):
                queued.append(
                    dispatch.reminders_dispatch_due(enqueue=lambda ids: None, limit=20).queued
                )
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    digests = set(models.Reminder.objects.filter(kind=K.DIGEST).values_list("id", flat=True))
    assert sorted(i for q in queued for i in q) == sorted(digests)
    members = models.Reminder.objects.filter(id__in=[r.pk for r in rows])
    assert {m.digest_id for m in members} == digests


# --- A claim whose task message was lost comes back before the lease ----------------------------


def test_a_claim_never_started_is_taken_back_after_the_pickup_time_a_started_one_is_not(
    django_capture_on_commit_callbacks, settings
):
    settings.REMINDER_DIGEST = False
    case = make_case(responsible_clinician=make_user("clinician"))
    lost = _due(case, K.REASSESSMENT_DUE, "lost")
    busy = _due(case, K.REASSESSMENT_DUE, "busy")

    def dispatch_at(moment) -> list[int]:
        with time_machine.travel(moment, tick=False):
            queued: list[int] = []
            with django_capture_on_commit_callbacks(execute=True):
                dispatch.reminders_dispatch_due(enqueue=queued.extend)
            return queued

    assert sorted(dispatch_at(NOW)) == sorted([lost.pk, busy.pk])
    with time_machine.travel(NOW, tick=False):
        assert dispatch._attempt_start(busy.pk) is not None  # its task started; "lost"'s never did
    pickup = dt.timedelta(seconds=settings.REMINDER_PICKUP_SECONDS)
    assert dispatch_at(NOW + pickup - dt.timedelta(seconds=1)) == []
    assert dispatch_at(NOW + pickup + dt.timedelta(seconds=1)) == [lost.pk]
    lease = dt.timedelta(seconds=settings.REMINDER_LEASE_SECONDS)
    # The started one waits for its whole lease ("lost", still never started, comes back again).
    assert sorted(dispatch_at(NOW + lease + dt.timedelta(seconds=1))) == sorted([lost.pk, busy.pk])
