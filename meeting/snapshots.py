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
Monday at 00:00 (`as_of_engine`): deals at their stage of then (deal_stage_history), only deals,
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
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable, Iterator

import pandas as pd
from sqlalchemy import (Boolean, Column, Connection, Engine, MetaData, String, Table, and_, case, desc, func,
                        or_, select, text)

from metrics import REGISTRY, Filters, compute_many, get_definitions
from metrics.definitions import load_definitions
from metrics.finance_details import BUDGET_ACTUALS
from metrics.registry import Ctx, NotAvailable
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
    ids = list(REGISTRY)
    plan = [(ct, cv, review) for ct, cv in cuts] + [(QUARTER_CUT, "", quarter)]
    rows = []
    for cut_type, cut_value, (start, end) in plan:
        f = _filters("total" if cut_type == QUARTER_CUT else cut_type, cut_value, start, end)
        values = compute_many(engine, ids, f)
        for mid in ids:
            mv = values[mid]
            note = mv.reason
            if note_of is not None:
                note = f"{note_of(mid)}; {note}" if note else note_of(mid)
            rows.append({"metric_id": mid, "cut_type": cut_type, "cut_value": cut_value,
                         "period_start": start, "period_end": end,
                         "value": None if mv.value is None else float(mv.value),
                         "unit": mv.unit, "note": note})
    return rows + _target_rows(engine, quarter)


def budget_targets(engine: Engine, start: dt.date, end: dt.date) -> dict[str, tuple[float, str]]:
    """{metric_id: (target, budget line)} of each budgeted metric for start..end, prorated to the
    days as the metric layer does (metrics.sales.budget_for_period); `target_revenue` is the
    North Star's target. Over the quarter to a day, it is the target paced to that day."""
    b = s.budgets
    f = Filters(start, end)
    out: dict[str, tuple[float, str]] = {}
    with engine.connect() as conn:
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


def _target_rows(engine: Engine, quarter: tuple[dt.date, dt.date]) -> list[dict]:
    """The quarter's budget of each budgeted metric (budget_targets)."""
    return [{"metric_id": mid, "cut_type": TARGET_CUT, "cut_value": "", "period_start": quarter[0],
             "period_end": quarter[1], "value": value, "unit": REGISTRY[mid].unit, "note": f"budget line: {line}"}
            for mid, (value, line) in budget_targets(engine, *quarter).items()]


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
    d_ = s.deals
    closed = [and_(d_.c.pipeline_id == p, d_.c.stage_id == st) for (p, st), (is_closed, _) in flags.items() if is_closed]
    maybe = [~or_(*closed), d_.c.close_date >= recent_from] if closed else [d_.c.deal_id.is_not(None)]
    if changed_since is not None:
        maybe.append(d_.c.updated_at >= changed_since)
    q = select(*[d_.c[c] for c in _DEAL_COLS], d_.c.updated_at).where(d_.c.is_deleted.is_(False), or_(*maybe))
    out = []
    for r in conn.execute(q).mappings():
        d = dict(r)
        d["is_closed"], d["is_won"] = flags.get((d["pipeline_id"], d["stage_id"]), (False, False))
        if _keep(d, recent_from, changed_since):
            d.pop("updated_at")
            out.append(d)
    return out


def deals_as_of(conn: Connection, moment: dt.datetime) -> list[dict]:
    """Every deal as it stood at `moment` (all `deals` columns plus is_closed / is_won), rebuilt
    from deal_stage_history.

    A deal's stage, amount and close date are those of its last history row entered before
    `moment` (or its first row, when history starts later; amount or close date missing on that
    row: the deal's current one); a deal without history keeps its current state, except that one
    closed after `moment` (close date on or after its day) is left out: it was not closed then,
    and its stage of then is unknown. Deals created after `moment`, or deleted since, are left
    out. The forecast category is the one deals in that stage carry today.
    """
    flags = _stage_flags(conn)
    h = s.deal_stage_history
    last = (select(h.c.deal_id, func.max(h.c.entered_at).label("at"))
            .where(h.c.entered_at < moment).group_by(h.c.deal_id).subquery())
    first = select(h.c.deal_id, func.min(h.c.entered_at).label("at")).group_by(h.c.deal_id).subquery()
    cols = (h.c.deal_id, h.c.stage_id, h.c.amount_cents, h.c.close_date)
    hist = {r.deal_id: r for r in conn.execute(
        select(*cols).join(first, and_(h.c.deal_id == first.c.deal_id, h.c.entered_at == first.c.at)))}
    hist.update({r.deal_id: r for r in conn.execute(
        select(*cols).join(last, and_(h.c.deal_id == last.c.deal_id, h.c.entered_at == last.c.at)))})
    d_ = s.deals
    category = _stage_categories(conn)
    out = []
    for r in conn.execute(select(d_).where(d_.c.is_deleted.is_(False), d_.c.created_at < moment)).mappings():
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


# Contacts' lifecycle dates, each reached by `moment` or not yet (then emptied).
_CONTACT_DATES = ("became_lead_at", "became_mql_at", "became_sql_at", "became_opportunity_at",
                  "became_customer_at", "first_sales_touch_at")
# What an as-of store holds: everything the metrics read, as it stood (the rollups, snapshots,
# audit trail and the rest are left out; the metrics then read the base tables).
_PLAIN_TABLES = ("store_meta", "definition_overrides", "import_runs", "pipelines", "pipeline_stages",
                 "owners", "products", "budgets")
_AS_OF_TABLES = _PLAIN_TABLES + ("deal_stage_history", "contacts", "deal_contacts", "companies",
                                 "deal_companies", "line_items", "marketing_spend", "invoices",
                                 "ledger_entries", "deals")


def _not_from(col, bound):
    """Rows kept by a cut at `bound`: dated before it, or undated (a NULL date is never cut)."""
    return or_(col.is_(None), col < bound)


def _as_of_selects(src: dict, dst: dict, helpers: dict, moment: dt.datetime) -> list[tuple]:
    """(target table, SELECT over the live tables `src`) for every table of an as-of store, in
    the order they must be filled (links read the deals, contacts and companies already kept in
    `dst`). The one statement of what "as it stood at `moment`" means (see the module docstring):
    stage history entered, contacts and companies created, spend, invoices (by issue date) and
    ledger entries (by entry date) dated from `moment` on are left out; contacts' lifecycle dates
    and first touches from then on are empty, invoices paid from then on unpaid (status `open`);
    links and line items of what is left out are too; the deals are `deals_as_of`'s, in SQL."""
    day = moment.date()
    out = [(dst[name], select(src[name])) for name in _PLAIN_TABLES]
    h = src["deal_stage_history"]
    out.append((dst["deal_stage_history"], select(h).where(h.c.entered_at < moment)))
    c = src["contacts"]
    cols = [case((c.c[col] >= moment, None), else_=c.c[col]).label(col) if col in _CONTACT_DATES else c.c[col]
            for col in c.c.keys()]
    out.append((dst["contacts"], select(*cols).where(_not_from(c.c.created_at, moment))))
    co = src["companies"]
    out.append((dst["companies"], select(co).where(_not_from(co.c.created_at, moment))))
    inv = src["invoices"]
    paid_later = inv.c.paid_date >= day
    cols = []
    for col in inv.c.keys():
        if col == "paid_date":
            cols.append(case((paid_later, None), else_=inv.c.paid_date).label(col))
        elif col == "status":
            cols.append(case((and_(paid_later, inv.c.status == "paid"), "open"), else_=inv.c.status).label(col))
        else:
            cols.append(inv.c[col])
    out.append((dst["invoices"], select(*cols).where(_not_from(inv.c.issue_date, day))))
    le, ms = src["ledger_entries"], src["marketing_spend"]
    out.append((dst["ledger_entries"], select(le).where(_not_from(le.c.ecriture_date, day))))
    out.append((dst["marketing_spend"], select(ms).where(_not_from(ms.c.spend_date, day))))
    out.append((dst["deals"], _deals_as_of_select(src, helpers, moment)))
    kept_deals, kept_contacts = select(dst["deals"].c.deal_id), select(dst["contacts"].c.contact_id)
    dc, dco, li = src["deal_contacts"], src["deal_companies"], src["line_items"]
    out.append((dst["deal_contacts"], select(dc).where(dc.c.deal_id.in_(kept_deals),
                                                       dc.c.contact_id.in_(kept_contacts))))
    out.append((dst["deal_companies"], select(dco).where(
        dco.c.deal_id.in_(kept_deals), dco.c.company_id.in_(select(dst["companies"].c.company_id)))))
    out.append((dst["line_items"], select(li).where(li.c.deal_id.is_not(None), li.c.deal_id.in_(kept_deals))))
    return out


def _deals_as_of_select(src: dict, helpers: dict, moment: dt.datetime):
    """`deals_as_of` as one SELECT over the live tables: each deal at its last stage-history row
    entered before `moment` (else its first row; of rows entered at the same instant, the last
    recorded), with `helpers` holding the stage flags and the forecast category of each stage."""
    d, h = src["deals"], src["deal_stage_history"]
    flags, category = helpers["flags"], helpers["category"]

    def row_at(where, agg):
        at = select(h.c.deal_id, agg(h.c.entered_at).label("at")).where(*where).group_by(h.c.deal_id).subquery()
        pick = (select(func.max(h.c.id).label("id")).select_from(
            h.join(at, and_(h.c.deal_id == at.c.deal_id, h.c.entered_at == at.c.at))).group_by(h.c.deal_id).subquery())
        return select(h.c.deal_id, h.c.stage_id, h.c.amount_cents, h.c.close_date).where(
            h.c.id.in_(select(pick.c.id))).subquery()

    last = row_at([h.c.entered_at < moment], func.max)
    first = row_at([], func.min)
    has_last, has_past = last.c.deal_id.is_not(None), or_(last.c.deal_id.is_not(None), first.c.deal_id.is_not(None))

    def past(col):
        return case((has_last, last.c[col]), else_=first.c[col])

    stage = case((has_past, past("stage_id")), else_=d.c.stage_id)
    amount = case((has_past, func.coalesce(past("amount_cents"), d.c.amount_cents)), else_=d.c.amount_cents)
    close = case((has_past, func.coalesce(past("close_date"), d.c.close_date)), else_=d.c.close_date)
    f = flags.alias("f")
    cat = category.alias("cat")
    closed = func.coalesce(f.c.is_closed, False)
    values = {
        "stage_id": stage, "amount_cents": amount, "close_date": close,
        "forecast_category": case((closed, None), (has_past, cat.c.forecast_category), else_=d.c.forecast_category),
        "lost_reason": case((closed, d.c.lost_reason), else_=None),
    }
    cols = [values[col].label(col) if col in values else d.c[col] for col in d.c.keys()]
    joined = (d.outerjoin(last, last.c.deal_id == d.c.deal_id).outerjoin(first, first.c.deal_id == d.c.deal_id)
              .outerjoin(f, and_(f.c.pipeline_id == d.c.pipeline_id, f.c.stage_id == stage))
              .outerjoin(cat, cat.c.stage_id == stage))
    closed_later = and_(~has_past, closed, or_(close.is_(None), close >= moment.date()))
    return select(*cols).select_from(joined).where(d.c.is_deleted.is_(False), d.c.created_at < moment,
                                                   ~closed_later)


def _helper_tables(md: MetaData) -> dict:
    return {
        "flags": Table("asof_stage_flags", md, Column("pipeline_id", String(64)), Column("stage_id", String(64)),
                       Column("is_closed", Boolean), Column("is_won", Boolean)),
        "category": Table("asof_stage_category", md, Column("stage_id", String(64)),
                          Column("forecast_category", String(64))),
    }


def _stage_categories(conn: Connection) -> dict[str, str]:
    """The forecast category deals in each stage carry today (the most common one)."""
    d_ = s.deals
    category = {}
    for stage_id, cat, n in conn.execute(
            select(d_.c.stage_id, d_.c.forecast_category, func.count())
            .where(d_.c.forecast_category.is_not(None)).group_by(d_.c.stage_id, d_.c.forecast_category)
            .order_by(d_.c.stage_id, func.count())):
        category[stage_id] = cat  # ascending count: the most common category wins
    return category


def _tables_in(schema: str | None) -> dict:
    md = MetaData()
    return {name: s.metadata.tables[name].to_metadata(md, schema=schema) for name in _AS_OF_TABLES}


@contextmanager
def as_of_engine(engine: Engine, moment: dt.datetime) -> Iterator[Engine]:
    """A throw-away store holding what the metrics read, as the live store stood at `moment`
    (`_as_of_selects`), filled by the database itself, never through Python: on SQLite a
    temporary file with the live store ATTACHed, on PostgreSQL a temporary schema in the same
    database. Nothing is copied and then deleted; the rollups, snapshots and audit trail are not
    copied at all. Yields its engine; the metric layer computes over it as over any store."""
    with engine.connect() as conn:
        flags = [{"pipeline_id": p, "stage_id": st, "is_closed": c_, "is_won": w}
                 for (p, st), (c_, w) in _stage_flags(conn).items()]
        category = [{"stage_id": k, "forecast_category": v} for k, v in _stage_categories(conn).items()]
        live_schema = conn.execute(text("SELECT current_schema()")).scalar() \
            if engine.dialect.name == "postgresql" else None
    if engine.dialect.name == "postgresql":
        schema = f"ns_asof_{uuid.uuid4().hex[:12]}"
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = engine.url.update_query_dict({"options": f"-csearch_path={schema}"})
        tmp_url = url.render_as_string(hide_password=False)
        try:
            tmp = open_store(StoreSettings(tmp_url, "a frozen snapshot"))
            try:
                _fill(tmp, _tables_in(live_schema), _tables_in(schema), schema, flags, category, moment)
                yield tmp
            finally:
                tmp.dispose()
                store_db._ENGINES.pop(tmp_url, None)
        finally:
            with engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        return
    live_path = engine.url.database
    if engine.dialect.name != "sqlite" or live_path in (None, "", ":memory:"):
        raise SnapshotError("A frozen snapshot needs a SQLite store in a file or a PostgreSQL store.")
    with tempfile.TemporaryDirectory(prefix="northstar-asof-") as folder:
        tmp_url = f"sqlite:///{Path(folder) / 'as_of.db'}"
        tmp = open_store(StoreSettings(tmp_url, "a frozen snapshot"))
        try:
            _fill(tmp, _tables_in("live"), _tables_in("main"), "main", flags, category, moment,
                  attach=str(Path(live_path).resolve()))
            yield tmp
        finally:
            tmp.dispose()
            store_db._ENGINES.pop(tmp_url, None)


def _fill(tmp: Engine, src: dict, dst: dict, schema: str, flags: list[dict], category: list[dict],
          moment: dt.datetime, attach: str | None = None) -> None:
    helpers = _helper_tables(MetaData(schema=schema))
    with tmp.connect() as conn:
        if attach is not None:  # before any transaction: SQLite attaches outside one
            conn.exec_driver_sql("PRAGMA synchronous=OFF")
            conn.exec_driver_sql("ATTACH DATABASE ? AS live", (attach,))
            conn.commit()
        try:
            with conn.begin():
                for table in helpers.values():
                    table.create(conn)
                if flags:
                    conn.execute(helpers["flags"].insert(), flags)
                if category:
                    conn.execute(helpers["category"].insert(), category)
                for table in reversed(s.metadata.sorted_tables):  # the new store's own first rows
                    if table.name in dst:
                        conn.execute(dst[table.name].delete())
                for target, query in _as_of_selects(src, dst, helpers, moment):
                    conn.execute(target.insert().from_select(list(query.selected_columns.keys()), query))
                for table in helpers.values():
                    table.drop(conn)
        finally:
            if attach is not None:
                conn.exec_driver_sql("DETACH DATABASE live")
                conn.commit()


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


def frozen_snapshot(engine: Engine, week: dt.date, kind: str, now: dt.datetime) -> int:
    """The snapshot of `week` (a Monday) computed over the store as it stood that Monday at 00:00,
    the end of the week under review (see the module docstring), in an `as_of_engine`.
    A weekly or reconstructed one that exists is returned as it is."""
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

    with as_of_engine(engine, moment) as then:
        with then.connect() as conn:
            cuts = standard_cuts(conn)
            deals = live_deals(conn, recent_from, None)  # the deals as they stood, open or closed recently
        metrics = _metric_rows(then, cuts, review, quarter, note_of)
    sid = _write(engine, week, kind, now, deals, metrics)
    log.info("snapshot %s of week %s (%s, as of %s): %d deals, %d metric values",
             sid, week, kind, moment, len(deals), len(metrics))
    return sid


def reconstruct_snapshot(engine: Engine, week_start: dt.date, now: dt.datetime | None = None,
                         kind: str = "weekly") -> int:
    """The snapshot of a past week rebuilt later (kind `reconstructed`, or `on_demand`): the store
    as it stood on its Monday at 00:00, as `frozen_snapshot` computes it."""
    kind = "reconstructed" if kind == "weekly" else kind
    return frozen_snapshot(engine, week_of(week_start), kind, now or utcnow())


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
    ids = [frozen_snapshot(engine, this_week, "weekly", now)]
    ids += [reconstruct_snapshot(engine, this_week - dt.timedelta(days=7 * n), now=now) for n in range(1, weeks + 1)]
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
           "live_deals", "deals_as_of", "as_of_engine", "frozen_note", "take_snapshot",
           "frozen_snapshot", "reconstruct_snapshot", "ensure_weekly_snapshot",
           "backfill_demo_snapshots", "list_snapshots", "get_snapshot", "snapshot_for_week",
           "previous_snapshot", "snapshot_metric_rows", "snapshot_deal_rows", "value_of", "live_differences"]


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
    m, p = s.snapshot_metrics, s.pipeline_snapshots
    with engine.connect() as conn:
        found = _find(conn, week, WEEKLY_KINDS)
        if not found:
            return {}, None
        rows = conn.execute(select(m.c.metric_id, m.c.value).where(
            m.c.snapshot_id == found["snapshot_id"], m.c.cut_type == QUARTER_CUT, m.c.cut_value == "",
            m.c.period_start == start, m.c.period_end == end, m.c.metric_id.in_(ids))).all()
    return {mid: float(v) for mid, v in rows if v is not None}, week
