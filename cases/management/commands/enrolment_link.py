"""`python manage.py enrolment_link USERNAME`: a one-time two-factor enrolment link, printed once.

For the server's operator: how the first administrator links an authenticator app when there is
no other administrator to issue a link (docs/security.md). Administrators issue links to others
from the admin's user list. The link works once, for that account, for 72 hours.
"""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand

from cases.models import User
from cases.security.accounts import enrolment_link_issue

BAD_INPUT = 2


class Command(BaseCommand):
    help = "Print a one-time two-factor enrolment link for a user (single use, 72 hours)."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, **options):
        user = User.objects.filter(username=options["username"], is_active=True).first()
        if user is None:
            self.stderr.write(f"enrolment_link: no active user is named {options['username']!r}.")
            sys.exit(BAD_INPUT)
        self.stdout.write(enrolment_link_issue(user=user, issued_by=None))
