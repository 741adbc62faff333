"""The one way files reach the store: validate everything first, then write in one transaction.

Idempotent by content hash and reading options (a file already imported the same way is
skipped). An import deletes rows it did not bring only when asked (`replace=True`: the rows of the
file's period from the same company or source) or when the file provably supersedes them (the
same FEC company with a SIREN and period, the same invoice numbers, budget lines or spend keys,
an earlier import of the same bytes); what it deletes is kept so that undoing it restores them
(`history.py`). Every attempt, accepted, rejected, skipped or failed, is recorded in `import_runs`.
"""
from __future__ import annotations

import hashlib
import json
import logging
import gc
import os
import threading
from contextlib import contextmanager, nullcontext
from itertools import chain
from operator import itemgetter
from typing import Callable, Collection, Iterator

from sqlalchemy import Connection, Engine, and_, func, or_, select, update

from store import bump_data_version, schema as s, utcnow
from store.audit import record_audit
from store.bulk import indexes_rebuilt_after
from store.db import SQLAlchemyError

from store.migrations import company_from_name

from . import budgets, fec, history, hubspot_csv, invoices, nps, spend
from .detect import FileFormatError
from .mapping import load_mapping
from .presets import BUDGET_PRESETS, HUBSPOT_PRESETS, INVOICE_PRESETS, NPS_PRESETS, SPEND_PRESETS
from .report import ImportReport, Parsed

log = logging.getLogger(__name__)

IMPORT_KINDS = ("fec", "invoices", "spend", "budgets", "nps", "hubspot-deals", "hubspot-contacts", "hubspot-companies")
PRESETS = {"fec": {"generic": {}}, "invoices": INVOICE_PRESETS, "spend": SPEND_PRESETS,
           "budgets": BUDGET_PRESETS, "nps": NPS_PRESETS, "hubspot-deals": HUBSPOT_PRESETS,
           "hubspot-contacts": HUBSPOT_PRESETS, "hubspot-companies": HUBSPOT_PRESETS}
Progress = Callable[[float, str], None]


class FileImportError(RuntimeError):
    """An import that cannot start (unknown kind, bad mapping); the message says what to fix."""


def file_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_file(kind: str, data: bytes, file_name: str, mapping=None, engine: Engine | None = None,
              progress: Progress | None = None, metric_ids: Collection[str] | None = None) -> Parsed:
    """Parse and validate a file of the given kind. Touches nothing; never raises on bad content.
    `metric_ids`: the metric catalog's ids, which budget lines must name (see budgets.read_budgets)."""
    if kind not in IMPORT_KINDS:
        raise FileImportError(f"unknown import kind {kind!r}; choose one of {', '.join(IMPORT_KINDS)}")
    try:
        m = load_mapping(mapping, PRESETS[kind])
    except FileFormatError as exc:
        raise FileImportError(str(exc)) from None
    try:
        if kind == "fec":
            parsed = _read_fec(data, file_name, m.read_options(), progress)
        elif kind == "invoices":
            parsed = invoices.read_invoices(data, file_name, m)
        elif kind == "spend":
            parsed = spend.read_spend(data, file_name, m)
        elif kind == "budgets":
            parsed = budgets.read_budgets(data, file_name, m, engine, metric_ids)
        elif kind == "nps":
            parsed = nps.read_nps(data, file_name, m, engine)
        else:
            parsed = hubspot_csv.read_hubspot(kind.split("-", 1)[1], data, file_name, m, engine)
    except Exception as exc:  # a reader bug must still give a readable report, never a traceback
        log.warning("reading %s failed: %r", file_name, exc, exc_info=log.isEnabledFor(logging.DEBUG))
        report = ImportReport(kind, file_name)
        report.add(0, "", "", f"could not read the file ({type(exc).__name__}: {exc})")
        parsed = Parsed(report)
    parsed.report.file_hash = file_hash(data)
    if not parsed.rows and not parsed.report.errors and kind != "fec":
        parsed.report.add(0, "", "", "the file holds no data rows (a header only?); nothing to import")
    parsed.report.partial_safe = parsed.report.partial_safe and not parsed.report.fatal
    return parsed


_WRITERS = {"invoices": invoices.write_invoices, "spend": spend.write_spend, "budgets": budgets.write_budgets,
            "nps": nps.write_nps}
# The tables each import kind writes, named in its data-version bump (the metric rollups built
# from other tables stay fresh); HubSpot CSV exports name none: they may touch any CRM table.
_WRITES = {"fec": ("ledger_entries",), "invoices": ("invoices",), "spend": ("marketing_spend",),
           "budgets": ("budgets",), "nps": ("nps_responses",)}
_RUN_TABLES = ("import_runs", "audit_log")
PREVIEW_ROWS = 200


def _read_fec(data: bytes, file_name: str, options, progress) -> Parsed:
    """Validate a FEC without holding its rows: counts, period and a preview of the first rows."""
    reader = fec.FecReader(data, file_name, options)
    preview: list[tuple] = []
    for batch in reader.batches(progress=progress):
        if len(preview) < PREVIEW_ROWS:
            preview.extend(batch[:PREVIEW_ROWS - len(preview)])
    accepted, period = reader.rows_yielded, reader.period
    if reader.bad_entries:  # a second pass counts what a valid-only import would keep
        before = reader.rows_yielded
        for _batch in reader.batches(skip=reader.bad_entries):
            pass
        accepted, period = reader.rows_yielded - before, reader.period
        preview = [r for r in preview if (r[1], r[3]) not in reader.bad_entries]
    report = reader.report
    report.rows_accepted = accepted
    report.rows_rejected = report.rows_read - accepted
    report.period = period if accepted else None
    return Parsed(report, preview, {"siren": reader.siren, "reader": reader})


def _record_run(conn: Connection, report: ImportReport, actor: str, started, status: str,
                error: str | None = None) -> int:
    period = report.period or (None, None)
    return conn.execute(s.import_runs.insert().values(
        kind=report.kind, file_name=report.file_name[:255], file_hash=report.file_hash,
        imported_by=actor[:255], started_at=started, finished_at=utcnow(),
        rows_accepted=report.rows_accepted if status == "success" else 0,
        rows_rejected=report.rows_rejected, status=status, period_start=period[0],
        period_end=period[1], error=error, read_options=report.read_options,
        company=report.company)).inserted_primary_key[0]


def _audit(conn: Connection, actor: str, report: ImportReport, import_id: int) -> None:
    """One audit row per import that changed data, in the import's transaction: what it brought,
    and exactly which rows it replaced from which earlier import (and why)."""
    record_audit(conn, actor, "import", f"{report.kind}: {report.file_name}", None, {
        "import_id": import_id, "rows": report.rows_accepted, "rows_replaced": report.rows_replaced,
        "replaced_from_imports": {("none" if k is None else str(k)): n for k, n in report.replaced_from.items()},
        "replace_rule": report.replace_rule, "company": report.company,
        "period": [str(d) for d in report.period] if report.period else None, "file_hash": report.file_hash,
        "read_options": report.read_options})


def read_options_key(kind: str, mapping) -> str:
    """How a file is read, as canonical JSON: the preset, columns, reading options, constants and
    value maps after the preset's defaults are applied."""
    m = load_mapping(mapping, PRESETS[kind])
    return json.dumps({"preset": m.preset, "columns": m.columns, "options": m.options,
                       "constants": m.constants, "values": m.values}, sort_keys=True, default=str)


def already_imported(engine: Engine, kind: str, digest: str, read_options: str | None = None) -> dict | None:
    """The successful (not undone) import of exactly this content read the same way, if any."""
    r = s.import_runs
    with engine.connect() as conn:
        row = conn.execute(select(r).where(and_(
            r.c.kind == kind, r.c.file_hash == digest, r.c.status == "success",
            # imports made before schema version 7 did not record how they read: the hash alone
            or_(r.c.read_options == (read_options if read_options is not None else read_options_key(kind, None)),
                r.c.read_options.is_(None)))
        ).order_by(r.c.import_id).limit(1)).mappings().first()
    return dict(row) if row else None


def fec_company(file_name: str, company: str | None) -> str:
    """A FEC's company identity: the SIREN in its name, else the name the user gave, else a hash of
    its file name; never NULL, so that files of different companies never replace each other."""
    siren = fec.siren_from_name(file_name)
    if siren:
        return siren
    if company and company.strip():
        return company.strip()[:64]
    return company_from_name(file_name)


def import_file(engine: Engine, kind: str, data: bytes, file_name: str, actor: str = "local admin",
                mapping=None, dry_run: bool = False, valid_only: bool = False,
                progress: Progress | None = None, replace: bool = False,
                company: str | None = None, metric_ids: Collection[str] | None = None) -> ImportReport:
    """Validate, then (unless dry_run or rejected) write the file in one transaction. `replace`:
    also delete the earlier rows of the file's period from the same company (FEC) or source;
    `company`: the FEC's company when its name carries no SIREN; `metric_ids`: the metric
    catalog's ids, which budget lines must name (the CLI and the Data page pass them)."""
    parser = _start_fec_parser(data, file_name, mapping) if kind == "fec" and not dry_run else None
    try:
        return _import_file(engine, kind, data, file_name, actor, mapping, dry_run, valid_only, progress, parser,
                            replace, company, metric_ids)
    finally:
        if parser is not None:
            parser.close()


def _start_fec_parser(data: bytes, file_name: str, mapping) -> fec.ParsingProcess | None:
    """For a big FEC and a free core, the parsing process, started before anything else (the
    hash, the already-imported check, the header) so that its start-up overlaps them."""
    if len(data) < fec.PARALLEL_MIN_BYTES or not _idle_core():
        return None
    try:
        options = load_mapping(mapping, PRESETS["fec"]).read_options()
    except FileFormatError:  # reported by _import_fec
        return None
    return fec.ParsingProcess(data, file_name, options)


def _import_file(engine: Engine, kind: str, data: bytes, file_name: str, actor: str, mapping, dry_run: bool,
                 valid_only: bool, progress: Progress | None, parser: fec.ParsingProcess | None,
                 replace: bool, company: str | None, metric_ids: Collection[str] | None) -> ImportReport:
    started = utcnow()
    digest = file_hash(data)
    if kind not in IMPORT_KINDS:
        raise FileImportError(f"unknown import kind {kind!r}; choose one of {', '.join(IMPORT_KINDS)}")
    try:
        options_key = read_options_key(kind, mapping)
    except FileFormatError as exc:
        raise FileImportError(str(exc)) from None
    previous = already_imported(engine, kind, digest, options_key)
    if previous:
        report = ImportReport(kind, file_name, file_hash=digest, status="skipped", read_options=options_key,
                              message=f"already imported as import #{previous['import_id']} "
                                      f"({previous['file_name']}, {previous['started_at']:%Y-%m-%d %H:%M} UTC "
                                      f"by {previous['imported_by']}) with the same reading options: nothing to "
                                      "do (force another encoding, delimiter or mapping to read it another way)")
        if not dry_run:
            with engine.begin() as conn:
                report.import_id = _record_run(conn, report, actor, started, "skipped", report.message)
        return report
    if kind == "fec" and not dry_run:
        return _import_fec(engine, data, file_name, actor, mapping, valid_only, progress, started, digest, parser,
                           options_key, replace, fec_company(file_name, company))
    parsed = read_file(kind, data, file_name, mapping, engine, progress, metric_ids)
    report = parsed.report
    report.read_options = options_key
    if kind == "fec":
        report.company = fec_company(file_name, company)
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
            if kind in _WRITERS:
                report.replaced_from, report.replace_rule = _WRITERS[kind](conn, parsed, import_id, replace)
                report.replaced_from, report.replace_rule = _with_same_bytes(
                    report.replaced_from, report.replace_rule,
                    _same_bytes_replaced(conn, kind, digest, import_id, history.TABLES[kind]))
                replaced = sum(report.replaced_from.values())
            else:
                replaced = hubspot_csv.write_hubspot(conn, parsed, import_id)
            report.rows_replaced = replaced
            conn.execute(update(s.import_runs).where(s.import_runs.c.import_id == import_id)
                         .values(finished_at=utcnow()))
            _audit(conn, actor, report, import_id)
            replaced_text = history.describe(conn, report.replaced_from)
            bump_data_version(conn, *((*_WRITES[kind], *_RUN_TABLES, "import_replaced") if kind in _WRITES else ()))
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0][:300]
        report.status, report.message = "failed", f"failed while writing, nothing was kept: {reason}"
        with engine.begin() as conn:
            report.import_id = _record_run(conn, report, actor, started, "failed", reason)
        return report
    report.status, report.import_id, report.rows_replaced = "success", import_id, replaced
    report.message = (f"imported {report.rows_accepted:,} rows as import #{import_id}"
                      + (f", replacing {replaced:,} rows ({report.replace_rule}): {replaced_text}"
                         if kind in _WRITERS and replaced else "")
                      + (f", updating {replaced:,} records" if kind not in _WRITERS and replaced else ""))
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


class _Rollback(Exception):
    """Leave the import transaction without keeping anything."""


def _import_fec(engine: Engine, data: bytes, file_name: str, actor: str, mapping, valid_only: bool,
                progress: Progress | None, started, digest: str,
                parser: fec.ParsingProcess | None, options_key: str, replace: bool, company: str) -> ImportReport:
    """Stream a FEC into the store: rows are inserted batch by batch inside one transaction that
    is rolled back if any problem turns up, so memory holds one batch, not the ledger."""
    try:
        options = load_mapping(mapping, PRESETS["fec"]).read_options()
    except FileFormatError as exc:
        raise FileImportError(str(exc)) from None
    reader = fec.FecReader(data, file_name, options)
    report = reader.report
    report.file_hash, report.read_options, report.company = digest, options_key, company

    def reject(message: str) -> ImportReport:
        report.status, report.message = "rejected", message
        with engine.begin() as conn:
            report.import_id = _record_run(conn, report, actor, started, "rejected", f"{len(report.errors)} errors")
        return report

    def write(skip: frozenset) -> ImportReport:
        before = reader.rows_yielded
        with _gc_paused(), _bulk_connection(engine) as conn, conn.begin():
            import_id = _record_run(conn, report, actor, started, "success")
            with _ledger_indexes_off(conn, parser.lines if parser else data.count(b"\n")):
                for batch in _fec_batches(reader, parser, skip, progress):
                    bulk_insert(conn, s.ledger_entries.name, fec.ROW_COLUMNS, batch,
                                {"import_id": import_id, "siren": reader.siren, "origin": "csv"})
                if report.errors and not skip:
                    raise _Rollback
                report.rows_accepted = reader.rows_yielded - before
                if not report.rows_accepted:
                    raise _Rollback
                if progress:
                    progress(1.0, "indexing")
            report.period = reader.period
            report.replaced_from, report.replace_rule = _replace_ledger(
                conn, company, bool(reader.siren), replace, reader.period, import_id)
            report.replaced_from, report.replace_rule = _with_same_bytes(
                report.replaced_from, report.replace_rule,
                _same_bytes_replaced(conn, "fec", digest, import_id, s.ledger_entries))
            report.rows_replaced = sum(report.replaced_from.values())
            replaced_text = history.describe(conn, report.replaced_from)
            conn.execute(update(s.import_runs).where(s.import_runs.c.import_id == import_id).values(
                finished_at=utcnow(), rows_accepted=report.rows_accepted,
                rows_rejected=report.rows_read - report.rows_accepted,
                period_start=reader.period[0], period_end=reader.period[1]))
            _audit(conn, actor, report, import_id)
            bump_data_version(conn, *_WRITES["fec"], *_RUN_TABLES, "import_replaced")
        _checkpoint_soon(engine)
        report.rows_rejected = report.rows_read - report.rows_accepted
        report.status, report.import_id = "success", import_id
        report.message = (f"imported {report.rows_accepted:,} rows as import #{import_id}"
                          + (f", replacing {report.rows_replaced:,} rows ({report.replace_rule}): {replaced_text}"
                             if report.rows_replaced else ""))
        if progress:
            progress(1.0, "done")
        return report

    if report.fatal:
        return reject("rejected: nothing was written.")
    try:
        try:
            return write(frozenset())
        except _Rollback:
            pass
        report.rows_rejected = report.rows_read - reader.rows_yielded
        if not report.errors:
            report.rows_accepted = 0
            return reject("rejected: the file holds no entry line to import; nothing was written.")
        if not valid_only:
            before = reader.rows_yielded  # count what a valid-only import would keep, for the report
            for _batch in reader.batches(skip=frozenset(reader.bad_entries)):
                pass
            report.rows_accepted = reader.rows_yielded - before
            report.rows_rejected = report.rows_read - report.rows_accepted
            return reject("rejected: nothing was written.")
        try:
            return write(frozenset(reader.bad_entries))
        except _Rollback:
            report.rows_accepted = 0
            return reject("rejected: no valid entry to import; nothing was written.")
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0][:300]
    except Exception as exc:  # a reader bug: rolled back, reported, never a traceback
        log.warning("importing %s failed: %r", file_name, exc, exc_info=log.isEnabledFor(logging.DEBUG))
        reason = f"could not read the file ({type(exc).__name__}: {exc})"[:300]
    report.status, report.message = "failed", f"failed, nothing was kept: {reason}"
    with engine.begin() as conn:
        report.import_id = _record_run(conn, report, actor, started, "failed", reason)
    return report


def _fec_batches(reader: fec.FecReader, parser: fec.ParsingProcess | None, skip: frozenset, progress):
    """The reader's batches; for a big file on its first pass, from the parsing process."""
    if skip or reader._passes or parser is None or parser.used:
        yield from reader.batches(skip=skip, progress=progress)
        return
    try:
        yield from parser.batches(reader, progress=progress)
        reader.report.detected["parsing"] = "second process"
    except fec.ParallelUnavailable as exc:  # before any row was yielded: read here instead
        log.info("parsing in-process (%s)", exc)
        yield from reader.batches(skip=skip, progress=progress)


def _idle_core() -> bool:
    """True when another core is free enough: a second process then overlaps parsing with
    writing (on a saturated machine it only adds the cost of passing the rows between processes)."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # no load average (Windows): trust the core count
        load = 0.0
    try:
        with open("/proc/loadavg") as f:  # "0.61 0.40 0.22 2/181 4242": running/total now
            runnable = int(f.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        runnable = None
    return free_core(os.cpu_count() or 1, load, runnable)


def free_core(cores: int, load: float, runnable: int | None) -> bool:
    """Whether a second process gets a core: other work is the smaller of the 1-minute load
    average (which still counts a load that just ended, such as the previous import) and the
    processes runnable right now besides this one; at most cores - 1 of it leaves one."""
    if cores < 2:
        return False
    others = load if runnable is None else min(load, runnable - 1)
    return others <= cores - 1


def _replace_ledger(conn: Connection, company: str, has_siren: bool, replace: bool, period,
                    import_id: int) -> tuple[dict, str]:
    """The earlier lines of the same company in the period just imported (a corrected FEC), replaced
    when the company is a SIREN (it identifies the company) or when the user asked to replace."""
    t = s.ledger_entries
    others = select(t.c.entry_id).where(or_(t.c.import_id < import_id, t.c.import_id > import_id)).limit(1)
    if not (has_siren or replace) or conn.execute(others).first() is None:  # (an index seek, not a scan)
        return {}, ""
    runs = history.runs_matching(conn, "fec", s.import_runs.c.company == company,
                                 s.import_runs.c.import_id != import_id)
    if not runs:
        return {}, ""
    rule = ("same SIREN and period" if has_siren and not replace
            else f"asked to replace: same company {company!r} and period")
    return history.replace_rows(conn, t, and_(history.in_ids(t.c.import_id, runs), t.c.ecriture_date >= period[0],
                                              t.c.ecriture_date <= period[1]), import_id), rule


def _with_same_bytes(replaced: dict, rule: str, same: dict) -> tuple[dict, str]:
    if not same:
        return replaced, rule
    same_rule = "the same file imported before with other reading options"
    return history.merge(replaced, same), f"{rule}; {same_rule}" if replaced else same_rule


def _same_bytes_replaced(conn: Connection, kind: str, digest: str, import_id: int, table) -> dict:
    """The rows of an earlier import of the very same file (read with other options): superseded."""
    runs = history.runs_matching(conn, kind, s.import_runs.c.file_hash == digest,
                                 s.import_runs.c.import_id != import_id)
    if not runs:
        return {}
    return history.replace_rows(conn, table, history.in_ids(table.c.import_id, runs), import_id)


_checkpoints: list[threading.Thread] = []


def _checkpoint_soon(engine: Engine) -> None:
    """After a big import on SQLite, copy its pages from the write-ahead log into the database
    file on another thread (0.3 s for 1M ledger lines), as SQLite's documentation suggests for
    big writes: the import is committed, durable and visible already; the commit only skipped
    this copy (wal_autocheckpoint=0 on the import's connection). Readers meanwhile read those
    pages from the log."""
    if engine.dialect.name != "sqlite":
        return

    def run() -> None:
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        except SQLAlchemyError as exc:  # the next commit's automatic checkpoint does it instead
            log.info("checkpoint after the import deferred: %s", exc)

    thread = threading.Thread(target=run, name="wal-checkpoint", daemon=True)
    _checkpoints[:] = [t for t in _checkpoints if t.is_alive()] + [thread]
    thread.start()


def wait_for_checkpoints(timeout: float | None = None) -> None:
    """Until the checkpoints started after imports have ended (tests, benchmarks, shutdown)."""
    for thread in list(_checkpoints):
        thread.join(timeout)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a bulk import makes millions of row tuples (none
    in a reference cycle): otherwise it walks every live object again and again for nothing."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


@contextmanager
def _bulk_connection(engine: Engine) -> Iterator[Connection]:
    """A connection tuned for one bulk import. On SQLite, for this connection only and until the
    import ends: a 16 MB page cache (the rows only append to the table; a 64 MB cache was no
    faster for a 1M-line FEC and held 70 MB more), and no per-row foreign key lookup (the only
    key of ledger_entries, import_id, is the import_runs row the same transaction inserts first)."""
    with engine.connect() as conn:
        if conn.dialect.name != "sqlite":
            yield conn
            return
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")  # a no-op inside a transaction: set before it
        conn.exec_driver_sql("PRAGMA cache_size=-16384")
        # no checkpoint in the commit: `_checkpoint_soon` copies the WAL into the database after it
        conn.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
        # the index rebuilt at the end sorts on a second thread too (0.95 -> 0.7 s for 1M lines)
        conn.exec_driver_sql(f"PRAGMA threads={2 if (os.cpu_count() or 1) >= 2 else 0}")
        conn.commit()
        try:
            yield conn
        finally:
            try:
                conn.rollback()
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.exec_driver_sql("PRAGMA cache_size=-2000")
                conn.exec_driver_sql("PRAGMA threads=0")
                conn.exec_driver_sql("PRAGMA wal_autocheckpoint=1000")
                conn.commit()
            except SQLAlchemyError:  # never hand a connection without foreign keys back to the pool
                conn.invalidate()


def _ledger_indexes_off(conn: Connection, incoming: int):
    """On SQLite, ledger_entries' secondary indexes dropped for the load and rebuilt at its end,
    in the same transaction, when the table holds no more than twice the rows coming in (beyond,
    rebuilding over the rows already there costs more than it saves). Not on PostgreSQL, where
    DROP INDEX would lock the dashboards out of the table until the import commits."""
    if conn.dialect.name != "sqlite":
        return nullcontext()
    t = s.ledger_entries
    held = conn.execute(select(func.count()).select_from(t)).scalar_one()
    # ix_ledger_import stays: the import's id is the newest, so its rows only append to that index
    return indexes_rebuilt_after(conn, [t], keep=["ix_ledger_import"]) if held <= 2 * incoming else nullcontext()


def _live_columns(columns, rows: list[tuple]) -> list[int]:
    """Indexes of the columns holding a value somewhere in `rows` (all-NULL ones need no binding)."""
    sample = rows[:500]
    maybe_empty = [i for i in range(len(columns)) if all(r[i] is None for r in sample)]
    empty = {i for i in maybe_empty if list(map(itemgetter(i), rows)).count(None) == len(rows)}
    return [i for i in range(len(columns)) if i not in empty]


def _rows_per_statement(conn: Connection, params_per_row: int) -> int:
    """How many rows one multi-row INSERT binds: 200, within SQLite's limit on parameters
    (999 before SQLite 3.32, 32766 since)."""
    limit = 32766 if conn.connection.dbapi_connection.execute("select sqlite_version()").fetchone()[0] \
        .split(".")[:2] >= ["3", "32"] else 999
    return max(1, min(200, limit // max(params_per_row, 1)))


def bulk_insert(conn: Connection, table: str, columns, rows: list[tuple], constants: dict,
                batch: int = 50_000) -> None:
    """executemany (SQLite) or COPY (PostgreSQL) on the caller's transaction; dates as ISO text.
    On SQLite the rows go in groups of a few hundred per INSERT statement (one statement step for
    many rows: about a fifth less time than one row per step)."""
    if not rows:
        return
    dbapi = conn.connection.dbapi_connection
    cur = dbapi.cursor()
    try:
        if conn.dialect.name == "postgresql":
            cols = ", ".join(list(constants) + list(columns))
            consts = tuple(constants.values())
            with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row((*consts, *r))
            return
        mark = "%s" if conn.dialect.paramstyle in ("format", "pyformat") else "?"
        head = ", ".join(_literal(v) for v in constants.values())
        for i in range(0, len(rows), batch):
            chunk = rows[i:i + batch]
            live = _live_columns(columns, chunk)
            names = list(columns)
            if 2 <= len(live) <= len(columns) - 3:  # worth re-packing the tuples without the empty columns
                chunk = list(map(itemgetter(*live), chunk))
                names = [columns[k] for k in live]
            cols = ", ".join(list(constants) + names)
            values = f"({head}, {', '.join([mark] * len(names))})"
            per = _rows_per_statement(conn, len(names))
            full = len(chunk) // per * per
            if full:
                flat = chain.from_iterable
                cur.executemany(f"INSERT INTO {table} ({cols}) VALUES {', '.join([values] * per)}",
                                [tuple(flat(chunk[j:j + per])) for j in range(0, full, per)])
            if full < len(chunk):
                cur.executemany(f"INSERT INTO {table} ({cols}) VALUES {values}", chunk[full:])
    finally:
        cur.close()
