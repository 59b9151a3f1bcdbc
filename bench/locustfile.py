"""One page under load, for bench/app_bench.py (which runs one locust per page).

Every simulated user requests BENCH_PATH again and again with no pause, carrying the session
cookie the benchmark signed in with (BENCH_COOKIE) and the headers in BENCH_HEADERS (JSON), so
the server sees 8 concurrent connections doing nothing but this page. Runs in the benchmark's
own virtualenv (requirements-bench.txt); it does not import the application.
"""

from __future__ import annotations

import json
import os

from locust import FastHttpUser, constant, task

PATH = os.environ["BENCH_PATH"]
HEADERS = {
    **json.loads(os.environ.get("BENCH_HEADERS", "{}")),
    "Cookie": f"{os.environ['BENCH_COOKIE_NAME']}={os.environ['BENCH_COOKIE']}",
}


class PageUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def page(self) -> None:
        with self.client.get(
            PATH, headers=HEADERS, name="page", allow_redirects=False, catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}")
