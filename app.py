"""Northstar's Streamlit entrypoint: page config, then the shared start (store, login, global
filters, banners: ui/shell.py), then the navigation. No numbers here.

Run with `streamlit run app.py` (or `make run`). On first start an empty store is filled with demo
data; set NORTHSTAR_SEED_DEMO=0 to keep it empty.
"""
from __future__ import annotations

import streamlit as st

from metrics.rollups_build import refresh_soon
from ui.context import use_navigation_only
from ui.shell import configure_page, sections, start

configure_page()
use_navigation_only()
ctx = start()
refresh_soon(ctx.engine)  # stale monthly rollups rebuild in the background (metrics/rollups.py)
st.navigation(sections()).run()
