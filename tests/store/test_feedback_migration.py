"""Schema version 12: a version 8 store opens and upgrades; it gains lead_feedback (sales' verdicts,
history kept) and nps_responses (one row per answer and origin), empty, and keeps its rows."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import create_engine, inspect, select
from sqlalchemy.exc import IntegrityError

from store import StoreSettings, open_store, schema
from store.db import schema_version

from older_stores import store_at


def test_feedback_migration_v8_store_upgrades(store_url):
    raw = create_engine(store_url)
    when = dt.datetime(2025, 1, 1)
    with raw.begin() as conn:
        store_at(conn, 8)
        conn.exec_driver_sql("INSERT INTO contacts (contact_id, email, is_deleted, origin) "
                             "VALUES ('c1', 'ann@client.example', false, 'hubspot')")
    assert not {"lead_feedback", "nps_responses"} & set(inspect(raw).get_table_names())
    raw.dispose()

    engine = open_store(StoreSettings(store_url, "test"))
    assert schema_version(engine) == schema.SCHEMA_VERSION >= 12
    names = set(inspect(engine).get_table_names())
    assert {"lead_feedback", "nps_responses"} <= names
    assert "ix_lead_feedback_contact" in {ix["name"] for ix in inspect(engine).get_indexes("lead_feedback")}
    with engine.begin() as conn:
        assert conn.execute(select(schema.contacts.c.email)).scalar_one() == "ann@client.example"
        row = {"origin": "hubspot", "response_key": "501", "contact_id": "c1", "submitted_at": when, "score": 9,
               "is_deleted": False}
        conn.execute(schema.nps_responses.insert().values(**row))
    with pytest.raises(IntegrityError):  # one row per answer and origin
        with engine.begin() as conn:
            conn.execute(schema.nps_responses.insert().values(**row))
