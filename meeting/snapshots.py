"""Weekly snapshots: every registry metric for the standard cuts, and the pipeline deal by deal.

A snapshot is labelled by the Monday of its meeting week (`week_start`) and never changes once
written: later syncs and imports do not touch it, so a past meeting shows its numbers as they were.

Which period each `snapshot_metrics` row covers (period_start/period_end are stored on the row):

    cut_type total | region | product_line   the week under review
        weekly / reconstructed snapshot     the full week before week_start (Mon-Sun just ended)
        on_demand snapshot                  week_start .. the day it was taken (week to date)
    cut_type quarter                        the fiscal quarter containing the last day under review,
                                            whole company (target, gap to target, forecast, coverage);
                                            a frozen snapshot knows only its first weeks (see below)
    cut_type target                         that quarter's budget for the metric, whole company,
                                            prorated by the metric layer (budget_for_period); metrics
                                            without a budget have no target row

`snapshot_deals` holds every open deal plus the deals closed recently (close date in this or the
previous fiscal quarter, or changed since the previous snapshot), so the waterfall can tell won
and lost deals from deleted ones.

Kinds: `weekly` (one per week, the first taken wins), `on_demand` (any number), `reconstructed`
(a past week rebuilt later, e.g. by `backfill_demo_snapshots`; counts as the weekly one).

Frozen at the end of the review week: a weekly or reconstructed snapshot (and an on-demand one of a
past week) computes every figure, week and quarter alike, over the store as it stood on its
Monday at 00:00 (`rewound`: the store rewound in place, in a transaction rolled back, only the rows
changed since rewritten; `as_of_store`, the whole copy cut back, gives the same figures and is
kept as the tests' reference): deals at their stage of then (deal_stage_history), only deals,
contacts and companies created by then, contacts' lifecycle dates and first touches reached by
then, spend, invoices and ledger entries dated by then, invoices unpaid if paid later. Whether the
week is taken live on its Monday or rebuilt months later, it gets the same figures; a deal won
later is never in them. What the store keeps no history of (a deal's region, product line, owner
or source, a contact's region, source or disqualification, an invoice's void status, budgets, the
shared definitions) is read as it is when the snapshot is taken, and each row's note says which.
An on-demand snapshot of the current week is the live store of the moment (week to date).
"""
from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import tempfile
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Callable, Iterable, Iterator

import pandas as pd
from sqlalchemy import BigInteger, Column, Connection, Engine, MetaData, Table, Text, and_, bindparam, case, cast, desc, false, func, not_, null, or_, select, text

from metrics import REGISTRY, Filters, compute_many, compute_many_on, get_definitions
from metrics.definitions import load_definitions
from metrics.finance_details import BUDGET_ACTUALS
from metrics import recurring
from metrics.registry import Ctx, NotAvailable
from metrics import nps
from metrics.rollups import (ACCOUNT_SLICES, INVOICE_DIMS, INVOICES, LEDGER, NPS, _invoice_accounts_query,
                             _invoice_dims_query, _invoice_month_query, _ledger_month_query, invoice_account, is_fresh,
                             month_key)
from metrics.rollups_build import Keeper
from metrics.sales import budget_for_period
from metrics.sql import stage_rules
from store import StoreError, StoreSettings, bump_data_version, open_store, schema as s, utcnow
from store import db as store_db
from metrics.forecasts import QUARTER_CUT, WEEKLY_KINDS  # the snapshot rows forecast accuracy reads
from store.db import data_version

from .decisions import week_of

log = logging.getLogger(__name__)

KINDS = ("weekly", "on_demand", "reconstructed")
WEEK_CUTS = ("total", "region", "product_line")
TARGET_CUT = "target"
# What a frozen snapshot reads as it is when taken, by source table of a metric (no history kept).
UNDATED = {
    "deals": "deal region, product line, owner and source (and amount or close date where stage history "
             "lacks them)",
    "contacts": "contact region, source and disqualification",
    "invoices": "invoice void or uncollectible status",
    "budgets": "budgets",
}


class SnapshotError(StoreError):
    """A snapshot cannot be taken or read as asked; the message says what to do."""


# --- periods ---------------------------------------------------------------------------

def fiscal_quarter(day: dt.date, fiscal_year_start_month: int = 1) -> tuple[dt.date, dt.date]:
    """First and last day of the fiscal quarter containing `day`."""
    offset = (day.month - fiscal_year_start_month) % 12
    first_month = day.month - offset % 3
    year = day.year
    if first_month < 1:
        first_month += 12
        year -= 1
    start = dt.date(year, first_month, 1)
    nxt = dt.date(start.year + (start.month + 2) // 12, (start.month + 2) % 12 + 1, 1)
    return start, nxt - dt.timedelta(days=1)


def review_period(week_start: dt.date, kind: str, taken_on: dt.date) -> tuple[dt.date, dt.date]:
    """The days a snapshot's week rows cover (see the module docstring)."""
    if kind == "on_demand":
        return week_start, max(week_start, min(taken_on, week_start + dt.timedelta(days=6)))
    return week_start - dt.timedelta(days=7), week_start - dt.timedelta(days=1)


# --- cuts ------------------------------------------------------------------------------

def standard_cuts(conn: Connection) -> list[tuple[str, str]]:
    """(cut_type, cut_value): the total, each region, each product line known to the store."""
    def distinct(*cols) -> list[str]:
        values: set[str] = set()
        for col in cols:
            values |= {v for (v,) in conn.execute(select(col).where(col.is_not(None)).distinct()) if v}
        return sorted(values)
    regions = distinct(s.deals.c.region, s.contacts.c.region)
    lines = distinct(s.deals.c.product_line, s.products.c.product_line)
    return [("total", "")] + [("region", r) for r in regions] + [("product_line", p) for p in lines]


def _filters(cut_type: str, cut_value: str, start: dt.date, end: dt.date) -> Filters:
    if cut_type == "region":
        return Filters(start, end, regions=(cut_value,))
    if cut_type == "product_line":
        return Filters(start, end, product_lines=(cut_value,))
    return Filters(start, end)


def metric_filters(row: dict) -> Filters:
    """The filters a snapshot_metrics row was computed with (to recompute it live)."""
    cut = "total" if row["cut_type"] == QUARTER_CUT else row["cut_type"]
    return _filters(cut, row["cut_value"], row["period_start"], row["period_end"])


PAST_DUE_METRICS = ("open_pipeline", "weighted_pipeline", "pipeline_coverage", "sales_velocity", "forecast")


def frozen_note(metric_id: str, moment: dt.datetime, taken_on: dt.date) -> str:
    """The note on a frozen snapshot's row: as of when, and what was read as it is on `taken_on`."""
    note = f"as of {moment:%Y-%m-%d %H:%M}: only what had happened by then"
    undated = [UNDATED[src] for src in UNDATED if src in REGISTRY[metric_id].sources]
    if metric_id in ("leads_not_followed_up", "follow_up_rate"):
        undated.append("the SLA clock (a lead that became MQL less than the SLA before then counts as due "
                       "and not followed up)")
    if metric_id in PAST_DUE_METRICS:
        undated.append("which open deals are past due (close date before the day the snapshot was taken; with "
                       "pipeline.past_due count_in_current_period they count in the period containing that day)")
    undated.append("shared definitions")
    return f"{note}; as of {taken_on:%Y-%m-%d} (no history kept): {'; '.join(undated)}"


def _metric_rows(engine: Engine, cuts: list[tuple[str, str]], review: tuple[dt.date, dt.date],
                 quarter: tuple[dt.date, dt.date],
                 note_of: Callable[[str], str] | None = None) -> list[dict]:
    """Every registry metric for every cut, computed on `engine`; `note_of(metric_id)` is put
    before each row's own note (why a value is not available)."""
    def compute(ids: list[str], f: Filters) -> dict:
        return compute_many(engine, ids, f)
    with engine.connect() as conn:
        targets = _target_rows(conn, quarter)
    return _rows(compute, cuts, review, quarter, note_of) + targets


def _metric_rows_on(conn: Connection, cuts: list[tuple[str, str]], review: tuple[dt.date, dt.date],
                    quarter: tuple[dt.date, dt.date], note_of: Callable[[str], str] | None = None) -> list[dict]:
    """_metric_rows on a connection the caller holds (the store rewound on it, in its transaction);
    the cuts share one metric cache (what does not depend on the filters is read once)."""
    shared: dict = {}

    def compute(ids: list[str], f: Filters) -> dict:
        return compute_many_on(conn, ids, f, cache=shared)
    return _rows(compute, cuts, review, quarter, note_of) + _target_rows(conn, quarter)


def _rows(compute: Callable[[list[str], Filters], dict], cuts: list[tuple[str, str]], review: tuple[dt.date, dt.date],
          quarter: tuple[dt.date, dt.date], note_of: Callable[[str], str] | None) -> list[dict]:
    ids = list(REGISTRY)
    plan = [(ct, cv, review) for ct, cv in cuts] + [(QUARTER_CUT, "", quarter)]
    rows = []
    for cut_type, cut_value, (start, end) in plan:
        f = _filters("total" if cut_type == QUARTER_CUT else cut_type, cut_value, start, end)
        values = compute(ids, f)
        for mid in ids:
            mv = values[mid]
            note = mv.reason
            if note_of is not None:
                note = f"{note_of(mid)}; {note}" if note else note_of(mid)
            rows.append({"metric_id": mid, "cut_type": cut_type, "cut_value": cut_value,
                         "period_start": start, "period_end": end,
                         "value": None if mv.value is None else float(mv.value),
                         "unit": mv.unit, "note": note})
    return rows


def budget_targets(engine: Engine | Connection, start: dt.date, end: dt.date) -> dict[str, tuple[float, str]]:
    """{metric_id: (target, budget line)} of each budgeted metric for start..end, prorated to the
    days as the metric layer does (metrics.sales.budget_for_period); `target_revenue` is the
    North Star's target. Over the quarter to a day, it is the target paced to that day."""
    if isinstance(engine, Connection):
        return _budget_targets_on(engine, start, end)
    with engine.connect() as conn:
        return _budget_targets_on(conn, start, end)


def _budget_targets_on(conn: Connection, start: dt.date, end: dt.date) -> dict[str, tuple[float, str]]:
    b = s.budgets
    f = Filters(start, end)
    out: dict[str, tuple[float, str]] = {}
    ctx = Ctx(conn, load_definitions(conn))
    names = conn.execute(select(b.c.metric).where(b.c.month >= start.replace(day=1), b.c.month <= end)
                         .distinct().order_by(b.c.metric)).scalars().all()
    for budget_metric in names:
        metric_id = BUDGET_ACTUALS.get(budget_metric, budget_metric)
        if metric_id not in REGISTRY or metric_id in out:
            continue
        value = budget_for_period(ctx, budget_metric, f)
        if isinstance(value, NotAvailable) or value is None:
            continue
        if REGISTRY[metric_id].unit == "money":
            value = value / 100.0  # budgets hold money in cents
        out[metric_id] = (round(float(value), 2), budget_metric)
    return out


def _target_rows(conn: Connection, quarter: tuple[dt.date, dt.date]) -> list[dict]:
    """The quarter's budget of each budgeted metric (budget_targets)."""
    return [{"metric_id": mid, "cut_type": TARGET_CUT, "cut_value": "", "period_start": quarter[0],
             "period_end": quarter[1], "value": value, "unit": REGISTRY[mid].unit, "note": f"budget line: {line}"}
            for mid, (value, line) in budget_targets(conn, *quarter).items()]


# --- deal state ------------------------------------------------------------------------

def _stage_flags(conn: Connection) -> dict[tuple[str, str], tuple[bool, bool]]:
    """(pipeline, stage) -> (is_closed, is_won), by the metric layer's stage rules (one truth)."""
    rules = stage_rules(Ctx(conn, load_definitions(conn)))
    flags = {key: (False, False) for key in rules.probability}
    for pid, stages in rules.lost.items():
        flags.update({(pid, st): (True, False) for st in stages})
    for pid, stages in rules.won.items():
        flags.update({(pid, st): (True, True) for st in stages})
    return flags


_DEAL_COLS = ("deal_id", "name", "pipeline_id", "stage_id", "amount_cents", "currency", "close_date",
              "owner_id", "forecast_category", "region", "product_line")


def _keep(d: dict, recent_from: dt.date, changed_since: dt.datetime | None) -> bool:
    if not d["is_closed"]:
        return True
    if d["close_date"] is not None and d["close_date"] >= recent_from:
        return True
    return changed_since is not None and d.get("updated_at") is not None and d["updated_at"] >= changed_since


def live_deals(conn: Connection, recent_from: dt.date, changed_since: dt.datetime | None) -> list[dict]:
    """Open deals now, plus the deals closed recently (see the module docstring)."""
    flags = _stage_flags(conn)
    q = select(*[s.deals.c[c] for c in _DEAL_COLS], s.deals.c.updated_at).where(s.deals.c.is_deleted.is_(False))
    out = []
    for r in conn.execute(q).mappings():
        d = dict(r)
        d["is_closed"], d["is_won"] = flags.get((d["pipeline_id"], d["stage_id"]), (False, False))
        if _keep(d, recent_from, changed_since):
            d.pop("updated_at")
            out.append(d)
    return out


def _stage_categories(conn: Connection) -> dict[str, str]:
    """{stage: the forecast category most deals in that stage carry today}."""
    d_ = s.deals
    category = {}
    for stage_id, cat, n in conn.execute(
            select(d_.c.stage_id, d_.c.forecast_category, func.count())
            .where(d_.c.forecast_category.is_not(None)).group_by(d_.c.stage_id, d_.c.forecast_category)
            .order_by(d_.c.stage_id, func.count())):
        category[stage_id] = cat  # ascending count: the most common category wins
    return category


def _chunks(items: list, size: int = 500) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def deals_as_of(conn: Connection, moment: dt.datetime, ids: Iterable[str] | None = None,
                _flags: dict | None = None, _category: dict | None = None) -> list[dict]:
    """Every deal as it stood at `moment` (all `deals` columns plus is_closed / is_won), rebuilt
    from deal_stage_history; with `ids`, only those deals (the ones `_changed_deals` finds: every
    other deal stood then as it stands now).

    A deal's stage, amount and close date are those of its last history row entered before
    `moment` (or its first row, when history starts later; amount or close date missing on that
    row: the deal's current one); a deal without history keeps its current state, except that one
    closed after `moment` (close date on or after its day) is left out: it was not closed then,
    and its stage of then is unknown. Deals created after `moment`, or deleted since, are left
    out. The forecast category is the one deals in that stage carry today.
    """
    flags = _stage_flags(conn) if _flags is None else _flags
    category = _stage_categories(conn) if _category is None else _category
    if ids is None:
        return _deals_then(conn, moment, flags, category, [])
    out = []
    for chunk in _chunks(sorted(set(ids))):
        out += _deals_then(conn, moment, flags, category, chunk)
    return out


def _deals_then(conn: Connection, moment: dt.datetime, flags: dict, category: dict, ids: list) -> list[dict]:
    """deals_as_of for every deal (`ids` empty) or for the deals of `ids`."""
    h, d_ = s.deal_stage_history, s.deals
    h_where = [h.c.deal_id.in_(ids)] if ids else []
    last = (select(h.c.deal_id, func.max(h.c.entered_at).label("at"))
            .where(h.c.entered_at < moment, *h_where).group_by(h.c.deal_id).subquery())
    first = select(h.c.deal_id, func.min(h.c.entered_at).label("at")).where(*h_where).group_by(h.c.deal_id).subquery()
    cols = (h.c.deal_id, h.c.stage_id, h.c.amount_cents, h.c.close_date)
    hist = {r.deal_id: r for r in conn.execute(
        select(*cols).join(first, and_(h.c.deal_id == first.c.deal_id, h.c.entered_at == first.c.at)))}
    hist.update({r.deal_id: r for r in conn.execute(
        select(*cols).join(last, and_(h.c.deal_id == last.c.deal_id, h.c.entered_at == last.c.at)))})
    out = []
    d_where = [d_.c.deal_id.in_(ids)] if ids else []
    for r in conn.execute(select(d_).where(d_.c.is_deleted.is_(False), d_.c.created_at < moment, *d_where)).mappings():
        d = dict(r)
        past = hist.get(d["deal_id"])
        if past is not None:
            d["stage_id"] = past.stage_id
            d["amount_cents"] = past.amount_cents if past.amount_cents is not None else d["amount_cents"]
            d["close_date"] = past.close_date if past.close_date is not None else d["close_date"]
            d["forecast_category"] = category.get(past.stage_id)
        d["is_closed"], d["is_won"] = flags.get((d["pipeline_id"], d["stage_id"]), (False, False))
        if past is None and d["is_closed"] and (d["close_date"] is None or d["close_date"] >= moment.date()):
            continue
        if d["is_closed"]:
            d["forecast_category"] = None
        if not d["is_closed"]:
            d["lost_reason"] = None
        out.append(d)
    return out


def _changed_deals(conn: Connection, moment: dt.datetime, flags: dict, category: dict) -> tuple[set, set]:
    """(the deals whose row as of `moment` (deals_as_of) may differ from their row now, those of
    them with stage history entered from `moment` on). Besides those, the deals deleted, created
    from `moment` on, closed without history on or after its day, and the deals whose last history
    row before `moment` says another stage, amount or close date than their row now (or whose
    forecast category or lost reason deals_as_of changes, for a deal open then): one pass over the deals, each
    joined through the history index to its last row before `moment`."""
    h, d_ = s.deal_stage_history, s.deals
    moved = set(conn.execute(select(h.c.deal_id).where(h.c.entered_at >= moment).distinct()).scalars())
    then = h.alias("then")
    before = h.alias("before")
    last_at = (select(func.max(before.c.entered_at)).where(before.c.deal_id == d_.c.deal_id,
                                                           before.c.entered_at < moment)
               .correlate(d_).scalar_subquery())
    stage_then = func.coalesce(then.c.stage_id, d_.c.stage_id)
    closed_pairs = [key for key, (closed, _) in flags.items() if closed]
    closed_then = (or_(*[and_(d_.c.pipeline_id == p, stage_then == st) for p, st in closed_pairs])
                   if closed_pairs else false())
    category_then = case(category, value=then.c.stage_id, else_=null()) if category else null()
    # a closed deal's forecast category, which deals_as_of clears, is read by no figure (the forecast
    # counts won deals as closed_won): the snapshot's deals clear it (`_snapshot_deals`), and closed
    # deals are not rewritten for it alone
    fc_then = case((then.c.deal_id.is_(None), d_.c.forecast_category), else_=category_then)
    differs = or_(
        d_.c.is_deleted, d_.c.created_at >= moment,
        and_(then.c.deal_id.is_not(None),
             or_(then.c.stage_id != d_.c.stage_id,
                 and_(then.c.amount_cents.is_not(None), then.c.amount_cents.is_distinct_from(d_.c.amount_cents)),
                 and_(then.c.close_date.is_not(None), then.c.close_date.is_distinct_from(d_.c.close_date)))),
        and_(then.c.deal_id.is_(None), closed_then,
             or_(d_.c.close_date.is_(None), d_.c.close_date >= moment.date())),
        and_(not_(closed_then), or_(fc_then.is_distinct_from(d_.c.forecast_category), d_.c.lost_reason.is_not(None))))
    q = (select(d_.c.deal_id)
         .select_from(d_.outerjoin(then, and_(then.c.deal_id == d_.c.deal_id, then.c.entered_at == last_at)))
         .where(differs))
    return moved | set(conn.execute(q).scalars()), moved


# Contacts' lifecycle dates, each reached by `moment` or not yet (then emptied).
_CONTACT_DATES = ("became_lead_at", "became_mql_at", "became_sql_at", "became_opportunity_at",
                  "became_customer_at", "first_sales_touch_at")
# What an as-of store copies from the live one: everything the metrics read except the deals,
# which `deals_as_of` rebuilds for each moment.
_COPIED_TABLES = ("store_meta", "definition_overrides", "import_runs", "pipelines", "pipeline_stages",
                  "owners", "products", "budgets", "deal_stage_history", "contacts", "deal_contacts",
                  "companies", "deal_companies", "line_items", "marketing_spend", "invoices", "ledger_entries",
                  "lead_feedback", "nps_responses")


def _copy(src: Connection, dst: Connection, table) -> None:
    batch = []
    for row in src.execute(select(table)).mappings():
        batch.append(dict(row))
        if len(batch) == 5000:
            dst.execute(table.insert(), batch)
            batch = []
    if batch:
        dst.execute(table.insert(), batch)


def _cut_to(conn: Connection, moment: dt.datetime, deals_then: list[dict]) -> None:
    """Bring an as-of store's tables back to `moment` (see the module docstring): the deals are
    `deals_then`; stage history entered, contacts and companies created, spend, invoices (by issue
    date), ledger entries (by entry date), lead verdicts (by decision) and survey answers (by
    submission) dated from `moment` on go; contacts' lifecycle dates and
    first touches from then on are emptied, invoices paid from then on are unpaid (status `open`);
    links and line items of what went go too. Only ever removes: moments must not increase."""
    day = moment.date()
    d, h, c, co, inv = s.deals, s.deal_stage_history, s.contacts, s.companies, s.invoices
    conn.execute(d.delete())
    cols = set(d.c.keys())
    rows = [{k: v for k, v in deal.items() if k in cols} for deal in deals_then]
    for i in range(0, len(rows), 5000):
        conn.execute(d.insert(), rows[i:i + 5000])
    conn.execute(h.delete().where(h.c.entered_at >= moment))
    conn.execute(c.delete().where(c.c.created_at >= moment))
    for col in _CONTACT_DATES:
        conn.execute(c.update().where(c.c[col] >= moment).values({col: None}))
    conn.execute(co.delete().where(co.c.created_at >= moment))
    conn.execute(inv.delete().where(inv.c.issue_date >= day))
    conn.execute(inv.update().where(inv.c.paid_date >= day).values(
        paid_date=None, status=case((inv.c.status == "paid", "open"), else_=inv.c.status)))
    conn.execute(s.ledger_entries.delete().where(s.ledger_entries.c.ecriture_date >= day))
    conn.execute(s.marketing_spend.delete().where(s.marketing_spend.c.spend_date >= day))
    conn.execute(s.lead_feedback.delete().where(s.lead_feedback.c.decided_at >= moment))  # verdicts given later
    conn.execute(s.nps_responses.delete().where(s.nps_responses.c.submitted_at >= moment))
    kept_deals, kept_contacts = select(d.c.deal_id), select(c.c.contact_id)
    dc, dco, li = s.deal_contacts, s.deal_companies, s.line_items
    conn.execute(dc.delete().where(or_(dc.c.deal_id.notin_(kept_deals), dc.c.contact_id.notin_(kept_contacts))))
    conn.execute(dco.delete().where(or_(dco.c.deal_id.notin_(kept_deals),
                                        dco.c.company_id.notin_(select(co.c.company_id)))))
    conn.execute(li.delete().where(or_(li.c.deal_id.is_(None), li.c.deal_id.notin_(kept_deals))))


def _backup_sqlite(engine: Engine, path: Path) -> bool:
    """A SQLite store file copied page by page into `path` (sqlite3's online backup: a consistent
    copy of the whole file at C speed, 85 s -> about 2 s on a 100k-deal store); False for any other
    store (PostgreSQL, in-memory SQLite), whose tables `_copy` copies row by row."""
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return False
    raw = engine.raw_connection()
    try:
        target = sqlite3.connect(path)
        try:
            raw.driver_connection.backup(target)
        finally:
            target.close()
    finally:
        raw.close()
    return True


@contextmanager
def as_of_store(engine: Engine) -> Iterator[Callable[[dt.datetime, list[dict]], Engine]]:
    """A throw-away SQLite copy of the store, brought back in time: yields `rewind(moment,
    deals_then)`, which cuts it to `moment` (`_cut_to`) and returns its engine, so the metric layer
    itself computes every figure over the data as it stood. One copy serves many weeks, newest
    first (a later moment than the previous call is refused: what was cut is gone)."""
    with tempfile.TemporaryDirectory(prefix="northstar-asof-") as folder:
        path = Path(folder) / "as_of.db"
        url = f"sqlite:///{path}"
        copied_whole = _backup_sqlite(engine, path)
        tmp = open_store(StoreSettings(url, "a reconstructed snapshot"))
        try:
            with tmp.begin() as dst:
                if copied_whole:  # keep what the row-by-row copy would have: the tables it names
                    for table in reversed(s.metadata.sorted_tables):
                        if table.name not in _COPIED_TABLES:
                            dst.execute(table.delete())
                else:
                    with engine.connect() as src:
                        for name in _COPIED_TABLES:
                            _copy(src, dst, s.metadata.tables[name])
            cut: list[dt.datetime] = []

            def rewind(moment: dt.datetime, deals_then: list[dict]) -> Engine:
                if cut and moment > cut[-1]:
                    raise ValueError(f"this as-of store was cut to {cut[-1]}; it cannot show {moment}")
                with tmp.begin() as dst:
                    _cut_to(dst, moment, deals_then)
                cut.append(moment)
                return tmp

            yield rewind
        finally:
            tmp.dispose()
            store_db._ENGINES.pop(url, None)


# --- the store rewound in place (what frozen snapshots use) ------------------------------

REWIND_CACHE_KB = 512 * 1024  # SQLite's page cache while the store is rewound
_LAST_REWIND: dict[str, int] = {}
_REWIND_SECONDS: dict[str, float] = {}  # how long each phase of the last rewind took  # what the last rewind rewrote, by table (benchmarks/snapshot_bench.py)


@contextmanager
def rewound(engine: Engine, moment: dt.datetime) -> Iterator[Connection]:
    """A connection on which the store reads as it stood at `moment` (as `_cut_to` brings an
    as-of copy back, see the module docstring), in a transaction that is always rolled back:
    only the rows changed since `moment` are rewritten (`_rewind`), and the fresh rollups are
    kept exact through those writes by their `Keeper`, so the metric layer reads summaries as
    it does on the live store. Nothing is ever committed; other connections never see it. The
    transaction holds the store's write lock (SQLite) or the changed rows' locks (PostgreSQL)
    until it ends: a write arriving meanwhile waits (SQLite's busy timeout is 15 s)."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ")
        trans = conn.begin()
        cache = None
        try:
            if conn.dialect.name == "sqlite":  # pysqlite opens its transaction at the first write:
                # write first, so every read below sees one state of the store
                conn.execute(s.store_meta.update().where(s.store_meta.c.key == "data_version")
                             .values(value=s.store_meta.c.value))
                # the rewound pages stay in memory instead of spilling to the write-ahead log
                # (the default cache is 2 MB; restored below, the connection goes back to the pool)
                cache = conn.exec_driver_sql("PRAGMA cache_size").scalar()
                conn.exec_driver_sql(f"PRAGMA cache_size = -{REWIND_CACHE_KB}")
            done = _rewind(conn, moment)
            _LAST_REWIND.clear()
            _LAST_REWIND.update(done)
            log.debug("store rewound to %s: %s", moment, done)
            yield conn
        finally:
            trans.rollback()
            if cache is not None:
                conn.exec_driver_sql(f"PRAGMA cache_size = {int(cache)}")


_TOUCHED = Table("northstar_rewound", MetaData(), Column("kind", Text), Column("id", Text))


def _touched(conn: Connection, kind: str, ids: list, as_type=None):
    """A SELECT of `ids` from a temporary table of this connection (rolled back with the rewind),
    for the Keeper to follow rows the rewind deletes in one pass (`as_type`: ids that are not text)."""
    conn.execute(text(f"CREATE TEMPORARY TABLE IF NOT EXISTS {_TOUCHED.name} (kind TEXT, id TEXT)"))
    conn.execute(_TOUCHED.delete().where(_TOUCHED.c.kind == kind))
    for chunk in _chunks(ids, 5000):
        conn.execute(_TOUCHED.insert(), [{"kind": kind, "id": str(i)} for i in chunk])
    return select(_TOUCHED.c.id if as_type is None else cast(_TOUCHED.c.id, as_type)).where(_TOUCHED.c.kind == kind)


def _kept(keeper, conn: Connection, table: str, ids: list):
    """The Keeper following a write of the rows of `table` with these ids (nothing when none)."""
    return keeper.around_query(table, _touched(conn, table, ids)) if ids else nullcontext()


def _ids(conn: Connection, *queries) -> list:
    out: set = set()
    for q in queries:
        out.update(conn.execute(q).scalars())
    return sorted(out)


def _recounted(conn: Connection, keeper: Keeper, moment: dt.datetime, gone: list) -> Callable[[], None]:
    """What no Keeper follows, kept exact through the rewind: ARPA's distinct customers by region
    and product line (rollup_invoice_account_slices) and the NPS summary. Called before any write;
    the returned function is called after them.

    The rows of the days (slices) or months (NPS) from `moment`'s on are those of the invoices and
    answers that go or whose month loses some: deleted, and for NPS that month summed again from
    the answers left. Earlier rows move only where a deal or company goes: the slice of an older
    invoice of a live deal that goes (or of a deal of a company created since, a deal's region may
    be its company's), an older answer of a contact created since or of a company that goes or
    loses a deal (an answer's region is its company's, its product lines its company's deals').
    Those customers' and answers' rows are counted out now and in again after the writes (in the
    demo's weeks, none or a few). A group not fresh stays as it is (its readers use the base tables)."""
    ctx, day = keeper.ctx, moment.date()
    first = day.replace(day=1)
    d, inv, n, c, co = s.deals, s.invoices, s.nps_responses, s.contacts, s.companies
    live_gone = select(d.c.deal_id).where(d.c.deal_id.in_(_touched(conn, "gone_deals", gone)), not_(d.c.is_deleted))
    new_companies = select(co.c.company_id).where(co.c.created_at >= moment)
    counted, after = [], []
    if is_fresh(conn, ctx.defs, ACCOUNT_SLICES):
        account, sl = invoice_account(inv), s.rollup_invoice_account_slices
        older = [inv.c.issue_date < day, inv.c.issue_date.isnot(None)]
        keys = _ids(conn, select(account).where(*older, inv.c.deal_id.in_(live_gone)),
                    select(account).select_from(inv.join(d, d.c.deal_id == inv.c.deal_id))
                    .where(*older, d.c.company_id.in_(new_companies)))
        if keys:
            customers = _touched(conn, "slices", keys)
            counted.append((sl, lambda sign: _invoice_accounts_query(ctx, grain="day", sliced=True,
                                                                     customers=customers, sign=sign)))
        after.append(lambda: conn.execute(sl.delete().where(sl.c.day >= day.isoformat())))
    if is_fresh(conn, ctx.defs, NPS):
        month_began = dt.datetime.combine(first, dt.time())
        companies = _ids(conn, select(d.c.company_id).where(d.c.deal_id.in_(live_gone), d.c.company_id.isnot(None)),
                         new_companies)
        of_companies = ([select(c.c.contact_id).where(c.c.company_id.in_(_touched(conn, "nps_companies", companies)))]
                        if companies else [])
        contacts = _ids(conn, select(c.c.contact_id).where(c.c.created_at >= moment), *of_companies)
        answers = _ids(conn, select(n.c.response_id).where(
            n.c.submitted_at < month_began, n.c.contact_id.in_(_touched(conn, "nps_contacts", contacts)))) if contacts else []
        if answers:
            older = _touched(conn, "nps", answers, as_type=BigInteger)
            counted.append((s.rollup_nps_months, lambda sign: nps.build_query(
                ctx, [n.c.response_id.in_(older)], sign=sign, few=True)))
        r = s.rollup_nps_months

        def months_again() -> None:
            conn.execute(r.delete().where(r.c.month >= month_key(first)))
            conn.execute(r.insert().from_select([col.name for col in r.columns], nps.build_query(
                ctx, [n.c.submitted_at >= month_began], few=True)))
        after.append(months_again)

    def count(sign: int) -> None:
        for table, query in counted:
            conn.execute(table.insert().from_select([col.name for col in table.columns], query(sign)))
    count(-1)

    def recount() -> None:
        for step in after:
            step()
        count(+1)
    return recount


def _rewind(conn: Connection, moment: dt.datetime) -> dict:
    """Bring the store on `conn` back to `moment` inside its open transaction: the same result as
    `_cut_to` on a whole copy, written only where the store changed since (one difference no
    figure reads: a deal-contact or deal-company link to a row the store never had stays; the
    copy dropped it). Returns what it rewrote, by table (row counts)."""
    day = moment.date()
    keeper = Keeper(conn)  # before any write: notes whether the CRM rollups are fresh
    ctx = keeper.ctx
    flags, category = _stage_flags(conn), _stage_categories(conn)
    d, h, c, co, inv = s.deals, s.deal_stage_history, s.contacts, s.companies, s.invoices
    dc, dco, li = s.deal_contacts, s.deal_companies, s.line_items
    done: dict[str, int] = {}
    _REWIND_SECONDS.clear()
    clock = [time.perf_counter()]

    def lap(phase: str) -> None:  # seconds per phase, for benchmarks/snapshot_bench.py
        now = time.perf_counter()
        _REWIND_SECONDS[phase] = round(now - clock[0], 2)
        clock[0] = now

    # deals: the changed ones as deals_as_of rebuilds them, the others are as they were
    changed, moved = _changed_deals(conn, moment, flags, category)
    then = {r["deal_id"]: r for r in deals_as_of(conn, moment, changed, flags, category)}
    gone = sorted(changed - set(then))
    recount = _recounted(conn, keeper, moment, gone)  # before any write
    # the MRR summary's customers whose rows the rewind can move: those of the invoices issued from
    # `moment` on, and of the changed deals (from billing data with the deals' own region and
    # product line, only a deal that goes changes its invoices' rows: their segment becomes none);
    # their rows are summed again at the end
    mrr_customers = None
    # nothing to rewind (a snapshot taken on its Monday before any write): the MRR summary stands
    later = [select(inv.c.invoice_id).where(inv.c.issue_date >= day), select(co.c.company_id).where(co.c.created_at >= moment)]
    still = not changed and not any(conn.execute(q.limit(1)).first() for q in later)
    if not still and recurring.is_fresh(conn, ctx.defs):
        source = recurring.source_in_use(ctx)
        own = (source == "invoices" and ctx.defs.get("dimensions.region_from") == "deal"
               and ctx.defs.get("dimensions.product_line_from") == "deal")
        moved_deals = gone if own else sorted(changed)
        if ctx.defs.get("dimensions.region_from") == "company":  # the deals of a company that goes lose its region
            moved_deals = sorted(set(moved_deals) | set(_ids(conn, select(d.c.deal_id).where(d.c.company_id.in_(later[1])))))
        keys = _ids(conn, *recurring.customers_of(_touched(conn, "mrr_deals", moved_deals),
                                                  [inv.c.issue_date >= day], deals_too=not own))
        mrr_customers = _touched(conn, "mrr", [k for k in keys if k is not None])
        mrr_before = recurring.customer_rows(conn, mrr_customers)
    cols = ("stage_id", "amount_cents", "close_date", "forecast_category", "lost_reason")
    with _kept(keeper, conn, "deals", sorted(changed)):
        for chunk in _chunks(gone):
            conn.execute(d.delete().where(d.c.deal_id.in_(chunk)))
        rows = [{"key": r["deal_id"], **{f"v_{k}": r[k] for k in cols}} for r in then.values()]
        if rows:
            conn.execute(d.update().where(d.c.deal_id == bindparam("key"))
                         .values({k: bindparam(f"v_{k}") for k in cols}), rows)
    done["deals"] = len(changed)
    for chunk in _chunks(sorted(moved)):
        conn.execute(h.delete().where(h.c.deal_id.in_(chunk), h.c.entered_at >= moment))

    lap("deals")
    # contacts created from `moment` on go, lifecycle dates and first touches reached since are emptied
    gone_contacts = _ids(conn, select(c.c.contact_id).where(c.c.created_at >= moment))
    dated = {col: _ids(conn, select(c.c.contact_id).where(c.c[col] >= moment)) for col in _CONTACT_DATES}
    touched = sorted(set(gone_contacts).union(*dated.values()))
    with _kept(keeper, conn, "contacts", touched):
        for chunk in _chunks(gone_contacts):
            conn.execute(c.delete().where(c.c.contact_id.in_(chunk)))
        for col in _CONTACT_DATES:
            if dated[col]:  # (first touches have no index: not read twice for nothing)
                conn.execute(c.update().where(c.c[col] >= moment).values({col: None}))
    done["contacts"] = len(touched)
    gone_companies = _ids(conn, select(co.c.company_id).where(co.c.created_at >= moment))
    with _kept(keeper, conn, "companies", gone_companies):
        for chunk in _chunks(gone_companies):
            conn.execute(co.delete().where(co.c.company_id.in_(chunk)))
    done["companies"] = len(gone_companies)

    lap("contacts")
    # links and line items of what went
    for chunk in _chunks(gone):
        conn.execute(dc.delete().where(dc.c.deal_id.in_(chunk)))
        conn.execute(dco.delete().where(dco.c.deal_id.in_(chunk)))
    # by contact or company: one pass over the links (their key starts with the deal)
    if gone_contacts:
        conn.execute(dc.delete().where(dc.c.contact_id.in_(_touched(conn, "gone_contacts", gone_contacts))))
    if gone_companies:
        conn.execute(dco.delete().where(dco.c.company_id.in_(_touched(conn, "gone_companies", gone_companies))))
    items = _ids(conn, select(li.c.line_item_id).where(li.c.deal_id.is_(None)),
                 *[select(li.c.line_item_id).where(li.c.deal_id.in_(chunk)) for chunk in _chunks(gone)])
    with _kept(keeper, conn, "line_items", items):
        for chunk in _chunks(items):
            conn.execute(li.delete().where(li.c.line_item_id.in_(chunk)))
    done["line_items"] = len(items)

    lap("links")
    # finance and marketing: dated from `moment` on goes, invoices paid since are unpaid
    n_inv = conn.execute(inv.delete().where(inv.c.issue_date >= day)).rowcount
    n_inv += conn.execute(inv.update().where(inv.c.paid_date >= day).values(
        paid_date=None, status=case((inv.c.status == "paid", "open"), else_=inv.c.status))).rowcount
    led = s.ledger_entries
    n_led = conn.execute(led.delete().where(led.c.ecriture_date >= day)).rowcount
    conn.execute(s.marketing_spend.delete().where(s.marketing_spend.c.spend_date >= day))
    conn.execute(s.lead_feedback.delete().where(s.lead_feedback.c.decided_at >= moment))
    conn.execute(s.nps_responses.delete().where(s.nps_responses.c.submitted_at >= moment))
    done["invoices"], done["ledger_entries"] = n_inv, n_led

    lap("finance")
    # the invoice and ledger rollups: the months from `moment`'s on are summed again from the rows
    # left (a write there touches no earlier month)
    first = day.replace(day=1)
    if n_inv and is_fresh(conn, ctx.defs, INVOICES):
        m = s.rollup_invoice_months
        conn.execute(m.delete().where(m.c.month >= month_key(first)))
        conn.execute(m.insert().from_select([col.name for col in m.columns],
                                            _invoice_month_query(ctx, lambda col: [col >= first])))
        # ARPA's customers by month: those of the months from `first` on, the customers invoiced
        # in them counted again (a row's previous month is an earlier one, which stands)
        a, account = s.rollup_invoice_accounts, invoice_account(inv)
        conn.execute(a.delete().where(a.c.month >= month_key(first)))
        conn.execute(a.insert().from_select([col.name for col in a.columns], _invoice_accounts_query(
            ctx, customers=select(account).where(inv.c.issue_date >= first), months_from=month_key(first))))
        # by day: the days from the month's first summed again; the customers by (day, previous
        # day) of the days before `day` stand (a previous day is an earlier one, and an invoice
        # paid later still counts), those of the days that went have no invoice left
        r = s.rollup_invoice_days
        conn.execute(r.delete().where(r.c.day >= first.isoformat()))
        conn.execute(r.insert().from_select([col.name for col in r.columns],
                                            _invoice_month_query(ctx, lambda col: [col >= first], grain="day")))
        a = s.rollup_invoice_account_days
        conn.execute(a.delete().where(a.c.day >= day.isoformat()))
    if n_inv and is_fresh(conn, ctx.defs, INVOICE_DIMS):  # the deals' own moves were kept by the Keeper
        r = s.rollup_invoice_dims
        conn.execute(r.delete().where(r.c.month >= month_key(first)))
        conn.execute(r.insert().from_select([col.name for col in r.columns],
                                            _invoice_dims_query(ctx, lambda col: [col >= first])))
        r = s.rollup_invoice_dim_days
        conn.execute(r.delete().where(r.c.day >= first.isoformat()))
        conn.execute(r.insert().from_select([col.name for col in r.columns],
                                            _invoice_dims_query(ctx, lambda col: [col >= first], grain="day")))
    recount()
    if n_led and is_fresh(conn, ctx.defs, LEDGER):
        r = s.rollup_ledger_months
        conn.execute(r.delete().where(r.c.month >= month_key(first)))
        conn.execute(r.insert().from_select([col.name for col in r.columns],
                                            _ledger_month_query(ctx, [led.c.ecriture_date >= first])))
        r = s.rollup_ledger_days
        conn.execute(r.delete().where(r.c.day >= first.isoformat()))
        conn.execute(r.insert().from_select([col.name for col in r.columns],
                                            _ledger_month_query(ctx, [led.c.ecriture_date >= first], grain="day")))
    lap("finance rollups")
    # the MRR summary: the rows of the customers found above summed again, its summaries corrected
    if mrr_customers is not None:
        if recurring.source_in_use(Ctx(conn, ctx.defs)) == source:
            done["mrr_rows"] = recurring.replace_customers(conn, Ctx(conn, ctx.defs), mrr_customers, mrr_before)
        else:  # the rewind changed the source MRR comes from: the recurring metrics read the base tables
            conn.execute(s.rollup_state.update().where(s.rollup_state.c.name == recurring.GROUP)
                         .values(built_version=-1))
    lap("mrr")
    return done


# --- taking snapshots ------------------------------------------------------------------

def _find(conn: Connection, week: dt.date, kinds: Iterable[str]) -> dict | None:
    p = s.pipeline_snapshots
    row = conn.execute(select(p).where(p.c.week_start == week, p.c.kind.in_(list(kinds)))
                       .order_by(p.c.taken_at, p.c.snapshot_id).limit(1)).mappings().first()
    return dict(row) if row else None


def _write(engine: Engine, week: dt.date, kind: str, taken_at: dt.datetime,
           deals: list[dict], metrics: list[dict]) -> int:
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # one snapshot writer at a time
            conn.execute(text("SELECT pg_advisory_xact_lock(424243)"))
        if kind in WEEKLY_KINDS:
            existing = _find(conn, week, WEEKLY_KINDS)
            if existing:  # someone else took it meanwhile: theirs stands
                return existing["snapshot_id"]
        version = bump_data_version(conn, "pipeline_snapshots", "snapshot_deals", "snapshot_metrics")
        sid = conn.execute(s.pipeline_snapshots.insert().values(
            week_start=week, taken_at=taken_at, kind=kind, data_version=version)).inserted_primary_key[0]
        cols = set(s.snapshot_deals.c.keys())
        if deals:
            conn.execute(s.snapshot_deals.insert(),
                         [{k: v for k, v in dict(d, snapshot_id=sid).items() if k in cols} for d in deals])
        if metrics:
            conn.execute(s.snapshot_metrics.insert(), [dict(m, snapshot_id=sid) for m in metrics])
    return int(sid)


def take_snapshot(engine: Engine, week_start: dt.date | None = None, kind: str = "weekly",
                  now: dt.datetime | None = None) -> int:
    """Take (or, for a weekly one that exists, return) the snapshot of a week; returns its id.

    A weekly snapshot holds the store as it stood at the end of the week under review (its Monday
    00:00), whether the week is the current one or a past one (kind `reconstructed`, as
    `backfill_demo_snapshots` does). An on-demand one of the current week is the live store of
    the moment. A future week is refused.
    """
    if kind not in ("weekly", "on_demand"):
        raise SnapshotError(f"Snapshot kind {kind!r} is not one of weekly, on_demand.")
    now = now or utcnow()
    this_week = week_of(now.date())
    week = week_of(week_start or now.date())
    if week > this_week:
        raise SnapshotError(f"The week of {week} has not started yet; snapshot this week ({this_week}) "
                            "or an earlier one.")
    if week < this_week:
        return reconstruct_snapshot(engine, week, now=now, kind=kind)
    if kind == "weekly":
        return frozen_snapshot(engine, week, "weekly", now)
    defs = get_definitions(engine)
    review = review_period(week, kind, now.date())
    quarter = fiscal_quarter(review[1], defs.fiscal_year_start_month)
    recent_from = fiscal_quarter(quarter[0] - dt.timedelta(days=1), defs.fiscal_year_start_month)[0]
    with engine.connect() as conn:
        deals = live_deals(conn, recent_from, _previous_week_began(conn, week))
        cuts = standard_cuts(conn)
    metrics = _metric_rows(engine, cuts, review, quarter)
    sid = _write(engine, week, kind, now, deals, metrics)
    log.info("snapshot %s of week %s (%s): %d deals, %d metric values", sid, week, kind, len(deals), len(metrics))
    return sid


def frozen_snapshot(engine: Engine, week: dt.date, kind: str, now: dt.datetime,
                    rewind: Callable[[dt.datetime, list[dict]], Engine] | None = None) -> int:
    """The snapshot of `week` (a Monday) computed over the store as it stood that Monday at 00:00,
    the end of the week under review (see the module docstring): on the store rewound in place
    (`rewound`), or, given `rewind`, on an `as_of_store` copy (the reference the tests compare
    with). A weekly or reconstructed one that exists is returned as it is."""
    moment = dt.datetime.combine(week, dt.time())
    with engine.connect() as conn:
        if kind in WEEKLY_KINDS:
            existing = _find(conn, week, WEEKLY_KINDS)
            if existing:
                return existing["snapshot_id"]
        defs = load_definitions(conn)
    review = review_period(week, "weekly", week)
    quarter = fiscal_quarter(review[1], defs.fiscal_year_start_month)
    recent_from = fiscal_quarter(quarter[0] - dt.timedelta(days=1), defs.fiscal_year_start_month)[0]

    def note_of(metric_id: str) -> str:
        return frozen_note(metric_id, moment, now.date())

    if rewind is None:
        with rewound(engine, moment) as then:
            metrics = _metric_rows_on(then, standard_cuts(then), review, quarter, note_of)
            deals = _snapshot_deals(then, recent_from)
    else:
        with engine.connect() as conn:
            deals_then = deals_as_of(conn, moment)
        copy = rewind(moment, deals_then)
        with copy.connect() as conn:
            metrics = _metric_rows_on(conn, standard_cuts(conn), review, quarter, note_of)
        deals = [{k: d[k] for k in (*_DEAL_COLS, "is_closed", "is_won")}
                 for d in deals_then if _keep(d, recent_from, None)]
    sid = _write(engine, week, kind, now, deals, metrics)
    log.info("snapshot %s of week %s (%s, as of %s): %d deals, %d metric values",
             sid, week, kind, moment, len(deals), len(metrics))
    return sid


def _snapshot_deals(conn: Connection, recent_from: dt.date) -> list[dict]:
    """The snapshot's deals from the (rewound) store on `conn`: open ones and those closed
    recently (`_keep` without the changed-since rule), as frozen_snapshot stores them."""
    flags = _stage_flags(conn)
    d_ = s.deals
    closed_pairs = [key for key, (closed, _) in flags.items() if closed]
    closed = or_(*[and_(d_.c.pipeline_id == p, d_.c.stage_id == st) for p, st in closed_pairs]) if closed_pairs else false()
    q = (select(*[d_.c[col] for col in _DEAL_COLS]).where(d_.c.is_deleted.is_(False),
                                                           or_(not_(closed), d_.c.close_date >= recent_from)))
    out = []
    for r in conn.execute(q).mappings():
        row = dict(r)
        row["is_closed"], row["is_won"] = flags.get((row["pipeline_id"], row["stage_id"]), (False, False))
        if row["is_closed"]:
            row["forecast_category"] = None  # as deals_as_of has it
        if _keep(row, recent_from, None):
            out.append(row)
    return out


def reconstruct_snapshot(engine: Engine, week_start: dt.date, now: dt.datetime | None = None,
                         kind: str = "weekly",
                         _as_of: Callable[[dt.datetime, list[dict]], Engine] | None = None) -> int:
    """The snapshot of a past week rebuilt later (kind `reconstructed`, or `on_demand`): the store
    as it stood on its Monday at 00:00, as `frozen_snapshot` computes it."""
    kind = "reconstructed" if kind == "weekly" else kind
    return frozen_snapshot(engine, week_of(week_start), kind, now or utcnow(), _as_of)


def ensure_weekly_snapshot(engine: Engine, now: dt.datetime | None = None) -> int | None:
    """Take this week's snapshot if it has none (called after a successful sync); returns the id
    of a new snapshot, None when the week already had one."""
    now = now or utcnow()
    with engine.connect() as conn:
        if _find(conn, week_of(now.date()), WEEKLY_KINDS):
            return None
    return take_snapshot(engine, kind="weekly", now=now)


def backfill_demo_snapshots(engine: Engine, weeks: int = 12, as_of: dt.date | None = None) -> list[int]:
    """The weekly snapshots of the `weeks` weeks before the week of `as_of` (default today),
    rebuilt as they stood (kind `reconstructed`), plus this week's; weeks that have one are kept."""
    today = as_of or utcnow().date()
    this_week = week_of(today)
    now = dt.datetime.combine(today, dt.time(7, 0)) if as_of else utcnow()
    # each week on the store rewound in place to its Monday: its cost is what changed since then
    ids = [frozen_snapshot(engine, this_week, "weekly", now)]
    ids += [reconstruct_snapshot(engine, this_week - dt.timedelta(days=7 * n), now=now)
            for n in range(1, weeks + 1)]
    ids.reverse()  # oldest week first
    if engine.dialect.name == "sqlite":  # fold the WAL into the file: a copied demo store is complete
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return ids


# --- reading ---------------------------------------------------------------------------

def _previous_week_began(conn: Connection, week: dt.date) -> dt.datetime | None:
    """Monday 00:00 of the latest earlier week with a snapshot (deals changed since are kept)."""
    p = s.pipeline_snapshots
    prev = conn.execute(select(func.max(p.c.week_start)).where(p.c.week_start < week)).scalar()
    return dt.datetime.combine(prev, dt.time()) if prev else None


def list_snapshots(engine: Engine) -> list[dict]:
    """Every snapshot, newest week first: snapshot_id, week_start, taken_at, kind, data_version."""
    p = s.pipeline_snapshots
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(
            select(p).order_by(desc(p.c.week_start), desc(p.c.taken_at), desc(p.c.snapshot_id))).mappings()]


def get_snapshot(engine: Engine, snapshot_id: int) -> dict:
    p = s.pipeline_snapshots
    with engine.connect() as conn:
        row = conn.execute(select(p).where(p.c.snapshot_id == snapshot_id)).mappings().first()
    if row is None:
        raise SnapshotError(f"There is no snapshot {snapshot_id}; `python cli.py snapshot --list` shows them.")
    return dict(row)


def snapshot_for_week(engine: Engine, week_start: dt.date) -> dict | None:
    """The snapshot a week's meeting uses: its weekly one, else its latest on-demand one."""
    week = week_of(week_start)
    with engine.connect() as conn:
        found = _find(conn, week, WEEKLY_KINDS)
        if found:
            return found
        p = s.pipeline_snapshots
        row = conn.execute(select(p).where(p.c.week_start == week)
                           .order_by(desc(p.c.taken_at), desc(p.c.snapshot_id)).limit(1)).mappings().first()
    return dict(row) if row else None


def previous_snapshot(engine: Engine, snapshot: dict) -> dict | None:
    """The snapshot used by the meeting of the latest earlier week that has one."""
    p = s.pipeline_snapshots
    with engine.connect() as conn:
        week = conn.execute(select(func.max(p.c.week_start)).where(p.c.week_start < snapshot["week_start"])).scalar()
    return snapshot_for_week(engine, week) if week else None


def snapshot_metric_rows(engine: Engine, snapshot_id: int) -> pd.DataFrame:
    """The stored values: metric_id, cut_type, cut_value, period_start, period_end, value, unit, note."""
    m = s.snapshot_metrics
    with engine.connect() as conn:
        rows = conn.execute(select(m).where(m.c.snapshot_id == snapshot_id)
                            .order_by(m.c.cut_type, m.c.cut_value, m.c.metric_id)).mappings().all()
    cols = ["snapshot_id", "metric_id", "cut_type", "cut_value", "period_start", "period_end", "value", "unit", "note"]
    return pd.DataFrame([dict(r) for r in rows], columns=cols)


def snapshot_deal_rows(engine: Engine, snapshot_id: int) -> list[dict]:
    d = s.snapshot_deals
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(d).where(d.c.snapshot_id == snapshot_id)
                                              .order_by(d.c.deal_id)).mappings()]


def snapshot_deal_pairs(engine: Engine, first_id: int, second_id: int,
                        closing: tuple[dt.date, dt.date]) -> tuple[list[dict], list[dict]]:
    """The rows of two snapshots (snapshot_deal_rows of each) of the deals that close in
    `closing` in at least one of them, each deal's row in both: what a comparison of the two over
    periods inside `closing` (the waterfall over the quarter, won in the review weeks, the
    forecast) reads. A deal closing outside it in both snapshots, or without a close date, moves
    none of those; a snapshot holds every open deal (a 1M-deal store: 270k rows), most of them
    closing in other quarters, so only those of the periods are read and turned into dicts."""
    d = s.snapshot_deals
    both = d.c.snapshot_id.in_([first_id, second_id])
    ids = select(d.c.deal_id).where(both, d.c.close_date >= closing[0], d.c.close_date <= closing[1]).distinct()
    out: dict[int, list[dict]] = {first_id: [], second_id: []}
    with engine.connect() as conn:
        result = conn.execute(select(d).where(both, d.c.deal_id.in_(ids)).order_by(d.c.deal_id))
        keys = list(result.keys())
        for r in result:  # tuples zipped: twice as fast as a mapping per row, on 100k+ rows
            row = dict(zip(keys, r))
            out[row["snapshot_id"]].append(row)
    return out[first_id], out[second_id]


def value_of(rows: pd.DataFrame, metric_id: str, cut_type: str = "total", cut_value: str = "") -> float | None:
    """One stored value (None when not available or not stored)."""
    hit = rows[(rows.metric_id == metric_id) & (rows.cut_type == cut_type) & (rows.cut_value == cut_value)]
    if hit.empty or pd.isna(hit.iloc[0]["value"]):
        return None
    return float(hit.iloc[0]["value"])


def live_differences(engine: Engine, snapshot: dict, rows: pd.DataFrame, tolerance: float = 0.005) -> list[dict]:
    """Total-cut metrics whose value computed from today's data differs from the stored one
    (empty when nothing changed in the store since the snapshot)."""
    if snapshot.get("data_version") is not None and data_version(engine) == snapshot["data_version"]:
        return []
    out = []
    for cut in ("total", QUARTER_CUT):
        part = rows[rows.cut_type == cut]
        if part.empty:
            continue
        first = part.iloc[0].to_dict()
        live = compute_many(engine, list(part.metric_id), metric_filters(first))
        for r in part.itertuples():
            now = live[r.metric_id].value if r.metric_id in live else None
            then = None if pd.isna(r.value) else float(r.value)
            if (now is None) != (then is None) or (now is not None and abs(now - then) > tolerance * max(1.0, abs(then))):
                out.append({"metric_id": r.metric_id, "cut_type": cut, "snapshot": then, "today": now})
    return out


__all__ = ["KINDS", "SnapshotError", "budget_targets", "stocks_as_of", "fiscal_quarter", "review_period", "standard_cuts", "metric_filters",
           "live_deals", "deals_as_of", "as_of_store", "rewound", "frozen_note", "take_snapshot",
           "frozen_snapshot", "reconstruct_snapshot", "ensure_weekly_snapshot",
           "backfill_demo_snapshots", "list_snapshots", "get_snapshot", "snapshot_for_week",
           "previous_snapshot", "snapshot_metric_rows", "snapshot_deal_rows", "snapshot_deal_pairs", "value_of",
           "live_differences"]


def stocks_as_of(engine: Engine, metric_ids: Iterable[str], start: dt.date, end: dt.date,
                 day: dt.date) -> tuple[dict[str, float], dt.date | None]:
    """The quarter values (whole company) of `metric_ids` for the quarter `start`..`end` as the
    store stood at the end of `day`, from the weekly meeting snapshot frozen then (the one of the
    week starting the next day); ({}, None) when no such snapshot exists. Open pipeline and the
    figures built on it are read from today's deals, so a past period's value today is what was
    left open of it, not what it was at that point: this is the only honest comparison."""
    ids = list(metric_ids)
    week = day + dt.timedelta(days=1)
    if not ids or week.weekday() != 0:
        return {}, None
    m = s.snapshot_metrics
    with engine.connect() as conn:
        found = _find(conn, week, WEEKLY_KINDS)
        if not found:
            return {}, None
        rows = conn.execute(select(m.c.metric_id, m.c.value).where(
            m.c.snapshot_id == found["snapshot_id"], m.c.cut_type == QUARTER_CUT, m.c.cut_value == "",
            m.c.period_start == start, m.c.period_end == end, m.c.metric_id.in_(ids))).all()
    return {mid: float(v) for mid, v in rows if v is not None}, week
