"""Snapshots: they reproduce the live numbers of the moment, never change afterwards, and a past
week rebuilt later shows the pipeline as it stood on its Monday."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import select

from meeting.snapshots import (QUARTER_CUT, SnapshotError, ensure_weekly_snapshot, fiscal_quarter,
                               live_differences, metric_filters, reconstruct_snapshot, snapshot_deal_rows,
                               snapshot_for_week, snapshot_metric_rows, take_snapshot, value_of)
from metrics import REGISTRY, compute_many
from store import bump_data_version, schema as s

from meeting_crm import NOW, THIS_WEEK

D = dt.date


def test_fiscal_quarter_by_hand():
    assert fiscal_quarter(D(2026, 11, 23), 1) == (D(2026, 10, 1), D(2026, 12, 31))
    assert fiscal_quarter(D(2026, 1, 5), 4) == (D(2026, 1, 1), D(2026, 3, 31))
    assert fiscal_quarter(D(2026, 1, 1), 2) == (D(2025, 11, 1), D(2026, 1, 31))


def test_snapshot_reproduces_the_live_numbers(crm):
    sid = take_snapshot(crm, kind="weekly", now=NOW)
    rows = snapshot_metric_rows(crm, sid)
    # total + 2 regions + 2 product lines + the quarter, every registry metric each
    assert len(rows[rows.cut_type != "target"]) == 6 * len(REGISTRY)
    assert set(rows.cut_value[rows.cut_type == "region"]) == {"France", "DACH"}
    week = rows[rows.cut_type == "total"].iloc[0]
    assert (week.period_start, week.period_end) == (D(2026, 11, 9), D(2026, 11, 15))  # the week just ended
    q = rows[rows.cut_type == QUARTER_CUT].iloc[0]
    assert (q.period_start, q.period_end) == (D(2026, 10, 1), D(2026, 12, 31))
    for (ct, cv, ps, pe), part in rows[rows.cut_type != "target"].groupby(
            ["cut_type", "cut_value", "period_start", "period_end"]):
        live = compute_many(crm, list(part.metric_id), metric_filters(part.iloc[0].to_dict()))
        for r in part.itertuples():
            expected = live[r.metric_id].value
            assert (None if r.value != r.value else r.value) == expected, (ct, cv, r.metric_id)
    # by hand: d1 (10,000 EUR) won on 2026-11-12, inside the week under review
    assert value_of(rows, "won_revenue") == 10000.0
    assert value_of(rows, "won_revenue", "region", "France") == 10000.0
    assert value_of(rows, "won_revenue", "region", "DACH") == 0.0
    # the quarter's budget: 3 months x 30,000 EUR, stored as the north star's target
    assert value_of(rows, "north_star", "target") == 90000.0


def test_snapshot_deals_hold_open_and_recently_closed_deals(crm):
    sid = take_snapshot(crm, kind="weekly", now=NOW)
    deals = {d["deal_id"]: d for d in snapshot_deal_rows(crm, sid)}
    # d5 closed in September (previous quarter) is kept: closed deals of this and the previous quarter
    assert set(deals) == {"d1", "d2", "d3", "d4", "d5"}
    assert (deals["d1"]["is_closed"], deals["d1"]["is_won"]) == (True, True)
    assert (deals["d3"]["is_closed"], deals["d3"]["is_won"]) == (True, False)
    assert deals["d2"]["amount_cents"] == 500000 and deals["d2"]["owner_id"] == "o2"


def test_snapshot_never_changes_afterwards(crm):
    sid = take_snapshot(crm, kind="weekly", now=NOW)
    before = snapshot_metric_rows(crm, sid)
    deals_before = snapshot_deal_rows(crm, sid)
    with crm.begin() as conn:  # a new deal won in the week under review, synced later
        conn.execute(s.deals.insert().values(deal_id="late", amount_cents=250000, currency="EUR",
                                             pipeline_id="default", stage_id="closedwon",
                                             created_at=dt.datetime(2026, 11, 2), close_date=D(2026, 11, 13),
                                             region="France", product_line="Platform"))
        bump_data_version(conn)
    again = take_snapshot(crm, kind="weekly", now=NOW + dt.timedelta(days=1))
    assert again == sid  # one weekly snapshot per week: the first stands
    after = snapshot_metric_rows(crm, sid)
    pd.testing.assert_frame_equal(after, before)
    assert snapshot_deal_rows(crm, sid) == deals_before
    live = compute_many(crm, ["won_revenue"], metric_filters(before[before.cut_type == "total"].iloc[0].to_dict()))
    assert live["won_revenue"].value == 12500.0 and value_of(after, "won_revenue") == 10000.0
    diffs = live_differences(crm, snapshot_for_week(crm, THIS_WEEK), after)
    assert {"metric_id": "won_revenue", "cut_type": "total", "snapshot": 10000.0, "today": 12500.0} in diffs


def test_unchanged_store_reports_no_difference(crm):
    sid = take_snapshot(crm, kind="weekly", now=NOW)
    assert live_differences(crm, snapshot_for_week(crm, THIS_WEEK), snapshot_metric_rows(crm, sid)) == []


def test_on_demand_snapshots_add_beside_the_weekly_one(crm):
    weekly = take_snapshot(crm, kind="weekly", now=NOW)
    extra = take_snapshot(crm, kind="on_demand", now=NOW)
    assert extra != weekly
    rows = snapshot_metric_rows(crm, extra)
    week = rows[rows.cut_type == "total"].iloc[0]
    assert (week.period_start, week.period_end) == (THIS_WEEK, D(2026, 11, 18))  # week to date
    assert snapshot_for_week(crm, THIS_WEEK)["snapshot_id"] == weekly  # the meeting uses the weekly one


def test_future_week_is_refused(crm):
    with pytest.raises(SnapshotError, match="has not started"):
        take_snapshot(crm, week_start=D(2026, 11, 30), now=NOW)


def test_ensure_weekly_snapshot_takes_one_per_week(crm):
    first = ensure_weekly_snapshot(crm, now=NOW)
    assert first is not None
    assert ensure_weekly_snapshot(crm, now=NOW + dt.timedelta(hours=3)) is None
    with crm.connect() as conn:
        assert conn.execute(select(s.pipeline_snapshots.c.snapshot_id)).scalars().all() == [first]


def test_reconstructed_week_shows_the_pipeline_as_it_stood(crm):
    # Monday 2026-11-09 00:00: d1 in contractsent (10,000), d2 qualifiedtobuy since 3 Nov (5,000),
    # d3 qualifiedtobuy (2,000 USD), d4 not created yet, d5 won in September
    sid = reconstruct_snapshot(crm, D(2026, 11, 9), now=NOW)
    deals = {d["deal_id"]: d for d in snapshot_deal_rows(crm, sid)}
    assert set(deals) == {"d1", "d2", "d3", "d5"}
    assert (deals["d1"]["stage_id"], deals["d1"]["is_closed"]) == ("contractsent", False)
    assert deals["d2"]["stage_id"] == "qualifiedtobuy"
    assert (deals["d3"]["stage_id"], deals["d3"]["is_closed"]) == ("qualifiedtobuy", False)
    rows = snapshot_metric_rows(crm, sid)
    # open pipeline closing in Q4 as it stood: 10,000 + 5,000 + 2,000 USD x 0.92
    assert value_of(rows, "open_pipeline", QUARTER_CUT) == pytest.approx(16840.0)
    # weighted: 10,000 x 0.9 + 5,000 x 0.4 + 1,840 x 0.4
    assert value_of(rows, "weighted_pipeline", QUARTER_CUT) == pytest.approx(11736.0)
    # forecast = won in Q4 so far (none by then) + weighted
    assert value_of(rows, "forecast", QUARTER_CUT) == pytest.approx(11736.0)
    # today's store says otherwise: d1 is won, d4 exists (the reconstruction did not read it)
    assert compute_many(crm, ["open_pipeline"], metric_filters(
        rows[rows.cut_type == QUARTER_CUT].iloc[0].to_dict()))["open_pipeline"].value == pytest.approx(12000.0)
    with crm.connect() as conn:
        kind = conn.execute(select(s.pipeline_snapshots.c.kind).where(s.pipeline_snapshots.c.snapshot_id == sid)).scalar()
    assert kind == "reconstructed"
    assert reconstruct_snapshot(crm, D(2026, 11, 11), now=NOW) == sid  # same week: kept


def test_past_week_snapshot_from_the_cli_path_is_reconstructed(crm):
    sid = take_snapshot(crm, week_start=D(2026, 11, 4), now=NOW)
    assert snapshot_for_week(crm, D(2026, 11, 2))["snapshot_id"] == sid
    assert {d["deal_id"] for d in snapshot_deal_rows(crm, sid)} == {"d1", "d2", "d3", "d5"}
