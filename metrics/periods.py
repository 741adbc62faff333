"""The fiscal calendar: weeks (Monday), months, fiscal quarters and years, and the period presets.

`period_range(kind, today, fiscal_year_start_month)` gives the (start, end) dates, inclusive, of
a preset (PERIOD_KINDS). No preset reaches past `today`:

    this_week / this_month / this_quarter / this_year   from the start of the week, month, fiscal
                                                        quarter or fiscal year to today (to date)
    last_week / last_month / last_quarter / last_year   the whole week, month, fiscal quarter or
                                                        fiscal year before the current one
    last_12_full_months                                 the 12 whole months before this month
    trailing_12_months                                  the 12 months ending today (the day a year
                                                        ago excluded)

Quarters follow the fiscal year: with a fiscal year starting in April, Q1 is April-June; the
fiscal year start month is `calendar.fiscal_year_start_month` of the shared definitions.
`PERIOD_ALIASES` keeps older names working (links already shared): `quarter_to_date` is
`this_quarter`, `fiscal_year` (once the whole fiscal year) is `this_year`, and `last_12_months`
(once this month and the 11 before it, future days included) is `trailing_12_months`.
`previous_range` gives the period a preset compares with ("previous period"). `plan_end` (and
`previous_plan_end`) gives the last day of the period a preset to date belongs to: the quarter's
end for this_quarter, over which plans and stocks (target, pipeline, forecast) are taken.

Dates named in links and on the command line lie within EARLIEST..LATEST, and a custom period
spans less than MAX_PERIOD_YEARS years (`date_problem`, `period_problem` say what is wrong): the
metrics read the base tables for the days outside whole months, and a century of days costs the
server tens of seconds per view while no business question needs it.
"""
from __future__ import annotations

import calendar
import datetime as dt

PERIOD_KINDS = ("this_week", "last_week", "this_month", "last_month", "this_quarter", "last_quarter",
                "this_year", "last_year", "last_12_full_months", "trailing_12_months")
PERIOD_ALIASES = {"quarter_to_date": "this_quarter", "fiscal_year": "this_year",
                  "last_12_months": "trailing_12_months"}
EARLIEST, LATEST = dt.date(1990, 1, 1), dt.date(2100, 12, 31)
MAX_PERIOD_YEARS = 20

# Presets that run to today: their previous period is the same days of the period before.
TO_DATE_KINDS = ("this_week", "this_month", "this_quarter", "this_year")


def canonical_period(kind: str) -> str:
    """The preset a period name stands for (an alias resolved); ValueError when unknown."""
    kind = PERIOD_ALIASES.get(kind, kind)
    if kind not in PERIOD_KINDS:
        raise ValueError(f"unknown period {kind!r}; use one of {', '.join(PERIOD_KINDS)}")
    return kind


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


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _unit_range(unit: str, day: dt.date, fiscal_year_start_month: int) -> tuple[dt.date, dt.date]:
    """The whole week, month, fiscal quarter or fiscal year containing `day`."""
    if unit == "week":
        start = week_start(day)
        return start, start + dt.timedelta(days=6)
    if unit == "month":
        start = day.replace(day=1)
        return start, _month_end(start)
    if unit == "quarter":
        _, start, end = fiscal_quarter(day, fiscal_year_start_month)
        return start, end
    return fiscal_year_range(day, fiscal_year_start_month)


def period_range(kind: str, today: dt.date, fiscal_year_start_month: int = 1) -> tuple[dt.date, dt.date]:
    """(start, end) of the preset `kind` (or an alias of one) as of `today`; never after today."""
    kind = canonical_period(kind)
    _check_month(fiscal_year_start_month)
    if kind == "last_12_full_months":
        this_month = today.replace(day=1)
        return _add_months(this_month, -12), this_month - dt.timedelta(days=1)
    if kind == "trailing_12_months":
        return _add_years(today, -1) + dt.timedelta(days=1), today
    when, unit = kind.split("_", 1)
    start, end = _unit_range(unit, today, fiscal_year_start_month)
    if when == "this":
        return start, today
    return _unit_range(unit, start - dt.timedelta(days=1), fiscal_year_start_month)


def plan_end(kind: str, today: dt.date, fiscal_year_start_month: int = 1) -> dt.date:
    """The last day of the period preset `kind` belongs to: the quarter's last day for
    this_quarter (quarter to date), the preset's own end for a closed period. Plans and stocks
    (target, pipeline, forecast) are taken to it while flows stop at today (metrics.filters)."""
    kind = canonical_period(kind)
    start, end = period_range(kind, today, fiscal_year_start_month)
    if kind in TO_DATE_KINDS:
        return _unit_range(kind.split("_", 1)[1], start, fiscal_year_start_month)[1]
    return end


def previous_plan_end(kind: str, today: dt.date, fiscal_year_start_month: int = 1) -> dt.date:
    """The last day of the period `previous_range` belongs to: the whole previous quarter's last
    day for this_quarter (its first days are the flows' comparison, all of it the plans')."""
    kind = canonical_period(kind)
    start, end = previous_range(kind, today, fiscal_year_start_month)
    if kind in TO_DATE_KINDS:
        return _unit_range(kind.split("_", 1)[1], start, fiscal_year_start_month)[1]
    return end


def previous_range(kind: str, today: dt.date, fiscal_year_start_month: int = 1) -> tuple[dt.date, dt.date]:
    """The period preset `kind` compares with: for a preset to date, the same number of days from
    the start of the period before (this quarter's first 66 days against the previous quarter's
    first 66, never longer than that quarter); otherwise the whole period before (the quarter
    before last quarter, the 12 months before the last 12)."""
    kind = canonical_period(kind)
    start, end = period_range(kind, today, fiscal_year_start_month)
    if kind in TO_DATE_KINDS:
        unit = kind.split("_", 1)[1]
        p_start, p_end = _unit_range(unit, start - dt.timedelta(days=1), fiscal_year_start_month)
        return p_start, min(p_end, p_start + (end - start))
    if kind in ("last_12_full_months", "trailing_12_months"):
        return _add_years(start, -1), start - dt.timedelta(days=1)
    unit = kind.split("_", 1)[1]
    return _unit_range(unit, start - dt.timedelta(days=1), fiscal_year_start_month)


def date_problem(day: dt.date, name: str) -> str | None:
    """Why `day` (given as `name`, e.g. "from" or "--to") is refused, or None when it is usable."""
    if day < EARLIEST:
        return f"{name}={day.isoformat()} is before {EARLIEST.isoformat()} (dates run from {EARLIEST} to {LATEST})"
    if day > LATEST:
        return f"{name}={day.isoformat()} is after {LATEST.isoformat()} (dates run from {EARLIEST} to {LATEST})"
    return None


def period_problem(start: dt.date, end: dt.date, names: tuple[str, str] = ("from", "to")) -> str | None:
    """Why the period start..end is refused (a date out of range, end before start, longer than
    MAX_PERIOD_YEARS years), or None when it is usable."""
    problem = date_problem(start, names[0]) or date_problem(end, names[1])
    if problem:
        return problem
    if end < start:
        return f"{names[1]}={end.isoformat()} is before {names[0]}={start.isoformat()}"
    if end >= _add_years(start, MAX_PERIOD_YEARS):
        return (f"{names[0]}={start.isoformat()} to {names[1]}={end.isoformat()} is longer than "
                f"{MAX_PERIOD_YEARS} years, the longest period served")
    return None


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
