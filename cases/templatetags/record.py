"""Template filters for the clinical record."""

from django import template

from cases.records.mapping import sidedness_of

register = template.Library()


@register.filter
def sidedness(primary_site: str) -> str:
    """The side derived from the primary site (pathway-spec R1): "left", "right" or
    "undetermined"; never typed in, so never stored."""
    return sidedness_of(primary_site)
