"""Sales metrics on the hand-built world of metrics_world.py (SQLite and PostgreSQL).

Expected values are worked out in the comments from the rows in that module's docstring.
"""
from __future__ import annotations


import pytest

from metrics import Filters, compute, compute_many, save_definition
from store import schema as s

from metrics_world import D, Q1, build_world, deal, insert, prepare, reason, value

Q1_F = Filters(*Q1)
JAN_F = Filters(D(2026, 1, 1), D(2026, 1, 31))
FEB_F = Filters(D(2026, 2, 1), D(2026, 2, 28))


@pytest.fixture
def world(engine, rollup_mode):
    build_world(engine)
    return prepare(engine, rollup_mode)



def test_won_revenue_counts_won_stages_of_both_pipelines_in_reporting_currency(world):
    # d1 1000 EUR + d2 2000 USD x 0.92 = 1840 + d3 3000 EUR (p2won, from pipeline_stages flags);
    # d9 is deleted, d4/d5 lost
    assert value(world, "won_revenue", Q1_F) == pytest.approx(5840.00)
    assert value(world, "won_deals", Q1_F) == 3
    assert value(world, "lost_deals", Q1_F) == 2  # d4, d5


def test_won_revenue_uses_close_date_period(world):
    assert value(world, "won_revenue", JAN_F) == pytest.approx(1000.00)  # d1 only; d2 closes 02-09
    assert value(world, "won_revenue", FEB_F) == pytest.approx(1840.00)


def test_north_star_booked_equals_won_revenue(world):
    assert value(world, "north_star", Q1_F) == pytest.approx(5840.00)


def test_north_star_invoiced_basis_delegates_to_invoiced_revenue(world):
    save_definition(world, "north_star.basis", "invoiced", "cfo@example.com")
    ns, inv = compute(world, "north_star", Q1_F), compute(world, "invoiced_revenue", Q1_F)
    assert (ns.value, ns.reason) == (inv.value, inv.reason)
    assert ns.value != pytest.approx(5840.00)  # no invoices in this world: not the booked figure


def test_win_rate_is_by_count_of_closed_deals(world):
    # won d1 d2 d3, lost d4 d5: 3 / 5
    assert value(world, "win_rate", Q1_F) == pytest.approx(0.6)
    # January: won d1, lost d4 -> 1 / 2
    assert value(world, "win_rate", JAN_F) == pytest.approx(0.5)


def test_avg_deal_size_and_sales_cycle(world):
    assert value(world, "avg_deal_size", Q1_F) == pytest.approx(round(5840 / 3, 2))
    # cycles: d1 10, d2 30, d3 49 days -> mean 89/3, median 30
    assert value(world, "sales_cycle_days", Q1_F) == pytest.approx(89 / 3)
    assert value(world, "sales_cycle_days_median", Q1_F) == pytest.approx(30.0)
    # January + February: d1 10, d2 30 -> median of an even count is the mean of the middle two = 20
    assert value(world, "sales_cycle_days_median", Filters(D(2026, 1, 1), D(2026, 2, 28))) == pytest.approx(20.0)


def test_open_and_weighted_pipeline_close_in_period(world):
    # open, closing in Q1: d6 4000 x 0.4 (definitions beat the stored 0.3) and d7 1170 x 0.5 (stored);
    # d8 closes in April
    assert value(world, "open_pipeline", Q1_F) == pytest.approx(5170.00)
    assert value(world, "weighted_pipeline", Q1_F) == pytest.approx(1600.00 + 585.00)
    assert value(world, "open_pipeline", Filters(D(2026, 4, 1), D(2026, 4, 30))) == pytest.approx(2000.00)


def test_forecast_is_won_plus_weighted(world):
    assert value(world, "forecast", Q1_F) == pytest.approx(5840.00 + 2185.00)


def test_target_gap_and_coverage(world):
    # all-regions targets 3000 + 2800 + 3100 (cents / 100)
    assert value(world, "target_revenue", Q1_F) == pytest.approx(8900.00)
    assert value(world, "gap_to_target", Q1_F) == pytest.approx(8900.00 - 5840.00)
    assert value(world, "pipeline_coverage", Q1_F) == pytest.approx(5170 / (8900 - 5840))
    # February: target 2800, won 1840 (d2), open closing in Feb 1170 (d7)
    assert value(world, "pipeline_coverage", FEB_F) == pytest.approx(1170 / 960)


def test_target_is_prorated_by_day_and_follows_region(world):
    assert value(world, "target_revenue", Filters(D(2026, 1, 1), D(2026, 1, 15))) == pytest.approx(round(3000 * 15 / 31, 2))  # money: rounded to cents
    assert value(world, "target_revenue", Filters(*Q1, regions=("EMEA",))) == pytest.approx(4500.00)


def test_target_not_available_when_budget_missing_or_filter_unsupported(world):
    assert "2026-04" in reason(world, "target_revenue", Filters(D(2026, 3, 1), D(2026, 4, 30)))
    assert "owner" in reason(world, "target_revenue", Filters(*Q1, owners=("o1",)))
    assert "owner" in reason(world, "gap_to_target", Filters(*Q1, owners=("o1",)))


def test_sales_velocity(world):
    # 2 open deals closing in Q1 x 0.6 x (5840 / 3) / (89 / 3) = 7008 / 89 per day
    assert value(world, "sales_velocity", Q1_F) == pytest.approx(round(7008 / 89, 2))  # money per day, in cents


def test_filters_combine(world):
    assert value(world, "won_revenue", Filters(*Q1, regions=("EMEA",), owners=("o1",))) == pytest.approx(4000.00)
    assert value(world, "won_revenue", Filters(*Q1, regions=("EMEA",), product_lines=("B",))) == pytest.approx(3000.00)
    assert value(world, "won_revenue", Filters(*Q1, teams=("Beta",))) == pytest.approx(1840.00)
    assert value(world, "won_revenue", Filters(*Q1, sources=("PAID_SEARCH",))) == pytest.approx(1000.00)
    assert value(world, "won_revenue", Filters(*Q1, pipelines=("p2",))) == pytest.approx(3000.00)
    assert value(world, "won_revenue", Filters(*Q1, regions=("EMEA",), teams=("Beta",))) == 0.0


def test_region_rule_from_owner(world):
    # d7 (no region of its own) belongs to o2, whose region is NA
    assert value(world, "open_pipeline", Filters(*Q1, regions=("NA",))) == 0.0
    save_definition(world, "dimensions.region_from", "owner", "ceo@example.com")
    assert value(world, "open_pipeline", Filters(*Q1, regions=("NA",))) == pytest.approx(1170.00)


def test_undefined_values_are_not_available_with_reason(world):
    april = Filters(D(2026, 4, 1), D(2026, 4, 30))  # only d8, open
    assert "won or lost" in reason(world, "win_rate", april)
    assert "won" in reason(world, "avg_deal_size", april)
    assert "won" in reason(world, "sales_cycle_days", april)
    assert "won" in reason(world, "sales_velocity", april)
    assert value(world, "won_revenue", april) == 0.0  # a real zero, not "unknown"


def test_coverage_not_available_once_target_reached(world):
    with world.begin() as conn:
        insert(conn, s.deals, [deal("d20", 900000, "EUR", "closedwon", D(2026, 1, 25), "o1", "EMEA", "A")])
    assert "reached" in reason(world, "pipeline_coverage", JAN_F)


def test_definition_can_override_stored_stage_flags(world):
    # p2open becomes a won stage: d7 (1170, closes 02-20) moves from pipeline to won revenue
    save_definition(world, "pipelines.p2", {"label": "Renewals", "won_stages": ["p2won", "p2open"],
                                            "lost_stages": ["p2lost"]}, "cso@example.com")
    vals = compute_many(world, ["won_revenue", "open_pipeline"], Q1_F)
    assert vals["won_revenue"].value == pytest.approx(5840.00 + 1170.00)
    assert vals["open_pipeline"].value == pytest.approx(4000.00)


def test_probability_edit_changes_weighted_pipeline(world):
    save_definition(world, "pipelines.default.probabilities.qualifiedtobuy", 0.5, "cso@example.com")
    assert value(world, "weighted_pipeline", Q1_F) == pytest.approx(4000 * 0.5 + 585.00)


def test_unknown_currency_is_left_out_not_converted_at_one(engine):
    with engine.begin() as conn:
        insert(conn, s.deals, [deal("x1", 100000, "EUR", "closedwon", D(2026, 1, 5)),
                               deal("x2", 700000, "JPY", "closedwon", D(2026, 1, 6))])
    f = Filters(D(2026, 1, 1), D(2026, 1, 31))
    assert value(engine, "won_revenue", f) == pytest.approx(1000.00)
    assert value(engine, "won_deals", f) == 2
    from metrics import data_quality
    found = {c["check"]: c for c in data_quality.checks(engine)}
    assert found["unknown_currency"]["count"] == 1 and "JPY" in found["unknown_currency"]["message"]


def test_target_not_available_for_a_region_without_budget(world):
    assert "selected regions" in reason(world, "target_revenue", Filters(*Q1, regions=("NA",)))


def test_adding_an_exchange_rate_brings_the_amount_in(engine):
    with engine.begin() as conn:
        insert(conn, s.deals, [deal("y1", 1000000, "JPY", "closedwon", D(2026, 1, 6))])
    f = Filters(D(2026, 1, 1), D(2026, 1, 31))
    assert value(engine, "won_revenue", f) == 0.0  # no JPY rate: left out (and flagged)
    save_definition(engine, "currency.fx_to_reporting.JPY", 0.0062, "cfo@example.com")
    assert value(engine, "won_revenue", f) == pytest.approx(62.00)  # 10,000 JPY x 0.0062
