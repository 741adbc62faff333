"""`cli.py snapshot`: take this week's meeting snapshot (cron / systemd timer), or list them;
`cli.py meeting-pack`: write a week's pack (HTML + XLSX) to files;
`cli.py digest`: send the Monday digest (email, Slack, Teams) or write it to files;
`cli.py alerts`: list the alerts, or check them now."""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

import pandas as pd

from metrics.periods import date_problem
from store import StoreError, open_store
from store.secrets import mask

from . import channels, digest
from .alerts import check_alerts, list_alerts

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
    taken_week = week or week_of(dt.date.today())
    print(f"snapshot {sid} of week {taken_week} ({kind}): {status}; "
          f"{len(values)} metric values")
    if sid not in before and kind == "weekly" and taken_week == week_of(dt.date.today()):
        for delivery in digest.after_snapshot(engine, taken_week):  # when configured, once per week
            print(mask(f"digest {delivery.line()}"))
    return 0


def _cmd_digest(args: argparse.Namespace) -> int:
    engine = open_store()
    week = week_of(args.week or dt.date.today())
    if args.out:
        if args.to or args.webhook:
            raise StoreError("--out writes the digest to files and sends nothing; leave out --to and --webhook, "
                             "or --out to send.")
        d = digest.build_digest(engine, week, channels.base_url())
        try:
            paths = digest.write_files(d, Path(args.out))
        except OSError as exc:
            raise StoreError(f"Cannot write the digest to {args.out} ({exc.strerror}); pass --out a writable folder.") from None
        print("wrote " + ", ".join(str(p) for p in paths))
        return 0
    targets = channels.targets_for("digest", to=args.to or None, webhooks=args.webhook or None)
    if not targets.configured:
        raise StoreError("Nowhere to send the digest: pass --to ADDRESS (with NORTHSTAR_SMTP_URL and "
                         "NORTHSTAR_MAIL_FROM set) or --webhook URL, or set NORTHSTAR_DIGEST_TO / "
                         "NORTHSTAR_DIGEST_WEBHOOKS; --out DIR writes the files instead.")
    deliveries = digest.send_digest(engine, week, targets)
    for delivery in deliveries:
        print(mask(f"digest of week {week}: {delivery.line()}"), file=sys.stdout if delivery.ok else sys.stderr)
    return 0 if all(d.ok for d in deliveries) else 1


def _cmd_alerts(args: argparse.Namespace) -> int:
    engine = open_store()
    if args.check:
        run = check_alerts(engine)
        for row in run.fired:
            print(mask(f"fired: {row['message']}"))
            for delivery in run.deliveries.get(row["alert_key"], []):
                print(mask(f"  {delivery.line()}"))
        for row in run.cleared:
            print(f"cleared: {row['alert_key']}")
        for problem in run.problems:
            print(mask(f"not evaluated: {problem}"), file=sys.stderr)
        print(f"{len(run.fired)} fired, {len(run.holding)} still open, {len(run.cleared)} cleared")
    rows = list_alerts(engine)
    shown = rows[rows.state == "open"] if not args.all else rows
    if args.json:
        def plain(v):
            if v is None or (not isinstance(v, str) and pd.isna(v)):
                return None
            return v.isoformat() if hasattr(v, "isoformat") else v
        print(json.dumps([{k: plain(v) for k, v in r.items()} for r in shown.to_dict("records")], indent=2))
    elif not args.check:
        if shown.empty:
            print("no open alerts" if not args.all else "no alerts yet")
        for r in shown.to_dict("records"):
            print(mask(f"{r['state']:<8} {r['fired_at']:%Y-%m-%d %H:%M}  {r['message']}"))
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
    g = sub.add_parser("digest", help="send the week's digest by email / Slack / Teams, or write it to files",
                       description="The Monday digest: the quarter headline, what changed, leads not followed up "
                                   "by owner, decisions due, a link to the meeting page; every figure from the "
                                   "week's meeting snapshot. Channels: NORTHSTAR_SMTP_URL, NORTHSTAR_MAIL_FROM, "
                                   "NORTHSTAR_DIGEST_TO, NORTHSTAR_DIGEST_WEBHOOKS (or the options below).")
    g.add_argument("--week", type=_week, help="any day of the meeting week (default: this week)")
    g.add_argument("--to", action="append", metavar="ADDRESS", help="an email recipient (repeat for more; "
                                                                       "default: NORTHSTAR_DIGEST_TO)")
    g.add_argument("--webhook", action="append", metavar="URL", help="a Slack or Teams incoming webhook (repeat "
                                                                      "for more; default: NORTHSTAR_DIGEST_WEBHOOKS)")
    g.add_argument("--out", metavar="DIR", help="write the digest (text, HTML, Slack and Teams JSON) here; send nothing")
    g.set_defaults(handler=_cmd_digest)
    a = sub.add_parser("alerts", help="list open alerts, or check the alert rules now (--check)",
                       description="Alert rules live in metrics/definitions.yaml (alerts:); they are checked "
                                   "after every sync and import, and each is sent once until it clears.")
    a.add_argument("--check", action="store_true", help="evaluate the rules now and send what fires")
    a.add_argument("--all", action="store_true", help="also list cleared alerts")
    a.add_argument("--json", action="store_true", help="print the alerts as JSON")
    a.set_defaults(handler=_cmd_alerts)
