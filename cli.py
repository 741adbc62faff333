#!/usr/bin/env python3
"""Northstar's scripting face: `python cli.py --help`.

Each feature module contributes its sub-commands through `register(subparsers)`; a command
handler returns the process exit code. Errors the user can fix are printed as one clear
message (no traceback) with exit code 2.
"""
from __future__ import annotations

import argparse
import logging
import sys

from sqlalchemy.exc import SQLAlchemyError

import meeting.cli
import metrics.cli
import ops.cli
import store.cli
import upkeep
from commands import demo, feedback, imports, sync
from ops.logs import setup_logging
from store import StoreError

# Modules that add sub-commands, in the order they appear in --help.
COMMAND_MODULES = [store.cli, demo, imports, sync, feedback, ops.cli, metrics.cli, meeting.cli]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cli.py", description="Northstar: one source of truth for revenue numbers.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(level=logging.DEBUG if args.verbose else None)  # structured, secrets redacted
    upkeep.install()  # a sync keeps the metric rollups exact as it writes
    try:
        return int(args.handler(args) or 0)
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SQLAlchemyError as exc:
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        print(f"error: the store refused a query ({first}). If the store was made by an older "
              "Northstar, run `python cli.py db upgrade`; run with -v for details.", file=sys.stderr)
        logging.getLogger("northstar.cli").debug("store error", exc_info=True)
        return 2
    except KeyboardInterrupt:
        print("interrupted: nothing half-written was kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
