"""Number formatting (en-US / fr-FR) and the fiscal calendar."""
from __future__ import annotations

import datetime as dt

import pytest

from metrics.format import format_date, format_value
from metrics.periods import (PERIOD_KINDS, canonical_period, date_problem, period_problem, fiscal_quarter, fiscal_year_range, period_range,
                             previous_range, to_date_comparison, week_start)

D = dt.date


@pytest.mark.parametrize("value,unit,locale,expected", [
    (1234.56, "money", "en-US", "€1,234.56"),
    (1234.56, "money", "fr-FR", "1\u202f234,56\u00a0€"),
    (-5, "money", "en-US", "-€5.00"),
    (0.256, "ratio", "en-US", "25.6%"),
    (0.256, "ratio", "fr-FR", "25,6\u00a0%"),
    (12345, "count", "en-US", "12,345"),
    (3.25, "ratio_x", "en-US", "3.2x"),
    (29.67, "days", "en-US", "29.7 days"),
    (None, "money", "en-US", "n/a"),
])
def test_format_value(value, unit, locale, expected):
    assert format_value(value, unit, locale) == expected


def test_format_unknown_unit_and_dates():
    with pytest.raises(ValueError, match="unit"):
        format_value(1, "euros")
    assert format_date(D(2026, 3, 1)) == "Mar 1, 2026"
    assert format_date(D(2026, 3, 1), "fr-FR") == "01/03/2026"


def test_fiscal_calendar_starting_in_april():
    assert fiscal_year_range(D(2026, 2, 1), 4) == (D(2025, 4, 1), D(2026, 3, 31))
    assert fiscal_quarter(D(2026, 2, 1), 4) == (4, D(2026, 1, 1), D(2026, 3, 31))
    assert fiscal_quarter(D(2026, 5, 10), 4) == (1, D(2026, 4, 1), D(2026, 6, 30))


def test_period_ranges():
    today = D(2026, 11, 25)  # a Wednesday
    assert week_start(today) == D(2026, 11, 23)
    assert period_range("this_week", today) == (D(2026, 11, 23), D(2026, 11, 25))
    assert period_range("last_week", today) == (D(2026, 11, 16), D(2026, 11, 22))
    assert period_range("this_month", today) == (D(2026, 11, 1), D(2026, 11, 25))
    assert period_range("last_month", today) == (D(2026, 10, 1), D(2026, 10, 31))
    assert period_range("this_quarter", today) == (D(2026, 10, 1), D(2026, 11, 25))
    assert period_range("last_quarter", today) == (D(2026, 7, 1), D(2026, 9, 30))
    assert period_range("this_year", today) == (D(2026, 1, 1), D(2026, 11, 25))
    assert period_range("last_year", today) == (D(2025, 1, 1), D(2025, 12, 31))
    assert period_range("last_12_full_months", today) == (D(2025, 11, 1), D(2026, 10, 31))
    assert period_range("trailing_12_months", today) == (D(2025, 11, 26), D(2026, 11, 25))
    with pytest.raises(ValueError, match="unknown period"):
        period_range("yesterday", today)


def test_period_ranges_never_reach_past_today():
    # the day: "Last 12 months" on 2026-12-05 covered 2026-01-01 to 2026-12-31
    today = D(2026, 12, 5)
    assert period_range("last_12_months", today) == (D(2025, 12, 6), D(2026, 12, 5))  # now trailing 12 months
    assert period_range("last_12_full_months", today) == (D(2025, 12, 1), D(2026, 11, 30))
    for first_day in (D(2026, 1, 1), D(2026, 2, 28), D(2026, 3, 31), D(2026, 12, 31), D(2028, 2, 29)):
        for kind in PERIOD_KINDS:
            for fy in (1, 4, 7):
                start, end = period_range(kind, first_day, fy)
                assert start <= end <= first_day, (kind, first_day, fy)


def test_period_ranges_follow_the_fiscal_year():
    # fiscal year from April (calendar.fiscal_year_start_month: 4): Q3 is October-December
    today = D(2026, 11, 25)
    assert period_range("this_quarter", today, 4) == (D(2026, 10, 1), D(2026, 11, 25))
    assert period_range("last_quarter", today, 4) == (D(2026, 7, 1), D(2026, 9, 30))
    assert period_range("this_year", today, 4) == (D(2026, 4, 1), D(2026, 11, 25))
    assert period_range("last_year", today, 4) == (D(2025, 4, 1), D(2026, 3, 31))
    # fiscal year from July, on 10 February 2027: Q3 is January-March, the year began July 2026
    feb = D(2027, 2, 10)
    assert period_range("last_quarter", feb, 7) == (D(2026, 10, 1), D(2026, 12, 31))
    assert period_range("this_year", feb, 7) == (D(2026, 7, 1), D(2027, 2, 10))
    assert period_range("last_year", feb, 7) == (D(2025, 7, 1), D(2026, 6, 30))
    # a 29 February: the trailing year starts on 1 March of the year before
    assert period_range("trailing_12_months", D(2028, 2, 29)) == (D(2027, 3, 1), D(2028, 2, 29))


def test_old_period_names_stand_for_the_new_presets():
    today = D(2026, 11, 25)
    assert canonical_period("quarter_to_date") == "this_quarter"
    assert canonical_period("fiscal_year") == "this_year"
    assert canonical_period("last_12_months") == "trailing_12_months"
    assert period_range("quarter_to_date", today) == (D(2026, 10, 1), D(2026, 11, 25))
    assert period_range("fiscal_year", today, 7) == (D(2026, 7, 1), D(2026, 11, 25))


def test_previous_range_of_each_preset():
    today = D(2026, 11, 25)
    # to date: the same days of the period before (quarter: 56 days run, 1 Oct - 25 Nov)
    assert previous_range("this_quarter", today) == (D(2026, 7, 1), D(2026, 8, 25))
    assert previous_range("this_week", today) == (D(2026, 11, 16), D(2026, 11, 18))
    assert previous_range("this_year", today) == (D(2025, 1, 1), D(2025, 11, 25))
    # never longer than the period before: 31 March vs February
    assert previous_range("this_month", D(2026, 3, 31)) == (D(2026, 2, 1), D(2026, 2, 28))
    # whole periods: the whole one before
    assert previous_range("last_quarter", today) == (D(2026, 4, 1), D(2026, 6, 30))
    assert previous_range("last_month", today) == (D(2026, 9, 1), D(2026, 9, 30))
    assert previous_range("last_12_full_months", today) == (D(2024, 11, 1), D(2025, 10, 31))
    assert previous_range("trailing_12_months", today) == (D(2024, 11, 26), D(2025, 11, 25))


def test_to_date_comparison_cuts_a_period_in_progress():
    # this quarter on 23 Nov (54 days run) vs the previous quarter: its first 54 days
    assert to_date_comparison(D(2026, 10, 1), D(2026, 12, 31), D(2026, 7, 1), D(2026, 9, 30),
                              D(2026, 11, 23)) == (D(2026, 7, 1), D(2026, 8, 23))
    # never longer than the comparison period itself (a 31-day month vs a 28-day one)
    assert to_date_comparison(D(2026, 3, 1), D(2026, 3, 31), D(2026, 2, 1), D(2026, 2, 28),
                              D(2026, 3, 30)) == (D(2026, 2, 1), D(2026, 2, 28))
    # over, or not begun, or on its last day: the whole comparison period
    assert to_date_comparison(D(2026, 1, 1), D(2026, 3, 31), D(2025, 10, 1), D(2025, 12, 31), D(2026, 4, 2)) is None
    assert to_date_comparison(D(2026, 1, 1), D(2026, 3, 31), D(2025, 10, 1), D(2025, 12, 31), D(2025, 12, 2)) is None
    assert to_date_comparison(D(2026, 1, 1), D(2026, 3, 31), D(2025, 10, 1), D(2025, 12, 31), D(2026, 3, 31)) is None


def test_plans_and_stocks_compare_whole_periods_flows_to_date():
    from metrics import REGISTRY
    whole = {m for m, d in REGISTRY.items() if d.compare == "whole"}
    assert {"target_revenue", "forecast", "open_pipeline", "weighted_pipeline", "pipeline_coverage"} <= whole
    assert not whole & {"north_star", "won_revenue", "new_leads", "mqls", "invoiced_revenue", "marketing_spend"}


def test_dates_and_periods_served():
    assert date_problem(D(1990, 1, 1), "from") is None and date_problem(D(2100, 12, 31), "to") is None
    assert date_problem(D(1989, 12, 31), "from") == \
        "from=1989-12-31 is before 1990-01-01 (dates run from 1990-01-01 to 2100-12-31)"
    assert date_problem(D(2101, 1, 1), "to") == "to=2101-01-01 is after 2100-12-31 (dates run from 1990-01-01 to 2100-12-31)"
    # 20 years less a day is served; 20 years is not
    assert period_problem(D(2000, 3, 1), D(2020, 2, 29)) is None
    assert period_problem(D(2000, 3, 1), D(2020, 3, 1)) == \
        "from=2000-03-01 to to=2020-03-01 is longer than 20 years, the longest period served"
    assert period_problem(D(2026, 2, 1), D(2026, 1, 31)) == "to=2026-01-31 is before from=2026-02-01"
    assert period_problem(D(1, 1, 1), D(1, 1, 31)).startswith("from=0001-01-01 is before 1990-01-01")
