"""Day-resolution histograms for the figures that do not add up: the median sales cycle and the
funnel's median days between stages (issue #16).

A median of two parts is not a function of the parts' medians, but a histogram is a sum: each
summary counts its rows by whole days (`whole_days`: days elapsed, the fraction of the last day
dropped), so the months of a period add up to the period's histogram, and its median is exact to
the day (the mean of the two middle values when the count is even, so x or x.5 days).

- `rollup_deal_cycles`: won deals by close month x pipeline, region, product line, deal source,
  owner x whole days from creation to close.
- `rollup_funnel_days`: contacts by funnel view and mode (metrics.details.funnel) x stage x
  region, owner, original source x whole days from the previous stage (NULL for the first stage),
  by the month they reached the stage (view 'period') or the first stage (view 'cohort').
- `rollup_recent_funnel_days`: the same by day, for the recent days only (from the first day of
  the month before the last build's, `rollups.recent`): the edge days of the default views (the
  month in progress) read from it instead of the contacts. Not the whole history: by day the
  histogram is nearly a row per contact and stage (2.7x the monthly rows at 100k deals, and it
  would grow with the contacts), while two months of days stay small.

Both belong to the CRM group (rollups.NAME): built, kept through a sync's writes (rollups_build.Keeper)
and read while fresh like the monthly rollups, through `rollups.gather` with one reader for the
summary and for the builder's query over the base tables (`deal_cycle_rows`, `funnel_day_rows`).
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, Integer, and_, cast, func, literal, literal_column, not_, select, union_all

from store import schema as s

from . import dimensions, rollups, sql
from .filters import Filters
from .registry import Ctx

d, c = s.deals, s.contacts
VIEWS, MODES = ("period", "cohort"), ("any", "strict")


def whole_days(ctx: Ctx, start_col, end_col) -> ColumnElement:
    """Whole days from start to end (the fractional days of sql.days_between, truncated), an integer."""
    days = sql.days_between(ctx, start_col, end_col)
    if ctx.conn.dialect.name == "sqlite":
        return cast(days, Integer)
    return cast(func.trunc(days), Integer)


def median(histogram: dict) -> float | None:
    """The median of the values a {value: count} histogram holds (None keys: no value, left out)."""
    items = sorted((k, n) for k, n in histogram.items() if k is not None and n)
    total = sum(n for _, n in items)
    if not total:
        return None
    lo, hi = (total - 1) // 2, total // 2
    seen, low = 0, None
    for value, n in items:
        if low is None and seen + n > lo:
            low = value
        if seen + n > hi:
            return (float(low) + float(value)) / 2
        seen += n
    raise AssertionError("unreachable: the counts add up to total")


# --- the builder's queries (also the base-table rows of a part's days) -----------------------

def _cycles_query(ctx: Ctx, where=(), sign: int = 1):
    """rollup_deal_cycles' rows from the won deals (those `where` selects, counted `sign`)."""
    keys = (sql.period_bucket(ctx, d.c.close_date, "month"), d.c.pipeline_id, dimensions.deal_region(ctx),
            dimensions.deal_product_line(ctx), d.c.deal_source, d.c.owner_id, whole_days(ctx, d.c.created_at, d.c.close_date))
    return (select(*rollups._named(s.rollup_deal_cycles, *keys, func.count() * sign))
            .where(not_(d.c.is_deleted), d.c.close_date.isnot(None), sql.is_won(ctx), *where)
            .group_by(*[literal_column(str(i)) for i in range(1, len(keys) + 1)]))


def _funnel_queries(ctx: Ctx, view: str, mode: str, where=(), in_period=None, sign: int = 1,
                    deleted=c.c.is_deleted, by_day: bool = False, lines: bool = True, lines_as=None) -> list:
    """rollup_funnel_days' rows of one view and mode, one query per stage (the contacts `where`
    selects, counted `sign`; `in_period(col)`: the condition on the month's date, for a part's days;
    `by_day`: rollup_recent_funnel_days' rows, by day instead of month; deal_lines as
    rollups.lines_column's)."""
    stages = ctx.defs.funnel_stages
    strict = mode == "strict"
    at = {st: sql.reached_at(ctx, st, strict=strict) for st in stages}
    out = []
    for i, st in enumerate(stages):
        dated = at[st] if view == "period" else at[stages[0]]
        cond = [not_(deleted), at[st].isnot(None), dated.isnot(None), *where]
        if strict:
            cond += [at[x].isnot(None) for x in stages[:i]]
        if in_period is not None:
            cond.append(in_period(dated))
        days = whole_days(ctx, at[stages[i - 1]], at[st]) if i else literal(None, Integer)
        keys = (sql.period_bucket(ctx, dated, "day" if by_day else "month"), literal(view), literal(mode), literal(st),
                c.c.region, c.c.owner_id, c.c.original_source, days)
        grouped = (1, 5, 6, 7, 8, 10) if i else (1, 5, 6, 7, 10)  # the first stage's days are NULL
        table = s.rollup_recent_funnel_days if by_day else s.rollup_funnel_days
        out.append(select(*rollups._named(table, *keys, func.count() * sign,
                                          rollups.lines_column(ctx, lines, lines_as)))
                   .where(*cond).group_by(*[literal_column(str(n)) for n in grouped]))
    return out


def build_queries(ctx: Ctx, deal_where=None, contact_where=None, sign: int = 1,
                  recent_from: dt.date | None = None, deleted=c.c.is_deleted, lines_as=None) -> list:
    """(table, query) pairs filling the histograms (all rows, or the rows of the deals and contacts
    `deal_where` / `contact_where` select, counted `sign`; None: none of them); with `recent_from`,
    the funnel's by day too, for the days from then on (rollup_recent_funnel_days); `deleted`: the
    contacts' deleted flag as the queries test it (wrapped by the Keeper, see rollups.live)."""
    out = []
    if deal_where is not None:
        out.append((s.rollup_deal_cycles, _cycles_query(ctx, deal_where, sign)))
    if contact_where is not None:
        out += [(s.rollup_funnel_days, q) for view in VIEWS for mode in MODES
                for q in _funnel_queries(ctx, view, mode, contact_where, sign=sign, deleted=deleted,
                                         lines_as=lines_as)]
        if recent_from is not None:
            since = sql.day_start(recent_from)
            out += [(s.rollup_recent_funnel_days, q) for view in VIEWS for mode in MODES
                    for q in _funnel_queries(ctx, view, mode, contact_where, lambda col: col >= since, sign=sign,
                                             deleted=deleted, by_day=True, lines_as=lines_as)]
    return out


def deal_cycle_rows(ctx: Ctx, f: Filters):
    """rollup_deal_cycles' rows for the won deals of `f` closed in its days, from the deals."""
    return _cycles_query(ctx, [*sql.deal_conditions(ctx, f), sql.in_period_date(d.c.close_date, f)]).subquery(
        "deal_cycle_rows")


def funnel_day_rows(view: str, mode: str):
    """rows(ctx, part): rollup_funnel_days' rows of `view` and `mode` for the contacts of `part`
    dated in its days: from rollup_recent_funnel_days when those are recent days it holds and the
    filters are ones it carries, else from the contacts (a product-line or pipeline filter, which
    the summaries lack, applied there)."""
    def rows(ctx: Ctx, f: Filters):
        if rollups.contact_filters_supported(f) and rollups.recent(ctx, f):  # recent days: by day, summed
            r = s.rollup_recent_funnel_days
            return rollups._by_day(r, s.rollup_funnel_days, f, "funnel_day_rows",
                                   (r.c.funnel_view == view, r.c.funnel_mode == mode))
        return union_all(*_funnel_queries(ctx, view, mode, [*sql.contact_conditions(ctx, f), *rollups.touched(ctx, f)],
                                          lambda col: sql.in_period_dt(col, f), deleted=rollups.live(f),
                                          lines=False)).subquery(
            "funnel_day_rows")
    return rows


# --- reading -----------------------------------------------------------------------------------

def cycle_histogram(ctx: Ctx, f: Filters, r=s.rollup_deal_cycles) -> dict:
    """{whole days: won deals} over the months of `f` (rows shaped like rollup_deal_cycles)."""
    rows = ctx.conn.execute(select(r.c.days, func.sum(r.c.n))
                            .where(*rollups.months(f, r.c.month), *rollups.deal_conditions(f, r))
                            .group_by(r.c.days)).all()
    return {days: int(n) for days, n in rows if n}


def funnel_histogram(view: str, mode: str):
    """reader(ctx, part, r): {(stage, whole days or None): contacts} of `view` and `mode` over the
    months of `part` (rows shaped like rollup_funnel_days)."""
    def reader(ctx: Ctx, f: Filters, r=s.rollup_funnel_days) -> dict:
        rows = ctx.conn.execute(select(r.c.stage, r.c.days, func.sum(r.c.n))
                                .where(and_(r.c.funnel_view == view, r.c.funnel_mode == mode),
                                       *rollups.months(f, r.c.month), *rollups.contact_conditions(f, r))
                                .group_by(r.c.stage, r.c.days)).all()
        return {(st, days): int(n) for st, days, n in rows if n}
    return reader


def funnel_days(ctx: Ctx, f: Filters, view: str, mode: str) -> dict:
    """{(stage, whole days or None): contacts} for the funnel of `view` and `mode` over the period
    of `f`: whole months from rollup_funnel_days when fresh and the filters are ones it carries,
    the rest from the contacts."""
    return rollups.gather(ctx, f, funnel_histogram(view, mode), funnel_day_rows(view, mode),
                          rollups.contact_filters_supported(f), empty={})


def won_cycle_days(ctx: Ctx, f: Filters) -> dict:
    """{whole days: won deals} of the period of `f` (whole months from rollup_deal_cycles)."""
    return rollups.gather(ctx, f, cycle_histogram, deal_cycle_rows, empty={})


__all__ = ["MODES", "VIEWS", "build_queries", "cycle_histogram", "deal_cycle_rows", "funnel_day_rows", "funnel_days",
           "funnel_histogram", "median", "whole_days", "won_cycle_days"]
