"""``flush`` as the owner of the schema: it truncates every table, and the app's role may
truncate none. The audit chains of the emptied tables start again (a TRUNCATE trigger)."""

from django.core.management.commands import flush

from cases.audit import db_roles


class Command(flush.Command):
    def handle(self, **options):
        with db_roles.as_owner(options["database"]):
            return super().handle(**options)
