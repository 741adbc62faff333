"""A store as an older Northstar left it, for the upgrade tests: the migrations up to a version
and the schema_version rows that release wrote."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection

from store import schema
from store.migrations import MIGRATIONS

APPLIED_AT = dt.datetime(2025, 1, 1)


def store_at(conn: Connection, version: int) -> None:
    """Bring the empty database behind `conn` to schema `version`, as that release would have."""
    for v in range(1, version + 1):
        MIGRATIONS[v](conn)
    schema.schema_version.create(conn, checkfirst=True)
    for v in range(1, version + 1):
        conn.execute(schema.schema_version.insert().values(version=v, applied_at=APPLIED_AT))
