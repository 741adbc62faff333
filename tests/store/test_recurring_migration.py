"""Schema version 14: a version 8 store opens and upgrades; invoices get their service period (NULL
on the invoices already there, which keep every other value), the MRR summary table and its
indexes are created, and recurring revenue says what to import until invoices carry a period.
Line items get their recurring billing (NULL) and HubSpot's line items are marked for a backfill,
so the next sync reads those properties; the other objects stay incremental."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import create_engine, inspect, select

from metrics import Filters, compute
from store import StoreSettings, open_store, schema
from store.db import schema_version

from older_stores import APPLIED_AT as when, store_at


def test_service_period_migration_v8_store_upgrades(store_url):
    raw = create_engine(store_url)
    with raw.begin() as conn:
        store_at(conn, 8)
        conn.exec_driver_sql(  # plain SQL: the version 8 invoices table has no service period
            "INSERT INTO invoices (invoice_number, customer_name, issue_date, amount_excl_tax_cents, tax_cents, "
            "currency, status, is_credit_note, origin) VALUES ('F-1', 'Acme', '2025-01-10', 120000, 0, 'EUR', "
            "'paid', false, 'csv')")
        conn.exec_driver_sql(
            "INSERT INTO line_items (line_item_id, deal_id, quantity, amount_cents, currency, is_deleted) "
            "VALUES ('L1', 'D1', 2, 10000, 'EUR', false)")
        for obj in ("line_items", "deals"):
            conn.execute(schema.sync_state.insert().values(connector="hubspot", object_type=obj, phase="incremental",
                                                           cursor_at=when, updated_at=when))
    assert "service_period_start" not in {c["name"] for c in inspect(raw).get_columns("invoices")}
    assert not inspect(raw).has_table("rollup_mrr")
    raw.dispose()

    engine = open_store(StoreSettings(store_url, "test"))
    assert schema_version(engine) == schema.SCHEMA_VERSION >= 14
    insp = inspect(engine)
    assert {"service_period_start", "service_period_end"} <= {c["name"] for c in insp.get_columns("invoices")}
    assert "ix_invoices_service_period" in {ix["name"] for ix in insp.get_indexes("invoices")}
    assert {"ix_rollup_mrr_month", "ix_rollup_mrr_customer"} <= {ix["name"] for ix in insp.get_indexes("rollup_mrr")}
    # its summaries (the movements and retention by month) come with it
    assert "ix_rollup_mrr_moves" in {ix["name"] for ix in insp.get_indexes("rollup_mrr_moves")}
    assert "ix_rollup_mrr_retention" in {ix["name"] for ix in insp.get_indexes("rollup_mrr_retention")}
    li = schema.line_items
    with engine.connect() as conn:
        invoice = conn.execute(select(schema.invoices.c.amount_excl_tax_cents, schema.invoices.c.service_period_start,
                                      schema.invoices.c.service_period_end)).one()
        line = conn.execute(select(li.c.amount_cents, li.c.billing_frequency, li.c.billing_start_date,
                                   li.c.term_months)).one()
        states = dict(conn.execute(select(schema.sync_state.c.object_type, schema.sync_state.c.phase)).all())
    assert tuple(invoice) == (120000, None, None)
    assert tuple(line) == (10000, None, None, None)
    assert states == {"line_items": "idle", "deals": "incremental"}  # the next sync re-reads the line items
    mv = compute(engine, "mrr", Filters(dt.date(2025, 1, 1), dt.date(2025, 1, 31)))
    assert mv.value is None and "service period" in mv.reason
