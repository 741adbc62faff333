#!/usr/bin/env python3
"""FEC import speed and memory: a generated N-line FEC into a fresh store.

Prints lines/s, the ratio to a reference measured in the same run (a plain `csv.reader` pass
over the same file: decode + split, no conversion, no store), the peak RSS of the import
process and, on SQLite, the write floor: the same rows written the importer's way into a fresh
store with only the writing timed (no parsing). On SQLite the import's commit leaves the copy
of the write-ahead log into the database file to a thread that runs after it: that checkpoint is
timed and printed too. Target (issue 7): >= 200,000 lines/s on 1,000,000 lines with bounded memory.

    .venv/bin/python benchmarks/import_bench.py [--lines 1000000] [--backend sqlite|postgresql]
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HEADER = ("JournalCode\tJournalLib\tEcritureNum\tEcritureDate\tCompteNum\tCompteLib\tCompAuxNum\tCompAuxLib\t"
          "PieceRef\tPieceDate\tEcritureLib\tDebit\tCredit\tEcritureLet\tDateLet\tValidDate\tMontantdevise\tIdevise")
_ACCOUNTS = [("706000", "Prestations de services"), ("707000", "Ventes de marchandises"),
             ("623000", "Publicité"), ("606100", "Fournitures"), ("626000", "Frais postaux"),
             ("613200", "Locations immobilières"), ("627000", "Services bancaires")]


def _amount(cents: int) -> str:
    return f"{cents // 100},{cents % 100:02d}"


def generate_fec(path: Path, n_lines: int, seed: int = 7) -> dict:
    """A balanced FEC of n_lines (>= 3) entry lines: 3 lines per entry (charge or sale, VAT, third party).

    Returns the revenue (credit - debit on 70x) and 623x spend it holds, in cents, counted while
    writing, so the import can be checked against them.
    """
    rng = random.Random(seed)
    revenue = spend = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER + "\r\n")
        written, num = 0, 0
        while written < n_lines:
            num += 1
            month, day = rng.randint(1, 12), rng.randint(1, 28)
            date = f"2024{month:02d}{day:02d}"
            acc, lib = rng.choice(_ACCOUNTS)
            net = rng.randint(100, 5_000_000)
            vat = net // 5
            sale = acc.startswith("70")
            journal = ("VE", "Ventes") if sale else ("AC", "Achats")
            third = ("411000", "Clients") if sale else ("401000", "Fournisseurs")
            piece = f"F{num:07d}"
            lines = [(acc, lib, 0, net) if sale else (acc, lib, net, 0),
                     ("445710", "TVA collectée", 0, vat) if sale else ("445660", "TVA déductible", vat, 0),
                     (third[0], third[1], net + vat, 0) if sale else (third[0], third[1], 0, net + vat)]
            left = n_lines - written
            if left in (4, 5):  # end on a whole entry: split the VAT line into 2 or 3 lines
                v = lines[1]
                parts = [vat // (left - 2)] * (left - 3) + [vat - vat // (left - 2) * (left - 3)]
                lines[1:2] = [(v[0], v[1], p if v[2] else 0, p if v[3] else 0) for p in parts]
            for compte, clib, d, c in lines:
                out.write(f"{journal[0]}\t{journal[1]}\t{num}\t{date}\t{compte}\t{clib}\t\t\t{piece}\t{date}\t"
                          f"Facture {piece}\t{_amount(d)}\t{_amount(c)}\t\t\t{date}\t\t\r\n")
                written += 1
                if compte.startswith("70"):
                    revenue += c - d
                if compte.startswith("623"):
                    spend += d - c
    return {"revenue_cents": revenue, "sm_spend_cents": spend}


def reference_pass(path: Path) -> tuple[float, int]:
    """Plain csv.reader over the decoded file: the floor any importer pays."""
    t0 = time.perf_counter()
    text = path.read_bytes().decode("utf-8")
    n = sum(1 for _ in csv.reader(io.StringIO(text, newline=""), delimiter="\t", quoting=csv.QUOTE_NONE)) - 1
    return time.perf_counter() - t0, n


def _peak_rss_kb() -> int:
    """This process's peak resident memory. On Linux VmHWM, not ru_maxrss: a child's ru_maxrss
    starts from its parent's resident size at fork (the generator's text, the reference pass), so
    it over-stated the import's memory by what the benchmark itself held."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _child(path: str, url: str) -> None:
    """Run in a fresh process: import the file, print timings and peak RSS as JSON."""
    from sqlalchemy import text as sql

    from connectors.files.importer import import_file
    from store import StoreSettings, open_store
    engine = open_store(StoreSettings(url, "benchmark store"))
    data = Path(path).read_bytes()
    t0 = time.perf_counter()
    report = import_file(engine, "fec", data, Path(path).name, actor="benchmark")
    elapsed = time.perf_counter() - t0
    from connectors.files.importer import wait_for_checkpoints
    wait_for_checkpoints()  # the WAL copied into the database file, on another thread after the commit
    checkpoint = time.perf_counter() - t0 - elapsed
    with engine.connect() as conn:
        rows = conn.execute(sql("SELECT COUNT(*), COALESCE(SUM(CASE WHEN compte_num LIKE '70%' "
                                "THEN credit_cents - debit_cents END), 0), COALESCE(SUM(CASE WHEN "
                                "compte_num LIKE '623%' THEN debit_cents - credit_cents END), 0) "
                                "FROM ledger_entries")).one()
    peak_kb = _peak_rss_kb()
    print(json.dumps({"status": report.status, "elapsed": elapsed, "checkpoint": checkpoint,
                      "parsing": report.detected.get("parsing", "same process"),
                      "rows": rows[0], "revenue_cents": int(rows[1]),
                      "sm_spend_cents": int(rows[2]), "peak_rss_mb": peak_kb / 1024,
                      "file_mb": len(data) / 2**20, "errors": [p.as_text() for p in report.errors[:5]]}))


def _floor_child(path: str, url: str) -> None:
    """Run in a fresh process: write the file's rows the way the importer does (same rows, same
    table, same tuning) and time only the writing: executemany, index rebuild, commit. Parsing is
    not timed. This is the floor for any importer writing these rows to this SQLite store."""
    from connectors.files import fec, importer
    from store import StoreSettings, open_store, schema as s, utcnow
    engine = open_store(StoreSettings(url, "benchmark floor store"))
    data = Path(path).read_bytes()
    reader = fec.FecReader(data, Path(path).name)
    insert = rebuild = commit = 0.0
    n = 0
    with importer._bulk_connection(engine) as conn:
        txn = conn.begin()
        import_id = conn.execute(s.import_runs.insert().values(
            kind="fec", file_name="floor", file_hash="floor", imported_by="benchmark", started_at=utcnow(),
            rows_accepted=0, rows_rejected=0, status="success")).inserted_primary_key[0]
        indexes = importer._ledger_indexes_off(conn, data.count(b"\n"))
        indexes.__enter__()
        for batch in reader.batches():
            t0 = time.perf_counter()
            importer.bulk_insert(conn, s.ledger_entries.name, fec.ROW_COLUMNS, batch,
                                 {"import_id": import_id, "siren": reader.siren, "origin": "csv"})
            insert += time.perf_counter() - t0
            n += len(batch)
        t0 = time.perf_counter()
        indexes.__exit__(None, None, None)
        rebuild = time.perf_counter() - t0
        t0 = time.perf_counter()
        txn.commit()
        commit = time.perf_counter() - t0
    t0 = time.perf_counter()
    importer._checkpoint_soon(engine)
    importer.wait_for_checkpoints()
    checkpoint = time.perf_counter() - t0
    print(json.dumps({"rows": n, "insert": insert, "rebuild": rebuild, "commit": commit, "checkpoint": checkpoint}))


def _pg_bench_schema(base_url: str):
    """A URL to a new, empty PostgreSQL schema and a function that drops it."""
    import uuid

    from sqlalchemy import create_engine, text
    name = f"ns_import_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))

    def drop() -> None:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()
    sep = "&" if "?" in base_url else "?"
    return f"{base_url}{sep}options=-csearch_path%3D{name}", drop


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--floor-child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(*args.child)
        return 0
    if args.floor_child:
        _floor_child(*args.floor_child)
        return 0
    with tempfile.TemporaryDirectory(prefix="ns-import-bench-") as tmp:
        path = Path(tmp) / "123456789FEC20241231.txt"
        t0 = time.perf_counter()
        expected = generate_fec(path, args.lines)
        print(f"generated {args.lines:,} lines ({path.stat().st_size / 2**20:.0f} MB) in "
              f"{time.perf_counter() - t0:.1f} s")
        ref_s, ref_n = reference_pass(path)
        pg_schema = None
        if args.backend == "sqlite":
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        else:  # a fresh schema of its own, dropped at the end: the database is left as it was
            url, pg_schema = _pg_bench_schema(os.environ.get("NORTHSTAR_TEST_PG_URL")
                                              or "postgresql+psycopg://postgres@127.0.0.1:5432/test")
        try:
            out = subprocess.run([sys.executable, __file__, "--child", str(path), url],
                                 capture_output=True, text=True, check=False)
        finally:
            if pg_schema:
                pg_schema()
        if out.returncode != 0:
            print(out.stderr[-3000:], file=sys.stderr)
            return 1
        res = json.loads(out.stdout.strip().splitlines()[-1])
        floor = None
        if args.backend == "sqlite":
            out = subprocess.run([sys.executable, __file__, "--floor-child", str(path),
                                  f"sqlite:///{Path(tmp) / 'floor.db'}"], capture_output=True, text=True, check=False)
            if out.returncode != 0:
                print(out.stderr[-3000:], file=sys.stderr)
                return 1
            floor = json.loads(out.stdout.strip().splitlines()[-1])
    rate = args.lines / res["elapsed"]
    print(f"reference csv.reader pass: {ref_n:,} rows in {ref_s:.2f} s ({ref_n / ref_s:,.0f} lines/s)")
    print(f"import ({args.backend}):      {res['rows']:,} rows in {res['elapsed']:.2f} s "
          f"({rate:,.0f} lines/s), status {res['status']}, parsing in {res['parsing']}")
    if args.backend == "sqlite":
        both = res["elapsed"] + res["checkpoint"]
        print(f"then, on another thread after the import returned: WAL checkpoint {res['checkpoint']:.2f} s "
              f"(import and checkpoint together {both:.2f} s, {args.lines / both:,.0f} lines/s)")
    print(f"ratio import time / reference: {res['elapsed'] / ref_s:.1f}x")
    if floor:
        write_s = floor["insert"] + floor["rebuild"] + floor["commit"]
        print(f"write floor (SQLite, same rows, same table, same tuning, parsing not timed): "
              f"executemany {floor['insert']:.2f} s + index rebuild {floor['rebuild']:.2f} s + commit "
              f"{floor['commit']:.2f} s = {write_s:.2f} s ({floor['rows'] / write_s:,.0f} lines/s at best; "
              f"then the checkpoint {floor['checkpoint']:.2f} s)")
        print(f"import time spent beyond the write floor (reading, checking): {res['elapsed'] - write_s:.2f} s")
    print(f"peak RSS of the import process: {res['peak_rss_mb']:.0f} MB for a {res['file_mb']:.0f} MB file "
          f"({res['peak_rss_mb'] / res['file_mb']:.1f}x the file size)")
    ok = (res["status"] == "success" and res["rows"] == args.lines
          and res["revenue_cents"] == expected["revenue_cents"]
          and res["sm_spend_cents"] == expected["sm_spend_cents"])
    print(f"totals match the generator: {'yes' if ok else 'NO'} (revenue {expected['revenue_cents'] / 100:,.2f}, "
          f"S&M spend {expected['sm_spend_cents'] / 100:,.2f})")
    if res["errors"]:
        print("errors:", *res["errors"], sep="\n  ")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"target >= 200,000 lines/s: {'met' if rate >= 200_000 else 'NOT met'} "
          f"(machine load average {load:.1f} on {os.cpu_count()} cores)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
