"""Forecast accuracy: the forecast recorded in each week's snapshot vs the revenue actually won.

The metric itself, `forecast_accuracy` (the mean accuracy of the weekly forecasts for the fiscal
quarters that ended in a period), is in the metric layer (metrics/forecasts.py, declared in
metrics/catalog/forecasts.yaml): it reads the snapshots this module's neighbours write. This
module gives the meeting its per-week table and its mean, from the same rows:

    accuracy = 1 - |forecast - actual| / actual        (undefined when actual is 0)

so 1.0 is a perfect call and a forecast twice the actual scores 0. A forecast for a quarter still
running is listed with its actual to date and no accuracy.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Engine

from metrics import Filters, MetricValue, compute_many
from metrics.definitions import load_definitions
from metrics.forecasts import ACCURACY_COLUMNS, accuracy_of, accuracy_rows
from metrics.forecasts import recorded_forecasts as _recorded
from metrics.registry import Ctx
from store import utcnow


def recorded_forecasts(engine: Engine, until: dt.date | None = None) -> pd.DataFrame:
    """The whole-company quarter forecast of every weekly snapshot (up to week `until`)."""
    with engine.connect() as conn:
        rows = _recorded(Ctx(conn, load_definitions(conn)), until)
    return pd.DataFrame(rows, columns=["week_start", "snapshot_id", "period_start", "period_end", "value"])


def forecast_accuracy_table(engine: Engine, until: dt.date | None = None,
                            today: dt.date | None = None) -> pd.DataFrame:
    """One row per weekly snapshot: forecast, actual won revenue (to date if the quarter is still
    running), whether the quarter is over, and the accuracy (None while it runs)."""
    today = today or utcnow().date()
    with engine.connect() as conn:
        rows = accuracy_rows(Ctx(conn, load_definitions(conn)), today, until)
    return pd.DataFrame(rows, columns=ACCURACY_COLUMNS)


def mean_accuracy(table: pd.DataFrame) -> tuple[float | None, int]:
    """Mean accuracy over the rows of quarters that have ended, and how many rows it averages."""
    if table.empty:
        return None, 0
    final = table.loc[table["is_final"].astype(bool), "accuracy"]
    scores = [a for a in final if a is not None and not pd.isna(a)]
    return (sum(scores) / len(scores) if scores else None), len(scores)


def forecast_accuracy(engine: Engine, filters: Filters, today: dt.date | None = None) -> MetricValue:
    """The forecast_accuracy metric for `filters`, judged on `today` (default: now)."""
    now = dt.datetime.combine(today, dt.time()) if today is not None else None
    return compute_many(engine, ["forecast_accuracy"], filters, now=now)["forecast_accuracy"]


__all__ = ["ACCURACY_COLUMNS", "accuracy_of", "mean_accuracy", "recorded_forecasts", "forecast_accuracy_table",
           "forecast_accuracy"]
