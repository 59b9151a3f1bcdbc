"""Template filters for the clinical record."""

from django import template

from cases.meetings.walk.labels import CONVERSION_LABELS, REGIMEN_LABELS, marker_status_label
from cases.records.mapping import sidedness_of

register = template.Library()


@register.filter
def sidedness(primary_site: str) -> str:
    """The side derived from the primary site (pathway-spec R1): "left", "right" or
    "undetermined"; never typed in, so never stored."""
    return sidedness_of(primary_site)


@register.filter
def regimen_label(family: object) -> str:
    """A recommended regimen family in words (never its internal code)."""
    return REGIMEN_LABELS.get(str(family), "—") if family else "—"


@register.filter
def conversion_label(status: object) -> str:
    """A conversion status in words (never its internal code)."""
    return CONVERSION_LABELS.get(str(status), "—") if status else "—"


@register.filter
def marker_status(result: object) -> str:
    """A molecular result's status in words, with RAS wording for RAS only."""
    return marker_status_label(result.marker, result.status)  # type: ignore[attr-defined]
