"""What app.py hands every page for one script run: the store, the filters, the user."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st
from sqlalchemy import Engine

from .filters import FilterState

_KEY = "_ns_context"


@dataclass(frozen=True)
class AppContext:
    engine: Engine
    fs: FilterState
    user: Any  # auth.User, or None when the auth module is absent
    facts: dict  # ui.cache.store_facts: demo flag, freshness


def set_context(ctx: AppContext) -> None:
    st.session_state[_KEY] = ctx


def get_context() -> AppContext:
    """The context app.py set before running the page; a page opened on its own is sent to app.py."""
    ctx = st.session_state.get(_KEY)
    if ctx is None:
        st.error("Open Northstar through app.py (`streamlit run app.py`): pages need its store and filters.")
        st.stop()
    return ctx


def user_can(ctx: AppContext, action: str) -> bool:
    """Permission check through auth.can when the auth module is installed; without it everyone may."""
    if ctx.user is None:
        return True
    from auth import can
    return can(ctx.user, action)


def actor(ctx: AppContext) -> str:
    return getattr(ctx.user, "actor", None) or "local user"
