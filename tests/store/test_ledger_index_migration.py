"""Schema version 5 drops ix_ledger_date_account (ix_ledger_cover begins with the same columns)."""
from __future__ import annotations


from sqlalchemy import create_engine, inspect

from store import StoreSettings, open_store, schema
from store.db import schema_version

from older_stores import store_at


def test_v4_store_loses_the_redundant_ledger_index_and_keeps_the_rest(store_url):
    raw = create_engine(store_url)
    with raw.begin() as conn:
        store_at(conn, 4)
        # what a version 4 store holds: the old index beside the covering one
        # (plain SQL: an Index() on the table's columns would join the shared schema's indexes)
        conn.exec_driver_sql("CREATE INDEX ix_ledger_date_account ON ledger_entries (ecriture_date, compte_num)")
    assert "ix_ledger_date_account" in {ix["name"] for ix in inspect(raw).get_indexes("ledger_entries")}
    raw.dispose()

    engine = open_store(StoreSettings(store_url, "test"))
    assert schema_version(engine) == schema.SCHEMA_VERSION
    names = {ix["name"] for ix in inspect(engine).get_indexes("ledger_entries")}
    assert names == {ix.name for ix in schema.ledger_entries.indexes} == {"ix_ledger_cover", "ix_ledger_import"}
    cover = next(ix for ix in schema.ledger_entries.indexes if ix.name == "ix_ledger_cover")
    assert [c.name for c in cover.columns][:2] == ["ecriture_date", "compte_num"]  # serves the same searches
