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
  customers over any months is a sum), the same two by day (`rollup_invoice_days`,
  `rollup_invoice_account_days`: a period's edge days, and ARPA's trailing 12 months, which end
  on any day), the first by the invoice's deal's dimensions (`rollup_invoice_dims`, a group of
  its own: it is stale after any write to the deals) and `rollup_ledger_months` (debit and credit by month and account), each group with
  its own source table, so an import of one leaves the others fresh.

Region and product line are resolved with the definitions' rules when built, so a rollup is
valid for one set of definitions (its fingerprint) and one state of its source tables.

When they are used: only while fresh (built from the current data of `SOURCES`, see
`store.db.changed_since`, and from the current definitions), for the whole months of a period
(the days at either edge of a period come from the base tables and are added; the contacts'
from `rollup_contact_days`, the contact rollup by day, when fresh: `contact_rows`), and for
the filters a rollup carries (a product-line or pipeline filter on the funnel, for instance,
reads the base tables). Otherwise every metric reads the base tables exactly as before: the
rollups change speed, never a number (tests/metrics/test_rollups.py checks both paths agree).

This module reads them: freshness (`is_fresh`, `usable`, `status`), the split of a period into
whole months and edge days (`split`), the builder's query for each rollup table's rows (used to
build them, and restricted to a part's days as the base-table source of the readers:
`deal_rows`, `contact_rows`...) and one reader per aggregate over rollup-shaped rows, which
`gather` runs on the rollup or on those rows. Building them and
keeping them current through writes (`refresh`, `Keeper`, `settle`, `refresh_soon`...) is
metrics/rollups_build.py.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any, Callable

from sqlalchemy import Connection, Engine, and_, cast, func, literal, literal_column, not_, null, or_, select, union, union_all

from store import schema as s
from store.db import changed_since, get_meta

from . import dimensions, sql
from .definitions import NOT_IN_NUMBERS, Definitions, load_definitions
from .filters import NONE_BUCKET, Filters
from .registry import Ctx
from .rules import NOT_REVENUE_STATUSES, contact_field, effective_source, follow_up_terms, signed, signed_net_cents

NAME = "metric_rollups"  # the CRM rollups
SOURCES = ("deals", "contacts", "companies", "owners", "line_items", "products")
INVOICES = "invoice_rollups"
LEDGER = "ledger_rollups"
INVOICE_DIMS = "invoice_dim_rollups"
ACCOUNT_SLICES = "invoice_account_slices"
# each group: the tables it is built from and the rollup tables it fills (rebuilt together)
GROUPS = {
    NAME: (SOURCES, (s.rollup_deals, s.rollup_deal_campaigns, s.rollup_contacts, s.rollup_contact_campaigns,
                     s.rollup_deal_cycles, s.rollup_funnel_days,  # metrics/rollup_days.py
                     s.rollup_deal_forecast,  # metrics/rollup_forecast.py
                     s.rollup_contact_days,  # the edge days of a period (contact_rows)
                     s.rollup_recent_funnel_days, s.rollup_recent_contact_campaigns,  # the recent days (recent)
                     s.rollup_recent_deals, s.rollup_recent_deal_campaigns)),
    INVOICES: (("invoices",), (s.rollup_invoice_months, s.rollup_invoice_accounts,
                               s.rollup_invoice_days, s.rollup_invoice_account_days)),  # by day: the edge days
    LEDGER: (("ledger_entries",), (s.rollup_ledger_months, s.rollup_ledger_days)),  # by day: the edge days
    # by the invoice's deal's dimensions: stale after a write to the deals (rebuilt once writes pause)
    INVOICE_DIMS: (("invoices", "deals", "companies", "owners", "line_items", "products"),
                   (s.rollup_invoice_dims, s.rollup_invoice_dim_days)),  # by day: a region's edge days
    # ARPA's customers by region or product line of the deal: stale after a write to the deals (a
    # distinct count cannot be kept by rows of opposite sign), rebuilt once writes pause
    ACCOUNT_SLICES: (("invoices", "deals", "companies", "owners", "line_items", "products"),
                     (s.rollup_invoice_account_slices,)),
    # the respondent's region comes from the contact's company (metrics/nps.py builds and reads it)
    # and its product lines from the company's deals (stale after a deal write, rebuilt once writes pause)
    "nps_rollups": (("nps_responses", "contacts", "companies", "deals", "line_items", "products"), (s.rollup_nps_months,)),
}
NPS = "nps_rollups"
GROUP_TABLES = {t.name for _, tables in GROUPS.values() for t in tables}
ROLES = ("lead", "mql", "sql", "opportunity", "customer")
CAMPAIGN_ROLES = ("lead", "mql", "customer")  # the campaign table's columns


def fingerprint(defs: Definitions) -> str:
    shaping = {k: v for k, v in defs.raw.items() if k not in NOT_IN_NUMBERS}
    return hashlib.sha256(json.dumps(shaping, sort_keys=True, default=str).encode()).hexdigest()[:32]


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


def day_range(f: Filters, col) -> list:
    """The days of `f` on a 'YYYY-MM-DD' column (the day-resolution summaries)."""
    return [col >= f.start.isoformat(), col <= f.end.isoformat()]


# The recent days at day resolution (rollup_recent_*): from the first day of the month before the
# build's, so the month in progress (and a period of the last 30 days) has its edge days there.
# Day resolution over the whole history would hold about a row per contact and stage; this
# window keeps them to about two months of rows, whatever the history's length.
RECENT_FROM = "rollup_recent_from"  # store_meta: the first day the rollup_recent_* tables hold


def recent_from(today: dt.date) -> dt.date:
    """The first day a build (or a trim) on `today` keeps at day resolution: the previous month's first."""
    first = today.replace(day=1)
    return (first - dt.timedelta(days=1)).replace(day=1)


def recent_start(conn: Connection) -> dt.date | None:
    """The first day the rollup_recent_* tables hold (None: not built)."""
    value = get_meta(conn, RECENT_FROM)
    return dt.date.fromisoformat(value) if value else None


def recent(ctx: Ctx, f: Filters) -> bool:
    """Whether the days of `f` can be read from the rollup_recent_* tables: usable, and every day
    of `f` at or after their first day (they hold every later day, the future's too)."""
    if not usable(ctx):
        return False
    key = ("rollups_recent_from",)
    if key not in ctx.cache:
        ctx.cache[key] = recent_start(ctx.conn)
    start = ctx.cache[key]
    return start is not None and f.start >= start


Reader = Callable[..., Any]  # reader(ctx, part, r=<its rollup table>): the figures of rows shaped like r
Rows = Callable[[Ctx, Filters], Any]  # rows(ctx, part): the rollup's rows for the part's days, from the base tables


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


def negate(a: Any) -> Any:
    """A part's figures counted negatively (numbers, lists and tuples of them; None stays None)."""
    if a is None:
        return None
    if isinstance(a, dict):  # a key whose figures cancel out would stay, with zeros: not the base tables' answer
        raise TypeError("figures by key cannot be read as a month less its other days")
    if isinstance(a, (list, tuple)):
        return type(a)(negate(x) for x in a)
    return -a


def by_complement(part: Filters) -> list[tuple[Filters, int]] | None:
    """Days inside one calendar month as that whole month (+1, from the rollup) less the month's other
    days (-1, from the base tables), when those are fewer than the part's own: the 26 last days of a
    trailing year's first month read 5 days of rows, not 26. None when reading the part is cheaper."""
    first = part.start.replace(day=1)
    last = _next_month(first) - dt.timedelta(days=1)
    if part.end > last or (part.start == first and part.end == last):
        return None
    other = [(a, b) for a, b in ((first, part.start - dt.timedelta(days=1)), (part.end + dt.timedelta(days=1), last))
             if a <= b]
    if sum((b - a).days + 1 for a, b in other) >= (part.end - part.start).days + 1:
        return None
    return [(part.with_period(first, last), 1)] + [(part.with_period(a, b), -1) for a, b in other]


def gather(ctx: Ctx, f: Filters, reader: Reader, rows: Rows, supported: bool = True, group: str = NAME,
           empty: Any = None, complement: bool = False) -> Any:
    """An aggregate over the period of `f`: the one place that chooses between a rollup and the
    base tables, with one reader for both. `reader(ctx, part)` reads the whole months of `part`
    from its rollup table; `reader(ctx, part, rows(ctx, part))` reads the same figures from the
    rollup's rows built from the base tables for the days of `part` (the builder's own query,
    see `deal_rows`...). Figures are a number, a list or tuple of numbers, or a dict of those;
    the parts of `split` are added up (`add_up`); `empty` is the result when every part is empty.
    With `complement` (figures without keys only), an edge part of most of a month is read as that
    month from the rollup less its other days from the base tables (`by_complement`)."""
    parts = [(part, 1 if from_rollup else 0) for part, from_rollup in split(ctx, f, supported, group)]
    if complement and any(how == 1 for _part, how in parts):  # the rollup is usable for these filters
        parts = [p for part, how in parts for p in ((how == 0 and by_complement(part)) or [(part, how)])]
    total = None
    for part, how in parts:
        figures = reader(ctx, part) if how == 1 else reader(ctx, part, rows(ctx, part))
        total = add_up(total, negate(figures) if how == -1 else figures)
    return empty if total is None else total


# --- filters on the rollups ------------------------------------------------------------------

def campaign_filters_supported(f: Filters) -> bool:
    return not (f.owners or f.teams or f.sources)  # rollup_deal_campaigns has no owner or source


def deal_conditions(f: Filters, r) -> list:
    """WHERE conditions on a deal rollup for the slices of `f` (every rollup_deals column is a
    filter dimension; asking a rollup for a dimension it lacks is a programming error)."""
    for values, name in ((f.regions, "region"), (f.product_lines, "product_line"), (f.owners, "owner_id"),
                         (f.pipelines, "pipeline_id"), (f.sources, "deal_source"), (f.teams, "owner_id")):
        if values and name not in r.c and r.name in GROUP_TABLES:  # rows from the builder have them applied
            raise ValueError(f"{r.name} cannot filter by {name}")
    return dimensions.conditions(f, region=r.c.region, product_line=r.c.product_line, owner=r.c.get("owner_id"),
                                 pipeline=r.c.pipeline_id, source=r.c.get("deal_source"))


def contact_filters_supported(f: Filters) -> bool:
    """Whether the contact summaries carry the filters of `f`: a product line through their
    deal_lines, not a pipeline (the contacts with a deal in it are read from the contacts)."""
    return not f.pipelines


def contact_conditions(f: Filters, r) -> list:
    """WHERE conditions on a contact rollup for the slices of `f`; a product line through its
    deal_lines, where it has them (NULL there: rows built from the contacts, the filter applied)."""
    conds = dimensions.conditions(f, region=r.c.region, owner=r.c.owner_id, source=r.c.source)
    if f.product_lines and "deal_lines" in r.c:
        conds.append(dimensions.lines_filter(f.product_lines, r.c.deal_lines))
    return conds


# --- the rows of each rollup, from the base tables (the builder's queries; also the base-table
# source of every reader below, restricted by `where` to a part's days) -------------------------

d, c = s.deals, s.contacts


def _named(table, *cols) -> list:
    """`cols` labelled with the column names of `table`, in order; the counts and sums cast to the
    table's types, so a reader's sums over these rows have the types they have over the table
    (PostgreSQL sums a bigint count to a numeric, an integer column to a bigint)."""
    assert len(table.columns) == len(cols), (table.name, len(table.columns), len(cols))
    return [(cast(col, target.type) if target.name in SUMMED else col).label(target.name)
            for col, target in zip(cols, table.columns)]


SUMMED = {"n", "amount_cents", "cycle_days_sum", "cycle_days_n", "reached_mql", "reached_sql",
          "reached_opportunity", "reached_customer", "followed_up_in_sla", "cents", "debit_cents", "credit_cents"}


def _positions(*numbers: int):
    """GROUP BY output columns by position (they may be correlated subqueries)."""
    return [literal_column(str(n)) for n in numbers]


def _grouped(*keys):
    """GROUP BY the first len(keys) output columns."""
    return _positions(*range(1, len(keys) + 1))


def _deals_query(ctx: Ctx, where=(), sign: int = 1, by_day: bool = False):
    """rollup_deals' rows from the deals (all of them, or those `where` selects, counted `sign`;
    rollup_recent_deals' with `by_day`)."""
    month = sql.period_bucket(ctx, d.c.close_date, "day" if by_day else "month")
    effective = effective_source()
    keys = (month, d.c.pipeline_id, d.c.stage_id, d.c.currency, dimensions.deal_region(ctx), dimensions.deal_product_line(ctx),
            d.c.deal_source, effective, d.c.owner_id)
    cycle = sql.days_between(ctx, d.c.created_at, d.c.close_date)
    table = s.rollup_recent_deals if by_day else s.rollup_deals
    return (select(*_named(table, *keys, func.count() * sign, func.sum(d.c.amount_cents) * sign,
                           func.sum(cycle) * sign, func.count(cycle) * sign, d.c.deal_type))
            .where(not_(d.c.is_deleted), d.c.close_date.isnot(None), *where)
            .group_by(*_grouped(*keys), *_positions(len(keys) + 5)))  # and the deal type, last


def _campaigns_query(ctx: Ctx, where=(), sign: int = 1, by_day: bool = False):
    """rollup_deal_campaigns' rows (rollup_recent_deal_campaigns' with `by_day`)."""
    month = sql.period_bucket(ctx, d.c.close_date, "day" if by_day else "month")
    campaign = contact_field("campaign")
    keys = (month, d.c.pipeline_id, d.c.stage_id, d.c.currency, dimensions.deal_region(ctx), dimensions.deal_product_line(ctx),
            campaign)
    table = s.rollup_recent_deal_campaigns if by_day else s.rollup_deal_campaigns
    return (select(*_named(table, *keys, func.sum(d.c.amount_cents) * sign, func.count() * sign,
                           d.c.deal_type))
            .where(not_(d.c.is_deleted), d.c.close_date.isnot(None), d.c.contact_id.isnot(None),
                   campaign.isnot(None), *where)
            .group_by(*_grouped(*keys), *_positions(len(keys) + 3)))  # and the deal type, last


def _contact_campaigns_query(ctx: Ctx, role: str, where=(), sign: int = 1, deleted=c.c.is_deleted, by_day: bool = False,
                             lines: bool = True, lines_as=None):
    """rollup_contact_campaigns' rows (rollup_recent_contact_campaigns' with `by_day`) for the
    contacts reaching `role` (deal_lines as `_contacts_query`'s)."""
    at = sql.reached_at(ctx, sql.stage_of(ctx, role))
    keys = (sql.period_bucket(ctx, at, "day" if by_day else "month"), literal(role), c.c.campaign, c.c.region,
            c.c.owner_id, c.c.original_source)
    table = s.rollup_recent_contact_campaigns if by_day else s.rollup_contact_campaigns
    return (select(*_named(table, *keys, func.count() * sign, lines_column(ctx, lines, lines_as)))
            .where(not_(deleted), at.isnot(None), c.c.campaign.isnot(None), c.c.campaign != "", *where)
            .group_by(*_positions(1, 3, 4, 5, 6, 8)))


def lines_column(ctx: Ctx, lines: bool, lines_as: str | None = None):
    """A contact rollup's deal_lines: the contact's product lines (`lines_as`, when given: those
    lines, what the contacts had before a write of their deals), or NULL for rows read with the
    filters applied at the contacts (`lines` False)."""
    if not lines:
        return null()
    return dimensions.contact_deal_lines(ctx, c) if lines_as is None else literal(lines_as)


def _contacts_query(ctx: Ctx, role: str, where=(), sign: int = 1, deleted=c.c.is_deleted, by_day: bool = False,
                    lines: bool = True, lines_as=None):
    """rollup_contacts' rows (rollup_contact_days' with `by_day`) for the contacts reaching `role`;
    their deal_lines as `lines_column` gives them (`lines`, `lines_as`)."""
    at = {x: sql.reached_at(ctx, sql.stage_of(ctx, x)) for x in ROLES}
    month = sql.period_bucket(ctx, at[role], "day" if by_day else "month")
    keys = (month, literal(role), c.c.region, c.c.owner_id, c.c.original_source)
    in_time = follow_up_terms(ctx, at["mql"])[1] if role == "mql" else None
    followed = func.count().filter(in_time) if in_time is not None else literal(0)
    return (select(*_named(s.rollup_contact_days if by_day else s.rollup_contacts, *keys, func.count() * sign,
                           func.count(at["mql"]) * sign,
                           func.count(at["sql"]) * sign, func.count(at["opportunity"]) * sign,
                           func.count(at["customer"]) * sign, followed * sign,
                           lines_column(ctx, lines, lines_as)))
            .where(not_(deleted), at[role].isnot(None), *where).group_by(*_positions(1, 3, 4, 5, 12)))


def _invoice_month_query(ctx: Ctx, where=lambda date_col: [], grain: str = "month"):
    """rollup_invoice_months' rows (grain "day": rollup_invoice_days')."""
    i = s.invoices
    issued_month = sql.period_bucket(ctx, i.c.issue_date, grain)
    paid_month = sql.period_bucket(ctx, i.c.paid_date, grain)
    revenue = i.c.status.notin_(NOT_REVENUE_STATUSES)
    table = s.rollup_invoice_months if grain == "month" else s.rollup_invoice_days
    issued = (select(*_named(table, issued_month, literal("issued"), i.c.currency,
                             func.sum(signed_net_cents())))
              .where(revenue, i.c.issue_date.isnot(None), *where(i.c.issue_date)).group_by(*_positions(1, 3)))
    paid = (select(paid_month, literal("paid"), i.c.currency, func.sum(signed(i.c.amount_excl_tax_cents + i.c.tax_cents)))
            .where(revenue, i.c.paid_date.isnot(None), *where(i.c.paid_date)).group_by(*_positions(1, 3)))
    return issued.union_all(paid)


def _ledger_month_query(ctx: Ctx, where=(), grain: str = "month"):
    """rollup_ledger_months' rows (grain "day": rollup_ledger_days')."""
    led = s.ledger_entries
    month = sql.period_bucket(ctx, led.c.ecriture_date, grain)
    table = s.rollup_ledger_months if grain == "month" else s.rollup_ledger_days
    return (select(*_named(table, month, led.c.compte_num, func.coalesce(func.sum(led.c.debit_cents), 0),
                           func.coalesce(func.sum(led.c.credit_cents), 0), func.count()))
            .where(led.c.ecriture_date.isnot(None), led.c.compte_num.isnot(None), *where)
            .group_by(*_grouped(month, led.c.compte_num)))


def _invoice_dims_query(ctx: Ctx, where=lambda date_col: [], sign: int = 1, bases=("issued", "paid"),
                        grain: str = "month"):
    """rollup_invoice_dims' rows: rollup_invoice_months' by the invoice's live deal's region,
    product line, owner, pipeline and source (NULL without one); counted `sign`; only those of
    `bases` (issued: by issue date, net; paid: by payment date, with tax). Grain "day":
    rollup_invoice_dim_days' rows (by day, region and product line only)."""
    i = s.invoices
    live = and_(d.c.deal_id == i.c.deal_id, not_(d.c.is_deleted))
    dims = (dimensions.deal_region(ctx), dimensions.deal_product_line(ctx), d.c.owner_id, d.c.pipeline_id, d.c.deal_source)
    table = s.rollup_invoice_dims
    if grain == "day":
        dims, table = dims[:2], s.rollup_invoice_dim_days
    revenue = i.c.status.notin_(NOT_REVENUE_STATUSES)
    parts = []
    for basis, date_col, amount in (("issued", i.c.issue_date, signed_net_cents()),
                                    ("paid", i.c.paid_date, signed(i.c.amount_excl_tax_cents + i.c.tax_cents))):
        if basis not in bases:
            continue
        parts.append(select(*_named(table, sql.period_bucket(ctx, date_col, grain), literal(basis),
                                    i.c.currency, *dims, func.sum(amount) * sign))
                     .select_from(i.outerjoin(d, live))
                     .where(revenue, date_col.isnot(None), *where(date_col))
                     .group_by(*_positions(1, *range(3, 4 + len(dims)))))
    return parts[0].union_all(*parts[1:]) if len(parts) > 1 else parts[0]


def invoice_account(i=s.invoices):
    """The customer an invoice counts for in ARPA's distinct customers."""
    return func.coalesce(i.c.company_id, i.c.customer_name)


def _invoice_accounts_query(ctx: Ctx, grain: str = "month", sliced: bool = False, customers=None, sign: int = 1,
                            months_from: str | None = None):
    """rollup_invoice_accounts' rows (grain "day": rollup_invoice_account_days', every invoice;
    `sliced`: rollup_invoice_account_slices', each region and each product line of the invoice's
    live deal), of every customer or of `customers` (a SELECT of invoice_account keys), counted
    `sign`; `months_from`: rollup_invoice_accounts' rows of that month (YYYY-MM) on only."""
    i = s.invoices
    customer = invoice_account(i)
    day = sql.period_bucket(ctx, i.c.issue_date, grain)
    conds = [i.c.status.notin_(NOT_REVENUE_STATUSES), not_(i.c.is_credit_note), i.c.issue_date.isnot(None),
             customer.isnot(None)] + ([] if customers is None else [customer.in_(customers)])
    if grain == "month":
        pairs = select(customer.label("customer"), day.label("month")).where(*conds).distinct().subquery()
        lagged = select(pairs.c.month, func.lag(pairs.c.month).over(partition_by=pairs.c.customer,
                                                                     order_by=pairs.c.month).label("prev")).subquery()
        return (select(*_named(s.rollup_invoice_accounts, lagged.c.month, lagged.c.prev, func.count() * sign))
                .where(*([] if months_from is None else [lagged.c.month >= months_from]))
                .group_by(lagged.c.month, lagged.c.prev))
    live = and_(d.c.deal_id == i.c.deal_id, not_(d.c.is_deleted))
    if sliced:
        pairs = union(*[select(literal(dim).label("dim"), value.label("value"), customer.label("customer"),
                               day.label("month")).select_from(i.outerjoin(d, live)).where(*conds)
                        for dim, value in (("region", func.coalesce(dimensions.deal_region(ctx), "")),
                                           ("product_line", func.coalesce(dimensions.deal_product_line(ctx), "")))
                        ]).subquery()
    else:
        pairs = select(literal("").label("dim"), literal("").label("value"), customer.label("customer"),
                       day.label("month")).where(*conds).distinct().subquery()
    lagged = select(pairs.c.dim, pairs.c.value, pairs.c.month,
                    func.lag(pairs.c.month).over(partition_by=(pairs.c.dim, pairs.c.value, pairs.c.customer),
                                                 order_by=pairs.c.month).label("prev")).subquery()
    keys = (lagged.c.dim, lagged.c.value, lagged.c.month, lagged.c.prev)
    table = s.rollup_invoice_account_slices if sliced else s.rollup_invoice_account_days
    return select(*_named(table, *keys, func.count() * sign)).group_by(*keys)


def _by_day(r, like, f: Filters, name: str, conditions=()):
    """The rows of `r` (a summary by day) for the days of `f` that `conditions` select, shaped like `like`
    (its month rollup: the day's month in place of the day)."""
    return (select(func.substr(r.c.day, 1, 7).label("month"), *[r.c[col.name] for col in list(like.columns)[1:]])
            .where(*day_range(f, r.c.day), *conditions).subquery(name))


def deal_rows(ctx: Ctx, f: Filters):
    """rollup_deals' rows for the deals of `f` closed in its days: from rollup_recent_deals when
    those are recent days it holds (it carries every deal filter), else from the deals."""
    if recent(ctx, f):
        r = s.rollup_recent_deals
        return _by_day(r, s.rollup_deals, f, "deal_rows", deal_conditions(f, r))
    return _deals_query(ctx, [*sql.deal_conditions(ctx, f), sql.in_period_date(d.c.close_date, f)]).subquery("deal_rows")


def deal_campaign_rows(ctx: Ctx, f: Filters):
    """rollup_deal_campaigns' rows for the deals of `f` closed in its days: from
    rollup_recent_deal_campaigns when those are recent days it holds and it carries the filters
    (no owner or source), else from the deals (every filter of `f` applied there)."""
    if campaign_filters_supported(f) and recent(ctx, f):
        r = s.rollup_recent_deal_campaigns
        return _by_day(r, s.rollup_deal_campaigns, f, "deal_campaign_rows", deal_conditions(f, r))
    return _campaigns_query(ctx, [*sql.deal_conditions(ctx, f), sql.in_period_date(d.c.close_date, f)]).subquery(
        "deal_campaign_rows")


def _reached(ctx: Ctx, role: str):
    return sql.reached_at(ctx, sql.stage_of(ctx, role))


def short(f: Filters) -> bool:
    return f.days <= sql.SHORT_PERIOD_DAYS


def live(f: Filters):
    """The contacts' deleted flag for the builder's query over the days of `f`: for a short part,
    wrapped so that no index serves it and the stage-date indexes of `touched` drive the query."""
    return dimensions.broad(c.c.is_deleted) if short(f) else c.c.is_deleted


def touched(ctx: Ctx, f: Filters) -> list:
    """For a short part (the edge days of a period: at most sql.SHORT_PERIOD_DAYS), the condition
    that keeps the contacts with a funnel stage date in its days, found through each stage's
    date index: a contact reaching a stage in those days (any-stage: the first of its stage dates
    from that stage on) has one of them there, so the query it joins reads those contacts instead
    of every contact (an any-stage date is a COALESCE no index serves). No condition for a longer part."""
    if not short(f):
        return []
    lo, hi = sql.day_start(f.start), sql.day_start(f.end + dt.timedelta(days=1))
    cols = dict.fromkeys(sql.stage_column(st) for st in ctx.defs.funnel_stages)
    return [c.c.contact_id.in_(union(*[select(c.c.contact_id).where(col >= lo, col < hi) for col in cols]))]


def contact_rows(ctx: Ctx, f: Filters, roles=ROLES):
    """rollup_contacts' rows for the contacts of `f` reaching each of `roles` in its days: summed
    from rollup_contact_days when it is fresh and carries the filters, else from the contacts (a
    product-line or pipeline filter, which the rollups do not carry, applied there)."""
    if contact_filters_supported(f) and usable(ctx):
        r = s.rollup_contact_days
        return (select(func.substr(r.c.day, 1, 7).label("month"), *[r.c[col.name] for col in list(s.rollup_contacts.columns)[1:]])
                .where(r.c.day >= f.start.isoformat(), r.c.day <= f.end.isoformat(), r.c.role.in_(roles))
                .subquery("contact_rows"))
    conds = [*sql.contact_conditions(ctx, f), *touched(ctx, f)]
    return union_all(*[_contacts_query(ctx, role, [*conds, sql.in_period_dt(_reached(ctx, role), f)], deleted=live(f),
                                       lines=False)
                       for role in roles]).subquery("contact_rows")


def contact_campaign_rows(ctx: Ctx, f: Filters):
    """rollup_contact_campaigns' rows for the contacts of `f` reaching lead, MQL or customer in its
    days: summed from rollup_recent_contact_campaigns when the days are recent ones it holds and it
    carries the filters, else from the contacts."""
    if contact_filters_supported(f) and recent(ctx, f):
        return _by_day(s.rollup_recent_contact_campaigns, s.rollup_contact_campaigns, f, "contact_campaign_rows")
    conds = [*sql.contact_conditions(ctx, f), *touched(ctx, f)]
    return union_all(*[_contact_campaigns_query(ctx, role, [*conds, sql.in_period_dt(_reached(ctx, role), f)], deleted=live(f),
                                                lines=False)
                       for role in CAMPAIGN_ROLES]).subquery("contact_campaign_rows")


def ledger_rows(ctx: Ctx, f: Filters):
    """rollup_ledger_months' rows for the ledger lines dated in the days of `f`: from
    rollup_ledger_days while fresh, else from the ledger lines."""
    if usable(ctx, LEDGER):
        return _by_day(s.rollup_ledger_days, s.rollup_ledger_months, f, "ledger_rows")
    led = s.ledger_entries
    return _ledger_month_query(ctx, [led.c.ecriture_date >= f.start, led.c.ecriture_date <= f.end]).subquery("ledger_rows")


def invoice_rows(ctx: Ctx, f: Filters, where: Callable[[Any], list], supported: bool = False):
    """rollup_invoice_months' rows for the invoices of the days of `f`: summed from
    rollup_invoice_days when the caller's filters are `supported` (no deal dimension, which the
    rollups do not carry) and it is fresh, else from the invoices `where(date column)` selects
    (the caller's conditions: the days of a part, and any deal dimension)."""
    if supported and usable(ctx, INVOICES):
        r = s.rollup_invoice_days
        return (select(func.substr(r.c.day, 1, 7).label("month"), r.c.basis, r.c.currency, r.c.cents)
                .where(r.c.day >= f.start.isoformat(), r.c.day <= f.end.isoformat()).subquery("invoice_rows"))
    return _invoice_month_query(ctx, where).subquery("invoice_rows")


# --- reading -----------------------------------------------------------------------------------

def closed_raw(ctx: Ctx, f: Filters, r=s.rollup_deals) -> list:
    """metrics.sales.closed_stats' raw sums over the months of `f`, from rows shaped like
    rollup_deals (the rollup itself, or `deal_rows` for the days of a part)."""
    row = ctx.conn.execute(select(*closed_sums(ctx, r)).where(*months(f, r.c.month), *deal_conditions(f, r))).one()
    return [v or 0 for v in row]


def closed_sums(ctx: Ctx, r=s.rollup_deals) -> list:
    """closed_raw's sums, in its order, over rows shaped like rollup_deals."""
    won, lost = sql.is_won(ctx, r), sql.is_lost(ctx, r)
    open_ = not_(or_(won, lost))
    amount = sql.to_major(ctx, r.c.amount_cents, r.c.currency)
    mkt = r.c.effective_source.in_(ctx.defs.marketing_sources)
    return [
        func.sum(r.c.n).filter(won), func.sum(r.c.n).filter(lost), func.sum(amount).filter(won),
        func.sum(r.c.cycle_days_sum).filter(won), func.sum(r.c.cycle_days_n).filter(won),
        func.sum(amount).filter(and_(won, mkt, sql.counted_type(ctx, "marketing_sourced_revenue", r))),
        func.sum(r.c.n).filter(open_), func.sum(amount).filter(open_),
        func.sum(amount * sql.stage_probability(ctx, r)).filter(open_),
        *sql.typed_sums(ctx, r, won, lost, amount, func.sum(r.c.n)),
    ]


def closed_raw_by_owner(ctx: Ctx, f: Filters, r=s.rollup_deals) -> dict[str, list]:
    """closed_raw by deal owner: {owner id: the sums closed_raw gives with that owner as the only
    owner filter} (the quota tables read every rep's figures in one pass, metrics.sales.prefetch_closed)."""
    rows = ctx.conn.execute(select(r.c.owner_id, *closed_sums(ctx, r))
                            .where(*months(f, r.c.month), *deal_conditions(f, r)).group_by(r.c.owner_id)).all()
    return {oid: [v or 0 for v in row] for oid, *row in rows if oid not in (None, "")}


def campaign_revenue(ctx: Ctx, f: Filters, campaigns: list[str], r=s.rollup_deal_campaigns) -> dict[str, float]:
    """Won revenue by primary-contact campaign over the months of `f`, from rows shaped like
    rollup_deal_campaigns (the rollup, or `deal_campaign_rows`)."""
    amount = sql.to_major(ctx, r.c.amount_cents, r.c.currency)
    rows = ctx.conn.execute(select(r.c.campaign, func.sum(amount))
                            .where(*months(f, r.c.month), *deal_conditions(f, r), sql.is_won(ctx, r),
                                   sql.counted_type(ctx, "campaign_roi", r), r.c.campaign.in_(campaigns or [""]))
                            .group_by(r.c.campaign)).all()
    return {k: float(v or 0.0) for k, v in rows}


def campaign_won(ctx: Ctx, f: Filters, r=s.rollup_deal_campaigns) -> dict[str, tuple[int, float]]:
    """{campaign: (won deals, won revenue)} by primary-contact campaign over the months of `f`
    (rows shaped like rollup_deal_campaigns)."""
    rows = ctx.conn.execute(select(r.c.campaign, func.sum(r.c.n), func.sum(sql.to_major(ctx, r.c.amount_cents, r.c.currency)))
                            .where(*months(f, r.c.month), *deal_conditions(f, r), sql.is_won(ctx, r),
                                   sql.counted_type(ctx, "campaign_roi", r), r.c.campaign != "")
                            .group_by(r.c.campaign)).all()
    return {k: (int(n or 0), float(v or 0.0)) for k, n, v in rows if n}


def campaign_contacts(ctx: Ctx, f: Filters, r=s.rollup_contact_campaigns) -> dict[str, dict[str, int]]:
    """{role: {campaign: contacts}} reaching lead, MQL, customer over the months of `f` (rows
    shaped like rollup_contact_campaigns)."""
    out: dict[str, dict[str, int]] = {role: {} for role in CAMPAIGN_ROLES}
    for role, k, n in ctx.conn.execute(select(r.c.role, r.c.campaign, func.sum(r.c.n))
                                       .where(*months(f, r.c.month), *contact_conditions(f, r))
                                       .group_by(r.c.role, r.c.campaign)):
        if n:
            out[role][k] = int(n)
    return out


def leads_by_month_and_source(ctx: Ctx, f: Filters, none_bucket: str, r=s.rollup_contacts) -> dict[tuple[str, str], int]:
    """{(month 'YYYY-MM', original source): new leads} over the months of `f` (rows shaped like rollup_contacts)."""
    src = func.coalesce(func.nullif(r.c.source, ""), literal(none_bucket))
    rows = ctx.conn.execute(select(r.c.month, src, func.sum(r.c.n))
                            .where(*months(f, r.c.month), r.c.role == "lead", *contact_conditions(f, r))
                            .group_by(r.c.month, src)).all()
    return {(m, k): int(n) for m, k, n in rows if n}


def lead_cohorts_by_source(ctx: Ctx, f: Filters, none_bucket: str, r=s.rollup_contacts) -> dict[str, tuple[int, int, int]]:
    """{original source: (leads, of them reached MQL, reached customer)} over the months of `f`
    (rows shaped like rollup_contacts)."""
    src = func.coalesce(func.nullif(r.c.source, ""), literal(none_bucket))
    rows = ctx.conn.execute(select(src, func.sum(r.c.n), func.sum(r.c.reached_mql), func.sum(r.c.reached_customer))
                            .where(*months(f, r.c.month), r.c.role == "lead", *contact_conditions(f, r))
                            .group_by(src)).all()
    return {k: (int(n), int(m or 0), int(cu or 0)) for k, n, m, cu in rows if n}


def won_by_effective_source(ctx: Ctx, f: Filters, none_bucket: str, r=s.rollup_deals) -> dict[str, tuple[int, float]]:
    """{deal source, else the primary contact's original source: (won deals, won revenue)} over the
    months of `f` (rows shaped like rollup_deals)."""
    src = func.coalesce(r.c.effective_source, literal(none_bucket))
    rows = ctx.conn.execute(select(src, func.sum(r.c.n), func.sum(sql.to_major(ctx, r.c.amount_cents, r.c.currency)))
                            .where(*months(f, r.c.month), *deal_conditions(f, r), sql.is_won(ctx, r))
                            .group_by(src)).all()
    return {k: (int(n), float(v or 0.0)) for k, n, v in rows if n}


def funnel_raw(ctx: Ctx, f: Filters, r=s.rollup_contacts) -> dict[str, dict[str, int]]:
    """{role: {n, reached_<stage>..., followed_up_in_sla}} over the months of `f` (rows shaped like rollup_contacts)."""
    cols = ("n", "reached_mql", "reached_sql", "reached_opportunity", "reached_customer", "followed_up_in_sla")
    rows = ctx.conn.execute(select(r.c.role, *[func.sum(r.c[k]) for k in cols])
                            .where(*months(f, r.c.month), *contact_conditions(f, r))
                            .group_by(r.c.role)).all()
    out = {role: dict.fromkeys(cols, 0) for role in ROLES}
    for role, *values in rows:
        out[role] = {k: int(v or 0) for k, v in zip(cols, values)}
    return out


def invoice_total(ctx: Ctx, f: Filters, basis: str, m=s.rollup_invoice_months) -> float | None:
    """Invoiced revenue ('issued') or cash collected ('paid') over the months of `f`, in the
    reporting currency, from rows shaped like rollup_invoice_months (None when no invoice falls in them)."""
    return ctx.conn.execute(select(func.sum(sql.to_major(ctx, m.c.cents, m.c.currency)))
                            .where(*months(f, m.c.month), m.c.basis == basis)).scalar()


def invoice_accounts(ctx: Ctx, f: Filters) -> int:
    """Customers invoiced (not by a credit note) in the whole months of `f`, from rollup_invoice_accounts."""
    a = s.rollup_invoice_accounts
    first = month_key(f.start)
    return int(ctx.conn.execute(select(func.sum(a.c.n)).where(
        *months(f, a.c.month), or_(a.c.prev_month.is_(None), a.c.prev_month < first))).scalar() or 0)


def invoice_dims_total(ctx: Ctx, f: Filters, basis: str, r=s.rollup_invoice_dims) -> float | None:
    """invoice_total for a deal dimension filter, from rows shaped like rollup_invoice_dims."""
    return ctx.conn.execute(select(func.sum(sql.to_major(ctx, r.c.cents, r.c.currency))).where(
        *months(f, r.c.month), r.c.basis == basis, *deal_conditions(f, r))).scalar()


def invoice_dims_rows(ctx: Ctx, f: Filters, basis: str | None = None):
    """rollup_invoice_dims' rows for the invoices dated in the days of `f` (only those of one
    `basis`, when given: the edge days of one figure read one date column): summed from
    rollup_invoice_dim_days when `f` filters by region or product line only and it is fresh, else
    from the invoices joined to their deals."""
    if not (f.owners or f.teams or f.pipelines or f.sources) and usable(ctx, INVOICE_DIMS):
        r = s.rollup_invoice_dim_days
        none = [literal(None, col.type).label(col.name) for col in s.rollup_invoice_dims.columns
                if col.name in ("owner_id", "pipeline_id", "deal_source")]
        return (select(func.substr(r.c.day, 1, 7).label("month"), r.c.basis, r.c.currency, r.c.region,
                       r.c.product_line, *none, r.c.cents)
                .where(*day_range(f, r.c.day), *([r.c.basis == basis] if basis else []))
                .subquery("invoice_dims_rows"))
    return _invoice_dims_query(ctx, lambda col: [col >= f.start, col <= f.end],
                               bases=(basis,) if basis else ("issued", "paid")).subquery("invoice_dims_rows")


def account_slice(f: Filters) -> tuple[str, str] | None:
    """rollup_invoice_account_days' (dim, value) for the filters of `f`: none, one region or one
    product line (the "(none)" bucket: ''); None for any other filter (no slice holds it)."""
    if f.owners or f.teams or f.pipelines or f.sources or (f.regions and f.product_lines):
        return None
    for dim, values in (("region", f.regions), ("product_line", f.product_lines)):
        if values:
            return (dim, "" if values[0] == NONE_BUCKET else values[0]) if len(values) == 1 and values[0] else None
    return "", ""


def account_slice_usable(ctx: Ctx, f: Filters) -> bool:
    """Whether invoice_accounts_by_day can answer for `f`: a slice it holds, in a fresh summary."""
    sl = account_slice(f)
    return sl is not None and usable(ctx, ACCOUNT_SLICES if sl[0] else INVOICES)


def invoice_accounts_by_day(ctx: Ctx, f: Filters) -> int:
    """Customers invoiced (not by a credit note) in the days of `f`, any days, in its slice
    (`account_slice`, which must not be None), from rollup_invoice_account_days (every invoice)
    or rollup_invoice_account_slices (one region or product line)."""
    dim, value = account_slice(f)
    a = s.rollup_invoice_account_slices if dim else s.rollup_invoice_account_days
    first = f.start.isoformat()
    return int(ctx.conn.execute(select(func.sum(a.c.n)).where(
        a.c.dim == dim, a.c.value == value, a.c.day >= first, a.c.day <= f.end.isoformat(),
        or_(a.c.prev_day.is_(None), a.c.prev_day < first))).scalar() or 0)


def ledger_cents(ctx: Ctx, f: Filters, account_condition, credit_minus_debit: bool, r=s.rollup_ledger_months) -> int:
    """Signed ledger total in cents over the months of `f`, from rows shaped like rollup_ledger_months."""
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


__all__ = ["CAMPAIGN_ROLES", "add_up", "gather", "GROUPS", "INVOICES", "LEDGER", "NAME", "NPS", "ROLES", "SOURCES", "campaign_contacts",
           "campaign_filters_supported", "campaign_revenue", "campaign_won", "closed_raw", "closed_raw_by_owner", "closed_sums",
           "contact_conditions",
           "contact_filters_supported", "deal_conditions", "touched", "fingerprint", "funnel_raw", "invoice_accounts", "invoice_accounts_by_day", "account_slice", "account_slice_usable", "ACCOUNT_SLICES", "invoice_dims_rows", "invoice_dims_total",
           "INVOICE_DIMS",
           "invoice_total", "is_fresh", "lead_cohorts_by_source", "leads_by_month_and_source", "ledger_cents",
           "ledger_months", "month_key", "months", "recent", "recent_from", "recent_start", "split", "state", "status", "usable", "whole_months",
           "won_by_effective_source"]
