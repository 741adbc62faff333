"""Bulk loading: secondary indexes dropped for the load and rebuilt once, in the caller's transaction.

Rebuilding an index from sorted rows at the end is much faster than updating it row by row. The
drop and the rebuild run on the same transaction as the rows, so a failure (or a rollback) leaves
the indexes exactly as they were and other connections never see a table without them.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterable, Iterator

from sqlalchemy import Connection, Table
from sqlalchemy.schema import DropIndex


def begin_explicitly(conn: Connection) -> None:
    """Make sure SQLite has opened the transaction: pysqlite only does so before DML, so DDL
    run first (DROP INDEX) would otherwise be committed on its own."""
    if conn.dialect.name == "sqlite" and not conn.connection.dbapi_connection.in_transaction:
        conn.exec_driver_sql("BEGIN")


@contextmanager
def indexes_rebuilt_after(conn: Connection, tables: list[Table], keep: Iterable[str] = ()) -> Iterator[None]:
    """Drop the tables' secondary indexes, run the block, then create them again (not on error:
    the caller's rollback restores them). Indexes named in `keep` stay and are kept up to date
    row by row (cheap for an index the new rows only append to)."""
    begin_explicitly(conn)
    keep = set(keep)
    indexes = [ix for t in tables for ix in t.indexes if ix.name not in keep]
    for ix in indexes:  # IF EXISTS, not checkfirst: SQLite does not reflect an index on an expression
        conn.execute(DropIndex(ix, if_exists=True))
    yield
    for ix in indexes:
        ix.create(conn)
