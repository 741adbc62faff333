"""Funnel and marketing metrics on the hand-built world of metrics_world.py (SQLite and PostgreSQL)."""
from __future__ import annotations

import datetime as dt

import pytest

from metrics import Filters, breakdown, compute, compute_many, definition_history, save_definition
from store import schema as s
from store.db import data_version, utcnow

from metrics_world import D, Q1, build_world, contact, insert, prepare

Q1_F = Filters(*Q1)
JAN_F = Filters(D(2026, 1, 1), D(2026, 1, 31))


@pytest.fixture
def world(engine, rollup_mode):
    build_world(engine)
    return prepare(engine, rollup_mode)


def values(engine, ids, f):
    out = compute_many(engine, ids, f)
    missing = {k: v.reason for k, v in out.items() if not v.available}
    assert not missing, missing
    return {k: v.value for k, v in out.items()}


def test_stage_counts_any_stage_in_period(world):
    # lead: c1 c2 c4 c5 (c3 was a lead in 2025, c6 deleted, c7 in April)
    # mql: c1, c2 (skipped MQL: passed it on becoming SQL 01-12), c3, c4
    # sql: c1 c2 c3; opportunity: c1 c2, c3 (skipped: became customer 03-22); customer: c1 c2 c3
    got = values(world, ["new_leads", "mqls", "sqls", "opportunities", "new_customers"], Q1_F)
    assert got == {"new_leads": 4, "mqls": 4, "sqls": 3, "opportunities": 3, "new_customers": 3}


def test_stage_counts_january(world):
    # lead c1 c2; mql c1, c2 (at 01-12); sql c1 c2; opportunity c1 (c2's is 02-01); customer c1
    got = values(world, ["new_leads", "mqls", "sqls", "opportunities", "new_customers"], JAN_F)
    assert got == {"new_leads": 2, "mqls": 2, "sqls": 2, "opportunities": 1, "new_customers": 1}


def test_conversion_rates_follow_the_period_cohort(world):
    got = values(world, ["lead_to_mql_rate", "mql_to_sql_rate", "sql_to_opportunity_rate",
                         "opportunity_to_customer_rate", "lead_to_customer_rate"], Q1_F)
    assert got["lead_to_mql_rate"] == pytest.approx(3 / 4)  # leads c1 c2 c4 c5; c1 c2 c4 reached MQL
    assert got["mql_to_sql_rate"] == pytest.approx(3 / 4)  # MQLs c1 c2 c3 c4; c4 never SQL
    assert got["sql_to_opportunity_rate"] == pytest.approx(1.0)  # c3 passed opportunity as customer
    assert got["opportunity_to_customer_rate"] == pytest.approx(1.0)
    assert got["lead_to_customer_rate"] == pytest.approx(2 / 4)  # c1 c2


def test_contact_filters(world):
    assert compute(world, "new_leads", Filters(*Q1, regions=("EMEA",))).value == 1  # c1
    assert compute(world, "new_leads", Filters(*Q1, sources=("PAID_SEARCH",))).value == 2  # c1 c5
    assert compute(world, "new_leads", Filters(*Q1, owners=("o2",))).value == 2  # c2 c5
    assert compute(world, "new_leads", Filters(*Q1, teams=("Alpha",))).value == 1  # c1
    assert compute(world, "new_leads", Filters(*Q1, product_lines=("A",))).value == 1  # c1 (deal d1)
    assert compute(world, "mqls", Filters(*Q1, regions=("EMEA",), sources=("ORGANIC_SEARCH",))).value == 1  # c3


def test_conversion_not_available_without_cohort(world):
    mv = compute(world, "lead_to_mql_rate", Filters(D(2025, 6, 1), D(2025, 6, 30)))
    assert mv.value is None and "lead" in mv.reason
    assert compute(world, "new_leads", Filters(D(2025, 6, 1), D(2025, 6, 30))).value == 0


def test_marketing_spend_and_cost_per_stage(world):
    # 500 EUR + 200 USD x 0.92 + 300 EUR; the April row is outside
    got = values(world, ["marketing_spend", "cost_per_lead", "cost_per_mql", "cost_per_customer"], Q1_F)
    assert got["marketing_spend"] == pytest.approx(984.00)
    assert got["cost_per_lead"] == pytest.approx(984 / 4)
    assert got["cost_per_mql"] == pytest.approx(984 / 4)
    assert got["cost_per_customer"] == pytest.approx(984 / 3)
    assert compute(world, "marketing_spend", Filters(*Q1, regions=("EMEA",))).value == pytest.approx(800.00)


def test_spend_not_available_without_spend_or_with_owner_filter(world):
    june = compute(world, "cost_per_lead", Filters(D(2025, 6, 1), D(2025, 6, 30)))
    assert june.value is None and "no marketing spend" in june.reason
    owner = compute(world, "marketing_spend", Filters(*Q1, owners=("o1",)))
    assert owner.value is None and "owner" in owner.reason


def test_marketing_sourced_revenue_and_share(world):
    # d1 (deal source PAID_SEARCH) 1000 + d3 (no deal source; contact c3 ORGANIC_SEARCH) 3000;
    # d2's contact c2 is OFFLINE: not marketing-sourced
    got = values(world, ["marketing_sourced_revenue", "marketing_sourced_share"], Q1_F)
    assert got["marketing_sourced_revenue"] == pytest.approx(4000.00)
    assert got["marketing_sourced_share"] == pytest.approx(4000 / 5840)


def test_marketing_sources_are_a_definition(world):
    save_definition(world, "funnel.marketing_sourced_sources", ["PAID_SEARCH"], "cmo@example.com")
    assert compute(world, "marketing_sourced_revenue", Q1_F).value == pytest.approx(1000.00)


def test_campaign_roi_total_and_by_campaign(world):
    # spend: spring 500, summer 184 (the 300 without campaign is not campaign spend)
    # attributed won revenue: spring d1 (c1) 1000 + d3 (c3) 3000; summer none
    assert compute(world, "campaign_roi", Q1_F).value == pytest.approx((4000 - 684) / 684)
    rows = dict((k, mv.value) for k, mv in breakdown(world, "campaign_roi", Q1_F, "campaign"))
    assert rows == {"spring": pytest.approx(7.0), "summer": pytest.approx(-1.0)}


def test_follow_up_within_sla(world):
    # MQLs of Q1: c1 touched after 23 h (ok), c2 never, c3 after 72 h (late), c4 after 5 h (ok)
    got = values(world, ["leads_not_followed_up", "follow_up_rate"], Q1_F)
    assert got == {"leads_not_followed_up": 2, "follow_up_rate": pytest.approx(0.5)}


def test_sla_edit_changes_numbers_and_is_recorded(world):
    before = data_version(world)
    save_definition(world, "funnel.follow_up_sla_hours", 80, "alice@example.com")
    # c3's 72 h are now within the SLA
    got = values(world, ["leads_not_followed_up", "follow_up_rate"], Q1_F)
    assert got == {"leads_not_followed_up": 1, "follow_up_rate": pytest.approx(0.75)}
    assert data_version(world) == before + 1
    history = definition_history(world)
    assert [(h["key"], h["old"], h["new"], h["changed_by"]) for h in history] == [
        ("funnel.follow_up_sla_hours", 48, 80, "alice@example.com")]
    with world.connect() as conn:
        audit = conn.execute(s.audit_log.select()).mappings().all()
    assert [(a["action"], a["target"], a["actor"]) for a in audit] == [
        ("definition.change", "funnel.follow_up_sla_hours", "alice@example.com")]


def test_leads_whose_window_is_still_running_are_left_out(engine):
    now = utcnow()
    with engine.begin() as conn:
        insert(conn, s.contacts, [
            contact("fresh", "EMEA", "PAID_SEARCH", lead=now - dt.timedelta(hours=3), mql=now - dt.timedelta(hours=2)),
            contact("old", "EMEA", "PAID_SEARCH", lead=now - dt.timedelta(hours=99), mql=now - dt.timedelta(hours=98)),
        ])
    f = Filters(now.date() - dt.timedelta(days=10), now.date())
    vals = compute_many(engine, ["mqls", "leads_not_followed_up", "follow_up_rate"], f)
    assert vals["mqls"].value == 2
    assert vals["leads_not_followed_up"].value == 1  # only "old": "fresh" still has 46 hours
    assert vals["follow_up_rate"].value == 0.0
