"""Writing the demo company into the store: bulk inserts in one transaction, block by block.

Memory stays bounded at any scale: each block's rows are buffered per table and flushed every
`batch_rows` rows. The data depend only on (seed, as_of, scale), never on `batch_rows`.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import Connection, Engine, func, select

from store import StoreError, bump_data_version, schema as s, set_meta
from store.bulk import begin_explicitly, indexes_rebuilt_after
from . import crm, finance, voice
from .timeline import Timeline

log = logging.getLogger(__name__)

COLUMNS = {**crm.COLUMNS, **finance.COLUMNS, **voice.COLUMNS}
DEFAULT_SEED = 42


@dataclass(frozen=True)
class Scale:
    name: str
    blocks: int

    @property
    def contacts(self) -> int:
        return self.blocks * crm.BLOCK_CONTACTS

    @property
    def deals(self) -> int:
        return self.blocks * crm.BLOCK_DEALS


SCALES = {"small": Scale("small", 15), "medium": Scale("medium", 1_000), "1M": Scale("1M", 10_000)}


class DemoError(StoreError):
    """The demo data cannot be written as asked; the message says what to do instead."""


class StoreNotEmpty(DemoError):
    """The store already holds data; demo data is only written into an empty store."""


Progress = Callable[[int, int, int], None]  # (blocks done, blocks in all, rows generated)


class BulkWriter:
    """Buffers row tuples per table and writes them with the driver's fastest bulk path."""

    def __init__(self, conn: Connection, batch_rows: int):
        if conn.dialect.name not in ("sqlite", "postgresql"):
            raise DemoError(f"Demo data can be written to SQLite or PostgreSQL, not {conn.dialect.name}. "
                            "Point NORTHSTAR_DB_URL at one of those.")
        self.conn, self.batch_rows = conn, max(1, batch_rows)
        self.raw = conn.connection.dbapi_connection
        self.pending: dict[str, list[tuple]] = {}
        self.written: Counter = Counter()
        self.generated = 0

    def add(self, table: str, rows: list[tuple]) -> None:
        buf = self.pending.setdefault(table, [])
        buf.extend(rows)
        self.generated += len(rows)
        if len(buf) >= self.batch_rows:
            self.flush(table)

    def flush(self, table: str) -> None:
        rows = self.pending.pop(table, [])
        if not rows:
            return
        cols = COLUMNS[table]
        if self.conn.dialect.name == "sqlite":
            cur = self.raw.cursor()
            cur.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", rows)
            cur.close()
        else:
            with self.raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        self.written[table] += len(rows)

    def flush_all(self) -> None:
        for table in list(self.pending):
            self.flush(table)


def tables_with_rows(conn: Connection) -> list[str]:
    """The demo tables that already hold rows (empty list = free to seed)."""
    return [name for name in COLUMNS
            if conn.execute(select(func.count()).select_from(select(s.metadata.tables[name]).limit(1).subquery())).scalar()]


def _check_free(conn: Connection) -> None:
    busy = tables_with_rows(conn)
    if not busy:
        return
    demo = conn.execute(select(s.store_meta.c.value).where(s.store_meta.c.key == "is_demo")).scalar() == "1"
    what = "demo data" if demo else "data that is not demo data"
    raise StoreNotEmpty(f"The store already holds {what} (tables {', '.join(busy[:4])}"
                    f"{'...' if len(busy) > 4 else ''}). Use `python cli.py demo --reset` to delete "
                    "everything in the store and start again from demo data, or point NORTHSTAR_DB_URL "
                    "at an empty store.")


def _one_block(ctx: crm.BlockContext, seed: int, block: int,
               owner_emails: dict[str, str]) -> tuple[dict[str, list], finance.Totals]:
    """One block's rows (CRM, finance, customer voice) and its contribution to the monthly actuals."""
    rows, deals, contacts = crm.generate_block(ctx, seed, block)
    rows.update(finance.generate_finance_block(ctx.tl, seed, block, deals))
    rows.update(voice.generate_voice_block(ctx.tl, seed, block, rows["contacts"], owner_emails))
    return rows, finance.block_totals(deals, contacts)


def generate_demo(engine: Engine, scale: str = "small", seed: int = DEFAULT_SEED,
                  as_of: dt.date | None = None, batch_rows: int = 20_000,
                  progress: Progress | None = None) -> dict[str, int]:
    """Fill an empty store with a three-year B2B SaaS company ending the day before `as_of`.

    Returns rows written per table. Raises DemoError if the store already holds data. The metric
    rollups and the meeting snapshots that follow are upkeep's (`upkeep.after_demo`,
    `upkeep.demo_snapshots`).
    """
    if scale not in SCALES:
        raise DemoError(f"Unknown demo scale {scale!r}; use one of {', '.join(SCALES)}.")
    size = SCALES[scale]
    as_of = as_of or dt.datetime.now(dt.timezone.utc).date()
    tl = Timeline(as_of)
    owners = crm.build_owners(tl)
    ctx = crm.BlockContext(tl, owners)
    totals = finance.Totals()
    started = time.monotonic()
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:  # bulk load only: a crash loses the whole (uncommitted) load anyway
            conn.exec_driver_sql("PRAGMA synchronous=OFF")
            conn.exec_driver_sql("PRAGMA cache_size=-65536")
            conn.commit()
        try:
            with conn.begin():
                begin_explicitly(conn)  # the index DDL belongs to the load's transaction
                _check_free(conn)
                tables = [s.metadata.tables[name] for name in COLUMNS]
                with indexes_rebuilt_after(conn, tables):  # rebuilt once: much faster than row by row
                    writer = BulkWriter(conn, batch_rows)
                    pipes, stages = crm.pipeline_rows()
                    owner_rows = crm.owner_rows(owners, tl)
                    owner_emails = {r[0]: r[1] for r in owner_rows}
                    writer.add("owners", owner_rows)
                    writer.add("pipelines", pipes)
                    writer.add("pipeline_stages", stages)
                    writer.add("products", crm.product_rows())
                    for block in range(size.blocks):
                        rows, part = _one_block(ctx, seed, block, owner_emails)
                        totals.merge(part)
                        for table, table_rows in rows.items():
                            writer.add(table, table_rows)
                        if progress:
                            progress(block + 1, size.blocks, writer.generated)
                    spend = finance.generate_spend(tl, seed, size.contacts, totals)
                    writer.add("marketing_spend", spend["marketing_spend"])
                    writer.add("ledger_entries", spend["ledger_entries"])
                    budgets = finance.generate_budgets(tl, seed, totals)
                    writer.add("budgets", budgets + finance.generate_quotas(tl, owners, budgets, totals))
                    writer.flush_all()
                for key, value in (("is_demo", "1"), ("demo_seed", str(seed)), ("demo_scale", scale),
                                   ("demo_as_of", as_of.isoformat())):
                    set_meta(conn, key, value)
                bump_data_version(conn)
        finally:
            if sqlite:
                conn.exec_driver_sql("PRAGMA synchronous=NORMAL")
                conn.commit()
    log.info("demo %s (seed %s, as of %s): %s rows in %.1fs", scale, seed, as_of,
             sum(writer.written.values()), time.monotonic() - started)
    return dict(writer.written)


def seed_demo_if_empty(engine: Engine, scale: str = "small", seed: int = DEFAULT_SEED,
                       as_of: dt.date | None = None) -> bool:
    """Seed demo data when the store holds none of the demo tables' rows; True if it did (the app
    calls it through `upkeep.seed_demo_if_empty`, which adds the rollups and snapshots)."""
    with engine.connect() as conn:
        if tables_with_rows(conn):
            return False
    try:
        generate_demo(engine, scale=scale, seed=seed, as_of=as_of)
    except StoreNotEmpty:  # someone else filled it in the meantime
        return False
    return True
