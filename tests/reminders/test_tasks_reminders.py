"""Reminders through real components: a Celery worker subprocess, Redis, PostgreSQL and an
aiosmtpd SMTP server. Nothing is lost or sent twice when workers die, Redis is wiped,
dispatchers race or the SMTP server says "try again later".

The test process plays Celery beat: it runs the dispatch service (or queues the dispatch task)
the way the beat entry does every minute, only more often, with a short claim lease.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter

import psycopg
import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from cases import models
from cases.reminders import dispatch, tasks
from cases.reminders.planning import reminders_sync_for_case
from tests.celery_harness import (
    BASE_DIR,
    Beat,
    RedisServer,
    SmtpServer,
    Worker,
    flush_own_redis_db,
    queue_length,
    redis_server_binary,
    wait_for,
    worker_env,
)
from tests.conftest import make_case, make_patient, make_user, test_database_url
from tests.reminders.test_services_reminders_dispatch import (
    SENTINEL_DOB,
    SENTINEL_FAMILY,
    SENTINEL_GIVEN,
    SENTINEL_HOSPITAL_NUMBER,
    SENTINEL_NHS,
    assert_no_patient_data,
)

S = models.ReminderState
LEASE_SECONDS = 3  # short, so the tests see a dead worker's claims come back quickly

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]

# (fault, due, emails received, lost, duplicates, seconds to recover): printed after the module.
FIGURES: list[tuple[str, int, int, int, int, float]] = []


def figure_lines() -> list[str]:
    return [
        "| fault | due | emails | lost | duplicates | recovery s |",
        "|---|---|---|---|---|---|",
        *(
            f"| {f} | {d} | {e} | {lost} | {dup} | {rec:.1f} |"
            for f, d, e, lost, dup, rec in FIGURES
        ),
    ]


@pytest.fixture(scope="module", autouse=True)
def figures_table():
    """Keep the table of fault figures that docs/reminders.md quotes in var/ (and the
    conftest prints it after the run)."""
    yield
    if FIGURES:
        out = BASE_DIR / "var" / "reminder-fault-figures.md"
        out.parent.mkdir(exist_ok=True)
        out.write_text("\n".join(figure_lines()) + "\n")


@pytest.fixture(scope="module")
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture
def sink(smtp):
    smtp.sink.reset()
    return smtp.sink


@pytest.fixture
def redis_url():
    flush_own_redis_db(django_settings.REDIS_URL)
    return django_settings.REDIS_URL


@pytest.fixture
def lease(settings):
    settings.REMINDER_LEASE_SECONDS = LEASE_SECONDS
    settings.REMINDER_SEND_TIME_LIMIT = 2
    settings.REMINDER_DIGEST = False  # these tests count one email per reminder


@pytest.fixture
def make_worker(transactional_db, smtp, redis_url, lease):
    """Start workers on the test database; all are stopped before the database is flushed."""
    database_url = test_database_url()
    started: list[Worker] = []

    def start(**extra: str) -> Worker:
        env = worker_env(
            database_url,
            redis_url,
            smtp.port,
            REMINDER_LEASE_SECONDS=str(LEASE_SECONDS),
            REMINDER_SEND_TIME_LIMIT="2",
            REMINDER_RETRY_BACKOFF_SECONDS="1",
            **{"REMINDER_DIGEST": "0", **extra},
        )
        worker = Worker(env)
        started.append(worker)
        return worker.start()

    yield start
    for worker in started:
        worker.stop()


def due_reminders(n: int, *, due_at: dt.datetime | None = None) -> list[int]:
    case = make_case(
        responsible_clinician=make_user("clinician"), coordinator=make_user("coordinator")
    )
    due_at = due_at or timezone.now() - dt.timedelta(minutes=1)
    rows = [
        models.Reminder(
            case=case,
            kind=models.ReminderKind.ACTION_DUE,
            dedupe_key=f"bulk:{case.pk}:{i}",
            due_at=due_at,
            event_on=dt.date(2026, 3, 16),
            recipients=["owner@hospital.invalid"],
        )
        for i in range(n)
    ]
    return [r.pk for r in models.Reminder.objects.bulk_create(rows)]


def dispatch_now(limit: int | None = None) -> dispatch.DispatchResult:
    return dispatch.reminders_dispatch_due(enqueue=tasks.enqueue_sends, limit=limit)


def states() -> Counter[str]:
    return Counter(models.Reminder.objects.values_list("state", flat=True))


def all_sent(n: int):
    return lambda: states()[S.SENT] == n


def test_due_reminders_are_delivered_once_each_without_patient_data(make_worker, sink):
    patient = make_patient(
        family_name=SENTINEL_FAMILY,
        given_name=SENTINEL_GIVEN,
        hospital_number=SENTINEL_HOSPITAL_NUMBER,
        nhs_number=SENTINEL_NHS,
        date_of_birth=SENTINEL_DOB,
    )
    case = make_case(
        patient=patient,
        responsible_clinician=make_user("clinician", username="onc"),
        coordinator=make_user("coordinator", username="coord"),
    )
    today = timezone.localdate()
    models.Reassessment.objects.create(case=case, cycle=1, due_on=today - dt.timedelta(days=1))
    models.MolecularResult.objects.create(
        case=case, marker="kras", status="pending", requested_on=today - dt.timedelta(days=20)
    )
    reminders_sync_for_case(case_id=case.pk)
    assert models.Reminder.objects.count() == 3  # re-imaging, reassessment due, result outstanding
    make_worker()

    # What beat does every minute: queue the dispatch task; the worker claims and sends.
    tasks.reminders_dispatch_due.delay()
    assert wait_for(all_sent(3), timeout=30)

    assert sorted(sink.reminder_ids()) == sorted(
        models.Reminder.objects.values_list("id", flat=True)
    )
    for raw in sink.messages:
        assert_no_patient_data(raw)
        assert f"TB{case.pk:06d}".encode() in raw
        assert b"text/html" in raw
        assert b"text/plain" in raw
    assert models.DispatchHeartbeat.objects.get().last_claimed == 3
    wait_for(lambda: False, timeout=1)  # a late duplicate would show up here
    assert sink.count() == 3


def test_a_worker_killed_mid_batch_loses_nothing(make_worker, sink):
    """(a) SIGKILL the worker and its pool mid-batch, start a new one: every reminder goes."""
    ids = due_reminders(60)
    sink.delay = 0.1  # each message takes a moment, so the kill lands mid-batch
    worker = make_worker()
    assert len(dispatch_now().queued) == 60
    assert wait_for(lambda: sink.count() >= 10, timeout=30)
    worker.kill()
    sent_before_kill = states()[S.SENT]
    assert sent_before_kill < 60, "the batch finished before the kill: not mid-batch"

    killed_at = time.monotonic()
    make_worker()
    # Beat keeps dispatching: claims of the dead worker come back once their lease expires.
    assert wait_for(all_sent(60), timeout=45, interval=0.5, each=dispatch_now)
    recovery = time.monotonic() - killed_at

    delivered = Counter(sink.reminder_ids())
    assert set(delivered) == set(ids)  # none lost
    # The only duplicates possible: a message the SMTP server accepted just before the kill,
    # at most one per pool process (DESIGN.md §5's unavoidable window).
    assert sum(delivered.values()) - len(ids) <= 2
    FIGURES.append(("worker SIGKILL mid-batch (2 pool processes)", 60, sum(delivered.values()),
                    0, sum(delivered.values()) - len(ids), recovery))  # fmt: skip


def test_a_redis_wipe_while_reminders_are_pending_loses_nothing(make_worker, sink, redis_url):
    """(b) Claimed and queued, then FLUSHDB before any worker took them: all still go, once."""
    claimed = due_reminders(30)
    later = due_reminders(10, due_at=timezone.now() + dt.timedelta(seconds=2))
    assert len(dispatch_now().queued) == 30
    assert queue_length(redis_url) == 30

    flush_own_redis_db(redis_url)
    assert queue_length(redis_url) == 0
    flushed_at = time.monotonic()

    make_worker()
    assert wait_for(all_sent(40), timeout=45, interval=0.5, each=dispatch_now)
    recovery = time.monotonic() - flushed_at
    wait_for(lambda: False, timeout=1)
    assert sorted(sink.reminder_ids()) == sorted(claimed + later)
    FIGURES.append(("Redis FLUSHDB with 30 queued", 40, sink.count(), 0, 0, recovery))


def test_four_concurrent_dispatchers_send_exactly_one_email_per_reminder(make_worker, sink):
    """(c) Four dispatchers at once over 200 due reminders: disjoint claims, exactly 200 emails."""
    ids = due_reminders(200)
    make_worker()
    barrier = threading.Barrier(4)
    claims: list[list[int]] = []
    errors: list[BaseException] = []

    def dispatcher() -> None:
        try:
            for _round in range(3):
                barrier.wait()
                claims.append(dispatch_now(limit=60).queued)
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=dispatcher) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    claimed = [rid for claim in claims for rid in claim]
    assert sorted(claimed) == sorted(ids)  # every row claimed by exactly one dispatcher
    assert sum(1 for claim in claims if claim) >= 2  # the work really was shared

    assert wait_for(all_sent(200), timeout=60, interval=0.5)
    wait_for(lambda: False, timeout=1)
    assert sink.count() == 200
    assert sorted(sink.reminder_ids()) == sorted(ids)
    FIGURES.append(("four racing dispatchers", 200, sink.count(), 0, 0, 0.0))


def test_a_451_on_each_first_try_delivers_each_once_on_the_second_attempt(make_worker, sink):
    """(d) The SMTP server refuses every message once with 451: retried, delivered once."""
    ids = due_reminders(20)
    sink.refuse_first_try = True
    make_worker()
    assert wait_for(all_sent(20), timeout=45, interval=0.5, each=dispatch_now)

    assert sorted(sink.reminder_ids()) == sorted(ids)
    FIGURES.append(("SMTP 451 then success", 20, sink.count(), 0, 0, 0.0))
    assert set(sink.refused) == set(ids)
    assert set(models.Reminder.objects.values_list("attempts", flat=True)) == {2}
    outcomes = Counter(models.ReminderAttempt.objects.values_list("number", "outcome"))
    assert outcomes == {(1, "failed"): 20, (2, "sent"): 20}
    assert all("451" in e for e in models.ReminderAttempt.objects.filter(number=1).values_list(
        "error", flat=True
    ))  # fmt: skip


# --- The database blinks between the SMTP server's acceptance and the SENT mark ---------------


def _terminate_worker_connections(database_url: str, keep: set[int]) -> int:
    """pg_terminate_backend every other session on the test database (the worker's), as a
    database restart or a network cut would: the worker finds its connection dead mid-task."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend' AND NOT (pid = ANY(%s))",
            [list(keep)],
        ).fetchall()
    return len(rows)


def _psycopg_url() -> str:
    return test_database_url().replace("postgres://", "postgresql://", 1)


@pytest.mark.parametrize("retries", ["5", "0"], ids=["mark-retried", "mark-never-written"])
def test_a_dropped_database_connection_after_acceptance_sends_one_email(make_worker, sink, retries):
    """The worker's database connection is cut after the SMTP server accepted each message and
    before the row is marked SENT. With retries the mark is written on a fresh connection; with
    none, the mark is never written and the next attempt (after the lease) finds the acceptance
    instead of sending again. Either way: exactly one email each, none lost."""
    ids = due_reminders(4)
    url = _psycopg_url()
    keep = {connection.cursor().connection.info.backend_pid}
    cut: list[int] = []

    def cut_connection(reminder_id: int) -> None:
        cut.append(_terminate_worker_connections(url, keep))

    sink.before_accept = cut_connection
    make_worker(REMINDER_MARK_SENT_RETRIES=retries, REMINDER_MARK_SENT_BACKOFF_MS="100")
    started = time.monotonic()
    dispatch_now()
    assert wait_for(all_sent(4), timeout=30, interval=0.5, each=dispatch_now)
    recovery = time.monotonic() - started
    wait_for(lambda: False, timeout=LEASE_SECONDS + 1, interval=0.5, each=dispatch_now)

    assert sum(cut) >= 4  # each acceptance really lost its connection
    delivered = Counter(sink.reminder_ids())
    assert set(delivered) == set(ids)
    assert sum(delivered.values()) == len(ids), f"duplicates: {delivered}"
    FIGURES.append((f"DB connection cut after accept ({retries} mark retries)", 4,
                    sum(delivered.values()), len(ids) - len(delivered),
                    sum(delivered.values()) - len(delivered), recovery))  # fmt: skip


def test_a_row_lock_between_acceptance_and_mark_sends_one_email(make_worker, sink):
    """Another transaction holds the reminder's row lock (longer than the lease) from the
    moment the SMTP server accepts the message: the mark waits for it, the dispatcher skips the
    locked row, and exactly one email goes out."""
    ids = due_reminders(3)
    url = _psycopg_url()
    held: list[threading.Thread] = []

    def lock_row(reminder_id: int) -> None:
        locked = threading.Event()

        def hold() -> None:
            with psycopg.connect(url) as conn:
                conn.execute("SELECT 1 FROM cases_reminder WHERE id = %s FOR UPDATE", [reminder_id])
                locked.set()
                time.sleep(LEASE_SECONDS + 2)

        thread = threading.Thread(target=hold)
        thread.start()
        held.append(thread)
        locked.wait(10)

    sink.before_accept = lock_row
    make_worker()
    started = time.monotonic()
    dispatch_now()
    assert wait_for(all_sent(3), timeout=40, interval=0.5, each=dispatch_now)
    recovery = time.monotonic() - started
    for thread in held:
        thread.join()
    wait_for(lambda: False, timeout=LEASE_SECONDS + 1, interval=0.5, each=dispatch_now)
    delivered = Counter(sink.reminder_ids())
    assert sorted(delivered.elements()) == sorted(ids)
    FIGURES.append(("row lock between accept and mark", 3, sum(delivered.values()),
                    len(ids) - len(delivered), sum(delivered.values()) - len(delivered),
                    recovery))  # fmt: skip


def test_a_long_wait_for_the_row_lock_does_not_back_date_the_claim(make_worker, sink):
    """The row is locked by someone else when the send task starts, for longer than the lease.
    The attempt's claim time is read after the lock is granted, so the lease starts then and the
    dispatcher does not hand the row to a second sender while the first is still sending."""
    ids = due_reminders(1)
    sink.delay = 1.5  # the send itself takes a while
    url = _psycopg_url()
    make_worker()
    assert dispatch.reminders_dispatch_due(enqueue=lambda _ids: None).queued == ids  # claimed
    with psycopg.connect(url) as conn:
        conn.execute("SELECT 1 FROM cases_reminder WHERE id = %s FOR UPDATE", [ids[0]])
        tasks.enqueue_sends(ids)
        time.sleep(LEASE_SECONDS + 1)  # the send task waits for the row all this time
    assert wait_for(all_sent(1), timeout=30, interval=0.2, each=dispatch_now)
    wait_for(lambda: False, timeout=LEASE_SECONDS + 1, interval=0.5, each=dispatch_now)
    assert sink.reminder_ids() == ids


def test_a_550_fails_at_once_with_its_error_and_sends_nothing(make_worker, sink):
    """(e) The SMTP server refuses every message for good: FAILED after one attempt, the error
    on the row for the log, nothing delivered, nothing retried."""
    ids = due_reminders(10)
    sink.refuse_always = "550 5.1.1 No such mailbox"
    make_worker()
    dispatch_now()
    assert wait_for(lambda: states()[S.FAILED] == 10, timeout=30, interval=0.5)
    wait_for(lambda: False, timeout=LEASE_SECONDS + 1, interval=0.5, each=dispatch_now)
    assert sink.count() == 0
    assert set(sink.refused) == set(ids)
    assert all(n == 1 for n in sink.refused.values())
    assert set(models.Reminder.objects.values_list("attempts", flat=True)) == {1}
    assert all("550" in e for e in models.Reminder.objects.values_list("last_error", flat=True))
    FIGURES.append(("SMTP 550 (permanent)", 10, 0, 0, 0, 0.0))


# --- Beat and Redis, the real processes --------------------------------------------------------


@pytest.fixture
def private_redis():
    """Redis of our own (another port), so stopping it disturbs nobody else."""
    if redis_server_binary() is None:
        pytest.skip("no redis-server binary to run a private Redis")
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture
def processes(transactional_db, smtp, lease, private_redis):
    """A worker and beat (dispatching every second) on the private Redis."""
    env = worker_env(
        test_database_url(), private_redis.url, smtp.port,
        REMINDER_LEASE_SECONDS=str(LEASE_SECONDS), REMINDER_SEND_TIME_LIMIT="2",
        REMINDER_RETRY_BACKOFF_SECONDS="1", REMINDER_DIGEST="0",
        REMINDER_DISPATCH_INTERVAL_SECONDS="1",
    )  # fmt: skip
    started: list = []

    def start(cls):
        process = cls(env)
        started.append(process)
        return process.start()

    yield start
    for process in started:
        process.stop()


def test_redis_down_for_thirty_seconds_loses_nothing(processes, private_redis, sink):
    """(f) Redis stops for 30 s (and comes back empty) while reminders fall due: every one is
    sent once after it returns; the figure is how long that takes."""
    processes(Worker)
    processes(Beat)
    first = due_reminders(10)
    assert wait_for(all_sent(10), timeout=30, interval=0.5)
    private_redis.stop()
    during = due_reminders(10)
    time.sleep(30)
    private_redis.start()
    back = time.monotonic()
    assert wait_for(all_sent(20), timeout=60, interval=0.5)
    recovery = time.monotonic() - back
    wait_for(lambda: False, timeout=LEASE_SECONDS + 1)
    delivered = Counter(sink.reminder_ids())
    assert sorted(delivered.elements()) == sorted(first + during)
    FIGURES.append(("Redis down 30 s (back empty)", 20, sink.count(), 0, 0, recovery))


def test_beat_killed_and_restarted_loses_nothing(processes, sink):
    """(g) Beat is SIGKILLed; reminders falling due meanwhile wait (nothing else dispatches) and
    all go once it is back."""
    processes(Worker)
    beat = processes(Beat)
    first = due_reminders(5)
    assert wait_for(all_sent(5), timeout=30, interval=0.5)
    beat.kill()
    during = due_reminders(5)
    time.sleep(3)
    assert states()[S.SENT] == 5  # nobody dispatches while beat is down
    processes(Beat)
    back = time.monotonic()
    assert wait_for(all_sent(10), timeout=30, interval=0.2)
    recovery = time.monotonic() - back
    wait_for(lambda: False, timeout=1)
    assert sorted(sink.reminder_ids()) == sorted(first + during)
    FIGURES.append(("beat SIGKILL, restarted after 3 s", 10, sink.count(), 0, 0, recovery))
