"""The demo-data banner and the data-freshness caption shown on every page."""
from __future__ import annotations

import datetime as dt

import streamlit as st

from store import utcnow


def age(at: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """'3 min ago', '5 h ago', '2 days ago' or 'never'."""
    if at is None:
        return "never"
    seconds = max(0, ((now or utcnow()) - at).total_seconds())
    if seconds < 90:
        return "just now"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"


def freshness_caption(facts: dict) -> None:
    sync, imp = facts.get("last_sync_at"), facts.get("last_import_at")
    stamp = lambda t: "never" if t is None else f"{t:%Y-%m-%d %H:%M} UTC ({age(t)})"  # noqa: E731
    st.sidebar.caption(f"Last HubSpot sync: {stamp(sync)}  \nLast file import: {stamp(imp)}")


def demo_banner(facts: dict) -> None:
    if facts.get("is_demo"):
        st.warning("Demo data: these numbers are made up. Connect HubSpot and import your files on "
                   "the Data page to see your own.", icon=":material/science:")
    elif facts.get("is_empty"):
        st.info("The store is empty: connect HubSpot or import files on the Data page.",
                icon=":material/inbox:")
