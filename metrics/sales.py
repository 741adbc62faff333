"""Sales metrics: won revenue, win rate, pipeline, targets, velocity and the forecast.

Dates: a deal is won or lost in the period its close date falls in. The open pipeline of a
period is the open deals whose expected close date falls in the period (overdue deals, whose
close date has passed, and deals without a close date are not in any period's pipeline).
All amounts in the reporting currency, major units (see sql.to_major).
"""
from __future__ import annotations

import calendar
import datetime as dt

from sqlalchemy import and_, func, select

from store import schema as s

from . import dimensions, rollups, sql
from .filters import Filters
from .registry import Ctx, NotAvailable, Result, breaks_down, computes, first_unavailable
from .rules import marketing_sourced

d = s.deals
NO_DEALS = NotAvailable("no deals in the store yet: run a HubSpot sync or load the demo data")


def has_deals(ctx: Ctx) -> bool:
    if "has_deals" not in ctx.cache:
        ctx.cache["has_deals"] = ctx.conn.execute(
            select(d.c.deal_id).where(~d.c.is_deleted).limit(1)).first() is not None
    return ctx.cache["has_deals"]


def closed_stats(ctx: Ctx, f: Filters) -> dict:
    """Deals with a close date in the period, in one pass (memoised per Ctx): won / lost counts,
    won revenue, mean sales cycle of the won deals, won revenue of marketing-sourced deals, and the
    open deals (count, amount, weighted amount) expected to close in the period.

    Whole months come from the monthly rollup when it is fresh (metrics/rollups.py), the other
    days from the deals themselves; the parts are sums, so they add up."""
    key = ("closed", f)
    if key not in ctx.cache:
        totals = rollups.gather(ctx, f, _closed_raw, rollups.closed_raw)
        won, lost, revenue, cycle_sum, cycle_n, mkt_revenue, open_n, open_amount, open_weighted = totals
        ctx.cache[key] = {"won": int(won), "lost": int(lost), "revenue": sql.money(revenue),
                          "cycle_days": float(cycle_sum) / cycle_n if cycle_n else None,
                          "marketing_revenue": sql.money(mkt_revenue),
                          "open": (int(open_n), sql.money(open_amount), sql.money(open_weighted))}
    return ctx.cache[key]


def _closed_raw(ctx: Ctx, f: Filters) -> list:
    """The sums behind closed_stats, read from the deals of `f`."""
    won, lost, open_ = sql.is_won(ctx), sql.is_lost(ctx), sql.is_open(ctx)
    amount = sql.to_major(ctx, d.c.amount_cents, d.c.currency)
    cycle = _cycle_days(ctx)
    row = ctx.conn.execute(select(
        func.count().filter(won), func.count().filter(lost), func.sum(amount).filter(won),
        func.sum(cycle).filter(won), func.count(cycle).filter(won),
        func.sum(amount).filter(and_(won, marketing_sourced(ctx))),
        func.count().filter(open_), func.sum(amount).filter(open_),
        func.sum(amount * sql.stage_probability(ctx)).filter(open_),
    ).where(*sql.deal_conditions(ctx, f), sql.in_period_date(d.c.close_date, f))).one()
    return [v or 0 for v in row]


def _closed(ctx: Ctx, f: Filters) -> tuple[int, int, float]:
    """(won deals, lost deals, won revenue) closed in the period."""
    st = closed_stats(ctx, f)
    return st["won"], st["lost"], st["revenue"]


def _open(ctx: Ctx, f: Filters) -> tuple[int, float, float]:
    """(open deals, amount, probability-weighted amount) expected to close in the period."""
    return closed_stats(ctx, f)["open"]


@computes("won_revenue")
def won_revenue(ctx: Ctx, f: Filters) -> Result:
    """Sum of closed-won deal amounts with close date in the period (reporting currency)."""
    if not has_deals(ctx):
        return NO_DEALS
    return _closed(ctx, f)[2]


@computes("won_deals")
def won_deals(ctx: Ctx, f: Filters) -> Result:
    if not has_deals(ctx):
        return NO_DEALS
    return _closed(ctx, f)[0]


@computes("lost_deals")
def lost_deals(ctx: Ctx, f: Filters) -> Result:
    if not has_deals(ctx):
        return NO_DEALS
    return _closed(ctx, f)[1]


@computes("north_star")
def north_star(ctx: Ctx, f: Filters) -> Result:
    """Booked (won revenue) or invoiced revenue, per the definition `north_star.basis`."""
    basis = ctx.defs.north_star_basis
    return ctx.value("won_revenue" if basis == "booked" else "invoiced_revenue", f)


@computes("win_rate")
def win_rate(ctx: Ctx, f: Filters) -> Result:
    """won / (won + lost), by count, deals closed in the period."""
    if not has_deals(ctx):
        return NO_DEALS
    won, lost, _ = _closed(ctx, f)
    if won + lost == 0:
        return NotAvailable("no deal was won or lost in this period")
    return won / (won + lost)


def _cycle_days(ctx: Ctx):
    return sql.days_between(ctx, d.c.created_at, d.c.close_date)


def _won_in_period(ctx: Ctx, f: Filters) -> list:
    return [*sql.deal_conditions(ctx, f), sql.is_won(ctx), sql.in_period_date(d.c.close_date, f)]


@computes("sales_cycle_days")
def sales_cycle_days(ctx: Ctx, f: Filters) -> Result:
    """Mean days from creation to close date of the deals won in the period."""
    if not has_deals(ctx):
        return NO_DEALS
    mean = closed_stats(ctx, f)["cycle_days"]
    if mean is None:
        return NotAvailable("no deal was won in this period")
    return mean


@computes("sales_cycle_days_median")
def sales_cycle_days_median(ctx: Ctx, f: Filters) -> Result:
    """Median days from creation to close date of the deals won in the period."""
    if not has_deals(ctx):
        return NO_DEALS
    days = _cycle_days(ctx).label("days")
    conds = _won_in_period(ctx, f)
    n = closed_stats(ctx, f)["won"]
    if not n:
        return NotAvailable("no deal was won in this period")
    middle = ctx.conn.execute(select(days).where(*conds).order_by(days)
                              .offset((n - 1) // 2).limit(2 if n % 2 == 0 else 1)).scalars().all()
    return sum(float(x) for x in middle) / len(middle)


@computes("open_pipeline")
def open_pipeline(ctx: Ctx, f: Filters) -> Result:
    """Amount of open deals expected to close in the period."""
    if not has_deals(ctx):
        return NO_DEALS
    return _open(ctx, f)[1]


@computes("weighted_pipeline")
def weighted_pipeline(ctx: Ctx, f: Filters) -> Result:
    """Sum of amount x stage probability of the open deals expected to close in the period."""
    if not has_deals(ctx):
        return NO_DEALS
    return _open(ctx, f)[2]


def _pipeline_by_stage(ctx: Ctx, f: Filters, weighted: bool) -> list[tuple[str, Result]]:
    amount = sql.to_major(ctx, d.c.amount_cents, d.c.currency)
    measure = func.sum(amount * sql.stage_probability(ctx)) if weighted else func.sum(amount)
    rows = ctx.conn.execute(select(d.c.pipeline_id, d.c.stage_id, measure)
                            .where(*sql.deal_conditions(ctx, f), sql.is_open(ctx), sql.in_period_date(d.c.close_date, f))
                            .group_by(d.c.pipeline_id, d.c.stage_id)).all()
    rules = sql.stage_rules(ctx)
    rows = sorted(rows, key=lambda r: (r[0], rules.order.get((r[0], r[1]), 0), r[1]))
    return [(rules.labels.get((pid, sid), sid), sql.money(v)) for pid, sid, v in rows]


@breaks_down("open_pipeline", "stage")
def open_pipeline_by_stage(ctx: Ctx, f: Filters) -> list[tuple[str, Result]]:
    return _pipeline_by_stage(ctx, f, weighted=False)


@breaks_down("weighted_pipeline", "stage")
def weighted_pipeline_by_stage(ctx: Ctx, f: Filters) -> list[tuple[str, Result]]:
    return _pipeline_by_stage(ctx, f, weighted=True)


def _month_days(m: dt.date) -> int:
    return calendar.monthrange(m.year, m.month)[1]


def _months(f: Filters) -> list[dt.date]:
    out, m = [], f.start.replace(day=1)
    while m <= f.end:
        out.append(m)
        m = (m.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return out


def budget_for_period(ctx: Ctx, metric: str, f: Filters) -> Result:
    """A budgeted figure (budgets.value) for the period, each month prorated by its days in the period.

    Budget lines hold a region and a product line, '' meaning all. Without a region filter the
    all-regions lines are used (or, if a month has none, the sum of its per-region lines); with
    one, the lines of the chosen regions. Product lines likewise. Budgets have no owner, team,
    pipeline or source.
    """
    if f.owners or f.teams or f.pipelines or f.sources:
        return NotAvailable("budgets are set by region and product line only: remove the owner, team, "
                            "pipeline and source filters to compare with them")
    b = s.budgets
    rows = ctx.conn.execute(select(b.c.month, b.c.region, b.c.product_line, func.sum(b.c.value))
                            .where(b.c.metric == metric, b.c.month >= f.start.replace(day=1), b.c.month <= f.end)
                            .group_by(b.c.month, b.c.region, b.c.product_line)).all()
    if not rows:
        return NotAvailable(f"no {metric} budget covers this period: import budgets on the Data page")

    def pick(lines: list, idx: int, wanted: tuple[str, ...]) -> list:
        if wanted:
            return [r for r in lines if dimensions.selects(r[idx], wanted)]
        total = [r for r in lines if r[idx] == ""]
        return total or lines

    by_month: dict[dt.date, list] = {}
    for r in rows:
        by_month.setdefault(r[0], []).append(r)
    months = _months(f)
    missing = [m.strftime("%Y-%m") for m in months if m not in by_month]
    if missing:
        return NotAvailable(f"no {metric} budget for {', '.join(missing)}: import budgets covering the "
                            "whole period on the Data page")
    value, unbudgeted = 0.0, []
    for month, lines in sorted(by_month.items()):
        lines = pick(pick(lines, 1, f.regions), 2, f.product_lines)
        if not lines:
            unbudgeted.append(month.strftime("%Y-%m"))
        overlap = (min(month.replace(day=_month_days(month)), f.end) - max(month, f.start)).days + 1
        value += sum(float(r[3]) for r in lines) * overlap / _month_days(month)
    if unbudgeted:
        return NotAvailable(f"no {metric} budget for the selected regions / product lines in "
                            f"{', '.join(unbudgeted)}: import budgets at that level on the Data page")
    return value


@computes("target_revenue")
def target_revenue(ctx: Ctx, f: Filters) -> Result:
    """Revenue target of the period from budgets (metric target_revenue, cents), prorated by day."""
    cents = budget_for_period(ctx, "target_revenue", f)
    return cents if isinstance(cents, NotAvailable) else cents / 100.0


@computes("pipeline_coverage")
def pipeline_coverage(ctx: Ctx, f: Filters) -> Result:
    """open pipeline closing in the period / (target - won revenue)."""
    target, won, pipe = ctx.value("target_revenue", f), ctx.value("won_revenue", f), ctx.value("open_pipeline", f)
    if missing := first_unavailable(target, won, pipe):
        return missing
    remaining = target - won
    if remaining <= 0:
        return NotAvailable("the target of this period is already reached: nothing left to cover")
    return pipe / remaining


@computes("sales_velocity")
def sales_velocity(ctx: Ctx, f: Filters) -> Result:
    """open deals closing in the period x win rate x average deal size / mean sales cycle (per day)."""
    if not has_deals(ctx):
        return NO_DEALS
    parts = [ctx.value(m, f) for m in ("win_rate", "avg_deal_size", "sales_cycle_days")]
    if missing := first_unavailable(*parts):
        return missing
    rate, size, cycle = parts
    if cycle <= 0:
        return NotAvailable("won deals of this period closed the day they were created: no cycle to divide by")
    return _open(ctx, f)[0] * rate * size / cycle


@computes("forecast")
def forecast(ctx: Ctx, f: Filters) -> Result:
    """won revenue + weighted open pipeline closing in the period."""
    if not has_deals(ctx):
        return NO_DEALS
    return _closed(ctx, f)[2] + _open(ctx, f)[2]
