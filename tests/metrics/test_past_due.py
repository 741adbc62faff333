"""Past-due deals (open, close date passed) on the hand-built world of metrics_world.py plus two
deals (SQLite and PostgreSQL, base tables and rollups): with pipeline.past_due
count_in_current_period (the default) they are in the pipeline and forecast of the period that
contains today; data quality counts them with their amount; the Sales page's list names them for
their owners.

Added to the world:
  pd1  1000.00 EUR  contractsent (0.9)    close 2025-12-20  o2 NA   A
  pd2   500.00 EUR  qualifiedtobuy (0.4)  close 2026-02-03  o1 EMEA A
"Today" is pinned to 2026-02-25 noon for the metrics. Open deals then: d6 4000 (0.4, 03-15),
d7 1170 (p2open 0.5, 02-20), d8 2000 (0.9, 04-10), pd1, pd2.
"""
from __future__ import annotations

import datetime as dt

import pytest

from metrics import Filters, compute_many, data_quality, details, save_definition
from store import schema as s
from store.db import utcnow

from metrics_world import D, Q1, T, build_world, deal, insert, prepare

NOW = T(2026, 2, 25, 12)
Q1_F = Filters(*Q1)
PIPE = ("open_pipeline", "weighted_pipeline", "forecast", "pipeline_coverage", "won_revenue")


@pytest.fixture
def world(engine, rollup_mode):
    build_world(engine)
    with engine.begin() as conn:
        insert(conn, s.deals, [
            deal("pd1", 100000, "EUR", "contractsent", D(2025, 12, 20), "o2", "NA", "A", name="Acme renewal"),
            deal("pd2", 50000, "EUR", "qualifiedtobuy", D(2026, 2, 3), "o1", "EMEA", "A", name="Beta deal"),
        ])
    return prepare(engine, rollup_mode)


def values(engine, f, now=NOW):
    got = compute_many(engine, PIPE, f, now=now)
    return {k: mv.value for k, mv in got.items()}


def test_past_due_deals_count_in_the_period_containing_today(world):
    got = values(world, Q1_F)
    # in Q1 by close date: d6 4000, d7 1170, pd2 500; carried in, past due: pd1 1000
    assert got["open_pipeline"] == pytest.approx(6670.00)
    # 4000 x 0.4 + 1170 x 0.5 + 500 x 0.4 + 1000 x 0.9 = 1600 + 585 + 200 + 900
    assert got["weighted_pipeline"] == pytest.approx(3285.00)
    assert got["forecast"] == pytest.approx(5840.00 + 3285.00)
    # target Q1 8900 - won 5840 = 3060 left to win
    assert got["pipeline_coverage"] == pytest.approx(6670.00 / 3060)


def test_past_due_deals_partial_periods_and_other_periods(world):
    # February contains today: d7 1170 and pd2 500 close in it, pd1 1000 is carried in
    assert values(world, Filters(D(2026, 2, 1), D(2026, 2, 28)))["open_pipeline"] == pytest.approx(2670.00)
    # a custom period from mid-February: d7 and d6 close in it; pd1 and pd2 (02-03, before its
    # start, inside its first month: read from the deals) are carried in
    got = values(world, Filters(D(2026, 2, 15), D(2026, 3, 31)))
    assert got["open_pipeline"] == pytest.approx(6670.00)
    assert got["weighted_pipeline"] == pytest.approx(3285.00)
    # January does not contain today: nothing carried, no open deal closes in it
    assert values(world, Filters(D(2026, 1, 1), D(2026, 1, 31)))["open_pipeline"] == pytest.approx(0.0)
    # March does not contain today: only d6
    assert values(world, Filters(D(2026, 3, 1), D(2026, 3, 31)))["open_pipeline"] == pytest.approx(4000.00)
    # filters apply to the carried deals too: in NA only pd1 is open (d7 has no region)
    assert values(world, Filters(*Q1, regions=("NA",)))["open_pipeline"] == pytest.approx(1000.00)


def test_past_due_definition_exclude_leaves_them_out(world, rollup_mode):
    save_definition(world, "pipeline.past_due", "exclude", "cso@example.com")
    prepare(world, rollup_mode)
    got = values(world, Q1_F)
    assert got["open_pipeline"] == pytest.approx(5670.00)  # d6 4000 + d7 1170 + pd2 500
    assert got["weighted_pipeline"] == pytest.approx(2385.00)


def test_past_due_deals_in_data_quality_with_count_and_amount(world):
    check = next(c for c in data_quality.checks(world) if c["check"] == "past_due_deals")
    # today (after April 2026) every open deal is past due: d6 4000 + d7 1170 + d8 2000 + pd1 1000 + pd2 500
    assert check["count"] == 5
    assert "8,670 EUR" in check["message"] and "period containing today" in check["message"]
    assert "won or lost" in check["hint"] and "Sales page" in check["hint"]


def test_past_due_deals_listed_for_their_owners(world):
    df = details.past_due_deals(world, Q1_F)
    today = utcnow().date()
    assert list(df["deal_id"]) == ["pd1", "pd2", "d7", "d6", "d8"]  # most overdue first
    first = df.iloc[0]
    assert (first["name"], first["owner_id"], first["owner"], first["amount"], first["stage"]) == \
        ("Acme renewal", "o2", "Bob Ray", 1000.00, "Contract sent")
    assert first["close_date"] == D(2025, 12, 20)
    assert first["days_overdue"] == (today - D(2025, 12, 20)).days
    assert list(details.past_due_deals(world, Filters(*Q1, owners=("o1",)))["deal_id"]) == ["pd2", "d6", "d8"]
    assert "hubspot_url" in df.columns


def test_past_due_deals_labelled_in_the_pipeline_by_stage(world):
    # today (after April 2026) Q1's open deals d6 4000, d7 1170 and pd2 500 are all past due
    stages = details.pipeline_by_stage(world, Q1_F)
    assert stages["past_due_amount"].sum() == pytest.approx(5670.00)
    assert stages["past_due_deals"].sum() == 3
    assert stages["amount"].sum() == pytest.approx(5670.00)
