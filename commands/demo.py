"""`cli.py demo`: fill the store with the deterministic demo company."""
from __future__ import annotations

import argparse
import datetime as dt
import sys
import time

import upkeep
from demo.loader import DEFAULT_SEED, SCALES, DemoError, generate_demo, tables_with_rows
from metrics.periods import date_problem
from store import mask, open_store, resolve_store
from store.db import reset_store, upgrade_store


def _as_of(text: str | None) -> dt.date:
    if not text:
        return dt.datetime.now(dt.timezone.utc).date()
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise DemoError(f"--as-of {text!r} is not a date; write it as YYYY-MM-DD, e.g. 2026-06-30.") from None
    problem = date_problem(day, "--as-of")
    if problem:
        raise DemoError(f"{problem}.")
    return day


class _ProgressLine:
    """Prints progress every 10% of the blocks (and at the end) to stderr."""

    def __init__(self, scale: str):
        self.scale, self.started, self.next_mark = scale, time.monotonic(), 0.1

    def __call__(self, done: int, total: int, rows: int) -> None:
        if done / total + 1e-9 < self.next_mark and done != total:
            return
        self.next_mark = done / total + 0.1
        print(f"demo {self.scale}: {done / total:4.0%}  {rows:>12,} rows  {time.monotonic() - self.started:6.1f}s",
              file=sys.stderr, flush=True)


def _cmd_demo(args: argparse.Namespace) -> int:
    as_of = _as_of(args.as_of)
    if args.seed < 0:
        raise DemoError(f"--seed must be a non-negative integer (got {args.seed}).")
    settings = resolve_store()
    engine = open_store(settings)
    with engine.connect() as conn:
        busy = tables_with_rows(conn)
    if busy and args.if_empty and not args.reset:
        print(f"store {mask(settings.url)} already holds data; no demo data added.")
        return 0
    if args.reset:
        reset_store(engine)
        upgrade_store(engine)
        if busy:
            print(f"store {mask(settings.url)}: deleted all existing data (--reset).")
    started = time.monotonic()
    counts = generate_demo(engine, scale=args.scale, seed=args.seed, as_of=as_of,
                           progress=_ProgressLine(args.scale))
    upkeep.after_demo(engine)  # the monthly summaries the pages read
    print(f"store {mask(settings.url)}: demo data ({args.scale}, seed {args.seed}, as of {as_of}) "
          f"written in {time.monotonic() - started:.1f}s")
    for table in ("contacts", "companies", "deals", "deal_stage_history", "line_items", "invoices",
                  "ledger_entries", "marketing_spend", "budgets"):
        print(f"  {table:<22} {counts.get(table, 0):>12,}")
    weeks = args.snapshot_weeks if args.snapshot_weeks is not None else (12 if args.scale == "small" else 0)
    if weeks <= 0:
        print("  meeting snapshots      skipped (rebuilding past weeks is slow at this scale; "
              "add them with --snapshot-weeks N or `python cli.py snapshot`)")
        return 0
    started = time.monotonic()
    snapshots = upkeep.demo_snapshots(engine, weeks=weeks, as_of=as_of)
    print(f"  meeting snapshots      {len(snapshots):>12,}  ({weeks} past weeks + this one, "
          f"{time.monotonic() - started:.1f}s)")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="fill the store with a deterministic demo company (3 years of data)")
    p.add_argument("--scale", choices=list(SCALES), default="small",
                   help="small: 4,500 contacts / 1,500 deals (default); medium: 100k deals; 1M: 1M deals")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    p.add_argument("--as-of", metavar="YYYY-MM-DD", help="last day of the data + 1 (default: today, UTC)")
    p.add_argument("--snapshot-weeks", type=int, metavar="N",
                   help="past weeks of meeting snapshots to rebuild (default: 12 for small, 0 for larger scales)")
    p.add_argument("--reset", action="store_true",
                   help="delete EVERYTHING in the store first (also non-demo data)")
    p.add_argument("--if-empty", action="store_true",
                   help="only seed when the store has no data; otherwise do nothing (used by `make run`)")
    p.set_defaults(handler=_cmd_demo)
