"""Schema version 7: a version 6 store opens and upgrades; its FEC imports get a company identity."""
from __future__ import annotations


from sqlalchemy import create_engine, inspect, select

from store import StoreSettings, open_store, schema
from store.db import schema_version
from store.migrations import company_from_name

from older_stores import store_at


def test_v6_store_upgrades_to_import_history(store_url):
    raw = create_engine(store_url)
    with raw.begin() as conn:
        store_at(conn, 6)
        # plain SQL: the version 6 import_runs has none of the new columns
        for i, name in ((1, "123456789FEC20231231.txt"), (2, "ledger_companyA.txt")):
            conn.exec_driver_sql(
                "INSERT INTO import_runs (import_id, kind, file_name, file_hash, imported_by, started_at, "
                f"rows_accepted, rows_rejected, status) VALUES ({i}, 'fec', '{name}', 'h{i}', 'x', "
                "'2025-01-01 00:00:00', 1, 0, 'success')")
        for i, siren in ((1, "'123456789'"), (2, "NULL")):
            conn.exec_driver_sql(
                "INSERT INTO ledger_entries (import_id, siren, journal_code, ecriture_date, compte_num, "
                f"debit_cents, credit_cents, origin) VALUES ({i}, {siren}, 'VE', '2023-01-05', '706', 0, 100, 'csv')")
    assert "company" not in {c["name"] for c in inspect(raw).get_columns("import_runs")}
    assert not inspect(raw).has_table("import_replaced")
    raw.dispose()

    engine = open_store(StoreSettings(store_url, "test"))
    assert schema_version(engine) == schema.SCHEMA_VERSION >= 7
    assert {"read_options", "company", "undone_at", "undone_by"} <= \
        {c["name"] for c in inspect(engine).get_columns("import_runs")}
    assert inspect(engine).has_table("import_replaced")
    with engine.connect() as conn:
        companies = dict(conn.execute(select(schema.import_runs.c.import_id, schema.import_runs.c.company)).all())
    assert companies == {1: "123456789", 2: company_from_name("ledger_companyA.txt")}
    assert companies[2].startswith("file:") and len(companies[2]) == 21
