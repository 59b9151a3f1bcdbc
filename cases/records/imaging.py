"""Reads over a case's scans and laboratory results: the RECIST 1.1 response of each scan, the
liver disease burden, and the tumour-marker series with their chart.

Everything here works on a record loaded by ``cases.records.selectors`` (scans, lesions,
measurements and results prefilled), so it runs no query. The response itself is computed by
the pure ``cases.pathway.recist``; nothing here decides a threshold.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings

from cases.pathway import recist
from cases.pathway.labs import LAB_TEST_SPECS, range_flag

if TYPE_CHECKING:
    from cases.models import Case, ImagingStudy, LabResult, Lesion, LesionMeasurement

# RECIST's overall response → the reassessment's response (a scan that cannot be evaluated
# leaves the reassessment's response empty: there is nothing to feed).
REASSESSMENT_RESPONSE = {
    recist.Response.CR: "complete_response",
    recist.Response.PR: "partial_response",
    recist.Response.SD: "stable_disease",
    recist.Response.NON_CR_NON_PD: "stable_disease",
    recist.Response.PD: "progressive_disease",
}
RESPONSE_LABELS = {
    recist.Response.CR: "Complete response",
    recist.Response.PR: "Partial response",
    recist.Response.SD: "Stable disease",
    recist.Response.NON_CR_NON_PD: "Non-CR / non-PD",
    recist.Response.PD: "Progressive disease",
    recist.Response.NE: "Not evaluable",
    recist.Response.NA: "No lesions of this kind",
}
# Short forms for the projector and the timeline.
RESPONSE_CODES = {
    recist.Response.CR: "CR",
    recist.Response.PR: "PR",
    recist.Response.SD: "SD",
    recist.Response.NON_CR_NON_PD: "non-CR/non-PD",
    recist.Response.PD: "PD",
    recist.Response.NE: "NE",
    recist.Response.NA: "—",
}
OVERRIDE_CODES = {
    "complete_response": "CR",
    "partial_response": "PR",
    "stable_disease": "SD",
    "progressive_disease": "PD",
}

_TARGET_VALUES: dict[str, Any] = {
    "too_small": recist.Unmeasured.TOO_SMALL,
    "absent": Decimal(0),  # a target lesion that disappeared measures 0 mm
    "not_evaluated": recist.Unmeasured.NOT_EVALUATED,
}
_NON_TARGET_VALUES = {
    "present": recist.NonTargetStatus.PRESENT,
    "absent": recist.NonTargetStatus.ABSENT,
    "progression": recist.NonTargetStatus.UNEQUIVOCAL_PROGRESSION,
    "not_evaluated": recist.NonTargetStatus.NOT_EVALUATED,
}


def viewer_url(accession_number: str) -> str:
    """The PACS viewer's link for a scan (setting ``PACS_VIEWER_URL``, with ``{accession}``);
    empty when either is missing. No image is ever stored here."""
    template = getattr(settings, "PACS_VIEWER_URL", "")
    if not template or not accession_number or "{accession}" not in template:
        return ""
    return template.replace("{accession}", accession_number)


# --- RECIST ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScanResponse:
    """One scan of a RECIST series: the baseline (``timepoint`` None) or a follow-up."""

    study: ImagingStudy
    timepoint: recist.Timepoint | None

    @property
    def is_baseline(self) -> bool:
        return self.timepoint is None

    @property
    def computed(self) -> recist.Response | None:
        return None if self.timepoint is None else self.timepoint.overall_response

    @property
    def computed_code(self) -> str:
        return "" if self.computed is None else RESPONSE_CODES[self.computed]

    @property
    def computed_label(self) -> str:
        return "" if self.computed is None else RESPONSE_LABELS[self.computed]

    @property
    def reassessment_response(self) -> str:
        """What the scan feeds the reassessment: the radiologist's response when they recorded
        a different one (with its reason), else the computed one."""
        if self.study.response_override:
            return self.study.response_override
        return "" if self.computed is None else REASSESSMENT_RESPONSE.get(self.computed, "")

    @property
    def shown_code(self) -> str:
        """The response the MDT sees: the radiologist's if they gave a different one."""
        if self.study.response_override:
            return OVERRIDE_CODES[self.study.response_override]
        return self.computed_code

    @property
    def change_text(self) -> str:
        """ "−34 % from baseline" (a true minus sign), or "" when the sum is incomplete."""
        if self.timepoint is None or self.timepoint.change_from_baseline_percent is None:
            return ""
        return f"{signed(self.timepoint.change_from_baseline_percent)} % from baseline"

    @property
    def nadir_text(self) -> str:
        if self.timepoint is None or self.timepoint.change_from_nadir_percent is None:
            return ""
        return f"{signed(self.timepoint.change_from_nadir_percent)} % from nadir"


def day_text(day: dt.date) -> str:
    return f"{day.day} {day:%b %Y}"


def signed(value: Decimal) -> str:
    """A percentage with its sign: +12, −34.5 (the minus sign, not a hyphen)."""
    text = format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")
    if value > 0:
        return f"+{text}"
    return text.replace("-", "\u2212")


@dataclass(frozen=True)
class LesionRow:
    lesion: Lesion
    cells: list[str]  # one per scan of the series, in order


@dataclass
class RecistView:
    """The case's current RECIST series: the latest baseline and the scans measured against
    it. ``problems`` is non-empty when the stored measurements break a RECIST rule (the
    response is then not computed)."""

    baseline: ImagingStudy
    scans: list[ScanResponse] = field(default_factory=list)
    rows: list[LesionRow] = field(default_factory=list)
    baseline_sum_mm: Decimal | None = None
    best: recist.Response | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def follow_ups(self) -> list[ScanResponse]:
        return [scan for scan in self.scans if not scan.is_baseline]

    @property
    def latest(self) -> ScanResponse | None:
        follow_ups = self.follow_ups
        return follow_ups[-1] if follow_ups else None

    @property
    def best_code(self) -> str:
        return "" if self.best is None else RESPONSE_CODES[self.best]

    def for_study(self, study_id: int) -> ScanResponse | None:
        return next((scan for scan in self.scans if scan.study.pk == study_id), None)


def studies_of(case: Case) -> list[ImagingStudy]:
    return sorted(case.imaging_studies.all(), key=lambda s: (s.performed_on, s.pk))


def current_baseline(studies: list[ImagingStudy]) -> ImagingStudy | None:
    baselines = [s for s in studies if s.baseline_lesions.all()]
    return baselines[-1] if baselines else None


def _target_value(m: LesionMeasurement) -> Any:
    if m.state == "measured":
        return m.size_mm
    return _TARGET_VALUES[m.state]


def series_of(
    baseline: ImagingStudy, studies: list[ImagingStudy]
) -> tuple[recist.Series, list[ImagingStudy]]:
    """The pathway's ``Series`` for ``baseline``'s lesions, and the scans it is made of."""
    lesions = list(baseline.baseline_lesions.all())
    ids = {lesion.pk for lesion in lesions}
    scans = [baseline] + [
        s
        for s in studies
        if s.performed_on > baseline.performed_on
        and any(m.lesion_id in ids for m in s.measurements.all())
    ]
    kinds = {lesion.pk: lesion.kind for lesion in lesions}
    assessments = []
    for scan in scans:
        targets: dict[str, Any] = {}
        non_targets: dict[str, recist.NonTargetStatus] = {}
        for m in scan.measurements.all():
            if m.lesion_id not in ids:
                continue
            if kinds[m.lesion_id] == "target":
                targets[str(m.lesion_id)] = _target_value(m)
            else:
                non_targets[str(m.lesion_id)] = _NON_TARGET_VALUES[m.state]
        assessments.append(
            recist.Assessment(
                assessed_on=scan.performed_on,
                target_mm=targets,
                non_target=non_targets,
                new_lesions=None if scan is baseline else bool(scan.new_lesions),
            )
        )
    series = recist.Series(
        lesions=tuple(
            recist.Lesion(
                id=str(lesion.pk),
                kind=recist.LesionKind(lesion.kind),
                organ=lesion.organ,
                nodal=lesion.nodal,
            )
            for lesion in lesions
        ),
        assessments=tuple(assessments),
    )
    return series, scans


def _cell(m: LesionMeasurement | None) -> str:
    if m is None:
        return "—"
    if m.state == "measured":
        return f"{recist.display_mm(m.size_mm)} mm"
    return {
        "too_small": "too small (5 mm)",
        "absent": "gone",
        "present": "present",
        "progression": "progressed",
        "not_evaluated": "not evaluated",
    }[m.state]


def recist_view(case: Case) -> RecistView | None:
    """The current series with its responses, or None when no baseline has been recorded."""
    studies = studies_of(case)
    baseline = current_baseline(studies)
    if baseline is None:
        return None
    series, scans = series_of(baseline, studies)
    view = RecistView(baseline=baseline)
    by_scan = {scan.pk: {m.lesion_id: m for m in scan.measurements.all()} for scan in scans}
    view.rows = [
        LesionRow(lesion, [_cell(by_scan[scan.pk].get(lesion.pk)) for scan in scans])
        for lesion in baseline.baseline_lesions.all()
    ]
    try:
        result = recist.assess_series(series)
    except recist.RecistInputError as error:
        view.problems = [problem.message for problem in error.problems]
        view.scans = [ScanResponse(scan, None) for scan in scans[:1]]
        return view
    view.baseline_sum_mm = result.baseline_sum_mm
    view.best = result.best_overall_response
    view.scans = [ScanResponse(baseline, None)] + [
        ScanResponse(scan, timepoint)
        for scan, timepoint in zip(scans[1:], result.timepoints, strict=True)
    ]
    return view


# --- Liver burden ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LiverBurden:
    """Liver lesions still present on the latest scan of the series."""

    on: dt.date
    count: int
    largest_mm: Decimal | None
    segments: tuple[int, ...]
    new_lesions: bool

    @property
    def segments_text(self) -> str:
        roman = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII")
        return ", ".join(roman[s - 1] for s in self.segments) or "—"


def liver_burden(case: Case, view: RecistView | None = None) -> LiverBurden | None:
    """From the same lesion records as the response: the latest scan's liver lesions that have
    not disappeared (a lesion not evaluated there counts as still present)."""
    view = view if view is not None else recist_view(case)
    if view is None:
        return None
    scan = view.scans[-1].study
    measured = {m.lesion_id: m for m in scan.measurements.all()}
    count = 0
    largest: Decimal | None = None
    segments: set[int] = set()
    for lesion in view.baseline.baseline_lesions.all():
        if lesion.organ != "liver":
            continue
        m = measured.get(lesion.pk)
        if m is not None and m.state == "absent":
            continue
        count += 1
        if lesion.segment:
            segments.add(lesion.segment)
        if m is not None and m.state == "measured":
            largest = m.size_mm if largest is None else max(largest, m.size_mm)
    return LiverBurden(
        on=scan.performed_on,
        count=count,
        largest_mm=None if largest is None else recist.display_mm(largest),
        segments=tuple(sorted(segments)),
        new_lesions=bool(scan.new_lesions),
    )


# --- Laboratory results ----------------------------------------------------------------------


def flag_of(result: LabResult) -> str:
    return range_flag(result.value, result.reference_low, result.reference_high)


@dataclass(frozen=True)
class LabRow:
    """The latest result of one test, flagged against its own reference range."""

    code: str
    label: str
    result: LabResult
    flag: str

    @property
    def range_text(self) -> str:
        low, high = self.result.reference_low, self.result.reference_high
        if low is not None and high is not None:
            return f"{low.normalize():f}–{high.normalize():f}"
        if high is not None:
            return f"≤ {high.normalize():f}"
        if low is not None:
            return f"≥ {low.normalize():f}"
        return ""


def results_by_test(case: Case) -> dict[str, list[LabResult]]:
    grouped: dict[str, list[LabResult]] = defaultdict(list)
    for result in sorted(case.lab_results.all(), key=lambda r: r.taken_on):
        grouped[result.test].append(result)
    return grouped


def latest_results(case: Case) -> list[LabRow]:
    grouped = results_by_test(case)
    return [
        LabRow(code, spec.label, grouped[code][-1], flag_of(grouped[code][-1]))
        for code, spec in LAB_TEST_SPECS.items()
        if grouped.get(code)
    ]


@dataclass(frozen=True)
class ChartPoint:
    x: float
    y: float
    result: LabResult
    flag: str


@dataclass
class MarkerChart:
    """A small line chart of one marker, drawn server-side as SVG (no script)."""

    label: str
    unit: str
    width: int
    height: int
    points: list[ChartPoint]
    limit_y: float | None  # the upper reference limit, when it is inside the chart

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)

    @property
    def description(self) -> str:
        return "; ".join(
            f"{day_text(p.result.taken_on)}: {p.result.value.normalize():f} {self.unit}"
            + (f" ({p.flag})" if p.flag else "")
            for p in self.points
        )

    @property
    def first(self) -> ChartPoint:
        return self.points[0]

    @property
    def last(self) -> ChartPoint:
        return self.points[-1]


CHART_PAD = 8


def marker_chart(
    case: Case, test: str = "cea", *, width: int = 320, height: int = 90
) -> MarkerChart | None:
    results = results_by_test(case).get(test, [])
    if not results:
        return None
    spec = LAB_TEST_SPECS[test]
    first, last = results[0].taken_on, results[-1].taken_on
    span = max((last - first).days, 1)
    high = results[-1].reference_high
    top = max([r.value for r in results] + ([high] if high is not None else [])) or Decimal(1)
    top = top * Decimal("1.1")

    def x(day: dt.date) -> float:
        if len(results) == 1:
            return width / 2
        return CHART_PAD + (day - first).days / span * (width - 2 * CHART_PAD)

    def y(value: Decimal) -> float:
        return height - CHART_PAD - float(value / top) * (height - 2 * CHART_PAD)

    points = [ChartPoint(x(r.taken_on), y(r.value), r, flag_of(r)) for r in results]
    return MarkerChart(
        label=spec.label,
        unit=results[-1].unit,
        width=width,
        height=height,
        points=points,
        limit_y=None if high is None else y(high),
    )


@dataclass(frozen=True)
class StripPoint:
    x: float
    y: float
    label: str  # in words, for the tooltip and the text alternative
    text: str = ""  # drawn beside the point


@dataclass
class TimelineStrip:
    """Scans with their response, and the CEA line, on the timeline's own time axis."""

    width: int
    height: int
    left: int
    responses: list[StripPoint]
    cea: list[StripPoint]

    @property
    def cea_polyline(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.cea)

    @property
    def events(self) -> list[str]:
        return [p.label for p in self.responses] + [p.label for p in self.cea]


def timeline_strip(case: Case, timeline: Any) -> TimelineStrip | None:
    """Two rows under the timeline: the response of each measured scan, and the CEA line."""
    view = recist_view(case)
    responses = []
    if view is not None:
        for scan in view.follow_ups:
            if timeline.start <= scan.study.performed_on <= timeline.end:
                text = scan.shown_code + (
                    f" {signed(scan.timepoint.change_from_baseline_percent)} %"
                    if scan.timepoint and scan.timepoint.change_from_baseline_percent is not None
                    else ""
                )
                responses.append(
                    StripPoint(
                        timeline.x(scan.study.performed_on),
                        18,
                        f"Scan {day_text(scan.study.performed_on)}: {text}",
                        text,
                    )
                )
    cea = [
        r
        for r in results_by_test(case).get("cea", [])
        if timeline.start <= r.taken_on <= timeline.end
    ]
    points = []
    if cea:
        top = float(max(r.value for r in cea)) or 1.0
        points = [
            StripPoint(
                timeline.x(r.taken_on),
                60 - float(r.value) / top * 26,
                f"CEA {day_text(r.taken_on)}: {r.value.normalize():f} {r.unit}",
            )
            for r in cea
        ]
    if not responses and not points:
        return None
    return TimelineStrip(width=timeline.width, height=66, left=4, responses=responses, cea=points)
