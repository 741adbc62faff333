"""`cli.py backup`, `cli.py restore FILE`, `cli.py doctor`."""
from __future__ import annotations

import argparse
import getpass

from .backup import backup_store, restore_store
from .doctor import format_report, report_json, run_doctor


def _cmd_backup(args: argparse.Namespace) -> int:
    info = backup_store(args.to)
    print(f"backup written: {info.path} ({info.size_bytes / 1e6:,.1f} MB, schema {info.schema_version}, "
          f"{info.deals:,} deals)")
    return 0


def _cmd_restore(args: argparse.Namespace) -> int:
    actor = f"cli:{getpass.getuser()}"
    info = restore_store(args.file, actor=actor, confirm=args.yes)
    if info.safety_copy:
        print(f"previous store kept at {info.safety_copy} ({info.replaced_deals:,} deals)")
    print(f"restored {info.restored_from.path}: {info.restored_from.deals:,} deals, schema "
          f"{info.restored_from.schema_version}; running apps show it on their next rerun")
    return 0


def _cmd_doctor(args: argparse.Namespace) -> int:
    checks = run_doctor(hubspot_timeout=args.timeout)
    print(report_json(checks) if args.json else format_report(checks))
    return 1 if any(c.status == "fail" for c in checks) else 0


def register(sub: argparse._SubParsersAction) -> None:
    b = sub.add_parser("backup", help="copy the SQLite store to a file, safely while the app runs")
    b.add_argument("--to", metavar="PATH", help="backup file (default data/backups/northstar-<UTC time>.db)")
    b.set_defaults(handler=_cmd_backup)
    r = sub.add_parser("restore", help="replace the SQLite store with a backup (keeps a copy of the current one)")
    r.add_argument("file", help="a file made by `cli.py backup`")
    r.add_argument("--yes", action="store_true", help="replace a store that holds data")
    r.set_defaults(handler=_cmd_restore)
    d = sub.add_parser("doctor", help="check configuration, store, HubSpot token and scopes; say what to fix")
    d.add_argument("--json", action="store_true", help="machine-readable output")
    d.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for HubSpot (default 5)")
    d.set_defaults(handler=_cmd_doctor)
