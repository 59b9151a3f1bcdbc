"""Calendar arithmetic of section E (examples; the properties are in test_pathway_properties)."""

from datetime import date

import pytest

from cases.pathway import add_days, add_months, reassessment_schedule
from cases.pathway.calendar import days_in_month, is_leap_year


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        pytest.param(date(2024, 12, 31), 2, date(2025, 2, 28), id="31dec2024+2"),
        pytest.param(date(2023, 12, 31), 2, date(2024, 2, 29), id="31dec2023+2-leap"),
        pytest.param(date(2099, 12, 31), 2, date(2100, 2, 28), id="31dec2099+2-2100-not-leap"),
        pytest.param(date(1999, 12, 31), 2, date(2000, 2, 29), id="2000-is-leap"),
        pytest.param(date(2024, 2, 29), 12, date(2025, 2, 28), id="29feb+12"),
        pytest.param(date(2024, 2, 29), 48, date(2028, 2, 29), id="29feb+48"),
        pytest.param(date(2025, 1, 15), 6, date(2025, 7, 15), id="plain"),
        pytest.param(date(2024, 8, 31), 6, date(2025, 2, 28), id="31aug+6"),
        pytest.param(date(2025, 3, 31), 1, date(2025, 4, 30), id="31mar+1"),
        pytest.param(date(2025, 11, 30), 2, date(2026, 1, 30), id="year-carry"),
        pytest.param(date(2025, 1, 31), 0, date(2025, 1, 31), id="zero"),
        pytest.param(date(2025, 3, 31), -1, date(2025, 2, 28), id="backwards"),
        pytest.param(date(2025, 1, 15), -13, date(2023, 12, 15), id="backwards-over-year"),
    ],
)
def test_it_adds_calendar_months_with_end_of_month_clamp(
    start: date, months: int, expected: date
) -> None:
    assert add_months(start, months) == expected


def test_it_refuses_to_leave_the_supported_years() -> None:
    with pytest.raises(OverflowError):
        add_months(date(9999, 12, 1), 1)
    with pytest.raises(OverflowError):
        add_months(date(1, 1, 1), -1)


@pytest.mark.parametrize(
    ("year", "leap"), [(1900, False), (2000, True), (2023, False), (2024, True), (2100, False)]
)
def test_it_knows_leap_years(year: int, leap: bool) -> None:
    assert is_leap_year(year) is leap
    assert days_in_month(year, 2) == (29 if leap else 28)


def test_it_adds_days() -> None:
    assert add_days(date(2025, 1, 1), 42) == date(2025, 2, 12)
    assert add_days(date(2024, 12, 31), 56) == date(2025, 2, 25)


def test_the_schedule_does_not_drift_after_a_clamp() -> None:
    # R9: each date is start + 2k months, so 28 Feb does not pull April back to the 28th.
    assert reassessment_schedule(date(2024, 12, 31), 4) == (
        date(2025, 2, 28),
        date(2025, 4, 30),
        date(2025, 6, 30),
        date(2025, 8, 31),
    )
    chained = add_months(add_months(date(2024, 12, 31), 2), 2)
    assert chained == date(2025, 4, 28)  # what chaining would have given


def test_the_schedule_can_use_another_interval_and_be_empty() -> None:
    assert reassessment_schedule(date(2025, 1, 31), 2, interval_months=3) == (
        date(2025, 4, 30),
        date(2025, 7, 31),
    )
    assert reassessment_schedule(date(2025, 1, 31), 0) == ()
