"""Schema version 15: a version 14 store with built rollups opens and upgrades; the invoice rollups
by day, the MRR cohort table and the churned / contracted customers' table are created with their
indexes; the invoice rollups and the MRR summary are marked stale (the next refresh builds the new
tables with them), the CRM and ledger rollups stay as they were."""
from __future__ import annotations

from sqlalchemy import create_engine, inspect, select

from store import StoreSettings, open_store, schema
from store.db import schema_version

from older_stores import APPLIED_AT as when, store_at

NEW = {"rollup_invoice_days": "ix_rollup_invoice_days_day",
       "rollup_invoice_account_days": "ix_rollup_invoice_account_days_day",
       "rollup_invoice_account_slices": "ix_rollup_invoice_account_slices_day",
       "rollup_invoice_dims": "ix_rollup_invoice_dims_month",
       "rollup_mrr_cohorts": "ix_rollup_mrr_cohorts", "rollup_mrr_movers": "ix_rollup_mrr_movers"}


def test_finance_summaries_migration_v14_store_upgrades(store_url):
    raw = create_engine(store_url)
    with raw.begin() as conn:
        store_at(conn, 14)
        conn.execute(schema.rollup_state.insert(), [
            {"name": name, "built_version": 7, "defs_fingerprint": "x", "built_at": when, "rows": 1, "seconds": 0.1}
            for name in ("metric_rollups", "invoice_rollups", "ledger_rollups", "mrr_summary")])
    for name in NEW:
        assert not inspect(raw).has_table(name)
    raw.dispose()

    engine = open_store(StoreSettings(store_url, "test"))
    assert schema_version(engine) == schema.SCHEMA_VERSION >= 15
    insp = inspect(engine)
    for name, index in NEW.items():
        assert index in {ix["name"] for ix in insp.get_indexes(name)}, name
    with engine.connect() as conn:
        built = dict(conn.execute(select(schema.rollup_state.c.name, schema.rollup_state.c.built_version)).all())
    crm = -1 if schema.SCHEMA_VERSION >= 16 else 7  # version 16 rebuilds the CRM rollups (the recent days)
    ledger = -1 if schema.SCHEMA_VERSION >= 19 else 7  # version 19 adds the ledger by day
    assert built == {"metric_rollups": crm, "invoice_rollups": -1, "ledger_rollups": ledger, "mrr_summary": -1}
