"""Template filters for staging, pathology, the treatment line and the referral: each partial
in ``templates/cases/records/staging_panels.html`` reads its facts from the record on the page,
so the screens include it with one line and no view change."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone

from cases.models import Agent
from cases.records import staging_display

register = template.Library()


@register.filter
def staging(case: Any) -> staging_display.Staging:
    return staging_display.staging_for_case(case)


@register.filter
def current_line(case: Any) -> staging_display.LineSummary | None:
    return staging_display.current_line(case)


@register.filter
def line_summary(course: Any) -> staging_display.LineSummary:
    return staging_display.line_summary(course)


@register.filter
def referral_wait(case: Any) -> staging_display.ReferralWait | None:
    return staging_display.referral_wait(case, today=timezone.localdate())


@register.filter
def agent_labels(agents: list[str]) -> str:
    """Agents in words: "Fluorouracil (with leucovorin), Oxaliplatin"."""
    return ", ".join(Agent(a).label if a in Agent.values else a for a in agents)
