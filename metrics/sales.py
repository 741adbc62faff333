"""Sales metrics: won revenue, win rate, pipeline, targets, velocity and the forecast.

Dates: a deal is won or lost in the period its close date falls in. The open pipeline of a
period is the open deals whose expected close date falls in the period; with the shared
definition `pipeline.past_due: count_in_current_period` (the default) the period that contains
today also holds the past-due deals (open, close date before the period), so an overdue deal is
never out of every pipeline. Deals without a close date are not in any period's pipeline.
All amounts in the reporting currency, major units (see sql.to_major).
"""
from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import replace

from sqlalchemy import func, select

from store import schema as s

from . import dimensions, rollup_days, rollup_forecast, rollups, sql
from .filters import Filters
from .registry import Ctx, NotAvailable, Result, breaks_down, computes, first_unavailable
from .rules import carries_past_due, in_pipeline, plan_lines

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
        ctx.cache[key] = _stats(rollups.gather(ctx, f, rollups.closed_raw, rollups.deal_rows), past_due_open(ctx, f))
    return ctx.cache[key]


def _stats(totals: list, due: tuple[int, float, float]) -> dict:
    """closed_stats from closed_raw's sums and the past-due open deals (count, amount, weighted)."""
    won, lost, revenue, cycle_sum, cycle_n, mkt_revenue, open_n, open_amount, open_weighted = totals[:9]
    by_type, rate_won, rate_lost = totals[9:12], totals[12], totals[13]
    due_n, due_amount, due_weighted = due
    return {"won": int(won), "lost": int(lost), "revenue": sql.money(revenue),
            "cycle_days": float(cycle_sum) / cycle_n if cycle_n else None,
            "marketing_revenue": sql.money(mkt_revenue),
            "by_type": {k: sql.money(v) for k, v in zip(sql.REVENUE_TYPES, by_type)},
            "rate": (int(rate_won), int(rate_lost)),
            "open": (int(open_n) + due_n, sql.money(open_amount + due_amount),
                     sql.money(open_weighted + due_weighted)),
            "past_due": (due_n, sql.money(due_amount), sql.money(due_weighted))}


def prefetch_closed(ctx: Ctx, f: Filters, owners: list[str], teams: dict[str, list[str]]) -> None:
    """closed_stats of `f` narrowed to each of `owners` (replace(f, owners=(o,))) and to each team
    of `teams` ({team: its members}: replace(f, teams=(t,))), read in one pass grouped by owner and
    kept in the Ctx, so the metrics then computed for each rep and team (won revenue, pipeline,
    forecast...) read them instead of one query each. Every figure is a sum, so a team's are its
    members'. Under `f`'s other filters (a team filter included), as the narrowed filters have them."""
    key = ("closed_by_owner", f)  # the reps' and the teams' tables of one Ctx read it once
    if key not in ctx.cache:
        by_owner = rollups.gather(ctx, f, rollups.closed_raw_by_owner, rollups.deal_rows, empty={})
        due_by_owner: dict = {}
        if carries_past_due(ctx, f) and f.start > EARLIEST:
            before = f.with_period(EARLIEST, f.start - dt.timedelta(days=1))
            due_by_owner = rollups.gather(ctx, before, rollup_forecast.open_sums_by_owner,
                                          rollup_forecast.deal_forecast_rows, empty={})
        ctx.cache[key] = by_owner, due_by_owner
    by_owner, due_by_owner = ctx.cache[key]
    width = len(rollups.closed_sums(ctx))

    def sums(members: list[str]) -> tuple[list, tuple[int, float, float]]:
        totals = [0] * width
        due = (0, 0.0, 0.0)
        for oid in members:
            totals = rollups.add_up(totals, by_owner.get(oid, [0] * width))
            if oid in due_by_owner:
                part = due_by_owner[oid]
                due = (due[0] + int(part[0]), due[1] + float(part[1]), due[2] + float(part[2]))
        return totals, due

    for oid in owners:
        ctx.cache.setdefault(("closed", replace(f, owners=(oid,))), _stats(*sums([oid])))
    for team, members in teams.items():
        ctx.cache.setdefault(("closed", replace(f, teams=(team,))), _stats(*sums(members)))


EARLIEST = dt.date(1900, 1, 1)


def past_due_open(ctx: Ctx, f: Filters) -> tuple[int, float, float]:
    """(open deals, amount, weighted amount) whose close date is before the period of `f`, when
    the period carries them (carries_past_due), else zeros. Read like closed_stats, the whole
    months from the deal rollup and the edge days from the deals."""
    if not carries_past_due(ctx, f) or f.start <= EARLIEST:
        return 0, 0.0, 0.0
    before = f.with_period(EARLIEST, f.start - dt.timedelta(days=1))
    n, amount, weighted = rollups.gather(ctx, before, rollup_forecast.open_sums, rollup_forecast.deal_forecast_rows)
    return int(n), float(amount), float(weighted)


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


TYPE_LABELS = {"new_business": "New business", "expansion": "Expansion", "renewal": "Renewal"}
TYPE_METRICS = {"new_business": "new_business_revenue", "expansion": "expansion_revenue", "renewal": "renewal_revenue"}


def _typed_revenue(ctx: Ctx, f: Filters, kind: str) -> Result:
    if not has_deals(ctx):
        return NO_DEALS
    return closed_stats(ctx, f)["by_type"][kind]


@computes("new_business_revenue")
def new_business_revenue(ctx: Ctx, f: Filters) -> Result:
    """Won revenue of the period's new-business deals (revenue_types in the shared definitions)."""
    return _typed_revenue(ctx, f, "new_business")


@computes("expansion_revenue")
def expansion_revenue(ctx: Ctx, f: Filters) -> Result:
    """Won revenue of the period's expansion deals (revenue_types in the shared definitions)."""
    return _typed_revenue(ctx, f, "expansion")


@computes("renewal_revenue")
def renewal_revenue(ctx: Ctx, f: Filters) -> Result:
    """Won revenue of the period's renewal deals (revenue_types in the shared definitions)."""
    return _typed_revenue(ctx, f, "renewal")


@breaks_down("won_revenue", "revenue_type")
def won_revenue_by_type(ctx: Ctx, f: Filters) -> list[tuple[str, Result]]:
    """Won revenue split into new business, expansion and renewal (they add up to won_revenue)."""
    if not has_deals(ctx):
        return []
    return [(TYPE_LABELS[k], v) for k, v in closed_stats(ctx, f)["by_type"].items()]


@breaks_down("north_star", "revenue_type")
def north_star_by_type(ctx: Ctx, f: Filters) -> list[tuple[str, Result]]:
    """The booked North Star split into the revenue types it counts (none when it is invoiced)."""
    if ctx.defs.north_star_basis != "booked" or not has_deals(ctx):
        return []
    counted = ctx.defs.counted_types("north_star")
    return [(TYPE_LABELS[k], v) for k, v in closed_stats(ctx, f)["by_type"].items() if k in counted]


@computes("north_star")
def north_star(ctx: Ctx, f: Filters) -> Result:
    """Booked or invoiced revenue, per the definition `north_star.basis`; booked counts the revenue
    types of revenue_types.counted_by.north_star (every type by default)."""
    basis = ctx.defs.north_star_basis
    if basis != "booked":
        return ctx.value("invoiced_revenue", f)
    types = ctx.defs.counted_types("north_star")
    if set(types) == set(sql.REVENUE_TYPES):
        return ctx.value("won_revenue", f)
    parts = [ctx.value(TYPE_METRICS[t], f) for t in types]
    if missing := first_unavailable(*parts):
        return missing
    return sql.money(sum(parts))


@computes("win_rate")
def win_rate(ctx: Ctx, f: Filters) -> Result:
    """won / (won + lost), by count, deals closed in the period of the revenue types
    revenue_types.counted_by.win_rate counts (new business by default)."""
    if not has_deals(ctx):
        return NO_DEALS
    won, lost = closed_stats(ctx, f)["rate"]
    if won + lost == 0:
        kinds = ", ".join(t.replace("_", " ") for t in ctx.defs.counted_types("win_rate"))
        return NotAvailable(f"no {kinds} deal was won or lost in this period")
    return won / (won + lost)


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
    """Median whole days from creation to close date of the deals won in the period, exact to the
    day (read from the day-resolution histogram rollup_deal_cycles, metrics/rollup_days.py)."""
    if not has_deals(ctx):
        return NO_DEALS
    if not closed_stats(ctx, f)["won"]:
        return NotAvailable("no deal was won in this period")
    middle = rollup_days.median(rollup_days.won_cycle_days(ctx, f))
    if middle is None:
        return NotAvailable("no deal won in this period has a creation date")
    return middle


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
                            .where(*sql.deal_conditions(ctx, f), sql.is_open(ctx), in_pipeline(ctx, f))
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
    one, the lines of the chosen regions. Product lines likewise. Quota lines (set for an owner or
    a team, metrics/quotas.py) are not read: a company target is not the sum of the reps' quotas.
    """
    if f.owners or f.teams or f.pipelines or f.sources:
        return NotAvailable("budgets are set by region and product line only: remove the owner, team, "
                            "pipeline and source filters to compare with them (a rep's or a team's target is "
                            "their quota: the Sales page's Quotas tab)")
    b = s.budgets
    rows = ctx.conn.execute(select(b.c.month, b.c.region, b.c.product_line, func.sum(b.c.value))
                            .where(b.c.metric == metric, b.c.month >= f.start.replace(day=1), b.c.month <= f.end,
                                   plan_lines())
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
    return coverage(ctx.value("target_revenue", f), ctx.value("won_revenue", f), ctx.value("open_pipeline", f),
                    "the target of this period is already reached: nothing left to cover")


def coverage(target: Result, won: Result, pipe: Result, reached: str) -> Result:
    """pipe / (target - won): the coverage of a target (pipeline_coverage) or a quota
    (quota_coverage); `reached` says why there is none once won reaches the target."""
    if missing := first_unavailable(target, won, pipe):
        return missing
    remaining = target - won
    if remaining <= 0:
        return NotAvailable(reached)
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
