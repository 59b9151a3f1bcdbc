"""The case page's full history, told from the clinical records themselves: diagnosis, results,
courses and doses, scans and reassessments, radiotherapy, surgery, meetings, decisions, actions.

Works on a case from ``cases.records.selectors.case_page_record`` (no queries here). The
change-by-change audit trail (who edited which field) is a separate view.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils import timezone

if TYPE_CHECKING:
    from cases.models import Case


@dataclass(frozen=True)
class Event:
    on: dt.date
    kind: str  # css suffix and filter key
    text: str
    note: str = ""


def _results(case: Case) -> list[Event]:
    events = []
    for r in case.molecular_results.all():
        marker = r.get_marker_display()
        if r.requested_on:
            events.append(Event(r.requested_on, "molecular", f"{marker} requested"))
        if r.reported_on:
            method = f" ({r.method})" if r.method else ""
            events.append(
                Event(
                    r.reported_on,
                    "molecular",
                    f"{marker} reported: {r.get_status_display()}",
                    method.strip(" ()"),
                )
            )
    return events


def _treatment(case: Case) -> list[Event]:
    events = []
    for course in case.treatment_courses.all():
        events.append(
            Event(
                course.started_on,
                "treatment",
                f"{course} started ({course.get_intent_display().lower()})",
            )
        )
        if course.stopped_on:
            events.append(
                Event(course.stopped_on, "treatment", f"{course} stopped", course.stop_reason)
            )
        by_day: dict[dt.date, list[str]] = defaultdict(list)
        notes: dict[dt.date, list[str]] = defaultdict(list)
        cycles: dict[dt.date, int | None] = {}
        for dose in course.administrations.all():
            by_day[dose.given_on].append(dose.get_agent_display())
            cycles[dose.given_on] = dose.cycle_number
            if dose.note:
                notes[dose.given_on].append(dose.note)
        for day, agents in by_day.items():
            cycle = f"Cycle {cycles[day]}: " if cycles[day] else "Dose: "
            events.append(Event(day, "dose", cycle + ", ".join(agents), "; ".join(notes[day])))
    return events


def _reassessments(case: Case) -> list[Event]:
    events = []
    for r in case.reassessments.all():
        label = f"Reassessment {r.cycle}"
        if r.imaging_performed_on:
            response = f": {r.get_response_display().lower()}" if r.response else ""
            events.append(
                Event(
                    r.imaging_performed_on,
                    "scan",
                    f"{label} scan ({r.get_modality_display() or 'imaging'}){response}",
                )
            )
        elif r.imaging_booked_for:
            events.append(Event(r.imaging_booked_for, "scan", f"{label} scan booked"))
        if r.reassessed_on:
            verdict = {True: "R0 achievable", False: "R0 not achievable", None: "R0 not assessed"}
            bits = [verdict[r.r0_achievable]]
            if r.flr_percent_slv is not None:
                bits.append(f"FLR {r.flr_percent_slv} %")
            if r.flr_segments_remaining is not None:
                bits.append(f"{r.flr_segments_remaining} segments remaining")
            reviewed = "HPB MDT" if r.hpb_mdt_reviewed else "not HPB-reviewed"
            events.append(
                Event(
                    r.reassessed_on,
                    "reassessment",
                    f"{label} reassessed ({reviewed})",
                    "; ".join(bits),
                )
            )
        else:
            events.append(Event(r.due_on, "due", f"{label} due"))
    return events


def _procedures(case: Case) -> list[Event]:
    events = []
    for rt in case.radiotherapy.all():
        events.append(Event(rt.started_on, "radiotherapy", f"{rt.get_kind_display()} started"))
        if rt.completed_on:
            events.append(
                Event(rt.completed_on, "radiotherapy", f"{rt.get_kind_display()} completed")
            )
    for s in case.surgeries.all():
        kind = s.get_kind_display()
        if s.performed_on:
            margin = f"margin {s.get_margin_display()}" if s.margin else ""
            events.append(
                Event(
                    s.performed_on,
                    "surgery",
                    f"{kind} performed ({s.get_urgency_display().lower()})",
                    margin,
                )
            )
        elif s.cancelled_on:
            events.append(Event(s.cancelled_on, "surgery", f"{kind} cancelled", s.cancel_reason))
        elif s.planned_on:
            events.append(Event(s.planned_on, "surgery-planned", f"{kind} planned"))
    return events


def _meetings(case: Case) -> list[Event]:
    events = []
    for item in case.agenda_items.all():
        day = timezone.localdate(item.meeting.scheduled_for)
        reasons = "; ".join(
            r for r in (item.late_reason, item.incomplete_reason) if r
        )  # shown so nobody forgets why an incomplete case came
        events.append(
            Event(
                day,
                "meeting",
                f"{item.meeting.title}: {item.get_status_display().lower()}",
                reasons,
            )
        )
        for decision in item.decisions.all():
            follows = "follows guideline" if decision.follows_recommendation else "deviates"
            why = decision.deviation_reason or decision.override_reason
            events.append(
                Event(
                    timezone.localdate(decision.recorded_at),
                    "decision",
                    f"Decision, {decision.get_point_display().lower()} ({follows}) by "
                    f"{decision.recorded_by}",
                    why,
                )
            )
    for action in case.actions.all():
        text = f"Action for {action.owner}: {action.description}"
        status = action.get_status_display().lower()
        note = f"{status}: {action.not_done_reason}" if action.not_done_reason else status
        events.append(Event(action.due_on, "action", text, note))
    return events


def clinical_story(case: Case) -> list[Event]:
    """Every dated event of the record, newest first."""
    events = [Event(case.diagnosed_on, "diagnosis", "Diagnosis")]
    if case.ecog_assessed_on and case.ecog is not None:
        events.append(Event(case.ecog_assessed_on, "diagnosis", f"ECOG {case.ecog} assessed"))
    for part in (_results, _treatment, _reassessments, _procedures, _meetings):
        events.extend(part(case))
    return sorted(events, key=lambda e: e.on, reverse=True)
