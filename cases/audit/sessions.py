"""What the auditor is shown of the database session behind each event.

The context of an event (``pgh_context``: which user, which URL) is whatever the writing session
put in a setting, and any session can put anything there. The session itself is recorded by
PostgreSQL when the event is written (``cases/audit/chain.py``): the role, the login role and
the client address, where the app's role cannot write. The auditor sees both side by side, and
an event written by anyone but the application (another role, or a direct INSERT into an event
table) is flagged: "context claims Dr A but the database session was role X from address Y".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.postgres.expressions import ArraySubquery
from django.db import models
from django.db.models import Expression

# Under this key, each event row read by ``event_rows`` carries its session.
SESSION_KEY = "_db_session"


class _RowWithSession(Expression):
    """``to_jsonb(t)`` for the query's event table, plus the session that wrote the row."""

    output_field = models.JSONField()

    def __init__(self, table: str, id_column: str) -> None:
        super().__init__()
        self.table, self.id_column = table, id_column

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        alias = compiler.quote_name(compiler.query.get_initial_alias())
        id_column = compiler.quote_name(self.id_column)
        # Only quoted identifiers are put in the text; the values are parameters.
        lookup = "SELECT to_jsonb(s) FROM audit_event_session s WHERE s.chain = %s AND s.event_id"
        session = f"({lookup} = {alias}.{id_column} LIMIT 1)"
        return f"to_jsonb({alias}) || jsonb_build_object(%s, {session})", [SESSION_KEY, self.table]


def event_rows(event_model: type[models.Model], **filters: Any) -> ArraySubquery:
    """``cases.common.json_rows.json_rows`` for an event table, each row with its session: the same
    query, one indexed lookup more per event."""
    order_by = [t for t in event_model._meta.ordering if t.lstrip("-") not in filters]
    rows = event_model._default_manager.filter(**filters).order_by(*order_by, "pk")
    return ArraySubquery(rows.values(row=_RowWithSession(event_model._meta.db_table, "pgh_id")))


def sessions_of(rows: list[dict[str, Any]] | None) -> list[dict[str, Any] | None]:
    return [row.get(SESSION_KEY) for row in rows or []]


@dataclass(frozen=True)
class Session:
    text: str
    flagged: bool  # not written by the application as the application writes


def _address(session: dict[str, Any]) -> str:
    address = session.get("db_client_addr")
    return address.split("/")[0] if address else "a local socket"


def _who(session: dict[str, Any]) -> str:
    role, login = session["db_role"], session.get("db_session_user")
    who = f"role {role}"
    if login and login != role:
        who += f" (signed in to the database as {login})"
    return f"{who} from {_address(session)}"


def describe_session(session: dict[str, Any] | None, claimed: str | None) -> Session:
    """``claimed``: the user the event's context names, in words (None when it names none)."""
    if session is None:
        return Session("in no link of the audit chain: written with the chain switched off", True)
    if session.get("db_role") is None:
        return Session("written before the audit chain began: database session not recorded", False)
    if session.get("by_trigger") is False:
        return Session(
            f"inserted straight into the event table by {_who(session)}, not by the audit trigger",
            True,
        )
    if session["db_role"] != settings.DATABASE_APP_ROLE:
        if claimed:
            return Session(
                f"context claims {claimed} but the database session was {_who(session)}", True
            )
        return Session(f"database session: {_who(session)}, not the application's role", True)
    return Session(f"database session: the application's {_who(session)}", False)
