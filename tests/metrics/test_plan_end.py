"""A period in progress: flows to date, plans and stocks over the whole period (metrics.filters).

On 10 March 2026, "Quarter to date" is 1 Jan - 10 Mar (flows) and its plan end is 31 Mar. The
store, worked out by hand:
  won in Q1 to date: d1 1,000.00 (10 Feb) + d2 500.00 (5 Mar) = 1,500.00
  open: d6 1,000.00 closing 25 Mar (later this quarter), d7 400.00 closing 1 Feb (overdue, still
        open), d4 2,000.00 closing 30 Apr (next quarter); stage probability 20%
  revenue target: 3,000.00 for each of January and February, 3,100.00 for March
So, for Quarter to date:
  open pipeline  = d6 + d7 = 1,400.00 (d6 was left out when plans stopped at today: 400.00)
  weighted       = 20% of 1,400.00 = 280.00;  forecast = 1,500.00 + 280.00 = 1,780.00
  target         = 3,000 + 3,000 + 3,100 = 9,100.00 (the whole quarter, not 7,000.00 to date)
  gap            = 9,100.00 - 1,500.00 = 7,600.00 (whole-quarter target - North Star to date)
  coverage       = 1,400.00 / (9,100.00 - 1,500.00) = 0.184210...
"""
from __future__ import annotations

import datetime as dt

import pytest

from metrics import breakdown, compute_many
from metrics.details import deals_behind, owner_table, pipeline_by_stage
from metrics.filters import Filters
from metrics.periods import period_range, plan_end, previous_plan_end, previous_range
from tests.pages.conftest import build_plan_store

TODAY = dt.date(2026, 3, 10)
QTD = Filters(dt.date(2026, 1, 1), TODAY, plan_end=dt.date(2026, 3, 31))


@pytest.fixture
def plan_store(make_store_url, backend):
    url = make_store_url(backend)
    engine = build_plan_store(url)
    return engine


def test_the_preset_names_its_plan_end():
    assert period_range("this_quarter", TODAY) == (dt.date(2026, 1, 1), TODAY)
    assert plan_end("this_quarter", TODAY) == dt.date(2026, 3, 31)
    assert plan_end("this_month", TODAY) == dt.date(2026, 3, 31)
    assert plan_end("this_year", TODAY) == dt.date(2026, 12, 31)
    assert plan_end("last_quarter", TODAY) == dt.date(2025, 12, 31)  # closed: its own end
    # the comparison: the first 69 days of Q4 2025 for flows, all of Q4 for plans
    assert previous_range("this_quarter", TODAY) == (dt.date(2025, 10, 1), dt.date(2025, 12, 8))
    assert previous_plan_end("this_quarter", TODAY) == dt.date(2025, 12, 31)


def test_filters_windows():
    assert QTD.whole().end == dt.date(2026, 3, 31) and QTD.whole().to_date() == QTD
    assert QTD.to_date() is QTD and QTD.in_progress
    closed = Filters(dt.date(2026, 1, 1), dt.date(2026, 3, 31), plan_end=dt.date(2026, 3, 31))
    assert closed.plan_end is None and closed == Filters(dt.date(2026, 1, 1), dt.date(2026, 3, 31))
    assert not closed.in_progress and closed.whole() is closed
    assert QTD.same_period_last_year().plan_end == dt.date(2025, 3, 31)
    assert QTD.previous_period().plan_end is None
    with pytest.raises(ValueError):
        Filters(dt.date(2026, 1, 1), TODAY, plan_end=dt.date(2026, 3, 1))


def test_quarter_to_date_takes_plans_over_the_whole_quarter(plan_store):
    v = {k: mv.value for k, mv in compute_many(plan_store, [
        "north_star", "won_revenue", "open_pipeline", "weighted_pipeline", "forecast", "target_revenue",
        "gap_to_target", "pipeline_coverage", "budget_vs_actual"], QTD).items()}
    assert v["north_star"] == v["won_revenue"] == 1500.0
    assert v["open_pipeline"] == 1400.0
    assert v["weighted_pipeline"] == 280.0
    assert v["forecast"] == 1780.0
    assert v["target_revenue"] == 9100.0
    assert v["gap_to_target"] == 7600.0
    assert v["pipeline_coverage"] == pytest.approx(1400 / 7600)
    assert v["budget_vs_actual"] == pytest.approx(1500 / 9100)
    # without a plan end (a closed period ending today) plans stop at today, as before
    cut = {k: mv.value for k, mv in compute_many(plan_store, ["open_pipeline", "target_revenue"],
                                                  QTD.with_period(QTD.start, TODAY)).items()}
    assert cut == {"open_pipeline": 400.0, "target_revenue": 7000.0}


def test_breakdowns_and_drill_downs_follow_the_same_windows(plan_store):
    by_month = dict((k, mv.value) for k, mv in breakdown(plan_store, "target_revenue", QTD, "month"))
    assert by_month == {"2026-01": 3000.0, "2026-02": 3000.0, "2026-03": 3100.0}
    by_region = dict((k, mv.value) for k, mv in breakdown(plan_store, "open_pipeline", QTD, "region"))
    assert by_region == {"France": 1400.0}
    by_stage = dict((k, mv.value) for k, mv in breakdown(plan_store, "open_pipeline", QTD, "stage"))
    assert sum(by_stage.values()) == 1400.0
    won_by_month = dict((k, mv.value) for k, mv in breakdown(plan_store, "won_revenue", QTD, "month"))
    assert won_by_month == {"2026-01": 0.0, "2026-02": 1000.0, "2026-03": 500.0}
    assert sorted(deals_behind(plan_store, "open_pipeline", QTD)["deal_id"]) == ["d6", "d7"]
    assert sorted(deals_behind(plan_store, "forecast", QTD)["deal_id"]) == ["d1", "d2", "d6", "d7"]
    assert sorted(deals_behind(plan_store, "north_star", QTD)["deal_id"]) == ["d1", "d2"]
    assert pipeline_by_stage(plan_store, QTD)["amount"].sum() == 1400.0
    owners = owner_table(plan_store, QTD).set_index("owner_id")  # the owner row adds up to the KPIs
    assert (owners.loc["o1", "open_pipeline"], owners["won_revenue"].sum()) == (1400.0, 1500.0)


def test_the_month_in_progress_is_set_against_its_target_for_the_same_days(plan_store):
    """The CEO trend: 10 days of March revenue (d2 500.00) beside March's target for those 10 days,
    3,100.00 x 10 / 31 = 1,000.00, not the whole month's 3,100.00."""
    lived = QTD.paced()
    assert (lived.start, lived.end, lived.plan_end) == (dt.date(2026, 1, 1), TODAY, None)
    target = dict((k, mv.value) for k, mv in breakdown(plan_store, "target_revenue", lived, "month"))
    assert target == {"2026-01": 3000.0, "2026-02": 3000.0, "2026-03": 1000.0}
    won = dict((k, mv.value) for k, mv in breakdown(plan_store, "north_star", lived, "month"))
    assert won["2026-03"] == 500.0
