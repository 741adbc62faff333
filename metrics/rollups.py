"""Monthly rollups: deals, contacts, invoices and the ledger summed by month and by every filter
dimension, so a page's metrics read a few thousand summary rows instead of scanning a million deals.

What they hold (store/schema.py):
- `rollup_deals`: deals by close month x pipeline, stage, currency, region, product line, deal
  source, effective source (deal source, else the primary contact's) and owner: count, amount
  in cents, sum and count of the sales-cycle days. Won / lost / open and stage probability are
  applied when read, from the same rules as the base queries (metrics/sql.py).
- `rollup_deal_campaigns`: the same deals' count and amounts by close month x stage x currency x
  region x product line x the primary contact's campaign (campaign ROI, the campaign table).
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

How they stay current: the HubSpot sync keeps the CRM rollups exact as it writes (`Keeper`:
what the changed rows contributed is subtracted and what they contribute now is added, in the
write's own transaction) and `settle`s them when it ends; imports, the demo and
`python cli.py rollups` `refresh` (rebuild) what is stale; the app rebuilds stale rollups in the
background once writes pause (`refresh_soon`: after a definitions edit, or a write by another
tool). A build reads the data first and writes the summaries in one short transaction, so it
never holds the store's write lock while it scans.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from sqlalchemy import Connection, Engine, and_, delete, func, literal, literal_column, not_, or_, select, update

from store import schema as s
from store.db import changed_since, get_meta, upsert, utcnow

from . import sql
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
_BATCH = 5_000
_lock = threading.Lock()

d, c = s.deals, s.contacts


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


# --- filters on the rollups ------------------------------------------------------------------

def campaign_filters_supported(f: Filters) -> bool:
    return not (f.owners or f.teams or f.sources)  # rollup_deal_campaigns has no owner or source


def deal_conditions(f: Filters, r) -> list:
    """WHERE conditions on a deal rollup for the slices of `f` (every rollup_deals column is a
    filter dimension; asking a rollup for a dimension it lacks is a programming error)."""
    conds = []
    for values, name in ((f.regions, "region"), (f.product_lines, "product_line"), (f.owners, "owner_id"),
                         (f.pipelines, "pipeline_id"), (f.sources, "deal_source"), (f.teams, "owner_id")):
        if values and name not in r.c:
            raise ValueError(f"{r.name} cannot filter by {name}")
    for values, col in ((f.regions, "region"), (f.product_lines, "product_line"), (f.owners, "owner_id"),
                        (f.pipelines, "pipeline_id"), (f.sources, "deal_source")):
        if values:
            conds.append(sql.in_values(r.c[col], values))
    if f.teams:
        conds.append(sql.in_values(sql.owner_team(r.c.owner_id), f.teams))
    return conds


def contact_filters_supported(f: Filters) -> bool:
    return not (f.product_lines or f.pipelines)  # those go through the contact's deals


def contact_conditions(f: Filters, r) -> list:
    conds = []
    if f.regions:
        conds.append(sql.in_values(r.c.region, f.regions))
    if f.owners:
        conds.append(sql.in_values(r.c.owner_id, f.owners))
    if f.teams:
        conds.append(sql.in_values(sql.owner_team(r.c.owner_id), f.teams))
    if f.sources:
        conds.append(sql.in_values(r.c.source, f.sources))
    return conds


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
        func.sum(amount).filter(and_(won, mkt)),
        func.sum(r.c.n).filter(open_), func.sum(amount).filter(open_),
        func.sum(amount * sql.stage_probability(ctx, r)).filter(open_),
    ).where(*months(f, r.c.month), *deal_conditions(f, r))).one()
    return [v or 0 for v in row]


def campaign_revenue(ctx: Ctx, f: Filters, campaigns: list[str]) -> dict[str, float]:
    """Won revenue by primary-contact campaign for whole months of `f`, from rollup_deal_campaigns."""
    r = s.rollup_deal_campaigns
    amount = sql.to_major(ctx, r.c.amount_cents, r.c.currency)
    rows = ctx.conn.execute(select(r.c.campaign, func.sum(amount))
                            .where(*months(f, r.c.month), *deal_conditions(f, r), sql.is_won(ctx, r),
                                   r.c.campaign.in_(campaigns or [""]))
                            .group_by(r.c.campaign)).all()
    return {k: float(v or 0.0) for k, v in rows}


def campaign_won(ctx: Ctx, f: Filters) -> dict[str, tuple[int, float]]:
    """{campaign: (won deals, won revenue)} by primary-contact campaign for whole months of `f`."""
    r = s.rollup_deal_campaigns
    rows = ctx.conn.execute(select(r.c.campaign, func.sum(r.c.n), func.sum(sql.to_major(ctx, r.c.amount_cents, r.c.currency)))
                            .where(*months(f, r.c.month), *deal_conditions(f, r), sql.is_won(ctx, r), r.c.campaign != "")
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


# --- building ----------------------------------------------------------------------------------

def _positions(*numbers: int):
    """GROUP BY output columns by position (they may be correlated subqueries)."""
    return [literal_column(str(n)) for n in numbers]


def _grouped(*keys):
    """GROUP BY the first len(keys) output columns."""
    return _positions(*range(1, len(keys) + 1))


def _deals_query(ctx: Ctx, where=(), sign: int = 1):
    """rollup_deals' rows from the deals (all of them, or those `where` selects, counted `sign`)."""
    from .marketing import contact_field
    month = sql.period_bucket(ctx, d.c.close_date, "month")
    effective = func.coalesce(func.nullif(d.c.deal_source, ""), contact_field("original_source"))
    keys = (month, d.c.pipeline_id, d.c.stage_id, d.c.currency, sql.deal_region(ctx), sql.deal_product_line(ctx),
            d.c.deal_source, effective, d.c.owner_id)
    cycle = sql.days_between(ctx, d.c.created_at, d.c.close_date)
    return (select(*keys, func.count() * sign, func.sum(d.c.amount_cents) * sign, func.sum(cycle) * sign,
                   func.count(cycle) * sign)
            .where(not_(d.c.is_deleted), d.c.close_date.isnot(None), *where).group_by(*_grouped(*keys)))


def _campaigns_query(ctx: Ctx, where=(), sign: int = 1):
    from .marketing import contact_field
    month = sql.period_bucket(ctx, d.c.close_date, "month")
    campaign = contact_field("campaign")
    keys = (month, d.c.pipeline_id, d.c.stage_id, d.c.currency, sql.deal_region(ctx), sql.deal_product_line(ctx),
            campaign)
    return (select(*keys, func.sum(d.c.amount_cents) * sign, func.count() * sign)
            .where(not_(d.c.is_deleted), d.c.close_date.isnot(None), d.c.contact_id.isnot(None),
                   campaign.isnot(None), *where).group_by(*_grouped(*keys)))


def _contact_campaigns_query(ctx: Ctx, role: str, where=(), sign: int = 1):
    at = sql.reached_at(ctx, sql.stage_of(ctx, role))
    keys = (sql.period_bucket(ctx, at, "month"), literal(role), c.c.campaign, c.c.region, c.c.owner_id,
            c.c.original_source)
    return (select(*keys, func.count() * sign)
            .where(not_(c.c.is_deleted), at.isnot(None), c.c.campaign.isnot(None), c.c.campaign != "", *where)
            .group_by(*_positions(1, 3, 4, 5, 6)))


def _contacts_query(ctx: Ctx, role: str, where=(), sign: int = 1):
    from .marketing import follow_up_terms
    at = {x: sql.reached_at(ctx, sql.stage_of(ctx, x)) for x in ROLES}
    month = sql.period_bucket(ctx, at[role], "month")
    keys = (month, literal(role), c.c.region, c.c.owner_id, c.c.original_source)
    in_time = follow_up_terms(ctx, at["mql"])[1] if role == "mql" else None
    followed = func.count().filter(in_time) if in_time is not None else literal(0)
    return (select(*keys, func.count() * sign, func.count(at["mql"]) * sign, func.count(at["sql"]) * sign,
                   func.count(at["opportunity"]) * sign, func.count(at["customer"]) * sign, followed * sign)
            .where(not_(c.c.is_deleted), at[role].isnot(None), *where).group_by(*_positions(1, 3, 4, 5)))


def _invoice_month_query(ctx: Ctx):
    from .finance import NOT_REVENUE_STATUSES, signed, signed_net_cents
    i = s.invoices
    issued_month = sql.period_bucket(ctx, i.c.issue_date, "month")
    paid_month = sql.period_bucket(ctx, i.c.paid_date, "month")
    revenue = i.c.status.notin_(NOT_REVENUE_STATUSES)
    issued = (select(issued_month, literal("issued"), i.c.currency, func.sum(signed_net_cents()))
              .where(revenue, i.c.issue_date.isnot(None)).group_by(*_positions(1, 3)))
    paid = (select(paid_month, literal("paid"), i.c.currency, func.sum(signed(i.c.amount_excl_tax_cents + i.c.tax_cents)))
            .where(revenue, i.c.paid_date.isnot(None)).group_by(*_positions(1, 3)))
    return issued.union_all(paid)


def _ledger_month_query(ctx: Ctx):
    led = s.ledger_entries
    month = sql.period_bucket(ctx, led.c.ecriture_date, "month")
    return (select(month, led.c.compte_num, func.coalesce(func.sum(led.c.debit_cents), 0),
                   func.coalesce(func.sum(led.c.credit_cents), 0), func.count())
            .where(led.c.ecriture_date.isnot(None), led.c.compte_num.isnot(None))
            .group_by(*_grouped(month, led.c.compte_num)))


def _invoice_accounts_query(ctx: Ctx):
    from .finance import NOT_REVENUE_STATUSES
    i = s.invoices
    pairs = (select(func.coalesce(i.c.company_id, i.c.customer_name).label("customer"),
                    sql.period_bucket(ctx, i.c.issue_date, "month").label("month"))
             .where(i.c.status.notin_(NOT_REVENUE_STATUSES), not_(i.c.is_credit_note), i.c.issue_date.isnot(None),
                    func.coalesce(i.c.company_id, i.c.customer_name).isnot(None))
             .distinct().subquery())
    lagged = select(pairs.c.month, func.lag(pairs.c.month).over(partition_by=pairs.c.customer,
                                                                 order_by=pairs.c.month).label("prev")).subquery()
    return select(lagged.c.month, lagged.c.prev, func.count()).group_by(lagged.c.month, lagged.c.prev)


def _queries(ctx: Ctx, group: str) -> list:
    if group == LEDGER:
        return [(s.rollup_ledger_months, _ledger_month_query(ctx))]
    if group == INVOICES:
        return [(s.rollup_invoice_months, _invoice_month_query(ctx)),
                (s.rollup_invoice_accounts, _invoice_accounts_query(ctx))]
    return ([(s.rollup_deals, _deals_query(ctx)), (s.rollup_deal_campaigns, _campaigns_query(ctx))]
            + [(s.rollup_contacts, _contacts_query(ctx, role)) for role in ROLES]
            + [(s.rollup_contact_campaigns, _contact_campaigns_query(ctx, role)) for role in CAMPAIGN_ROLES])


@dataclass(frozen=True)
class Built:
    rows: int
    seconds: float
    version: int


def refresh(engine: Engine, force: bool = False) -> dict[str, Built]:
    """Rebuild the stale rollup groups (all with `force`); returns what was built, by group.

    The data version is read before the data, so a write that lands during the build leaves the
    rollups marked stale (never fresh with data they lack). One builder at a time per process.
    """
    built = {}
    with _lock:
        for group in GROUPS:
            result = _refresh_group(engine, group, force)
            if result is not None:
                built[group] = result
    return built


def _refresh_group(engine: Engine, group: str, force: bool) -> Built | None:
    t0 = time.perf_counter()
    with engine.connect() as conn:
        defs = load_definitions(conn)
        if not force and is_fresh(conn, defs, group):
            return None
        version = int(get_meta(conn, "data_version", "0"))
        ctx = Ctx(conn, defs)
        results: list[tuple] = []
        for table, query in _queries(ctx, group):
            names = [col.name for col in table.columns]
            results.append((table, [dict(zip(names, row)) for row in conn.execute(query)]))
        conn.rollback()
    total = sum(len(rows) for _, rows in results)
    with engine.begin() as conn:
        for table in GROUPS[group][1]:
            conn.execute(delete(table))
        for table, rows in results:
            for i in range(0, len(rows), _BATCH):
                conn.execute(table.insert(), rows[i:i + _BATCH])
        seconds = time.perf_counter() - t0
        upsert(conn, s.rollup_state, [{"name": group, "built_version": version, "defs_fingerprint": fingerprint(defs),
                                       "built_at": utcnow(), "rows": total, "seconds": round(seconds, 3)}], ["name"])
    return Built(total, seconds, version)


# --- keeping them exact through a write (a sync, a HubSpot CSV import) ------------------------

class Keeper:
    """Keeps fresh CRM rollups exact through one write transaction, so a sync's pages do not send
    every reader back to the base tables.

        keeper = Keeper(conn)
        with keeper.around("deals", ids):          # the rows of `ids` are about to change
            upsert(conn, s.deals, rows, ["deal_id"])
        version = bump_data_version(conn, "deals")
        keeper.publish(version)                    # still exact at this version

    `around` subtracts what the rows contributed before the write and adds what they contribute
    after it (rows of opposite sign; `compact` and `refresh` fold them). A write the keeper cannot
    follow (line items when product lines come from line items) marks the rollups stale at once,
    in the same transaction. Rollups already stale are left alone (a full `refresh` follows).
    """

    def __init__(self, conn: Connection):
        """Make it at the start of the transaction, before any write or bump: it notes whether
        the rollups are fresh then."""
        self.conn = conn
        self.ctx = Ctx(conn, load_definitions(conn))
        self.active = is_fresh(conn, self.ctx.defs, NAME)

    def _scope(self, table: str, ids: list) -> tuple[list | None, list | None] | None:
        """(deal conditions, contact conditions) of the rows a write to `table` can move; None when
        the keeper cannot follow it; ([], []) when it moves none."""
        defs = self.ctx.defs
        if table == "deals":
            return [d.c.deal_id.in_(ids)], None
        if table == "contacts":  # a contact's source and campaign are its deals' too
            return [d.c.contact_id.in_(ids)], [c.c.contact_id.in_(ids)]
        if table == "companies" and defs.get("dimensions.region_from") == "company":
            return [d.c.company_id.in_(ids)], None
        if table == "owners" and defs.get("dimensions.region_from") == "owner":
            return [d.c.owner_id.in_(ids)], None
        if table in ("line_items", "products") and defs.get("dimensions.product_line_from") == "line_items":
            return None
        return [], []

    @contextmanager
    def around(self, table: str, ids) -> Iterator[None]:
        """Around a write of the rows of `table` with these ids (None: rows unknown)."""
        if ids is None:  # unknown rows: fine for a table no rollup depends on, else stale
            scope = self._scope(table, []) if self.active else ([], [])
            if scope is None or scope[0] or scope[1]:
                self.stale()
            yield
            return
        ids = list(ids)
        scope = self._scope(table, ids) if self.active and ids else ([], [])
        if scope is None:
            self.stale()
            yield
            return
        deal_where, contact_where = scope
        for chunk in _chunks(ids, 500) if (deal_where or contact_where) else []:
            self._apply(table, chunk, -1)
        yield
        for chunk in _chunks(ids, 500) if (deal_where or contact_where) else []:
            self._apply(table, chunk, +1)

    def _apply(self, table: str, ids: list, sign: int) -> None:
        deal_where, contact_where = self._scope(table, ids)
        queries = []
        if deal_where:
            queries += [(s.rollup_deals, _deals_query(self.ctx, deal_where, sign)),
                        (s.rollup_deal_campaigns, _campaigns_query(self.ctx, deal_where, sign))]
        if contact_where:
            queries += [(s.rollup_contacts, _contacts_query(self.ctx, role, contact_where, sign)) for role in ROLES]
            queries += [(s.rollup_contact_campaigns, _contact_campaigns_query(self.ctx, role, contact_where, sign))
                        for role in CAMPAIGN_ROLES]
        for target, query in queries:
            self.conn.execute(target.insert().from_select([col.name for col in target.columns], query))

    def stale(self) -> None:
        """The rollups no longer match the data: say so now, in this transaction."""
        self.conn.execute(update(s.rollup_state).where(s.rollup_state.c.name == NAME).values(built_version=-1))
        self.active = False

    def publish(self, version: int) -> None:
        """After this transaction's data-version bump: the rollups are exact at `version`."""
        if self.active:
            self.conn.execute(update(s.rollup_state).where(s.rollup_state.c.name == NAME)
                              .values(built_version=version))


def _chunks(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def compact(engine: Engine, group: str = NAME) -> int:
    """Fold the rows a Keeper added (opposite signs for one key) into one row per key; returns
    the rows left. The sums read are the same before and after."""
    with _lock, engine.begin() as conn:
        total = 0
        for table in GROUPS[group][1]:
            values = [col for col in table.columns if col.name in _SUMMED]
            keys = [col for col in table.columns if col.name not in _SUMMED]
            rows = [dict(r) for r in conn.execute(
                select(*keys, *[func.sum(v).label(v.name) for v in values]).group_by(*keys)).mappings()]
            rows = [r for r in rows if any(r[v.name] for v in values)]  # a key whose rows cancel out is gone
            conn.execute(delete(table))
            for i in range(0, len(rows), _BATCH):
                conn.execute(table.insert(), rows[i:i + _BATCH])
            total += len(rows)
        conn.execute(update(s.rollup_state).where(s.rollup_state.c.name == group).values(rows=total))
    return total


_SUMMED = {"n", "amount_cents", "cycle_days_sum", "cycle_days_n", "reached_mql", "reached_sql",
           "reached_opportunity", "reached_customer", "followed_up_in_sla", "cents"}


def settle(engine: Engine, log=None) -> dict[str, Built]:
    """After a sync or an import: rebuild what is stale, fold what a Keeper grew (once the rows
    reach twice what the last build or fold left)."""
    built = refresh_quietly(engine, log)
    if NAME not in built:
        with engine.connect() as conn:
            st = state(conn)
            rows = sum(conn.execute(select(func.count()).select_from(t)).scalar_one() for t in GROUPS[NAME][1])
        if st and rows > 2 * max(st["rows"], 1000):
            compact(engine)
    return built


def refresh_quietly(engine: Engine, log=None) -> dict[str, Built]:
    """`refresh`, for callers whose own work is done: a failure is logged, never raised (the
    metrics then read the base tables, which is slower but exact)."""
    try:
        return refresh(engine)
    except Exception as exc:  # noqa: BLE001 - the write it follows has committed; do not fail it
        if log is not None:
            log.warning("metric rollups not rebuilt (%s: %s); metrics read the base tables until "
                        "`python cli.py rollups` succeeds", type(exc).__name__, exc)
        return {}


def refresh_in_background(engine: Engine, log=None) -> bool:
    """Start a rebuild in a daemon thread unless one is running; True if started."""
    if _lock.locked():
        return False
    threading.Thread(target=refresh_quietly, args=(engine, log), name="rollups", daemon=True).start()
    return True


_checked: dict[str, int] = {}  # engine URL -> the data version last found fresh (or being rebuilt)
QUIET_SECONDS = 30  # a store still being written to (a sync in progress) is left alone


def refresh_soon(engine: Engine, log=None, now: dt.datetime | None = None) -> bool:
    """For a long-running app: once per data version, rebuild stale rollups in the background
    (after an edit made in the app, or a write by a process that did not rebuild them), once the
    store has had no write for QUIET_SECONDS (a sync moves the data version every few seconds
    and rebuilds them itself when it ends). Until a rebuild commits, the metrics read the base
    tables. True if a rebuild was started."""
    key = str(engine.url)
    with engine.connect() as conn:
        version = int(get_meta(conn, "data_version", "0"))
        if _checked.get(key) == version:
            return False
        defs = load_definitions(conn)
        stale = [g for g in GROUPS if not is_fresh(conn, defs, g)]
        changed_at = get_meta(conn, "data_changed_at")
    if not stale:
        _checked[key] = version
        return False
    now = now or utcnow()
    if changed_at and (now - dt.datetime.fromisoformat(changed_at)).total_seconds() < QUIET_SECONDS:
        return False  # still being written to: ask again on a later page run
    started = refresh_in_background(engine, log)
    if started:
        _checked[key] = version
    return started


__all__ = ["GROUPS", "INVOICES", "LEDGER", "NAME", "SOURCES", "Built", "Keeper", "compact", "settle", "invoice_accounts", "invoice_total",
           "ledger_cents", "ledger_months", "whole_months", "campaign_revenue", "closed_raw", "contact_conditions",
           "contact_filters_supported", "deal_conditions", "campaign_filters_supported", "fingerprint",
           "funnel_raw", "is_fresh", "refresh", "status", "refresh_in_background", "refresh_quietly", "refresh_soon", "split",
           "state",
           "usable"]
