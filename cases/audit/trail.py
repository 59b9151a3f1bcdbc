"""Reading the audit trail: one case's full history of changes, with before and after.

The events come from the append-only tables the database triggers fill (``@audited`` in
``cases/models.py``). Each event holds a full snapshot of the row, so "before" is the previous
snapshot of the same row and "after" is this one. Who made the change is the context JSON the
trigger copied into the event (``cases/audit/access.py``).

A case's history covers the case and its patient, every row hanging off the case (results,
reassessments, treatment and doses, radiotherapy, surgery, actions, reminders, agenda items and
their decisions) and the meetings it was discussed at (status, attendance), including rows that
were deleted since. It takes two queries (the events, then the people they name) whatever its
length.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models as db
from django.db.models import Q
from django.utils import timezone
from django.utils.text import capfirst

from cases import models
from cases.audit.sessions import Session, describe_session, event_rows, sessions_of
from cases.common.json_rows import instances

# Bookkeeping columns that change with every edit and say nothing on their own.
SKIPPED_FIELDS = {"id", "version", "created_at", "updated_at"}

ACTIONS = {"insert": "created", "update": "changed", "delete": "deleted"}


@dataclass(frozen=True)
class Change:
    field: str
    before: str
    after: str


@dataclass
class HistoryEntry:
    at: datetime
    what: str  # "Molecular result 12"
    action: str  # created / changed / deleted
    who: str
    where: str
    changes: list[Change] = field(default_factory=list)
    # The database session that wrote the event, as PostgreSQL recorded it (cases/audit/).
    session: Session | None = None


@dataclass
class CaseHistory:
    entries: list[HistoryEntry]
    event_count: int


# The tables whose rows hang off the case itself.
BY_CASE = (
    models.MolecularResult,
    models.Reassessment,
    models.TreatmentCourse,
    models.Radiotherapy,
    models.Surgery,
    models.AgendaItem,
    models.Action,
    models.Reminder,
)


def _events_of(model: type[db.Model]) -> db.QuerySet[Any]:
    return model.pgh_event_model.objects  # type: ignore[attr-defined,no-any-return]


def _gather(case_id: int) -> list[tuple[type[db.Model], list[Any]]]:
    """Every event that belongs to the case, model by model (deleted rows included), oldest
    first: one query, each event table's rows as a JSON array (``cases/common/json_rows.py``),
    each event with its database session as ``event.db_session``."""
    items = _events_of(models.AgendaItem).filter(case_id=case_id)
    filters: dict[type[db.Model], dict[str, Any]] = {
        models.Patient: {
            "pgh_obj_id__in": _events_of(models.Case)
            .filter(pgh_obj_id=case_id)
            .values("patient_id")
        },
        models.Case: {"pgh_obj_id": case_id},
        **{model: {"case_id": case_id} for model in BY_CASE},
        models.AgentAdministration: {
            "course_id__in": _events_of(models.TreatmentCourse)
            .filter(case_id=case_id)
            .values("pgh_obj_id")
        },
        models.Decision: {"agenda_item_id__in": items.values("pgh_obj_id")},
        models.Meeting: {"pgh_obj_id__in": items.values("meeting_id")},
        models.Attendance: {"meeting_id__in": items.values("meeting_id")},
    }
    arrays = {
        f"events_{n}": event_rows(model.pgh_event_model, **where)  # type: ignore[attr-defined]
        for n, (model, where) in enumerate(filters.items())
    }
    # Any one row will do to carry the arrays: the content type of cases always exists.
    row = ContentType.objects.filter(app_label="cases", model="case").values(**arrays).get()
    gathered = []
    for n, model in enumerate(filters):
        events = instances(model.pgh_event_model, row[f"events_{n}"])  # type: ignore[attr-defined]
        for event, session in zip(events, sessions_of(row[f"events_{n}"]), strict=True):
            event.db_session = session
        gathered.append((model, events))
    return gathered


def change_log(case_id: int) -> CaseHistory:
    gathered = _gather(case_id)
    users = _users_named_in(gathered)
    entries = []
    for model, events in gathered:
        fields = _compared_fields(model)
        previous: dict[int, Any] = {}
        for event in events:
            before = previous.get(event.pgh_obj_id)
            who = describe_actor(event.pgh_context, users)
            claimed = who if (event.pgh_context or {}).get("user") else None
            entries.append(
                HistoryEntry(
                    at=event.pgh_created_at,
                    what=f"{model._meta.verbose_name.capitalize()} {event.pgh_obj_id}",
                    action=ACTIONS.get(event.pgh_label, event.pgh_label),
                    who=who,
                    where=describe_place(event.pgh_context),
                    changes=_diff(fields, before, event, users),
                    session=describe_session(event.db_session, claimed),
                )
            )
            previous[event.pgh_obj_id] = event
    entries.sort(key=lambda entry: entry.at)  # stable: keeps the order within one model
    return CaseHistory(entries=entries, event_count=len(entries))


def _compared_fields(model: type[db.Model]) -> list[db.Field[Any, Any]]:
    return [
        f
        for f in model._meta.concrete_fields
        if f.name not in SKIPPED_FIELDS and f.name not in {"password", "last_login"}
    ]


def _diff(
    fields: list[db.Field[Any, Any]], before: Any, after: Any, users: dict[int, str]
) -> list[Change]:
    """Fields whose value differs between two snapshots. A delete shows the row as it was."""
    changes = []
    deleted = after.pgh_label == "delete"
    for f in fields:
        old = _value(before, f) if before is not None else None
        new = _value(after, f)
        if deleted:
            changes.append(Change(_label(f), _display(f, new, users), ""))
        elif before is None:
            if new not in (None, "", []):
                changes.append(Change(_label(f), "", _display(f, new, users)))
        elif old != new:
            changes.append(Change(_label(f), _display(f, old, users), _display(f, new, users)))
    return changes


def _label(f: db.Field[Any, Any]) -> str:
    return capfirst(str(f.verbose_name).replace("nhs ", "NHS "))


def _value(event: Any, f: db.Field[Any, Any]) -> Any:
    return getattr(event, f.attname)


def _display(f: db.Field[Any, Any], value: Any, users: dict[int, str]) -> str:
    if value is None or value == "":
        return "—"
    if f.is_relation:
        if f.related_model is models.User:
            return users.get(value, f"user {value}")
        return f"{f.related_model._meta.verbose_name} {value}"  # type: ignore[union-attr]
    if isinstance(f, db.JSONField):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, list):  # an ArrayField of choices, e.g. a course's agents
        labels = dict(getattr(getattr(f, "base_field", None), "flatchoices", None) or [])
        return ", ".join(str(labels.get(item, item)) for item in value) or "—"
    choices = dict(f.flatchoices or [])
    if value in choices:
        return str(choices[value])
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%d %b %Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d %b %Y")
    return str(value)


def _users_named_in(gathered: list[tuple[type[db.Model], list[Any]]]) -> dict[int, str]:
    """One query for every user an event names, as actor or in a user field."""
    ids: set[int] = set()
    for model, events in gathered:
        user_fields = [
            f.attname for f in model._meta.concrete_fields if f.related_model is models.User
        ]
        for event in events:
            actor = (event.pgh_context or {}).get("user")
            if isinstance(actor, int):
                ids.add(actor)
            ids.update(getattr(event, name) for name in user_fields if getattr(event, name))
    return {user.pk: describe_user(user) for user in models.User.objects.filter(pk__in=ids)}


def describe_user(user: models.User) -> str:
    name = user.get_full_name()
    return f"{name} ({user.username})" if name else user.username


def describe_actor(context: dict[str, Any] | None, users: dict[int, str]) -> str:
    """Who made the change, in words an auditor can use."""
    context = context or {}
    if context.get("user"):
        return users.get(context["user"], f"user {context['user']}")
    if context.get("task"):
        return f"background task {context['task']}"
    if context.get("command"):
        return f"command manage.py {context['command']}"
    if context.get("url"):
        return "not signed in"
    return "outside the application (direct database change)"


def describe_place(context: dict[str, Any] | None) -> str:
    context = context or {}
    if context.get("url"):
        return f"{context.get('method', '')} {context['url']}".strip()
    return ""


def overrides_and_deviations(case_id: int) -> db.QuerySet[models.Decision]:
    """Every decision on the case that overrode a hard stop, was taken after a fact corrected
    in the meeting cleared one, departed from the recommendation, or corrected an earlier
    decision."""
    return (
        models.Decision.objects.filter(agenda_item__case_id=case_id)
        .filter(
            ~Q(overridden_hard_stops=[])
            | ~Q(corrected_facts=[])
            | Q(follows_recommendation=False)
            | Q(supersedes__isnull=False)
        )
        .select_related("recorded_by", "agenda_item__meeting")
        .order_by("recorded_at", "id")
    )
