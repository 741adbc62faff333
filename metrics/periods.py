"""The fiscal calendar: weeks (Monday), months, fiscal quarters and years.

`period_range(kind, today, fiscal_year_start_month)` gives the (start, end) dates, inclusive,
of the period containing `today` for kind this_week | this_month | this_quarter | fiscal_year |
last_12_months. Quarters follow the fiscal year: with a fiscal year starting in April, Q1 is
April-June.
"""
from __future__ import annotations

import calendar
import datetime as dt

PERIOD_KINDS = ("this_week", "this_month", "this_quarter", "fiscal_year", "last_12_months")


def week_start(day: dt.date) -> dt.date:
    """The Monday of `day`'s ISO week."""
    return day - dt.timedelta(days=day.weekday())


def _add_months(day: dt.date, months: int) -> dt.date:
    """The first of the month `months` after `day`'s month."""
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def _month_end(first: dt.date) -> dt.date:
    return first.replace(day=calendar.monthrange(first.year, first.month)[1])


def fiscal_year_range(day: dt.date, fiscal_year_start_month: int = 1) -> tuple[dt.date, dt.date]:
    """The fiscal year containing `day`."""
    _check_month(fiscal_year_start_month)
    year = day.year if day.month >= fiscal_year_start_month else day.year - 1
    start = dt.date(year, fiscal_year_start_month, 1)
    return start, _add_months(start, 12) - dt.timedelta(days=1)


def fiscal_quarter(day: dt.date, fiscal_year_start_month: int = 1) -> tuple[int, dt.date, dt.date]:
    """(quarter number 1-4, first day, last day) of the fiscal quarter containing `day`."""
    fy_start, _ = fiscal_year_range(day, fiscal_year_start_month)
    months_in = (day.year - fy_start.year) * 12 + day.month - fy_start.month
    q = months_in // 3
    start = _add_months(fy_start, q * 3)
    return q + 1, start, _add_months(start, 3) - dt.timedelta(days=1)


def fiscal_year_label(day: dt.date, fiscal_year_start_month: int = 1) -> str:
    """FY2026 for a calendar fiscal year; FY2026 also for April 2025 - March 2026 (named by its end)."""
    _, end = fiscal_year_range(day, fiscal_year_start_month)
    return f"FY{end.year}"


def period_range(kind: str, today: dt.date, fiscal_year_start_month: int = 1) -> tuple[dt.date, dt.date]:
    if kind == "this_week":
        start = week_start(today)
        return start, start + dt.timedelta(days=6)
    if kind == "this_month":
        start = today.replace(day=1)
        return start, _month_end(start)
    if kind == "this_quarter":
        _, start, end = fiscal_quarter(today, fiscal_year_start_month)
        return start, end
    if kind == "fiscal_year":
        return fiscal_year_range(today, fiscal_year_start_month)
    if kind == "last_12_months":
        return _add_months(today.replace(day=1), -11), _month_end(today.replace(day=1))
    raise ValueError(f"unknown period {kind!r}; use one of {', '.join(PERIOD_KINDS)}")


def _check_month(month: int) -> None:
    if not (isinstance(month, int) and 1 <= month <= 12):
        raise ValueError(f"fiscal year start month {month!r} is not a month number 1-12")


def to_date_comparison(current_start: dt.date, current_end: dt.date, compare_start: dt.date,
                       compare_end: dt.date, today: dt.date) -> tuple[dt.date, dt.date] | None:
    """For a period still in progress (it contains `today` and has days left), the comparison
    period cut to the same number of days: this quarter's first 54 days against the previous
    quarter's first 54 days, not against all of it. None when the period is over (or not begun),
    so the comparison stays whole."""
    if not (current_start <= today < current_end):
        return None
    elapsed = (today - current_start).days
    return compare_start, min(compare_end, compare_start + dt.timedelta(days=elapsed))
