"""The application benchmark: ``make bench``.

1. Two databases of synthetic patients, each loaded once and reused: ``tb_bench`` with
   ``demo_data --patients 10000`` and ``tb_bench_small`` with 100 (``--reload`` rebuilds both).
2. In process (bench/harness.py), at 10,000 patients: every page and partial below through the
   full middleware stack, signed in as the role that uses it; queries per request, median and
   95th-percentile server time, and the ratio to the minimal view (``HttpResponse("ok")``)
   timed in the same run. The same pages at 100 patients for their query counts.
3. Over HTTP: gunicorn (local profile, DEBUG off, BENCHMARK_VIEWS on, 3 workers, persistent
   database connections) and locust with 8 users that never pause, one GET page at a time,
   the minimal view first: requests per second and p50/p99 latency in the steady state (a
   3-second run of the same page before each, not counted, warms every worker).
4. One table, printed and written to bench/results/app-<time>.json.

    make bench                      # or: python bench/app_bench.py [--reload] [--runs 20]
        [--load-seconds 8] [--warmup-seconds 3] [--workers 3] [--port 8765]

The decision-walk POST changes what it posts to, so each timed POST answers the first point
of a fresh agenda item on a far-future "Bench MDT" meeting (which the dashboard does not show).
Benchmarks print figures; nothing here asserts a threshold (tests assert query counts and plans).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.harness import (  # noqa: E402
    RESULTS_DIR,
    Page,
    PageResult,
    posts_needed,
    setup_django,
    time_pages,
)

BIG_URL = "postgres://postgres@127.0.0.1:5432/tb_bench"
SMALL_URL = "postgres://postgres@127.0.0.1:5432/tb_bench_small"
BENCH_VENV = ROOT / "var" / "bench-venv"
HTMX = {"HX-Request": "true"}
# The issue's targets, shown beside each figure.
MAX_QUERIES = 12
MAX_RATIO = {"page": 40.0, "partial": 15.0}
MAX_P99_MS = 150.0
P99_PAGES = ("dashboard", "meeting page")
CONCURRENCY = 8


# --- Databases -------------------------------------------------------------------------------


def _python() -> str:
    return sys.executable


def _admin_url(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts._replace(path="/postgres").geturl(), parts.path.lstrip("/")


def prepare_database(url: str, patients: int, *, reload: bool) -> None:
    """Create (or with ``reload``, recreate) the database and load the cohort once."""
    import psycopg
    from psycopg import sql

    admin, name = _admin_url(url)
    if not name.startswith("tb_bench"):
        raise SystemExit(f"refusing to touch {name}: benchmark databases are named tb_bench*")
    with psycopg.connect(admin, autocommit=True) as conn:
        if reload:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    env = _env(url)
    _manage(env, "migrate", "-v0")
    count = "from cases.models import Patient; print(Patient.objects.count())"
    have = int(_manage(env, "shell", "-c", count).split()[-1])
    if have == 0:
        print(f"loading {patients} patients into {name} …", flush=True)
        started = time.monotonic()
        _manage(env, "demo_data", "--patients", str(patients))
        print(f"  loaded in {time.monotonic() - started:.0f} s", flush=True)
    elif have != patients:
        raise SystemExit(f"{name} holds {have} patients, not {patients}: run with --reload")
    with psycopg.connect(url, autocommit=True) as conn:
        # Fresh statistics and visibility maps (index-only scans), as autovacuum keeps a live
        # database; a bulk load leaves neither.
        conn.execute("VACUUM ANALYZE")


def _env(url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ, DATABASE_URL=url, TUMOURBOARD_PROFILE="local", DEBUG="false")
    env.update(OTP_REQUIRED="false", BENCHMARK_VIEWS="true", LOG_LEVEL="WARNING", **extra)
    return env


def _manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [_python(), "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


# --- The pages -------------------------------------------------------------------------------


def _demo_item() -> Any:
    from cases.models import AgendaItem

    item = (
        AgendaItem.objects.filter(meeting__title="Colorectal MDT", meeting__status="scheduled")
        .order_by("meeting__scheduled_for", "position")
        .first()
    )
    if item is None:
        raise SystemExit("no demo meeting in this database: run with --reload")
    return item


def fresh_answers(count: int) -> tuple[tuple[str, dict[str, Any]], ...]:
    """``count`` answer POSTs, each to the first open point of an agenda item of its own."""
    import datetime as dt

    import pghistory
    from django.db.models import Exists, OuterRef
    from django.utils import timezone

    from cases.meetings.services import meeting_day
    from cases.meetings.walk import build_walk
    from cases.models import AgendaItem, Case, Meeting, Role, Stage, User
    from cases.records.selectors import case_clinical_record

    chair = User.objects.filter(username="chair", role=Role.CHAIR).get()
    coordinator = User.objects.get(username="coordinator")
    unlisted = (
        Case.objects.filter(stage=Stage.CONVERSION)
        .exclude(Exists(AgendaItem.objects.filter(case=OuterRef("pk"))))
        .order_by("pk")[:count]
    )
    with pghistory.context(command="bench"):
        meeting = Meeting.objects.create(
            title="Bench MDT",
            chair=chair,
            scheduled_for=timezone.now() + dt.timedelta(days=365),
        )
        items = AgendaItem.objects.bulk_create(
            AgendaItem(meeting=meeting, case=case, position=n + 1, listed_by=coordinator)
            for n, case in enumerate(unlisted)
        )
    if len(items) < count:
        raise SystemExit(f"only {len(items)} unlisted cases for the answer POSTs: --reload")
    day = meeting_day(meeting)
    posts = []
    for item in items:
        step = build_walk(case_clinical_record(case_id=item.case_id), [], meeting_day=day).current
        data = chosen(step)
        data["patient_check"] = item.case.reference  # the card's form names its case
        posts.append((f"/agenda/{item.pk}/points/{step.point}/", data))
    return tuple(posts)


def chosen(step: Any) -> dict[str, Any]:
    """An explicit choice for each radio group of a card (nothing is pre-ticked): the
    recommended option where there is one."""
    data = {k: v for k, v in step.initial.items() if v is not None}
    for field in step.fields:
        if field.kind == "radio" and field.name not in data:
            recommended = [c.value for c in field.choices if c.recommended]
            data[field.name] = (recommended or [c.value for c in field.choices])[0]
    return data


def preview_posts(count: int) -> tuple[tuple[str, dict[str, Any]], ...]:
    """``count`` previews of the demo case's open card (nothing is stored, so one will do)."""
    from cases.meetings.selectors import case_screen

    item = _demo_item()
    screen = case_screen(item.pk, "walk")
    step = screen.walk.current or screen.walk.steps[0]
    data = {**chosen(step), "patient_check": screen.case.reference}
    return ((f"/agenda/{item.pk}/points/{step.point}/preview/", data),) * count


AFTER_WRITE = "(after a write)"


def _forget_kept() -> None:
    """Empty this process's cache of kept HTML (the dashboard's panels, the meeting page's
    sections): everything is computed afresh, as after a write to the tables it reads
    (cases/data_version.py)."""
    from django.core.cache import caches

    caches["local"].clear()


def pages(*, runs: int, with_posts: bool = True) -> list[Page]:
    """The page set: each page as the role that uses it."""
    from cases.worklists.queries import WORKLISTS

    item = _demo_item()
    case, walk = f"/cases/{item.case_id}/", f"/agenda/{item.pk}/"
    meeting = f"/meetings/{item.meeting_id}/"
    result = [Page("dashboard", "/", user="coordinator")]
    result += [
        Page(f"panel {spec.slug}", f"/worklists/{spec.slug}/panel/", HTMX, "coordinator", "partial")
        for spec in WORKLISTS
    ]
    if with_posts:  # in process only: the HTTP server's caches are in its own processes
        # The same, with nothing cached: what the first view after a clinical write costs.
        result.append(
            Page(f"dashboard {AFTER_WRITE}", "/", user="coordinator", before_each=_forget_kept)
        )
        result += [
            Page(f"panel {spec.slug} {AFTER_WRITE}", f"/worklists/{spec.slug}/panel/", HTMX,
                 "coordinator", "partial", before_each=_forget_kept)
            for spec in WORKLISTS
        ]  # fmt: skip
    result += [
        Page("case list", "/cases/", user="coordinator"),
        Page("case page", case, user="coordinator"),
        Page("scan form", f"{case}scans/new/", user="chair"),
        Page("bloods form", f"{case}bloods/new/", user="coordinator"),
        Page("meeting list", "/meetings/", user="coordinator"),
        Page("meeting page", meeting, user="coordinator"),
        Page("meeting minutes", f"{meeting}minutes/", user="coordinator"),
        Page("core members page", f"/meetings/series/{item.meeting.series_id}/members/",
             user="coordinator"),
    ]  # fmt: skip
    if with_posts:
        result.append(
            Page(f"meeting page {AFTER_WRITE}", meeting, user="coordinator",
                 before_each=_forget_kept)
        )  # fmt: skip
    result += [
        Page("meeting case (walk) page", walk, user="chair"),
        Page("walk card partial", walk, HTMX | {"HX-Target": "walk"}, "chair", "partial"),
        Page("outcome partial", walk, HTMX | {"HX-Target": "outcome"}, "chair", "partial"),
    ]  # fmt: skip
    if with_posts:
        # The search is posted (its text never goes in a URL): timed in process only.
        search = (("/cases/", {"q": "smith"}),) * posts_needed(runs=runs)
        result.append(
            Page("case search (htmx POST)", "/cases/", HTMX | {"HX-Target": "case-results"},
                 "coordinator", "partial", posts=search)
        )  # fmt: skip
        result.append(
            Page("card preview (htmx POST)", "/agenda/<demo>/points/<open>/preview/",
                 HTMX, "chair", "partial", posts=preview_posts(posts_needed(runs=runs)))
        )  # fmt: skip
        result.append(
            Page("answer POST + walk swap", "/agenda/<fresh>/points/<first>/",
                 HTMX | {"HX-Target": "walk"}, "chair", "partial",
                 posts=fresh_answers(posts_needed(runs=runs)))
        )  # fmt: skip
    result += [
        Page("reminder log", "/reminders/", user="coordinator"),
        # Keyset pages: a filtered view, and a page deep in the table (the cursor of a row
        # halfway down), which must cost what the first page costs.
        Page("reminder log, sent", "/reminders/?state=sent", user="coordinator"),
        Page(
            "reminder log, deep page", f"/reminders/?after={_middle_cursor()}", user="coordinator"
        ),
        Page("audit case page", f"/audit/cases/{item.case_id}/", user="auditor"),
        Page("molecular form (htmx, in place)", f"/cases/{item.case_id}/molecular/", HTMX,
             "coordinator", "partial"),
    ]  # fmt: skip
    result += _after_the_meeting_pages()
    return result


def _middle_cursor() -> str:
    """The keyset cursor of the reminder halfway down the log (newest first)."""
    from urllib.parse import quote

    from cases.models import Reminder

    total = Reminder.objects.count()
    row = Reminder.objects.order_by("-due_at", "-id").values_list("due_at", "id")[total // 2]
    return quote(f"{row[0].isoformat()}_{row[1]}")


def _after_the_meeting_pages() -> list[Page]:
    """Letters, follow-up and the reports (cases/followup/), on the demo's past year."""
    from cases.models import OutcomeLetter
    from cases.worklists.queries import AFTER_MEETING_WORKLISTS

    letter = OutcomeLetter.objects.order_by("-created_at").first()
    if letter is None:
        raise SystemExit("no outcome letters in this database: run with --reload")
    return [
        *[
            Page(f"panel {spec.slug}", f"/worklists/{spec.slug}/panel/", HTMX, "coordinator",
                 "partial")
            for spec in AFTER_MEETING_WORKLISTS
        ],
        Page("outcome letters and follow-up", f"/agenda/{letter.agenda_item_id}/after/",
             user="coordinator"),
        Page("letter page", f"/letters/{letter.pk}/", user="coordinator"),
        Page("reports (last 12 months)", "/reports/", user="auditor"),
    ]  # fmt: skip


def inprocess(url: str, runs: int, out: Path) -> None:
    """Subcommand: time every page in this process against ``url``; write the results."""
    setup_django(url)
    from cases.models import Patient

    results = time_pages(pages(runs=runs), username="coordinator", runs=runs)
    payload = {"patients": Patient.objects.count(), "results": [asdict(r) for r in results]}
    out.write_text(json.dumps(payload))


def run_inprocess(url: str, runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "results.json"
        cmd = [_python(), __file__, "inprocess", "--database-url", url, "--runs", str(runs),
               "--out", str(out)]  # fmt: skip
        subprocess.run(cmd, cwd=ROOT, env=_env(url), check=True)
        return json.loads(out.read_text())


# --- Over HTTP -------------------------------------------------------------------------------


def _free_port(preferred: int) -> int:
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", preferred)) != 0:
            return preferred
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(base: str, server: subprocess.Popen[bytes], seconds: float = 60) -> None:
    import requests

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("gunicorn stopped while starting")
        try:
            requests.get(f"{base}/login/", timeout=2)
            return
        except requests.RequestException:  # not listening yet, or still loading the app
            time.sleep(0.3)
    raise SystemExit("gunicorn did not answer in time")


def _sign_in(base: str, username: str) -> str:
    """The session cookie of a real sign-in through the form (no second factor locally)."""
    import requests

    password = os.environ.get("DEMO_PASSWORD", "tumourboard-demo")
    session = requests.Session()
    session.get(f"{base}/login/", timeout=10)
    token = session.cookies["csrftoken"]
    response = session.post(
        f"{base}/login/",
        {"username": username, "password": password, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base}/login/"},
        allow_redirects=False,
        timeout=30,
    )
    if response.status_code != 302 or "sessionid" not in session.cookies:
        raise SystemExit(f"could not sign in as {username} (status {response.status_code})")
    return session.cookies["sessionid"]


def _locust(base: str, page: Page, cookie: str, seconds: int, workdir: Path) -> dict[str, float]:
    prefix = workdir / "run"
    env = dict(os.environ, BENCH_PATH=page.path, BENCH_HEADERS=json.dumps(page.headers),
               BENCH_COOKIE=cookie, BENCH_COOKIE_NAME="sessionid")  # fmt: skip
    cmd = [str(BENCH_VENV / "bin" / "locust"), "-f", str(ROOT / "bench" / "locustfile.py"),
           "--headless", "-u", str(CONCURRENCY), "-r", str(CONCURRENCY),
           "--run-time", f"{seconds}s", "-H", base, "--csv", str(prefix), "--only-summary",
           "--loglevel", "WARNING"]  # fmt: skip
    subprocess.run(cmd, env=env, capture_output=True, check=False, timeout=seconds + 60)
    with open(f"{prefix}_stats.csv", newline="") as stats:
        row = next(r for r in csv.DictReader(stats) if r["Name"] == "page")
    return {
        "requests": int(row["Request Count"]),
        "failures": int(row["Failure Count"]),
        "rps": float(row["Requests/s"]),
        "p50_ms": float(row["50%"]),
        "p99_ms": float(row["99%"]),
    }


def run_load(
    url: str, load_pages: list[Page], *, seconds: int, warmup: int, workers: int, port: int
) -> dict[str, Any]:
    if not (BENCH_VENV / "bin" / "locust").exists():
        raise SystemExit(f"locust is not installed in {BENCH_VENV}: run `make bench`")
    port = _free_port(port)
    base = f"http://127.0.0.1:{port}"
    cmd = [_python(), "-m", "gunicorn", "tumourboard.wsgi", "--workers", str(workers),
           "--threads", "1", "--bind", f"127.0.0.1:{port}", "--log-level", "warning"]  # fmt: skip
    server = subprocess.Popen(cmd, cwd=ROOT, env=_env(url, DATABASE_CONN_MAX_AGE="60"))
    results: dict[str, Any] = {}
    try:
        _wait_for(base, server)
        cookies: dict[str, str] = {}
        with tempfile.TemporaryDirectory() as tmp:
            for page in load_pages:
                user = page.user or "coordinator"
                if user not in cookies:
                    cookies[user] = _sign_in(base, user)
                print(f"  load: {page.label} …", flush=True)
                # Steady state: each worker's first requests (templates compiled, queries built,
                # the panel cache filled) would otherwise be the p99 of a short run.
                _locust(base, page, cookies[user], warmup, Path(tmp))
                results[page.label] = _locust(base, page, cookies[user], seconds, Path(tmp))
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {
        "workers": workers,
        "threads": 1,
        "seconds": seconds,
        "warmup_seconds": warmup,
        "pages": results,
    }


# --- The table -------------------------------------------------------------------------------


def _mark(ok: bool) -> str:
    return "ok" if ok else "MISS"


def table(big: dict[str, Any], small: dict[str, Any], load: dict[str, Any]) -> list[dict[str, Any]]:
    small_queries = {r["label"]: r["queries"] for r in small["results"]}
    rows = []
    for r in big["results"]:
        result = PageResult(**r)
        http = load["pages"].get(result.label, {})
        baseline = result.label.startswith("baseline")
        limit = MAX_RATIO.get(result.kind, 40.0)
        row = {
            "page": result.label,
            "user": result.user,
            "kind": result.kind,
            "status": result.status,
            "queries_100": small_queries.get(result.label),
            "queries_10000": result.queries,
            "median_ms": round(result.median_ms, 1),
            "p95_ms": round(result.p95_ms, 1),
            "ratio": round(result.ratio_to_baseline or 0, 1),
            "http_rps": http.get("rps"),
            "http_p50_ms": http.get("p50_ms"),
            "http_p99_ms": http.get("p99_ms"),
            "http_failures": http.get("failures"),
        }
        checks = []
        if not baseline:
            checks.append(
                _mark(result.queries <= MAX_QUERIES and row["queries_100"] == result.queries)
            )
            checks.append(_mark(row["ratio"] <= limit))
            if result.label in P99_PAGES and http:
                checks.append(_mark(http["p99_ms"] < MAX_P99_MS))
        row["targets"] = " ".join(checks)
        rows.append(row)
    return rows


def print_table(rows: list[dict[str, Any]], out: Any = None) -> None:
    out = out or sys.stdout
    width = max(len(r["page"]) for r in rows)
    head = (f"{'page':<{width}}  {'user':<11} {'q@100':>5} {'q@10k':>5} {'median':>7} "
            f"{'p95':>6} {'×base':>6}   {'rps':>6} {'p50':>5} {'p99':>5}  targets")  # fmt: skip
    print(head, file=out)
    print("-" * len(head), file=out)

    def number(value: Any, fmt: str) -> str:
        return "-" if value is None else format(value, fmt)

    for r in rows:
        print(
            f"{r['page']:<{width}}  {r['user']:<11} {number(r['queries_100'], '>5')} "
            f"{r['queries_10000']:>5} {r['median_ms']:>7.1f} {r['p95_ms']:>6.1f} "
            f"{r['ratio']:>6.1f}   {number(r['http_rps'], '>6.1f')} "
            f"{number(r['http_p50_ms'], '>5.0f')} {number(r['http_p99_ms'], '>5.0f')}  "
            f"{r['targets']}",
            file=out,
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", nargs="?", default="all", choices=["all", "inprocess"])
    parser.add_argument("--reload", action="store_true", help="rebuild both databases")
    parser.add_argument("--runs", type=int, default=20, help="timed requests per page")
    parser.add_argument("--load-seconds", type=int, default=8, help="locust run per page")
    parser.add_argument(
        "--warmup-seconds", type=int, default=3, help="locust run per page before, not counted"
    )
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--database-url", default=BIG_URL)
    parser.add_argument("--small-database-url", default=SMALL_URL)
    parser.add_argument("--patients", type=int, default=10000)
    parser.add_argument("--small-patients", type=int, default=100)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if args.command == "inprocess":
        inprocess(args.database_url, args.runs, args.out)
        return

    started = time.monotonic()
    prepare_database(args.database_url, args.patients, reload=args.reload)
    prepare_database(args.small_database_url, args.small_patients, reload=args.reload)
    print(f"in process, {args.patients} patients ({args.runs} runs per page) …", flush=True)
    big = run_inprocess(args.database_url, args.runs)
    print(f"in process, {args.small_patients} patients (query counts) …", flush=True)
    small = run_inprocess(args.small_database_url, 1)
    load_pages = [Page("baseline: HttpResponse('ok')", "/bench/ok/", user="coordinator")]
    setup_django(args.database_url)  # to list the same pages (no POST under load)
    load_pages += pages(runs=args.runs, with_posts=False)
    print(f"over HTTP, {CONCURRENCY} connections, {args.load_seconds} s per page …", flush=True)
    load = run_load(args.database_url, load_pages, seconds=args.load_seconds,
                    warmup=args.warmup_seconds, workers=args.workers, port=args.port)  # fmt: skip
    rows = table(big, small, load)
    print()
    print_table(rows)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = RESULTS_DIR / f"app-{stamp}.json"
    meta = {
        "when": stamp,
        "cpus": os.cpu_count(),
        "patients": [big["patients"], small["patients"]],
        "runs": args.runs,
        "http": {k: v for k, v in load.items() if k != "pages"},
        "concurrency": CONCURRENCY,
        "locust": shutil.which("locust", path=str(BENCH_VENV / "bin")),
    }
    target.write_text(json.dumps({**meta, "rows": rows}, indent=2))
    print(f"\nwritten to {target} ({time.monotonic() - started:.0f} s in all)")


if __name__ == "__main__":
    main()
