"""Northstar's metric layer: every number users see comes through here.

    from metrics import Filters, REGISTRY, compute, compute_many, breakdown
    compute_many(engine, ["north_star", "win_rate"], Filters(start, end, regions=("EMEA",)))

A metric is a catalog entry (metrics/catalog/*.yaml: label, unit, definition, kind, owner)
bound to one compute function: hand-written (sales.py, funnel.py, marketing.py, finance.py,
forecasts.py) for sums, counts and custom metrics, running SQL aggregates built from
metrics/sql.py under the shared definitions (definitions.yaml plus the edits stored in the
store); computed by the registry for ratios and differences of other metrics. Importing this
package binds them (metrics.registry.bind) and fails on any mismatch. Undefined values come
back as `value=None` with a `reason`.
"""
from __future__ import annotations

import copy
import datetime as dt
import json
from dataclasses import replace
from typing import Any, Callable, Iterable

from sqlalchemy import Connection, Engine, select

from store import schema as s
from store.audit import record_audit
from store.db import bump_data_version, get_meta, upsert, utcnow

# The compute modules register their functions (@computes) when imported.
from . import data_quality, dimensions, feedback, finance, forecasts, funnel, marketing, nps, quotas, recurring, sales  # noqa: F401
from .definitions import NOT_IN_NUMBERS, Definitions, DefinitionsError, load_definitions, load_file, set_dotted, validate
from .filters import NONE_BUCKET, Filters
from .registry import (_BREAKDOWNS, CatalogError, Ctx, MetricDef, MetricValue, NotAvailable, Result, bind,
                       load_catalog, scoped)

REGISTRY: dict[str, MetricDef] = load_catalog()
bind(REGISTRY)  # every catalog entry has its function and every function its entry, or this import fails

BREAKDOWNS = ("month", "week", "region", "product_line", "source", "owner", "team", "stage",
              "campaign", "channel", "revenue_type")
# Breakdowns computed by re-running the metric with one more filter value per segment.
_FILTER_FIELDS = {"region": "regions", "product_line": "product_lines", "owner": "owners",
                  "team": "teams", "source": "sources"}
MONEY_UNITS = ("money",)
ADDITIVE_UNITS = ("money", "count")


class UnknownMetric(KeyError):
    def __str__(self) -> str:
        return self.args[0]


def metric_def(metric_id: str) -> MetricDef:
    try:
        return REGISTRY[metric_id]
    except KeyError:
        raise UnknownMetric(f"unknown metric {metric_id!r}; known metrics: {', '.join(REGISTRY)}") from None


# --- running ---------------------------------------------------------------------------------

def _as_of(conn: Connection) -> dt.datetime | None:
    """When the data last changed (sync, import, edit): the freshness shown beside numbers."""
    raw = get_meta(conn, "data_changed_at")
    try:
        return dt.datetime.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def _with_ctx(engine: Engine, fn: Callable[[Ctx, dt.datetime | None], Any], now: dt.datetime | None = None) -> Any:
    """Run `fn` on one connection and one snapshot (REPEATABLE READ on PostgreSQL); `now` pins
    the clock follow-up windows and finished quarters are judged against (metrics.rules.now)."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            ctx = Ctx(conn, load_definitions(conn))
            if now is not None:
                ctx.cache["now"] = now
            return fn(ctx, _as_of(conn))


def compute_many_on(conn: Connection, metric_ids: Iterable[str], filters: Filters,
                    now: dt.datetime | None = None, cache: dict | None = None) -> dict[str, MetricValue]:
    """`compute_many` on a connection the caller holds, inside the transaction it has open (it
    sees that transaction's uncommitted rows: meeting.snapshots computes a frozen week on the
    store rewound, in a transaction it rolls back). Calls given the same `cache` (one dict, one
    connection, no write between them) share what they looked up: a figure that does not depend
    on the filters, such as a source's lead value, is read once for every cut of a snapshot."""
    ids = list(metric_ids)
    for mid in ids:
        metric_def(mid)
    ctx = Ctx(conn, load_definitions(conn), {} if cache is None else cache)
    if now is not None:
        ctx.cache["now"] = now
    as_of = _as_of(conn)
    return {mid: _evaluate(ctx, mid, filters, as_of) for mid in ids}


def _evaluate(ctx: Ctx, metric_id: str, f: Filters, as_of: dt.datetime | None) -> MetricValue:
    return _to_value(metric_def(metric_id), ctx.value(metric_id, f), as_of)


def _to_value(mdef: MetricDef, result: Result, as_of: dt.datetime | None) -> MetricValue:
    metric_id = mdef.id
    if isinstance(result, NotAvailable) or result is None:
        reason = result.reason if isinstance(result, NotAvailable) else "no value for this period"
        return MetricValue(metric_id, None, mdef.unit, mdef.label, mdef.definition, as_of, reason)
    value = float(result)
    if mdef.unit in MONEY_UNITS:
        value = round(value, 2)
    return MetricValue(metric_id, value, mdef.unit, mdef.label, mdef.definition, as_of)


def compute(engine: Engine, metric_id: str, filters: Filters) -> MetricValue:
    """One metric for `filters`."""
    return compute_many(engine, [metric_id], filters)[metric_id]


def compute_many(engine: Engine, metric_ids: Iterable[str], filters: Filters,
                 now: dt.datetime | None = None) -> dict[str, MetricValue]:
    """Several metrics for `filters`, on one connection (one consistent snapshot); `now`, when
    given, is the moment "today" means (by default the current time)."""
    ids = list(metric_ids)
    for mid in ids:
        metric_def(mid)
    return _with_ctx(engine, lambda ctx, as_of: {mid: _evaluate(ctx, mid, filters, as_of) for mid in ids}, now)


# --- breakdowns ------------------------------------------------------------------------------

def month_periods(start: dt.date, end: dt.date) -> list[tuple[str, dt.date, dt.date]]:
    """(YYYY-MM, first day, last day) of each calendar month of [start, end], clipped to it."""
    out, m = [], start.replace(day=1)
    while m <= end:
        nxt = (m.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        out.append((m.strftime("%Y-%m"), max(m, start), min(nxt - dt.timedelta(days=1), end)))
        m = nxt
    return out


def week_periods(start: dt.date, end: dt.date) -> list[tuple[str, dt.date, dt.date]]:
    """(Monday's date, first day, last day) of each ISO week of [start, end], clipped to it."""
    out, w = [], start - dt.timedelta(days=start.weekday())
    while w <= end:
        out.append((w.isoformat(), max(w, start), min(w + dt.timedelta(days=6), end)))
        w += dt.timedelta(days=7)
    return out


_SEGMENT_COLUMNS = {"region": dimensions.region_columns, "product_line": dimensions.product_line_columns,
                    "source": lambda defs: dimensions.SOURCE_COLUMNS, "team": lambda defs: dimensions.TEAM_COLUMNS}


def _segments(ctx: Ctx, by: str) -> list[tuple[str, str]]:
    """(filter value, label) of every segment of `by` in the store, plus the "(none)" bucket: the
    values the sidebar's filter offers (metrics/dimensions.py), by the same rules."""
    conn = ctx.conn
    if by == "owner":  # labelled with the owner's name; also owner ids no owner row names
        names = dimensions.owner_names(conn)
        ids = set(dimensions.distinct_values(conn, (s.deals.c.owner_id, s.contacts.c.owner_id))) | set(names)
        return sorted(((i, names.get(i, i)) for i in ids), key=lambda p: p[1].lower()) + [(NONE_BUCKET, NONE_BUCKET)]
    vals = dimensions.distinct_values(conn, _SEGMENT_COLUMNS[by](ctx.defs))
    return [(v, v) for v in vals] + [(NONE_BUCKET, NONE_BUCKET)]


def _keep(mdef: MetricDef, mv: MetricValue) -> bool:
    """Segments worth showing: additive metrics drop empty (0 or n/a) segments, others n/a ones."""
    if mv.value is None:
        return False
    return not (mdef.unit in ADDITIVE_UNITS and mv.value == 0)


def breakdown(engine: Engine, metric_id: str, filters: Filters, by: str) -> list[tuple[str, MetricValue]]:
    """`metric_id` split by `by`; for money and counts the segments add up to the total."""
    mdef = metric_def(metric_id)
    if by not in BREAKDOWNS:
        raise ValueError(f"cannot break down by {by!r}; use one of {', '.join(BREAKDOWNS)}")
    if by not in mdef.breakdowns:
        raise ValueError(f"{metric_id} has no breakdown by {by}; it has: {', '.join(mdef.breakdowns) or 'none'}")

    def run(ctx: Ctx, as_of: dt.datetime | None) -> list[tuple[str, MetricValue]]:
        grouped = _BREAKDOWNS.get((metric_id, by))
        if grouped is not None:
            rows = [(seg, _to_value(mdef, val, as_of)) for seg, val in grouped(ctx, scoped(metric_id, filters))]
            return [(seg, mv) for seg, mv in rows if _keep(mdef, mv)]
        if by in ("month", "week"):  # the months of the metric's window (a plan's run to the plan end)
            window = scoped(metric_id, filters)
            periods = (month_periods if by == "month" else week_periods)(window.start, window.end)
            return [(label, _evaluate(ctx, metric_id, window.with_period(a, b), as_of)) for label, a, b in periods]
        if by not in _FILTER_FIELDS:
            raise ValueError(f"{metric_id} cannot be broken down by {by} yet")
        field = _FILTER_FIELDS[by]
        current = getattr(filters, field)
        segments = _segments(ctx, by)
        if current:
            segments = [(v, label) for v, label in segments if v in current]
        out = []
        for value, label in segments:
            narrowed = replace(filters, **{field: (value,)})
            mv = _evaluate(ctx, metric_id, narrowed, as_of)
            if _keep(mdef, mv):
                out.append((label, mv))
        return out

    return _with_ctx(engine, run)


# --- definitions -----------------------------------------------------------------------------

def get_definitions(engine: Engine) -> Definitions:
    """The effective shared definitions (definitions.yaml with the stored edits applied)."""
    with engine.connect() as conn:
        return load_definitions(conn)


def _check_key(key: str) -> None:
    base = load_file()
    node: Any = base
    parts = key.split(".")
    # new pipelines, stage probabilities and exchange rates may be added; anything else must exist
    for i, part in enumerate(parts):
        if isinstance(node, dict) and part in node:
            node = node[part]
            continue
        if parts[0] == "pipelines" and (i == 1 or (i == 3 and parts[2] == "probabilities")):
            return
        if parts[:2] == ["currency", "fx_to_reporting"] and i == 2 and len(parts) == 3:
            return
        raise DefinitionsError([f"{key}: no such definition (known top-level keys: {', '.join(base)})"])


def save_definition(engine: Engine, key: str, value: Any, actor: str) -> None:
    """Validate and store one definition edit, audited, in one transaction; numbers recompute."""
    if not actor:
        raise DefinitionsError([f"{key}: an edit needs the name of who makes it"])
    _check_key(key)
    with engine.begin() as conn:
        current = load_definitions(conn)
        try:
            old = copy.deepcopy(current.get(key))
        except (KeyError, TypeError):
            old = None
        raw = copy.deepcopy(current.raw)
        set_dotted(raw, key, value)
        problems = validate(raw)
        if problems:
            raise DefinitionsError(problems)
        upsert(conn, s.definition_overrides,
               [{"key": key, "value_json": json.dumps(value), "changed_by": actor, "changed_at": utcnow()}], ["key"])
        _audit(conn, actor, key, old, value)
        if key.split(".")[0] in NOT_IN_NUMBERS:  # no number depends on it: the rollups stay fresh
            bump_data_version(conn, "definition_overrides", "audit_log")
        else:
            bump_data_version(conn)


def _audit(conn: Connection, actor: str, key: str, old: Any, new: Any) -> None:
    record_audit(conn, actor, "definition.change", key, old, new)


def definition_history(engine: Engine) -> list[dict]:
    """Every definition edit, newest first: key, old, new, changed_by, changed_at."""
    a = s.audit_log
    q = (select(a.c.target, a.c.before_json, a.c.after_json, a.c.actor, a.c.at)
         .where(a.c.action == "definition.change").order_by(a.c.at.desc(), a.c.audit_id.desc()))
    with engine.connect() as conn:
        return [{"key": k, "old": None if b is None else json.loads(b), "new": None if n is None else json.loads(n),
                 "changed_by": who, "changed_at": at} for k, b, n, who, at in conn.execute(q)]

__all__ = ["Filters", "NONE_BUCKET", "REGISTRY", "BREAKDOWNS", "CatalogError", "MetricDef", "MetricValue", "NotAvailable",
           "Definitions", "DefinitionsError", "UnknownMetric", "compute", "compute_many", "compute_many_on", "breakdown",
           "get_definitions", "save_definition", "definition_history", "metric_def", "data_quality"]
