"""Decisions followed to their outcome: the verdict rule by hand, and decisions followed over
hand-built snapshot histories (SQLite and PostgreSQL)."""
from __future__ import annotations

import datetime as dt

import pytest

from meeting import decisions as dec
from meeting.outcomes import aim_text, due_meeting, follow_decision, followed_decisions, verdict
from meeting.snapshots import take_snapshot

from meeting_crm import NOW, THIS_WEEK

LAST = THIS_WEEK - dt.timedelta(days=7)  # 2026-11-09


@pytest.mark.parametrize("baseline, value, direction, target, expected", [
    (100, 120, "up", None, "as_intended"),
    (100, 100, "up", None, "not_yet"),
    (100, 90, "up", None, "other_way"),
    (100, 90, "down", None, "as_intended"),
    (100, 110, "down", None, "other_way"),
    (100, 150, None, 150, "as_intended"),     # reached exactly
    (100, 160, None, 150, "as_intended"),     # beyond
    (100, 120, None, 150, "not_yet"),         # on the way
    (100, 100, None, 150, "not_yet"),
    (100, 80, None, 150, "other_way"),
    (100, 60, None, 50, "not_yet"),           # down from 100 towards 50: on the way
    (100, 40, None, 50, "as_intended"),
    (100, 130, None, 50, "other_way"),
    (100, 130, "down", 150, "other_way"),      # the named direction decides: up is the other way
    (100, 90, "down", 150, "as_intended"),     # down, and at most 150
    (None, 100, "up", None, None),
    (100, None, "up", None, None),
    (100, 120, None, None, None),
])
def test_verdict_rule_by_hand(baseline, value, direction, target, expected):
    assert verdict(baseline, value, direction, target) == expected


def test_due_meeting_is_the_monday_after_the_due_week():
    assert due_meeting(dt.date(2026, 11, 12)) == dt.date(2026, 11, 16)  # a Thursday
    assert due_meeting(dt.date(2026, 11, 15)) == dt.date(2026, 11, 16)  # a Sunday
    assert due_meeting(dt.date(2026, 11, 16)) == dt.date(2026, 11, 23)  # a Monday: reviewed the week after
    assert due_meeting(None) is None


def test_aim_in_words():
    d = {"metric_id": "won_revenue", "segment_type": "owner", "segment_value": "o2", "direction": "up",
         "target_value": 250000.0, "due_date": dt.date(2026, 12, 31)}
    assert aim_text(d, {"o2": "Ben Maier"}) == "Won revenue, owner Ben Maier: up to €250,000 by 2026-12-31"
    assert aim_text({"metric_id": "win_rate", "target_value": 0.25}) == "Win rate: reach 25.0%"


def _add(engine, **kw):
    return dec.add_decision(engine, text=kw.pop("text", "a decision"), owner="Ana", actor="lead@acme.com",
                            week_start=LAST, now=dt.datetime(2026, 11, 10, 9), **kw)


def test_decisions_followed_over_hand_built_snapshots(crm):
    take_snapshot(crm, LAST, now=NOW)
    take_snapshot(crm, THIS_WEEK, now=NOW)
    due = dt.date(2026, 11, 12)  # judged at the meeting of 2026-11-16
    won_up = _add(crm, metric_id="won_revenue", direction="up", due_date=due)
    pipe_target = _add(crm, metric_id="open_pipeline", target_value=20000, due_date=due)
    dach_up = _add(crm, metric_id="open_pipeline", segment_type="region", segment_value="DACH", direction="up",
                   due_date=due)
    o1_down = _add(crm, metric_id="won_revenue", segment_type="owner", segment_value="o1", direction="down",
                   due_date=due)
    later = _add(crm, metric_id="won_revenue", direction="up", due_date=dt.date(2026, 11, 20))
    no_aim = _add(crm, metric_id="won_revenue")
    old = dec.add_decision(crm, text="long closed", owner="Ana", actor="lead@acme.com",
                           week_start=dt.date(2026, 9, 7), now=dt.datetime(2026, 9, 8, 9))
    dec.close_decision(crm, old, "lead@acme.com", now=dt.datetime(2026, 9, 15, 9))

    out = {o.decision["decision_id"]: o for o in followed_decisions(crm, THIS_WEEK)}
    assert set(out) == {won_up, pipe_target, dach_up, o1_down, later, no_aim}
    # revenue won in the week under review: 0 (2-8 Nov) at the decision's meeting, 10000 (d1, 12 Nov) at the due one
    w = out[won_up]
    assert [(r.week_start, r.value) for r in w.readings] == [(LAST, 0.0), (THIS_WEEK, 10000.0)]
    assert (w.baseline, w.due_week, w.due_value, w.verdict) == (0.0, THIS_WEEK, 10000.0, "as_intended")
    assert w.status_text == "moved as intended"
    # open pipeline for the quarter (a stock: quarter cut): 10000 + 5000 + 1840 -> 5000 + 7000, aimed at 20000
    p = out[pipe_target]
    assert (p.baseline, p.due_value, p.verdict) == (16840.0, 12000.0, "other_way")
    # DACH pipeline closing in the week under review: nothing either week
    assert (out[dach_up].baseline, out[dach_up].due_value, out[dach_up].verdict) == (0.0, 0.0, "not_yet")
    # Ana's (o1) revenue won, from today's data with the owner filter: 0 then 10000, aimed down
    o = out[o1_down]
    assert all(r.live for r in o.readings) and (o.baseline, o.due_value, o.verdict) == (0.0, 10000.0, "other_way")
    assert out[later].verdict is None and out[later].status_text == "verdict at the meeting of 2026-11-23"
    assert out[no_aim].verdict is None and out[no_aim].status_text == "no direction or target value: no verdict"
    # the meeting of 2026-11-09 saw only its own reading: no verdict yet
    before = {o.decision["decision_id"]: o for o in followed_decisions(crm, LAST)}
    assert [r.week_start for r in before[won_up].readings] == [LAST] and before[won_up].verdict is None


def test_aim_changes_are_kept_in_the_history(crm):
    did = _add(crm, metric_id="won_revenue", direction="up")
    dec.update_decision(crm, did, "lead@acme.com", target_value="15000", direction="down")
    events = dec.decision_history(crm, did)
    assert [e["action"] for e in events] == ["add", "update"]
    assert events[0]["after"]["direction"] == "up"
    assert events[1]["before"] == {"direction": "up", "target_value": None}
    assert events[1]["after"] == {"direction": "down", "target_value": 15000.0}


@pytest.mark.parametrize("kwargs, message", [
    ({"direction": "up"}, "needs the metric it should move"),
    ({"metric_id": "won_revenue", "segment_type": "region"}, "Name both the segment"),
    ({"metric_id": "won_revenue", "segment_type": "country", "segment_value": "FR"}, "is not one of region"),
    ({"metric_id": "won_revenue", "direction": "sideways"}, "Direction 'sideways' is not one of up, down"),
    ({"metric_id": "won_revenue", "target_value": "lots"}, "is not a number like 250000"),
])
def test_an_aim_that_cannot_be_followed_is_refused(engine, kwargs, message):
    with pytest.raises(dec.DecisionError, match=message):
        _add(engine, **kwargs)
    did = _add(engine, metric_id="won_revenue", direction="up")
    with pytest.raises(dec.DecisionError, match="needs the metric it should move"):
        dec.update_decision(engine, did, "lead@acme.com", metric_id=None)
    assert dec.decision_history(engine, did)[-1]["action"] == "add"  # nothing half-written


def test_a_segment_is_stored_as_the_filters_name_it(crm):
    by_name = _add(crm, metric_id="won_revenue", segment_type="owner", segment_value="ben maier", direction="up")
    by_case = _add(crm, metric_id="won_revenue", segment_type="region", segment_value="dach", direction="up")
    saved = {d["decision_id"]: d for d in dec.decisions_of_week(crm, LAST)}
    assert saved[by_name]["segment_value"] == "o2" and saved[by_case]["segment_value"] == "DACH"
    with pytest.raises(dec.DecisionError, match=r"No region is called 'Nordics'; pick one of: DACH, France"):
        _add(crm, metric_id="won_revenue", segment_type="region", segment_value="Nordics", direction="up")
    with pytest.raises(dec.DecisionError, match="No product line is called 'Hardware'"):
        dec.update_decision(crm, by_case, "lead@acme.com", segment_type="product_line", segment_value="Hardware")
    assert dec.decisions_of_week(crm, LAST)[1]["segment_type"] == "region"  # nothing half-written
