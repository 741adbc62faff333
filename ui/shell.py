"""What every page run starts with: the store, first-start demo data, login, the global filters,
freshness and the demo banner; and the navigation sections. app.py calls `start()` then runs the
navigation; a page that Streamlit ran on its own (see ui.context) calls `start()` itself."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import streamlit as st

from store import StoreError, resolve_store

from . import cache, colors
from .context import AppContext, mark_started, set_context
from .filters import render_filters
from .status import demo_banner, freshness_caption
from .style import apply as apply_style

PAGES = Path(__file__).resolve().parent.parent / "pages"
PAGE_CONFIG = dict(page_title="Northstar", page_icon=":material/star:", layout="wide")


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
    if os.environ.get("NORTHSTAR_SEED_DEMO", "1") == "0" or importlib.util.find_spec("demo") is None:
        return False
    from demo import seed_demo_if_empty
    return bool(seed_demo_if_empty(cache.get_engine(*_settings())))


@st.cache_resource(show_spinner=False)
def _logging_once() -> bool:
    """Structured logs with secrets redacted (NORTHSTAR_LOG_LEVEL / _FORMAT / _FILE), once per process."""
    if importlib.util.find_spec("ops") is None:
        return False
    from ops.logs import setup_logging
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
    import gc

    import plotly.graph_objects as go

    from . import charts, drill, tables, tiles  # noqa: F401  the pages' imports, loaded before the freeze
    import metrics  # noqa: F401
    for trace in (go.Bar, go.Scatter, go.Funnel):  # plotly builds its validators on first use
        go.Figure([trace()]).to_dict()
    gc.collect()
    gc.freeze()


def start() -> AppContext:
    """Open the store, gate the login, draw the sidebar filters and banners; return the context."""
    _freeze_startup_heap()
    _logging_once()
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
    user = None
    if importlib.util.find_spec("auth") is not None:
        from auth import login_gate
        user = login_gate()
    from metrics import DefinitionsError
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
    set_context(ctx)
    mark_started()
    return ctx


def sections() -> dict[str, list]:
    """The navigation: role pages, the weekly meeting (when installed), reference pages."""
    out = {
        "Overview": [st.Page(PAGES / "ceo.py", title="CEO", icon=":material/star:", url_path="ceo",
                             default=True)],
        "Teams": [st.Page(PAGES / "marketing.py", title="Marketing", icon=":material/campaign:",
                          url_path="marketing"),
                  st.Page(PAGES / "sales.py", title="Sales", icon=":material/handshake:", url_path="sales"),
                  st.Page(PAGES / "finance.py", title="Finance", icon=":material/account_balance:",
                          url_path="finance")],
        "Reference": [st.Page(PAGES / "definitions.py", title="Definitions", icon=":material/menu_book:",
                              url_path="definitions"),
                      st.Page(PAGES / "data.py", title="Data", icon=":material/database:", url_path="data")],
    }
    if (PAGES / "meeting.py").exists():
        out["Overview"].append(st.Page(PAGES / "meeting.py", title="Weekly meeting", icon=":material/groups:",
                                       url_path="meeting"))
    return out
