"""PHI guard: the whole test run fails if a sentinel patient's identity reaches a log or an email.

``make_patient()`` (tests/conftest.py) gives every test patient the same unmistakable identity
unless a test chooses another one: family name "Sentinelworth", given name "Zebedee", a hospital
number starting "SNTL" and an NHS number from the never-issued 999 range. Nothing the app logs or
emails may contain them. This plugin, registered from conftest.py, watches for the whole run:

- every log record created by any logger (the root logger is opened to DEBUG, so records of
  every level are created; propagation does not matter because records are seen as they are
  made): its message, exception traceback and stack;
- every email message built by any Django mail backend (locmem, SMTP, file), decoded part by
  part, headers included;
- anything else a test hands to ``check_message(text, where)``: use it for mail that reaches an
  SMTP sink or output a separate process (a Celery worker) printed.

At the end of the session it lists every leak with the test that caused it and fails the run.
"""

from __future__ import annotations

import logging
import re
import traceback
from dataclasses import dataclass
from email.message import Message
from typing import Any

import pytest

FAMILY_NAME = "Sentinelworth"
GIVEN_NAME = "Zebedee"
HOSPITAL_PREFIX = "SNTL"
NHS_PREFIX = "999"

SENTINEL = re.compile(rf"{FAMILY_NAME}|{GIVEN_NAME}|\b{HOSPITAL_PREFIX}\d{{4,}}\b", re.IGNORECASE)


@dataclass(frozen=True)
class Leak:
    test: str
    where: str
    excerpt: str


_leaks: list[Leak] = []
_current_test = "(outside a test)"


def find(text: str) -> str | None:
    """The first sentinel in ``text``, with some context, or None."""
    match = SENTINEL.search(text or "")
    if match is None:
        return None
    start, end = max(0, match.start() - 60), match.end() + 60
    return text[start:end].replace("\n", " ")


def check_message(text: str, where: str = "message") -> None:
    """Record a leak if ``text`` (an email, a log line, another process's output) names a
    sentinel patient. Safe to call with anything; never raises."""
    excerpt = find(text)
    if excerpt is not None:
        _leaks.append(Leak(_current_test, where, excerpt))


def leaks() -> list[Leak]:
    return list(_leaks)


# --- Logs ------------------------------------------------------------------------------------


def _record_text(record: logging.LogRecord) -> str:
    try:
        message = record.getMessage()
    except Exception:  # a malformed log call is not our concern here
        message = f"{record.msg!r} {record.args!r}"
    parts = [message]
    if record.exc_info and record.exc_info[1] is not None:
        parts.append("".join(traceback.format_exception(*record.exc_info)))
    if record.exc_text:
        parts.append(record.exc_text)
    if record.stack_info:
        parts.append(record.stack_info)
    return "\n".join(parts)


class _RecordWatcher:
    """Wraps the log record factory: sees every record as it is created."""

    def __init__(self, factory: Any) -> None:
        self.factory = factory

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.factory(*args, **kwargs)
        check_message(_record_text(record), f"log record from {record.name}")
        return record


def _ensure_log_capture() -> None:
    """Install (again, if logging was reconfigured since) and open the root logger to DEBUG."""
    if not isinstance(logging.getLogRecordFactory(), _RecordWatcher):
        logging.setLogRecordFactory(_RecordWatcher(logging.getLogRecordFactory()))
    root = logging.getLogger()
    if root.level != logging.DEBUG:
        # Handlers keep printing at the configured level; only the guard sees DEBUG records.
        for handler in root.handlers:
            if handler.level == logging.NOTSET:
                handler.setLevel(root.level)
        root.setLevel(logging.DEBUG)


# --- Emails ----------------------------------------------------------------------------------


def _message_text(message: Message) -> str:
    parts = [f"{name}: {value}" for name, value in message.items()]
    for part in message.walk():
        if part.is_multipart():
            continue
        parts.extend(f"{name}: {value}" for name, value in part.items())
        try:
            content = part.get_content()  # type: ignore[attr-defined]
        except (KeyError, LookupError, AttributeError):
            content = part.get_payload(decode=True)
        if isinstance(content, bytes):
            content = content.decode("utf-8", "replace")
        parts.append(str(content))
    return "\n".join(parts)


def _watch_email() -> None:
    """Every Django backend builds the MIME message with ``EmailMessage.message()``."""
    from django.core.mail import message as mail_message

    original = mail_message.EmailMessage.message
    if getattr(original, "phi_guarded", False):
        return

    def message(self, *args: Any, **kwargs: Any):
        built = original(self, *args, **kwargs)
        check_message(_message_text(built), f"email {str(self.subject)[:60]!r}")
        return built

    message.phi_guarded = True  # type: ignore[attr-defined]
    mail_message.EmailMessage.message = message  # type: ignore[method-assign]


# --- pytest hooks ----------------------------------------------------------------------------


def pytest_sessionstart(session: pytest.Session) -> None:
    _ensure_log_capture()
    _watch_email()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    global _current_test
    _current_test = item.nodeid
    _ensure_log_capture()  # a test or library may have reconfigured logging
    try:
        return (yield)
    finally:
        _current_test = "(between tests)"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _leaks:
        return
    terminalreporter.section("PHI guard: patient identifiers in logs or emails", red=True)
    for leak in _leaks:
        terminalreporter.line(f"{leak.test}: {leak.where}: …{leak.excerpt}…")
    terminalreporter.line(f"The run fails: {len(_leaks)} leak(s) of patient identifiers.", red=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _leaks and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
