"""Opening the store: engine, connection checks, upgrades, store metadata and upserts."""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from sqlalchemy import Connection, Engine, create_engine, event, func, inspect, select, text
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError
from sqlalchemy.engine import make_url

from . import schema as s
from .config import StoreSettings, resolve_store
from .secrets import mask
from .migrations import MIGRATIONS


class StoreError(RuntimeError):
    """The store cannot be opened or used; the message says which setting to fix."""


def utcnow() -> dt.datetime:
    """Now, as the naive UTC datetime the store keeps."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)


WAL_SIZE_LIMIT = 64 * 1024 * 1024  # bytes a write-ahead log file is cut back to once checkpointed


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=15000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    # After a checkpoint that empties the write-ahead log, SQLite truncates its file to this size:
    # a big write (the 1M demo, a large import, a rollup rebuild) does not leave gigabytes behind.
    cur.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
    cur.close()


def shrink_wal(engine: Engine) -> bool:
    """After a big write: copy the write-ahead log into the database and truncate it to zero
    bytes (`wal_checkpoint(TRUNCATE)`), so the store's folder holds one file of its size, not
    two. SQLite only; a no-op elsewhere. False when a reader kept the checkpoint from finishing
    (the log is then truncated to WAL_SIZE_LIMIT by the next checkpoint that empties it)."""
    if engine.dialect.name != "sqlite":
        return True
    with engine.connect() as conn:
        busy, _log_pages, _moved = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
    return not busy


def _check_sqlite_path(url: str, source: str) -> None:
    db = make_url(url).database
    if not db or db == ":memory:":
        return
    folder = Path(db).resolve().parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"Cannot create the data folder {folder} ({exc.strerror}). "
                         f"Set {source} to a writable location.") from None
    if not os.access(folder, os.W_OK):
        raise StoreError(f"The data folder {folder} is not writable. "
                         f"Set {source} to a writable location.")


_ENGINES: dict[str, Engine] = {}


def make_engine(settings: StoreSettings) -> Engine:
    """An engine for the configured URL (one per URL per process)."""
    if settings.url in _ENGINES:
        return _ENGINES[settings.url]
    try:
        url = make_url(settings.url)
    except ArgumentError:
        raise StoreError(f"{settings.source} is not a valid database URL "
                         f"(got {mask(settings.url)!r}; expected e.g. "
                         "sqlite:///data/northstar.db or postgresql+psycopg://user@host/db).") from None
    kwargs: dict[str, Any] = {"future": True}
    if url.get_backend_name() == "sqlite":
        _check_sqlite_path(settings.url, settings.source)
        kwargs["connect_args"] = {"timeout": 15, "check_same_thread": False}
    else:
        kwargs["pool_pre_ping"] = True
        if url.get_backend_name() == "postgresql":
            kwargs["connect_args"] = {"connect_timeout": 5}
    if url.get_backend_name() == "postgresql" and url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    try:
        engine = create_engine(url, **kwargs)
    except (NoSuchModuleError, ImportError) as exc:
        raise StoreError(f"{settings.source} names a database driver that is not installed "
                         f"({exc}). Use sqlite:/// or postgresql+psycopg://.") from None
    if url.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    _ENGINES[settings.url] = engine
    return engine


def open_store(settings: StoreSettings | None = None, upgrade: bool = True) -> Engine:
    """Connect to the store, check it answers, and bring its schema to the current version."""
    settings = settings or resolve_store()
    engine = make_engine(settings)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "no answer"
        raise StoreError(f"Cannot reach the store at {mask(settings.url)}: {reason}. "
                         f"Check {settings.source}, and that the database server is running.") from None
    if upgrade:
        upgrade_store(engine)
    return engine


def schema_version(engine_or_conn: Engine | Connection) -> int:
    """The store's schema version; 0 for an empty database."""
    def _read(conn: Connection) -> int:
        if not inspect(conn).has_table("schema_version"):
            return 0
        return conn.execute(select(func.max(s.schema_version.c.version))).scalar() or 0
    if isinstance(engine_or_conn, Connection):
        return _read(engine_or_conn)
    with engine_or_conn.connect() as conn:
        return _read(conn)


def upgrade_store(engine: Engine, target: int = s.SCHEMA_VERSION) -> list[int]:
    """Apply the missing migrations up to `target`, each in its own transaction."""
    applied = []
    current = schema_version(engine)
    if current > s.SCHEMA_VERSION:
        raise StoreError(f"The store has schema version {current}, newer than this Northstar "
                         f"({s.SCHEMA_VERSION}). Upgrade Northstar, or point NORTHSTAR_DB_URL elsewhere.")
    for version in range(current + 1, target + 1):
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":  # one upgrader at a time
                conn.execute(text("SELECT pg_advisory_xact_lock(424242)"))
                if schema_version(conn) >= version:
                    continue
            MIGRATIONS[version](conn)
            if version == 1:
                s.schema_version.create(conn, checkfirst=True)
            conn.execute(s.schema_version.insert().values(version=version, applied_at=utcnow()))
        applied.append(version)
    return applied


# --- store metadata --------------------------------------------------------------------

def get_meta(conn: Connection, key: str, default: str | None = None) -> str | None:
    value = conn.execute(select(s.store_meta.c.value).where(s.store_meta.c.key == key)).scalar()
    return default if value is None else value


def set_meta(conn: Connection, key: str, value: str) -> None:
    upsert(conn, s.store_meta, [{"key": key, "value": value}], ["key"])


CHANGED_PREFIX = "changed:"  # store_meta key of the data version at which a table last changed
ANY_TABLE = "*"


def bump_data_version(conn: Connection, *tables: str) -> int:
    """Mark that the data changed (sync, import, edit): cached numbers are recomputed.

    `tables` names the tables the write changed; none means "any table" (the safe default).
    Each named table's `changed:<table>` key records this version, so a summary built from other
    tables (the metric rollups) stays valid; see `changed_since`.
    """
    version = int(get_meta(conn, "data_version", "0")) + 1
    set_meta(conn, "data_version", str(version))
    set_meta(conn, "data_changed_at", utcnow().isoformat())
    for table in sorted(set(tables) or {ANY_TABLE}):
        set_meta(conn, CHANGED_PREFIX + table, str(version))
    return version


def changed_since(conn: Connection, version: int, tables: Iterable[str]) -> bool:
    """Whether any of `tables` (or an unnamed write) changed after data version `version`."""
    keys = [CHANGED_PREFIX + t for t in (*tables, ANY_TABLE)]
    values = conn.execute(select(s.store_meta.c.value).where(s.store_meta.c.key.in_(keys))).scalars()
    return any(int(v) > version for v in values)


def data_version(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(get_meta(conn, "data_version", "0"))


def is_demo(engine: Engine) -> bool:
    with engine.connect() as conn:
        return get_meta(conn, "is_demo", "0") == "1"


def is_empty(engine: Engine) -> bool:
    """True when the store holds no CRM or finance data at all."""
    with engine.connect() as conn:
        for t in (s.deals, s.contacts, s.invoices, s.ledger_entries, s.marketing_spend):
            if conn.execute(select(t).limit(1)).first() is not None:
                return False
    return True


def table_counts(engine: Engine) -> dict[str, int]:
    """Rows per table, for `cli.py status` and the Data page."""
    with engine.connect() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in s.metadata.sorted_tables}


# --- writing ---------------------------------------------------------------------------

def upsert(conn: Connection, table, rows: Sequence[Mapping[str, Any]],
           key_cols: Iterable[str], batch: int = 1000) -> int:
    """Insert rows, updating the non-key columns of rows whose key already exists."""
    if not rows:
        return 0
    keys = list(key_cols)
    name = conn.dialect.name
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    elif name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:  # portable fallback: delete then insert, inside the caller's transaction
        for i in range(0, len(rows), batch):
            chunk = rows[i:i + batch]
            for r in chunk:
                conn.execute(table.delete().where(*[table.c[k] == r[k] for k in keys]))
            conn.execute(table.insert(), list(chunk))
        return len(rows)
    for i in range(0, len(rows), batch):
        chunk = list(rows[i:i + batch])
        stmt = insert(table)
        update_cols = [c for c in chunk[0] if c not in keys]
        if update_cols:
            stmt = stmt.on_conflict_do_update(
                index_elements=keys, set_={c: stmt.excluded[c] for c in update_cols})
        else:
            stmt = stmt.on_conflict_do_nothing(index_elements=keys)
        conn.execute(stmt, chunk)
    return len(rows)


def reset_store(engine: Engine) -> None:
    """Drop every Northstar table (used by `cli.py demo --reset` and tests)."""
    with engine.begin() as conn:
        s.metadata.drop_all(conn, checkfirst=True)


__all__ = ["StoreError", "open_store", "upgrade_store", "schema_version", "get_meta", "set_meta",
           "bump_data_version", "data_version", "is_demo", "is_empty", "table_counts", "upsert",
           "reset_store", "utcnow", "SQLAlchemyError"]
