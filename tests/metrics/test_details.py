"""Row-level and grouped tables (metrics.details): the same records and totals as the KPIs."""
from __future__ import annotations

import pandas as pd
import pytest

from metrics import Filters, compute
from metrics import details as D
from store import schema as s
from store.db import set_meta

from metrics_world import Q1, build_world

Q1_F = Filters(*Q1)


@pytest.fixture
def world(engine):
    build_world(engine)
    return engine


def test_deals_behind_won_revenue_add_up_to_the_kpi(world):
    df = D.deals_behind(world, "won_revenue", Q1_F)
    assert sorted(df["deal_id"]) == ["d1", "d2", "d3"]
    assert df["amount"].sum() == pytest.approx(compute(world, "won_revenue", Q1_F).value)
    assert list(df["deal_id"]) == ["d3", "d2", "d1"]  # largest first


def test_deals_behind_lists_by_kind(world):
    assert sorted(D.deals_behind(world, "win_rate", Q1_F)["deal_id"]) == ["d1", "d2", "d3", "d4", "d5"]
    assert sorted(D.deals_behind(world, "open_pipeline", Q1_F)["deal_id"]) == ["d6", "d7"]
    assert sorted(D.deals_behind(world, "marketing_sourced_revenue", Q1_F)["deal_id"]) == ["d1", "d3"]
    assert len(D.deals_behind(world, "won_revenue", Q1_F, limit=2)) == 2
    with pytest.raises(ValueError, match="not counted in deals"):
        D.deals_behind(world, "mqls", Q1_F)


def test_hubspot_links_only_for_synced_deals(world):
    with world.begin() as conn:
        set_meta(conn, "hubspot_portal_id", "4711")
        conn.execute(s.deals.update().where(s.deals.c.deal_id == "d2").values(origin="csv"))
    df = D.deals_behind(world, "won_revenue", Q1_F).set_index("deal_id")
    assert "4711" in df.loc["d1", "hubspot_url"] and df.loc["d1", "hubspot_url"].endswith("/d1")
    assert pd.isna(df.loc["d2", "hubspot_url"])  # imported from a file: no HubSpot record to open


def test_contacts_behind_and_burnt_leads(world):
    assert sorted(D.contacts_behind(world, "mqls", Q1_F)["contact_id"]) == ["c1", "c2", "c3", "c4"]
    cohort = D.contacts_behind(world, "lead_to_customer_rate", Q1_F).set_index("contact_id")
    assert dict(cohort["converted"]) == {"c1": True, "c2": True, "c4": False, "c5": False}
    burnt = D.burnt_leads(world, Q1_F)
    assert list(burnt["contact_id"]) == ["c2", "c3"]  # oldest MQL first
    assert burnt.set_index("contact_id").loc["c3", "age_hours"] == pytest.approx(72.0)


FUNNEL_CASES = {
    # any-stage, period: as the KPIs (new_leads, mqls, sqls, opportunities, new_customers)
    ("period", "any"): [4, 4, 3, 3, 3],
    # strict, period: own entry date in the period and every earlier one present
    # mql c1 c3 c4 (c2 has none); sql c1 c3; opportunity c1; customer c1
    ("period", "strict"): [4, 3, 2, 1, 1],
    # cohort of leads c1 c2 c4 c5: mql c1 c2 c4; sql c1 c2; opportunity c1 c2; customer c1 c2
    ("cohort", "any"): [4, 3, 2, 2, 2],
    # strict cohort: mql c1 c4; sql / opportunity / customer c1
    ("cohort", "strict"): [4, 2, 1, 1, 1],
}


@pytest.mark.parametrize("view,mode", list(FUNNEL_CASES))
def test_funnel_views_and_modes(world, view, mode):
    df = D.funnel(world, Q1_F, view=view, mode=mode)
    assert list(df.columns) == ["stage", "label", "count", "pct_of_previous", "pct_of_top", "median_days_from_previous"]
    counts = FUNNEL_CASES[(view, mode)]
    assert list(df["count"]) == counts
    assert df["pct_of_top"].tolist() == pytest.approx([n / counts[0] for n in counts])
    assert df["pct_of_previous"].iloc[1] == pytest.approx(counts[1] / counts[0])


def test_funnel_median_days_between_stages(world):
    df = D.funnel(world, Q1_F, view="period", mode="any")
    # lead -> MQL of the period's MQLs: c1 1.42 d, c2 4 d (SQL 01-12 stands in), c3 44 d, c4 1 d
    # in whole days (1.42 d is 1 whole day): median of (1, 1, 4, 44) = (1 + 4) / 2 = 2.5
    assert df["median_days_from_previous"].iloc[1] == pytest.approx(2.5)


def test_pipeline_and_forecast_tables_match_kpis(world):
    stages = D.pipeline_by_stage(world, Q1_F)
    assert stages["amount"].sum() == pytest.approx(compute(world, "open_pipeline", Q1_F).value)
    assert stages["weighted_amount"].sum() == pytest.approx(compute(world, "weighted_pipeline", Q1_F).value)
    forecast = D.forecast_by_category(world, Q1_F)
    assert forecast["weighted_amount"].sum() == pytest.approx(compute(world, "forecast", Q1_F).value)
    assert forecast.set_index("forecast_category").loc["commit", "amount"] == pytest.approx(4000.0)


def test_owner_and_team_tables(world):
    owners = D.owner_table(world, Q1_F).set_index("owner_id")
    assert owners["won_revenue"].sum() == pytest.approx(5840.0)
    # Ann (o1): won d1 d3 = 4000, lost d5 -> 2 / 3
    assert owners.loc["o1", "won_revenue"] == pytest.approx(4000.0)
    assert owners.loc["o1", "win_rate"] == pytest.approx(2 / 3)
    teams = D.team_table(world, Q1_F).set_index("team")
    assert teams.loc["Beta", "open_pipeline"] == pytest.approx(1170.0)


def test_campaign_source_and_lost_reason_tables(world):
    camps = D.campaign_table(world, Q1_F).set_index("campaign")
    assert camps.loc["spring", "spend"] == pytest.approx(500.0)
    assert camps.loc["spring", "won_revenue"] == pytest.approx(4000.0)
    assert camps.loc["spring", "roi"] == pytest.approx(7.0)
    assert camps.loc["spring", "leads"] == 2  # c1 c5 (c3 was a lead in 2025)
    quality = D.source_quality(world, Q1_F).set_index("source")
    assert quality.loc["PAID_SEARCH", "leads"] == 2 and quality.loc["PAID_SEARCH", "became_customer"] == 1
    assert bool(quality.loc["OFFLINE", "is_marketing_sourced"]) is False
    lost = D.lost_reasons_by_source(world, Q1_F)
    assert ("price", 1, 500.0) in set(zip(lost["reason"], lost["count"], lost["amount"]))


def test_leads_by_source_over_time_adds_up_to_new_leads(world):
    df = D.leads_by_source_over_time(world, Q1_F, grain="month")
    assert df["leads"].sum() == 4
    assert set(zip(df["period"], df["source"], df["leads"])) == {
        ("2026-01", "PAID_SEARCH", 1), ("2026-01", "OFFLINE", 1), ("2026-02", "PAID_SOCIAL", 1),
        ("2026-03", "PAID_SEARCH", 1)}
    weeks = D.leads_by_source_over_time(world, Q1_F, grain="week")
    assert "2026-01-05" in set(weeks["period"])  # c1's lead (Monday 2026-01-05)


def test_every_metric_counted_in_deals_or_contacts_has_a_list(world):
    from metrics import REGISTRY
    for mid, mdef in REGISTRY.items():
        if mdef.sources and mdef.sources[0] == "deals":
            D.deals_behind(world, mid, Q1_F, limit=5)
        elif mdef.sources and mdef.sources[0] == "contacts":
            D.contacts_behind(world, mid, Q1_F, limit=5)
