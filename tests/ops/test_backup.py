"""ops.backup: online backup while a writer commits, restore with its safety checks."""
from __future__ import annotations

import datetime as dt
import sqlite3
import threading

import pytest
from sqlalchemy import func, select

from ops.backup import backup_store, check_backup, restore_store
from store import StoreError, StoreSettings, data_version, open_store, set_meta
from store import schema as s
from store.audit import list_audit
from store.db import get_meta


def _deal(i: int) -> dict:
    return {"deal_id": f"d{i}", "name": f"Deal {i}", "amount_cents": 1000 * i, "currency": "EUR",
            "pipeline_id": "default", "stage_id": "won", "created_at": dt.datetime(2026, 1, 1)}


def _add_deals(engine, start: int, n: int) -> None:
    """Each transaction adds one deal and records the running count in store_meta."""
    for i in range(start, start + n):
        with engine.begin() as conn:
            conn.execute(s.deals.insert().values(**_deal(i)))
            set_meta(conn, "deals_written", str(i + 1))


def _consistent(path) -> tuple[int, int]:
    conn = sqlite3.connect(path)
    try:
        deals = conn.execute("SELECT COUNT(*) FROM deals").fetchone()[0]
        written = conn.execute("SELECT value FROM store_meta WHERE key='deals_written'").fetchone()
    finally:
        conn.close()
    return deals, int(written[0]) if written else 0


@pytest.fixture
def sqlite_store(make_store_url):
    url = make_store_url("sqlite")
    settings = StoreSettings(url, "test store")
    return settings, open_store(settings)


def test_backup_store_during_writes_is_consistent_and_restores(sqlite_store, tmp_path):
    settings, engine = sqlite_store
    _add_deals(engine, 0, 20)
    errors: list[Exception] = []
    started = threading.Event()

    def writer():
        try:
            started.set()
            _add_deals(engine, 20, 400)
        except Exception as exc:  # the writer must never be refused while a backup runs
            errors.append(exc)

    t = threading.Thread(target=writer)
    t.start()
    started.wait()
    backups = [backup_store(tmp_path / f"b{i}.db", settings) for i in range(3)]
    t.join()
    assert errors == []
    for b in backups:
        deals, written = _consistent(b.path)
        assert deals == written >= 20  # every transaction wholly in or wholly out
        assert b.deals == deals and b.schema_version == s.SCHEMA_VERSION
        assert not b.path.with_name(b.path.name + "-wal").exists()

    # restore the first backup into a fresh store: same rows, invariant holds
    target = StoreSettings(f"sqlite:///{tmp_path / 'restored.db'}", "restore target")
    info = restore_store(backups[0].path, actor="tester", settings=target)
    restored = open_store(target)
    with restored.connect() as conn:
        n = conn.execute(select(func.count()).select_from(s.deals)).scalar_one()
        assert n == backups[0].deals
        assert int(get_meta(conn, "deals_written")) == n
    assert info.safety_copy is None  # there was no store to keep a copy of


def test_restore_store_refuses_to_replace_data_without_confirm(sqlite_store, tmp_path):
    settings, engine = sqlite_store
    _add_deals(engine, 0, 3)
    backup = backup_store(tmp_path / "three.db", settings)
    _add_deals(engine, 3, 2)  # the live store now has 5 deals
    with pytest.raises(StoreError, match="--yes"):
        restore_store(backup.path, actor="tester", settings=settings)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(s.deals)).scalar_one() == 5


def test_restore_store_online_keeps_copy_bumps_version_and_audits(sqlite_store, tmp_path):
    settings, engine = sqlite_store
    _add_deals(engine, 0, 3)
    with engine.begin() as conn:
        set_meta(conn, "data_version", "7")
    backup = backup_store(tmp_path / "three.db", settings)
    _add_deals(engine, 3, 2)
    with engine.begin() as conn:
        set_meta(conn, "data_version", "9")
    info = restore_store(backup.path, actor="cfo@acme.com", confirm=True, settings=settings)
    # the engine opened before the restore sees the restored rows
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(s.deals)).scalar_one() == 3
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    # the data version moves past both stores' versions (9 -> 10), so no cache entry is reused
    assert data_version(engine) == 10
    assert info.replaced_deals == 5 and info.safety_copy is not None
    assert _consistent(info.safety_copy) == (5, 5)
    audit = list_audit(engine, action="store.restore")
    assert len(audit) == 1 and audit[0]["actor"] == "cfo@acme.com"
    assert audit[0]["before"]["deals"] == 5 and audit[0]["after"]["deals"] == 3


def test_check_backup_rejects_non_store_files(tmp_path):
    text_file = tmp_path / "notes.db"
    text_file.write_text("not a database")
    with pytest.raises(StoreError, match="not a SQLite file"):
        check_backup(text_file)
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="not a Northstar store"):
        check_backup(other)
    with pytest.raises(StoreError, match="No backup file"):
        check_backup(tmp_path / "missing.db")


def test_check_backup_rejects_newer_schema(sqlite_store, tmp_path):
    settings, engine = sqlite_store
    backup = backup_store(tmp_path / "b.db", settings)
    conn = sqlite3.connect(backup.path)
    conn.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                 (s.SCHEMA_VERSION + 1, "2030-01-01 00:00:00"))
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer than this Northstar"):
        check_backup(backup.path)


def test_backup_store_never_overwrites(sqlite_store, tmp_path):
    settings, _ = sqlite_store
    (tmp_path / "exists.db").write_bytes(b"keep me")
    with pytest.raises(StoreError, match="already exists"):
        backup_store(tmp_path / "exists.db", settings)
    assert (tmp_path / "exists.db").read_bytes() == b"keep me"


def test_backup_store_on_postgresql_points_at_pg_dump():
    settings = StoreSettings("postgresql+psycopg://ns:s3cretpw@db.example:5432/northstar", "NORTHSTAR_DB_URL")
    with pytest.raises(StoreError) as err:
        backup_store(None, settings)
    assert "pg_dump" in str(err.value) and "s3cretpw" not in str(err.value)
    with pytest.raises(StoreError, match="pg_restore"):
        restore_store("x.db", actor="t", settings=settings)


def test_cli_backup_and_restore(monkeypatch, tmp_path, capsys):
    import cli
    url = f"sqlite:///{tmp_path / 'live.db'}"
    monkeypatch.setenv("NORTHSTAR_DB_URL", url)
    engine = open_store(StoreSettings(url, "NORTHSTAR_DB_URL"))
    _add_deals(engine, 0, 2)
    assert cli.main(["backup", "--to", str(tmp_path / "b.db")]) == 0
    assert "2 deals" in capsys.readouterr().out
    _add_deals(engine, 2, 1)
    assert cli.main(["restore", str(tmp_path / "b.db")]) == 2  # refused: would drop a deal
    assert "--yes" in capsys.readouterr().err
    assert cli.main(["restore", str(tmp_path / "b.db"), "--yes"]) == 0
    assert _consistent(tmp_path / "live.db") == (2, 2)
