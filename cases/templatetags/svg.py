"""``{% load svg %}{{ bar.x|svg_number }}``: a coordinate for an SVG attribute.

Django's ``floatformat`` goes through ``Decimal`` and the locale machinery at about 30 µs a
call; a dashboard draws a hundred coordinates and a case timeline more. SVG needs neither.
"""

from django import template

register = template.Library()


@register.filter
def svg_number(value: float, offset: float = 0) -> str:
    """``value`` plus ``offset``, to one decimal place, with no thousands separator."""
    return f"{float(value) + float(offset):.1f}"
