"""Recurring revenue: MRR and ARR, the MRR movements, retention (NRR, GRR, churn rates) and cohorts.

Rules (also in catalog/recurring.yaml and definitions.yaml `recurring.source`, shown to users):
- Source (`recurring.source`: auto, invoices or line_items; auto = billing data when any invoice
  has a service period, else the HubSpot line items with recurring billing on won deals):
- Billing data: the invoices with a service period (invoices.service_period_start, _end).
  An invoice counts unless it is a draft or void (rules.NOT_REVENUE_STATUSES, as for invoiced
  revenue); its amount excluding tax, in the reporting currency, credit notes negative.
- Line items (`line_items_query`): a live line item with a known billing frequency
  (BILLING_PERIOD_MONTHS) on a live won deal. HubSpot's line `amount` is what one billing period
  bills (price x quantity less the discount), so its MRR is amount / the period's months (monthly
  x1, quarterly /3, annually /12, weekly x52/12 ...), in the reporting currency. It runs from its
  billing start date (else the deal's close date) for its term in months: the months whose first
  day falls in [start, start + term months). With no term it renews on its own: every month from
  its start through the current month (MRR is not projected past today; the summary is rebuilt
  when the month changes). The customer is the deal's company, else its primary contact.
- A customer is the invoice's company id when present, else its customer name (trimmed,
  case-insensitive); an invoice with neither has no customer and no MRR.
- MRR of a month: each invoice whose service period contains the month's first day contributes
  its amount divided by the period's length in whole months (days / 30.4375 rounded, at least 1:
  a 28-31-day period is 1 month, 365/366 days 12). A period [start, end] contains the days
  start <= day < end (a one-day period, start = end, its one day), so an export writing the end
  as the next period's first day (Stripe) and one writing the last day both count each month once.
  A customer's MRR is the sum over its invoices, counted while positive.
- MRR is a stock that changes on the first of a month: the MRR "on" a day is its month's. The
  movements of a period [F, T] are the changes on the month firsts in it, per customer against
  the previous month: new (0 -> positive, never before), reactivation (0 -> positive, had MRR
  before), expansion, contraction (down, still positive), churn (positive -> 0); so
  MRR(T's month) = MRR(the month of F - 1 day) + new + expansion + reactivation - contraction - churn.
- Region and product line are those of the invoice's (the line's) deal (metrics.dimensions rules);
  an invoice with no deal is in the "(none)" segment. Other dimension filters are not available.

The per-(month, customer, region, product line) summary `rollup_mrr` is built from the source
(`refresh`, called with the other rollups' refresh); every figure is SQL over it while it is
fresh, else over the builder's own query on the base tables (same rows, slower, never different).
The same refresh folds rollup_mrr into small summaries (`Fold`), per slice (every
customer's total, by region, by product line, by both: a customer's movement is decided on its MRR
in the slice filtered on, as over rollup_mrr): rollup_mrr_moves (per month: the MRR stock and each
movement's customers and amount, churns with the customer's previous churn month so distinct
churned customers add up) and rollup_mrr_retention (per starting month and 1-12 months later:
what the starting customers kept, and capped), rollup_mrr_cohorts (per first month with MRR and
months since: customers still there and their MRR) and rollup_mrr_movers (each churn and
contraction by customer and month). With no filter or one region and / or one product line, MRR,
the movements, the churn rates, NRR / GRR (periods up to 12 months after their starting month),
LTV's measured churn, the cohort table and the churned / contracted customers are read from a few
of their rows (the customers' names through rollup_mrr's customer index); other filters and
longer spans read rollup_mrr. The build reads rollup_mrr's rows in customer order and folds one
customer at a time, spooling the rows to a temporary file: its memory is the summaries and a batch.
"""
from __future__ import annotations

import datetime as dt
import pickle
import tempfile
import time
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import (Connection, Date, Engine, Float, Integer, String, and_, case, cast, delete, extract, func,
                        literal, literal_column, not_, or_, select, union_all)

from store import schema as s
from store.db import changed_since, get_meta, upsert, utcnow

from . import dimensions, rules, sql
from .definitions import Definitions, load_definitions
from .filters import NONE_BUCKET, Filters
from .registry import Ctx, NotAvailable, Result, computes
from .rollups import fingerprint
from .rules import NOT_REVENUE_STATUSES, signed_net_cents

GROUP = "mrr_summary"
SOURCES = ("invoices", "deals", "companies", "contacts", "owners", "line_items", "products")
R = s.rollup_mrr
M = s.rollup_mrr_moves
RET = s.rollup_mrr_retention
COHORTS = s.rollup_mrr_cohorts
MOVERS = s.rollup_mrr_movers
RETENTION_MONTHS = 12  # rollup_mrr_retention's pairs of months: up to a year apart
EPS = 0.005  # below half a cent a customer has no MRR (float sums of credit notes)
_BATCH = 5_000  # rows per read and per insert when building the summaries
MAX_MONTH_IDX = 10_000 * 12  # after any month
MAX_MONTHS = 1200  # service periods are expanded month by month: a century at most
DAYS_PER_MONTH = 30.4375
NO_SERVICE_PERIODS = ("no invoice carries a service period and no won deal has a line item with recurring billing; "
                      "import invoices with 'service period start' and 'service period end' columns (Stripe: Period "
                      "Start/End (UTC)) on the Data page, or sync HubSpot deals whose line items bill monthly, "
                      "quarterly, annually ...")
# Months of one billing period, by HubSpot's line-item property recurringbillingfrequency.
BILLING_PERIOD_MONTHS = {"weekly": 12 / 52, "biweekly": 12 / 26, "monthly": 1.0, "quarterly": 3.0,
                         "per_six_months": 6.0, "annually": 12.0, "per_two_years": 24.0, "per_three_years": 36.0,
                         "per_four_years": 48.0, "per_five_years": 60.0}
SOURCE_LABELS = {"invoices": "billing data (invoices with a service period)",
                 "line_items": "HubSpot line items with recurring billing on won deals"}
UNFILTERABLE = ("recurring revenue follows region and product line (the invoice's deal) only; remove the owner, "
                "team, pipeline and source filters")
MOVEMENTS = ("new", "expansion", "reactivation", "contraction", "churn")
MOVEMENT_METRICS = {"new": "new_mrr", "expansion": "expansion_mrr", "reactivation": "reactivation_mrr",
                    "contraction": "contraction_mrr", "churn": "churned_mrr"}
MIN_MONTHS_FOR_MEASURED_CHURN = 6


# --- months ----------------------------------------------------------------------------------

def month_idx(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def first_day(idx: int) -> dt.date:
    return dt.date(idx // 12, idx % 12 + 1, 1)


def period_months(f: Filters) -> tuple[int, int, int]:
    """(the month before the period: its starting MRR, the first and last month whose first day
    is in [start, end]: its movements). Last < first when no month begins in the period."""
    start_month = month_idx(f.start - dt.timedelta(days=1))
    return start_month, start_month + 1, month_idx(f.end)


def service_months(ctx: Ctx, start_col, end_col):
    """A service period's length in whole months: days / 30.4375 rounded, at least 1."""
    n = func.round(sql.days_between(ctx, start_col, end_col) / DAYS_PER_MONTH)
    return case((n < 1, literal(1.0, Float)), else_=n)


def customer_key(i=s.invoices):
    """'c:<company id>', else 'n:<customer name, trimmed, lower case>'; NULL without either."""
    has_company = and_(i.c.company_id.isnot(None), func.trim(i.c.company_id) != "")
    named = and_(i.c.customer_name.isnot(None), func.trim(i.c.customer_name) != "")
    return case((has_company, literal("c:", String) + func.trim(i.c.company_id)),
                (named, literal("n:", String) + func.lower(func.trim(i.c.customer_name))), else_=None)


# --- the summary: builder query, freshness, refresh --------------------------------------------

def _month_span(conn: Connection) -> tuple[int, int] | None:
    i = s.invoices
    lo, hi = conn.execute(select(func.min(i.c.service_period_start), func.max(i.c.service_period_end))
                          .where(i.c.service_period_start.isnot(None), i.c.service_period_end.isnot(None),
                                 i.c.status.notin_(NOT_REVENUE_STATUSES))).one()
    if lo is None:
        return None
    lo, hi = _as_date(lo), _as_date(hi)
    return month_idx(lo), min(month_idx(hi), month_idx(lo) + MAX_MONTHS)


def _as_date(v) -> dt.date:
    return v if isinstance(v, dt.date) else dt.date.fromisoformat(str(v)[:10])


def _months_cte(ctx: Ctx, lo: int, hi: int):
    """(month_idx, first_day) of the months lo..hi, as a recursive CTE (no table of months needed)."""
    seed = select(literal(lo, Integer).label("month_idx"), literal(first_day(lo), Date).label("first_day"))
    months = seed.cte("mrr_months", recursive=True)
    if ctx.conn.dialect.name == "sqlite":
        following = func.date(months.c.first_day, "+1 month")
    else:
        following = cast(months.c.first_day + literal_column("interval '1 month'"), Date)
    return months.union_all(select(months.c.month_idx + 1, following).where(months.c.month_idx < hi))


def source_setting(defs: Definitions) -> str:
    """The shared definition `recurring.source` (auto when absent)."""
    return str((defs.raw.get("recurring") or {}).get("source") or "auto")


def source_in_use(ctx: Ctx) -> str | None:
    """Where MRR comes from: "invoices", "line_items", or None (neither has recurring data)."""
    key = "mrr_source_in_use"
    if key not in ctx.cache:
        setting = source_setting(ctx.defs)
        use = None
        if setting in ("auto", "invoices") and _month_span(ctx.conn) is not None:
            use = "invoices"
        elif setting in ("auto", "line_items") and _line_span(ctx) is not None:
            use = "line_items"
        ctx.cache[key] = use
    return ctx.cache[key]


def summary_query(ctx: Ctx, customers=None):
    """rollup_mrr's rows from the source in use (None when it has no recurring data); with
    `customers` (a SELECT of customer keys), those customers' rows only."""
    source = source_in_use(ctx)
    if source == "line_items":
        return line_items_query(ctx, customers)
    span = _month_span(ctx.conn) if source == "invoices" else None
    if span is None:
        return None
    i, d = s.invoices, s.deals
    months = _months_cte(ctx, *span)
    live_deal = and_(d.c.deal_id == i.c.deal_id, not_(d.c.is_deleted))
    amount = sql.to_major(ctx, signed_net_cents(), i.c.currency) / service_months(
        ctx, i.c.service_period_start, i.c.service_period_end)
    lines = (select(months.c.month_idx, customer_key().label("customer"),
                    func.trim(i.c.customer_name).label("customer_name"),
                    dimensions.deal_region(ctx, d).label("region"), dimensions.deal_product_line(ctx, d).label("product_line"),
                    amount.label("mrr"))
             .select_from(i.join(months, and_(months.c.first_day >= i.c.service_period_start,
                                              or_(months.c.first_day < i.c.service_period_end,
                                                  months.c.first_day == i.c.service_period_start)))
                          .outerjoin(d, live_deal))
             .where(i.c.service_period_start.isnot(None), i.c.service_period_end.isnot(None),
                    i.c.status.notin_(NOT_REVENUE_STATUSES),
                    *([] if customers is None else [i.c.invoice_id.in_(_invoices_of(customers))]))
             .subquery("mrr_lines"))
    return (select(lines.c.month_idx, lines.c.customer, func.max(lines.c.customer_name).label("customer_name"),
                   lines.c.region, lines.c.product_line, func.sum(lines.c.mrr).label("mrr"))
            .where(lines.c.customer.isnot(None), lines.c.mrr.isnot(None))
            .group_by(lines.c.month_idx, lines.c.customer, lines.c.region, lines.c.product_line))


def _invoices_of(customers):
    """The ids of the invoices of `customers` (a SELECT of customer keys), found in one pass, so
    that only those invoices are spread over their months."""
    own = s.invoices.alias("of_customers")
    return select(own.c.invoice_id).where(customer_key(own).in_(customers))


def _recurring_lines(ctx: Ctx):
    """(line item, deal, its first month, its term) of the live lines with a known billing
    frequency on live won deals, as a subquery; the first month is that of the billing start
    (else the deal's close date) when it starts on the 1st, else the next one."""
    li, d = s.line_items, s.deals
    start = func.coalesce(li.c.billing_start_date, d.c.close_date)
    idx = cast(extract("year", start), Integer) * 12 + cast(extract("month", start), Integer) - 1
    first = idx + case((cast(extract("day", start), Integer) == 1, literal(0, Integer)), else_=literal(1, Integer))
    return (select(li.c.line_item_id, li.c.deal_id, first.label("first_idx"), li.c.term_months)
            .select_from(li.join(d, d.c.deal_id == li.c.deal_id))
            .where(not_(li.c.is_deleted), not_(d.c.is_deleted), sql.is_won(ctx, d),
                   li.c.billing_frequency.in_(list(BILLING_PERIOD_MONTHS)), start.isnot(None))
            .subquery("recurring_lines"))


def _line_span(ctx: Ctx) -> tuple[int, int] | None:
    """The months of the recurring line items: from the first start to the last term's end, or to
    the current month when a line has no term (None without any line)."""
    lines = _recurring_lines(ctx)
    lo, hi, open_ended = ctx.conn.execute(select(
        func.min(lines.c.first_idx), func.max(lines.c.first_idx + lines.c.term_months - 1),
        func.count(case((lines.c.term_months.is_(None), 1), else_=None)))).one()
    if lo is None:
        return None
    lo = int(lo)
    ends = [int(hi)] if hi is not None else []
    if open_ended:
        ends.append(month_idx(rules.today(ctx)))
    return lo, min(max([lo, *ends]), lo + MAX_MONTHS)


def line_items_query(ctx: Ctx, customers=None):
    """rollup_mrr's rows from the line items with recurring billing on won deals (the rules above);
    with `customers` (a SELECT of customer keys), those customers' rows only."""
    span = _line_span(ctx)
    if span is None:
        return None
    li, d, co, ct = s.line_items, s.deals, s.companies, s.contacts
    lines = _recurring_lines(ctx)
    months = _months_cte(ctx, *span)
    has_company = and_(d.c.company_id.isnot(None), func.trim(d.c.company_id) != "")
    has_contact = and_(d.c.contact_id.isnot(None), func.trim(d.c.contact_id) != "")
    customer = case((has_company, literal("c:", String) + func.trim(d.c.company_id)),
                    (has_contact, literal("p:", String) + func.trim(d.c.contact_id)), else_=None)
    person = func.nullif(func.trim(func.coalesce(ct.c.first_name, "") + literal(" ", String)
                                   + func.coalesce(ct.c.last_name, "")), "")
    name = case((has_company, func.coalesce(co.c.name, d.c.company_id)),
                else_=func.coalesce(person, ct.c.email, d.c.contact_id))
    per_month = case(*[(li.c.billing_frequency == k, literal(v, Float)) for k, v in BILLING_PERIOD_MONTHS.items()],
                     else_=None)
    cents = func.coalesce(li.c.amount_cents, li.c.price_cents * li.c.quantity)
    rows = (select(months.c.month_idx, customer.label("customer"), name.label("customer_name"),
                   dimensions.deal_region(ctx, d).label("region"), dimensions.deal_product_line(ctx, d).label("product_line"),
                   (sql.to_major(ctx, cents, li.c.currency) / per_month).label("mrr"))
            .select_from(lines.join(li, li.c.line_item_id == lines.c.line_item_id)
                         .join(d, d.c.deal_id == lines.c.deal_id)
                         .join(months, and_(months.c.month_idx >= lines.c.first_idx,
                                            or_(lines.c.term_months.is_(None),
                                                months.c.month_idx < lines.c.first_idx + lines.c.term_months)))
                         .outerjoin(co, co.c.company_id == d.c.company_id)
                         .outerjoin(ct, ct.c.contact_id == d.c.contact_id))
            .where(*([] if customers is None else [customer.in_(customers)]))
            .subquery("mrr_line_items"))
    return (select(rows.c.month_idx, rows.c.customer, func.max(rows.c.customer_name).label("customer_name"),
                   rows.c.region, rows.c.product_line, func.sum(rows.c.mrr).label("mrr"))
            .where(rows.c.customer.isnot(None), rows.c.mrr.isnot(None))
            .group_by(rows.c.month_idx, rows.c.customer, rows.c.region, rows.c.product_line))


SLICES = ((0, False, False), (1, True, False), (2, False, True), (3, True, True))  # (slice, by region, by product line)


class Fold:
    """rollup_mrr_moves', rollup_mrr_retention's, rollup_mrr_cohorts' and rollup_mrr_movers' rows
    from rollup_mrr's, fed one customer at a time (`add`: all of a customer's rows), so the rows
    themselves need not be held: per slice (0: each customer's total, 1: by region, 2: by
    product line, 3: by both; region / product line "" for none, NULL or empty, or for any at a
    level that does not split by it), each customer's MRR in a month summed in the slice and
    counted while above EPS, exactly as the readers over rollup_mrr take it (`_customer_months`).
    Per slice and month: the stock ("mrr"), each customer's change against the month before (new,
    reactivation, expansion, contraction) and churn (the month after its last month with MRR, with
    its previous churn month, -1 if none), counted and summed; per starting month and months later
    (1 to RETENTION_MONTHS) the MRR then of the customers with MRR in both months, and the same
    capped at their start; per first month with MRR and months since, the customers still with
    MRR and their MRR; and each churn and contraction by customer."""

    def __init__(self) -> None:
        self.moves: dict[tuple, list] = {}
        self.kept: dict[tuple, list] = {}
        self.cohort: dict[tuple, list] = {}
        self.movers: list[dict] = []

    @staticmethod
    def _count(acc: dict, key: tuple, a: float, b: float = 0.0) -> None:
        cell = acc.get(key)
        if cell is None:
            acc[key] = [1, a, b]
        else:
            cell[0] += 1
            cell[1] += a
            cell[2] += b

    def _moved(self, seg: tuple, customer: str, m: int, kind: str, before: float, after: float) -> None:
        self.movers.append({"slice": seg[0], "region": seg[1], "product_line": seg[2], "month_idx": m,
                            "customer": customer, "kind": kind, "mrr_before": before, "mrr_after": after})

    def _fold(self, seg: tuple, customer: str, live: list[tuple[int, float]]) -> None:
        add, moves, kept = self._count, self.moves, self.kept
        at = dict(live)
        last_churn = -1
        first = live[0][0]
        for i, (m, v) in enumerate(live):
            add(moves, (*seg, m, "mrr", -1), v)
            add(self.cohort, (*seg, first, m - first), v)
            if i == 0:
                add(moves, (*seg, m, "new", -1), v)
            else:
                pm, pv = live[i - 1]
                if pm < m - 1:
                    add(moves, (*seg, m, "reactivation", -1), v)
                elif v > pv:
                    add(moves, (*seg, m, "expansion", -1), v - pv)
                elif v < pv:
                    add(moves, (*seg, m, "contraction", -1), pv - v)
                    self._moved(seg, customer, m, "contraction", pv, v)
            if i == len(live) - 1 or live[i + 1][0] != m + 1:
                add(moves, (*seg, m + 1, "churn", last_churn), v)
                self._moved(seg, customer, m + 1, "churn", v, 0.0)
                last_churn = m + 1
            for k in range(1, RETENTION_MONTHS + 1):
                w = at.get(m + k)
                if w is not None:
                    add(kept, (*seg, m, k), w, w if w < v else v)

    def add(self, customer: str, rows: list[dict]) -> None:
        """Every rollup_mrr row of one customer."""
        for level, by_region, by_line in SLICES:
            series: dict[tuple, dict[int, float]] = {}
            for row in rows:
                key = (row["region"] or "" if by_region else "", row["product_line"] or "" if by_line else "")
                months = series.setdefault(key, {})
                m = int(row["month_idx"])
                months[m] = months.get(m, 0.0) + float(row["mrr"])
            for (region, line), months in series.items():
                live = sorted((m, v) for m, v in months.items() if v > EPS)
                if live:
                    self._fold((level, region, line), customer, live)

    def tables(self) -> dict:
        """{summary table: its rows}."""
        return {
            M: [{"slice": k[0], "region": k[1], "product_line": k[2], "month_idx": k[3], "kind": k[4],
                 "prev_churn": k[5], "customers": c[0], "mrr": c[1]} for k, c in self.moves.items()],
            RET: [{"slice": k[0], "region": k[1], "product_line": k[2], "month_idx": k[3], "months": k[4],
                   "kept": c[1], "kept_capped": c[2]} for k, c in self.kept.items()],
            COHORTS: [{"slice": k[0], "region": k[1], "product_line": k[2], "first_idx": k[3], "months_since": k[4],
                       "customers": c[0], "mrr": c[1]} for k, c in self.cohort.items()],
            MOVERS: self.movers,
        }



def state(conn: Connection) -> dict | None:
    row = conn.execute(select(s.rollup_state).where(s.rollup_state.c.name == GROUP)).mappings().first()
    return dict(row) if row else None


def is_fresh(conn: Connection, defs: Definitions) -> bool:
    st = state(conn)
    return (st is not None and st["built_version"] >= 0 and st["defs_fingerprint"] == fingerprint(defs)
            and not changed_since(conn, int(st["built_version"]), SOURCES)
            and _built_this_month(st["built_at"]))


def _built_this_month(built_at) -> bool:
    """Line items without a term count up to the current month: a summary built in an earlier
    month is stale."""
    return built_at is not None and month_idx(_as_date(built_at)) == month_idx(utcnow().date())


def usable(ctx: Ctx) -> bool:
    if ctx.cache.get("use_rollups") is False:
        return False
    key = ("rollups_fresh", GROUP)
    if key not in ctx.cache:
        ctx.cache[key] = is_fresh(ctx.conn, ctx.defs)
    return bool(ctx.cache[key])


@dataclass(frozen=True)
class Built:
    rows: int
    seconds: float
    version: int


def refresh(engine: Engine, force: bool = False) -> Built | None:
    """Rebuild rollup_mrr and its summaries (rollup_mrr_moves, _retention, _cohorts, _movers: `Fold`,
    from the rows read) when stale (always with `force`): read first, then one short write."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as spool:
        with engine.connect() as conn:
            defs = load_definitions(conn)
            if not force and is_fresh(conn, defs):
                return None
            version = int(get_meta(conn, "data_version", "0"))
            query = summary_query(Ctx(conn, defs))
            # read in customer order, one customer's rows folded at a time, the rows spooled to a
            # temporary file for the write: memory holds the (small) summaries and one batch, and
            # the long read holds no write lock
            fold, n = Fold(), 0
            if query is not None:
                q = query.subquery("mrr_rows")
                names = [c.name for c in R.columns]
                result = conn.execute(select(*[q.c[k] for k in names]).order_by(q.c.customer),
                                      execution_options={"stream_results": True, "yield_per": _BATCH})
                customer, its = None, []
                for part in result.partitions(_BATCH):
                    batch = [dict(zip(names, r)) for r in part]
                    pickle.dump(batch, spool, protocol=pickle.HIGHEST_PROTOCOL)
                    n += len(batch)
                    for row in batch:
                        if row["customer"] != customer:
                            if its:
                                fold.add(customer, its)
                            customer, its = row["customer"], []
                        its.append(row)
                if its:
                    fold.add(customer, its)
            conn.rollback()
        spool.seek(0)
        with engine.begin() as conn:
            for table in (R, M, RET, COHORTS, MOVERS):
                conn.execute(delete(table))
            left = n
            while left > 0:
                batch = pickle.load(spool)  # our own file, written above
                conn.execute(R.insert(), batch)
                left -= len(batch)
            for table, summary in fold.tables().items():
                for k in range(0, len(summary), _BATCH):
                    conn.execute(table.insert(), summary[k:k + _BATCH])
            seconds = time.perf_counter() - t0
            upsert(conn, s.rollup_state, [{"name": GROUP, "built_version": version,
                                           "defs_fingerprint": fingerprint(defs), "built_at": utcnow(),
                                           "rows": n, "seconds": round(seconds, 3)}], ["name"])
    return Built(n, seconds, version)


def customers_of(deal_ids, invoice_where=(), deals_too: bool = True) -> list:
    """SELECTs of the customer keys (both sources' rules; the invoices' only without `deals_too`)
    of the deals `deal_ids` (a SELECT of deal ids) and of the invoices `invoice_where` selects:
    the customers whose rollup_mrr rows a change to those rows can move."""
    i, d = s.invoices, s.deals
    has_company = and_(d.c.company_id.isnot(None), func.trim(d.c.company_id) != "")
    has_contact = and_(d.c.contact_id.isnot(None), func.trim(d.c.contact_id) != "")
    of_deal = case((has_company, literal("c:", String) + func.trim(d.c.company_id)),
                   (has_contact, literal("p:", String) + func.trim(d.c.contact_id)), else_=None)
    out = [select(customer_key()).where(i.c.deal_id.in_(deal_ids))]
    if deals_too:  # the line items' customers (the deal's company, else its contact)
        out.append(select(of_deal).where(d.c.deal_id.in_(deal_ids)))
    if invoice_where:
        out.append(select(customer_key()).where(*invoice_where))
    return out


def _folded(rows: list[dict]) -> dict:
    """The summary tables' rows (`Fold`) of rollup_mrr rows in any order."""
    by_customer: dict[str, list[dict]] = {}
    for row in rows:
        by_customer.setdefault(row["customer"], []).append(row)
    fold = Fold()
    for customer, its in by_customer.items():
        fold.add(customer, its)
    return fold.tables()


def replace_customers(conn: Connection, ctx: Ctx, customers, before: list[dict]) -> int:
    """Inside a write transaction that changed the source rows of `customers` (a SELECT of their
    keys, over rows the write left alone): rollup_mrr's rows of those customers summed again,
    and the summaries corrected by what those customers' old rows (`before`, read before the
    write) and new rows give (`Fold` adds up customer by customer: rows of opposite sign,
    customers counted negative; the churned / contracted customers' rows replaced). Returns the rows rewritten. The summary stays exact at the
    transaction's data (meeting.snapshots rewinds the store this way)."""
    query = summary_query(ctx, customers)
    names = [c.name for c in R.columns]
    after = [dict(zip(names, r)) for r in conn.execute(query)] if query is not None else []
    conn.execute(delete(R).where(R.c.customer.in_(customers)))
    for k in range(0, len(after), 5000):
        conn.execute(R.insert(), after[k:k + 5000])
    def by_customer(rows: list[dict]) -> dict[str, list]:
        out: dict[str, list] = {}
        for r in rows:
            out.setdefault(r["customer"], []).append(tuple(r[n] for n in names))
        return {k: sorted(v, key=repr) for k, v in out.items()}
    was, now = by_customer(before), by_customer(after)
    moved = {k for k in was.keys() | now.keys() if was.get(k) != now.get(k)}  # the others' summaries stand
    old = _folded([r for r in before if r["customer"] in moved])
    new = _folded([r for r in after if r["customer"] in moved])
    for table, sums in ((M, ("customers", "mrr")), (RET, ("kept", "kept_capped")), (COHORTS, ("customers", "mrr"))):
        for row in old[table]:
            for col in sums:
                row[col] = -row[col]
        rows = old[table] + new[table]
        for k in range(0, len(rows), 5000):
            conn.execute(table.insert(), rows[k:k + 5000])
    # the churned and contracted customers are rows by customer, not sums: those customers' are replaced
    gone = sorted(moved)
    for k in range(0, len(gone), 5000):  # no index by customer: each statement reads the table
        conn.execute(delete(MOVERS).where(MOVERS.c.customer.in_(gone[k:k + 5000])))
    for k in range(0, len(new[MOVERS]), 5000):
        conn.execute(MOVERS.insert(), new[MOVERS][k:k + 5000])
    return len(after)


def customer_rows(conn: Connection, customers) -> list[dict]:
    """rollup_mrr's rows of `customers` (a SELECT of their keys)."""
    return [dict(r) for r in conn.execute(select(R).where(R.c.customer.in_(customers))).mappings()]


# --- reading -----------------------------------------------------------------------------------

def _source(ctx: Ctx):
    """rollup_mrr while fresh, else the same rows from the source in use (None: no recurring data)."""
    if "mrr_source" not in ctx.cache:
        if usable(ctx):  # an empty summary may mean no source at all (NotAvailable), as the base tables say
            empty = ctx.conn.execute(select(R.c.month_idx).limit(1)).first() is None
            ctx.cache["mrr_source"] = None if empty and source_in_use(ctx) is None else R
        else:
            q = summary_query(ctx)
            ctx.cache["mrr_source"] = None if q is None else q.subquery("mrr_rows")
    return ctx.cache["mrr_source"]


def unfilterable(f: Filters) -> str | None:
    return UNFILTERABLE if (f.owners or f.teams or f.pipelines or f.sources) else None


def _customer_months(ctx: Ctx, f: Filters, r, upto: int, since: int | None = None, name: str = "cm",
                     customers=None):
    """(month_idx, customer, mrr, name) of every customer (of `customers`, a subquery, if given) with
    MRR in a month of [since, upto], in the slice."""
    conds = dimensions.conditions(f, region=r.c.region, product_line=r.c.product_line)
    if since is not None:
        conds.append(r.c.month_idx >= since)
    if customers is not None:
        conds.append(r.c.customer.in_(customers))
    return (select(r.c.month_idx, r.c.customer, func.sum(r.c.mrr).label("mrr"),
                   func.max(r.c.customer_name).label("name"))
            .where(r.c.month_idx <= upto, *conds).group_by(r.c.month_idx, r.c.customer)
            .having(func.sum(r.c.mrr) > EPS).cte(name))


def _names(ctx: Ctx, f: Filters, r, customers):
    """(customer, name) of `customers` (a select of customer keys): the greatest name over their
    months with MRR in the slice, whatever the period, read through rollup_mrr's customer index."""
    cm = _customer_months(ctx, f, r, MAX_MONTH_IDX, name="named", customers=customers)
    return select(cm.c.customer, func.max(cm.c.name).label("name")).group_by(cm.c.customer).subquery("names")


def _check(ctx: Ctx, f: Filters):
    """The summary source, or why there is no figure."""
    reason = unfilterable(f)
    if reason:
        return NotAvailable(reason)
    r = _source(ctx)
    if r is None:
        return NotAvailable(NO_SERVICE_PERIODS)
    return r


def _changes(cm, lo: int, hi: int, history=None):
    """Per (month, customer) in [lo, hi]: MRR this month (cur), last month (prev), first month with MRR
    (from `history`, every month up to hi, when `cm` holds only [lo - 1, hi])."""
    history = cm if history is None else history
    pairs = union_all(
        select(cm.c.month_idx.label("idx"), cm.c.customer, cm.c.mrr.label("cur"), literal(0.0, Float).label("prev")),
        select((cm.c.month_idx + 1).label("idx"), cm.c.customer, literal(0.0, Float).label("cur"), cm.c.mrr.label("prev")),
    ).subquery("pairs")
    per = (select(pairs.c.idx, pairs.c.customer, func.sum(pairs.c.cur).label("cur"), func.sum(pairs.c.prev).label("prev"))
           .where(pairs.c.idx >= lo, pairs.c.idx <= hi).group_by(pairs.c.idx, pairs.c.customer).subquery("per"))
    firsts = (select(history.c.customer, func.min(history.c.month_idx).label("first"))
              .group_by(history.c.customer).subquery("firsts"))
    return per, firsts


def _history(ctx: Ctx, f: Filters, r, cm, lo: int, hi: int):
    """Every month with MRR up to `hi` of the customers that start a month of [lo, hi] without MRR
    the month before (new or reactivated: their first month tells which); read through the
    summary's (customer, month) index, not the whole summary."""
    # a superset is fine: every customer of the window without MRR in each of its months
    starting = select(cm.c.customer).group_by(cm.c.customer).having(func.count() < hi - lo + 2)
    return _customer_months(ctx, f, r, hi, name="history", customers=starting)


def _kind(per, firsts):
    """The movement kind of a (month, customer) change, as SQL."""
    return case((and_(per.c.prev <= 0, per.c.cur > 0, firsts.c.first == per.c.idx), literal("new")),
                (and_(per.c.prev <= 0, per.c.cur > 0), literal("reactivation")),
                (and_(per.c.prev > 0, per.c.cur <= 0), literal("churn")),
                (and_(per.c.prev > 0, per.c.cur > per.c.prev), literal("expansion")),
                (and_(per.c.prev > 0, per.c.cur < per.c.prev), literal("contraction")), else_=None)


def _movement_sums(ctx: Ctx, f: Filters, lo: int, hi: int, by_month: bool = False) -> dict:
    """{kind: MRR moved} over the months [lo, hi] (by_month: {month_idx: {kind: ...}}), plus
    "churned_customers" (distinct customers with a churn) and "starts" (the sum of each month's
    previous-month MRR)."""
    r = _source(ctx)
    cm = _customer_months(ctx, f, r, hi, since=lo - 1)
    per, firsts = _changes(cm, lo, hi, _history(ctx, f, r, cm, lo, hi))
    kind = _kind(per, firsts)
    amount = func.abs(per.c.cur - per.c.prev)
    cols = [func.coalesce(func.sum(case((kind == k, amount), else_=0.0)), 0.0).label(k) for k in MOVEMENTS]
    cols.append(func.count(func.distinct(case((kind == "churn", per.c.customer), else_=None))).label("churned_customers"))
    cols.append(func.coalesce(func.sum(per.c.prev), 0.0).label("starts"))
    query = select(*cols).select_from(per.outerjoin(firsts, firsts.c.customer == per.c.customer))
    if by_month:
        query = query.add_columns(per.c.idx).group_by(per.c.idx)
        return {row["idx"]: dict(row) for row in ctx.conn.execute(query).mappings()}
    return dict(ctx.conn.execute(query).mappings().one())


def _slice(f: Filters) -> tuple[int, str, str] | None:
    """rollup_mrr_moves' (slice, region, product line) for the region / product line filter of `f`;
    None for a filter on two values or more of one (read from rollup_mrr instead)."""
    keys = []
    for values in (f.regions, f.product_lines):
        if len(values) > 1 or (values and values[0] == ""):
            return None
        keys.append("" if not values or values[0] == NONE_BUCKET else values[0])
    return (1 if f.regions else 0) + (2 if f.product_lines else 0), keys[0], keys[1]


def _moves(ctx: Ctx, f: Filters) -> list | None:
    """The conditions picking f's slice of rollup_mrr_moves while the summaries are fresh and it
    carries that slice, else None (the figures are then read from rollup_mrr or the invoices)."""
    sl = _slice(f)
    if sl is None or not usable(ctx):
        return None
    return _slice_conds(M, sl)


def _slice_conds(table, sl: tuple[int, str, str]) -> list:
    return [table.c.slice == sl[0], table.c.region == sl[1], table.c.product_line == sl[2]]


def _moves_sums(ctx: Ctx, conds: list, lo: int, hi: int, by_month: bool = False) -> dict:
    """_movement_sums from rollup_mrr_moves: a few rows per month."""
    zero = {**{k: 0.0 for k in MOVEMENTS}, "churned_customers": 0, "starts": 0.0}
    per: dict[int, dict] = {}
    rows = ctx.conn.execute(
        select(M.c.month_idx, M.c.kind, func.sum(M.c.mrr), func.sum(M.c.customers),
               func.sum(case((M.c.prev_churn < lo, M.c.customers), else_=0)))
        .where(*conds, M.c.month_idx >= lo - 1, M.c.month_idx <= hi).group_by(M.c.month_idx, M.c.kind)).all()
    for idx, kind, mrr, customers, first_churns in rows:
        if kind == "mrr":
            if lo <= idx + 1 <= hi:
                per.setdefault(idx + 1, dict(zero))["starts"] += float(mrr)
        elif lo <= idx and kind in MOVEMENTS:
            b = per.setdefault(idx, dict(zero))
            b[kind] += float(mrr)
            if kind == "churn":  # distinct over the period: a customer's first churn in it
                b["churned_customers"] += int(customers if by_month else first_churns)
    if by_month:
        return per
    total = dict(zero)
    for b in per.values():
        for k, v in b.items():
            total[k] += v
    return total


def _losses(ctx: Ctx, f: Filters, lo: int, hi: int) -> tuple[float, float]:
    """(churned + contraction MRR, the sum of each month's previous-month MRR) over the months
    [lo, hi]: what the revenue churn rate needs, without telling new from reactivated customers."""
    conds = _moves(ctx, f)
    if conds is not None:
        m = _moves_sums(ctx, conds, lo, hi)
        return m["churn"] + m["contraction"], m["starts"]
    cm = _customer_months(ctx, f, _source(ctx), hi, since=lo - 1)
    per, _firsts = _changes(cm, lo, hi)
    lost = func.sum(case((per.c.prev > per.c.cur, per.c.prev - per.c.cur), else_=0.0))
    losses, starts = ctx.conn.execute(select(func.coalesce(lost, 0.0), func.coalesce(func.sum(per.c.prev), 0.0))).one()
    return float(losses), float(starts)


def movements(ctx: Ctx, f: Filters) -> dict:
    key = ("mrr_movements", f)
    if key not in ctx.cache:
        _, lo, hi = period_months(f)
        conds = _moves(ctx, f)
        ctx.cache[key] = _movement_sums(ctx, f, lo, hi) if conds is None else _moves_sums(ctx, conds, lo, hi)
    return ctx.cache[key]


def mrr_at(ctx: Ctx, f: Filters, idx: int) -> float:
    key = ("mrr_at", f.regions, f.product_lines, idx)
    if key not in ctx.cache:
        conds = _moves(ctx, f)
        if conds is not None:
            ctx.cache[key] = float(ctx.conn.execute(select(func.coalesce(func.sum(M.c.mrr), 0.0))
                                                    .where(*conds, M.c.kind == "mrr", M.c.month_idx == idx)).scalar_one())
            return ctx.cache[key]
        cm = _customer_months(ctx, f, _source(ctx), idx, since=idx)
        ctx.cache[key] = float(ctx.conn.execute(select(func.coalesce(func.sum(cm.c.mrr), 0.0))).scalar_one())
    return ctx.cache[key]


def retention(ctx: Ctx, f: Filters) -> tuple[float, float, float, int]:
    """(starting MRR, its customers' MRR in the last month, the same capped at the start, customers at the start)."""
    key = ("mrr_retention", f)
    if key not in ctx.cache:
        start, _, end = period_months(f)
        end = max(end, start)
        conds = _moves(ctx, f)
        if conds is not None and end - start <= RETENTION_MONTHS:
            ctx.cache[key] = _retention_summary(ctx, f, start, end)
            return ctx.cache[key]
        cm = _customer_months(ctx, f, _source(ctx), end, since=start)
        pair = (select(cm.c.customer,
                       func.sum(case((cm.c.month_idx == start, cm.c.mrr), else_=0.0)).label("a"),
                       func.sum(case((cm.c.month_idx == end, cm.c.mrr), else_=0.0)).label("b"))
                .where(cm.c.month_idx.in_([start, end])).group_by(cm.c.customer)
                .having(func.sum(case((cm.c.month_idx == start, cm.c.mrr), else_=0.0)) > 0).subquery("pair"))
        row = ctx.conn.execute(select(func.coalesce(func.sum(pair.c.a), 0.0), func.coalesce(func.sum(pair.c.b), 0.0),
                                      func.coalesce(func.sum(case((pair.c.b < pair.c.a, pair.c.b), else_=pair.c.a)), 0.0),
                                      func.count(pair.c.customer))).one()
        ctx.cache[key] = (float(row[0]), float(row[1]), float(row[2]), int(row[3]))
    return ctx.cache[key]


def _retention_summary(ctx: Ctx, f: Filters, start: int, end: int) -> tuple[float, float, float, int]:
    """retention() from the summaries: the start's MRR and customers (rollup_mrr_moves), what they
    kept `end - start` months later (rollup_mrr_retention; all of it when the months are the same)."""
    sl = _slice(f)
    mrr, n = ctx.conn.execute(select(func.coalesce(func.sum(M.c.mrr), 0.0), func.coalesce(func.sum(M.c.customers), 0))
                              .where(*_slice_conds(M, sl), M.c.kind == "mrr", M.c.month_idx == start)).one()
    mrr, n = float(mrr), int(n)
    if end == start:
        return mrr, mrr, mrr, n
    kept, capped = ctx.conn.execute(select(func.coalesce(func.sum(RET.c.kept), 0.0),
                                           func.coalesce(func.sum(RET.c.kept_capped), 0.0))
                                    .where(*_slice_conds(RET, sl), RET.c.month_idx == start, RET.c.months == end - start)).one()
    return mrr, float(kept), float(capped), n


def measured_churn_rate(ctx: Ctx, f: Filters) -> tuple[float | None, str]:
    """The monthly revenue churn rate measured over the 12 months up to the period's last month
    ((churned + contraction MRR) / the months' starting MRR), with the note saying where it comes
    from; None (and the configured rate's note) before 6 months of movements exist."""
    configured = float(ctx.defs.get("unit_economics.monthly_churn_rate"))
    fallback = (None, f"churn: the configured rate ({configured:.2%}/month, unit_economics.monthly_churn_rate)")
    if isinstance(_check(ctx, f), NotAvailable):
        return fallback
    end = month_idx(f.end)
    first = _first_month(ctx, f, end)
    if first is None or end - first < MIN_MONTHS_FOR_MEASURED_CHURN:
        return fallback
    lo = max(first + 1, end - 11)
    losses, starts = _losses(ctx, f, lo, end)
    if starts <= 0:
        return fallback
    rate = losses / starts
    return rate, (f"churn: measured, {rate:.2%}/month of MRR churned or contracted over the {end - lo + 1} months "
                  f"to {first_day(end):%Y-%m}")


def _first_month(ctx: Ctx, f: Filters, end: int) -> int | None:
    """The first month up to `end` in which some customer of the slice had MRR: the summary's
    first month when a customer's MRR is positive in it (nearly always), else every month grouped."""
    conds = _moves(ctx, f)
    if conds is not None:
        # months with customers (a corrected summary, see replace_customers, may hold rows that cancel out)
        held = (select(M.c.month_idx).where(*conds, M.c.kind == "mrr", M.c.month_idx <= end)
                .group_by(M.c.month_idx).having(func.sum(M.c.customers) > 0).subquery())
        return ctx.conn.execute(select(func.min(held.c.month_idx))).scalar()
    r = _source(ctx)
    conds = dimensions.conditions(f, region=r.c.region, product_line=r.c.product_line)
    low = ctx.conn.execute(select(func.min(r.c.month_idx)).where(r.c.month_idx <= end, *conds)).scalar()
    if low is None:
        return None
    if ctx.conn.execute(select(_customer_months(ctx, f, r, low, since=low).c.customer).limit(1)).first():
        return low
    cm = _customer_months(ctx, f, r, end)
    return ctx.conn.execute(select(func.min(cm.c.month_idx))).scalar()


def ltv_churn_rate(ctx: Ctx, f: Filters) -> tuple[float, str]:
    """The monthly churn rate LTV divides by, and the note saying which."""
    key = ("ltv_churn", f)
    if key not in ctx.cache:
        rate, note = measured_churn_rate(ctx, f)
        if rate is None or rate <= 0:
            configured = float(ctx.defs.get("unit_economics.monthly_churn_rate"))
            if rate is not None:
                note = (f"churn: the configured rate ({configured:.2%}/month): no MRR churned or contracted in the "
                        "trailing 12 months to measure")
            rate = configured
        ctx.cache[key] = (rate, note)
    return ctx.cache[key]


# --- metrics -----------------------------------------------------------------------------------

def _movement(ctx: Ctx, f: Filters, kind: str) -> Result:
    r = _check(ctx, f)
    if isinstance(r, NotAvailable):
        return r
    return round(movements(ctx, f)[kind], 2)


@computes("mrr")
def compute_mrr(ctx: Ctx, f: Filters) -> Result:
    """MRR of the month containing the period's last day."""
    r = _check(ctx, f)
    if isinstance(r, NotAvailable):
        return r
    return round(mrr_at(ctx, f, month_idx(f.end)), 2)


@computes("arr")
def compute_arr(ctx: Ctx, f: Filters) -> Result:
    """12 x MRR."""
    mrr = ctx.value("mrr", f)
    return mrr if isinstance(mrr, NotAvailable) else round(12 * mrr, 2)


@computes("new_mrr")
def compute_new_mrr(ctx: Ctx, f: Filters) -> Result:
    return _movement(ctx, f, "new")


@computes("expansion_mrr")
def compute_expansion_mrr(ctx: Ctx, f: Filters) -> Result:
    return _movement(ctx, f, "expansion")


@computes("reactivation_mrr")
def compute_reactivation_mrr(ctx: Ctx, f: Filters) -> Result:
    return _movement(ctx, f, "reactivation")


@computes("contraction_mrr")
def compute_contraction_mrr(ctx: Ctx, f: Filters) -> Result:
    return _movement(ctx, f, "contraction")


@computes("churned_mrr")
def compute_churned_mrr(ctx: Ctx, f: Filters) -> Result:
    return _movement(ctx, f, "churn")


@computes("net_new_mrr")
def compute_net_new_mrr(ctx: Ctx, f: Filters) -> Result:
    """new + expansion + reactivation - contraction - churn."""
    r = _check(ctx, f)
    if isinstance(r, NotAvailable):
        return r
    m = movements(ctx, f)
    return round(m["new"] + m["expansion"] + m["reactivation"] - m["contraction"] - m["churn"], 2)


def _retention_ratio(ctx: Ctx, f: Filters, pick) -> Result:
    r = _check(ctx, f)
    if isinstance(r, NotAvailable):
        return r
    start, later, capped, customers = retention(ctx, f)
    if start <= 0:
        return NotAvailable("no customer had MRR in the month before this period, so there is nothing to retain")
    return pick(start, later, capped, customers)


@computes("nrr")
def compute_nrr(ctx: Ctx, f: Filters) -> Result:
    """Starting customers' MRR in the period's last month / their MRR the month before the period."""
    return _retention_ratio(ctx, f, lambda start, later, capped, n: later / start)


@computes("grr")
def compute_grr(ctx: Ctx, f: Filters) -> Result:
    """As NRR, each customer's later MRR capped at its starting MRR."""
    return _retention_ratio(ctx, f, lambda start, later, capped, n: capped / start)


@computes("logo_churn_rate")
def compute_logo_churn_rate(ctx: Ctx, f: Filters) -> Result:
    """Customers churned in the period / customers with MRR the month before it."""
    return _retention_ratio(ctx, f, lambda start, later, capped, n: movements(ctx, f)["churned_customers"] / n)


@computes("revenue_churn_rate")
def compute_revenue_churn_rate(ctx: Ctx, f: Filters) -> Result:
    """(Churned + contraction MRR in the period) / MRR the month before it."""
    def rate(start, later, capped, n):
        m = movements(ctx, f)
        return (m["churn"] + m["contraction"]) / start
    return _retention_ratio(ctx, f, rate)


# --- tables for the pages and the meeting -------------------------------------------------------

def _with_ctx(engine: Engine, fn):
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            return fn(Ctx(conn, load_definitions(conn)))


def movements_by_month(engine: Engine, filters: Filters) -> pd.DataFrame:
    """One row per month of the period (months whose first day is in it): MRR, each movement
    (contraction and churn negative, as drawn), net new MRR. Empty without service periods."""
    cols = ["month", "mrr", *MOVEMENT_METRICS.values(), "net_new_mrr"]

    def run(ctx: Ctx) -> pd.DataFrame:
        if isinstance(_check(ctx, filters), NotAvailable):
            return pd.DataFrame(columns=cols)
        _, lo, hi = period_months(filters)
        if hi < lo:
            return pd.DataFrame(columns=cols)
        conds = _moves(ctx, filters)
        if conds is not None:
            by = _moves_sums(ctx, conds, lo, hi, by_month=True)
            totals = dict(ctx.conn.execute(select(M.c.month_idx, func.sum(M.c.mrr))
                                           .where(*conds, M.c.kind == "mrr", M.c.month_idx >= lo, M.c.month_idx <= hi)
                                           .group_by(M.c.month_idx)).all())
        else:
            by = _movement_sums(ctx, filters, lo, hi, by_month=True)
            cm = _customer_months(ctx, filters, _source(ctx), hi)
            totals = dict(ctx.conn.execute(select(cm.c.month_idx, func.sum(cm.c.mrr)).where(cm.c.month_idx >= lo)
                                           .group_by(cm.c.month_idx)).all())
        rows = []
        for idx in range(lo, hi + 1):
            m = by.get(idx, {})
            moved = {MOVEMENT_METRICS[k]: round(float(m.get(k) or 0.0), 2) * (-1 if k in ("contraction", "churn") else 1)
                     for k in MOVEMENTS}
            rows.append({"month": f"{first_day(idx):%Y-%m}", "mrr": round(float(totals.get(idx) or 0.0), 2), **moved,
                         "net_new_mrr": round(sum(moved.values()), 2)})
        return pd.DataFrame(rows, columns=cols)
    return _with_ctx(engine, run)


def cohorts(engine: Engine, filters: Filters, months: int = 12) -> pd.DataFrame:
    """Customers by their first month with MRR (the cohorts starting in the `months` months up to
    the period's last month, or from the period's start if earlier) x months since: customers
    still with MRR and their MRR, as shares of the cohort's first month."""
    cols = ["cohort", "months_since", "customers", "mrr", "pct_customers", "pct_mrr"]

    def run(ctx: Ctx) -> pd.DataFrame:
        if isinstance(_check(ctx, filters), NotAvailable):
            return pd.DataFrame(columns=cols)
        end = month_idx(filters.end)
        lo = min(month_idx(filters.start), end - months + 1)
        sl = _slice(filters)
        if sl is not None and usable(ctx):  # the cohort summary: a few rows per cohort
            k = COHORTS
            rows = ctx.conn.execute(select(k.c.first_idx, k.c.months_since, func.sum(k.c.customers), func.sum(k.c.mrr))
                                    .where(*_slice_conds(k, sl), k.c.first_idx >= lo, k.c.first_idx <= end,
                                           k.c.first_idx + k.c.months_since <= end)
                                    .group_by(k.c.first_idx, k.c.months_since)
                                    .having(func.sum(k.c.customers) != 0)).all()
        else:
            cm = _customer_months(ctx, filters, _source(ctx), end)
            firsts = select(cm.c.customer, func.min(cm.c.month_idx).label("first")).group_by(cm.c.customer).subquery("f")
            since = (cm.c.month_idx - firsts.c.first).label("months_since")
            rows = ctx.conn.execute(select(firsts.c.first, since, func.count(), func.sum(cm.c.mrr))
                                    .select_from(cm.join(firsts, firsts.c.customer == cm.c.customer))
                                    .where(firsts.c.first >= lo).group_by(firsts.c.first, since)).all()
        cells = {(first, int(k)): (int(n), float(total)) for first, k, n, total in rows}
        out = []
        for first in sorted({first for first, _k in cells}):
            n0, mrr0 = cells[(first, 0)]
            for k in range(end - first + 1):  # a month the whole cohort was gone is 0 %, not blank
                n, total = cells.get((first, k), (0, 0.0))
                out.append({"cohort": f"{first_day(first):%Y-%m}", "months_since": k, "customers": n,
                            "mrr": round(total, 2), "pct_customers": n / n0, "pct_mrr": total / mrr0})
        return pd.DataFrame(out, columns=cols)
    return _with_ctx(engine, run)


def movers(engine: Engine, filters: Filters, kinds: tuple[str, ...] = ("churn", "contraction")) -> pd.DataFrame:
    """The customers whose MRR moved (by `kinds`) on the month firsts of the period, by name:
    month, customer, movement, MRR before, MRR after, change; the biggest loss first."""
    cols = ["month", "customer", "movement", "mrr_before", "mrr_after", "change"]

    def run(ctx: Ctx) -> pd.DataFrame:
        if isinstance(_check(ctx, filters), NotAvailable):
            return pd.DataFrame(columns=cols)
        _, lo, hi = period_months(filters)
        if hi < lo:
            return pd.DataFrame(columns=cols)
        r = _source(ctx)
        sl = _slice(filters)
        if sl is not None and usable(ctx) and set(kinds) <= {"churn", "contraction"}:  # the movers summary
            mv = MOVERS
            per = (select(mv.c.month_idx.label("idx"), mv.c.customer, mv.c.kind.label("movement"),
                          mv.c.mrr_before.label("prev"), mv.c.mrr_after.label("cur"))
                   .where(*_slice_conds(mv, sl), mv.c.month_idx >= lo, mv.c.month_idx <= hi, mv.c.kind.in_(kinds))
                   .subquery("per"))
            kind = per.c.movement
            moved = per
        else:
            cm = _customer_months(ctx, filters, r, hi)
            changes, firsts = _changes(cm, lo, hi)
            kind = _kind(changes, firsts).label("movement")
            per = changes
            moved = changes.outerjoin(firsts, firsts.c.customer == changes.c.customer)
        names = _names(ctx, filters, r, select(per.c.customer).select_from(moved).where(kind.in_(kinds)))
        rows = ctx.conn.execute(select(per.c.idx, names.c.name, kind, per.c.prev, per.c.cur)
                                .select_from(moved.join(names, names.c.customer == per.c.customer))
                                .where(kind.in_(kinds))).all()
        out = [{"month": f"{first_day(idx):%Y-%m}", "customer": name, "movement": k,
                "mrr_before": round(float(prev), 2), "mrr_after": round(float(cur), 2),
                "change": round(float(cur) - float(prev), 2)} for idx, name, k, prev, cur in rows]
        out.sort(key=lambda r: (r["change"], r["month"], r["customer"] or ""))
        return pd.DataFrame(out, columns=cols)
    return _with_ctx(engine, run)


def source_note(engine: Engine, filters: Filters) -> pd.DataFrame:
    """One row, "note": where recurring revenue comes from (the shared definition recurring.source)."""
    def run(ctx: Ctx) -> pd.DataFrame:
        use = source_in_use(ctx)
        setting = source_setting(ctx.defs)
        how = (f", set by recurring.source = {setting}" if setting != "auto" else
               " (no invoice has a service period)" if use == "line_items" else "")
        note = (f"Recurring revenue from {SOURCE_LABELS[use]}{how}." if use else
                f"No recurring revenue yet{how}: {NO_SERVICE_PERIODS}")
        return pd.DataFrame([{"note": note}], columns=["note"])
    return _with_ctx(engine, run)


def ltv_note(engine: Engine, filters: Filters) -> pd.DataFrame:
    """One row, "note": which monthly churn rate LTV divides by for `filters` (measured or configured)."""
    def run(ctx: Ctx) -> pd.DataFrame:
        return pd.DataFrame([{"note": ltv_churn_rate(ctx, filters.to_date())[1]}], columns=["note"])
    return _with_ctx(engine, run)


__all__ = ["GROUP", "MOVEMENTS", "MOVEMENT_METRICS", "cohorts", "is_fresh", "ltv_churn_rate", "ltv_note", "measured_churn_rate",
           "month_idx", "movements_by_month", "movers", "period_months", "refresh", "source_in_use", "source_note",
           "state"]
