"""Recurring revenue on the pages: the Finance page's tab (MRR, ARR, NRR, GRR tiles, the MRR
movements chart, the cohort heatmap, the churned customers), NRR on the CEO scorecard, and the
LTV note saying which churn rate it divides by.

The store is the tiny store plus invoices with a service period (EUR):
  Acme   monthly 100.00, December 2025 to March 2026
  Beta   monthly 200.00, December 2025 and January 2026 (churns in February)
  Gamma  annual 1,200.00 from 1 February 2026 (new in February: 100.00 a month)
Q1 2026 against December (300.00): new 100 (Gamma), churn 200 (Beta); March MRR 200.00.
NRR = (Acme 100 + Beta 0) / 300 = 33.3 %; GRR the same (no expansion).
"""
from __future__ import annotations

import datetime as dt

import pytest

from store import StoreSettings, open_store, schema as s
from store.db import bump_data_version
from tests.pages.conftest import Q1, build_tiny_store, run_app, tiles

D = dt.date


def _inv(number, name, cents, start, end):
    return {"invoice_number": number, "customer_name": name, "issue_date": start, "amount_excl_tax_cents": cents,
            "tax_cents": 0, "currency": "EUR", "status": "paid", "is_credit_note": False,
            "service_period_start": start, "service_period_end": end, "origin": "csv"}


def _month(m, year=2026):
    start = D(year, m, 1)
    return start, D(year + (m == 12), m % 12 + 1, 1)


@pytest.fixture
def mrr_store(make_store_url, backend, app_env) -> str:
    url = make_store_url(backend)
    build_tiny_store(url)
    engine = open_store(StoreSettings(url, "test"))
    rows = [_inv("A-12", "Acme", 10000, *_month(12, 2025))]
    rows += [_inv(f"A-{m}", "Acme", 10000, *_month(m)) for m in (1, 2, 3)]
    rows += [_inv("B-12", "Beta", 20000, *_month(12, 2025)), _inv("B-1", "Beta", 20000, *_month(1)),
             _inv("G-1", "Gamma", 120000, D(2026, 2, 1), D(2027, 2, 1))]
    with engine.begin() as conn:
        conn.execute(s.invoices.insert(), rows)
        bump_data_version(conn, "invoices")
    app_env(url)
    return url


def _finance_recurring(query):
    at = run_app("pages/finance.py", query)
    at.session_state["fin_tabs"] = "Recurring revenue"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_finance_recurring_tab_shows_mrr_retention_movements_and_cohorts(mrr_store):
    at = _finance_recurring(Q1)
    shown = tiles(at)
    assert shown["MRR"] == "€200" and shown["ARR"] == "€2,400"
    assert shown["Net new MRR"] == "-€100"
    assert shown["Net revenue retention (NRR)"] == "33.3%" and shown["Gross revenue retention (GRR)"] == "33.3%"
    assert shown["Revenue churn rate"] == "66.7%"
    titles = [m.value for m in at.markdown]
    assert "**MRR movements by month**" in titles and "**Cohorts: share retained, by first month with MRR**" in titles
    assert len(at.get("plotly_chart")) >= 2
    churned = [df.value for df in at.dataframe if "movement" in df.value.columns]
    assert churned and list(churned[0]["customer"]) == ["Beta"]


def test_ltv_note_and_the_ceo_scorecard_nrr(mrr_store):
    at = run_app("pages/finance.py", Q1)
    assert any(c.value.startswith("LTV churn: the configured rate (1.50%/month") for c in at.caption)
    at = run_app("pages/ceo.py", Q1)
    assert tiles(at)["Net revenue retention (NRR)"] == "33.3%"


def test_finance_recurring_tab_on_a_store_without_service_periods(tiny_store):
    at = _finance_recurring(Q1)
    assert tiles(at)["MRR"] == "n/a"
    assert any("service period" in i.value for i in at.info)
