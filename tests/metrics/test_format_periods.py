"""Number formatting (en-US / fr-FR) and the fiscal calendar."""
from __future__ import annotations

import datetime as dt

import pytest

from metrics.format import format_date, format_value
from metrics.periods import fiscal_quarter, fiscal_year_range, period_range, week_start

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
    assert period_range("this_week", today) == (D(2026, 11, 23), D(2026, 11, 29))
    assert period_range("this_month", today) == (D(2026, 11, 1), D(2026, 11, 30))
    assert period_range("this_quarter", today) == (D(2026, 10, 1), D(2026, 12, 31))
    assert period_range("fiscal_year", today, 7) == (D(2026, 7, 1), D(2027, 6, 30))
    assert period_range("last_12_months", today) == (D(2025, 12, 1), D(2026, 11, 30))
    with pytest.raises(ValueError, match="unknown period"):
        period_range("yesterday", today)


def test_to_date_comparison_cuts_a_period_in_progress():
    from metrics.periods import to_date_comparison
    D = dt.date
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
