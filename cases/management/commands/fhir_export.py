"""`python manage.py fhir_export --case TB000123 [--case …] | --all`: cases as FHIR R4 Bundles.

One case prints one Bundle as JSON on standard output; several ``--case`` or ``--all`` print a
JSON list of Bundles, one per case, in one process (docs/interop.md). An unknown case reference
prints a message on standard error and exits with status 2, printing nothing.
"""

from __future__ import annotations

import json
import re
import sys

from django.core.management.base import BaseCommand

from cases import models
from cases.interop.export import case_bundles

BAD_INPUT = 2
REFERENCE = re.compile(r"^TB(\d{1,12})$")


class Command(BaseCommand):
    help = "Export cases as FHIR R4 Bundles with mCODE profiles (docs/interop.md)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--case", action="append", default=[], help="case reference, e.g. TB000123"
        )
        parser.add_argument("--all", action="store_true", help="every case, as a JSON list")

    def handle(self, *args, **options):
        if options["all"] == bool(options["case"]):
            self._fail("give --case TB000123 (one or more) or --all")
        if options["all"]:
            ids = list(models.Case.objects.order_by("pk").values_list("pk", flat=True))
        else:
            ids = [self._case_id(reference) for reference in options["case"]]
        bundles = list(case_bundles(case_ids=ids))
        body = bundles[0] if len(options["case"]) == 1 else bundles
        self.stdout.write(json.dumps(body, ensure_ascii=False))

    def _case_id(self, reference: str) -> int:
        match = REFERENCE.match(reference.strip().upper())
        if match is None or not models.Case.objects.filter(pk=int(match[1])).exists():
            self._fail(f"no case {reference!r} (a reference looks like TB000123)")
        return int(match[1])

    def _fail(self, message: str) -> None:
        self.stderr.write(f"fhir_export: {message}")
        sys.exit(BAD_INPUT)
