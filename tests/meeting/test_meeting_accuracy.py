"""Forecast accuracy on hand-built forecasts: 1 - |forecast - actual| / actual, quarters that ended only."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from meeting.accuracy import accuracy_of, forecast_accuracy, forecast_accuracy_table
from metrics import Filters
from store import schema as s

D = dt.date
TODAY = D(2026, 11, 18)
Q3, Q4 = (D(2026, 7, 1), D(2026, 9, 30)), (D(2026, 10, 1), D(2026, 12, 31))


@pytest.mark.parametrize("forecast, actual, expected", [
    (5000, 4000, 0.75), (4000, 4000, 1.0), (3000, 4000, 0.75), (8000, 4000, 0.0), (10000, 4000, -0.5),
    (100, 0, None), (None, 10, None), (10, None, None)])
def test_accuracy_of_by_hand(forecast, actual, expected):
    got = accuracy_of(forecast, actual)
    assert got == (pytest.approx(expected) if expected is not None else None)


def _record(engine, week, kind, forecast, period, taken=None):
    with engine.begin() as conn:
        sid = conn.execute(s.pipeline_snapshots.insert().values(
            week_start=week, kind=kind, taken_at=taken or dt.datetime.combine(week, dt.time(7)))).inserted_primary_key[0]
        conn.execute(s.snapshot_metrics.insert().values(
            snapshot_id=sid, metric_id="forecast", cut_type="quarter", cut_value="", period_start=period[0],
            period_end=period[1], value=forecast, unit="money"))
    return sid


@pytest.fixture
def forecasts(crm):
    # Q3 actual: only d5 (4,000 EUR, won 2026-09-20). Q4 so far: d1 (10,000 EUR, won 2026-11-12).
    _record(crm, D(2026, 9, 7), "weekly", 5000.0, Q3)
    _record(crm, D(2026, 9, 14), "reconstructed", 4000.0, Q3)
    _record(crm, D(2026, 9, 14), "on_demand", 9999.0, Q3)  # not a weekly forecast: ignored
    _record(crm, D(2026, 9, 21), "weekly", 2000.0, Q3)
    _record(crm, D(2026, 11, 16), "weekly", 12000.0, Q4)
    return crm


def test_accuracy_table_over_past_weeks(forecasts):
    table = forecast_accuracy_table(forecasts, today=TODAY)
    assert list(table.week_start) == [D(2026, 9, 7), D(2026, 9, 14), D(2026, 9, 21), D(2026, 11, 16)]
    assert list(table.forecast) == [5000.0, 4000.0, 2000.0, 12000.0]
    assert list(table.actual) == [4000.0, 4000.0, 4000.0, 10000.0]
    assert list(table.is_final) == [True, True, True, False]
    assert list(table.accuracy[:3]) == [pytest.approx(0.75), pytest.approx(1.0), pytest.approx(0.5)]
    assert pd.isna(table.accuracy.iloc[3])  # Q4 is still running
    assert list(forecast_accuracy_table(forecasts, until=D(2026, 9, 14), today=TODAY).week_start) == \
        [D(2026, 9, 7), D(2026, 9, 14)]


def test_forecast_accuracy_metric_averages_ended_quarters(forecasts):
    mv = forecast_accuracy(forecasts, Filters(D(2026, 7, 1), D(2026, 12, 31)), today=TODAY)
    assert mv.value == pytest.approx((0.75 + 1.0 + 0.5) / 3)
    assert (mv.unit, mv.metric_id) == ("ratio", "forecast_accuracy")


def test_forecast_accuracy_without_an_ended_quarter_says_why(forecasts):
    mv = forecast_accuracy(forecasts, Filters(D(2026, 10, 1), D(2026, 12, 31)), today=TODAY)
    assert mv.value is None and "ended in this period" in mv.reason
    sliced = forecast_accuracy(forecasts, Filters(D(2026, 7, 1), D(2026, 12, 31), regions=("France",)), today=TODAY)
    assert sliced.value is None and "whole company" in sliced.reason


def test_mean_accuracy_averages_ended_quarters_only():
    import pandas as pd
    from meeting.accuracy import ACCURACY_COLUMNS, mean_accuracy
    rows = [  # two ended quarters scored 0.9 and 0.6; a running one (no score) is left out
        {"is_final": True, "accuracy": 0.9}, {"is_final": True, "accuracy": 0.6},
        {"is_final": False, "accuracy": None}, {"is_final": True, "accuracy": None},
    ]
    table = pd.DataFrame([{c: r.get(c) for c in ACCURACY_COLUMNS} for r in rows], columns=ACCURACY_COLUMNS)
    mean, n = mean_accuracy(table)
    assert n == 2 and abs(mean - 0.75) < 1e-12
    assert mean_accuracy(pd.DataFrame(columns=ACCURACY_COLUMNS)) == (None, 0)
