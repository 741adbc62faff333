#!/usr/bin/env python3
"""Demo data generation speed and memory: one scale into a fresh SQLite store.

Prints elapsed time, rows/s and the peak RSS of the generating process, and the ratio to a
reference measured in the same run: a plain `sqlite3` executemany of the same number of rows
(8-column tuples made by a trivial generator, same pragmas, no index) into a scratch file.
Targets (issue 3): 1M scale (1,000,000 deals / 3,000,000 contacts) well under 10 minutes, with
memory that does not grow with the scale.

    .venv/bin/python benchmarks/demo_bench.py                 # medium (100k deals), temp file
    .venv/bin/python benchmarks/demo_bench.py --scale 1M      # writes demo.BENCH_STORE_PATH

The 1M store is what the other benchmarks read (data/bench/northstar-1M.db, git-ignored).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_AS_OF = dt.date(2026, 11, 23)  # fixed so the benchmark store is the same on every machine


def _child(scale: str, path: Path, seed: int) -> None:
    """Generate into `path` and print one JSON line (run in its own process for a clean peak RSS)."""
    import upkeep
    from demo import generate_demo
    from store import StoreSettings, open_store
    engine = open_store(StoreSettings(f"sqlite:///{path}", "benchmark store"))
    last = [0.0]

    def progress(done: int, total: int, rows: int) -> None:
        if time.monotonic() - last[0] > 15 or done == total:
            last[0] = time.monotonic()
            print(f"  {done}/{total} blocks, {rows:,} rows", file=sys.stderr, flush=True)
    started = time.perf_counter()
    counts = generate_demo(engine, scale=scale, seed=seed, as_of=BENCH_AS_OF, progress=progress)
    upkeep.after_demo(engine)  # the metric rollups, as `cli.py demo` builds them
    elapsed = time.perf_counter() - started
    engine.dispose()
    print(json.dumps({"elapsed_s": elapsed, "rows": sum(counts.values()), "counts": counts,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def reference_executemany(n_rows: int, folder: Path, batch: int = 20_000) -> float:
    """Seconds for a bare sqlite3 executemany of n_rows 8-column rows, committed once."""
    path = folder / "reference.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b TEXT, c INTEGER, d TEXT, e REAL, f TEXT, g INTEGER)")
    started = time.perf_counter()
    for first in range(0, n_rows, batch):
        rows = [(i, f"name {i}", "2025-01-01 10:00:00.000000", i * 7, "EUR", i / 3, "demo", 0)
                for i in range(first, min(n_rows, first + batch))]
        conn.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.commit()
    elapsed = time.perf_counter() - started
    conn.close()
    path.unlink()
    return elapsed


def main() -> int:
    from demo import BENCH_STORE_PATH, SCALES
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", choices=list(SCALES), default="medium")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, help="store file (default: a temp file; 1M: demo.BENCH_STORE_PATH)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.scale, args.out, args.seed)
        return 0

    with tempfile.TemporaryDirectory(prefix="demo-bench-") as tmp:
        out = args.out or (BENCH_STORE_PATH if args.scale == "1M" else Path(tmp) / f"demo-{args.scale}.db")
        out.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{out}{suffix}").unlink(missing_ok=True)
        print(f"demo {args.scale} -> {out}", flush=True)
        proc = subprocess.run([sys.executable, __file__, "--child", "--scale", args.scale,
                               "--seed", str(args.seed), "--out", str(out)],
                              stdout=subprocess.PIPE, text=True, check=True)
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        reference = reference_executemany(result["rows"], Path(tmp))
        size_mb = out.stat().st_size / 1e6
    rows, elapsed = result["rows"], result["elapsed_s"]
    ratio = elapsed / reference
    print(f"rows written          {rows:>14,}  ({result['counts'].get('deals', 0):,} deals, "
          f"{result['counts'].get('contacts', 0):,} contacts)")
    print(f"demo generation       {elapsed:>12.1f} s  {rows / elapsed:>12,.0f} rows/s")
    print(f"reference executemany {reference:>12.1f} s  {rows / reference:>12,.0f} rows/s")
    print(f"ratio demo/reference  {ratio:>12.2f}x")
    print(f"peak RSS (generator)  {result['peak_rss_mb']:>12.0f} MB")
    print(f"store file            {size_mb:>12.0f} MB")
    report = {"scale": args.scale, "rows": rows, "elapsed_s": round(elapsed, 2),
              "rows_per_s": round(rows / elapsed), "reference_s": round(reference, 2),
              "ratio": round(ratio, 2), "peak_rss_mb": round(result["peak_rss_mb"]),
              "store_mb": round(size_mb), "counts": result["counts"], "python": sys.version.split()[0],
              "cpus": os.cpu_count()}
    folder = ROOT / "benchmarks" / "output"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"demo_bench-{args.scale}.json").write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
