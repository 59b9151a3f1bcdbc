"""No code path queues a task further ahead than 5 minutes (DESIGN.md §5).

A long ETA or countdown lives only in Redis: lost when Redis is wiped, and re-delivered in a loop
once it exceeds the visibility timeout. The schedule belongs in PostgreSQL. This test reads the
source of the app (not the tests) and fails on any ETA, and on any countdown or retry delay that
is not a literal number of seconds of at most 300.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tumourboard.celery import app

BASE_DIR = Path(__file__).resolve().parents[2]
SOURCE_DIRS = ("cases", "tumourboard", "bench")
MAX_SECONDS = 300
DELAY_NAMES = {"countdown", "default_retry_delay", "retry_backoff_max"}


def _literal_seconds(node: ast.expr) -> float | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    return None


def _check(name: str, value: ast.expr, where: str) -> list[str]:
    name = name.lower()
    if name == "eta":
        return [f"{where}: eta= schedules in the broker; put the time in the database"]
    if name in DELAY_NAMES:
        seconds = _literal_seconds(value)
        if seconds is None or seconds > MAX_SECONDS:
            return [f"{where}: {name} must be a literal of at most {MAX_SECONDS} s"]
    return []


def delay_violations(source: str, filename: str = "<source>") -> list[str]:
    """Every ETA, and every countdown or retry delay that may exceed 5 minutes, in ``source``."""
    problems: list[str] = []
    for node in ast.walk(ast.parse(source, filename)):
        where = f"{filename}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg is None:  # **options: the dict literal is checked where it is built
                    continue
                problems += _check(keyword.arg, keyword.value, where)
        elif isinstance(node, ast.Dict):  # e.g. beat "options": {"countdown": ...}
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    problems += _check(key.value, value, where)
        elif isinstance(node, ast.Assign):  # e.g. CELERY_TASK_DEFAULT_RETRY_DELAY = 600
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id.lower().endswith("retry_delay"):
                    problems += _check("default_retry_delay", node.value, where)
    return problems


def app_sources() -> list[Path]:
    return [
        path
        for directory in SOURCE_DIRS
        for path in sorted((BASE_DIR / directory).rglob("*.py"))
        if "migrations" not in path.parts
    ]


def test_no_code_path_uses_an_eta_or_a_countdown_longer_than_five_minutes():
    sources = app_sources()
    assert any(path.name == "tasks.py" for path in sources)
    problems = [
        problem
        for path in sources
        for problem in delay_violations(path.read_text(), str(path.relative_to(BASE_DIR)))
    ]
    assert problems == []


@pytest.mark.parametrize(
    "snippet",
    [
        "send.apply_async((1,), eta=when)",
        "send.apply_async((1,), countdown=14 * 24 * 3600)",
        "send.apply_async((1,), countdown=301)",
        "send.apply_async((1,), countdown=delay)",
        "self.retry(countdown=3600)",
        "send.s(1).set(countdown=900).delay()",
        "@shared_task(default_retry_delay=600)\ndef t(): pass",
        "@shared_task(autoretry_for=(E,), retry_backoff_max=3600)\ndef t(): pass",
        "BEAT = {'x': {'task': 't', 'options': {'countdown': 86400}}}",
        "CELERY_TASK_DEFAULT_RETRY_DELAY = 600",
    ],
)
def test_the_check_catches_long_delays(snippet):
    assert delay_violations(snippet)


@pytest.mark.parametrize(
    "snippet",
    [
        "send.apply_async((1,), producer=producer)",
        "send.apply_async((1,), countdown=30)",
        "BEAT = {'x': {'task': 't', 'schedule': 60.0, 'options': {'expires': 55}}}",
    ],
)
def test_the_check_allows_short_or_no_delays(snippet):
    assert delay_violations(snippet) == []


def test_beat_runs_the_dispatcher_every_minute_the_audit_head_log_daily_and_nothing_else():
    schedule = app.conf.beat_schedule
    assert list(schedule) == ["reminders-dispatch-due", "audit-log-chain-heads"]
    entry = schedule["reminders-dispatch-due"]
    assert entry["schedule"] == 60.0
    app.loader.import_default_modules()
    assert entry["task"] in app.tasks
    assert schedule["audit-log-chain-heads"]["task"] in app.tasks  # docs/security.md


def test_celery_is_configured_as_the_design_says(settings):
    conf = app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.accept_content == ["json"]
    assert conf.task_serializer == "json"
    assert conf.result_backend is None
    assert conf.task_ignore_result is True
    visibility = conf.broker_transport_options["visibility_timeout"]
    send_task = app.tasks["cases.reminder_send"]
    assert send_task.time_limit < settings.REMINDER_LEASE_SECONDS < visibility
    assert conf.task_time_limit < visibility / 10
