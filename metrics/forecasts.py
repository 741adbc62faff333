"""Forecast accuracy: the forecast recorded in each weekly meeting snapshot vs the revenue won.

The snapshot of week W records `forecast` for the fiscal quarter under review (its `quarter`
cut). Once that quarter is over, the actual is `won_revenue` over the same quarter, computed
from the store as it is now, and

    accuracy = 1 - |forecast - actual| / actual        (undefined when actual is 0)

so 1.0 is a perfect call and a forecast twice the actual scores 0. A forecast for a quarter still
running is listed with its actual to date and no accuracy. The snapshots are read from their
store tables (the meeting module writes them; the metric layer does not import it).
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from store import schema as s

from .filters import Filters
from .registry import Ctx, NotAvailable, Result, computes
from .rules import now

WEEKLY_KINDS = ("weekly", "reconstructed")  # the snapshots a week's meeting uses
QUARTER_CUT = "quarter"  # the snapshot rows holding the fiscal quarter under review
ACCURACY_COLUMNS = ["week_start", "snapshot_id", "period_start", "period_end", "forecast", "actual",
                    "is_final", "accuracy"]
WHOLE_COMPANY_ONLY = "Forecasts are recorded for the whole company only; clear the slice filters."


def accuracy_of(forecast: float | None, actual: float | None) -> float | None:
    """1 - |forecast - actual| / actual; None when either is missing or the actual is 0."""
    if forecast is None or actual is None or actual == 0:
        return None
    return 1.0 - abs(forecast - actual) / abs(actual)


def recorded_forecasts(ctx: Ctx, until: dt.date | None = None) -> list[dict]:
    """The whole-company quarter forecast of every week's first weekly snapshot (up to week
    `until`): week_start, snapshot_id, period_start, period_end, value."""
    p, m = s.pipeline_snapshots, s.snapshot_metrics
    q = (select(p.c.week_start, p.c.snapshot_id, m.c.period_start, m.c.period_end, m.c.value)
         .join(m, m.c.snapshot_id == p.c.snapshot_id)
         .where(p.c.kind.in_(WEEKLY_KINDS), m.c.metric_id == "forecast", m.c.cut_type == QUARTER_CUT)
         .order_by(p.c.week_start, p.c.snapshot_id))
    if until is not None:
        q = q.where(p.c.week_start <= until)
    seen, out = set(), []
    for r in ctx.conn.execute(q).mappings():  # the first weekly snapshot of a week is the one its meeting used
        if r["week_start"] not in seen:
            seen.add(r["week_start"])
            out.append(dict(r))
    return out


def accuracy_rows(ctx: Ctx, today: dt.date, until: dt.date | None = None) -> list[dict]:
    """One row per weekly snapshot (ACCURACY_COLUMNS): forecast, actual won revenue (to date if
    the quarter is still running), whether the quarter is over, and the accuracy (None while it runs)."""
    out = []
    for r in recorded_forecasts(ctx, until):
        actual = ctx.value("won_revenue", Filters(r["period_start"], min(r["period_end"], today)))
        actual = None if isinstance(actual, NotAvailable) or actual is None else round(float(actual), 2)
        forecast = None if r["value"] is None else float(r["value"])
        final = r["period_end"] < today
        out.append({"week_start": r["week_start"], "snapshot_id": r["snapshot_id"],
                    "period_start": r["period_start"], "period_end": r["period_end"], "forecast": forecast,
                    "actual": actual, "is_final": final, "accuracy": accuracy_of(forecast, actual) if final else None})
    return out


@computes("forecast_accuracy")
def forecast_accuracy(ctx: Ctx, f: Filters) -> Result:
    """Mean accuracy of the weekly forecasts for the fiscal quarters that ended within the period."""
    if f.regions or f.product_lines or f.owners or f.teams or f.pipelines or f.sources:
        return NotAvailable(WHOLE_COMPANY_ONLY)
    ended = [r for r in accuracy_rows(ctx, now(ctx).date())
             if r["is_final"] and f.start <= r["period_end"] <= f.end]
    if not ended:
        return NotAvailable("No fiscal quarter with recorded weekly forecasts ended in this period; "
                            "choose a period that includes the end of a finished quarter.")
    scores = [r["accuracy"] for r in ended if r["accuracy"] is not None]
    if not scores:
        return NotAvailable("No revenue was won in the forecast quarters, so accuracy is undefined.")
    return sum(scores) / len(scores)


__all__ = ["ACCURACY_COLUMNS", "QUARTER_CUT", "WEEKLY_KINDS", "accuracy_of", "accuracy_rows", "forecast_accuracy",
           "recorded_forecasts"]
