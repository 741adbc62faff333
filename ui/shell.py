"""What every page run starts with: the store, first-start demo data, login, the global filters,
freshness and the demo banner; and the navigation sections. app.py calls `start()` then runs the
navigation; a page that Streamlit ran on its own (see ui.context) calls `start()` itself. The
context a run hands its page (`AppContext`) is kept in the session state."""
from __future__ import annotations

import gc
import os
from dataclasses import dataclass
from pathlib import Path

import plotly.graph_objects as go
import streamlit as st
from sqlalchemy import Engine
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

import upkeep
from auth import User
from meeting import colors
from metrics import DefinitionsError
from ops.logs import setup_logging
from store import StoreError, resolve_store

from . import cache, charts, drill, tables, tiles  # noqa: F401  charts..tiles: the pages' imports, loaded before the heap freeze
from .filters import FilterState, render_filters
from .session import login_gate
from .status import demo_banner, freshness_caption
from .style import apply as apply_style

PAGES = Path(__file__).resolve().parent.parent / "pages"
PAGE_CONFIG = dict(page_title="Northstar", page_icon=":material/star:", layout="wide")
_KEY = "_ns_context"
_RUN_KEY = "_ns_started_in_run"


@dataclass(frozen=True)
class AppContext:
    engine: Engine
    fs: FilterState
    user: User
    facts: dict  # ui.cache.store_facts: demo flag, freshness


def _run_marker():
    """An object that is new in every script run (Streamlit resets the run's cursors each run)."""
    run = get_script_run_ctx()
    return None if run is None else run.cursors


def started_in_this_run() -> bool:
    """Did `start()` run in this script run (False when Streamlit ran a page file on its own)?"""
    marker = st.session_state.get(_RUN_KEY)
    return marker is not None and marker is _run_marker()


def current_context() -> AppContext:
    """The context `start()` made in this run."""
    return st.session_state[_KEY]


def configure_page() -> None:
    """Title, icon and the wide layout, for app.py and for a page Streamlit ran on its own."""
    st.set_page_config(**PAGE_CONFIG)


def _settings() -> tuple[str, str]:
    settings = resolve_store()
    return settings.url, settings.source


@st.cache_resource(show_spinner="Loading demo data...")
def _seed_demo_once(key: str) -> bool:
    """First start: fill an empty store with demo data (once per process and store).
    NORTHSTAR_SEED_DEMO=0 keeps an empty store empty."""
    if os.environ.get("NORTHSTAR_SEED_DEMO", "1") == "0":
        return False
    return bool(upkeep.seed_demo_if_empty(cache.get_engine(*_settings())))


@st.cache_resource(show_spinner=False)
def _logging_once() -> bool:
    """Structured logs with secrets redacted (NORTHSTAR_LOG_LEVEL / _FORMAT / _FILE), once per process."""
    setup_logging()
    return True


_HEAP_FROZEN = False


def _freeze_startup_heap() -> None:
    """Once per process, at the first run: put the objects that live as long as the process
    (modules, plotly's validators, pandas, SQLAlchemy, Streamlit: about 150,000) out of the cycle
    collector's reach with gc.freeze(). Streamlit runs a full gc.collect() after every script run
    (runner.postScriptGC); without this each one walks all of them again, 60-120 ms holding the
    GIL per page load, for nothing. Garbage made later is still collected as before."""
    global _HEAP_FROZEN
    if _HEAP_FROZEN:
        return
    _HEAP_FROZEN = True
    for trace in (go.Bar, go.Scatter, go.Funnel):  # plotly builds its validators on first use
        go.Figure([trace()]).to_dict()
    gc.collect()
    gc.freeze()


def start() -> AppContext:
    """Open the store, gate the login, draw the sidebar filters and banners; return the context."""
    _freeze_startup_heap()
    _logging_once()
    upkeep.install()  # a sync started from the Data page keeps the metric rollups exact as it writes
    apply_style()
    try:
        engine = cache.get_engine(*_settings())
    except StoreError as exc:
        st.error(f"Northstar cannot open its store. {exc}")
        st.stop()
    if _seed_demo_once(cache.store_key(engine)) and not st.session_state.get("_ns_seed_noted"):
        st.session_state["_ns_seed_noted"] = True
        st.info("Demo data was loaded so you can look around. To use your own numbers, connect HubSpot "
                "and import finance files on the Data page, or point NORTHSTAR_DB_URL at your store.")
    user = login_gate()
    try:
        defs = cache.definitions(engine)
    except DefinitionsError as exc:
        st.error(f"The shared definitions are invalid, so no number can be computed. {exc}")
        st.stop()
    options = cache.filter_options(engine)
    for dimension, name in (("region", "regions"), ("product_line", "product_lines"), ("team", "teams"),
                            ("source", "sources")):
        colors.register(dimension, options.get(name, []))
    fs = render_filters(options, defs.fiscal_year_start_month, defs.locale, defs.reporting_currency)
    facts = cache.store_facts(engine)
    freshness_caption(facts)
    demo_banner(facts)
    ctx = AppContext(engine=engine, fs=fs, user=user, facts=facts)
    st.session_state[_KEY] = ctx
    st.session_state[_RUN_KEY] = _run_marker()  # the shared start ran in this script run
    return ctx


def sections() -> dict[str, list]:
    """The navigation: role pages, the weekly meeting, reference pages."""
    return {
        "Overview": [st.Page(PAGES / "ceo.py", title="CEO", icon=":material/star:", url_path="ceo",
                             default=True),
                     st.Page(PAGES / "meeting.py", title="Weekly meeting", icon=":material/groups:",
                             url_path="meeting")],
        "Teams": [st.Page(PAGES / "marketing.py", title="Marketing", icon=":material/campaign:",
                          url_path="marketing"),
                  st.Page(PAGES / "sales.py", title="Sales", icon=":material/handshake:", url_path="sales"),
                  st.Page(PAGES / "finance.py", title="Finance", icon=":material/account_balance:",
                          url_path="finance")],
        "Reference": [st.Page(PAGES / "definitions.py", title="Definitions", icon=":material/menu_book:",
                              url_path="definitions"),
                      st.Page(PAGES / "data.py", title="Data", icon=":material/database:", url_path="data")],
    }
