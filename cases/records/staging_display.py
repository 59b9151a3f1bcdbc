"""What the screens show of staging, pathology, the treatment line and the referral, read from
a record loaded by ``cases.records.selectors`` (no queries here).

Compact and dated: each fact carries the date it was established, so a stale finding is never
taken for a current one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from cases.pathway.staging import stage_group

if TYPE_CHECKING:
    from cases.models import Case, TreatmentCourse


def _fmt(day: dt.date) -> str:
    return day.strftime("%d %b %Y").lstrip("0")


@dataclass(frozen=True)
class TnmLine:
    pk: int
    kind_label: str
    text: str  # "cT3 cN1a M1a"
    group: str | None  # "IVA"
    staged_on: dt.date


@dataclass(frozen=True)
class Staging:
    tnm: list[TnmLine]
    mri: Any  # the latest PelvicMri, or None
    histology: Any  # the latest Histology, or None

    @property
    def empty(self) -> bool:
        return not (self.tnm or self.mri or self.histology)


def staging_for_case(case: Case) -> Staging:
    tnm = [
        TnmLine(
            row.pk,
            row.get_kind_display(),
            str(row),
            stage_group(row.t, row.n, row.m),
            row.staged_on,
        )
        for row in sorted(case.tnm_stagings.all(), key=lambda r: r.staged_on)
    ]
    mri = max(case.pelvic_mris.all(), key=lambda r: r.performed_on, default=None)
    histology = max(case.histologies.all(), key=lambda r: r.reported_on, default=None)
    return Staging(tnm=tnm, mri=mri, histology=histology)


@dataclass(frozen=True)
class LineSummary:
    """The current (or last) course as the MDT says it: "FOLFOXIRI + bevacizumab, line 1,
    cycle 6 of 12, last dose 3 Mar 2026"."""

    course: Any
    regimen: str
    line: int
    cycles_given: int
    planned_cycles: int | None
    last_dose_on: dt.date | None
    dose_reduced: bool
    worst_toxicity: Any  # the highest-grade Toxicity of the course, or None

    @property
    def text(self) -> str:
        parts = [self.regimen, f"line {self.line}"]
        if self.cycles_given:
            of = f" of {self.planned_cycles}" if self.planned_cycles else ""
            parts.append(f"cycle {self.cycles_given}{of}")
        if self.last_dose_on:
            parts.append(f"last dose {_fmt(self.last_dose_on)}")
        return ", ".join(parts)


def regimen_label(course: TreatmentCourse) -> str:
    """The regimen in the words on the drug chart: backbone and biologics, or the agents."""
    if course.backbone:
        return str(course)
    return " + ".join(a.capitalize() for a in course.agents) or "Systemic therapy"


def line_summary(course: TreatmentCourse) -> LineSummary:
    cycles = list(course.cycles.all())
    doses = [d.given_on for d in course.administrations.all()]
    days = [c.given_on for c in cycles] + doses
    toxicities = list(course.toxicities.all())
    return LineSummary(
        course=course,
        regimen=regimen_label(course),
        line=course.line,
        cycles_given=max((c.number for c in cycles), default=0),
        planned_cycles=course.planned_cycles,
        last_dose_on=max(days, default=None),
        dose_reduced=any(c.dose_reduction_percent for c in cycles),
        worst_toxicity=max(toxicities, key=lambda t: (t.grade, t.noted_on), default=None),
    )


def current_line(case: Case) -> LineSummary | None:
    """The course running now, else the one that started last."""
    courses = list(case.treatment_courses.all())
    if not courses:
        return None
    running = [c for c in courses if c.stopped_on is None]
    course = max(running or courses, key=lambda c: (c.started_on, c.pk))
    return line_summary(course)


@dataclass(frozen=True)
class ReferralWait:
    referral: Any
    first_discussed_on: dt.date | None
    days: int | None  # referral received → first discussion (or → today while waiting)
    waiting: bool


def referral_wait(case: Case, *, today: dt.date) -> ReferralWait | None:
    """Time from the referral's ``received_on`` to the first MDT meeting that discussed the case
    (needs the case's agenda items and meetings: ``case_page_record``)."""
    referral = next(iter(case.referrals.all()), None)
    if referral is None:
        return None
    discussed = [
        timezone.localdate(item.meeting.scheduled_for)
        for item in case.agenda_items.all()
        if item.status == "discussed"
    ]
    first = min(discussed, default=None)
    end = first or today
    return ReferralWait(referral, first, (end - referral.received_on).days, first is None)
