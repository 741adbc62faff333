"""Finance metrics: invoiced and ledger revenue, cash, the revenue gaps, S&M spend, unit economics.

Rules (also in catalog/finance.yaml, shown to users):
- Invoices count by issue date (cash: by paid date), draft and void excluded, credit notes always
  negative. Dimension filters reach an invoice through its deal; an invoice with no (live) deal
  belongs to the "(none)" bucket of every dimension, so region segments add up to the total.
- The ledger (FEC) is in euros and has no dimensions: ledger metrics are NotAvailable under a
  dimension filter, and for a period in which no month has any ledger line (not imported yet).
- S&M spend: the ledger is the record of every month in which it has S&M lines; imported spend
  fills only the other months (when ledger.include_imported_spend), so nothing counts twice.
  Supplier invoices are booked at month end, so the current month comes from imported spend.
"""
from __future__ import annotations

import calendar
import datetime as dt
from typing import Iterable

from sqlalchemy import and_, case, exists, func, not_, or_, select

from store import schema as s

from . import recurring, rollups
from .filters import NONE_BUCKET, Filters
from .registry import Ctx, NotAvailable, Result, computes, difference, ratio
from .rules import NOT_REVENUE_STATUSES, signed, signed_net_cents
from .sql import deal_conditions, money, spend_conditions, spend_unfilterable, to_major

LEDGER_CURRENCY = "EUR"  # a FEC is kept in euros
DIMENSIONS = ("regions", "product_lines", "owners", "teams", "pipelines", "sources")
NO_LEDGER_DIMENSIONS = ("the ledger has no region, product line, owner, team, pipeline or source; "
                        "remove those filters")
NO_INVOICES = "no invoices in the store; import an invoice export on the Data page"

inv = s.invoices
led = s.ledger_entries


# --- periods ---------------------------------------------------------------------------

def month_starts(start: dt.date, end: dt.date) -> list[dt.date]:
    """First day of every calendar month that [start, end] touches."""
    out, m = [], start.replace(day=1)
    while m <= end:
        out.append(m)
        m = (m.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return out


def month_end(m: dt.date) -> dt.date:
    return m.replace(day=calendar.monthrange(m.year, m.month)[1])


def months_in_period(f: Filters) -> float:
    """Period length in months: each calendar month counts the share of its days in the period."""
    total = 0.0
    for m in month_starts(f.start, f.end):
        days = (min(month_end(m), f.end) - max(m, f.start)).days + 1
        total += days / calendar.monthrange(m.year, m.month)[1]
    return total


# --- invoices --------------------------------------------------------------------------

def has_dimension_filters(f: Filters) -> bool:
    return any(getattr(f, dim) for dim in DIMENSIONS)


def invoice_conditions(ctx: Ctx, f: Filters, date_col) -> list:
    """The revenue invoices of `f` dated by `date_col`; dimension filters through the invoice's deal."""
    conds = [date_col >= f.start, date_col <= f.end, inv.c.status.notin_(NOT_REVENUE_STATUSES)]
    if has_dimension_filters(f):
        d = s.deals
        in_slice = inv.c.deal_id.in_(select(d.c.deal_id).where(*deal_conditions(ctx, f)))
        if all(NONE_BUCKET in getattr(f, dim) for dim in DIMENSIONS if getattr(f, dim)):
            no_deal = not_(exists().where(d.c.deal_id == inv.c.deal_id, not_(d.c.is_deleted)))
            in_slice = or_(in_slice, no_deal)
        conds.append(in_slice)
    return conds


def _any_invoice(ctx: Ctx) -> bool:
    return ctx.conn.execute(select(inv.c.invoice_id).limit(1)).first() is not None


def invoice_total(ctx: Ctx, f: Filters, amount, date_col, *extra) -> Result:
    """Sum of an invoice amount expression in the reporting currency, or NotAvailable without invoices."""
    if not _any_invoice(ctx):
        return NotAvailable(NO_INVOICES)
    basis = "paid" if date_col is inv.c.paid_date else "issued"  # the rollup's same sums by month
    supported = not has_dimension_filters(f)
    if not supported:  # by the deal's dimensions: rollup_invoice_dims, its rows for the edge days
        return money(rollups.gather(ctx, f, lambda c_, part, *r: rollups.invoice_dims_total(c_, part, basis, *r) or 0.0,
                                    lambda c_, part: rollups.invoice_dims_rows(c_, part, basis), True,
                                    rollups.INVOICE_DIMS, complement=True))
    return money(rollups.gather(ctx, f, lambda c_, part, *m: rollups.invoice_total(c_, part, basis, *m) or 0.0,
                                lambda c_, part: rollups.invoice_rows(c_, part, lambda col: invoice_conditions(c_, part, col),
                                                                      supported),
                                supported, rollups.INVOICES, complement=True))


# --- ledger ----------------------------------------------------------------------------

def ledger_months(ctx: Ctx, start: dt.date, end: dt.date, prefixes: Iterable[str] = ()) -> set[dt.date]:
    """The calendar months of [start, end] with at least one ledger line (on `prefixes` accounts if given)."""
    first, last = start.replace(day=1), month_end(end.replace(day=1))
    if rollups.usable(ctx, rollups.LEDGER):
        return rollups.ledger_months(ctx, Filters(first, last),
                                     (lambda col: account_prefix_condition(prefixes, col)) if prefixes else None)
    conds = [led.c.ecriture_date >= first, led.c.ecriture_date <= last]
    if prefixes:
        conds.append(account_prefix_condition(prefixes))
    dates = ctx.conn.execute(select(led.c.ecriture_date).distinct().where(*conds)).scalars()
    return {d.replace(day=1) for d in dates}


def outermost(prefixes: Iterable[str]) -> list[str]:
    """The prefixes not already covered by a shorter one ('709' is inside '70')."""
    out: list[str] = []
    for p in sorted({str(p) for p in prefixes}, key=lambda p: (len(p), p)):
        if not any(p.startswith(q) for q in out):
            out.append(p)
    return out


def account_prefix_condition(prefixes: Iterable[str], col=None):
    col = led.c.compte_num if col is None else col
    return or_(*[col.like(f"{p}%") for p in outermost(prefixes)])


def revenue_prefixes(ctx: Ctx) -> list[str]:
    """Revenue accounts with the contra accounts (rebates, credit notes) netted in."""
    return [str(p) for p in ctx.defs.get("ledger.revenue_account_prefixes")] + \
        [str(p) for p in ctx.defs.get("ledger.revenue_contra_prefixes")]


def ledger_rate(ctx: Ctx) -> float | NotAvailable:
    rate = ctx.defs.fx.get(LEDGER_CURRENCY)
    if rate is None:
        return NotAvailable(f"the ledger is in {LEDGER_CURRENCY}, which has no rate in "
                            f"currency.fx_to_reporting; add {LEDGER_CURRENCY} in the definitions")
    return rate


def ledger_sum(ctx: Ctx, f: Filters, prefixes: Iterable[str], credit_minus_debit: bool) -> Result:
    """Signed ledger total over accounts starting with `prefixes`, in the reporting currency."""
    rate = ledger_rate(ctx)
    if isinstance(rate, NotAvailable):
        return rate
    total = rollups.gather(ctx, f, lambda c_, part, *r: rollups.ledger_cents(
                               c_, part, lambda col: account_prefix_condition(prefixes, col), credit_minus_debit, *r),
                           rollups.ledger_rows, group=rollups.LEDGER, complement=True)
    return round(total * rate / 100.0, 2)


def ledger_revenue_value(ctx: Ctx, f: Filters) -> Result:
    if has_dimension_filters(f):
        return NotAvailable(NO_LEDGER_DIMENSIONS)
    if not ledger_months(ctx, f.start, f.end):
        return NotAvailable("no ledger lines in this period; import the FEC that covers it")
    return ledger_sum(ctx, f, revenue_prefixes(ctx), credit_minus_debit=True)


def sm_spend_value(ctx: Ctx, f: Filters) -> Result:
    """Ledger S&M spend in the months with S&M ledger lines + imported spend in the other months."""
    reason = spend_unfilterable(f)
    if reason:
        return NotAvailable(reason)
    prefixes = ctx.defs.get("ledger.sm_spend_account_prefixes")
    covered = ledger_months(ctx, f.start, f.end, prefixes)
    if covered and (f.regions or f.product_lines):
        return NotAvailable("part of this period is in the ledger, which has no region or product line; "
                            "remove those filters")
    total = 0.0
    if covered:
        part = ledger_sum(ctx, f, prefixes, credit_minus_debit=False)
        if isinstance(part, NotAvailable):
            return part
        total += part
    uncovered: list[Filters] = []  # the months without S&M ledger lines, consecutive ones as one range
    for m in month_starts(f.start, f.end):
        if m in covered:
            continue
        start, end = max(m, f.start), min(month_end(m), f.end)
        if uncovered and uncovered[-1].end + dt.timedelta(days=1) == start:
            uncovered[-1] = uncovered[-1].with_period(uncovered[-1].start, end)
        else:
            uncovered.append(f.with_period(start, end))
    if uncovered and ctx.defs.get("ledger.include_imported_spend"):
        sp = s.marketing_spend
        in_gaps = or_(*[and_(*spend_conditions(g)) for g in uncovered])
        count, imported = ctx.conn.execute(select(
            func.count(), func.sum(to_major(ctx, sp.c.amount_cents, sp.c.currency))).where(in_gaps)).one()
        if not covered and not count:
            return NotAvailable("no spend in this period: no S&M ledger lines and no imported marketing spend")
        total += money(imported)
    elif not covered:
        return NotAvailable("no S&M spend lines in the ledger for this period (import the FEC), and imported "
                            "marketing spend is switched off (ledger.include_imported_spend)")
    return round(total, 2)


# --- arithmetic on results -------------------------------------------------------------

def memo(fn):
    """Memoise a helper per Ctx (one compute_many), like Ctx.value does for metrics."""
    def wrapped(ctx: Ctx, f: Filters) -> Result:
        key = (fn.__name__, f)
        if key not in ctx.cache:
            ctx.cache[key] = fn(ctx, f)
        return ctx.cache[key]
    wrapped.__name__, wrapped.__doc__ = fn.__name__, fn.__doc__
    return wrapped


def round2(value: Result) -> Result:
    return value if isinstance(value, NotAvailable) or value is None else round(float(value), 2)


def _unit_economics(ctx: Ctx) -> tuple[float, float]:
    return (float(ctx.defs.get("unit_economics.gross_margin")),
            float(ctx.defs.get("unit_economics.monthly_churn_rate")))


def arpa_window(ctx: Ctx, f: Filters) -> Filters | None:
    """The 12 months ending on the period's last day, starting no earlier than the month of the
    first revenue invoice (so a young store is not divided by months it has no invoices for)."""
    after = f.end + dt.timedelta(days=1)
    try:
        start = after.replace(year=after.year - 1)
    except ValueError:  # 29 February
        start = after.replace(year=after.year - 1, day=28)
    first = ctx.conn.execute(select(func.min(inv.c.issue_date)).where(
        inv.c.status.notin_(NOT_REVENUE_STATUSES), inv.c.issue_date <= f.end)).scalar()
    if first is None:
        return None
    return f.with_period(max(start, first.replace(day=1)), f.end)


@memo
def arpa_value(ctx: Ctx, f: Filters) -> Result:
    """Trailing-12-month invoiced revenue / customers invoiced in it / its months (annual billing
    would make a one-month figure an average invoice, not a monthly revenue)."""
    if not _any_invoice(ctx):
        return NotAvailable(NO_INVOICES)
    window = arpa_window(ctx, f)
    if window is None:
        return NotAvailable("no customer was invoiced up to the end of this period")
    if rollups.account_slice_usable(ctx, window):  # the invoice accounts by day (and slice)
        total, accounts = invoice_total(ctx, window, None, inv.c.issue_date), rollups.invoice_accounts_by_day(ctx, window)
    else:  # revenue as invoiced_revenue computes it, and the customers, in one pass
        customer = case((not_(inv.c.is_credit_note), rollups.invoice_account(inv)))
        total, accounts = ctx.conn.execute(select(
            func.sum(to_major(ctx, signed_net_cents(), inv.c.currency)), func.count(customer.distinct()))
            .where(*invoice_conditions(ctx, window, inv.c.issue_date))).one()
    return ratio(money(total), accounts * months_in_period(window),
                 "no customer was invoiced in the 12 months up to the end of this period")


def ltv_value(ctx: Ctx, f: Filters) -> Result:
    arpa = arpa_value(ctx, f)
    if isinstance(arpa, NotAvailable):
        return arpa
    margin, _ = _unit_economics(ctx)
    churn, _note = recurring.ltv_churn_rate(ctx, f)
    return arpa * margin / churn


# --- metrics ---------------------------------------------------------------------------

@computes("invoiced_revenue")
def compute_invoiced_revenue(ctx: Ctx, f: Filters) -> Result:
    """Net invoiced revenue excluding tax, by issue date; reporting currency, major units."""
    return invoice_total(ctx, f, signed_net_cents(), inv.c.issue_date)


@computes("ledger_revenue")
def compute_ledger_revenue(ctx: Ctx, f: Filters) -> Result:
    """Credit - debit on revenue accounts (709 netted in), by ecriture date; reporting currency."""
    return ledger_revenue_value(ctx, f)


@computes("cash_collected")
def compute_cash_collected(ctx: Ctx, f: Filters) -> Result:
    """Invoices paid in the period, tax included, by paid date; reporting currency."""
    gross = signed(inv.c.amount_excl_tax_cents + inv.c.tax_cents)
    return invoice_total(ctx, f, gross, inv.c.paid_date, inv.c.paid_date.isnot(None))


@computes("invoiced_to_ledger_gap")
def compute_invoiced_to_ledger_gap(ctx: Ctx, f: Filters) -> Result:
    """Invoiced revenue minus ledger revenue in the period."""
    if has_dimension_filters(f):
        return NotAvailable(NO_LEDGER_DIMENSIONS)
    return difference(ctx.value("invoiced_revenue", f), ctx.value("ledger_revenue", f))


@computes("sm_spend")
def compute_sm_spend(ctx: Ctx, f: Filters) -> Result:
    """S&M spend in the period, reporting currency; ledger first, imported spend for uncovered months."""
    return sm_spend_value(ctx, f)


@computes("arpa")
def compute_arpa(ctx: Ctx, f: Filters) -> Result:
    """Invoiced revenue / distinct invoiced customers / months in the period; reporting currency."""
    return round2(arpa_value(ctx, f))


@computes("ltv")
def compute_ltv(ctx: Ctx, f: Filters) -> Result:
    """ARPA x gross margin / monthly churn rate; reporting currency (rounded to cents when shown)."""
    return ltv_value(ctx, f)


@computes("cac_payback_months")
def compute_cac_payback_months(ctx: Ctx, f: Filters) -> Result:
    """CAC / (ARPA x gross margin), in months."""
    arpa = arpa_value(ctx, f)
    if isinstance(arpa, NotAvailable):
        return arpa
    if arpa <= 0:
        return NotAvailable("ARPA is zero or negative in this period, so CAC is never paid back")
    margin, _ = _unit_economics(ctx)
    return ratio(ctx.value("cac", f), arpa * margin, "ARPA is zero in this period")
