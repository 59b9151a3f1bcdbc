"""A figure's chart as server-drawn SVG: horizontal bars, with an optional reference line.

Laid out here, drawn by ``templates/cases/followup/reports.html`` (no chart library, no inline
styles: CSP). The numbers are also in the figure's table, for anyone who prefers reading.
"""

from __future__ import annotations

from dataclasses import dataclass, field

WIDTH = 640
LABEL_WIDTH = 250
BAR_HEIGHT = 18
GAP = 6
TOP = 24


@dataclass(frozen=True)
class Bar:
    label: str
    text: str
    y: float
    width: float
    label_y: float


@dataclass
class BarChart:
    width: int
    height: int
    label_width: int
    bars: list[Bar] = field(default_factory=list)
    reference_x: float | None = None
    reference_label: str = ""
    summary: str = ""


def bar_chart(
    bars: list[tuple[str, float | None]],
    *,
    unit: str = "%",
    reference: float | None = None,
    reference_label: str = "",
) -> BarChart | None:
    """Bars scaled to the largest value (100 for percentages); None when there is nothing."""
    if not bars:
        return None
    values = [v for _label, v in bars if v is not None]
    top = 100.0 if unit == "%" else max([*values, reference or 0, 1.0])
    span = WIDTH - LABEL_WIDTH - 60
    chart = BarChart(
        width=WIDTH,
        height=TOP + len(bars) * (BAR_HEIGHT + GAP) + GAP,
        label_width=LABEL_WIDTH,
    )
    for n, (label, value) in enumerate(bars):
        y = TOP + n * (BAR_HEIGHT + GAP)
        text = "no data" if value is None else f"{value:.1f}{unit}".replace(".0 ", " ")
        chart.bars.append(
            Bar(
                label=label,
                text=text,
                y=y,
                width=0 if value is None else max(0.0, span * value / top),
                label_y=y + BAR_HEIGHT - 5,
            )
        )
    if reference is not None:
        chart.reference_x = LABEL_WIDTH + span * reference / top
        chart.reference_label = reference_label
    chart.summary = "; ".join(f"{b.label}: {b.text}" for b in chart.bars)
    return chart
