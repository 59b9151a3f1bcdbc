"""A trivial page for the benchmark harness (bench/harness.py): the cost of the middleware stack
alone, against which real pages are compared. Served only when DEBUG or BENCHMARK_VIEWS is on;
the production profile forces BENCHMARK_VIEWS off and refuses DEBUG."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path
from django.views.decorators.http import require_GET


@require_GET
def ok(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


def benchmark_urlpatterns(settings: Any) -> list[URLPattern]:
    if settings.DEBUG or getattr(settings, "BENCHMARK_VIEWS", False):
        return [path("bench/ok/", ok, name="bench-ok")]
    return []
