"""`cli.py backup` / `restore` for the SQLite store, with SQLite's online backup API.

A backup is one consistent snapshot even while the app reads and a sync writes (WAL mode:
the copy reads one snapshot and never blocks the writer). A restore checks the file first,
keeps a copy of the store it replaces, and marks the data changed so every cache refreshes.
For PostgreSQL use pg_dump / pg_restore; the error message says how.
"""
from __future__ import annotations

import datetime as dt
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from store import (StoreError, StoreSettings, bump_data_version, data_dir, mask, open_store,
                   resolve_store, set_meta)
from store import schema as s
from store.audit import record_audit
from store.db import get_meta

SQLITE_HEADER = b"SQLite format 3\x00"


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    size_bytes: int
    schema_version: int
    deals: int


def _sqlite_path(settings: StoreSettings, verb: str) -> Path:
    url = make_url(settings.url)
    if url.get_backend_name() != "sqlite":
        shown = mask(settings.url)
        tool = "pg_dump -Fc -f northstar.dump" if verb == "back up" else \
            "pg_restore --clean --if-exists -d <database> northstar.dump"
        raise StoreError(f"`cli.py {verb.replace(' ', '')}` handles the SQLite store only; the store "
                         f"is {shown} ({settings.source}). Use PostgreSQL's own tools, e.g. "
                         f"`{tool}` with the same connection settings (password from PGPASSWORD or ~/.pgpass).")
    if not url.database or url.database == ":memory:":
        raise StoreError(f"{settings.source} points at an in-memory SQLite store; there is no file to {verb}.")
    return Path(url.database).resolve()


def _inspect(conn: sqlite3.Connection, label: str) -> tuple[int, int]:
    """Check a SQLite store is whole; return (schema version, deal count)."""
    problems = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
    if problems != ["ok"]:
        raise StoreError(f"{label} is damaged (integrity check: {'; '.join(problems[:3])}). "
                         "Use another backup.")
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    missing = {"schema_version", "deals", "store_meta"} - tables
    if missing:
        raise StoreError(f"{label} is a SQLite file but not a Northstar store "
                         f"(no {', '.join(sorted(missing))} table).")
    version = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0
    deals = conn.execute("SELECT COUNT(*) FROM deals").fetchone()[0]
    return int(version), int(deals)


def default_backup_path(now: dt.datetime | None = None) -> Path:
    now = now or dt.datetime.now(dt.timezone.utc)
    return data_dir() / "backups" / f"northstar-{now:%Y%m%dT%H%M%S%f}Z.db"


def backup_store(dest: Path | str | None = None, settings: StoreSettings | None = None) -> BackupInfo:
    """Copy the live SQLite store to `dest` (default data/backups/northstar-<UTC time>.db)."""
    settings = settings or resolve_store()
    src_path = _sqlite_path(settings, "back up")
    if not src_path.exists():
        raise StoreError(f"There is no store file at {src_path} to back up ({settings.source}).")
    dest = Path(dest) if dest else default_backup_path()
    if dest.exists():
        raise StoreError(f"{dest} already exists; choose another --to path (backups never overwrite).")
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(src_path, timeout=30)
    dst = sqlite3.connect(partial)
    try:
        src.backup(dst)  # one step: a single read snapshot, so the copy is consistent
        dst.execute("PRAGMA journal_mode=DELETE")  # a self-contained file, no -wal beside it
        version, deals = _inspect(dst, f"The new backup {dest}")
    except sqlite3.Error as exc:
        dst.close()
        partial.unlink(missing_ok=True)
        raise StoreError(f"Backup of {src_path} failed: {exc}. Check free disk space at {dest.parent}.") from None
    finally:
        src.close()
    dst.close()
    os.replace(partial, dest)
    return BackupInfo(dest, dest.stat().st_size, version, deals)


def check_backup(path: Path | str) -> BackupInfo:
    """Open a backup read-only and check it is a whole Northstar store this version can use."""
    path = Path(path)
    if not path.is_file():
        raise StoreError(f"No backup file at {path}.")
    with open(path, "rb") as fh:
        if fh.read(16) != SQLITE_HEADER:
            raise StoreError(f"{path} is not a SQLite file; pass a file made by `cli.py backup`.")
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        version, deals = _inspect(conn, f"The backup {path}")
    except sqlite3.Error as exc:
        raise StoreError(f"Cannot read {path} as a store ({exc}).") from None
    finally:
        conn.close()
    if version > s.SCHEMA_VERSION:
        raise StoreError(f"{path} has schema version {version}, newer than this Northstar "
                         f"({s.SCHEMA_VERSION}). Upgrade Northstar before restoring it.")
    return BackupInfo(path, path.stat().st_size, version, deals)


@dataclass(frozen=True)
class RestoreInfo:
    restored_from: BackupInfo
    safety_copy: Path | None  # the replaced store, kept in data/backups/
    replaced_deals: int


def restore_store(src: Path | str, actor: str, confirm: bool = False,
                  settings: StoreSettings | None = None) -> RestoreInfo:
    """Replace the SQLite store with the backup `src`, online; refuses to drop data unless `confirm`."""
    settings = settings or resolve_store()
    target = _sqlite_path(settings, "restore")
    info = check_backup(src)
    if target.exists() and target.samefile(info.path):
        raise StoreError(f"{info.path} is the live store itself; pass a backup file.")
    replaced_deals, old_version, safety = 0, 0, None
    if target.exists():
        engine = open_store(settings, upgrade=False)
        with engine.connect() as conn:
            has_meta = engine.dialect.has_table(conn, "store_meta")
            old_version = int(get_meta(conn, "data_version", "0")) if has_meta else 0
            has_deals = engine.dialect.has_table(conn, "deals")
            replaced_deals = conn.exec_driver_sql("SELECT COUNT(*) FROM deals").scalar() if has_deals else 0
        if replaced_deals and not confirm:
            raise StoreError(f"The store at {target} holds {replaced_deals:,} deals that the restore would "
                             f"replace with {info.deals:,} from {info.path}. Re-run with --yes to go ahead "
                             "(a copy of the current store is kept in data/backups/).")
        stamped = default_backup_path()
        safety = backup_store(stamped.with_name("pre-restore-" + stamped.name), settings).path
    src_conn = sqlite3.connect(f"{info.path.resolve().as_uri()}?mode=ro", uri=True)
    dst_conn = sqlite3.connect(target, timeout=30)
    try:
        src_conn.backup(dst_conn)
    except sqlite3.Error as exc:
        raise StoreError(f"Restore into {target} failed: {exc}. The previous store is unchanged"
                         + (f"; a copy is at {safety}." if safety else ".")) from None
    finally:
        src_conn.close()
        dst_conn.close()
    engine = open_store(settings)  # upgrades an older backup to the current schema
    with engine.begin() as conn:
        restored_version = int(get_meta(conn, "data_version", "0"))
        # never reuse a data_version number the replaced store had: caches key on it
        set_meta(conn, "data_version", str(max(old_version, restored_version)))
        bump_data_version(conn)
        record_audit(conn, actor, "store.restore", str(info.path),
                     {"deals": replaced_deals, "safety_copy": str(safety) if safety else None},
                     {"deals": info.deals, "schema_version": info.schema_version})
    return RestoreInfo(info, safety, replaced_deals)
