"""Forecast accuracy: the forecast recorded in each week's snapshot vs the revenue actually won.

The snapshot of week W records `forecast` for the fiscal quarter under review (its `quarter`
row). Once that quarter is over, the actual is `won_revenue` over the same quarter, computed
from today's store, and

    accuracy = 1 - |forecast - actual| / actual        (undefined when actual is 0)

so 1.0 is a perfect call and a forecast twice the actual scores 0. A forecast for a quarter still
running is listed with its actual to date and no accuracy.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Engine, select

from metrics import Filters, MetricValue, compute_many
from store import schema as s, utcnow

from .snapshots import QUARTER_CUT, WEEKLY_KINDS

ACCURACY_COLUMNS = ["week_start", "snapshot_id", "period_start", "period_end", "forecast", "actual",
                    "is_final", "accuracy"]
LABEL = "Forecast accuracy"
DEFINITION = ("How close the weekly revenue forecasts came to the revenue actually won: "
              "1 - |forecast - actual| / actual, where the forecast is the one recorded in a week's "
              "snapshot for its fiscal quarter and the actual is the won revenue of that quarter. "
              "Averaged over the weekly forecasts of the quarters that ended in the period.")


def accuracy_of(forecast: float | None, actual: float | None) -> float | None:
    """1 - |forecast - actual| / actual; None when either is missing or the actual is 0."""
    if forecast is None or actual is None or actual == 0:
        return None
    return 1.0 - abs(forecast - actual) / abs(actual)


def recorded_forecasts(engine: Engine, until: dt.date | None = None) -> pd.DataFrame:
    """The whole-company quarter forecast of every weekly snapshot (up to week `until`)."""
    p, m = s.pipeline_snapshots, s.snapshot_metrics
    q = (select(p.c.week_start, p.c.snapshot_id, m.c.period_start, m.c.period_end, m.c.value)
         .join(m, m.c.snapshot_id == p.c.snapshot_id)
         .where(p.c.kind.in_(WEEKLY_KINDS), m.c.metric_id == "forecast", m.c.cut_type == QUARTER_CUT)
         .order_by(p.c.week_start, p.c.snapshot_id))
    if until is not None:
        q = q.where(p.c.week_start <= until)
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(q).mappings()]
    seen, out = set(), []
    for r in rows:  # the first weekly snapshot of a week is the one its meeting used
        if r["week_start"] not in seen:
            seen.add(r["week_start"])
            out.append(r)
    return pd.DataFrame(out, columns=["week_start", "snapshot_id", "period_start", "period_end", "value"])


def forecast_accuracy_table(engine: Engine, until: dt.date | None = None,
                            today: dt.date | None = None) -> pd.DataFrame:
    """One row per weekly snapshot: forecast, actual won revenue (to date if the quarter is still
    running), whether the quarter is over, and the accuracy (None while it runs)."""
    today = today or utcnow().date()
    recorded = recorded_forecasts(engine, until)
    actuals: dict[tuple[dt.date, dt.date], float | None] = {}
    for start, end in {(r.period_start, r.period_end) for r in recorded.itertuples()}:
        mv = compute_many(engine, ["won_revenue"], Filters(start, min(end, today)))["won_revenue"]
        actuals[(start, end)] = mv.value
    out = []
    for r in recorded.itertuples():
        forecast = None if pd.isna(r.value) else float(r.value)
        actual = actuals[(r.period_start, r.period_end)]
        final = r.period_end < today
        out.append({"week_start": r.week_start, "snapshot_id": r.snapshot_id, "period_start": r.period_start,
                    "period_end": r.period_end, "forecast": forecast, "actual": actual, "is_final": final,
                    "accuracy": accuracy_of(forecast, actual) if final else None})
    return pd.DataFrame(out, columns=ACCURACY_COLUMNS)


def mean_accuracy(table: pd.DataFrame) -> tuple[float | None, int]:
    """Mean accuracy over the rows of quarters that have ended, and how many rows it averages."""
    if table.empty:
        return None, 0
    final = table.loc[table["is_final"].astype(bool), "accuracy"]
    scores = [a for a in final if a is not None and not pd.isna(a)]
    return (sum(scores) / len(scores) if scores else None), len(scores)


def forecast_accuracy(engine: Engine, filters: Filters, today: dt.date | None = None) -> MetricValue:
    """Mean accuracy of the weekly forecasts for the fiscal quarters that ended within the period."""
    def value(v: float | None, reason: str | None = None) -> MetricValue:
        return MetricValue("forecast_accuracy", v, "ratio", LABEL, DEFINITION, utcnow(), reason)

    if filters.regions or filters.product_lines or filters.owners or filters.teams or filters.pipelines \
            or filters.sources:
        return value(None, "Forecasts are recorded for the whole company only; clear the slice filters.")
    table = forecast_accuracy_table(engine, today=today)
    ended = table[table.is_final & (table.period_end >= filters.start) & (table.period_end <= filters.end)]
    mean, _ = mean_accuracy(ended)
    if ended.empty:
        return value(None, "No fiscal quarter with recorded weekly forecasts ended in this period; "
                           "choose a period that includes the end of a finished quarter.")
    if mean is None:
        return value(None, "No revenue was won in the forecast quarters, so accuracy is undefined.")
    return value(mean)


__all__ = ["ACCURACY_COLUMNS", "accuracy_of", "mean_accuracy", "recorded_forecasts", "forecast_accuracy_table",
           "forecast_accuracy"]
