"""What app.py hands every page for one script run: the store, the filters, the user."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st
from sqlalchemy import Engine

from .filters import FilterState

_KEY = "_ns_context"
_RUN_KEY = "_ns_started_in_run"


@dataclass(frozen=True)
class AppContext:
    engine: Engine
    fs: FilterState
    user: Any  # auth.User, or None when the auth module is absent
    facts: dict  # ui.cache.store_facts: demo flag, freshness


def set_context(ctx: AppContext) -> None:
    st.session_state[_KEY] = ctx


def _run_marker():
    """An object that is new in every script run (Streamlit resets the run's cursors each run)."""
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx
    run = get_script_run_ctx()
    return None if run is None else run.cursors


def mark_started() -> None:
    """Called by ui.shell.start(): the shared start ran in this script run."""
    st.session_state[_RUN_KEY] = _run_marker()


def get_context() -> AppContext:
    """The context of this run. When Streamlit ran the page file on its own (legacy pages/ mode:
    the first run after a server start, AppTest), do the shared start here, with the navigation."""
    if st.session_state.get(_RUN_KEY) is None or st.session_state.get(_RUN_KEY) is not _run_marker():
        from .shell import configure_page, sections, start
        configure_page()
        ctx = start()
        st.navigation(sections())
        return ctx
    return st.session_state[_KEY]


def use_navigation_only() -> None:
    """Run every page through app.py's st.navigation.

    Streamlit treats an entrypoint with a sibling pages/ folder as a legacy multipage app and, for a
    URL like /sales, runs pages/sales.py alone, without app.py (no store, filters or banner). This
    process-wide switch turns that off; it takes effect from the next script run.
    """
    from streamlit.runtime.pages_manager import PagesManager
    PagesManager.uses_pages_directory = False


def user_can(ctx: AppContext, action: str) -> bool:
    """Permission check through auth.can when the auth module is installed; without it everyone may."""
    if ctx.user is None:
        return True
    from auth import can
    return can(ctx.user, action)


def actor(ctx: AppContext) -> str:
    return getattr(ctx.user, "actor", None) or "local user"
