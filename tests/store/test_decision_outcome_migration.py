"""Schema version 10: a version 8 store opens and upgrades; the decision log gets the segment,
direction and target value a decision should reach, and every decision recorded before keeps
its values (the new ones empty)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import create_engine, inspect, select

from store import StoreSettings, open_store, schema
from store.db import schema_version

from older_stores import store_at

NEW = {"segment_type", "segment_value", "direction", "target_value"}


def test_decision_outcome_migration_v8_store_upgrades(store_url):
    raw = create_engine(store_url)
    with raw.begin() as conn:
        store_at(conn, 8)
        # plain SQL: the version 8 decision log has none of the new columns
        conn.exec_driver_sql(
            "INSERT INTO meeting_decisions (decision_id, week_start, text, owner, due_date, metric_id, status, "
            "created_at, created_by) VALUES (1, '2026-11-16', 'Push DACH renewals', 'Ben', '2026-12-31', "
            "'won_revenue', 'open', '2026-11-16 10:00:00', 'lead@acme.com')")
    assert not NEW & {c["name"] for c in inspect(raw).get_columns("meeting_decisions")}
    raw.dispose()

    engine = open_store(StoreSettings(store_url, "test"))
    assert schema_version(engine) == schema.SCHEMA_VERSION >= 10
    assert NEW <= {c["name"] for c in inspect(engine).get_columns("meeting_decisions")}
    t = schema.meeting_decisions
    with engine.connect() as conn:
        row = conn.execute(select(t.c.text, t.c.metric_id, t.c.due_date, t.c.segment_type, t.c.direction,
                                  t.c.target_value)).one()
    assert tuple(row) == ("Push DACH renewals", "won_revenue", dt.date(2026, 12, 31), None, None, None)
