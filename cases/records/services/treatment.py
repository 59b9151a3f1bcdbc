"""Systemic treatment: courses and the doses given (the last bevacizumab dose is read from
the doses, never typed)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db import transaction

from cases import models
from cases.pathway import Backbone
from cases.pathway.regimens import BACKBONE_AGENTS
from cases.records.services.checks import (
    Problems,
    check_version,
    fmt,
    local_today,
    save_row,
    update_row,
)
from cases.records.services.reassessments import reassessment_open_next
from cases.reminders.planning import reminders_sync_for_case
from cases.security.permissions import Capability, require


def _check_course(
    p: Problems,
    case: models.Case,
    *,
    course_id: int | None,
    intent: str,
    backbone: str,
    agents: Iterable[str],
    started_on: dt.date | None,
    stopped_on: dt.date | None,
    stop_reason: str,
    today: dt.date,
    line: int | None = 1,
    planned_cycles: int | None = None,
    stop_cause: str = "",
    bevacizumab_last_planned_on: dt.date | None = None,
) -> None:
    agents = list(agents)
    if line is None or not 1 <= line <= 20:
        p.add("line", "The line of therapy is from 1 to 20.")
    if planned_cycles is not None and not 1 <= planned_cycles <= 100:
        p.add("planned_cycles", "Planned cycles are from 1 to 100.")
    p.choice("stop_cause", stop_cause, models.StopCause, blank=True)
    if stop_cause and stopped_on is None:
        p.add("stopped_on", "Give the date the course stopped.")
    p.choice("intent", intent, models.Intent)
    p.choice("backbone", backbone, models.Backbone, blank=True)
    if not agents:
        p.add("agents", "Tick the agents of this course.")
    for agent in agents:
        if agent not in models.Agent.values:
            p.add("agents", f"“{agent}” is not a known agent.")
    if "backbone" not in p and backbone:
        needed = BACKBONE_AGENTS[Backbone(backbone)] - set(agents)
        if needed:
            names = ", ".join(models.Agent(a).label.lower() for a in sorted(needed))
            p.add("agents", f"{models.Backbone(backbone).label} includes {names}: tick it too.")
    p.date("started_on", started_on, label="Start date", today=today, past_only=True, required=True)
    p.date("stopped_on", stopped_on, label="Stop date", today=today, past_only=True)
    p.not_before(
        "started_on",
        started_on,
        case.diagnosed_on,
        f"Treatment cannot start before the diagnosis ({fmt(case.diagnosed_on)}).",
    )
    p.not_before("stopped_on", stopped_on, started_on, "A course cannot stop before it started.")
    p.text("stop_reason", stop_reason, label="Stop reason", max_length=200, required=False)
    _check_planned_bevacizumab(p, bevacizumab_last_planned_on, agents, started_on, stopped_on)
    if stop_reason.strip() and stopped_on is None:
        p.add("stopped_on", "Give the date the course stopped.")
    if course_id is None or "started_on" in p or "stopped_on" in p or started_on is None:
        return
    doses = models.AgentAdministration.objects.filter(course_id=course_id)
    outside = doses.filter(given_on__lt=started_on)
    if stopped_on is not None:
        outside = outside | doses.filter(given_on__gt=stopped_on)
    first_outside = outside.order_by("given_on").first()
    if first_outside is not None:
        p.add(
            "started_on",
            f"A dose on {fmt(first_outside.given_on)} would fall outside the "
            "course: correct that dose first.",
        )
    cycles = models.TreatmentCycle.objects.filter(course_id=course_id)
    outside_cycle = cycles.filter(given_on__lt=started_on)
    if stopped_on is not None:
        outside_cycle = outside_cycle | cycles.filter(given_on__gt=stopped_on)
    if outside_cycle.exists() and "started_on" not in p:
        p.add("started_on", "A recorded cycle would fall outside the course: correct it first.")
    stray = doses.exclude(agent__in=agents).order_by("given_on").first()
    if stray is not None and "agents" not in p:
        p.add(
            "agents",
            f"{stray.get_agent_display()} doses are recorded for this course: keep it ticked.",
        )


def _check_planned_bevacizumab(
    p: Problems,
    planned: dt.date | None,
    agents: list[str],
    started_on: dt.date | None,
    stopped_on: dt.date | None,
) -> None:
    """The planned last bevacizumab dose (a plan: it may be in the future) of this course."""
    field = "bevacizumab_last_planned_on"
    if planned is None:
        return
    if models.Agent.BEVACIZUMAB not in agents:
        p.add(field, "A planned last bevacizumab dose needs bevacizumab among the agents.")
    p.date(field, planned, label="The planned last bevacizumab dose", today=local_today())
    p.not_before(field, planned, started_on, "The planned last dose is before the course began.")
    if stopped_on is not None and planned > stopped_on and field not in p:
        p.add(field, f"The course stopped on {fmt(stopped_on)}, before this planned dose.")


@transaction.atomic
def treatment_course_create(
    *,
    user: Any,
    case_id: int,
    agents: list[str],
    started_on: dt.date,
    intent: str = models.Intent.CONVERSION,
    backbone: str = "",
    stopped_on: dt.date | None = None,
    stop_reason: str = "",
    line: int | None = None,
    planned_cycles: int | None = None,
    stop_cause: str = "",
    bevacizumab_last_planned_on: dt.date | None = None,
) -> models.TreatmentCourse:
    """Record a course (a line of therapy: the next line when none is given). The first course
    of a case on the pathway opens reassessment cycle 1, due two months after the start (R9)."""
    require(user, Capability.EDIT_CASES)
    case = models.Case.objects.get(pk=case_id)
    if line is None:
        line = next_line(case_id=case_id)
    p = Problems()
    _check_course(
        p,
        case,
        course_id=None,
        intent=intent,
        backbone=backbone,
        agents=agents,
        started_on=started_on,
        stopped_on=stopped_on,
        stop_reason=stop_reason,
        today=local_today(),
        line=line,
        planned_cycles=planned_cycles,
        stop_cause=stop_cause,
        bevacizumab_last_planned_on=bevacizumab_last_planned_on,
    )
    p.raise_if_any()
    course = models.TreatmentCourse(
        line=line,
        planned_cycles=planned_cycles,
        stop_cause=stop_cause,
        case=case,
        intent=intent,
        backbone=backbone,
        agents=sorted(set(agents), key=models.Agent.values.index),
        started_on=started_on,
        stopped_on=stopped_on,
        stop_reason=stop_reason.strip(),
        bevacizumab_last_planned_on=bevacizumab_last_planned_on,
    )
    save_row(course)
    reassessment_open_next(case)
    reminders_sync_for_case(case_id=case_id)
    return course


@transaction.atomic
def treatment_course_update(
    *,
    user: Any,
    course_id: int,
    expected_version: int,
    agents: list[str],
    started_on: dt.date,
    intent: str = models.Intent.CONVERSION,
    backbone: str = "",
    stopped_on: dt.date | None = None,
    stop_reason: str = "",
    line: int | None = None,
    planned_cycles: int | None = None,
    stop_cause: str = "",
    bevacizumab_last_planned_on: dt.date | None = None,
) -> models.TreatmentCourse:
    """Correct a course; ``line`` None keeps its line."""
    require(user, Capability.EDIT_CASES)
    course = models.TreatmentCourse.objects.select_related("case").get(pk=course_id)
    if line is None:
        line = course.line
    p = Problems()
    _check_course(
        p,
        course.case,
        course_id=course_id,
        intent=intent,
        backbone=backbone,
        agents=agents,
        started_on=started_on,
        stopped_on=stopped_on,
        stop_reason=stop_reason,
        today=local_today(),
        line=line,
        planned_cycles=planned_cycles,
        stop_cause=stop_cause,
        bevacizumab_last_planned_on=bevacizumab_last_planned_on,
    )
    p.raise_if_any()
    update_row(
        models.TreatmentCourse,
        pk=course_id,
        expected_version=check_version(expected_version),
        changes={
            "intent": intent,
            "backbone": backbone,
            "agents": sorted(set(agents), key=models.Agent.values.index),
            "started_on": started_on,
            "stopped_on": stopped_on,
            "stop_reason": stop_reason.strip(),
            "line": line,
            "planned_cycles": planned_cycles,
            "stop_cause": stop_cause,
            "bevacizumab_last_planned_on": bevacizumab_last_planned_on,
        },
    )
    reminders_sync_for_case(case_id=course.case_id)
    return models.TreatmentCourse.objects.get(pk=course_id)


def next_line(*, case_id: int) -> int:
    """The line a new course of the case would be: one after the highest recorded."""
    lines = models.TreatmentCourse.objects.filter(case_id=case_id).values_list("line", flat=True)
    return max(lines, default=0) + 1


def _check_administration(
    p: Problems,
    course: models.TreatmentCourse,
    *,
    administration_id: int | None,
    agent: str,
    given_on: dt.date | None,
    cycle_number: int | None,
    note: str,
    today: dt.date,
) -> None:
    p.choice("agent", agent, models.Agent)
    if (
        administration_id is not None
        and models.AgentAdministration.objects.filter(
            pk=administration_id, cycle__isnull=False
        ).exists()
    ):
        p.add("given_on", "This dose belongs to a recorded cycle: correct the cycle instead.")
    if "agent" not in p and agent not in course.agents:
        p.add(
            "agent",
            f"{models.Agent(agent).label} is not part of this course: add it to the course first.",
        )
    p.date("given_on", given_on, label="Date given", today=today, past_only=True, required=True)
    p.not_before(
        "given_on",
        given_on,
        course.started_on,
        f"The course started on {fmt(course.started_on)}, after this dose.",
    )
    if given_on and course.stopped_on and given_on > course.stopped_on and "given_on" not in p:
        p.add("given_on", f"The course stopped on {fmt(course.stopped_on)}, before this dose.")
    if cycle_number is not None and not 1 <= cycle_number <= 200:
        p.add("cycle_number", "A cycle number is between 1 and 200.")
    p.text("note", note, label="Note", max_length=300, required=False)
    if agent == models.Agent.BEVACIZUMAB and given_on is not None and "given_on" not in p:
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
    if given_on is not None and "given_on" not in p and "agent" not in p:
        twin = models.AgentAdministration.objects.filter(
            course_id=course.pk, agent=agent, given_on=given_on
        ).exclude(pk=administration_id)
        if twin.exists():
            p.add(
                "given_on",
                f"A {models.Agent(agent).label} dose on {fmt(given_on)} is already "
                "recorded for this course.",
            )


@transaction.atomic
def administration_create(
    *,
    user: Any,
    course_id: int,
    agent: str,
    given_on: dt.date,
    cycle_number: int | None = None,
    note: str = "",
) -> models.AgentAdministration:
    require(user, Capability.EDIT_CASES)
    course = models.TreatmentCourse.objects.get(pk=course_id)
    p = Problems()
    _check_administration(
        p,
        course,
        administration_id=None,
        agent=agent,
        given_on=given_on,
        cycle_number=cycle_number,
        note=note,
        today=local_today(),
    )
    p.raise_if_any()
    dose = models.AgentAdministration(
        course=course, agent=agent, given_on=given_on, cycle_number=cycle_number, note=note.strip()
    )
    save_row(dose)
    reminders_sync_for_case(case_id=course.case_id)
    return dose


@transaction.atomic
def administration_update(
    *,
    user: Any,
    administration_id: int,
    expected_version: int,
    agent: str,
    given_on: dt.date,
    cycle_number: int | None = None,
    note: str = "",
) -> models.AgentAdministration:
    require(user, Capability.EDIT_CASES)
    dose = models.AgentAdministration.objects.select_related("course").get(pk=administration_id)
    p = Problems()
    _check_administration(
        p,
        dose.course,
        administration_id=administration_id,
        agent=agent,
        given_on=given_on,
        cycle_number=cycle_number,
        note=note,
        today=local_today(),
    )
    p.raise_if_any()
    update_row(
        models.AgentAdministration,
        pk=administration_id,
        expected_version=check_version(expected_version),
        changes={
            "agent": agent,
            "given_on": given_on,
            "cycle_number": cycle_number,
            "note": note.strip(),
        },
    )
    reminders_sync_for_case(case_id=dose.course.case_id)
    return models.AgentAdministration.objects.get(pk=administration_id)
