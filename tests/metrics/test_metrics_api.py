"""The public metrics API: registry, breakdowns adding up, empty store, definitions edits, CLI contract."""
from __future__ import annotations

import copy
import json

import pytest

import cli
from metrics import (BREAKDOWNS, NONE_BUCKET, REGISTRY, DefinitionsError, Filters, UnknownMetric, breakdown,
                     compute, compute_many, definition_history, get_definitions, save_definition)
from metrics.definitions import load_file, validate
from metrics.pages import PAGE_METRICS
from metrics.registry import _FUNCTIONS

from metrics_world import Q1, build_world

Q1_F = Filters(*Q1)
CONTRACT_IDS = """north_star won_revenue won_deals lost_deals win_rate avg_deal_size sales_cycle_days
sales_cycle_days_median open_pipeline weighted_pipeline target_revenue gap_to_target pipeline_coverage sales_velocity
forecast new_leads mqls sqls opportunities new_customers lead_to_mql_rate mql_to_sql_rate sql_to_opportunity_rate
opportunity_to_customer_rate lead_to_customer_rate marketing_sourced_revenue marketing_sourced_share marketing_spend
cost_per_lead cost_per_mql cost_per_customer campaign_roi leads_not_followed_up follow_up_rate""".split()
OURS = [m for m in REGISTRY if m in CONTRACT_IDS]


@pytest.fixture
def world(engine):
    build_world(engine)
    return engine


def test_registry_has_every_contract_metric_with_a_function():
    assert [m for m in CONTRACT_IDS if m not in REGISTRY] == []
    assert [m for m in REGISTRY if m not in _FUNCTIONS] == []
    for mdef in REGISTRY.values():
        assert mdef.definition and mdef.formula and mdef.sources, mdef.id
        assert set(mdef.breakdowns) <= set(BREAKDOWNS), mdef.id


def test_page_metric_sets_name_registered_metrics():
    assert {m for ids in PAGE_METRICS.values() for m in ids} - set(REGISTRY) == set()


def test_empty_store_gives_not_available_with_reasons(engine):
    values = compute_many(engine, list(REGISTRY), Q1_F)
    assert set(values) == set(REGISTRY)
    for mid, mv in values.items():
        assert mv.value is None and mv.reason, f"{mid} on an empty store: {mv.value!r}"


def test_unknown_metric_and_breakdown_are_clear_errors(world):
    with pytest.raises(UnknownMetric, match="revenu"):
        compute(world, "revenu", Q1_F)
    with pytest.raises(ValueError, match="no breakdown by stage"):
        breakdown(world, "won_revenue", Q1_F, "stage")


# Sums and counts of records add up over segments; averages, per-unit costs and budget-based
# figures (targets are set per region top-down, not as parts of the total) do not.
NOT_ADDITIVE = ("avg_deal_size", "cost_per_lead", "cost_per_mql", "cost_per_customer", "sales_velocity",
                "target_revenue", "gap_to_target")
ADDITIVE = [m for m in OURS if REGISTRY[m].unit in ("money", "count") and m not in NOT_ADDITIVE]


@pytest.mark.parametrize("by", ["region", "owner", "team", "source", "month", "product_line"])
def test_breakdowns_add_up_to_the_total(world, by):
    checked = 0
    for mid in ADDITIVE:
        mdef = REGISTRY[mid]
        if by not in mdef.breakdowns or (by == "product_line" and mdef.sources[0] == "contacts"):
            continue  # a contact can have deals in several product lines: that split overlaps
        total = compute(world, mid, Q1_F)
        if total.value is None:
            continue
        parts = breakdown(world, mid, Q1_F, by)
        assert sum(mv.value for _, mv in parts) == pytest.approx(total.value, abs=0.011), (mid, by, parts)
        checked += 1
    assert checked >= 5


def test_region_breakdown_has_a_none_bucket(world):
    parts = {k: mv.value for k, mv in breakdown(world, "open_pipeline", Q1_F, "region")}
    assert parts == {"EMEA": pytest.approx(4000.0), NONE_BUCKET: pytest.approx(1170.0)}  # d7 has no region
    rates = {k: mv.value for k, mv in breakdown(world, "win_rate", Q1_F, "region")}
    # EMEA: d1 d3 won, no loss; NA: d2 won, d4 lost; (none): d5 lost
    assert rates == {"EMEA": 1.0, "NA": 0.5, NONE_BUCKET: 0.0}


def test_owner_breakdown_is_labelled_by_name(world):
    parts = {k: mv.value for k, mv in breakdown(world, "won_revenue", Q1_F, "owner")}
    assert parts == {"Ann Lee": pytest.approx(4000.0), "Bob Ray": pytest.approx(1840.0)}


def test_grouped_breakdowns(world):
    stages = {k: mv.value for k, mv in breakdown(world, "open_pipeline", Q1_F, "stage")}
    assert stages == {"Qualified to buy": pytest.approx(4000.0), "Renewal open": pytest.approx(1170.0)}
    channels = {k: mv.value for k, mv in breakdown(world, "marketing_spend", Q1_F, "channel")}
    assert channels == {"google": pytest.approx(800.0), "linkedin": pytest.approx(184.0)}


def test_breakdown_respects_an_existing_filter(world):
    parts = breakdown(world, "won_revenue", Filters(*Q1, regions=("NA",)), "region")
    assert [(k, mv.value) for k, mv in parts] == [("NA", pytest.approx(1840.0))]


def test_validation_reports_every_problem_at_once():
    raw = copy.deepcopy(load_file())
    raw["locale"] = "xx-XX"
    raw["funnel"]["follow_up_sla_hours"] = -1
    raw["currency"]["fx_to_reporting"]["USD"] = 0
    problems = validate(raw)
    assert any(p.startswith("locale") for p in problems)
    assert any(p.startswith("funnel.follow_up_sla_hours") for p in problems)
    assert any(p.startswith("currency.fx_to_reporting") for p in problems)


def test_invalid_edit_is_refused_and_not_stored(world):
    with pytest.raises(DefinitionsError) as err:
        save_definition(world, "funnel.follow_up_sla_hours", -5, "alice@example.com")
    assert "follow_up_sla_hours" in str(err.value)
    with pytest.raises(DefinitionsError, match="no such definition"):
        save_definition(world, "funnel.sla", 12, "alice@example.com")
    with pytest.raises(DefinitionsError, match="who"):
        save_definition(world, "funnel.follow_up_sla_hours", 24, "")
    assert definition_history(world) == []
    assert get_definitions(world).follow_up_sla_hours == 48


def test_cli_json_contract(world, monkeypatch, capsys):
    monkeypatch.setenv("NORTHSTAR_DB_URL", str(world.url.render_as_string(hide_password=False)))
    assert cli.main(["metrics", "--from", "2026-01-01", "--to", "2026-03-31", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"as_of", "filters", "metrics"}
    assert out["filters"]["start"] == "2026-01-01" and out["filters"]["end"] == "2026-03-31"
    assert list(out["metrics"]) == list(REGISTRY)
    won = out["metrics"]["won_revenue"]
    assert set(won) == {"value", "unit", "label", "definition"} and won["value"] == 5840.0 and won["unit"] == "money"
    missing = [m for m, v in out["metrics"].items() if v["value"] is None]
    assert missing and all(set(out["metrics"][m]) == {"value", "unit", "label", "definition", "reason"}
                           for m in missing)


def test_cli_filters_and_breakdown(world, monkeypatch, capsys):
    monkeypatch.setenv("NORTHSTAR_DB_URL", str(world.url.render_as_string(hide_password=False)))
    assert cli.main(["metrics", "--from", "2026-01-01", "--to", "2026-03-31", "--region", "EMEA", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["metrics"]["won_revenue"]["value"] == 4000.0
    assert cli.main(["metrics", "--from", "2026-01-01", "--to", "2026-03-31", "--metric", "won_revenue",
                     "--by", "month", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [(r["segment"], r["value"]) for r in rows] == [("2026-01", 1000.0), ("2026-02", 1840.0), ("2026-03", 3000.0)]
    assert cli.main(["metrics", "--from", "2026-01-01", "--to", "2026-03-31", "--metric", "won_revenue",
                     "--by", "stage"]) == 2
    assert "no breakdown by stage" in capsys.readouterr().err
