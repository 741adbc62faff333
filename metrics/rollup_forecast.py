"""The Sales page's forecast table by HubSpot forecast category, from a summary (issue #16).

`rollup_deal_forecast` counts the deals and sums their amounts by close month x pipeline, stage,
currency, region, product line, deal source, owner x forecast category. The table (metrics.details.
forecast_by_category) is the won deals closed in the period plus the open deals of its pipeline
(closing in [start, plan end], and before the start when the period carries the past-due deals,
rules.carries_past_due): three periods, each read through `rollups.gather` (whole months from the
summary while fresh, the edge days from the deals, by the close-date index).
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, literal, literal_column, not_, select

from store import schema as s

from . import dimensions, rollups, sql
from .filters import NONE_BUCKET, Filters
from .registry import Ctx
from .rules import carries_past_due

d = s.deals
EARLIEST = dt.date(1900, 1, 1)  # as metrics.sales.past_due_open


def _forecast_query(ctx: Ctx, where=(), sign: int = 1):
    """rollup_deal_forecast's rows from the deals (those `where` selects, counted `sign`)."""
    keys = (sql.period_bucket(ctx, d.c.close_date, "month"), d.c.pipeline_id, d.c.stage_id, d.c.currency,
            dimensions.deal_region(ctx), dimensions.deal_product_line(ctx), d.c.deal_source, d.c.owner_id,
            d.c.forecast_category)
    return (select(*rollups._named(s.rollup_deal_forecast, *keys, func.count() * sign,
                                   func.sum(d.c.amount_cents) * sign))
            .where(not_(d.c.is_deleted), d.c.close_date.isnot(None), *where)
            .group_by(*[literal_column(str(i)) for i in range(1, len(keys) + 1)]))


def build_queries(ctx: Ctx, deal_where=None, sign: int = 1) -> list:
    """(table, query) pairs filling the summary (all deals, or those `deal_where` selects; None: none)."""
    return [] if deal_where is None else [(s.rollup_deal_forecast, _forecast_query(ctx, deal_where, sign))]


def deal_forecast_rows(ctx: Ctx, f: Filters):
    """rollup_deal_forecast's rows for the deals of `f` closing in its days, from the deals."""
    return _forecast_query(ctx, [*sql.deal_conditions(ctx, f), sql.in_period_date(d.c.close_date, f)]).subquery(
        "deal_forecast_rows")


def _by_category(won: bool):
    """reader(ctx, part, r): {category: (deals, amount, weighted amount)} of the won (or open)
    deals over the months of `part`, from rows shaped like rollup_deal_forecast."""
    def reader(ctx: Ctx, f: Filters, r=s.rollup_deal_forecast) -> dict:
        is_won = sql.is_won(ctx, r)
        amount = sql.to_major(ctx, r.c.amount_cents, r.c.currency)
        if won:
            category, weighted, which = literal("closed_won"), amount, is_won
        else:
            category = func.coalesce(func.nullif(r.c.forecast_category, ""), literal(NONE_BUCKET))
            weighted, which = amount * sql.stage_probability(ctx, r), sql.is_open(ctx, r)
        rows = ctx.conn.execute(select(category.label("cat"), func.sum(r.c.n), func.sum(amount), func.sum(weighted))
                                .where(*rollups.months(f, r.c.month), *rollups.deal_conditions(f, r), which)
                                .group_by(literal_column("cat"))).all()
        return {cat: (int(n or 0), float(a or 0.0), float(w or 0.0)) for cat, n, a, w in rows if n}
    return reader


def open_sums(ctx: Ctx, f: Filters, r=s.rollup_deal_forecast) -> tuple[int, float, float]:
    """(open deals, amount, probability-weighted amount) closing in the months of `f`, from rows
    shaped like rollup_deal_forecast: the past-due deals of metrics.sales.past_due_open, read from
    this summary (a few rows per month) rather than from rollup_deals over every month since the first."""
    amount = sql.to_major(ctx, r.c.amount_cents, r.c.currency)
    n, a, w = ctx.conn.execute(select(func.sum(r.c.n), func.sum(amount), func.sum(amount * sql.stage_probability(ctx, r)))
                               .where(*rollups.months(f, r.c.month), *rollups.deal_conditions(f, r),
                                      sql.is_open(ctx, r))).one()
    return int(n or 0), float(a or 0.0), float(w or 0.0)


def open_sums_by_owner(ctx: Ctx, f: Filters, r=s.rollup_deal_forecast) -> dict[str, tuple[int, float, float]]:
    """open_sums by deal owner (the quota tables' past-due deals, every rep in one pass)."""
    amount = sql.to_major(ctx, r.c.amount_cents, r.c.currency)
    rows = ctx.conn.execute(select(r.c.owner_id, func.sum(r.c.n), func.sum(amount),
                                   func.sum(amount * sql.stage_probability(ctx, r)))
                            .where(*rollups.months(f, r.c.month), *rollups.deal_conditions(f, r), sql.is_open(ctx, r))
                            .group_by(r.c.owner_id)).all()
    return {oid: (int(n or 0), float(a or 0.0), float(w or 0.0)) for oid, n, a, w in rows if oid not in (None, "")}


def forecast_by_category(ctx: Ctx, f: Filters) -> dict:
    """{category: (deals, amount, weighted amount)}: 'closed_won' for the deals won in the period
    (to date), the open deals of its pipeline by their forecast category ('' and none: NONE_BUCKET)."""
    out = rollups.gather(ctx, f.to_date(), _by_category(True), deal_forecast_rows, empty={})
    plan = f.whole()
    out = rollups.add_up(out, rollups.gather(ctx, plan, _by_category(False), deal_forecast_rows, empty={}))
    if carries_past_due(ctx, plan) and plan.start > EARLIEST:
        before = plan.with_period(EARLIEST, plan.start - dt.timedelta(days=1))
        out = rollups.add_up(out, rollups.gather(ctx, before, _by_category(False), deal_forecast_rows, empty={}))
    return out


def _by_stage(ctx: Ctx, f: Filters, r=s.rollup_deal_forecast) -> dict:
    """reader(ctx, part, r): {(pipeline, stage): (open deals, amount, weighted amount)} closing in
    the months of `part`, from rows shaped like rollup_deal_forecast."""
    amount = sql.to_major(ctx, r.c.amount_cents, r.c.currency)
    rows = ctx.conn.execute(select(r.c.pipeline_id, r.c.stage_id, func.sum(r.c.n), func.sum(amount),
                                   func.sum(amount * sql.stage_probability(ctx, r)))
                            .where(*rollups.months(f, r.c.month), *rollups.deal_conditions(f, r), sql.is_open(ctx, r))
                            .group_by(r.c.pipeline_id, r.c.stage_id)).all()
    return {(pid, sid): (int(n or 0), float(a or 0.0), float(w or 0.0)) for pid, sid, n, a, w in rows if n}


def open_by_stage(ctx: Ctx, f: Filters, today: dt.date) -> tuple[dict, dict]:
    """The open deals of the pipeline of `f` (closing in [start, plan end], and before the start
    when the period carries the past-due deals: rules.in_pipeline), by (pipeline, stage):
    {key: (deals, amount, weighted amount)}, and of them those closing before `today` (past due)."""
    plan = f.whole()
    out = rollups.gather(ctx, plan, _by_stage, deal_forecast_rows, empty={})
    first = plan.start
    if carries_past_due(ctx, plan) and plan.start > EARLIEST:
        first = EARLIEST
        out = rollups.add_up(out, rollups.gather(ctx, plan.with_period(EARLIEST, plan.start - dt.timedelta(days=1)),
                                                 _by_stage, deal_forecast_rows, empty={}))
    due_end = min(plan.end, today - dt.timedelta(days=1))
    due = (rollups.gather(ctx, plan.with_period(first, due_end), _by_stage, deal_forecast_rows, empty={})
           if first <= due_end else {})
    return out, due


__all__ = ["build_queries", "deal_forecast_rows", "forecast_by_category", "open_by_stage", "open_sums",
           "open_sums_by_owner"]
