"""The one place the app caches: the engine (st.cache_resource), every number and table, keyed on
the store, the store's data version and the filters: metric values one by one in a table shared by
all pages and sessions (st.cache_resource, see metric_values), the rest with st.cache_data.

A sync, an import or a definition edit bumps the data version, so the next run misses the cache
and recomputes; nothing else invalidates it. Filters travel as a JSON string (hashable, exact).
"""
from __future__ import annotations

import datetime as dt
import json
import threading
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy import Engine, func, select
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

from metrics import breakdown, compute_many, data_quality, dimensions, get_definitions
from metrics.definitions import load_definitions
from metrics.filters import Filters
from metrics.tables import table_function
from store import StoreSettings, open_store, schema as s
from store import db as store_db

from .labels import Labels, owner_names

_CACHE = dict(show_spinner=False, max_entries=512)


@st.cache_resource(show_spinner=False)
def get_engine(url: str, source: str) -> Engine:
    """The engine of the store at `url` (opened and upgraded once per process)."""
    return open_store(StoreSettings(url, source))


_OPEN: dict[str, Engine] = {}  # store key -> engine, for the cached functions (which hash only the key)


def store_key(engine: Engine) -> str:
    """A hashable name for the store (password masked: it is only a cache key)."""
    key = engine.url.render_as_string(hide_password=True)
    _OPEN[key] = engine
    return key


def _engine(key: str) -> Engine:
    return _OPEN[key]


_VERSION_KEY = "_ns_data_version"  # session_state: (script run marker, store key, version)


def _run_marker():
    """An object that is new in every script run; None outside a script run."""
    run = get_script_run_ctx()
    return None if run is None else run.cursors


def current_data_version(engine: Engine) -> int:
    """The cache key that a sync or import changes: read once per script run (so one run draws one
    consistent version and the next run sees any write), outside a script run on every call."""
    marker, key = _run_marker(), store_key(engine)
    if marker is None:
        return store_db.data_version(engine)
    seen = st.session_state.get(_VERSION_KEY)
    if seen is not None and seen[0] is marker and seen[1] == key:
        return seen[2]
    version = store_db.data_version(engine)
    st.session_state[_VERSION_KEY] = (marker, key, version)
    return version


def forget_data_version() -> None:
    """This run wrote to the store (a verdict saved on the page): read the data version again, so
    what the run draws after the write shows it (without a rerun that would lose the open tab)."""
    st.session_state.pop(_VERSION_KEY, None)


def filters_key(filters: Filters) -> str:
    return json.dumps(filters.as_dict(), sort_keys=True)


def filters_from_key(key: str) -> Filters:
    d = json.loads(key)
    for k in ("start", "end", "plan_end", "flow_end"):
        if d.get(k) is not None:
            d[k] = dt.date.fromisoformat(d[k])
    return Filters(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items()})


# --- numbers ---------------------------------------------------------------------------

class _Values:
    """The metric values computed so far for one (store, data version, filters), shared by every
    row of tiles on every page in every session: a metric shown on several pages (north star,
    win rate, follow-up rate, the funnel counts...) is computed once per data version, not once
    per row it appears in. `pending` holds the metrics being computed, with the event that says
    they are done, so a second caller waits for them instead of computing them again."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.values: dict[str, Any] = {}
        self.pending: dict[str, threading.Event] = {}


@st.cache_resource(show_spinner=False, max_entries=_CACHE["max_entries"])
def _values(key: str, data_version: int, fkey: str) -> _Values:
    return _Values()


def metric_values(engine: Engine, metric_ids, filters: Filters) -> dict:
    """{metric_id: MetricValue} for `filters`, each computed once per data version; the ones
    missing are computed together (one compute_many: one connection, shared sub-results)."""
    ids = list(dict.fromkeys(metric_ids))
    shared = _values(store_key(engine), current_data_version(engine), filters_key(filters))
    while True:
        with shared.lock:
            missing = [m for m in ids if m not in shared.values]
            if not missing:
                return {m: shared.values[m] for m in ids}
            mine = [m for m in missing if m not in shared.pending]
            others = {shared.pending[m] for m in missing if m in shared.pending}
            done = threading.Event()
            for m in mine:
                shared.pending[m] = done
        if mine:
            try:
                computed = compute_many(engine, mine, filters)
                with shared.lock:
                    shared.values.update(computed)
            finally:  # on an error the waiters try again themselves (and meet the error)
                with shared.lock:
                    for m in mine:
                        shared.pending.pop(m, None)
                done.set()
        for event in others:
            event.wait()


@st.cache_data(**_CACHE)
def _breakdown(key: str, data_version: int, metric_id: str, fkey: str, by: str) -> list:
    return breakdown(_engine(key), metric_id, filters_from_key(fkey), by)


def metric_breakdown(engine: Engine, metric_id: str, filters: Filters, by: str) -> list:
    """[(segment, MetricValue)] of `metric_id` split by `by` (month, region, source ...)."""
    return _breakdown(store_key(engine), current_data_version(engine), metric_id,
                      filters_key(filters), by)


@st.cache_data(**_CACHE)
def _detail(key: str, data_version: int, module: str, name: str, args_json: str,
            fkey: str | None, kwargs_json: str) -> pd.DataFrame:
    fn = table_function(module, name)
    args = json.loads(args_json)
    if fkey is not None:
        args.append(filters_from_key(fkey))
    return fn(_engine(key), *args, **json.loads(kwargs_json))


def detail(engine: Engine, module: str, name: str, filters: Filters | None, *lead, **kwargs):
    """A row-level table of the metrics contract (metrics.tables), computed once per data version
    and filters.

    detail(e, "metrics.details", "funnel", f, view="cohort");
    detail(e, "metrics.details", "deals_behind", f, "won_revenue", limit=500)  # lead args first
    """
    table_function(module, name)  # an unknown table fails here, before anything is cached
    fkey = None if filters is None else filters_key(filters)
    args_json = json.dumps(list(lead))  # the contract puts a metric id before the filters
    return _detail(store_key(engine), current_data_version(engine), module, name, args_json, fkey,
                   json.dumps(kwargs, sort_keys=True))


@st.cache_data(**_CACHE)
def _definitions(key: str, data_version: int):
    return get_definitions(_engine(key))


def definitions(engine: Engine):
    """The effective shared definitions (file + stored edits)."""
    return _definitions(store_key(engine), current_data_version(engine))


@st.cache_data(**_CACHE)
def _quality(key: str, data_version: int) -> list[dict]:
    return data_quality.checks(_engine(key))


def data_quality_checks(engine: Engine) -> list[dict]:
    """Data-quality warnings of the metrics layer (deals without amount, orphans, stale sync...)."""
    return _quality(store_key(engine), current_data_version(engine))


# --- facts about the store (not KPIs) ----------------------------------------------------

@st.cache_data(**_CACHE)
def _filter_options(key: str, data_version: int) -> dict[str, list]:
    """Distinct values people filter on: metrics.dimensions.options, the same rules (region_from,
    product_line_from) and the same index seeks that give a breakdown its segments."""
    with _engine(key).connect() as conn:
        return dimensions.options(conn, load_definitions(conn))


@st.cache_data(**_CACHE)
def _labels(key: str, data_version: int) -> Labels:
    engine = _engine(key)
    with engine.connect() as conn:
        stages = conn.execute(select(s.pipeline_stages.c.pipeline_id, s.pipeline_stages.c.stage_id,
                                     s.pipeline_stages.c.label)).all()
        pipelines = conn.execute(select(s.pipelines.c.pipeline_id, s.pipelines.c.label)).all()
        owners = conn.execute(select(s.owners.c.owner_id, s.owners.c.first_name, s.owners.c.last_name,
                                     s.owners.c.email, s.owners.c.team_name)).all()
    return Labels(stages={(p, sid): label or sid for p, sid, label in stages},
                  pipelines={p: label or p for p, label in pipelines}, owners=owner_names(owners))


def labels(engine: Engine) -> Labels:
    """The store's names for its stage, pipeline and owner ids (ui.labels.Labels)."""
    return _labels(store_key(engine), current_data_version(engine))


def current_labels() -> Labels:
    """The labels of the store this script run shows (empty outside a page run)."""
    ctx = st.session_state.get("_ns_context")
    return labels(ctx.engine) if ctx is not None else Labels()


def filter_options(engine: Engine) -> dict[str, list]:
    return _filter_options(store_key(engine), current_data_version(engine))


@st.cache_data(**_CACHE)
def _store_facts(key: str, data_version: int) -> dict[str, Any]:
    engine = _engine(key)
    with engine.connect() as conn:
        last_sync = conn.execute(select(func.max(s.sync_runs.c.finished_at))
                                 .where(s.sync_runs.c.status == "success")).scalar()
        last_import = conn.execute(select(func.max(s.import_runs.c.finished_at))
                                   .where(s.import_runs.c.status == "success")).scalar()
        changed = store_db.get_meta(conn, "data_changed_at")
        portal = store_db.get_meta(conn, "hubspot_portal_id")
    return {
        "is_demo": store_db.is_demo(engine),
        "is_empty": store_db.is_empty(engine),
        "last_sync_at": last_sync,
        "last_import_at": last_import,
        "data_changed_at": dt.datetime.fromisoformat(changed) if changed else None,
        "hubspot_portal_id": portal,
    }


def store_facts(engine: Engine) -> dict[str, Any]:
    """Demo flag, emptiness and freshness (last sync, last import, last change)."""
    return _store_facts(store_key(engine), current_data_version(engine))


@st.cache_data(**_CACHE)
def _table_counts(key: str, data_version: int) -> dict[str, int]:
    return store_db.table_counts(_engine(key))


def table_counts(engine: Engine) -> dict[str, int]:
    return _table_counts(store_key(engine), current_data_version(engine))


def recent_runs(engine: Engine, limit: int = 20) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The last connector syncs and file imports (not cached: a failed run changes no data)."""
    with engine.connect() as conn:
        syncs = pd.DataFrame(conn.execute(
            select(s.sync_runs.c.connector, s.sync_runs.c.mode, s.sync_runs.c.status,
                   s.sync_runs.c.started_at, s.sync_runs.c.finished_at, s.sync_runs.c.error)
            .order_by(s.sync_runs.c.started_at.desc()).limit(limit)).mappings().all(),
            columns=["connector", "mode", "status", "started_at", "finished_at", "error"])
        imports = pd.DataFrame(conn.execute(
            select(s.import_runs.c.kind, s.import_runs.c.file_name, s.import_runs.c.status,
                   s.import_runs.c.imported_by, s.import_runs.c.finished_at,
                   s.import_runs.c.rows_accepted, s.import_runs.c.rows_rejected, s.import_runs.c.error)
            .order_by(s.import_runs.c.started_at.desc()).limit(limit)).mappings().all(),
            columns=["kind", "file_name", "status", "imported_by", "finished_at", "rows_accepted",
                     "rows_rejected", "error"])
    return syncs, imports
