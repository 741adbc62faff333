"""Quotas and pacing (#17) on the hand-built world of metrics_world.py, with quota lines added
(SQLite and PostgreSQL, base tables and rollups).

Owners: o1 Ann Lee and o3 Cy Fox in team Alpha, o2 Bob Ray in team Beta, o4 Dee Kim in no team.
Quota lines (target_revenue with an owner or team, cents):
  o1 Ann   Jan 200000  Feb 200000  Mar 400000   -> Q1 8000.00
  o2 Bob   Jan 100000  Feb 100000  Mar 100000   -> Q1 3000.00
  o3 Cy    Jan  50000  Feb  50000  Mar  50000   -> Q1 1500.00
  o4 Dee   Jan  10000  Feb  10000  Mar  10000   -> Q1  300.00
  Alpha    Jan 300000  Feb 300000  (no March line: March is its members', 400000 + 50000)
                                                -> Q1 3000 + 3000 + 4500 = 10500.00
  Beta     no line: its member Bob's            -> Q1 3000.00
  everyone: Alpha 10500 + Beta 3000 + Dee (no team) 300 = 13800.00
The company target stays the world's 3000 + 2800 + 3100 = 8900.00 (quota lines are not plan lines).
Won in Q1 (world): Ann d1 1000.00 (01-11) + d3 3000.00 (03-22) = 4000.00; Bob d2 1840.00 (02-09).
Open in Q1: Ann d6 4000.00 (03-15, prob 0.4); Bob d7 1170.00 (02-20, prob 0.5).
"""
from __future__ import annotations

import calendar
import datetime as dt

import pandas as pd
import pytest

from metrics import Filters, compute_many
from metrics.quotas import (QUOTA_COLUMNS, behind_pace, owner_quota_table, quota_tables, split_quota_tables,
                            team_quota_table)
from store import schema as s

from metrics_world import D, Q1, build_world, insert, prepare, reason, value

Q1_F = Filters(*Q1)
# Quarter to date on 14 February: won to 02-14, the quota paced to 1 Jan - 14 Feb
QTD_F = Filters(D(2026, 1, 1), D(2026, 2, 14), plan_end=D(2026, 3, 31))

QUOTAS = {"o1": (200000, 200000, 400000), "o2": (100000, 100000, 100000), "o3": (50000, 50000, 50000),
          "o4": (10000, 10000, 10000)}


@pytest.fixture
def world(engine, rollup_mode):
    build_world(engine)
    with engine.begin() as conn:
        insert(conn, s.owners, [dict(owner_id="o3", first_name="Cy", last_name="Fox", team_name="Alpha"),
                                dict(owner_id="o4", first_name="Dee", last_name="Kim")])
        line = dict(region="", product_line="", metric="target_revenue")
        insert(conn, s.budgets, [dict(line, month=D(2026, m + 1, 1), owner_id=oid, team="", value=v)
                                 for oid, values in QUOTAS.items() for m, v in enumerate(values)]
               + [dict(line, month=D(2026, m, 1), owner_id="", team="Alpha", value=300000.0) for m in (1, 2)])
    return prepare(engine, rollup_mode)


def test_quota_per_owner_team_and_everyone(world):
    assert value(world, "quota", Filters(*Q1, owners=("o1",))) == pytest.approx(8000.00)
    assert value(world, "quota", Filters(*Q1, owners=("o1", "o2"))) == pytest.approx(11000.00)
    # Alpha: its own lines in Jan and Feb, its members' in March
    assert value(world, "quota", Filters(*Q1, teams=("Alpha",))) == pytest.approx(10500.00)
    assert value(world, "quota", Filters(*Q1, teams=("Beta",))) == pytest.approx(3000.00)  # Bob's
    assert value(world, "quota", Q1_F) == pytest.approx(13800.00)
    # an owner filter reads the owners' own lines, never a share of the team's
    assert value(world, "quota", Filters(*Q1, owners=("o3",), teams=("Alpha",))) == pytest.approx(1500.00)
    # and the company's target does not read quota lines
    assert value(world, "target_revenue", Q1_F) == pytest.approx(8900.00)


def test_quota_is_prorated_by_day_like_targets(world):
    # 15 - 31 March: 17 of March's 31 days of Ann's 4000.00
    assert value(world, "quota", Filters(D(2026, 3, 15), D(2026, 3, 31), owners=("o1",))) \
        == pytest.approx(4000.00 * 17 / 31)


def test_quota_not_available_says_why(world):
    assert reason(world, "quota", Filters(D(2026, 1, 1), D(2026, 4, 30), owners=("o1",))) == (
        "no quota for Ann Lee in 2026-04: import their target_revenue lines (owner or team column) on the Data page")
    assert reason(world, "quota", Filters(D(2026, 1, 1), D(2026, 4, 30))).startswith("no quota for anyone in 2026-04")
    assert reason(world, "quota", Filters(*Q1, regions=("EMEA",))).startswith(
        "quotas are set per owner and team over every region")
    assert reason(world, "quota", Filters(*Q1, owners=("o3",), teams=("Beta",))) == (
        "none of the chosen owners is in the chosen teams: no quota to compare with")
    assert reason(world, "quota", Filters(D(2025, 1, 1), D(2025, 3, 31))).startswith("no quota covers this period")


def test_attainment_paced_attainment_and_coverage(world):
    ann = Filters(*Q1, owners=("o1",))
    got = compute_many(world, ["quota_attainment", "quota_attainment_paced", "quota_coverage", "forecast"], ann)
    assert got["quota_attainment"].value == pytest.approx(4000 / 8000)
    assert got["quota_attainment_paced"].value == pytest.approx(4000 / 8000)  # a closed period: the same
    assert got["quota_coverage"].value == pytest.approx(4000 / (8000 - 4000))  # d6 over what is left
    assert got["forecast"].value == pytest.approx(4000 + 4000 * 0.4)
    assert value(world, "quota_attainment", Filters(*Q1, teams=("Alpha",))) == pytest.approx(4000 / 10500)


def test_paced_attainment_in_a_period_to_date(world):
    ann = Filters(QTD_F.start, QTD_F.end, owners=("o1",), plan_end=QTD_F.plan_end)
    # won to 14 Feb: d1 1000.00; the whole quarter's quota 8000.00; the quota of 1 Jan - 14 Feb:
    # 2000.00 + 2000.00 x 14 / 28 = 3000.00
    assert value(world, "quota_attainment", ann) == pytest.approx(1000 / 8000)
    assert value(world, "quota_attainment_paced", ann) == pytest.approx(1000 / 3000)
    assert value(world, "quota_coverage", ann) == pytest.approx(4000 / (8000 - 1000))


def test_quota_tables_use_the_metrics_and_sort_worst_pace_first(world):
    reps = owner_quota_table(world, Q1_F)
    assert list(reps.columns) == ["owner_id", "owner", "team", *QUOTA_COLUMNS]
    assert list(reps.owner) == ["Cy Fox", "Dee Kim", "Ann Lee", "Bob Ray"]  # 0 %, 0 %, 50 %, 61.3 %
    assert list(reps.team) == ["Alpha", "(none)", "Alpha", "Beta"]
    ann = reps.set_index("owner_id").loc["o1"]
    assert (ann.quota, ann.won_revenue, ann.forecast) == pytest.approx((8000.0, 4000.0, 5600.0))
    assert ann.quota_attainment == pytest.approx(0.5)
    bob = reps.set_index("owner_id").loc["o2"]
    assert bob.quota_coverage == pytest.approx(1170 / (3000 - 1840))
    teams = team_quota_table(world, Q1_F)
    assert list(teams.team) == ["Alpha", "Beta"]
    assert list(teams.quota) == pytest.approx([10500.0, 3000.0])
    assert list(teams.won_revenue) == pytest.approx([4000.0, 1840.0])
    # an owner filter narrows the rep table to them
    assert list(owner_quota_table(world, Filters(*Q1, owners=("o2",))).owner) == ["Bob Ray"]


def test_both_quota_tables_read_together_are_the_two_tables(world):
    """What the Sales page reads (one connection for reps and teams) is the two tables, row for row."""
    for f in (Q1_F, Filters(*Q1, owners=("o2",)), Filters(*Q1, teams=("Alpha",)), Filters(*Q1, regions=("EMEA",))):
        reps, teams = split_quota_tables(quota_tables(world, f))
        pd.testing.assert_frame_equal(reps, owner_quota_table(world, f), check_dtype=False)
        pd.testing.assert_frame_equal(teams, team_quota_table(world, f), check_dtype=False)
    assert set(quota_tables(world, Q1_F)["kind"]) == {"owner", "team"}


def test_behind_pace_lists_reps_and_teams_under_100_percent_worst_first(world):
    behind = behind_pace(world, Q1_F)
    assert list(zip(behind.kind, behind.name)) == [("owner", "Cy Fox"), ("owner", "Dee Kim"), ("team", "Alpha"),
                                                   ("owner", "Ann Lee"), ("owner", "Bob Ray"), ("team", "Beta")]
    assert list(behind.quota_attainment_paced) == pytest.approx([0, 0, 4000 / 10500, 0.5, 1840 / 3000, 1840 / 3000])
    # in January Bob's 1840.00 is not won yet, Ann's 1000.00 is half her 2000.00; nobody is ahead
    jan = behind_pace(world, Filters(D(2026, 1, 1), D(2026, 1, 31)))
    assert dict(zip(jan.name, jan.quota_attainment_paced)) == pytest.approx(
        {"Cy Fox": 0, "Dee Kim": 0, "Bob Ray": 0, "Beta": 0, "Alpha": 1000 / 3000, "Ann Lee": 0.5})


def test_quota_tables_are_empty_with_a_slice_quotas_do_not_have(world):
    assert owner_quota_table(world, Filters(*Q1, regions=("EMEA",))).empty
    assert team_quota_table(world, Filters(*Q1, product_lines=("A",))).empty


def test_the_company_target_with_an_owner_filter_points_to_the_quota(world):
    assert reason(world, "target_revenue", Filters(*Q1, owners=("o1",))).endswith(
        "(a rep's or a team's target is their quota: the Sales page's Quotas tab)")


def test_quota_tables_read_once_as_each_metric_reads_alone_with_past_due_deals(world):
    """The tables read every rep's deals in one grouped pass (metrics.sales.prefetch_closed); the
    figures are those of each metric computed alone. In the quarter containing today the pipeline
    also holds the past-due open deals (pipeline.past_due: count_in_current_period): Ann's d6
    4,000.00 (15 Mar) and d8 2,000.00 (10 Apr), Bob's d7 1,170.00 (20 Feb); nothing won. With
    1,000.00 a month for Ann and 500.00 for Bob, coverage is 6,000 / 3,000 and 1,170 / 1,500."""
    today = dt.date.today()
    first = dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    months = [dt.date(first.year, first.month + k, 1) for k in range(3)]
    with world.begin() as conn:
        insert(conn, s.budgets, [dict(month=m, region="", product_line="", metric="target_revenue", owner_id=oid,
                                      team="", value=v) for m in months for oid, v in (("o1", 100000), ("o2", 50000))])
    f = Filters(first, today, plan_end=months[-1].replace(day=calendar.monthrange(first.year, months[-1].month)[1]))
    reps = owner_quota_table(world, f).set_index("owner_id")
    assert (reps.loc["o1", "quota"], reps.loc["o2", "quota"]) == pytest.approx((3000.0, 1500.0))
    assert reps.loc["o1", "quota_coverage"] == pytest.approx(6000 / 3000)
    assert reps.loc["o2", "quota_coverage"] == pytest.approx(1170 / 1500)
    for oid in ("o1", "o2"):
        alone = compute_many(world, QUOTA_COLUMNS, Filters(f.start, f.end, owners=(oid,), plan_end=f.plan_end))
        assert [reps.loc[oid, m] for m in QUOTA_COLUMNS] == pytest.approx([alone[m].value for m in QUOTA_COLUMNS],
                                                                          abs=0.005)  # values are to the cent
    teams = team_quota_table(world, f).set_index("team")
    for team in ("Alpha", "Beta"):
        alone = compute_many(world, QUOTA_COLUMNS, Filters(f.start, f.end, teams=(team,), plan_end=f.plan_end))
        assert [teams.loc[team, m] for m in QUOTA_COLUMNS] == pytest.approx([alone[m].value for m in QUOTA_COLUMNS],
                                                                            abs=0.005)
