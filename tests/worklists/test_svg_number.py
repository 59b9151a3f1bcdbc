"""SVG coordinates: plain numbers to one decimal place."""

from __future__ import annotations

from cases.templatetags.svg import svg_number


def test_a_coordinate_has_one_decimal_place_and_no_separator():
    assert svg_number(12) == "12.0"
    assert svg_number(3.14159) == "3.1"
    assert svg_number(1234.56) == "1234.6"


def test_an_offset_is_added_before_rounding():
    # Django's ``add`` filter, used here before, truncated 37.5 to 37 first.
    assert svg_number(37.5, -8) == "29.5"
