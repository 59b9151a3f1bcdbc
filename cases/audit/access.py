"""Audit: who opened which patient, and who made each change.

Changes themselves are captured by database triggers (django-pghistory, ``@audited`` in
``cases/models.py``): every insert, update and delete of clinical data becomes a row in an
append-only event table, whatever wrote it. What the triggers cannot know is *who*: that comes
from the context set here and copied by the triggers into each event row as JSON:

- web requests: ``{"user": <id>, "url": <path>, "method": ...}`` (``AuditContextMiddleware``);
- Celery tasks: ``{"task": <name>, "task_id": ...}`` (signals connected at start-up, below);
- management commands: ``{"command": <name>}`` (``manage.py`` wraps every command).

An event with no context was made outside the application (e.g. ``psql``): the audit view says
so plainly.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pghistory

from cases.models import CaseAccess

CONTEXT_MAX = CaseAccess._meta.get_field("context").max_length


def access_log_record(*, user: Any, case_id: int, context: str) -> None:
    """Record that ``user`` opened case ``case_id`` on screen ``context`` (e.g. "case-page").

    One INSERT, no transaction of its own: cheap enough for every page that shows a patient.
    """
    if user.pk is None:  # views call this after the login check; nothing to attribute
        return
    CaseAccess.objects.create(user_id=user.pk, case_id=case_id, context=context[:CONTEXT_MAX])


def access_list_record(
    *, user: Any, case_ids: Iterable[int], context: str, patient_id: int | None = None
) -> None:
    """Record one page view that showed patients: the cases listed (search results, a worklist,
    the dashboard) in ``case_ids``, and/or the patient a page names (``patient_id``).

    One INSERT per page view, whatever the number of rows shown; a page that showed nobody
    records nothing.
    """
    ids = list(dict.fromkeys(int(pk) for pk in case_ids))  # each once, in the order shown
    if user.pk is None or (not ids and patient_id is None):
        return
    CaseAccess.objects.create(
        user_id=user.pk, case_ids=ids, patient_id=patient_id, context=context[:CONTEXT_MAX]
    )


# --- Context for writes outside a request ----------------------------------------------------

_task_contexts: dict[str, pghistory.context] = {}


def _task_started(sender: Any = None, task_id: str = "", task: Any = None, **kwargs: Any) -> None:
    context = pghistory.context(task=getattr(task, "name", str(sender)), task_id=task_id)
    context.__enter__()
    _task_contexts[task_id] = context


def _task_finished(task_id: str = "", **kwargs: Any) -> None:
    context = _task_contexts.pop(task_id, None)
    if context is not None:
        context.__exit__(None, None, None)


def connect_task_context() -> None:
    """Label every change a Celery task makes with the task's name (called at app start-up)."""
    from celery.signals import task_postrun, task_prerun

    task_prerun.connect(_task_started, weak=False, dispatch_uid="audit-task-started")
    task_postrun.connect(_task_finished, weak=False, dispatch_uid="audit-task-finished")
