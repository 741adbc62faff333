"""Finance tables behind the finance metrics: the revenue bridge, the items behind each gap,
budget vs actual lines and spend by channel. DataFrames, snake_case columns, money in major
units of the reporting currency. Figures come from the same compute functions and SQL pieces as
the metrics (metrics/finance.py, metrics/sql.py), so a table and a KPI tile always agree.

Matching an invoice to the ledger: a ledger revenue line (revenue or contra account) belongs to
invoice N when its PieceRef is N, or else when its EcritureLib holds N as a whole word
(case-insensitive, surrounding spaces ignored). Only revenue invoices (not draft or void) match.
"""
from __future__ import annotations

import datetime as dt
import re
from contextlib import contextmanager
from dataclasses import replace
from typing import Iterator

import pandas as pd
from sqlalchemy import Date, Engine, Numeric, cast, func, literal, or_, select, union_all

from store import schema as s

from . import dimensions, finance as fin, rules
from .definitions import load_definitions
from .filters import Filters
from .registry import Ctx, NotAvailable, load_catalog
from .sql import (deal_conditions, in_period_date, is_won, money, spend_conditions, spend_unfilterable,
                  to_major)

GAPS = ("booked_to_invoiced", "invoiced_to_ledger")
GRAINS = ("month", "week")
# Budget metric -> the metric whose value is its actual.
BUDGET_ACTUALS = {"target_revenue": "north_star"}
# How far outside the period a posting is looked for, to tell "posted in another period" apart.
LEDGER_WINDOW_DAYS = 92
CENT = 0.005

BRIDGE_COLUMNS = ["month", "booked", "invoiced", "ledger", "booked_to_invoiced_gap", "invoiced_to_ledger_gap",
                  "booked_new_business", "booked_expansion", "booked_renewal"]  # the booked revenue by type
UNMATCHED_COLUMNS = ["kind", "deal_id", "deal_name", "invoice_number", "ledger_ref", "date",
                     "booked", "invoiced", "ledger", "difference"]
BUDGET_COLUMNS = ["month", "metric", "region", "product_line", "budget", "actual", "variance", "variance_pct"]
SPEND_COLUMNS = ["period", "channel", "spend"]


@contextmanager
def _ctx(engine: Engine) -> Iterator[Ctx]:
    """One connection and one snapshot for a whole table, as `metrics.compute_many` uses."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield Ctx(conn, load_definitions(conn))


def _num(value) -> float | None:
    return None if isinstance(value, NotAvailable) or value is None else float(value)


def _month_filters(f: Filters) -> list[tuple[dt.date, Filters]]:
    """(first day of month, filters clipped to that month) for every month of the period."""
    return [(m, f.with_period(max(m, f.start), min(fin.month_end(m), f.end)))
            for m in fin.month_starts(f.start, f.end)]


# --- revenue bridge --------------------------------------------------------------------

def revenue_bridge(engine: Engine, filters: Filters) -> pd.DataFrame:
    """Booked -> invoiced -> ledger revenue by month of the period, with both gaps (None = n/a),
    and the booked revenue split by revenue type (new business + expansion + renewal = booked)."""
    rows = []
    with _ctx(engine) as ctx:
        for month, f in _month_filters(filters):
            booked = _num(ctx.value("won_revenue", f))
            invoiced = _num(ctx.value("invoiced_revenue", f))
            ledger = _num(ctx.value("ledger_revenue", f))
            rows.append({
                "month": month, "booked": booked, "invoiced": invoiced, "ledger": ledger,
                "booked_to_invoiced_gap": None if booked is None or invoiced is None else round(booked - invoiced, 2),
                "invoiced_to_ledger_gap": None if invoiced is None or ledger is None else round(invoiced - ledger, 2),
                "booked_new_business": _num(ctx.value("new_business_revenue", f)),
                "booked_expansion": _num(ctx.value("expansion_revenue", f)),
                "booked_renewal": _num(ctx.value("renewal_revenue", f)),
            })
    return pd.DataFrame(rows, columns=BRIDGE_COLUMNS)


# --- items behind the gaps -------------------------------------------------------------

def _invoice_rows(ctx: Ctx, f: Filters) -> list:
    """The revenue invoices of the period (issue date), net in the reporting currency."""
    i = s.invoices
    return ctx.conn.execute(select(i.c.invoice_number, i.c.deal_id, i.c.issue_date,
                                   to_major(ctx, rules.signed_net_cents(), i.c.currency).label("net"))
                            .where(*fin.invoice_conditions(ctx, f, i.c.issue_date))
                            .order_by(i.c.issue_date, i.c.invoice_number)).all()


def _round_cents(x):
    """A money expression rounded to cents in SQL (NUMERIC: PostgreSQL has no round(float, n))."""
    return func.round(cast(x, Numeric), 2)


def _cents(x):
    """A money expression in major units, rounded to cents; an unknown currency (NULL) counts 0."""
    return func.coalesce(_round_cents(x), 0)


def _deal_names(ctx: Ctx, ids) -> dict[str, str]:
    """{deal id: name} of the (not deleted) deals among `ids` (looked up by id, in chunks)."""
    d = s.deals
    out: dict[str, str] = {}
    for part in _chunks(sorted(ids)):
        out.update(ctx.conn.execute(select(d.c.deal_id, d.c.name).where(d.c.deal_id.in_(part), ~d.c.is_deleted)).all())
    return out


def _chunks(ids: list, size: int = 500) -> Iterator[list]:
    """`ids` in lists of at most `size` (an IN list within every backend's parameter limit)."""
    for k in range(0, len(ids), size):
        yield ids[k:k + size]


def _booked_to_invoiced(ctx: Ctx, f: Filters, limit: int | None) -> list[dict]:
    """Won deals whose invoices of the period differ from their amount, and invoices of other deals,
    largest difference first (then deals before invoices, by date and id).

    The matching, the ordering and the limit run in SQL, so a view reads `limit` items whatever the
    number of deals and invoices in the period; only those items' names and invoice numbers are then
    looked up (by id). Amounts are rounded to cents per deal and per invoice line, as the KPIs show them.
    """
    d, i = s.deals, s.invoices
    won = (select(d.c.deal_id, d.c.close_date,
                  _cents(to_major(ctx, d.c.amount_cents, d.c.currency)).label("booked"))
           .where(is_won(ctx), in_period_date(d.c.close_date, f), *deal_conditions(ctx, f)).cte("won"))
    inv = (select(i.c.invoice_number, i.c.deal_id, i.c.issue_date,
                  _cents(to_major(ctx, rules.signed_net_cents(), i.c.currency)).label("net"))
           .where(*fin.invoice_conditions(ctx, f, i.c.issue_date)).cte("inv"))
    # per won deal: its amount and its invoices of the period, summed in one grouping (no join)
    lines = union_all(select(won.c.deal_id, won.c.close_date.label("day"), won.c.booked, literal(0).label("invoiced")),
                      select(inv.c.deal_id, literal(None, Date), literal(0), inv.c.net)
                      .where(inv.c.deal_id.in_(select(won.c.deal_id)))).subquery()
    per_deal = (select(lines.c.deal_id, func.max(lines.c.day).label("day"), func.sum(lines.c.booked).label("booked"),
                       func.sum(lines.c.invoiced).label("invoiced"))
                .group_by(lines.c.deal_id).subquery())
    gap = _round_cents(per_deal.c.booked - per_deal.c.invoiced)
    deals_side = (select(literal(0).label("side"), per_deal.c.deal_id, per_deal.c.day, per_deal.c.deal_id.label("ref"),
                         per_deal.c.booked, per_deal.c.invoiced, gap.label("difference"))
                  .where(func.abs(per_deal.c.booked - per_deal.c.invoiced) >= CENT))
    invoices_side = (select(literal(1), inv.c.deal_id, inv.c.issue_date, inv.c.invoice_number, literal(0), inv.c.net,
                            -inv.c.net)
                     .where(or_(inv.c.deal_id.is_(None), inv.c.deal_id.notin_(select(won.c.deal_id)))))
    both = union_all(deals_side, invoices_side).subquery()
    q = select(both).order_by(func.abs(both.c.difference).desc(), both.c.side, both.c.day, both.c.ref)
    picked = ctx.conn.execute(q if limit is None else q.limit(limit)).all()

    deal_ids = [r.deal_id for r in picked if r.side == 0]
    own: dict[str, list] = {}  # the period's invoices of the picked won deals, by date and number
    ever_invoiced: set[str] = set()
    for part in _chunks(deal_ids):
        for r in ctx.conn.execute(select(i.c.deal_id, i.c.invoice_number)
                                  .where(i.c.issue_date >= f.start, i.c.issue_date <= f.end,  # in the slice: their deal is
                                         i.c.status.notin_(rules.NOT_REVENUE_STATUSES), i.c.deal_id.in_(part))
                                  .order_by(i.c.issue_date, i.c.invoice_number)):
            own.setdefault(r.deal_id, []).append(r.invoice_number)
        ever_invoiced.update(ctx.conn.execute(select(i.c.deal_id).distinct().where(
            i.c.deal_id.in_(part), i.c.status.notin_(rules.NOT_REVENUE_STATUSES))).scalars())
    names = _deal_names(ctx, {r.deal_id for r in picked if r.deal_id})
    items = []
    for r in picked:
        if r.side == 0:
            numbers = own.get(r.deal_id, [])
            kind = ("won, not invoiced" if r.deal_id not in ever_invoiced
                    else "won, invoiced in another period" if not numbers else "won, invoiced amount differs")
            items.append({"kind": kind, "deal_id": r.deal_id, "deal_name": names.get(r.deal_id),
                          "invoice_number": ", ".join(numbers) or None, "date": r.day, "booked": money(r.booked),
                          "invoiced": money(r.invoiced), "difference": money(r.difference)})
        else:
            known = r.deal_id in names
            items.append({"kind": "invoice for a deal not won in this period" if known else "invoice with no deal",
                          "deal_id": r.deal_id if known else None, "deal_name": names.get(r.deal_id),
                          "invoice_number": r.ref, "date": r.day, "booked": 0.0, "invoiced": money(r.invoiced),
                          "difference": money(r.difference)})
    return items


_TOKEN = re.compile(r"[^\s,;:()\[\]]+")


def _ledger_rows(ctx: Ctx, start: dt.date, end: dt.date) -> list[tuple]:
    """Revenue ledger postings in [start, end] summed per (date, PieceRef, EcritureLib):
    (date, piece_ref, ecriture_lib, amount in the reporting currency)."""
    l = s.ledger_entries
    rate = fin.ledger_rate(ctx)
    if isinstance(rate, NotAvailable):
        raise ValueError(rate.reason)
    rows = ctx.conn.execute(
        select(l.c.ecriture_date, l.c.piece_ref, l.c.ecriture_lib,
               func.sum(l.c.credit_cents - l.c.debit_cents).label("cents"))
        .where(l.c.ecriture_date >= start, l.c.ecriture_date <= end,
               fin.account_prefix_condition(fin.revenue_prefixes(ctx)))
        .group_by(l.c.ecriture_date, l.c.piece_ref, l.c.ecriture_lib)).all()
    return [(r.ecriture_date, (r.piece_ref or "").strip(), (r.ecriture_lib or "").strip(),
             int(r.cents) * rate / 100.0) for r in rows]


def match_invoice(piece_ref: str, ecriture_lib: str, numbers: set[str]) -> str | None:
    """The invoice number (upper case) a ledger posting belongs to, or None."""
    ref = piece_ref.strip().upper()
    if ref in numbers:
        return ref
    for token in _TOKEN.findall(ecriture_lib.upper()):
        token = token.strip(".-/")
        if token in numbers:
            return token
    return None


def _invoiced_to_ledger(ctx: Ctx, f: Filters) -> list[dict]:
    """Invoices of the period not (or differently) posted, and revenue postings with no invoice."""
    i = s.invoices
    per_invoice: dict[str, dict] = {}  # by upper-case number
    for r in _invoice_rows(ctx, f):
        key = r.invoice_number.strip().upper()
        entry = per_invoice.setdefault(key, {"invoice_number": r.invoice_number, "deal_id": r.deal_id,
                                             "date": r.issue_date, "invoiced": 0.0})
        entry["invoiced"] += money(r.net)
    numbers = {n.strip().upper() for n in ctx.conn.execute(
        select(i.c.invoice_number).where(i.c.status.notin_(rules.NOT_REVENUE_STATUSES))).scalars()}
    window = dt.timedelta(days=LEDGER_WINDOW_DAYS)
    posted: dict[str, float] = {}  # in the period, by invoice
    posted_ever: set[str] = set()  # in the period or around it
    unmatched: dict[tuple[str, str], dict] = {}  # in the period, not an invoice of the period
    slice_only = fin.has_dimension_filters(f)  # ledger lines cannot be sliced: invoice side only
    for day, ref, lib, amount in _ledger_rows(ctx, f.start - window, f.end + window):
        key = match_invoice(ref, lib, numbers)
        if key:
            posted_ever.add(key)
        if not f.start <= day <= f.end:
            continue
        if key in per_invoice:
            posted[key] = posted.get(key, 0.0) + amount
        elif not slice_only:
            # an entry and its reversal share a reference: grouped, they cancel out
            entry = unmatched.setdefault((ref or lib, key or ""), {"date": day, "ledger": 0.0})
            entry["date"], entry["ledger"] = min(entry["date"], day), entry["ledger"] + amount
    items = []
    for key, r in per_invoice.items():
        amount, invoiced = money(posted.get(key, 0.0)), money(r["invoiced"])
        if abs(invoiced - amount) < CENT:
            continue
        kind = ("invoice not in the ledger" if key not in posted_ever
                else "invoice posted in another period" if key not in posted else "ledger amount differs")
        items.append({"kind": kind, "deal_id": r["deal_id"], "invoice_number": r["invoice_number"],
                      "date": r["date"], "invoiced": invoiced, "ledger": amount, "difference": round(invoiced - amount, 2)})
    for (ref, key), r in sorted(unmatched.items()):
        amount = money(r["ledger"])
        if abs(amount) < CENT:
            continue
        items.append({"kind": "ledger posting of an invoice of another period" if key else "ledger line with no invoice",
                      "invoice_number": key or None, "ledger_ref": ref, "date": r["date"],
                      "invoiced": 0.0, "ledger": amount, "difference": -amount})
    return items


def unmatched_items(engine: Engine, filters: Filters, gap: str = "booked_to_invoiced",
                    limit: int | None = 500) -> pd.DataFrame:
    """The items behind a gap, largest first. Without a limit, `difference` adds up to the gap."""
    if gap not in GAPS:
        raise ValueError(f"gap must be one of {', '.join(GAPS)} (got {gap!r})")
    with _ctx(engine) as ctx:
        items = _booked_to_invoiced(ctx, filters, limit) if gap == "booked_to_invoiced" else _invoiced_to_ledger(ctx, filters)
    df = pd.DataFrame(items, columns=UNMATCHED_COLUMNS)
    if df.empty:
        return df
    order = df["difference"].abs().sort_values(ascending=False, kind="stable").index
    df = df.loc[order].reset_index(drop=True)
    return df.head(limit) if limit is not None else df


# --- budget vs actual ------------------------------------------------------------------

def budget_vs_actual_table(engine: Engine, filters: Filters) -> pd.DataFrame:
    """Each budget line of the period beside its actual (the same compute as the KPI), by month.

    Money budgets are stored in cents and shown in major units. A month only partly in the period
    has its budget prorated by days (as target_revenue does). With a region (product line) filter
    only the lines of the chosen regions (product lines) are listed: a company-wide ('') line is
    not comparable with a slice's actual. Quota lines (an owner's or a team's) are on the Sales
    page's quota table, not here. With an owner, team, pipeline or source filter the table is
    empty (as the target_revenue KPI is not available).
    """
    b = s.budgets
    catalog = load_catalog()
    out: list[dict] = []
    if spend_unfilterable(filters):  # the same rule: budgets and spend are by region and product line only
        return pd.DataFrame(out, columns=BUDGET_COLUMNS)
    with _ctx(engine) as ctx:
        lines = ctx.conn.execute(select(b.c.month, b.c.metric, b.c.region, b.c.product_line, b.c.value)
                                 .where(b.c.month >= filters.start.replace(day=1), b.c.month <= filters.end,
                                        rules.plan_lines())
                                 .order_by(b.c.month, b.c.metric, b.c.region, b.c.product_line)).all()
        for line in lines:
            if (filters.regions and not dimensions.selects(line.region, filters.regions)) or \
                    (filters.product_lines and not dimensions.selects(line.product_line, filters.product_lines)):
                continue  # a company-wide ('') line cannot be compared with one region's actual
            start, end = max(line.month, filters.start), min(fin.month_end(line.month), filters.end)
            f = filters.with_period(start, end)
            if line.region:
                f = replace(f, regions=(line.region,))
            if line.product_line:
                f = replace(f, product_lines=(line.product_line,))
            unit = catalog[line.metric].unit if line.metric in catalog else None
            share = ((end - start).days + 1) / fin.month_end(line.month).day
            budget = round(float(line.value) * share / (100.0 if unit == "money" else 1.0), 2)
            actual = _num(ctx.value(BUDGET_ACTUALS.get(line.metric, line.metric), f))
            variance = None if actual is None else round(actual - budget, 2)
            out.append({"month": line.month, "metric": line.metric, "region": line.region,
                        "product_line": line.product_line, "budget": budget,
                        "actual": None if actual is None else round(actual, 2), "variance": variance,
                        "variance_pct": None if variance is None or budget == 0 else variance / budget})
    return pd.DataFrame(out, columns=BUDGET_COLUMNS)


# --- spend by channel ------------------------------------------------------------------

def _bucket(day: dt.date, grain: str) -> dt.date:
    return day.replace(day=1) if grain == "month" else day - dt.timedelta(days=day.weekday())


def spend_by_channel(engine: Engine, filters: Filters, grain: str = "month") -> pd.DataFrame:
    """Imported marketing spend (ad platforms, CSV) by month or ISO week (Monday) and channel.

    The ledger has no channel, so this is the imported spend only. Region and product line
    filters apply (spend rows carry them); with an owner / team / pipeline / source filter the
    table is empty, as the marketing_spend KPI is not available then.
    """
    if grain not in GRAINS:
        raise ValueError(f"grain must be one of {', '.join(GRAINS)} (got {grain!r})")
    if spend_unfilterable(filters):
        return pd.DataFrame([], columns=SPEND_COLUMNS)
    sp = s.marketing_spend
    with _ctx(engine) as ctx:
        rows = ctx.conn.execute(select(sp.c.spend_date, sp.c.channel,
                                       func.sum(to_major(ctx, sp.c.amount_cents, sp.c.currency)))
                                .where(*spend_conditions(filters)).group_by(sp.c.spend_date, sp.c.channel)).all()
    totals: dict[tuple[dt.date, str], float] = {}
    for day, channel, amount in rows:
        key = (_bucket(day, grain), channel)
        totals[key] = totals.get(key, 0.0) + float(amount or 0.0)
    return pd.DataFrame([{"period": p, "channel": c, "spend": round(v, 2)} for (p, c), v in sorted(totals.items())],
                        columns=SPEND_COLUMNS)
