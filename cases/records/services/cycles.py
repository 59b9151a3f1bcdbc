"""Cycles of a treatment course as given, and the toxicities they caused (CTCAE v5.0).

A cycle writes one dose (``AgentAdministration``) per agent given, linked to it, in the same
transaction: the last bevacizumab dose, which every rule, worklist and reminder reads from the
doses, therefore comes from the cycles wherever cycles are recorded. Correcting a cycle rewrites
its doses; its doses are not edited one by one.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

from cases import models
from cases.records.services.checks import (
    Problems,
    check_version,
    fmt,
    local_today,
    save_row,
    update_row,
)
from cases.reminders.planning import reminders_sync_for_case
from cases.security.permissions import Capability, require

CYCLE_FIELDS = (
    "number",
    "given_on",
    "agents",
    "dose_reduction_percent",
    "delay_days",
    "delay_reason",
    "note",
)


def _check_cycle(
    p: Problems,
    course: models.TreatmentCourse,
    *,
    cycle_id: int | None,
    number: int | None,
    given_on: dt.date | None,
    agents: list[str],
    dose_reduction_percent: int | None,
    delay_days: int | None,
    delay_reason: str,
    note: str,
    today: dt.date,
) -> None:
    if number is None or not 1 <= number <= 200:
        p.add("number", "A cycle number is between 1 and 200.")
    p.date("given_on", given_on, label="Day 1", today=today, past_only=True, required=True)
    p.not_before(
        "given_on",
        given_on,
        course.started_on,
        f"The course started on {fmt(course.started_on)}, after this cycle.",
    )
    if given_on and course.stopped_on and given_on > course.stopped_on and "given_on" not in p:
        p.add("given_on", f"The course stopped on {fmt(course.stopped_on)}, before this cycle.")
    if not agents:
        p.add("agents", "Tick the agents given in this cycle.")
    for agent in agents:
        if agent not in course.agents:
            label = models.Agent(agent).label if agent in models.Agent.values else agent
            p.add("agents", f"{label} is not part of this course: add it to the course first.")
    if dose_reduction_percent is not None and not 0 < dose_reduction_percent < 100:
        p.add("dose_reduction_percent", "A dose reduction is from 1 to 99 %.")
    if delay_days is not None and not 0 < delay_days <= 365:
        p.add("delay_days", "A delay is from 1 to 365 days.")
    p.text("delay_reason", delay_reason, label="Delay reason", max_length=200, required=False)
    if delay_reason.strip() and delay_days is None:
        p.add("delay_days", "Give the delay in days, or leave the reason empty.")
    p.text("note", note, label="Note", max_length=300, required=False)
    if "bevacizumab" in agents and given_on is not None and "given_on" not in p:
        operation = (
            models.Surgery.objects.filter(case_id=course.case_id, performed_on__lt=given_on)
            .order_by("-performed_on")
            .first()
        )
        if operation is not None and not note.strip():
            p.add(
                "note",
                f"Bevacizumab after the operation on {fmt(operation.performed_on)} "
                "(wound healing): say why it was given, e.g. restarted after recovery.",
            )
    if "number" not in p:
        same = models.TreatmentCycle.objects.filter(course=course, number=number)
        if same.exclude(pk=cycle_id).exists():
            p.add("number", f"Cycle {number} of this course is already recorded.")
    if given_on is not None and "given_on" not in p:
        same_day = models.TreatmentCycle.objects.filter(course=course, given_on=given_on)
        if same_day.exclude(pk=cycle_id).exists():
            p.add("given_on", f"A cycle on {fmt(given_on)} is already recorded for this course.")
        loose = models.AgentAdministration.objects.filter(
            course=course, given_on=given_on, agent__in=agents
        )
        if cycle_id is not None:
            loose = loose.exclude(cycle_id=cycle_id)
        first = loose.first()
        if first is not None:
            p.add(
                "given_on",
                f"A {first.get_agent_display()} dose on {fmt(given_on)} is already recorded "
                "for this course.",
            )


def _clean(fields: dict[str, Any]) -> dict[str, Any]:
    fields = {name: fields.get(name) for name in CYCLE_FIELDS}
    fields["agents"] = list(fields["agents"] or [])
    fields["delay_reason"] = (fields["delay_reason"] or "").strip()
    fields["note"] = (fields["note"] or "").strip()
    return fields


def _write_doses(cycle: models.TreatmentCycle) -> None:
    models.AgentAdministration.objects.filter(cycle=cycle).delete()
    models.AgentAdministration.objects.bulk_create(
        models.AgentAdministration(
            course_id=cycle.course_id,
            cycle=cycle,
            agent=agent,
            given_on=cycle.given_on,
            cycle_number=cycle.number,
            note=cycle.note,
        )
        for agent in cycle.agents
    )


@transaction.atomic
def cycle_create(*, user: Any, course_id: int, **fields: Any) -> models.TreatmentCycle:
    """Record a cycle and its doses. Fields: ``CYCLE_FIELDS``."""
    require(user, Capability.EDIT_CASES)
    course = models.TreatmentCourse.objects.select_for_update().get(pk=course_id)
    fields = _clean(fields)
    p = Problems()
    _check_cycle(p, course, cycle_id=None, today=local_today(), **fields)
    p.raise_if_any()
    fields["agents"] = sorted(set(fields["agents"]), key=models.Agent.values.index)
    cycle = models.TreatmentCycle(course=course, **fields)
    save_row(cycle)
    _write_doses(cycle)
    reminders_sync_for_case(case_id=course.case_id)
    return cycle


@transaction.atomic
def cycle_update(
    *, user: Any, cycle_id: int, expected_version: int, **fields: Any
) -> models.TreatmentCycle:
    require(user, Capability.EDIT_CASES)
    cycle = models.TreatmentCycle.objects.select_related("course").get(pk=cycle_id)
    fields = _clean(fields)
    p = Problems()
    _check_cycle(p, cycle.course, cycle_id=cycle_id, today=local_today(), **fields)
    p.raise_if_any()
    fields["agents"] = sorted(set(fields["agents"]), key=models.Agent.values.index)
    update_row(
        models.TreatmentCycle,
        pk=cycle_id,
        expected_version=check_version(expected_version),
        changes=fields,
    )
    cycle = models.TreatmentCycle.objects.get(pk=cycle_id)
    _write_doses(cycle)
    reminders_sync_for_case(case_id=cycle.course.case_id)
    return cycle


# --- Toxicity --------------------------------------------------------------------------------

TOXICITY_FIELDS = ("cycle_id", "term", "grade", "noted_on", "note")


def _check_toxicity(
    p: Problems,
    course: models.TreatmentCourse,
    *,
    cycle_id: int | None,
    term: str,
    grade: int | None,
    noted_on: dt.date | None,
    note: str,
    today: dt.date,
) -> None:
    p.choice("term", term, models.CtcaeTerm)
    low, high = models.CTCAE_GRADES.get(term, (1, 5))
    if grade is None or not low <= grade <= high:
        label = models.CtcaeTerm(term).label if term in models.CtcaeTerm.values else "A toxicity"
        p.add("grade", f"{label} is graded {low} to {high} in CTCAE v5.0.")
    p.date("noted_on", noted_on, label="Date noted", today=today, past_only=True, required=True)
    p.not_before(
        "noted_on",
        noted_on,
        course.started_on,
        f"The course started on {fmt(course.started_on)}, after this date.",
    )
    p.text("note", note, label="Note", max_length=200, required=term == models.CtcaeTerm.OTHER)
    if cycle_id is not None and not course.cycles.filter(pk=cycle_id).exists():
        p.add("cycle_id", "That cycle is not part of this course.")


@transaction.atomic
def toxicity_create(*, user: Any, course_id: int, **fields: Any) -> models.Toxicity:
    """Record a toxicity. Fields: ``TOXICITY_FIELDS``."""
    require(user, Capability.EDIT_CASES)
    course = models.TreatmentCourse.objects.get(pk=course_id)
    fields = {name: fields.get(name) for name in TOXICITY_FIELDS}
    fields["note"] = (fields["note"] or "").strip()
    p = Problems()
    _check_toxicity(p, course, today=local_today(), **fields)
    p.raise_if_any()
    row = models.Toxicity(course=course, **fields)
    save_row(row)
    return row


@transaction.atomic
def toxicity_update(
    *, user: Any, toxicity_id: int, expected_version: int, **fields: Any
) -> models.Toxicity:
    require(user, Capability.EDIT_CASES)
    row = models.Toxicity.objects.select_related("course").get(pk=toxicity_id)
    fields = {name: fields.get(name) for name in TOXICITY_FIELDS}
    fields["note"] = (fields["note"] or "").strip()
    p = Problems()
    _check_toxicity(p, row.course, today=local_today(), **fields)
    p.raise_if_any()
    update_row(
        models.Toxicity,
        pk=toxicity_id,
        expected_version=check_version(expected_version),
        changes=fields,
    )
    return models.Toxicity.objects.get(pk=toxicity_id)
