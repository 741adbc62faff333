"""The presentation rules of metrics/format.py (#15), worked out by hand."""
from __future__ import annotations

import datetime as dt

import pandas as pd

from metrics.format import (BLANK, format_amount, format_cell, format_compact_money, format_day, format_month,
                            format_percent, format_period, period_grain)

NB, NNB = "\u00a0", "\u202f"


def test_format_month_names_each_month_including_december():
    assert format_month(dt.date(2026, 10, 1)) == "Oct 2026"
    assert format_month("2026-11") == "Nov 2026"
    assert format_month("2026-12-01") == "Dec 2026"  # not "Nov 30"
    assert format_month(pd.Timestamp("2027-01-01")) == "Jan 2027"


def test_format_month_in_french():
    assert format_month("2026-10", "fr-FR") == "oct. 2026"
    assert format_month("2026-12", "fr-FR") == "déc. 2026"
    assert format_month("2026-08", "fr-FR") == "août 2026"
    assert format_month("2027-02", "fr-FR") == "févr. 2027"


def test_format_day_is_unambiguous_in_both_locales():
    assert format_day(dt.date(2026, 10, 5)) == "Oct 5, 2026"
    assert format_day("2026-10-05", "fr-FR") == "5 oct. 2026"


def test_period_grain_tells_months_from_weeks():
    assert period_grain(["2026-10-01", "2026-11-01", "2026-12-01"]) == "month"
    assert period_grain(["2026-10", "2026-11"]) == "month"
    assert period_grain(["2026-09-28", "2026-10-05"]) == "day"
    assert period_grain(["France", "UK"]) is None
    assert format_period("2026-12-01", "month") == "Dec 2026"
    assert format_period("2026-11-16", "week", "fr-FR") == "16 nov. 2026"


def test_compact_money_for_tiles():
    assert format_compact_money(1_693_000) == "€1.69M"
    assert format_compact_money(852_895) == "€853K"
    assert format_compact_money(19_384) == "€19.4K"
    assert format_compact_money(-526_843) == "-€527K"
    assert format_compact_money(2_079.24) == "€2,079"
    assert format_compact_money(21.28) == "€21.28"
    assert format_compact_money(1_693_000, locale="fr-FR") == f"1,69{NB}M€"
    assert format_compact_money(852_895, locale="fr-FR") == f"853{NB}k€"


def test_table_amounts_have_no_cents_from_1000():
    assert format_amount(1_206_330.75) == "€1,206,331"
    assert format_amount(999.5) == "€999.50"
    assert format_amount(0.0) == "€0"
    assert format_amount(1_206_330.75, cents=True) == "€1,206,330.75"
    assert format_amount(43_100, locale="fr-FR") == f"43{NNB}100{NB}€"


def test_one_percent_precision():
    assert format_percent(0.5555) == "55.6%"
    assert format_percent(1.0) == "100.0%"
    assert format_percent(0.0) == "0.0%"
    assert format_percent(0.4444, "fr-FR") == f"44,4{NB}%"


def test_format_cell_never_writes_none_nan_or_nat():
    for missing in (None, float("nan"), pd.NaT, pd.NA):
        for unit in (None, "money", "ratio", "count", "date", "datetime", "month"):
            assert format_cell(missing, unit) == BLANK
    assert format_cell(0.5555, "ratio") == "55.6%"
    assert format_cell(pd.Timestamp("2026-10-24 14:29:16"), "datetime") == "Oct 24, 2026 14:29"
    assert format_cell(dt.date(2026, 12, 1), "month", "fr-FR") == "déc. 2026"
