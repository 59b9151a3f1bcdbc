"""Date arithmetic of section E: calendar months with end-of-month clamping, and plain days.

No `dateutil`: the rule is short enough to state here, and owning it keeps the engine free of
dependencies. Nothing in this module (or anywhere in the package) reads today's date.
"""

from datetime import date, timedelta

_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def is_leap_year(year: int) -> bool:
    """Gregorian rule: every 4th year, except centuries, except every 4th century (2100 is not)."""
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def days_in_month(year: int, month: int) -> int:
    if month == 2 and is_leap_year(year):
        return 29
    return _DAYS_IN_MONTH[month - 1]


def add_months(d: date, months: int) -> date:
    """Add calendar months, carrying into the year, then clamp the day to the target month's end.

    31 Dec 2024 + 2 = 28 Feb 2025; 31 Dec 2023 + 2 = 29 Feb 2024; 31 Dec 2099 + 2 = 28 Feb 2100.
    Negative `months` go backwards with the same clamp. Raises `OverflowError` outside year 1–9999,
    like `date` arithmetic does.
    """
    year, month_index = divmod(d.year * 12 + (d.month - 1) + months, 12)
    if not 1 <= year <= 9999:
        raise OverflowError("date value out of range")
    month = month_index + 1
    return date(year, month, min(d.day, days_in_month(year, month)))


def add_days(d: date, days: int) -> date:
    return d + timedelta(days=days)


def reassessment_schedule(start: date, count: int, interval_months: int = 2) -> tuple[date, ...]:
    """The first `count` reassessment dates after `start`, every `interval_months` (R9).

    Each date is computed from `start` (start + 2k months), never from the previous date, so a
    clamp does not carry forward: 31 Dec → 28 Feb → 30 Apr, not 28 Apr. This is a planning aid;
    the live rule re-anchors on each actual reassessment date.
    """
    return tuple(add_months(start, interval_months * k) for k in range(1, count + 1))


# --- The pathway's dates: each is computed here and nowhere else ----------------------------
# Callers pass the constants in force (settings may tune them); the rules, the worklists, the
# reminders and the screens all take their dates from these functions.


def earliest_elective_surgery(last_bevacizumab_dose: date, bev_min_days: int) -> date:
    """R10: the first day elective surgery may take place after the last bevacizumab dose (the
    day itself is allowed, D1)."""
    return add_days(last_bevacizumab_dose, bev_min_days)


def latest_primary_surgery_after_scrt(scrt_completed: date, scrt_max_delay_months: int) -> date:
    """R11: the last day surgery on the primary may take place after short-course RT."""
    return add_months(scrt_completed, scrt_max_delay_months)


def next_reassessment(anchor: date, reassess_months: int) -> date:
    """R9: the next 2-monthly reassessment, counted from its anchor."""
    return add_months(anchor, reassess_months)


def add_working_days(start: date, count: int, holidays: frozenset[date] = frozenset()) -> date:
    """The day ``count`` working days after ``start`` (weekends and ``holidays`` skipped).

    A letter signed off on Friday with one working day to go is due on Monday (Tuesday if Monday
    is a bank holiday). ``count`` 0 gives ``start`` itself, or the next working day."""
    day = start
    while day.weekday() >= 5 or day in holidays:
        day += timedelta(days=1)
    for _ in range(count):
        day += timedelta(days=1)
        while day.weekday() >= 5 or day in holidays:
            day += timedelta(days=1)
    return day


def latest_on_time_start(today: date, count: int, holidays: frozenset[date] = frozenset()) -> date:
    """The last day ``d`` whose deadline ``add_working_days(d, count)`` is before ``today``: work
    started on or before it is late today (the "not sent within N working days" worklist)."""
    day = today - timedelta(days=1)
    while add_working_days(day, count, holidays) >= today:
        day -= timedelta(days=1)
    return day
