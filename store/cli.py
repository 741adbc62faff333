"""`cli.py db upgrade` and `cli.py status`."""
from __future__ import annotations

import argparse
import json

from sqlalchemy import desc, select

from . import schema as s
from .config import resolve_store
from .db import get_meta, open_store, schema_version, table_counts, upgrade_store
from .secrets import mask


def _cmd_db(args: argparse.Namespace) -> int:
    engine = open_store(upgrade=False)
    before = schema_version(engine)
    applied = upgrade_store(engine)
    print(f"store {mask(resolve_store().url)}: schema {before} -> {schema_version(engine)}"
          + (f" (applied {', '.join(map(str, applied))})" if applied else " (already current)"))
    return 0


def store_status() -> dict:
    """What `status` prints: URL, schema, row counts, last sync and import (secrets masked)."""
    settings = resolve_store()
    engine = open_store(settings)
    with engine.connect() as conn:
        last_sync = conn.execute(select(s.sync_runs).order_by(desc(s.sync_runs.c.run_id)).limit(1)).mappings().first()
        last_import = conn.execute(select(s.import_runs).order_by(desc(s.import_runs.c.import_id)).limit(1)).mappings().first()
        demo = get_meta(conn, "is_demo", "0") == "1"
    return {
        "store": mask(settings.url),
        "configured_by": settings.source,
        "schema_version": schema_version(engine),
        "demo_data": demo,
        "tables": table_counts(engine),
        "last_sync": {k: mask(str(v)) for k, v in last_sync.items()} if last_sync else None,
        "last_import": {k: mask(str(v)) for k, v in last_import.items()} if last_import else None,
    }


def _cmd_status(args: argparse.Namespace) -> int:
    info = store_status()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"store:          {info['store']}  (from {info['configured_by']})")
    print(f"schema version: {info['schema_version']}")
    print(f"demo data:      {'yes' if info['demo_data'] else 'no'}")
    for label, run in (("last sync", info["last_sync"]), ("last import", info["last_import"])):
        if run:
            what = run.get("connector") or run.get("kind")
            print(f"{label + ':':<15} {what} {run['status']} at {run['started_at']}")
        else:
            print(f"{label + ':':<15} never")
    print("rows:")
    for name, n in sorted(info["tables"].items()):
        print(f"  {name:<22} {n:>12,}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    db = sub.add_parser("db", help="store maintenance")
    dbsub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = dbsub.add_parser("upgrade", help="bring the store's schema to the current version")
    up.set_defaults(handler=_cmd_db)
    st = sub.add_parser("status", help="store URL (password masked), row counts, last sync/import")
    st.add_argument("--json", action="store_true", help="machine-readable output")
    st.set_defaults(handler=_cmd_status)
