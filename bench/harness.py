"""In-process page timer: how long pages take on the server, through the full middleware stack.

Each page is requested N times through Django's test Client as a signed-in user (sessions, CSRF,
login-required, CSP, htmx middleware all run). For each page it reports the status, the queries
per request, the median and 95th-percentile server time, and the ratio of the median to a
minimal view (``HttpResponse("ok")`` at /bench/ok/, same middleware) — the ratio is what the page
itself costs, and travels better between machines than milliseconds. Results are printed and
written as JSON to bench/results/.

    python bench/harness.py --user coordinator --runs 30 / /cases/ "/worklists/actions/panel/|htmx"

A path suffixed with ``|htmx`` is requested as htmx does (HX-Request header). Set DATABASE_URL
to the database to measure. As a library (see bench/dashboard_bench.py and bench/app_bench.py,
which also signs in as several roles and times POSTs, each on a fresh object)::

    from bench.harness import Page, setup_django, time_pages, print_table, write_results

Benchmarks print figures; nothing here asserts a threshold.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "bench" / "results"
BASELINE_PATH = "/bench/ok/"


@dataclass(frozen=True)
class Page:
    """One page to time. ``user`` signs in for it; a POST page names one request per timed
    iteration in ``posts`` (path, form data), because a POST changes what it posts to."""

    label: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    user: str = ""  # empty: the user given to time_pages
    kind: str = "page"  # page or partial (htmx): the two have different targets
    posts: tuple[tuple[str, dict[str, Any]], ...] = ()
    # Run before each request, untimed: e.g. empty the panel cache, as a clinical write would.
    before_each: Callable[[], None] | None = None

    @classmethod
    def parse(cls, spec: str) -> Page:
        """``/path`` or ``/path|htmx`` (requested with the HX-Request header)."""
        path, _, flag = spec.partition("|")
        headers = {"HX-Request": "true"} if flag == "htmx" else {}
        return cls(label=spec, path=path, headers=headers)


@dataclass
class PageResult:
    label: str
    path: str
    status: int
    queries: int
    runs: int
    median_ms: float
    p95_ms: float
    min_ms: float
    bytes: int
    ratio_to_baseline: float | None = None
    user: str = ""
    kind: str = "page"
    samples: list[float] = field(default_factory=list)  # each timed request, in ms


def setup_django(database_url: str | None = None) -> None:
    """Configure Django for in-process requests. Must run before any Django import."""
    sys.path.insert(0, str(ROOT))
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tumourboard.settings")
    os.environ["BENCHMARK_VIEWS"] = "true"  # serves the baseline page
    import django

    django.setup()


def _client(username: str) -> Any:
    from django.contrib.auth import get_user_model
    from django.test import Client

    user = get_user_model().objects.get(username=username)
    # A host from ALLOWED_HOSTS, so the request passes host validation like a real one.
    client = Client(SERVER_NAME="127.0.0.1")
    client.force_login(user)
    return client


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def posts_needed(*, runs: int, warmup: int = 2) -> int:
    """How many distinct POSTs a POST page needs: one per request time_page makes."""
    return max(warmup, 1) + runs


def time_page(client: Any, page: Page, *, runs: int, warmup: int = 2) -> PageResult:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if page.posts and len(page.posts) < posts_needed(runs=runs, warmup=warmup):
        raise ValueError(f"{page.label}: needs {posts_needed(runs=runs, warmup=warmup)} posts")
    requests = iter(page.posts)

    def request() -> Any:
        if page.posts:
            path, data = next(requests)
            return client.post(path, data, headers=page.headers)
        return client.get(page.path, headers=page.headers)

    def prepare() -> None:
        if page.before_each is not None:
            page.before_each()

    prepare()
    with CaptureQueriesContext(connection) as queries:
        response = request()
    # Read the count now: the next request resets the connection's query log.
    query_count = len(queries)
    for _ in range(max(warmup - 1, 0)):
        prepare()
        request()
    samples = []
    for _ in range(runs):
        prepare()
        started = time.perf_counter()
        request()
        samples.append((time.perf_counter() - started) * 1000)
    return PageResult(
        label=page.label,
        path=page.path,
        status=response.status_code,
        queries=query_count,
        runs=runs,
        samples=samples,
        median_ms=statistics.median(samples),
        p95_ms=_percentile(samples, 0.95),
        min_ms=min(samples),
        bytes=len(response.content),
        user=page.user,
        kind=page.kind,
    )


def time_pages(pages: list[Page], *, username: str, runs: int = 20) -> list[PageResult]:
    """Time every page, and the baseline before and between them; each result carries its ratio
    to the baseline's median over the whole run.

    Each page is requested as its own ``user`` (or ``username``), signed in once per user.
    """
    clients: dict[str, Any] = {}

    def client_for(user: str) -> Any:
        if user not in clients:
            clients[user] = _client(user)
        return clients[user]

    baseline_page = Page("baseline: HttpResponse('ok')", BASELINE_PATH, user=username)
    baseline = time_page(client_for(username), baseline_page, runs=runs)
    if baseline.status != 200:
        raise SystemExit(f"the baseline page answered {baseline.status}: is BENCHMARK_VIEWS on?")
    results = [baseline]
    for page in pages:
        user = page.user or username
        result = time_page(client_for(user), page, runs=runs)
        result.user = user
        results.append(result)
        # The machine's speed drifts during a run: the baseline is timed again after every
        # page, and every ratio is to the median of all its samples.
        baseline.samples += time_page(client_for(username), baseline_page, runs=5).samples
    baseline.median_ms = statistics.median(baseline.samples)
    baseline.p95_ms = _percentile(baseline.samples, 0.95)
    baseline.min_ms = min(baseline.samples)
    baseline.runs = len(baseline.samples)
    for result in results:
        result.ratio_to_baseline = result.median_ms / baseline.median_ms
    return results


def print_table(results: list[PageResult], out: Any = None) -> None:
    out = out or sys.stdout
    width = max(len(r.label) for r in results)
    print(f"{'page':<{width}}  status  queries  median ms  p95 ms  × baseline", file=out)
    for r in results:
        ratio = f"{r.ratio_to_baseline:.1f}" if r.ratio_to_baseline is not None else "-"
        print(
            f"{r.label:<{width}}  {r.status:>6}  {r.queries:>7}  {r.median_ms:>9.1f}  "
            f"{r.p95_ms:>6.1f}  {ratio:>10}",
            file=out,
        )


def write_results(name: str, results: list[PageResult], meta: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = RESULTS_DIR / f"{name}-{stamp}.json"
    payload = {
        "name": name,
        "when": stamp,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        **meta,
        "results": [asdict(r) for r in results],
    }
    target.write_text(json.dumps(payload, indent=2))
    return target


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", help="paths to time; suffix |htmx for htmx requests")
    parser.add_argument("--user", default="coordinator", help="username to sign in as")
    parser.add_argument("--runs", type=int, default=20, help="timed requests per page")
    parser.add_argument("--name", default="pages", help="name of the JSON results file")
    args = parser.parse_args(argv)
    setup_django()
    results = time_pages([Page.parse(p) for p in args.paths], username=args.user, runs=args.runs)
    print_table(results)
    print(f"written to {write_results(args.name, results, {'user': args.user})}")


if __name__ == "__main__":
    main()
