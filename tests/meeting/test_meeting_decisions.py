"""The decision log: saved with history and audit, survives a restart, carried over until closed."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from meeting.decisions import (DecisionError, add_decision, close_decision, decision_history,
                               decisions_of_week, open_items, update_decision, week_of)
from store import StoreSettings, open_store, schema as s
from store import db as store_db

W1, W2, W3 = dt.date(2026, 11, 2), dt.date(2026, 11, 9), dt.date(2026, 11, 16)


def test_week_of_is_the_monday():
    assert week_of(dt.date(2026, 11, 22)) == dt.date(2026, 11, 16)  # a Sunday
    assert week_of(dt.date(2026, 11, 16)) == dt.date(2026, 11, 16)


def test_decisions_survive_a_restart(store_url):
    engine = open_store(StoreSettings(store_url, "test"))
    did = add_decision(engine, text="Double LinkedIn budget in DACH", owner="cmo@acme.com",
                       actor="ceo@acme.com", week_start=dt.date(2026, 11, 4), due_date=dt.date(2026, 12, 1))
    engine.dispose()
    store_db._ENGINES.pop(store_url, None)
    again = open_store(StoreSettings(store_url, "test"))
    assert again is not engine
    [row] = decisions_of_week(again, W1)
    assert row["decision_id"] == did and row["week_start"] == W1  # stored under its week's Monday
    assert (row["text"], row["owner"], row["due_date"], row["status"]) == (
        "Double LinkedIn budget in DACH", "cmo@acme.com", dt.date(2026, 12, 1), "open")


def test_open_items_carry_over_until_closed(engine):
    a = add_decision(engine, text="Call back burnt leads", owner="cso", actor="ceo", week_start=W1)
    b = add_decision(engine, text="Fix FX in the ledger", owner="cfo", actor="ceo", week_start=W1)
    c = add_decision(engine, text="Raise Q4 target", owner="ceo", actor="ceo", week_start=W2)
    assert open_items(engine, W1) == []  # nothing before the first meeting
    assert [d["decision_id"] for d in open_items(engine, W2)] == [a, b]
    close_decision(engine, b, actor="cfo", week_start=W2)
    # the next meeting after the close no longer carries b; a and c still open
    later = week_of(dt.date.today()) + dt.timedelta(days=7)
    assert [d["decision_id"] for d in open_items(engine, later)] == [a, c]
    # a past week shows the list as it was when that meeting began (b was still open then)
    assert [d["decision_id"] for d in open_items(engine, W3)] == [a, b, c]


def test_update_writes_history_and_audit(engine):
    did = add_decision(engine, text="Hire an SDR", owner="cso", actor="ceo", week_start=W1)
    update_decision(engine, did, actor="cso", week_start=W2, owner="vp-sales", due_date="2026-12-15")
    update_decision(engine, did, actor="cso", week_start=W2, owner="vp-sales")  # no change: no event
    close_decision(engine, did, actor="cso", status="dropped", week_start=W3)
    update_decision(engine, did, actor="ceo", week_start=W3, status="open")
    events = decision_history(engine, did)
    assert [e["action"] for e in events] == ["add", "update", "close", "reopen"]
    assert events[1]["before"] == {"owner": "cso", "due_date": None}
    assert events[1]["after"] == {"owner": "vp-sales", "due_date": "2026-12-15"}
    assert [e["week_start"] for e in events] == [W1, W2, W3, W3]
    with engine.connect() as conn:
        row = conn.execute(select(s.meeting_decisions)).mappings().one()
        actions = [a for (a,) in conn.execute(select(s.audit_log.c.action).order_by(s.audit_log.c.audit_id))]
    assert row["status"] == "open" and row["closed_at"] is None
    assert actions == ["decision.add", "decision.update", "decision.update", "decision.update"]


def test_decision_changes_bump_the_data_version(engine):
    before = store_db.data_version(engine)
    add_decision(engine, text="x", owner="y", actor="z", week_start=W1)
    assert store_db.data_version(engine) == before + 1


@pytest.mark.parametrize("kwargs, message", [
    ({"text": "  ", "owner": "cso"}, "description"),
    ({"text": "x", "owner": ""}, "owner"),
    ({"text": "x", "owner": "y", "due_date": "next friday"}, "not a date"),
])
def test_invalid_decision_is_refused(engine, kwargs, message):
    with pytest.raises(DecisionError, match=message):
        add_decision(engine, actor="ceo", week_start=W1, **kwargs)
    assert decisions_of_week(engine, W1) == []


def test_invalid_update_is_refused(engine):
    did = add_decision(engine, text="x", owner="y", actor="z", week_start=W1)
    with pytest.raises(DecisionError, match="not one of"):
        update_decision(engine, did, actor="z", status="finished")
    with pytest.raises(DecisionError, match="Cannot change"):
        update_decision(engine, did, actor="z", created_by="mallory")
    with pytest.raises(DecisionError, match="no decision 999"):
        update_decision(engine, 999, actor="z", owner="w")
