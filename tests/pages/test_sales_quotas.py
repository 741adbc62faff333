"""The Sales page's Quotas tab (#17) on the tiny store with quota lines: per rep and per team,
quota, won, attainment, paced attainment, forecast and coverage, behind pace first; with a region
filter it says quotas have no region instead of showing numbers that do not compare."""
from __future__ import annotations

import datetime as dt

from store import StoreSettings, bump_data_version, open_store, schema as s
from tests.pages.conftest import Q1, run_app
from tests.pages.test_presentation import _shown


def _quotas(url: str) -> None:
    """Alice (o1, Team France) 500.00 a month, Bob (o2, Team UK) 400.00, January to March 2026."""
    engine = open_store(StoreSettings(url, "test"))
    with engine.begin() as conn:
        conn.execute(s.budgets.insert(), [
            {"month": dt.date(2026, m, 1), "region": "", "product_line": "", "metric": "target_revenue",
             "owner_id": oid, "team": "", "value": cents} for m in (1, 2, 3) for oid, cents in (("o1", 50_000),
                                                                                              ("o2", 40_000))])
        bump_data_version(conn, "budgets")


def _quota_tab(query: dict):
    at = run_app("pages/sales.py", query)  # Quotas is the first tab: drawn without a click
    assert [t.label for t in at.tabs][0] == "Quotas"
    return at


def test_quotas_tab_shows_each_rep_and_team_behind_pace_first(tiny_store):
    _quotas(tiny_store)
    at = _quota_tab(Q1)
    tables = [el for el in at.dataframe if "quota" in el.value.columns]
    assert len(tables) == 2, [list(el.value.columns) for el in at.dataframe]
    reps, teams = (_shown(el) for el in tables)
    # Q1: Alice won d1 1,000.00 of 1,500.00 (66.7 %), Bob d2 500.00 of 1,200.00 (41.7 %): Bob first;
    # a closed quarter: paced attainment is attainment. Alice has nothing open in Q1: coverage 0.0x
    assert list(reps["owner"]) == ["Bob Smith", "Alice Martin"]
    assert list(reps["quota"]) == ["€1,200", "€1,500"]  # no cents from €1,000
    assert list(reps["won_revenue"]) == ["€500", "€1,000"]
    assert list(reps["quota_attainment"]) == ["41.7%", "66.7%"]
    assert list(reps["quota_attainment_paced"]) == ["41.7%", "66.7%"]
    assert list(reps["quota_coverage"]) == ["0.0x", "0.0x"]
    assert list(teams["team"]) == ["Team UK", "Team France"]
    assert list(teams["quota_attainment"]) == ["41.7%", "66.7%"]


def test_quotas_tab_says_why_it_is_empty(tiny_store):
    at = _quota_tab(Q1)
    assert any("no quota covers this period" in i.value for i in at.info), [i.value for i in at.info]
    _quotas(tiny_store)
    at = _quota_tab({**Q1, "region": "France"})
    assert any("quotas are set per owner and team" in i.value for i in at.info), [i.value for i in at.info]
