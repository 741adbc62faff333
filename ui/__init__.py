"""Shared Streamlit building blocks for the pages: filters, KPI tiles, charts, tables, caching.

Pages ask `metrics/` (through `ui.cache`) and draw with these helpers; nothing here computes a KPI.
"""
