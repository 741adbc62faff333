"""`cli.py import KIND FILE [--mapping M] [--dry-run] [--valid-only]`: one file into the store."""
from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

from store import StoreError, open_store

from .detect import FileFormatError
from .importer import IMPORT_KINDS, PRESETS, FileImportError, import_file
from .mapping import with_options


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "import", help="import a FEC ledger, invoices, spend, budgets or a HubSpot CSV export",
        description="Validate a file, then import it in one transaction. A file already imported "
                    "is skipped; a corrected file replaces the rows of its period from the same source.")
    p.add_argument("kind", choices=IMPORT_KINDS)
    p.add_argument("file", type=Path)
    p.add_argument("--mapping", "-m", metavar="M",
                   help="a preset name (" + "; ".join(f"{k}: {', '.join(sorted(v))}" for k, v in PRESETS.items()
                                                      if len(v) > 1) + ") or a YAML/JSON mapping file")
    p.add_argument("--dry-run", action="store_true", help="validate and report; write nothing")
    p.add_argument("--valid-only", action="store_true",
                   help="import the valid rows when the report allows it (otherwise the file is rejected)")
    forced = p.add_argument_group("reading options (detected unless given)")
    forced.add_argument("--encoding", help="utf-8, cp1252, iso-8859-15, utf-16 ...")
    forced.add_argument("--delimiter", help="tab, semicolon, comma, pipe, or one character")
    forced.add_argument("--decimal", choices=(",", "."), help="decimal separator of amounts")
    forced.add_argument("--thousands", help="thousands separator of amounts (e.g. ' ' or .)")
    forced.add_argument("--date-format", help="strptime format of dates, e.g. %%d/%%m/%%Y")
    p.add_argument("--as", dest="actor", default=None, help="who imports (default: the OS user)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(handler=_cmd_import)


def _cmd_import(args: argparse.Namespace) -> int:
    path: Path = args.file
    if not path.is_file():
        raise StoreError(f"{path} is not a file; give the path of the export to import.")
    data = path.read_bytes()
    engine = open_store()
    actor = args.actor or f"{getpass.getuser()} (cli)"
    try:
        mapping = with_options(args.mapping, PRESETS[args.kind], {
            "encoding": args.encoding, "delimiter": args.delimiter, "decimal": args.decimal,
            "thousands": args.thousands, "date_format": args.date_format})
        report = import_file(engine, args.kind, data, path.name, actor=actor, mapping=mapping,
                             dry_run=args.dry_run, valid_only=args.valid_only)
    except (FileImportError, FileFormatError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.as_dict(), indent=2, default=str))
    else:
        print(report.as_text())
    if report.status == "success":
        from metrics import rollups_build as rollups
        for group, built in rollups.settle(engine).items():  # the metric summaries this file changed
            print(f"{group} rebuilt: {built.rows:,} rows in {built.seconds:.1f} s", file=sys.stderr)
    return 0 if report.status in ("success", "skipped", "validated") and (report.ok or args.valid_only) else 1
