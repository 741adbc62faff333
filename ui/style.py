"""A few CSS touches so a row of six KPI tiles fits a 1440 px wide screen without cutting labels."""
from __future__ import annotations

import streamlit as st

CSS = """
<style>
[data-testid="stMetricValue"] { font-size: 1.6rem; }
[data-testid="stMetricValue"] > div { white-space: normal; overflow: visible; }
[data-testid="stMetricValue"], [data-testid="stMetricValue"] * { white-space: normal !important;
  overflow: visible !important; text-overflow: clip !important; }
.st-key-big_tile [data-testid="stMetricValue"] { font-size: 2.6rem; }
[data-testid="stMetricLabel"] p { white-space: normal; overflow: visible; line-height: 1.2; }
[data-testid="stMetricLabel"] > div { overflow: visible; }
</style>
"""


def apply() -> None:
    st.html(CSS)
