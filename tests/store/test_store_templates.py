"""The test stores copied from a per-worker template (tests/store_templates.py) are the stores
open_store builds: same tables, columns, keys, indexes and rows, and their own sequences."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import inspect, select

from store import StoreSettings, open_store, schema as s


def _index_names(engine) -> list:
    """Every index by name, expression indexes too (which inspect() skips)."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            return sorted(conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'index'").scalars())
        return sorted(conn.exec_driver_sql(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()").scalars())


def _shape(engine) -> dict:
    insp = inspect(engine)
    out = {"indexes": _index_names(engine)}
    for table in sorted(insp.get_table_names()):
        out[table] = (
            [(c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(table)],
            insp.get_pk_constraint(table),
            sorted((ix["name"], tuple(ix["column_names"]), bool(ix["unique"])) for ix in insp.get_indexes(table)
                   if not ix.get("expressions")),
            sorted((u["name"], tuple(u["column_names"])) for u in insp.get_unique_constraints(table)),
        )
    return out


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
def test_a_copied_store_is_the_store_open_store_builds(engine, make_store_url, backend):
    fresh = open_store(StoreSettings(make_store_url(backend), "fresh store"))
    assert _shape(engine) == _shape(fresh)
    with engine.connect() as a, fresh.connect() as b:
        for table in (s.schema_version, s.store_meta, s.rollup_state, s.pipelines, s.pipeline_stages):
            rows = [r for r in a.execute(select(table)).mappings()]
            assert [{k: v for k, v in r.items() if k not in ("applied_at", "value")} for r in rows] == \
                [{k: v for k, v in r.items() if k not in ("applied_at", "value")} for r in b.execute(select(table)).mappings()]


def test_each_copy_numbers_its_rows_on_its_own(engine, make_store_url, backend, store_templates):
    other_url = make_store_url(backend)
    store_templates.fill(backend, other_url, "empty", lambda e: None)
    other = open_store(StoreSettings(other_url, "second copy"))
    ids = []
    for eng in (engine, other, engine):
        with eng.begin() as conn:
            ids.append(conn.execute(s.meeting_decisions.insert().values(
                week_start=dt.date(2026, 11, 30), text="x", owner="o", created_at=dt.datetime(2026, 12, 1),
                created_by="o")).inserted_primary_key[0])
    assert ids[0] == ids[1] and ids[2] == ids[0] + 1
