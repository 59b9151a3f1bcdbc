"""The pathway-so-far picture: treatment, scans, radiotherapy, surgery and MDT meetings on one
time axis. Pure layout arithmetic; ``templates/cases/records/timeline.html`` draws it as SVG.

Expects a case whose agenda items and meetings are loaded: from
``cases.records.selectors.case_page_record`` or the meeting screen's record (no queries here).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.utils import timezone

from cases.pathway import add_months

if TYPE_CHECKING:
    from cases.models import Case

WIDTH = 960
LEFT = 120  # room for lane labels
RIGHT = 20
LANE_HEIGHT = 34
TOP = 28  # room for month labels
LANES = ("Treatment", "Scans", "Radiotherapy", "Surgery", "MDT")


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    kind: str
    label: str


@dataclass(frozen=True)
class Marker:
    x: float
    y: float
    kind: str  # css class suffix: dose, scan, scan-due, surgery, surgery-planned, meeting
    label: str
    hollow: bool = False


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass
class Timeline:
    start: dt.date
    end: dt.date
    width: int = WIDTH
    height: int = TOP + LANE_HEIGHT * len(LANES) + 10
    lanes: list[tuple[str, float]] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)
    today_x: float | None = None

    def x(self, day: dt.date) -> float:
        span = max((self.end - self.start).days, 1)
        return LEFT + (day - self.start).days / span * (self.width - LEFT - RIGHT)

    @property
    def events(self) -> list[str]:
        """Every bar and marker in words, in date order: the text alternative of the picture."""
        return [item.label for item in sorted(self.bars + self.markers, key=lambda i: i.x)]


def _lane_y(name: str) -> float:
    return TOP + LANES.index(name) * LANE_HEIGHT + LANE_HEIGHT / 2


def _bounds(case: Case, today: dt.date) -> tuple[dt.date, dt.date]:
    dates = [case.diagnosed_on, today]
    for r in case.reassessments.all():
        dates += [d for d in (r.due_on, r.imaging_performed_on) if d]
    for s in case.surgeries.all():
        dates += [d for d in (s.planned_on, s.performed_on) if d]
    for item in case.agenda_items.all():
        dates.append(timezone.localdate(item.meeting.scheduled_for))
    start = min(dates).replace(day=1)
    end = add_months(max(dates), 1)
    return start, end


def _fmt(day: dt.date) -> str:
    return day.strftime("%d %b %Y").lstrip("0")


def timeline_for_case(case: Case, *, today: dt.date) -> Timeline:
    start, end = _bounds(case, today)
    t = Timeline(start=start, end=end)
    t.lanes = [(name, _lane_y(name)) for name in LANES]
    t.today_x = t.x(today)
    month = start
    while month <= end:
        t.ticks.append(Tick(t.x(month), month.strftime("%b %y")))
        month = add_months(month, 1)
    _treatment(case, t, today)
    _cycles_and_toxicities(case, t)
    _scans(case, t)
    _radiotherapy(case, t, today)
    _surgery(case, t)
    _meetings(case, t)
    return t


def _treatment(case: Case, t: Timeline, today: dt.date) -> None:
    y = _lane_y("Treatment")
    for course in case.treatment_courses.all():
        stop = course.stopped_on or today
        label = f"{course}: {_fmt(course.started_on)} to " + (
            _fmt(course.stopped_on) if course.stopped_on else "now"
        )
        t.bars.append(
            Bar(
                t.x(course.started_on),
                y - 8,
                max(t.x(stop) - t.x(course.started_on), 2),
                "course",
                label,
            )
        )
        for dose in course.administrations.all():
            if dose.agent == "bevacizumab":
                t.markers.append(
                    Marker(t.x(dose.given_on), y, "dose", f"Bevacizumab {_fmt(dose.given_on)}")
                )


def _cycles_and_toxicities(case: Case, t: Timeline) -> None:
    """A tick for each cycle given (hollow when its dose was reduced) and a toxicity marker
    (grade 3 and above drawn as severe) in the treatment lane."""
    y = _lane_y("Treatment")
    for course in case.treatment_courses.all():
        for c in course.cycles.all():
            reduced = f", dose −{c.dose_reduction_percent} %" if c.dose_reduction_percent else ""
            delayed = f", delayed {c.delay_days} days" if c.delay_days else ""
            t.markers.append(
                Marker(
                    t.x(c.given_on),
                    y + 12,
                    "cycle",
                    f"Line {course.line} cycle {c.number} {_fmt(c.given_on)}{reduced}{delayed}",
                    hollow=bool(c.dose_reduction_percent),
                )
            )
        for tox in course.toxicities.all():
            t.markers.append(
                Marker(
                    t.x(tox.noted_on),
                    y - 12,
                    "toxicity-severe" if tox.grade >= 3 else "toxicity",
                    f"{tox} {_fmt(tox.noted_on)}",
                )
            )


def _scans(case: Case, t: Timeline) -> None:
    y = _lane_y("Scans")
    for r in case.reassessments.all():
        if r.imaging_performed_on:
            t.markers.append(
                Marker(
                    t.x(r.imaging_performed_on),
                    y,
                    "scan",
                    f"Reassessment {r.cycle} scan {_fmt(r.imaging_performed_on)}",
                )
            )
        else:
            t.markers.append(
                Marker(
                    t.x(r.due_on),
                    y,
                    "scan-due",
                    f"Reassessment {r.cycle} due {_fmt(r.due_on)}",
                    hollow=True,
                )
            )


def _radiotherapy(case: Case, t: Timeline, today: dt.date) -> None:
    y = _lane_y("Radiotherapy")
    for rt in case.radiotherapy.all():
        end = rt.completed_on or today
        t.bars.append(
            Bar(t.x(rt.started_on), y - 8, max(t.x(end) - t.x(rt.started_on), 3), "radiotherapy",
                f"{rt.get_kind_display()} {_fmt(rt.started_on)}")
        )  # fmt: skip


def _surgery(case: Case, t: Timeline) -> None:
    y = _lane_y("Surgery")
    for s in case.surgeries.all():
        if s.cancelled_on:
            continue
        if s.performed_on:
            t.markers.append(
                Marker(
                    t.x(s.performed_on),
                    y,
                    "surgery",
                    f"{s.get_kind_display()} {_fmt(s.performed_on)}",
                )
            )
        elif s.planned_on:
            t.markers.append(
                Marker(
                    t.x(s.planned_on),
                    y,
                    "surgery-planned",
                    f"{s.get_kind_display()} planned {_fmt(s.planned_on)}",
                    hollow=True,
                )
            )


def _meetings(case: Case, t: Timeline) -> None:
    y = _lane_y("MDT")
    for item in case.agenda_items.all():
        day = timezone.localdate(item.meeting.scheduled_for)
        t.markers.append(Marker(t.x(day), y, "meeting", f"MDT {_fmt(day)}"))
