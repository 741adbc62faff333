"""What a page gets for one script run (the store, the filters, the user: ui.shell.AppContext),
and the permission checks it draws its controls with."""
from __future__ import annotations

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

import auth

from .shell import AppContext, configure_page, current_context, sections, start, started_in_this_run


def get_context() -> AppContext:
    """The context of this run. When Streamlit ran the page file on its own (legacy pages/ mode:
    the first run after a server start, AppTest), do the shared start here, with the navigation."""
    if not started_in_this_run():
        configure_page()
        ctx = start()
        st.navigation(sections())
        return ctx
    return current_context()


def use_navigation_only() -> None:
    """Run every page through app.py's st.navigation.

    Streamlit treats an entrypoint with a sibling pages/ folder as a legacy multipage app and, for a
    URL like /sales, runs pages/sales.py alone, without app.py (no store, filters or banner). This
    process-wide switch turns that off; it takes effect from the next script run.
    """
    PagesManager.uses_pages_directory = False


def user_can(ctx: AppContext, action: str) -> bool:
    """May this run's user take `action` (auth.can)?"""
    return auth.can(ctx.user, action)


def actor(ctx: AppContext) -> str:
    """This run's user as the audit trail names them."""
    return ctx.user.actor
