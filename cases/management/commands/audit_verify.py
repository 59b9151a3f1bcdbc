"""Check the audit hash chains: ``python manage.py audit_verify``.

Prints ``OK`` and the number of events checked, exit status 0; or, for each broken chain, the
table and the event id (``pgh_id``, ``id`` for the access log) of its first broken link, exit
status 1. ``--expect table=length:hash`` (as the daily log line prints it, repeatable) also
checks that the chain still passes through a head logged earlier. Needs only read access.
"""

from __future__ import annotations

import re

from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from cases.audit import chain

EXPECTED = re.compile(r"^(?P<chain>\w+)=(?P<length>\d+):(?P<head>[0-9a-f]{64})$")


def expected_head(text: str) -> chain.Head:
    match = EXPECTED.match(text.strip().lower())
    if not match:
        raise CommandError(f"--expect takes table=length:sha256hex, not {text!r}")
    return chain.Head(match["chain"], int(match["length"]), match["head"])


class Command(BaseCommand):
    help = "Walk the audit hash chains; exit 1 and name the first broken link of each."

    def add_arguments(self, parser):
        parser.add_argument(
            "--expect",
            action="append",
            default=[],
            metavar="TABLE=LENGTH:HASH",
            help="a chain head logged earlier (by the daily task) that the chain must still have",
        )
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args, **options):
        expected = [expected_head(text) for text in options["expect"]]
        connection = connections[options["database"]]
        with transaction.atomic(using=options["database"]), connection.cursor() as cursor:
            # One snapshot for the whole walk, however long, while others keep writing.
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            if not chain.installed(cursor):
                raise CommandError("The audit chain is not installed: run migrate")
            report = chain.verify(cursor, expected)
        for note in report.notes:
            self.stdout.write(f"note: {note}")
        for broken in report.breaks:
            self.stdout.write(str(broken))
        if not report.ok:
            self.stdout.write(
                f"FAILED: {len(report.breaks)} of {report.chains} chains broken "
                f"({report.checked} events checked)"
            )
            raise SystemExit(1)
        self.stdout.write(f"OK: {report.checked} events checked in {report.chains} chains")
