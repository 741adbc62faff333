"""What changed, explained: drivers and segments on hand-built snapshot pairs and on the store
(SQLite and PostgreSQL); every cut adds up to the change exactly."""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings, strategies as st

from meeting.changes import DIMENSIONS, UNTRACED, explain, explain_week, sentence
from meeting.snapshots import SnapshotError, take_snapshot

from meeting_crm import NOW, THIS_WEEK

Q4 = (dt.date(2026, 10, 1), dt.date(2026, 12, 31))
LAST_WEEK = (dt.date(2026, 11, 2), dt.date(2026, 11, 8))
THIS = (dt.date(2026, 11, 9), dt.date(2026, 11, 15))
PROB = {("p", "early"): 0.2, ("p", "late"): 0.5, ("p", "won"): 1.0, ("p", "lost"): 0.0}
NOV = dt.date(2026, 11, 20)
JAN = dt.date(2027, 1, 15)


def deal(deal_id, eur, close, stage="early", region="DACH", line="Platform", owner="o1"):
    closed = stage in ("won", "lost")
    return {"deal_id": deal_id, "name": f"Deal {deal_id}", "amount_cents": eur * 100, "currency": "EUR",
            "pipeline_id": "p", "stage_id": stage, "close_date": close, "is_closed": closed,
            "is_won": stage == "won", "region": region, "product_line": line, "owner_id": owner}


# last week: w1 3000 and w2 5000 won in LAST_WEEK (2 deals, average 4000)
# this week: w3 2000, w4 2000 (open before), w5 5000 won in THIS (3 deals, average 3000)
START = [
    deal("w1", 3000, dt.date(2026, 11, 3), "won", region="France"),
    deal("w2", 5000, dt.date(2026, 11, 5), "won", region="France", line="Analytics"),
    deal("w4", 2000, dt.date(2026, 11, 12), "late", region="France"),   # -> won this week
    deal("push1", 40000, NOV, "late"),                                   # DACH Platform, pushed to Q1
    deal("push2", 50000, NOV, "late"),                                   # DACH Platform, pushed to Q1
    deal("grow", 1000, NOV, "early", region=None, owner="o2"),          # 1000 -> 1600, no region
    deal("stage", 4000, NOV, "early", region="France", line="Analytics", owner="o2"),  # early -> late
    deal("lose", 600, NOV, "late", line="Analytics"),                    # lost
]
END = [
    deal("w1", 3000, dt.date(2026, 11, 3), "won", region="France"),
    deal("w2", 5000, dt.date(2026, 11, 5), "won", region="France", line="Analytics"),
    deal("w3", 2000, dt.date(2026, 11, 10), "won", region="France"),   # created and won this week
    deal("w4", 2000, dt.date(2026, 11, 12), "won", region="France"),
    deal("w5", 5000, dt.date(2026, 11, 14), "won", region="DACH", owner="o2"),
    deal("push1", 40000, JAN, "late"),
    deal("push2", 50000, JAN, "late"),
    deal("grow", 1600, NOV, "early", region=None, owner="o2"),
    deal("stage", 4000, NOV, "late", region="France", line="Analytics", owner="o2"),
    deal("lose", 600, NOV, "lost", line="Analytics"),
]
SOURCES = {"push1": "PAID_SEARCH", "push2": "PAID_SEARCH", "w5": "REFERRALS"}


def _explained(**kw):
    return explain(START, END, start_review=LAST_WEEK, end_review=THIS, quarter=Q4, probability=PROB,
                   sources=SOURCES, names={"o1": "Ana Roux", "o2": "Ben Maier"}, **kw)


def _by_key(parts):
    return {p.key: p.amount_cents // 100 for p in parts if p.amount_cents}


def test_won_revenue_volume_and_size_by_hand():
    won = _explained()["north_star"]
    # R_last = 8000 (N=2, A=4000); R_this = 2000+2000+5000 = 9000 (N=3, A=3000)
    assert (won.start_cents, won.end_cents) == (800000, 900000)
    # volume = (3-2) x 4000 = +4000; size = 3 x (3000-4000) = -3000; together +1000
    assert _by_key(won.drivers) == {"volume": 4000, "size": -3000}
    # by region: France +2000+2000 this week, -3000-5000 last week = -4000; DACH +5000
    assert _by_key(won.segments["region"]) == {"France": -4000, "DACH": 5000}
    assert _by_key(won.segments["source"]) == {"REFERRALS": 5000, "(none)": -4000}
    assert won.sentence == ("Won this week +€1,000: 1 more deal won (3 against 2) (+€4,000), "
                            "average deal size down €1,000 (to €3,000) (-€3,000).")


def test_pipeline_drivers_are_the_waterfall_bars_by_hand():
    pipe = _explained()["open_pipeline"]
    # start: w4 2000 + push1 40000 + push2 50000 + grow 1000 + stage 4000 + lose 600 = 97600
    # end: grow 1600 + stage 4000 = 5600
    assert (pipe.start_cents, pipe.end_cents) == (9760000, 560000)
    assert _by_key(pipe.drivers) == {"won": -2000, "pushed_out": -90000, "increased": 600, "lost": -600}
    assert _by_key(pipe.segments["region"]) == {"France": -2000, "DACH": -90600, "(none)": 600}
    assert _by_key(pipe.segments["owner"]) == {"o1": -92600, "o2": 600}
    assert {p.key: p.label for p in pipe.segments["owner"]} == {"o1": "Ana Roux", "o2": "Ben Maier"}
    assert pipe.sentence.startswith("Open pipeline -€92.0K: 2 DACH Platform deals pushed out of the quarter "
                                    "(-€90.0K), 1 France Platform deal won (-€2,000), ")


def test_forecast_drivers_by_hand():
    fc = _explained()["forecast"]
    # start: won in Q4 w1 3000 + w2 5000; weighted w4 2000x.5 + push 90000x.5 + grow 1000x.2
    #        + stage 4000x.2 + lose 600x.5 = 8000 + 1000 + 45000 + 200 + 800 + 300 = 55300
    # end:   won 3000+5000+2000+2000+5000 = 17000; grow 1600x.2 + stage 4000x.5 = 320 + 2000 -> 19320
    assert (fc.start_cents, fc.end_cents) == (5530000, 1932000)
    assert _by_key(fc.drivers) == {"won": 2000 - 1000, "pushed_out": -45000, "increased": 120,
                                   "stage": 1200, "lost": -300, "other": 2000 + 5000}
    assert fc.sentence.startswith("Forecast -€36.0K: 2 DACH Platform deals pushed out of the quarter (-€45.0K), "
                                  "2 Platform deals won outside the open pipeline or changed after winning (+€7,000), "
                                  "1 France Analytics deal moved stage (+€1,200).")


def test_every_cut_adds_up_exactly():
    for change in _explained().values():
        assert set(change.cuts()) == {"driver", *DIMENSIONS}
        for dim, parts in change.cuts().items():
            assert sum(p.amount_cents for p in parts) == change.change_cents, (change.metric_id, dim)


def test_what_the_deals_do_not_explain_is_its_own_contribution_on_every_cut():
    # the stored tiles say 8000 -> 9500 (e.g. a renewal counted by the North Star basis): +500 untraced
    won = _explained(recorded={"north_star": (8000.0, 9500.0)})["north_star"]
    assert won.change_cents == 150000
    assert _by_key(won.drivers) == {"volume": 4000, "size": -3000, UNTRACED: 500}
    for dim, parts in won.cuts().items():
        assert sum(p.amount_cents for p in parts) == 150000, dim
        assert _by_key(parts)[UNTRACED] == 500


def test_no_change_is_said_plainly():
    assert sentence("Forecast", 0, []) == "Forecast +€0: no change."


_day = st.sampled_from([None, dt.date(2026, 9, 1), dt.date(2026, 11, 3), dt.date(2026, 11, 12), NOV, JAN])
_deal = st.fixed_dictionaries({
    "amount_cents": st.one_of(st.none(), st.integers(0, 10**9)), "currency": st.sampled_from(["EUR", "USD"]),
    "close_date": _day, "stage_id": st.sampled_from(list(s for _, s in PROB)),
    "pipeline_id": st.just("p"), "region": st.sampled_from([None, "DACH", "France"]),
    "product_line": st.sampled_from([None, "Platform"]), "owner_id": st.sampled_from([None, "o1"])})


def _shaped(d):
    return dict(d, is_closed=d["stage_id"] in ("won", "lost"), is_won=d["stage_id"] == "won")


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from("abcdefgh"), _deal), st.dictionaries(st.sampled_from("abcdefgh"), _deal),
       st.one_of(st.none(), st.tuples(st.floats(0, 1e7), st.floats(0, 1e7))))
def test_every_cut_always_adds_up(start, end, recorded):
    s = [_shaped(dict(v, deal_id=k)) for k, v in start.items()]
    e = [_shaped(dict(v, deal_id=k)) for k, v in end.items()]
    out = explain(s, e, start_review=LAST_WEEK, end_review=THIS, quarter=Q4, probability=PROB,
                  fx={"EUR": 1.0, "USD": 0.92}, recorded={"forecast": recorded} if recorded else None)
    for change in out.values():
        for dim, parts in change.cuts().items():
            assert sum(p.amount_cents for p in parts) == change.change_cents, (change.metric_id, dim)


# --- on the store (SQLite and PostgreSQL) ----------------------------------------------------

def test_explain_week_from_the_frozen_snapshots(crm):
    with pytest.raises(SnapshotError, match="no snapshot"):
        explain_week(crm, THIS_WEEK)
    take_snapshot(crm, THIS_WEEK - dt.timedelta(days=7), now=NOW)
    first = explain_week(crm, THIS_WEEK - dt.timedelta(days=7))
    assert first.changes == {} and first.unavailable == "no earlier snapshot to compare with"
    take_snapshot(crm, THIS_WEEK, now=NOW)
    week = explain_week(crm, THIS_WEEK)
    assert week.previous_week == THIS_WEEK - dt.timedelta(days=7)
    won, fc, pipe = week.changes["north_star"], week.changes["forecast"], week.changes["open_pipeline"]
    # d1 (France Platform, 10000 EUR) won on 2026-11-12; nothing won the week before
    assert (won.start_cents, won.end_cents) == (0, 1000000)
    assert _by_key(won.drivers) == {"volume": 10000}
    # forecast as of 2026-11-09: d1 10000 x 0.9 + d2 5000 x 0.4 + d3 2000 USD x 0.92 x 0.4 = 11736
    # as of 2026-11-16: d1 won 10000 + d2 2000 + d4 (new) 7000 x 0.2 = 13400
    assert (fc.start_cents, fc.end_cents) == (1173600, 1340000)
    assert _by_key(fc.drivers) == {"won": 1000, "new": 1400, "lost": -736}
    # open pipeline closing in Q4: 10000 + 5000 + 1840 -> 5000 + 7000
    assert (pipe.start_cents, pipe.end_cents) == (1684000, 1200000)
    assert _by_key(pipe.drivers) == {"won": -10000, "new": 7000, "lost": -1840}
    assert _by_key(pipe.segments["region"]) == {"France": -11840, "DACH": 7000}
    assert {p.label for p in pipe.segments["owner"]} == {"Ana Roux", "Ben Maier"}
    for change in week.changes.values():
        for dim, parts in change.cuts().items():
            assert sum(p.amount_cents for p in parts) == change.change_cents, (change.metric_id, dim)
    assert week.sentences[0] == "Won this week +€10.0K: 1 more deal won (1 against 0) (+€10.0K)."
    table = week.rows()
    assert set(table.dimension) == {"Driver", "Region", "Product line", "Owner", "Source"}
