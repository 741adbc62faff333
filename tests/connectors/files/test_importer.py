"""The import contract: validate first, one transaction, idempotent by hash, a corrected file
replaces its period, every attempt recorded."""
from __future__ import annotations

import datetime as dt
import os

import pytest
from sqlalchemy import inspect, select

from connectors.files import importer
from connectors.files.importer import FileImportError, import_file, read_file
from store import data_version, schema as s
from connectors.files.fec import parse_fec
from fileimport_helpers import FEC_HEADER, count_rows, fec_line, ledger_totals, small_fec

NAME = "123456789FEC20241231.txt"


def _runs(engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(s.import_runs).order_by(s.import_runs.c.import_id)).mappings()]


def test_import_fec_writes_rows_and_records_the_run(engine):
    before = data_version(engine)
    report = import_file(engine, "fec", small_fec(), NAME, actor="alice")
    assert report.status == "success" and report.rows_accepted == 5
    # 1,000.00 of sales on 706, 300.00 of advertising on 623, both entries balanced
    assert ledger_totals(engine) == {"lines": 5, "revenue": 100000, "sm_spend": 30000,
                                     "debit": 150000, "credit": 150000}
    run = _runs(engine)[0]
    assert (run["kind"], run["file_name"], run["imported_by"], run["status"]) == ("fec", NAME, "alice", "success")
    assert run["file_hash"] == importer.file_hash(small_fec()) and run["rows_accepted"] == 5
    assert (str(run["period_start"]), str(run["period_end"])) == ("2024-01-05", "2024-01-20")
    assert data_version(engine) == before + 1
    with engine.connect() as conn:
        audit = conn.execute(select(s.audit_log)).mappings().all()
    assert [(a["actor"], a["action"], a["target"]) for a in audit] == [("alice", "import", f"fec: {NAME}")]
    assert '"rows": 5' in audit[0]["after_json"]
    with engine.connect() as conn:
        assert set(conn.execute(select(s.ledger_entries.c.siren, s.ledger_entries.c.import_id)).all()) == \
            {("123456789", run["import_id"])}


def test_import_same_file_twice_is_a_noop(engine):
    import_file(engine, "fec", small_fec(), NAME)
    version = data_version(engine)
    again = import_file(engine, "fec", small_fec(), "renamed-copy.txt")
    assert again.status == "skipped" and "already imported as import #1" in again.message
    assert ledger_totals(engine)["lines"] == 5 and data_version(engine) == version
    assert [r["status"] for r in _runs(engine)] == ["success", "skipped"]


def test_import_corrected_period_replaces_rows_of_that_source(engine):
    import_file(engine, "fec", small_fec(sale="1000,00"), NAME)
    other = import_file(engine, "fec", small_fec(sale="50,00"), "987654321FEC20241231.txt")
    assert other.status == "success"
    fixed = import_file(engine, "fec", small_fec(sale="1200,00"), NAME)
    assert fixed.status == "success" and fixed.rows_replaced == 5
    assert ledger_totals(engine, "123456789")["revenue"] == 120000  # not 220,000
    assert ledger_totals(engine, "123456789")["lines"] == 5
    assert ledger_totals(engine, "987654321")["revenue"] == 5000  # another company is untouched


def test_import_rejected_file_changes_nothing(engine):
    import_file(engine, "fec", small_fec(), NAME)
    version, lines = data_version(engine), ledger_totals(engine)["lines"]
    broken = small_fec([fec_line("VE", "7", "20240110", "706000", "0,00", "10,00")])  # unbalanced
    report = import_file(engine, "fec", broken, NAME)
    assert report.status == "rejected" and "nothing was written" in report.message
    assert (report.rows_read, report.rows_accepted, report.rows_rejected) == (6, 5, 1)
    assert report.errors[0].reason.startswith("unbalanced entry")
    assert ledger_totals(engine)["lines"] == lines and data_version(engine) == version
    assert _runs(engine)[-1]["status"] == "rejected" and _runs(engine)[-1]["rows_accepted"] == 0


def test_import_valid_only_keeps_whole_balanced_entries(engine):
    broken = small_fec([fec_line("VE", "7", "20240110", "706000", "0,00", "10,00"),
                        fec_line("VE", "8", "2024-13-01", "706000", "0,00", "10,00"),
                        fec_line("VE", "8", "20240111", "411000", "10,00", "0,00")])
    report = import_file(engine, "fec", broken, NAME, valid_only=True)
    assert report.status == "success" and report.rows_accepted == 5 and report.rows_rejected == 3
    assert ledger_totals(engine)["revenue"] == 100000


def test_import_dry_run_writes_nothing(engine):
    report = import_file(engine, "fec", small_fec(), NAME, dry_run=True)
    assert report.status == "validated" and report.ok
    assert count_rows(engine, s.ledger_entries) == 0 and count_rows(engine, s.import_runs) == 0


def test_import_failure_while_writing_rolls_back(engine, monkeypatch):
    real = importer.bulk_insert

    def explode(conn, table, columns, rows, constants, batch=50_000):
        real(conn, table, columns, rows[:2], constants)  # some rows go in, then the database refuses
        conn.execute(s.ledger_entries.insert().values(journal_code=None))  # NOT NULL violation
    monkeypatch.setattr(importer, "bulk_insert", explode)
    version = data_version(engine)
    report = import_file(engine, "fec", small_fec(), NAME)
    assert report.status == "failed" and "nothing was kept" in report.message
    assert count_rows(engine, s.ledger_entries) == 0 and data_version(engine) == version
    assert [r["status"] for r in _runs(engine)] == ["failed"]



def _ledger_indexes(engine) -> set[str]:
    return {ix["name"] for ix in inspect(engine).get_indexes(s.ledger_entries.name)}


def _ledger_index_definitions(engine) -> set[tuple]:
    """Each index of the ledger in the store with its columns and uniqueness."""
    return {(ix["name"], tuple(ix["column_names"]), bool(ix.get("unique")))
            for ix in inspect(engine).get_indexes(s.ledger_entries.name)}


def test_import_fec_leaves_ledger_indexes_and_foreign_keys_in_place(engine, monkeypatch):
    """The bulk load drops the ledger's indexes and foreign key checks for its own transaction
    only: they are back after a success, a rejection and a failure while writing."""
    expected = {ix.name for ix in s.ledger_entries.indexes}
    assert {"ix_ledger_cover", "ix_ledger_import"} <= expected
    definitions = _ledger_index_definitions(engine)
    assert {name for name, *_ in definitions} == expected
    assert import_file(engine, "fec", small_fec(), NAME).status == "success"
    assert _ledger_indexes(engine) == expected
    broken = small_fec([fec_line("VE", "7", "20240110", "706000", "0,00", "10,00")])  # unbalanced
    assert import_file(engine, "fec", broken, NAME).status == "rejected"
    assert _ledger_indexes(engine) == expected
    real = importer.bulk_insert

    def explode(conn, table, columns, rows, constants, batch=50_000):
        real(conn, table, columns, rows, constants)
        conn.execute(s.ledger_entries.insert().values(journal_code=None))  # NOT NULL violation
    monkeypatch.setattr(importer, "bulk_insert", explode)
    assert import_file(engine, "fec", small_fec(sale="1200,00"), NAME).status == "failed"
    assert _ledger_index_definitions(engine) == definitions  # the dropped ones and the kept one
    assert ledger_totals(engine)["lines"] == 5 and ledger_totals(engine)["revenue"] == 100000
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:  # the pooled connection the imports used
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -2000

def test_import_fec_streams_in_batches(engine, monkeypatch):
    """Several batches in one transaction: all rows land, the totals are exact."""
    real = importer.fec.FecReader.batches
    monkeypatch.setattr(importer.fec.FecReader, "batches",
                        lambda self, batch_rows=50_000, **kw: real(self, batch_rows=2, **kw))
    report = import_file(engine, "fec", small_fec(), NAME)
    assert report.status == "success" and ledger_totals(engine)["revenue"] == 100000
    assert ledger_totals(engine)["lines"] == 5


def test_read_file_unknown_kind_or_mapping():
    with pytest.raises(FileImportError, match="unknown import kind"):
        read_file("payroll", b"x", "x.csv")
    with pytest.raises(FileImportError, match="neither a preset"):
        read_file("invoices", b"x", "x.csv", mapping="no-such-preset")


def test_report_text_lists_problems_and_the_choice():
    broken = small_fec([fec_line("VE", "7", "20240110", "706000", "0,00", "10,00")])
    text = read_file("fec", broken, NAME).report.as_text()
    assert f"{NAME}:7 [EcritureNum] 'VE 7': unbalanced entry: debit - credit = -10.00" in text
    assert "import the 5 valid rows only" in text


def test_import_fec_parsed_by_a_second_process(engine, monkeypatch):
    """Big files are parsed in a child process while this one writes: same rows, same report."""
    monkeypatch.setattr(importer.fec, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(importer, "_idle_core", lambda: True)
    started = []

    class Counted(importer.fec.ParsingProcess):
        def __init__(self, *a, **k):
            started.append(1)
            super().__init__(*a, **k)

    monkeypatch.setattr(importer.fec, "ParsingProcess", Counted)
    report = import_file(engine, "fec", small_fec(), NAME)
    assert started == [1] and report.detected["parsing"] == "second process"
    assert report.status == "success" and report.rows_read == 5
    assert ledger_totals(engine) == {"lines": 5, "revenue": 100000, "sm_spend": 30000,
                                     "debit": 150000, "credit": 150000}
    broken = small_fec([fec_line("VE", "7", "20240110", "706000", "0,00", "10,00")], sale="900,00")
    rejected = import_file(engine, "fec", broken, NAME)
    assert rejected.status == "rejected" and rejected.errors[0].line == 7
    assert (rejected.rows_accepted, rejected.rows_rejected) == (5, 1)
    partial = import_file(engine, "fec", broken, NAME, valid_only=True)
    assert partial.status == "success" and ledger_totals(engine)["revenue"] == 90000


def _many_lines_fec(entries: int) -> bytes:
    """`entries` balanced 3-line entries with optional columns filled on some lines only (the
    writer drops all-empty columns per batch and binds several rows per statement)."""
    lines = [FEC_HEADER]
    for n in range(1, entries + 1):
        day = f"202403{n % 28 + 1:02d}"
        let = "AB" if n % 7 == 0 else ""
        md = f"{n},50" if n % 11 == 0 else ""
        lines += [f"VE\tVentes\t{n}\t{day}\t706000\tPrestations\t\t\tF{n}\t{day}\tFacture {n}\t0,00\t{n},00\t"
                  f"{let}\t{day if let else ''}\t{day}\t{md}\t{'USD' if md else ''}",
                  f"VE\tVentes\t{n}\t{day}\t445710\tTVA\t\t\tF{n}\t\tTVA {n}\t0,00\t{n // 5},20\t\t\t\t\t",
                  f"VE\tVentes\t{n}\t{day}\t411000\tClients\tC{n % 3}\tClient {n % 3}\tF{n}\t{day}\t"
                  f"Facture {n}\t{n + n // 5},20\t0,00\t\t\t{day}\t\t"]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def _stored_rows(engine) -> list[tuple]:
    t = s.ledger_entries
    cols = [t.c[name] for name in importer.fec.ROW_COLUMNS]
    with engine.connect() as conn:
        rows = conn.execute(select(*cols).order_by(t.c.line_no)).all()
    return [tuple(str(v) if isinstance(v, dt.date) else v for v in r) for r in rows]


@pytest.mark.parametrize("parallel", [False, True])
def test_import_fec_bulk_write_stores_exactly_the_parsed_rows(engine, monkeypatch, parallel):
    """Rows written in multi-row statements (a number of rows that is not a multiple of the
    statement's), in several batches, parsed here or by the second process: every column of
    every row is what the reader read, NULLs included."""
    data = _many_lines_fec(701)  # 2,103 lines
    monkeypatch.setattr(importer.fec.FecReader, "batches",
                        lambda self, batch_rows=50_000, _real=importer.fec.FecReader.batches, **kw:
                        _real(self, batch_rows=1_000, **kw))
    if parallel:
        monkeypatch.setattr(importer.fec, "PARALLEL_MIN_BYTES", 0)
        monkeypatch.setattr(importer, "_idle_core", lambda: True)
    report = import_file(engine, "fec", data, NAME)
    assert report.status == "success" and report.rows_accepted == 2103, report.as_text()
    assert report.detected.get("parsing") == ("second process" if parallel else None)
    expected = parse_fec(data, NAME).rows
    assert len(expected) == 2103 and any(r[17] is not None for r in expected) and any(r[7] is None for r in expected)
    assert _stored_rows(engine) == expected
    with engine.connect() as conn:
        assert {r[0] for r in conn.execute(select(s.ledger_entries.c.import_id)).all()} == {report.import_id}
    assert _ledger_index_definitions(engine) == {(ix.name, tuple(c.name for c in ix.columns), bool(ix.unique))
                                                 for ix in s.ledger_entries.indexes}
    again = import_file(engine, "fec", data, NAME)
    assert again.status == "skipped" and len(_stored_rows(engine)) == 2103


def test_rows_per_statement_stays_within_sqlite_parameter_limit(engine):
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    with engine.connect() as conn:
        assert importer._rows_per_statement(conn, 16) == 200
        assert importer._rows_per_statement(conn, 400) == 81  # 32,766 parameters at most
        assert importer._rows_per_statement(conn, 40_000) == 1


def test_parsing_process_messages_round_trip_and_truncation():
    import io

    from connectors.files.fec import read_message, write_message
    rows = [(2, "VE", None, "1", "2024-01-05", "706000", "Café", None, None, "P1", None, "x", 0, 1000,
             None, None, "2024-01-05", None, None)]
    out = io.BytesIO()
    write_message(out, "rows", rows)
    write_message(out, "error", "ValueError: boom")
    stream = io.BytesIO(out.getvalue())
    assert read_message(stream) == ("rows", rows)
    assert read_message(stream) == ("error", "ValueError: boom")
    with pytest.raises(EOFError):
        read_message(stream)
    with pytest.raises(EOFError):
        read_message(io.BytesIO(out.getvalue()[:20]))  # cut in the middle of the first message


def test_second_process_only_with_a_free_core():
    assert not importer.free_core(1, 0.0, 1)  # one core: parsing here
    assert importer.free_core(2, 0.2, 1)  # quiet
    assert importer.free_core(2, 1.9, 1)  # the previous import still in the load average
    assert importer.free_core(2, 0.5, 4)  # a blip of runnable processes right now
    assert not importer.free_core(2, 1.9, 3)  # busy by both measures
    assert not importer.free_core(2, 2.5, None) and importer.free_core(4, 2.5, None)


@pytest.mark.parametrize("fast_path", [True, False])
def test_first_batch_comes_early_and_small(monkeypatch, fast_path):
    """The parsing process sends a small first batch so that the writer starts sooner; the rows
    are the same rows in the same order whichever batch sizes."""
    monkeypatch.setattr(importer.fec.FecReader, "fast_path", fast_path)
    data = _many_lines_fec(701)  # 2,103 lines
    reader = importer.fec.FecReader(data, NAME)
    batches = list(reader.batches(batch_rows=1_000, first_batch_rows=10))
    assert [len(b) for b in batches] == [10, 40, 160, 640, 1_000, 253]
    assert [r for b in batches for r in b] == parse_fec(data, NAME).rows
    assert reader.rows_yielded == 2103 and (reader.columnar_rows > 0) == fast_path


def test_parsing_process_stopped_when_not_needed(engine, monkeypatch):
    """Started before the hash is checked: a file already imported, or one whose header is
    refused, leaves no process behind."""
    monkeypatch.setattr(importer.fec, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(importer, "_idle_core", lambda: True)
    started = []

    class Kept(importer.fec.ParsingProcess):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            started.append(self)

    monkeypatch.setattr(importer.fec, "ParsingProcess", Kept)
    assert import_file(engine, "fec", small_fec(), NAME).status == "success"
    assert import_file(engine, "fec", small_fec(), NAME).status == "skipped"
    bad = import_file(engine, "fec", b"JournalCode\tNothing\n1\t2\n", NAME)
    assert bad.status == "rejected"
    assert len(started) == 3 and all(p.proc.poll() is not None and p.proc.stdout.closed for p in started)
    assert started[0].used and not started[1].used  # the skipped file was never parsed


def test_fec_commit_leaves_the_checkpoint_to_another_thread(engine):
    """On SQLite the import's commit skips the copy of the write-ahead log into the database file
    (wal_autocheckpoint=0 on its connection) and a thread does it after: the rows are readable
    at once, and once the thread has run the database file holds them."""
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    db = engine.url.database
    report = import_file(engine, "fec", _many_lines_fec(2000), NAME)
    assert report.status == "success" and ledger_totals(engine)["lines"] == 6000
    importer.wait_for_checkpoints(timeout=30)
    with engine.connect() as conn:
        size = conn.exec_driver_sql("PRAGMA page_count").scalar() * conn.exec_driver_sql("PRAGMA page_size").scalar()
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000  # restored on every connection
        assert conn.exec_driver_sql("PRAGMA threads").scalar() == 0
    assert os.path.getsize(db) == size


def test_parsing_process_that_cannot_start_or_dies(engine, monkeypatch):
    """No process (a broken interpreter path): the file is parsed here instead. A process that
    dies after its first batch: the import fails with the reason and keeps nothing."""
    monkeypatch.setattr(importer.fec, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(importer, "_idle_core", lambda: True)
    data = _many_lines_fec(701)  # 2,103 lines: a first batch of 2,000, then the rest
    with monkeypatch.context() as m:
        m.setattr(importer.fec.sys, "executable", "/nonexistent/python")
        report = import_file(engine, "fec", data, NAME)
    assert report.status == "success" and report.rows_accepted == 2103
    assert report.detected.get("parsing") is None  # parsed in this process
    before = ledger_totals(engine)

    class Dying(importer.fec.ParsingProcess):
        def batches(self, reader, progress=None):
            for batch in super().batches(reader, progress):
                yield batch
                self.proc.kill()
                self.proc.wait()
                self.proc.stdout.read()  # what it wrote before dying is lost with it

    monkeypatch.setattr(importer.fec, "ParsingProcess", Dying)
    other = data.replace(b"Facture 1\t", b"Facture 01\t")  # another file: not skipped by its hash
    failed = import_file(engine, "fec", other, NAME)
    assert failed.status == "failed" and "stopped before the end of the file" in failed.message
    assert "nothing was kept" in failed.message
    assert ledger_totals(engine) == before
