"""`cli.py snapshot`: take this week's meeting snapshot (cron / systemd timer), or list them;
`cli.py meeting-pack`: write a week's pack (HTML + XLSX) to files."""
from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from metrics.periods import date_problem
from store import StoreError, open_store

from .pack import pack_file_name, to_html, to_xlsx
from .report import week_report
from .snapshots import list_snapshots, snapshot_metric_rows, take_snapshot, week_of


def _week(text: str) -> dt.date:
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-23") from None
    problem = date_problem(day, "--week")
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return day


def _cmd_snapshot(args: argparse.Namespace) -> int:
    engine = open_store()
    if args.list:
        rows = list_snapshots(engine)
        if not rows:
            print("no snapshots yet: run `python cli.py snapshot`")
        for r in rows:
            print(f"{r['snapshot_id']:>6}  week {r['week_start']}  {r['kind']:<13}  taken {r['taken_at']}")
        return 0
    kind = "on_demand" if args.on_demand else "weekly"
    week = week_of(args.week) if args.week else None
    before = {r["snapshot_id"] for r in list_snapshots(engine)}
    sid = take_snapshot(engine, week_start=week, kind=kind)
    values = snapshot_metric_rows(engine, sid)
    status = "already taken, kept as it was" if sid in before else "taken"
    print(f"snapshot {sid} of week {week or week_of(dt.date.today())} ({kind}): {status}; "
          f"{len(values)} metric values")
    return 0


def _cmd_pack(args: argparse.Namespace) -> int:
    engine = open_store()
    report = week_report(engine, week_of(args.week or dt.date.today()))
    folder = Path(args.out)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        html_path, xlsx_path = folder / pack_file_name(report, "html"), folder / pack_file_name(report, "xlsx")
        html_path.write_text(to_html(report), encoding="utf-8")
        xlsx_path.write_bytes(to_xlsx(report))
    except OSError as exc:
        raise StoreError(f"Cannot write the pack to {folder} ({exc.strerror}); pass --out to a writable folder.") from None
    print(f"wrote {html_path} and {xlsx_path}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("snapshot", help="take this week's meeting snapshot (idempotent) or list snapshots",
                       description="Freeze every metric (total, each region, each product line) and the open "
                                   "pipeline for a week's revenue meeting. A weekly snapshot is taken once per "
                                   "week and never changed; run it from cron every Monday morning.")
    p.add_argument("--week", type=_week, help="any day of the week to snapshot (default: this week; "
                                              "a past week is rebuilt as the store stood at its end)")
    p.add_argument("--on-demand", action="store_true", help="take an extra snapshot now, beside the weekly one")
    p.add_argument("--list", action="store_true", help="list the snapshots and exit")
    p.set_defaults(handler=_cmd_snapshot)
    q = sub.add_parser("meeting-pack", help="write a week's meeting pack (HTML + XLSX)")
    q.add_argument("--week", type=_week, help="any day of the week (default: this week)")
    q.add_argument("--out", default=".", help="folder to write the two files to (default: here)")
    q.set_defaults(handler=_cmd_pack)
