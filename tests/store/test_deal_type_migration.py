"""Schema version 8: a version 7 store opens and upgrades; deals and the deal rollups get the
HubSpot deal type (deals.deal_type), existing deals keep every other value, and the CRM rollups
are marked for a rebuild."""
from __future__ import annotations


from sqlalchemy import create_engine, inspect, select

from store import StoreSettings, open_store, schema
from store.db import schema_version

from older_stores import store_at


def test_deal_type_migration_v7_store_upgrades(store_url):
    raw = create_engine(store_url)
    with raw.begin() as conn:
        store_at(conn, 7)
        # plain SQL: the version 7 deals table has no deal_type
        conn.exec_driver_sql(
            "INSERT INTO deals (deal_id, name, amount_cents, currency, pipeline_id, stage_id, created_at, "
            "close_date, is_deleted, origin) VALUES ('d1', 'Deal 1', 500000, 'EUR', 'default', 'closedwon', "
            "'2025-01-01 00:00:00', '2025-02-01', false, 'hubspot')")
        conn.exec_driver_sql(
            "INSERT INTO rollup_state (name, built_version, defs_fingerprint, built_at, rows, seconds) "
            "VALUES ('metric_rollups', 3, 'x', '2025-01-01 00:00:00', 1, 0.1)")
    for table in ("deals", "rollup_deals", "rollup_deal_campaigns"):
        assert "deal_type" not in {c["name"] for c in inspect(raw).get_columns(table)}
    raw.dispose()

    engine = open_store(StoreSettings(store_url, "test"))
    assert schema_version(engine) == schema.SCHEMA_VERSION >= 8  # 8 and every later version
    for table in ("deals", "rollup_deals", "rollup_deal_campaigns"):
        assert "deal_type" in {c["name"] for c in inspect(engine).get_columns(table)}
    with engine.connect() as conn:
        row = conn.execute(select(schema.deals.c.amount_cents, schema.deals.c.deal_type)).one()
        built = conn.execute(select(schema.rollup_state.c.built_version)).scalar_one()
    assert tuple(row) == (500000, None)
    assert built == -1  # rebuilt with the deal type by the next refresh
