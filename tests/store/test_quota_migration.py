"""Schema version 9 (quotas): a version 8 store opens and upgrades; its budget lines keep every value and
get an empty owner and team (company, region and product-line lines), and a line per owner or
team of the same month, region, product line and metric can then be stored beside them, while
two lines of the same owner stay refused."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import create_engine, inspect, select
from sqlalchemy.exc import IntegrityError

from store import StoreSettings, open_store, schema
from store.db import schema_version

from older_stores import store_at


def test_quota_migration_v8_store_upgrades(store_url):
    raw = create_engine(store_url)
    with raw.begin() as conn:
        store_at(conn, 8)
        # plain SQL: the version 8 budgets table has no owner_id or team
        conn.exec_driver_sql("INSERT INTO budgets (month, region, product_line, metric, value) "
                             "VALUES ('2025-01-01', 'France', '', 'target_revenue', 5000000)")
    assert "owner_id" not in {c["name"] for c in inspect(raw).get_columns("budgets")}
    raw.dispose()

    engine = open_store(StoreSettings(store_url, "test"))
    assert schema_version(engine) == schema.SCHEMA_VERSION >= 9
    assert {"owner_id", "team"} <= {c["name"] for c in inspect(engine).get_columns("budgets")}
    assert "ix_budgets_month" in {ix["name"] for ix in inspect(engine).get_indexes("budgets")}
    b = schema.budgets
    with engine.connect() as conn:
        row = conn.execute(select(b.c.month, b.c.region, b.c.metric, b.c.value, b.c.owner_id, b.c.team)).one()
    assert tuple(row) == (dt.date(2025, 1, 1), "France", "target_revenue", 5000000.0, "", "")
    line = {"month": dt.date(2025, 1, 1), "region": "France", "product_line": "", "metric": "target_revenue"}
    with engine.begin() as conn:  # the same line for an owner, and for a team, sits beside the region's
        conn.execute(b.insert(), [dict(line, value=1.0, owner_id="o1", team=""),
                                  dict(line, value=2.0, owner_id="", team="Enterprise")])
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(b.insert(), [dict(line, value=3.0, owner_id="o1")])
    with engine.connect() as conn:
        assert conn.execute(select(b.c.value).order_by(b.c.value)).scalars().all() == [1.0, 2.0, 5000000.0]
