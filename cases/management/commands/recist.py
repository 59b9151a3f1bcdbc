"""`python manage.py recist [FILE|-]`: RECIST 1.1 response on JSON, per recist-contract.md.

Reads one JSON series, or a list of them, from FILE or standard input; prints the response (one
object, or a list in the same order) to standard output. Bad input prints one line per problem,
naming the series index and the field, to standard error, nothing to standard output, and exits
with status 2.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal

from django.core.management.base import BaseCommand

from cases.pathway.recist import RecistInputError, recist_json, to_json

BAD_INPUT = 2


class Command(BaseCommand):
    help = "RECIST 1.1 response of measured lesions on JSON series (recist-contract.md)."
    requires_system_checks = []  # pure computation: no database, no checks needed

    def add_arguments(self, parser):
        parser.add_argument(
            "file", nargs="?", default="-", help="JSON file of series, or - for standard input"
        )

    def handle(self, *args, **options):
        try:
            # Numbers as exact decimals: 12.3 + 17.8 must be exactly 30.1.
            payload = json.loads(
                self._read(options["file"]), parse_float=Decimal, parse_int=Decimal
            )
        except OSError as error:
            self._fail([f"cannot read {options['file']}: {error.strerror}"])
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            self._fail([f"input is not valid JSON: {error}"])
        except RecursionError:
            self._fail(["input is nested too deeply to be a series"])
        try:
            result = recist_json(payload)
        except RecistInputError as error:
            self._fail([str(problem) for problem in error.problems])
        self.stdout.write(to_json(result))

    @staticmethod
    def _read(path: str) -> str:
        if path == "-":
            return sys.stdin.read()
        with open(path, encoding="utf-8") as handle:
            return handle.read()

    def _fail(self, lines: list[str]) -> None:
        for line in lines:
            self.stderr.write(f"recist: {line}")
        sys.exit(BAD_INPUT)
