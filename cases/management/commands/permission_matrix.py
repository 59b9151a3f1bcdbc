"""Print the role permission matrix as the Markdown table docs/security.md carries.

    python manage.py permission_matrix

A test compares docs/security.md with this output, so the documented matrix is the enforced one.
"""

from django.core.management.base import BaseCommand

from cases.security.permissions import matrix_markdown


class Command(BaseCommand):
    help = "Print the role permission matrix (Markdown) from cases/permissions.py."

    def handle(self, *args, **options):
        self.stdout.write(matrix_markdown(), ending="")
