"""`python manage.py advise [FILE|-]`: the guideline engine on JSON, per pathway-spec §F.

Reads one JSON object of A.1 inputs, or a list of them, from FILE or standard input; prints the
advice (one object, or a list in the same order) to standard output. Bad input prints a message
naming the key to standard error, nothing to standard output, and exits with status 2.
"""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand

from cases.common.constants import rule_constants
from cases.pathway import InputError, advise_json

BAD_INPUT = 2


class Command(BaseCommand):
    help = "Run the guideline engine on JSON inputs (pathway-spec §F)."
    requires_system_checks = []  # pure computation: no database, no checks needed

    def add_arguments(self, parser):
        parser.add_argument(
            "file", nargs="?", default="-", help="JSON file of inputs, or - for standard input"
        )

    def handle(self, *args, **options):
        try:
            payload = json.loads(self._read(options["file"]))
        except OSError as error:
            self._fail(f"cannot read {options['file']}: {error.strerror}")
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            self._fail(f"input is not valid JSON: {error}")
        except RecursionError:
            self._fail("input is nested too deeply to be case data")
        try:
            result = advise_json(payload, rule_constants())
        except InputError as error:
            self._fail(error.message)
        self.stdout.write(json.dumps(result, indent=2, ensure_ascii=False))

    @staticmethod
    def _read(path: str) -> str:
        if path == "-":
            return sys.stdin.read()
        with open(path, encoding="utf-8") as handle:
            return handle.read()

    def _fail(self, message: str) -> None:
        self.stderr.write(f"advise: {message}")
        sys.exit(BAD_INPUT)
