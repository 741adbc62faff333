"""Monthly rollups: deals, contacts, invoices and the ledger summed by month and by every filter
dimension, so a page's metrics read a few thousand summary rows instead of scanning a million deals.

What they hold (store/schema.py):
- `rollup_deals`: deals by close month x pipeline, stage, currency, region, product line, deal
  source, effective source (deal source, else the primary contact's), owner and HubSpot deal
  type: count, amount in cents, sum and count of the sales-cycle days. The revenue type
  (pipeline and deal type, metrics/sql.revenue_type) is applied when read, like the stages. Won / lost / open and stage probability are
  applied when read, from the same rules as the base queries (metrics/sql.py).
- `rollup_deal_campaigns`: the same deals' count and amounts by close month x stage x currency x
  region x product line x the primary contact's campaign x deal type (campaign ROI, the campaign table).
- `rollup_contacts`: contacts by the month they reached each funnel role (any-stage) x region,
  owner and original source: count, how many of them reached each later stage, and (for MQLs)
  how many had a first sales touch within the follow-up SLA.
- `rollup_contact_campaigns`: contacts by the month they reached lead, MQL or customer x their
  campaign x region, owner and original source (the campaign table).
- `rollup_invoice_months` (invoiced revenue by issue month, cash by paid month),
  `rollup_invoice_accounts` (customers by month and previous invoiced month: ARPA's distinct
  customers over any months is a sum) and `rollup_ledger_months` (debit and credit by month and
  account), each group with its own source table, so an import of one leaves the others fresh.

Region and product line are resolved with the definitions' rules when built, so a rollup is
valid for one set of definitions (its fingerprint) and one state of its source tables.

When they are used: only while fresh (built from the current data of `SOURCES`, see
`store.db.changed_since`, and from the current definitions), for the whole months of a period
(the days at either edge of a custom period come from the base tables and are added), and for
the filters a rollup carries (a product-line or pipeline filter on the funnel, for instance,
reads the base tables). Otherwise every metric reads the base tables exactly as before: the
rollups change speed, never a number (tests/metrics/test_rollups.py checks both paths agree).

This module reads them: freshness (`is_fresh`, `usable`, `status`), the split of a period into
whole months and edge days (`split`) and the readers of each rollup table. Building them and
keeping them current through writes (`refresh`, `Keeper`, `settle`, `refresh_soon`...) is
metrics/rollups_build.py.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any, Callable

from sqlalchemy import Connection, Engine, and_, func, literal, not_, or_, select

from store import schema as s
from store.db import changed_since

from . import dimensions, sql
from .definitions import Definitions, load_definitions
from .filters import Filters
from .registry import Ctx

NAME = "metric_rollups"  # the CRM rollups
SOURCES = ("deals", "contacts", "companies", "owners", "line_items", "products")
INVOICES = "invoice_rollups"
LEDGER = "ledger_rollups"
# each group: the tables it is built from and the rollup tables it fills (rebuilt together)
GROUPS = {
    NAME: (SOURCES, (s.rollup_deals, s.rollup_deal_campaigns, s.rollup_contacts, s.rollup_contact_campaigns)),
    INVOICES: (("invoices",), (s.rollup_invoice_months, s.rollup_invoice_accounts)),
    LEDGER: (("ledger_entries",), (s.rollup_ledger_months,)),
}
ROLES = ("lead", "mql", "sql", "opportunity", "customer")
CAMPAIGN_ROLES = ("lead", "mql", "customer")  # the campaign table's columns


def fingerprint(defs: Definitions) -> str:
    return hashlib.sha256(json.dumps(defs.raw, sort_keys=True, default=str).encode()).hexdigest()[:32]


# --- freshness -------------------------------------------------------------------------------

def state(conn: Connection, group: str = NAME) -> dict | None:
    row = conn.execute(select(s.rollup_state).where(s.rollup_state.c.name == group)).mappings().first()
    return dict(row) if row else None


def is_fresh(conn: Connection, defs: Definitions, group: str = NAME) -> bool:
    st = state(conn, group)
    return (st is not None and st["built_version"] >= 0 and st["defs_fingerprint"] == fingerprint(defs)
            and not changed_since(conn, int(st["built_version"]), GROUPS[group][0]))


def status(engine: Engine) -> dict[str, dict]:
    """{group: {"fresh": bool, "built_at": datetime | None, "rows": int | None}} for the Data page."""
    with engine.connect() as conn:
        defs = load_definitions(conn)
        out = {}
        for group in GROUPS:
            st = state(conn, group)
            out[group] = {"fresh": is_fresh(conn, defs, group), "built_at": st["built_at"] if st else None,
                          "rows": st["rows"] if st else None}
    return out


def usable(ctx: Ctx, group: str = NAME) -> bool:
    """Whether this Ctx may read a rollup group (fresh; `ctx.cache['use_rollups'] = False` forces
    every metric onto the base tables)."""
    if ctx.cache.get("use_rollups") is False:
        return False
    key = ("rollups_fresh", group)
    if key not in ctx.cache:
        ctx.cache[key] = is_fresh(ctx.conn, ctx.defs, group)
    return bool(ctx.cache[key])


# --- periods: whole months from the rollups, edge days from the base tables -------------------

def month_key(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _next_month(day: dt.date) -> dt.date:
    return dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)


def whole_months(f: Filters) -> bool:
    return f.start.day == 1 and (f.end + dt.timedelta(days=1)).day == 1


def split(ctx: Ctx, f: Filters, supported: bool, group: str = NAME) -> list[tuple[Filters, bool]]:
    """The period as parts (filters, read from the rollups?) whose figures add up to the whole.

    The whole calendar months inside the period come from the rollups when they are usable and
    `supported` (the filters are dimensions the rollup carries); the days before the first and
    after the last whole month, or the whole period otherwise, from the base tables.
    """
    if not supported or not usable(ctx, group):
        return [(f, False)]
    first = f.start if f.start.day == 1 else _next_month(f.start)
    after = f.end + dt.timedelta(days=1)
    last_next = after if after.day == 1 else f.end.replace(day=1)  # the day after the last whole month
    if first >= last_next:  # no whole month inside the period
        return [(f, False)]
    parts = [(f.with_period(first, last_next - dt.timedelta(days=1)), True)]
    if f.start < first:
        parts.append((f.with_period(f.start, first - dt.timedelta(days=1)), False))
    if last_next <= f.end:
        parts.append((f.with_period(last_next, f.end), False))
    return parts


def months(f: Filters, col) -> list:
    return [col >= month_key(f.start), col <= month_key(f.end)]


Reader = Callable[[Ctx, Filters], Any]


def add_up(a: Any, b: Any) -> Any:
    """The sum of two parts' figures: numbers add, lists and tuples element by element, dicts key
    by key (a key in one part only keeps its figures); None is no figure."""
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, dict):
        out = dict(a)
        for k, v in b.items():
            out[k] = add_up(out.get(k), v)
        return out
    if isinstance(a, (list, tuple)):
        return type(a)(add_up(x, y) for x, y in zip(a, b))
    return a + b


def gather(ctx: Ctx, f: Filters, base: Reader, rollup: Reader, supported: bool = True, group: str = NAME,
           empty: Any = None) -> Any:
    """An aggregate over the period of `f`: the one place that chooses between a rollup and the
    base tables. `rollup(ctx, part)` reads the whole months of `part` from the rollup group,
    `base(ctx, part)` any period from the base tables; both return the same figures (a number, a
    list or tuple of numbers, or a dict of those). The parts of `split` are read each way they can
    be and added up (`add_up`); `empty` is the result when every part is empty."""
    total = None
    for part, from_rollup in split(ctx, f, supported, group):
        total = add_up(total, rollup(ctx, part) if from_rollup else base(ctx, part))
    return empty if total is None else total


# --- filters on the rollups ------------------------------------------------------------------

def campaign_filters_supported(f: Filters) -> bool:
    return not (f.owners or f.teams or f.sources)  # rollup_deal_campaigns has no owner or source


def deal_conditions(f: Filters, r) -> list:
    """WHERE conditions on a deal rollup for the slices of `f` (every rollup_deals column is a
    filter dimension; asking a rollup for a dimension it lacks is a programming error)."""
    for values, name in ((f.regions, "region"), (f.product_lines, "product_line"), (f.owners, "owner_id"),
                         (f.pipelines, "pipeline_id"), (f.sources, "deal_source"), (f.teams, "owner_id")):
        if values and name not in r.c:
            raise ValueError(f"{r.name} cannot filter by {name}")
    return dimensions.conditions(f, region=r.c.region, product_line=r.c.product_line, owner=r.c.get("owner_id"),
                                 pipeline=r.c.pipeline_id, source=r.c.get("deal_source"))


def contact_filters_supported(f: Filters) -> bool:
    return not (f.product_lines or f.pipelines)  # those go through the contact's deals


def contact_conditions(f: Filters, r) -> list:
    return dimensions.conditions(f, region=r.c.region, owner=r.c.owner_id, source=r.c.source)


# --- reading -----------------------------------------------------------------------------------

def closed_raw(ctx: Ctx, f: Filters) -> list:
    """metrics.sales.closed_stats' raw sums for whole months of `f`, from rollup_deals."""
    r = s.rollup_deals
    won, lost = sql.is_won(ctx, r), sql.is_lost(ctx, r)
    open_ = not_(or_(won, lost))
    amount = sql.to_major(ctx, r.c.amount_cents, r.c.currency)
    mkt = r.c.effective_source.in_(ctx.defs.marketing_sources)
    row = ctx.conn.execute(select(
        func.sum(r.c.n).filter(won), func.sum(r.c.n).filter(lost), func.sum(amount).filter(won),
        func.sum(r.c.cycle_days_sum).filter(won), func.sum(r.c.cycle_days_n).filter(won),
        func.sum(amount).filter(and_(won, mkt, sql.counted_type(ctx, "marketing_sourced_revenue", r))),
        func.sum(r.c.n).filter(open_), func.sum(amount).filter(open_),
        func.sum(amount * sql.stage_probability(ctx, r)).filter(open_),
        *sql.typed_sums(ctx, r, won, lost, amount, func.sum(r.c.n)),
    ).where(*months(f, r.c.month), *deal_conditions(f, r))).one()
    return [v or 0 for v in row]


def campaign_revenue(ctx: Ctx, f: Filters, campaigns: list[str]) -> dict[str, float]:
    """Won revenue by primary-contact campaign for whole months of `f`, from rollup_deal_campaigns."""
    r = s.rollup_deal_campaigns
    amount = sql.to_major(ctx, r.c.amount_cents, r.c.currency)
    rows = ctx.conn.execute(select(r.c.campaign, func.sum(amount))
                            .where(*months(f, r.c.month), *deal_conditions(f, r), sql.is_won(ctx, r),
                                   sql.counted_type(ctx, "campaign_roi", r), r.c.campaign.in_(campaigns or [""]))
                            .group_by(r.c.campaign)).all()
    return {k: float(v or 0.0) for k, v in rows}


def campaign_won(ctx: Ctx, f: Filters) -> dict[str, tuple[int, float]]:
    """{campaign: (won deals, won revenue)} by primary-contact campaign for whole months of `f`."""
    r = s.rollup_deal_campaigns
    rows = ctx.conn.execute(select(r.c.campaign, func.sum(r.c.n), func.sum(sql.to_major(ctx, r.c.amount_cents, r.c.currency)))
                            .where(*months(f, r.c.month), *deal_conditions(f, r), sql.is_won(ctx, r),
                                   sql.counted_type(ctx, "campaign_roi", r), r.c.campaign != "")
                            .group_by(r.c.campaign)).all()
    return {k: (int(n or 0), float(v or 0.0)) for k, n, v in rows if n}


def campaign_contacts(ctx: Ctx, f: Filters) -> dict[str, dict[str, int]]:
    """{role: {campaign: contacts}} reaching lead, MQL, customer in the whole months of `f`."""
    r = s.rollup_contact_campaigns
    out: dict[str, dict[str, int]] = {role: {} for role in CAMPAIGN_ROLES}
    for role, k, n in ctx.conn.execute(select(r.c.role, r.c.campaign, func.sum(r.c.n))
                                       .where(*months(f, r.c.month), *contact_conditions(f, r))
                                       .group_by(r.c.role, r.c.campaign)):
        if n:
            out[role][k] = int(n)
    return out


def leads_by_month_and_source(ctx: Ctx, f: Filters, none_bucket: str) -> dict[tuple[str, str], int]:
    """{(month 'YYYY-MM', original source): new leads} for the whole months of `f`."""
    r = s.rollup_contacts
    src = func.coalesce(func.nullif(r.c.source, ""), literal(none_bucket))
    rows = ctx.conn.execute(select(r.c.month, src, func.sum(r.c.n))
                            .where(*months(f, r.c.month), r.c.role == "lead", *contact_conditions(f, r))
                            .group_by(r.c.month, src)).all()
    return {(m, k): int(n) for m, k, n in rows if n}


def lead_cohorts_by_source(ctx: Ctx, f: Filters, none_bucket: str) -> dict[str, tuple[int, int, int]]:
    """{original source: (leads, of them reached MQL, reached customer)} for the whole months of `f`."""
    r = s.rollup_contacts
    src = func.coalesce(func.nullif(r.c.source, ""), literal(none_bucket))
    rows = ctx.conn.execute(select(src, func.sum(r.c.n), func.sum(r.c.reached_mql), func.sum(r.c.reached_customer))
                            .where(*months(f, r.c.month), r.c.role == "lead", *contact_conditions(f, r))
                            .group_by(src)).all()
    return {k: (int(n), int(m or 0), int(cu or 0)) for k, n, m, cu in rows if n}


def won_by_effective_source(ctx: Ctx, f: Filters, none_bucket: str) -> dict[str, tuple[int, float]]:
    """{deal source, else the primary contact's original source: (won deals, won revenue)} for the
    whole months of `f`."""
    r = s.rollup_deals
    src = func.coalesce(r.c.effective_source, literal(none_bucket))
    rows = ctx.conn.execute(select(src, func.sum(r.c.n), func.sum(sql.to_major(ctx, r.c.amount_cents, r.c.currency)))
                            .where(*months(f, r.c.month), *deal_conditions(f, r), sql.is_won(ctx, r))
                            .group_by(src)).all()
    return {k: (int(n), float(v or 0.0)) for k, n, v in rows if n}


def funnel_raw(ctx: Ctx, f: Filters) -> dict[str, dict[str, int]]:
    """{role: {n, reached_<stage>..., followed_up_in_sla}} for whole months of `f`, from rollup_contacts."""
    r = s.rollup_contacts
    cols = ("n", "reached_mql", "reached_sql", "reached_opportunity", "reached_customer", "followed_up_in_sla")
    rows = ctx.conn.execute(select(r.c.role, *[func.sum(r.c[k]) for k in cols])
                            .where(*months(f, r.c.month), *contact_conditions(f, r))
                            .group_by(r.c.role)).all()
    out = {role: dict.fromkeys(cols, 0) for role in ROLES}
    for role, *values in rows:
        out[role] = {k: int(v or 0) for k, v in zip(cols, values)}
    return out


def invoice_total(ctx: Ctx, f: Filters, basis: str) -> float | None:
    """Invoiced revenue ('issued') or cash collected ('paid') over the whole months of `f`, in the
    reporting currency, from rollup_invoice_months (None when no invoice falls in them)."""
    m = s.rollup_invoice_months
    return ctx.conn.execute(select(func.sum(sql.to_major(ctx, m.c.cents, m.c.currency)))
                            .where(*months(f, m.c.month), m.c.basis == basis)).scalar()


def invoice_accounts(ctx: Ctx, f: Filters) -> int:
    """Customers invoiced (not by a credit note) in the whole months of `f`, from rollup_invoice_accounts."""
    a = s.rollup_invoice_accounts
    first = month_key(f.start)
    return int(ctx.conn.execute(select(func.sum(a.c.n)).where(
        *months(f, a.c.month), or_(a.c.prev_month.is_(None), a.c.prev_month < first))).scalar() or 0)


def ledger_cents(ctx: Ctx, f: Filters, account_condition, credit_minus_debit: bool) -> int:
    """Signed ledger total in cents over the whole months of `f`, from rollup_ledger_months."""
    r = s.rollup_ledger_months
    cents = (r.c.credit_cents - r.c.debit_cents) if credit_minus_debit else (r.c.debit_cents - r.c.credit_cents)
    return int(ctx.conn.execute(select(func.coalesce(func.sum(cents), 0))
                                .where(*months(f, r.c.month), account_condition(r.c.compte_num))).scalar_one())


def ledger_months(ctx: Ctx, f: Filters, account_condition=None) -> set[dt.date]:
    """The months of `f` with ledger lines (on the accounts of `account_condition` if given)."""
    r = s.rollup_ledger_months
    conds = [*months(f, r.c.month), r.c.n > 0]
    if account_condition is not None:
        conds.append(account_condition(r.c.compte_num))
    return {dt.date(int(m[:4]), int(m[5:7]), 1)
            for m in ctx.conn.execute(select(r.c.month).distinct().where(*conds)).scalars()}


__all__ = ["CAMPAIGN_ROLES", "add_up", "gather", "GROUPS", "INVOICES", "LEDGER", "NAME", "ROLES", "SOURCES", "campaign_contacts",
           "campaign_filters_supported", "campaign_revenue", "campaign_won", "closed_raw", "contact_conditions",
           "contact_filters_supported", "deal_conditions", "fingerprint", "funnel_raw", "invoice_accounts",
           "invoice_total", "is_fresh", "lead_cohorts_by_source", "leads_by_month_and_source", "ledger_cents",
           "ledger_months", "month_key", "months", "split", "state", "status", "usable", "whole_months",
           "won_by_effective_source"]
