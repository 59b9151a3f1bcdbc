"""``migrate`` as the owner of the schema (DATABASE_MIGRATE_URL), never as the app's role.

Django's own command, run with this process's connection switched to the owner for its length
(``cases.audit.db_roles.as_owner``). The grants, triggers and chain that every migration must
leave behind are put in place after it by the post_migrate handler (``db_roles.after_migrate``).
"""

from django.core.management.commands import migrate

from cases.audit import db_roles


class Command(migrate.Command):
    def handle(self, *args, **options):
        with db_roles.as_owner(options["database"]):
            return super().handle(*args, **options)
