"""Small bar charts for the dashboard, laid out here and drawn as SVG by
``templates/cases/worklists/plots.html`` (no chart library, no inline styles: CSP).

Each chart keeps its numbers, so the template can print them as a table next to the picture:
a screen reader, or anyone who prefers reading, gets the same figures.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

WIDTH = 480
BAR_GAP = 6


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    x: float
    y: float
    width: float
    height: float
    # Where the value's text goes (just past the end of the bar).
    text_x: float
    text_y: float
    label_x: float
    label_y: float


@dataclass
class Chart:
    slug: str  # DOM id prefix
    title: str
    description: str
    orientation: str  # "horizontal" (bars grow right) or "vertical" (columns grow up)
    width: int
    height: int
    label_heading: str
    value_heading: str
    bars: list[Bar] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(bar.value for bar in self.bars)

    @property
    def summary(self) -> str:
        """The chart in words (the SVG's <desc>)."""
        return "; ".join(f"{bar.label}: {bar.value}" for bar in self.bars)


def horizontal_bars(
    slug: str,
    title: str,
    description: str,
    items: list[tuple[str, int]],
    *,
    label_heading: str,
    value_heading: str,
) -> Chart:
    """One bar per item, labels on the left, lengths proportional to the largest value."""
    label_width, row, right = 190.0, 30.0, 50.0
    chart = Chart(
        slug, title, description, "horizontal", WIDTH, int(row * len(items)) + 4,
        label_heading, value_heading,
    )  # fmt: skip
    top = max((value for _, value in items), default=0) or 1
    span = WIDTH - label_width - right
    for i, (label, value) in enumerate(items):
        y = i * row + 2
        width = span * value / top
        chart.bars.append(
            Bar(
                label, value, label_width, y, width, row - BAR_GAP,
                text_x=label_width + width + 6, text_y=y + (row - BAR_GAP) / 2 + 5,
                label_x=label_width - 8, label_y=y + (row - BAR_GAP) / 2 + 5,
            )
        )  # fmt: skip
    return chart


def columns(
    slug: str,
    title: str,
    description: str,
    items: list[tuple[str, int]],
    *,
    label_heading: str,
    value_heading: str,
) -> Chart:
    """One column per item, labels underneath, heights proportional to the largest value."""
    height, bottom, top_room = 220.0, 28.0, 22.0
    chart = Chart(
        slug, title, description, "vertical", WIDTH, int(height), label_heading, value_heading
    )
    top = max((value for _, value in items), default=0) or 1
    slot = WIDTH / max(len(items), 1)
    usable = height - bottom - top_room
    for i, (label, value) in enumerate(items):
        bar_height = usable * value / top
        x = i * slot + BAR_GAP / 2
        y = height - bottom - bar_height
        chart.bars.append(
            Bar(
                label, value, x, y, slot - BAR_GAP, bar_height,
                text_x=x + (slot - BAR_GAP) / 2, text_y=y - 6,
                label_x=x + (slot - BAR_GAP) / 2, label_y=height - 8,
            )
        )  # fmt: skip
    return chart


def cohort_chart(counts: list[tuple[str, str, int]]) -> Chart:
    """Cases by pathway stage (from ``worklists.cohort_by_stage``)."""
    return horizontal_bars(
        "chart-cohort",
        "Cohort by pathway stage",
        "Number of cases at each stage of the pathway.",
        [(label, n) for _value, label, n in counts],
        label_heading="Stage",
        value_heading="Cases",
    )


def due_per_week_chart(weeks: list[tuple[dt.date, int]]) -> Chart:
    """Open reassessments due per week (from ``worklists.reassessments_due_by_week``)."""
    return columns(
        "chart-due",
        "Reassessments due per week",
        "Open reassessments falling due in each of the next 8 weeks; the first week starts today.",
        [(start.strftime("%d %b").lstrip("0"), n) for start, n in weeks],
        label_heading="Week from",
        value_heading="Due",
    )
