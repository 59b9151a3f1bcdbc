"""Scans, RECIST responses, liver burden and tumour markers, drawn where clinicians decide.

Each tag reads the record already loaded for the page (no query) and renders its own partial,
so the case page, the meeting case screen and the timeline each include it with one line.
"""

from __future__ import annotations

from typing import Any

from django import template

from cases.records.imaging import (
    latest_results,
    liver_burden,
    marker_chart,
    recist_view,
    timeline_strip,
    viewer_url,
)
from cases.security.permissions import Capability, has_capability

register = template.Library()


def _imaging(case: Any) -> dict[str, Any]:
    view = recist_view(case)
    scans = sorted(case.imaging_studies.all(), key=lambda s: (s.performed_on, s.pk), reverse=True)
    return {
        "case": case,
        "recist": view,
        "burden": liver_burden(case, view) if view is not None else None,
        "scans": [(scan, viewer_url(scan.accession_number)) for scan in scans],
        "labs": latest_results(case),
        "cea": marker_chart(case, "cea"),
    }


@register.inclusion_tag("cases/records/imaging_panel.html", takes_context=True)
def imaging_panel(context: template.Context, case: Any) -> dict[str, Any]:
    """The case page's sections: scans with their RECIST table, then markers and bloods."""
    user = context.get("user")
    return _imaging(case) | {
        "can_image": has_capability(user, Capability.RECORD_IMAGING),
        "can_edit": has_capability(user, Capability.EDIT_CASES),
        "chart_id": "cea-case",
    }


@register.inclusion_tag("cases/records/imaging_summary.html")
def imaging_summary(case: Any) -> dict[str, Any]:
    """The meeting screen's compact, dated block."""
    return _imaging(case) | {"chart_id": "cea-meeting"}


@register.inclusion_tag("cases/records/imaging_timeline.html")
def imaging_timeline(case: Any, timeline: Any) -> dict[str, Any]:
    """Under the timeline, on its time axis: each measured scan's response and the CEA line."""
    return {"strip": timeline_strip(case, timeline) if case else None}
