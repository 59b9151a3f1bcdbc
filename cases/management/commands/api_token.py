"""`python manage.py api_token create NAME --scope read|import | revoke NAME | list`.

The administrator's tool for outside systems' tokens (docs/interop.md). ``create`` prints the
token once: only its hash is kept, so it cannot be shown again (revoke it and make another).
"""

from __future__ import annotations

import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand

from cases.interop.tokens import api_token_create, api_token_revoke, api_tokens

BAD_INPUT = 2


class Command(BaseCommand):
    help = "Create, revoke or list the API tokens of outside systems."

    def add_arguments(self, parser):
        commands = parser.add_subparsers(dest="action", required=True)
        create = commands.add_parser("create", help="a new token, printed once")
        create.add_argument("name")
        create.add_argument("--scope", choices=["read", "import"], required=True)
        revoke = commands.add_parser("revoke", help="refuse a token from now on")
        revoke.add_argument("name")
        commands.add_parser("list", help="every token: name, scope, state")

    def handle(self, *args, **options):
        try:
            getattr(self, f"_{options['action']}")(options)
        except ValidationError as error:
            for messages in error.message_dict.values():
                for message in messages:
                    self.stderr.write(f"api_token: {message}")
            sys.exit(BAD_INPUT)

    def _create(self, options):
        made = api_token_create(name=options["name"], scope=options["scope"])
        self.stdout.write(f"Token for {made.token.name} (scope {made.token.scope}):")
        self.stdout.write(made.secret)
        self.stdout.write("It is shown this once only: store it in the other system now.")

    def _revoke(self, options):
        token = api_token_revoke(name=options["name"])
        self.stdout.write(f"Revoked {token.name}.")

    def _list(self, options):
        for token in api_tokens():
            state = f"revoked {token.revoked_at:%Y-%m-%d}" if token.revoked_at else "active"
            self.stdout.write(f"{token.name}\t{token.scope}\t{token.prefix}…\t{state}")
