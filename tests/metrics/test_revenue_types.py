"""Revenue by type on the hand-built world of metrics_world.py plus three deals (SQLite and
PostgreSQL, base tables and rollups): new business, expansion and renewal add up to won revenue on
every filter; the type rules come from the shared definitions (pipeline first, then HubSpot's
dealtype); the North Star counts every type, marketing-sourced revenue, its share, campaign ROI
and the win rate new business only, each as the definitions say.

Added to the world (Q1 2026):
  r1  800.00 EUR  renewalwon  02-10  pipeline renewals (dealtype existingbusiness)  o1 EMEA A     -> renewal
  x1  600.00 EUR  closedwon   03-05  default, dealtype existingbusiness             o1 EMEA A c1  -> expansion
      (c1: PAID_SEARCH, campaign spring; deal source PAID_SEARCH)
  x2  300.00 EUR  closedlost  03-06  default, dealtype existingbusiness             o2 NA   A     -> expansion, lost
Default rules: d1, d2 (no dealtype) and d3, d5 (pipeline p2, not a renewal pipeline) are new business.
"""
from __future__ import annotations

import pytest

from metrics import Filters, breakdown, compute_many, details, save_definition
from metrics.filters import NONE_BUCKET
from store import schema as s

from metrics_world import D, Q1, build_world, deal, insert, prepare, value

Q1_F = Filters(*Q1)
TYPES = ("new_business_revenue", "expansion_revenue", "renewal_revenue")


def add_typed_deals(engine) -> None:
    with engine.begin() as conn:
        insert(conn, s.pipelines, [dict(pipeline_id="renewals", label="Renewals")])
        insert(conn, s.pipeline_stages, [
            dict(pipeline_id="renewals", stage_id="renewalopen", label="Renewal upcoming", display_order=1,
                 probability=0.7),
            dict(pipeline_id="renewals", stage_id="renewalwon", label="Renewed", display_order=2, probability=1.0,
                 is_closed=True, is_won=True),
            dict(pipeline_id="renewals", stage_id="renewallost", label="Churned", display_order=3, probability=0.0,
                 is_closed=True),
        ])
        insert(conn, s.deals, [
            deal("r1", 80000, "EUR", "renewalwon", D(2026, 2, 10), "o1", "EMEA", "A", pipeline="renewals",
                 deal_type="existingbusiness"),
            deal("x1", 60000, "EUR", "closedwon", D(2026, 3, 5), "o1", "EMEA", "A", "c1", "PAID_SEARCH",
                 deal_type="existingbusiness"),
            deal("x2", 30000, "EUR", "closedlost", D(2026, 3, 6), "o2", "NA", "A", deal_type="existingbusiness"),
        ])


@pytest.fixture
def world(engine, rollup_mode):
    build_world(engine)
    add_typed_deals(engine)
    return prepare(engine, rollup_mode)


def test_revenue_types_split_won_revenue_by_the_default_rules(world):
    # new business: d1 1000 + d2 1840 + d3 3000 = 5840; expansion x1 600; renewal r1 800
    assert value(world, "new_business_revenue", Q1_F) == pytest.approx(5840.00)
    assert value(world, "expansion_revenue", Q1_F) == pytest.approx(600.00)
    assert value(world, "renewal_revenue", Q1_F) == pytest.approx(800.00)
    assert value(world, "won_revenue", Q1_F) == pytest.approx(7240.00)
    assert value(world, "north_star", Q1_F) == pytest.approx(7240.00)  # every type by default
    rows = {k: mv.value for k, mv in breakdown(world, "won_revenue", Q1_F, "revenue_type")}
    assert rows == pytest.approx({"New business": 5840.00, "Expansion": 600.00, "Renewal": 800.00})
    assert {k: mv.value for k, mv in breakdown(world, "north_star", Q1_F, "revenue_type")} == pytest.approx(rows)


FILTERS = [
    Q1_F, Filters(D(2026, 1, 1), D(2026, 1, 31)), Filters(D(2026, 2, 5), D(2026, 3, 10)),  # partial months
    Filters(*Q1, regions=("EMEA",)), Filters(*Q1, regions=(NONE_BUCKET,)), Filters(*Q1, regions=("NA",)),
    Filters(*Q1, product_lines=("A",)), Filters(*Q1, product_lines=("B",)), Filters(*Q1, owners=("o1",)),
    Filters(*Q1, owners=("o2",)), Filters(*Q1, teams=("Alpha",)), Filters(*Q1, pipelines=("renewals",)),
    Filters(*Q1, pipelines=("default",)), Filters(*Q1, sources=("PAID_SEARCH",)),
    Filters(*Q1, sources=(NONE_BUCKET,)), Filters(D(2026, 4, 1), D(2026, 6, 30)),
]


@pytest.mark.parametrize("f", FILTERS, ids=range(len(FILTERS)))
def test_revenue_types_sum_to_won_revenue_on_every_filter(world, f):
    got = compute_many(world, ("won_revenue", *TYPES), f)
    assert all(mv.available for mv in got.values()), {k: mv.reason for k, mv in got.items()}
    assert sum(got[t].value for t in TYPES) == pytest.approx(got["won_revenue"].value, abs=0.005)


def test_revenue_types_new_business_only_metrics(world):
    got = compute_many(world, ("win_rate", "marketing_sourced_revenue", "marketing_sourced_share", "campaign_roi"),
                       Q1_F)
    # win rate, new business: won d1 d2 d3, lost d4 d5 (x2 is an expansion) -> 3 / 5
    assert got["win_rate"].value == pytest.approx(0.6)
    # marketing-sourced new business: d1 1000 (PAID_SEARCH) + d3 3000 (c3 ORGANIC_SEARCH); x1 is an expansion
    assert got["marketing_sourced_revenue"].value == pytest.approx(4000.00)
    assert got["marketing_sourced_share"].value == pytest.approx(4000 / 5840)  # of new business revenue
    # campaign spend in Q1: spring 500 + summer 184 = 684; new business won by campaign: spring d1 + d3 = 4000
    assert got["campaign_roi"].value == pytest.approx((4000 - 684) / 684)


def test_revenue_types_counted_by_definitions_change_the_metrics(world, rollup_mode):
    everything = ["new_business", "expansion", "renewal"]
    for figure in ("win_rate", "marketing_sourced_revenue", "campaign_roi"):
        save_definition(world, f"revenue_types.counted_by.{figure}", everything, "cfo@example.com")
    save_definition(world, "revenue_types.counted_by.north_star", ["new_business"], "cfo@example.com")
    prepare(world, rollup_mode)
    got = compute_many(world, ("win_rate", "marketing_sourced_revenue", "marketing_sourced_share", "campaign_roi",
                               "north_star", "won_revenue"), Q1_F)
    assert got["win_rate"].value == pytest.approx(5 / 8)  # won d1 d2 d3 r1 x1, lost d4 d5 x2
    assert got["marketing_sourced_revenue"].value == pytest.approx(4600.00)  # + x1 600
    assert got["marketing_sourced_share"].value == pytest.approx(4600 / 7240)
    assert got["campaign_roi"].value == pytest.approx((4600 - 684) / 684)  # x1's contact c1 is in spring
    assert got["north_star"].value == pytest.approx(5840.00)  # new business only
    assert got["won_revenue"].value == pytest.approx(7240.00)


def test_revenue_types_rules_from_definitions_pipeline_then_dealtype(world, rollup_mode):
    # p2 becomes a renewal pipeline; existingbusiness is no longer an expansion but a renewal
    save_definition(world, "revenue_types.renewal_pipelines", ["renewals", "p2"], "cfo@example.com")
    save_definition(world, "revenue_types.expansion_deal_types", [], "cfo@example.com")
    save_definition(world, "revenue_types.renewal_deal_types", ["existingbusiness"], "cfo@example.com")
    prepare(world, rollup_mode)
    got = compute_many(world, (*TYPES, "won_revenue", "win_rate"), Q1_F)
    assert got["new_business_revenue"].value == pytest.approx(2840.00)  # d1 1000 + d2 1840
    assert got["expansion_revenue"].value == pytest.approx(0.0)
    assert got["renewal_revenue"].value == pytest.approx(4400.00)  # d3 3000 (p2) + r1 800 + x1 600 (dealtype)
    assert got["won_revenue"].value == pytest.approx(7240.00)
    assert got["win_rate"].value == pytest.approx(2 / 3)  # new business: won d1 d2, lost d4 (d5 is p2 now)


def test_revenue_types_definitions_are_validated(world):
    from metrics.definitions import DefinitionsError
    with pytest.raises(DefinitionsError, match="revenue_types.counted_by.win_rate"):
        save_definition(world, "revenue_types.counted_by.win_rate", ["upsell"], "cfo@example.com")
    with pytest.raises(DefinitionsError, match="revenue_types.counted_by.campaign_roi"):
        save_definition(world, "revenue_types.counted_by.campaign_roi", [], "cfo@example.com")


def test_revenue_types_owner_table_shows_the_counts_its_win_rate_divides(world):
    """Ann (o1) won d1 d3 (new business), r1 (renewal), x1 (expansion), lost d5 (new business): her
    table row shows 4 won and 1 lost, but the win rate counts new business only, 2 won of 3 closed;
    the two counts it divides sit beside it, so the row adds up by eye."""
    owners = details.owner_table(world, Q1_F).set_index("owner_id")
    ann = owners.loc["o1"]
    assert (ann["won_deals"], ann["lost_deals"]) == (4, 1)
    assert (ann["won_deals_in_win_rate"], ann["lost_deals_in_win_rate"]) == (2, 1)
    assert ann["win_rate"] == pytest.approx(2 / 3)
    assert ann["win_rate"] == pytest.approx(value(world, "win_rate", Filters(*Q1, owners=("o1",))))
    save_definition(world, "revenue_types.counted_by.win_rate", ["new_business", "expansion", "renewal"],
                    "cfo@example.com")
    owners = details.owner_table(world, Q1_F).set_index("owner_id")
    assert "won_deals_in_win_rate" not in owners.columns  # every type counts: the rate is won / (won + lost)
    assert owners.loc["o1", "win_rate"] == pytest.approx(4 / 5)
