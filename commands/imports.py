"""`cli.py import KIND FILE [--mapping M] [--dry-run] [--valid-only] [--replace] [--company C]`: one file
into the store; `cli.py imports list`, `cli.py imports undo ID`: the import history and undoing one."""
from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

import upkeep
from connectors.files.detect import FileFormatError
from connectors.files.history import UndoError, list_imports, undo_import
from connectors.files.importer import IMPORT_KINDS, PRESETS, FileImportError, import_file
from connectors.files.mapping import with_options
from metrics import REGISTRY
from store import StoreError, open_store


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "import", help="import a FEC ledger, invoices, spend, budgets or a HubSpot CSV export",
        description="Validate a file, then import it in one transaction. A file already imported the same "
                    "way is skipped. Rows the file supersedes (same FEC SIREN and period, same invoice "
                    "numbers, same budget lines) are replaced; other earlier rows only with --replace. "
                    "`cli.py imports undo ID` takes an import back.")
    p.add_argument("kind", choices=IMPORT_KINDS)
    p.add_argument("file", type=Path)
    p.add_argument("--mapping", "-m", metavar="M",
                   help="a preset name (" + "; ".join(f"{k}: {', '.join(sorted(v))}" for k, v in PRESETS.items()
                                                      if len(v) > 1) + ") or a YAML/JSON mapping file")
    p.add_argument("--dry-run", action="store_true", help="validate and report; write nothing")
    p.add_argument("--valid-only", action="store_true",
                   help="import the valid rows when the report allows it (otherwise the file is rejected)")
    p.add_argument("--replace", action="store_true",
                   help="also replace the earlier rows of the file's period from the same company (FEC) or "
                        "source (invoices, spend) or metrics (budgets); undo with `imports undo ID`")
    p.add_argument("--company", metavar="NAME",
                   help="FEC: the company the ledger belongs to when its file name carries no SIREN "
                        "(default: an identity derived from the file name)")
    forced = p.add_argument_group("reading options (detected unless given)")
    forced.add_argument("--encoding", help="utf-8, cp1252, iso-8859-15, utf-16 ...")
    forced.add_argument("--delimiter", help="tab, semicolon, comma, pipe, or one character")
    forced.add_argument("--decimal", choices=(",", "."), help="decimal separator of amounts")
    forced.add_argument("--thousands", help="thousands separator of amounts (e.g. ' ' or .)")
    forced.add_argument("--date-format", help="strptime format of dates, e.g. %%d/%%m/%%Y")
    p.add_argument("--as", dest="actor", default=None, help="who imports (default: the OS user)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(handler=_cmd_import)

    h = subparsers.add_parser("imports", help="list file imports; undo one",
                              description="The import history, and undoing an import: its rows removed and "
                                          "the rows it replaced restored, in one transaction.")
    sub = h.add_subparsers(dest="imports_command", metavar="ACTION", required=True)
    ls = sub.add_parser("list", help="the latest imports, newest first")
    ls.add_argument("--limit", type=int, default=30)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=_cmd_imports_list)
    undo = sub.add_parser("undo", help="remove an import's rows and restore what it replaced")
    undo.add_argument("import_id", type=int, metavar="ID")
    undo.add_argument("--as", dest="actor", default=None, help="who undoes (default: the OS user)")
    undo.set_defaults(handler=_cmd_imports_undo)


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
                             dry_run=args.dry_run, valid_only=args.valid_only, replace=args.replace,
                             company=args.company, metric_ids=REGISTRY.keys())
    except (FileImportError, FileFormatError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.as_dict(), indent=2, default=str))
    else:
        print(report.as_text())
    if report.status == "success":
        for group, built in upkeep.after_import(engine).items():  # the metric summaries this file changed
            print(f"{group} rebuilt: {built.rows:,} rows in {built.seconds:.1f} s", file=sys.stderr)
    return 0 if report.status in ("success", "skipped", "validated") and (report.ok or args.valid_only) else 1


def _cmd_imports_list(args: argparse.Namespace) -> int:
    runs = list_imports(open_store(), args.limit)
    if args.json:
        print(json.dumps(runs, indent=2, default=str))
        return 0
    print(f"{'id':>5}  {'when (UTC)':16}  {'kind':17}  {'status':8}  {'rows':>9}  {'replaced':>8}  file")
    for r in runs:
        print(f"{r['import_id']:>5}  {r['started_at']:%Y-%m-%d %H:%M}  {r['kind']:17}  {r['status']:8}  "
              f"{r['rows_accepted']:>9,}  {r['rows_replaced']:>8,}  {r['file_name']}"
              + (f"  [{r['company']}]" if r["company"] else ""))
    return 0


def _cmd_imports_undo(args: argparse.Namespace) -> int:
    engine = open_store()
    try:
        result = undo_import(engine, args.import_id, args.actor or f"{getpass.getuser()} (cli)")
    except UndoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(result["message"])
    for group, built in upkeep.after_import(engine).items():  # the metric summaries this changed
        print(f"{group} rebuilt: {built.rows:,} rows in {built.seconds:.1f} s", file=sys.stderr)
    return 0
