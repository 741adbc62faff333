"""Same seed + as_of + scale => the same rows, whatever the batch size and backend."""
from __future__ import annotations

import datetime as dt
import hashlib
import os

import pytest
from sqlalchemy import select

from demo import generate_demo
from demo.loader import COLUMNS
from store import StoreSettings, open_store, schema

PG_URL = os.environ.get("NORTHSTAR_TEST_PG_URL", "").strip()

AS_OF = dt.date(2026, 3, 15)


def table_checksums(engine) -> dict[str, str]:
    """sha256 of every demo table's rows (read back through SQLAlchemy, in key order)."""
    out = {}
    with engine.connect() as conn:
        for name in [*COLUMNS, "store_meta"]:
            table = schema.metadata.tables[name]
            order = list(table.primary_key.columns)
            query = select(table).order_by(*order)
            if name == "store_meta":
                query = query.where(table.c.key != "data_changed_at")
            digest = hashlib.sha256()
            for row in conn.execute(query):
                digest.update(repr(tuple(row)).encode())
            out[name] = digest.hexdigest()
    return out


def _store(make_store_url, backend="sqlite"):
    return open_store(StoreSettings(make_store_url(backend), "test"))


def test_demo_same_seed_same_rows_whatever_the_batch_size(make_store_url):
    a, b = _store(make_store_url), _store(make_store_url)
    generate_demo(a, seed=11, as_of=AS_OF)
    generate_demo(b, seed=11, as_of=AS_OF, batch_rows=97)
    assert table_checksums(a) == table_checksums(b)


def test_demo_different_seed_gives_different_rows(make_store_url):
    a, b = _store(make_store_url), _store(make_store_url)
    generate_demo(a, seed=11, as_of=AS_OF)
    generate_demo(b, seed=12, as_of=AS_OF)
    sums_a, sums_b = table_checksums(a), table_checksums(b)
    for name in ("contacts", "companies", "deals", "deal_stage_history", "line_items", "invoices",
                 "ledger_entries", "marketing_spend", "budgets"):
        assert sums_a[name] != sums_b[name], name
    # the fixed parts of the company do not depend on the seed
    assert sums_a["pipeline_stages"] == sums_b["pipeline_stages"]
    assert sums_a["products"] == sums_b["products"]


def test_demo_as_of_moves_the_whole_period(make_store_url):
    engine = _store(make_store_url)
    generate_demo(engine, seed=11, as_of=dt.date(2025, 7, 1))
    start = dt.datetime(2022, 7, 1)
    with engine.connect() as conn:
        contacts = conn.execute(select(schema.contacts.c.created_at, schema.contacts.c.became_customer_at)).all()
        deals = conn.execute(select(schema.deals.c.created_at)).scalars().all()
        issued = conn.execute(select(schema.invoices.c.issue_date)).scalars().all()
    # three years ending the day before as_of, starting on the first of the month; only the
    # customers imported from the previous CRM (customers before the start) are older
    imported = [created for created, customer in contacts if customer is not None and customer < start]
    created = [created for created, customer in contacts if customer is None or customer >= start]
    assert imported and min(imported) >= start - dt.timedelta(days=400)
    assert min(created) >= start and min(deals) >= start
    assert max(created) < dt.datetime(2025, 7, 1)
    assert max(created) > dt.datetime(2025, 5, 1)
    assert max(issued) < dt.date(2025, 7, 1)


@pytest.mark.skipif(not PG_URL, reason="NORTHSTAR_TEST_PG_URL is not set")
def test_demo_same_rows_on_sqlite_and_postgresql(make_store_url):
    lite, pg = _store(make_store_url, "sqlite"), _store(make_store_url, "postgresql")
    generate_demo(lite, seed=5, as_of=AS_OF)
    generate_demo(pg, seed=5, as_of=AS_OF)
    assert table_checksums(lite) == table_checksums(pg)
