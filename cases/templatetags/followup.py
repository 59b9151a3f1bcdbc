"""The previous outcome's implementation, at the top of the case in the next meeting."""

from __future__ import annotations

from typing import Any

from django import template

from cases.followup.selectors import previous_outcome

register = template.Library()


@register.inclusion_tag("cases/followup/previous.html")
def previous_implementation(item: Any) -> dict[str, Any]:
    return {"previous": previous_outcome(item)}
