"""`python manage.py fhir_import FILE|-`: a referral bundle → a matched or new patient and case.

On success prints the patient and case reference as JSON on standard output and exits 0. On a
refused bundle prints a FHIR ``OperationOutcome`` (every problem) as JSON on standard output,
writes nothing and exits with status 2. The size limit (``FHIR_MAX_BUNDLE_BYTES``, 10 MB) holds
here as for ``POST /fhir/Bundle``: the command never reads more than one byte past it.
"""

from __future__ import annotations

import json
import sys

from django.conf import settings
from django.core.management.base import BaseCommand

from cases.interop.imports import ImportRefused, bundle_import
from cases.interop.validation import Problem, operation_outcome

BAD_INPUT = 2


class Command(BaseCommand):
    help = "Import a FHIR referral bundle (docs/interop.md)."

    def add_arguments(self, parser):
        parser.add_argument("file", help="the bundle as JSON, or - for standard input")

    def handle(self, *args, **options):
        try:
            raw = self._read(options["file"], settings.FHIR_MAX_BUNDLE_BYTES + 1)
        except OSError as error:
            self._refuse([Problem("exception", "", f"Cannot read the file: {error.strerror}.")])
        try:
            result = bundle_import(raw=raw, token=None)
        except ImportRefused as refused:
            self._refuse(refused.problems)
        self.stdout.write(json.dumps(result.as_json(), ensure_ascii=False))

    @staticmethod
    def _read(path: str, limit: int) -> bytes:
        if path == "-":
            return sys.stdin.buffer.read(limit)
        with open(path, "rb") as handle:
            return handle.read(limit)

    def _refuse(self, problems: list[Problem]) -> None:
        self.stdout.write(json.dumps(operation_outcome(problems), ensure_ascii=False))
        sys.exit(BAD_INPUT)
