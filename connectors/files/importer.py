"""The one way files reach the store: validate everything first, then write in one transaction.

Idempotent by content hash (a file already imported is skipped), and a corrected file replaces
the rows of its period from the same source instead of doubling them. Every attempt, accepted,
rejected, skipped or failed, is recorded in `import_runs`.
"""
from __future__ import annotations

import hashlib
import logging
from typing import Callable

from sqlalchemy import Connection, Engine, and_, select, update

from store import bump_data_version, schema as s, utcnow
from store.db import SQLAlchemyError

from . import budgets, fec, hubspot_csv, invoices, spend
from .detect import FileFormatError
from .mapping import load_mapping
from .presets import BUDGET_PRESETS, HUBSPOT_PRESETS, INVOICE_PRESETS, SPEND_PRESETS
from .report import ImportReport, Parsed

log = logging.getLogger(__name__)

IMPORT_KINDS = ("fec", "invoices", "spend", "budgets", "hubspot-deals", "hubspot-contacts", "hubspot-companies")
PRESETS = {"fec": {"generic": {}}, "invoices": INVOICE_PRESETS, "spend": SPEND_PRESETS,
           "budgets": BUDGET_PRESETS, "hubspot-deals": HUBSPOT_PRESETS,
           "hubspot-contacts": HUBSPOT_PRESETS, "hubspot-companies": HUBSPOT_PRESETS}
Progress = Callable[[float, str], None]


class FileImportError(RuntimeError):
    """An import that cannot start (unknown kind, bad mapping); the message says what to fix."""


def file_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_file(kind: str, data: bytes, file_name: str, mapping=None, engine: Engine | None = None,
              progress: Progress | None = None) -> Parsed:
    """Parse and validate a file of the given kind. Touches nothing; never raises on bad content."""
    if kind not in IMPORT_KINDS:
        raise FileImportError(f"unknown import kind {kind!r}; choose one of {', '.join(IMPORT_KINDS)}")
    try:
        m = load_mapping(mapping, PRESETS[kind])
    except FileFormatError as exc:
        raise FileImportError(str(exc)) from None
    try:
        if kind == "fec":
            parsed_fec = fec.parse_fec(data, file_name, m.read_options(), progress)
            parsed = Parsed(parsed_fec.report, parsed_fec.rows, {"siren": parsed_fec.siren})
        elif kind == "invoices":
            parsed = invoices.read_invoices(data, file_name, m)
        elif kind == "spend":
            parsed = spend.read_spend(data, file_name, m)
        elif kind == "budgets":
            parsed = budgets.read_budgets(data, file_name, m)
        else:
            parsed = hubspot_csv.read_hubspot(kind.split("-", 1)[1], data, file_name, m, engine)
    except Exception as exc:  # a reader bug must still give a readable report, never a traceback
        log.exception("reading %s failed", file_name)
        report = ImportReport(kind, file_name)
        report.add(0, "", "", f"could not read the file ({type(exc).__name__}: {exc})")
        parsed = Parsed(report)
    parsed.report.file_hash = file_hash(data)
    parsed.report.partial_safe = parsed.report.partial_safe and not parsed.report.fatal
    return parsed


_WRITERS = {"fec": lambda conn, p, i: write_fec(conn, p, i), "invoices": invoices.write_invoices,
            "spend": spend.write_spend, "budgets": budgets.write_budgets}


def _record_run(conn: Connection, report: ImportReport, actor: str, started, status: str,
                error: str | None = None) -> int:
    period = report.period or (None, None)
    return conn.execute(s.import_runs.insert().values(
        kind=report.kind, file_name=report.file_name[:255], file_hash=report.file_hash,
        imported_by=actor[:255], started_at=started, finished_at=utcnow(),
        rows_accepted=report.rows_accepted if status == "success" else 0,
        rows_rejected=report.rows_rejected, status=status, period_start=period[0],
        period_end=period[1], error=error)).inserted_primary_key[0]


def already_imported(engine: Engine, kind: str, digest: str) -> dict | None:
    """The successful import of exactly this content, if any."""
    with engine.connect() as conn:
        row = conn.execute(select(s.import_runs).where(and_(
            s.import_runs.c.kind == kind, s.import_runs.c.file_hash == digest,
            s.import_runs.c.status == "success")).order_by(s.import_runs.c.import_id).limit(1)).mappings().first()
    return dict(row) if row else None


def import_file(engine: Engine, kind: str, data: bytes, file_name: str, actor: str = "local admin",
                mapping=None, dry_run: bool = False, valid_only: bool = False,
                progress: Progress | None = None) -> ImportReport:
    """Validate, then (unless dry_run or rejected) write the file in one transaction."""
    started = utcnow()
    digest = file_hash(data)
    previous = already_imported(engine, kind, digest)
    if previous:
        report = ImportReport(kind, file_name, file_hash=digest, status="skipped",
                              message=f"already imported as import #{previous['import_id']} "
                                      f"({previous['file_name']}, {previous['started_at']:%Y-%m-%d %H:%M} UTC "
                                      f"by {previous['imported_by']}): nothing to do")
        if not dry_run:
            with engine.begin() as conn:
                report.import_id = _record_run(conn, report, actor, started, "skipped", report.message)
        return report
    parsed = read_file(kind, data, file_name, mapping, engine, progress)
    report = parsed.report
    if report.errors:
        refuse = None
        if not valid_only:
            refuse = "rejected: nothing was written."
        elif report.fatal or not parsed.rows:
            refuse = "rejected: no valid row to import; nothing was written."
        elif not report.partial_safe:
            refuse = "rejected: importing only the valid rows is not safe for this file; nothing was written."
        if refuse:
            report.status, report.message = "rejected", refuse
            if not dry_run:
                with engine.begin() as conn:
                    report.import_id = _record_run(conn, report, actor, started, "rejected",
                                                   f"{len(report.errors)} errors")
            return report
    if not parsed.rows:
        report.status = "rejected"
        report.message = "rejected: the file holds no row to import; nothing was written."
        if not dry_run:
            with engine.begin() as conn:
                report.import_id = _record_run(conn, report, actor, started, "rejected", "no rows")
        return report
    if dry_run:
        report.status = "validated"
        report.message = "dry run: valid, nothing was written." if report.ok else \
            "dry run: nothing was written; the valid rows only could be imported with --valid-only."
        return report
    try:
        with engine.begin() as conn:
            import_id = _record_run(conn, report, actor, started, "success")
            if progress:
                progress(0.5, "writing")
            replaced = (_WRITERS.get(kind) or hubspot_csv.write_hubspot)(conn, parsed, import_id)
            conn.execute(update(s.import_runs).where(s.import_runs.c.import_id == import_id)
                         .values(finished_at=utcnow()))
            bump_data_version(conn)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0][:300]
        report.status, report.message = "failed", f"failed while writing, nothing was kept: {reason}"
        with engine.begin() as conn:
            report.import_id = _record_run(conn, report, actor, started, "failed", reason)
        return report
    report.status, report.import_id, report.rows_replaced = "success", import_id, replaced
    report.message = (f"imported {report.rows_accepted:,} rows as import #{import_id}"
                      + (f", replacing {replaced:,} rows of the same period and source" if replaced else ""))
    if progress:
        progress(1.0, "done")
    return report


# --- FEC bulk write ------------------------------------------------------------------------

def _literal(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(int(value))
    return "'" + str(value).replace("'", "''") + "'"


def write_fec(conn: Connection, parsed: Parsed, import_id: int, batch: int = 50_000) -> int:
    """Replace the company's ledger lines in the file's period, then bulk-insert (driver level)."""
    t = s.ledger_entries
    siren = parsed.scope.get("siren")
    start, end = parsed.report.period
    same_company = t.c.siren == siren if siren else t.c.siren.is_(None)
    replaced = conn.execute(t.delete().where(and_(
        same_company, t.c.ecriture_date >= start, t.c.ecriture_date <= end))).rowcount
    bulk_insert(conn, t.name, fec.ROW_COLUMNS, parsed.rows,
                {"import_id": import_id, "siren": siren, "origin": "csv"}, batch)
    return replaced


def bulk_insert(conn: Connection, table: str, columns, rows: list[tuple], constants: dict,
                batch: int = 50_000) -> None:
    """executemany (SQLite) or COPY (PostgreSQL) on the caller's transaction; dates as ISO text."""
    cols = ", ".join(list(constants) + list(columns))
    dbapi = conn.connection.dbapi_connection
    cur = dbapi.cursor()
    try:
        if conn.dialect.name == "postgresql":
            consts = tuple(constants.values())
            with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row(consts + r)
            return
        mark = "%s" if conn.dialect.paramstyle in ("format", "pyformat") else "?"
        head = ", ".join(_literal(v) for v in constants.values())
        sql = f"INSERT INTO {table} ({cols}) VALUES ({head}, {', '.join([mark] * len(columns))})"
        for i in range(0, len(rows), batch):
            cur.executemany(sql, rows[i:i + batch])
    finally:
        cur.close()
