"""What imports replaced, and undoing an import.

An import deletes rows it did not bring only when the user asked for it (`--replace`) or when its
file provably supersedes them (the same FEC company with a SIREN and period, the same invoice
numbers, the same budget lines...). Every row it deletes is first kept in `import_replaced`, with
the import that had brought it, so that the report and the audit row say exactly what was replaced
and from which import, and undoing the import puts those rows back.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Iterable

from sqlalchemy import Boolean, Connection, Date, DateTime, Engine, false, func, select

from store import bump_data_version, schema as s, utcnow
from store.audit import record_audit

# The table each import kind writes, and its primary key (HubSpot CSV exports upsert CRM records
# in place and cannot be undone).
TABLES = {"fec": s.ledger_entries, "invoices": s.invoices, "spend": s.marketing_spend, "budgets": s.budgets,
          "nps": s.nps_responses}
_CHUNK = 500


class UndoError(RuntimeError):
    """An import that cannot be undone; the message says why and what to do."""


def _pk(table):
    return next(iter(table.primary_key.columns))


def _plain(value):
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def _typed(table, row: dict) -> dict:
    out = {}
    for name, value in row.items():
        col = table.c[name]
        if value is not None and isinstance(col.type, DateTime):
            value = dt.datetime.fromisoformat(value)
        elif value is not None and isinstance(col.type, Date):
            value = dt.date.fromisoformat(value)
        elif value is not None and isinstance(col.type, Boolean):
            value = bool(value)
        out[name] = value
    return out


def replace_rows(conn: Connection, table, where, import_id: int, keep=None) -> dict[int | None, int]:
    """Delete the rows of `table` matching `where` (and `keep(row)`, when given) that this import
    did not bring, after keeping each in import_replaced; {import that had brought them: count}."""
    pk = _pk(table)
    query = select(table).where(where, func.coalesce(table.c.import_id, -1) != import_id)
    replaced: dict[int | None, int] = {}
    ids: list = []
    kept: list[dict] = []
    for row in conn.execute(query).mappings():
        if keep is not None and not keep(row):
            continue
        ids.append(row[pk.name])
        kept.append({"import_id": import_id, "table_name": table.name, "from_import_id": row["import_id"],
                     "row_json": json.dumps({k: _plain(v) for k, v in row.items()}, separators=(",", ":"))})
        replaced[row["import_id"]] = replaced.get(row["import_id"], 0) + 1
        if len(kept) >= 5000:
            conn.execute(s.import_replaced.insert(), kept)
            kept = []
    if kept:
        conn.execute(s.import_replaced.insert(), kept)
    for i in range(0, len(ids), _CHUNK):
        conn.execute(table.delete().where(pk.in_(ids[i:i + _CHUNK])))
    return replaced


def merge(*parts: dict) -> dict:
    out: dict = {}
    for part in parts:
        for k, n in part.items():
            out[k] = out.get(k, 0) + n
    return out


def describe(conn: Connection, replaced: dict[int | None, int]) -> str:
    """'5 from import #1 (a.txt), 2 not brought by an import' for a report or a message."""
    if not replaced:
        return ""
    ids = [k for k in replaced if k is not None]
    names = dict(conn.execute(select(s.import_runs.c.import_id, s.import_runs.c.file_name)
                              .where(s.import_runs.c.import_id.in_(ids))).all()) if ids else {}
    parts = [f"{n:,} from import #{k} ({names.get(k, '?')})" for k, n in sorted(
        ((k, n) for k, n in replaced.items() if k is not None))]
    if None in replaced:
        parts.append(f"{replaced[None]:,} not brought by an import (demo or synced data)")
    return ", ".join(parts)


def list_imports(engine: Engine, limit: int = 50) -> list[dict]:
    """The latest imports, newest first, each with what it replaced and whether it can be undone."""
    r = s.import_runs
    with engine.connect() as conn:
        runs = [dict(x) for x in conn.execute(select(r).order_by(r.c.import_id.desc()).limit(limit)).mappings()]
        ids = [x["import_id"] for x in runs]
        counts = {}
        if ids:
            for rid, n in conn.execute(select(s.import_replaced.c.import_id, func.count())
                                       .where(s.import_replaced.c.import_id.in_(ids))
                                       .group_by(s.import_replaced.c.import_id)).all():
                counts[rid] = n
    for x in runs:
        x["rows_replaced"] = counts.get(x["import_id"], 0)
        x["undoable"] = x["status"] == "success" and x["kind"] in TABLES
    return runs


def undo_import(engine: Engine, import_id: int, actor: str) -> dict:
    """Remove the import's rows and restore the rows it replaced, in one transaction that bumps the
    data version naming the table and records an audit row. Refused (UndoError) for an import that
    did not succeed, was undone already, wrote no table it can take back (HubSpot exports), or
    whose rows a later import replaced (undo that one first)."""
    r, kept = s.import_runs, s.import_replaced
    with engine.begin() as conn:
        run = conn.execute(select(r).where(r.c.import_id == import_id)).mappings().first()
        if run is None:
            raise UndoError(f"there is no import #{import_id} (`cli.py imports list` shows them)")
        if run["status"] == "undone":
            raise UndoError(f"import #{import_id} was undone already ({run['undone_at']:%Y-%m-%d %H:%M} UTC "
                            f"by {run['undone_by']})")
        if run["status"] != "success":
            raise UndoError(f"import #{import_id} is {run['status']}: it wrote nothing to undo")
        table = TABLES.get(run["kind"])
        if table is None:
            raise UndoError(f"import #{import_id} ({run['kind']}) updated CRM records in place; it cannot be "
                            "undone: import the earlier export again instead")
        later = conn.execute(select(kept.c.import_id).join(r, r.c.import_id == kept.c.import_id).where(
            kept.c.from_import_id == import_id, r.c.status == "success").distinct()).scalars().all()
        if later:
            raise UndoError(f"import #{import_id} had rows replaced by import "
                            f"{', '.join(f'#{i}' for i in sorted(later))}: undo that first")
        removed = conn.execute(table.delete().where(table.c.import_id == import_id)).rowcount
        restored: dict[int | None, int] = {}
        batch: list[dict] = []
        for from_id, row_json in conn.execute(select(kept.c.from_import_id, kept.c.row_json)
                                              .where(kept.c.import_id == import_id)
                                              .order_by(kept.c.replaced_id)):
            batch.append(_typed(table, json.loads(row_json)))
            restored[from_id] = restored.get(from_id, 0) + 1
            if len(batch) >= 5000:
                conn.execute(table.insert(), batch)
                batch = []
        if batch:
            conn.execute(table.insert(), batch)
        conn.execute(kept.delete().where(kept.c.import_id == import_id))
        now = utcnow()
        conn.execute(r.update().where(r.c.import_id == import_id).values(
            status="undone", undone_at=now, undone_by=actor[:255]))
        n_restored = sum(restored.values())
        result = {"import_id": import_id, "kind": run["kind"], "file_name": run["file_name"],
                  "rows_removed": removed, "rows_restored": n_restored,
                  "restored_from": {str(k) if k is not None else "none": n for k, n in restored.items()}}
        record_audit(conn, actor, "import.undo", f"{run['kind']}: {run['file_name']}",
                     {"import_id": import_id, "status": "success", "rows": removed}, result)
        _restart_sequence(conn, table)
        bump_data_version(conn, table.name, "import_runs", "import_replaced", "audit_log")
    result["message"] = (f"undid import #{import_id} ({run['file_name']}): removed {removed:,} rows"
                         + (f", restored {n_restored:,} rows it had replaced" if n_restored else ""))
    return result


def _restart_sequence(conn: Connection, table) -> None:
    """On PostgreSQL, rows put back with their own ids leave the id sequence behind them: move it on."""
    if conn.dialect.name != "postgresql":
        return
    pk = _pk(table)
    conn.exec_driver_sql(
        f"SELECT setval(pg_get_serial_sequence('{table.name}', '{pk.name}'), "
        f"GREATEST((SELECT COALESCE(MAX({pk.name}), 0) FROM {table.name}), 1))")


def runs_matching(conn: Connection, kind: str, *where) -> list[int]:
    """Ids of the successful imports of `kind` matching `where`."""
    r = s.import_runs
    return list(conn.execute(select(r.c.import_id).where(r.c.kind == kind, r.c.status == "success", *where))
                .scalars())


def in_ids(column, ids: Iterable[int]):
    ids = list(ids)
    return column.in_(ids) if ids else false()
