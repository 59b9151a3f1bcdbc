"""The reports at scale: ``demo_data --patients 100000`` in a database of its own
(``tb_bench_reports``, loaded once; ``--reload`` rebuilds it), then the reports page and each
figure's CSV timed in process through the full middleware stack, signed in as the auditor.

    python bench/reports_bench.py [--patients 100000] [--runs 5] [--reload]

Prints the queries and the median server time of each; nothing is asserted (docs/performance.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.app_bench import prepare_database  # noqa: E402
from bench.harness import Page, setup_django, time_pages  # noqa: E402

URL = "postgres://postgres@127.0.0.1:5432/tb_bench_reports"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--reload", action="store_true")
    parser.add_argument("--database-url", default=URL)
    args = parser.parse_args(argv)
    prepare_database(args.database_url, args.patients, reload=args.reload)
    setup_django(args.database_url)
    from cases.followup.reports.queries import REPORTS

    pages = [Page("reports page (last 12 months)", "/reports/", user="auditor")]
    pages += [Page(f"CSV {slug}", f"/reports/{slug}.csv", user="auditor") for slug in REPORTS]
    results = time_pages(pages, username="auditor", runs=args.runs)
    print(f"{args.patients} patients, {args.runs} runs each (median server time):")
    for r in results:
        ratio = f"{r.ratio_to_baseline:.1f}x" if r.ratio_to_baseline else "-"
        print(f"  {r.label:<34} {r.queries:>3} queries  {r.median_ms:>8.1f} ms  {ratio}")


if __name__ == "__main__":
    main()
