"""The SQLite write-ahead log stays bounded after big writes (issue #16): journal_size_limit on
every connection, and a truncating checkpoint after the demo, an import and a rollup rebuild."""
from __future__ import annotations

import os

from sqlalchemy import text

import upkeep
from connectors.files.importer import import_file, wait_for_checkpoints
from demo import generate_demo
from store import StoreSettings, open_store
from store.db import WAL_SIZE_LIMIT, shrink_wal


def _store(tmp_path):
    url = f"sqlite:///{tmp_path / 'wal.db'}"
    return open_store(StoreSettings(url, "test")), tmp_path / "wal.db-wal"


def _fill(engine, rows: int = 40_000) -> None:
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE filler (id INTEGER PRIMARY KEY, pad TEXT)"))
        conn.execute(text("INSERT INTO filler (pad) VALUES (:p)"), [{"p": "x" * 200}] * rows)


def test_wal_every_connection_caps_the_log_file(tmp_path):
    engine, _ = _store(tmp_path)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_size_limit").scalar() == WAL_SIZE_LIMIT


def test_wal_shrink_after_a_big_write_leaves_an_empty_log(tmp_path):
    engine, wal = _store(tmp_path)
    _fill(engine)
    assert wal.stat().st_size > 5_000_000  # the write sits in the log (no checkpoint is big enough yet)
    assert shrink_wal(engine) is True
    assert wal.stat().st_size == 0
    with engine.connect() as conn:  # nothing lost: the rows are in the database file
        assert conn.exec_driver_sql("SELECT count(*) FROM filler").scalar() == 40_000


def test_wal_shrink_is_a_no_op_off_sqlite(engine):
    assert shrink_wal(engine) is True


def test_wal_truncated_after_the_demo_and_its_rollups(tmp_path):
    engine, wal = _store(tmp_path)
    generate_demo(engine, scale="small")
    upkeep.after_demo(engine)
    assert not wal.exists() or wal.stat().st_size == 0


def test_wal_truncated_after_an_import_and_its_upkeep(tmp_path):
    engine, wal = _store(tmp_path)
    _fill(engine)
    header = ("JournalCode\tJournalLib\tEcritureNum\tEcritureDate\tCompteNum\tCompteLib\tCompAuxNum\t"
              "CompAuxLib\tPieceRef\tPieceDate\tEcritureLib\tDebit\tCredit\tEcritureLet\tDateLet\t"
              "ValidDate\tMontantdevise\tIdevise")
    lines = [f"VE\tVentes\t{i}\t20240105\t{acct}\tCompte\t\t\tP{i}\t20240105\tFacture\t{d}\t{c}\t\t\t20240105\t\t"
             for i in range(1, 2000) for acct, d, c in (("411000", "1200,00", "0,00"), ("706000", "0,00", "1000,00"),
                                                        ("445710", "0,00", "200,00"))]
    data = ("\r\n".join([header, *lines]) + "\r\n").encode()
    report = import_file(engine, "fec", data, "123456789FEC20241231.txt")
    assert report.status == "success", report.as_text()
    wait_for_checkpoints()
    upkeep.after_import(engine)
    assert os.path.getsize(wal) == 0
