"""How long `manage.py fhir_export --all` takes for 1,000 cases (the issue's target: < 60 s).

    DATABASE_URL=... python bench/fhir_bench.py [--cases 1000]

Loads a demo cohort of that size into an EMPTY database (it refuses one with patients), then
runs the command in its own process and prints the wall time and the bundles' size.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=1000)
    args = parser.parse_args()
    manage = [sys.executable, str(ROOT / "manage.py")]
    env = {**os.environ}
    subprocess.run([*manage, "migrate", "-v0"], check=True, env=env)
    subprocess.run(
        [*manage, "demo_data", "--patients", str(args.cases), "--if-empty"], check=True, env=env
    )
    started = time.monotonic()
    done = subprocess.run(
        [*manage, "fhir_export", "--all"], check=True, env=env, capture_output=True
    )
    elapsed = time.monotonic() - started
    bundles = json.loads(done.stdout)
    resources = sum(len(b["entry"]) for b in bundles)
    print(
        f"fhir_export --all: {len(bundles)} cases, {resources} resources, "
        f"{len(done.stdout) / 1e6:.1f} MB in {elapsed:.1f} s "
        f"({elapsed / max(len(bundles), 1) * 1000:.1f} ms a case)"
    )


if __name__ == "__main__":
    main()
