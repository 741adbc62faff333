"""The Data page's import panel: upload, preview, column mapping, validation report, import; the
import history, where an import can be undone."""
from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

import upkeep
from auth import PermissionDenied
from connectors.files import fec as fec_mod
from connectors.files.detect import FileFormatError, ReadOptions, read_table
from connectors.files.history import UndoError, list_imports, undo_import
from connectors.files.importer import IMPORT_KINDS, PRESETS, FileImportError, import_file, read_file
from connectors.files.invoices import FIELDS as INVOICE_FIELDS
from connectors.files.budgets import FIELDS as BUDGET_FIELDS
from connectors.files.hubspot_csv import FIELDS as HUBSPOT_FIELDS
from connectors.files.nps import FIELDS as NPS_FIELDS
from connectors.files.spend import FIELDS as SPEND_FIELDS
from metrics import REGISTRY

from .session import require

KIND_LABELS = {
    "fec": "FEC ledger (Fichier des Écritures Comptables)", "invoices": "Invoices",
    "spend": "Marketing spend", "budgets": "Budgets and targets",
    "nps": "NPS survey answers (email or contact id, submission date, 0-10 score)", "hubspot-deals": "HubSpot export: deals",
    "hubspot-contacts": "HubSpot export: contacts", "hubspot-companies": "HubSpot export: companies",
}
FIELDS = {"invoices": INVOICE_FIELDS, "spend": SPEND_FIELDS, "budgets": BUDGET_FIELDS, "nps": NPS_FIELDS,
          "hubspot-deals": HUBSPOT_FIELDS["deals"], "hubspot-contacts": HUBSPOT_FIELDS["contacts"],
          "hubspot-companies": HUBSPOT_FIELDS["companies"]}
AUTO = "(detect)"


def _options_form(kind: str) -> dict:
    with st.expander("Reading options (leave empty to detect them)"):
        a, b, c, d, e = st.columns(5)
        opts = {
            "encoding": a.selectbox("Encoding", ["", "utf-8", "cp1252", "iso-8859-15", "utf-16"], key="imp_enc"),
            "delimiter": b.selectbox("Delimiter", ["", "tab", "semicolon", "comma", "pipe"], key="imp_sep"),
            "decimal": c.selectbox("Decimal separator", ["", ",", "."], key="imp_dec"),
            "thousands": d.selectbox("Thousands separator", ["", " ", ".", ",", "'"], key="imp_thou",
                                     format_func=lambda v: {"": "", " ": "space"}.get(v, v)),
            "date_format": e.text_input("Date format", key="imp_datefmt", placeholder="%d/%m/%Y",
                                        help="Python strptime format, e.g. %d/%m/%Y or %Y%m%d"),
        }
        if kind.startswith("hubspot"):
            opts["timezone"] = st.text_input("Time zone of the export", key="imp_tz", placeholder="UTC",
                                             help="HubSpot writes dates in the portal's time zone, e.g. Europe/Paris")
    return {k: v for k, v in opts.items() if v}


def _mapping_form(kind: str, data: bytes, name: str, options: dict, preset: str) -> dict:
    """Field -> column choices, offered from the file's header."""
    if kind == "fec" or PRESETS[kind].get(preset, {}).get("options", {}).get("wide"):
        return {}
    try:
        ro = ReadOptions(encoding=options.get("encoding"), delimiter=options.get("delimiter"))
        header = [h for h in read_table(data, name, ro).header if h]
    except FileFormatError:
        return {}
    columns = {}
    with st.expander("Column mapping (leave on detect to use the preset's labels)"):
        cols = st.columns(3)
        for n, f in enumerate(FIELDS[kind]):
            choice = cols[n % 3].selectbox(f"{f.name}{' *' if f.required else ''}", [AUTO] + header,
                                           key=f"imp_map_{kind}_{f.name}")
            if choice != AUTO:
                columns[f.name] = choice
    return columns


def _preview_frame(kind: str, rows: list) -> pd.DataFrame:
    if kind == "fec":
        return pd.DataFrame(rows[:200], columns=list(fec_mod.ROW_COLUMNS))
    return pd.DataFrame(rows[:200])


def _problems_frame(report) -> pd.DataFrame:
    return pd.DataFrame([{"severity": p.severity, "line": p.line, "column": p.column, "value": p.value,
                          "reason": p.reason} for p in report.problems[:2000]],
                        columns=["severity", "line", "column", "value", "reason"])


def _source() -> tuple[str | None, bytes | None]:
    """The uploaded file, the only source the page takes: a path on the server is a CLI feature
    (`python cli.py import KIND FILE`, for an admin at the shell), so no file outside the upload is
    ever read, shown or previewed from the page."""
    up = st.file_uploader("File", type=["csv", "txt", "tsv", "xlsx"], key="imp_upload",
                          help="Up to the server's upload limit (server.maxUploadSize); a bigger file "
                               "(e.g. a full-year FEC) imports with `python cli.py import` on the server.")
    return (up.name, up.getvalue()) if up is not None else (None, None)


def render_import_panel(engine: Engine, actor: str = "local admin") -> None:
    """Pick the kind, give the file, check the report and preview, then import; below, the history."""
    _import_form(engine, actor)
    _history(engine, actor)


def _import_form(engine: Engine, actor: str) -> None:
    kind = st.selectbox("What are you importing?", IMPORT_KINDS, format_func=KIND_LABELS.get, key="imp_kind")
    presets = sorted(PRESETS[kind], key=lambda p: (p != "generic", p))
    preset = st.selectbox("Preset", presets, key=f"imp_preset_{kind}",
                          help="Ready mappings for common exports; 'generic' recognises usual column names.")
    name, data = _source()
    options = _options_form(kind)
    company = st.text_input("Company", key="imp_company", max_chars=64,
                            help="The company this ledger belongs to, when its file name carries no SIREN "
                                 "(default: one derived from the file name)") if kind == "fec" else None
    replace = st.checkbox(
        "Replace the earlier rows of this file's period", key="imp_replace",
        help="Also delete what earlier imports of the same company (FEC) or source brought for the file's "
             "period. Without it only the rows this file supersedes are replaced (same SIREN and period, "
             "same invoice numbers, same budget lines). Every replaced row can be restored by undoing.")
    if not data:
        st.caption("Nothing is written until you press Import; a file already imported is skipped.")
        return
    columns = _mapping_form(kind, data, name, options, preset)
    mapping = {"preset": preset, "columns": columns, "options": options}
    digest = hashlib.sha256(data).hexdigest()
    cache_key = (kind, digest, repr(sorted(mapping.items(), key=str)))
    cached = st.session_state.get("imp_parsed")
    if not cached or cached[0] != cache_key:
        bar = st.progress(0.0, text="reading the file")
        try:
            parsed = read_file(kind, data, name, mapping=mapping, engine=engine, metric_ids=REGISTRY.keys(),
                               progress=lambda f, msg: bar.progress(min(max(f, 0.0), 1.0), text=msg))
        except FileImportError as exc:
            bar.empty()
            st.error(str(exc), icon=":material/error:")
            return
        bar.empty()
        st.session_state["imp_parsed"] = cached = (cache_key, parsed)
    parsed = cached[1]
    report = parsed.report
    a, b, c, d = st.columns(4)
    a.metric("Rows read", f"{report.rows_read:,}", border=True)
    b.metric("Accepted", f"{report.rows_accepted:,}", border=True)
    c.metric("Rejected", f"{report.rows_rejected:,}", border=True)
    d.metric("Period", " → ".join(str(x) for x in report.period) if report.period else "—", border=True)
    if report.detected:
        st.caption("Detected: " + " · ".join(f"{k}: {v}" for k, v in report.detected.items()))
    if report.errors:
        st.error(f"{len(report.errors):,} problem(s). {report.choices()}", icon=":material/error:")
    elif report.warnings:
        st.warning(f"{len(report.warnings):,} warning(s); the file can be imported.", icon=":material/warning:")
    else:
        st.success("The file is valid and can be imported.", icon=":material/check_circle:")
    if report.problems:
        st.dataframe(_problems_frame(report), hide_index=True, width="stretch", key="imp_problems")
    if parsed.rows:
        st.caption(f"Preview of the first {min(len(parsed.rows), 200)} parsed rows")
        st.dataframe(_preview_frame(kind, parsed.rows), hide_index=True, width="stretch",
                     key="imp_preview")
    left, right = st.columns(2)
    go = left.button("Import", type="primary", disabled=not report.ok or not report.rows_accepted,
                     key="imp_go")
    partial = right.button(f"Import the {report.rows_accepted:,} valid rows only", key="imp_partial",
                           disabled=report.ok or not (report.partial_safe and report.rows_accepted))
    if go or partial:
        try:
            require("imports.run")  # refused on the server too, not only hidden by the Data page
        except PermissionDenied as exc:
            st.error(str(exc))
            return
        bar = st.progress(0.0, text="importing")
        result = import_file(engine, kind, data, name, actor=actor, mapping=mapping, valid_only=partial,
                             replace=replace, company=company or None, metric_ids=REGISTRY.keys(),
                             progress=lambda f, msg: bar.progress(min(max(f, 0.0), 1.0), text=msg))
        bar.empty()
        if result.status == "success":
            with st.spinner("Updating the monthly summaries the pages read..."):
                upkeep.after_import(engine)
        st.session_state.pop("imp_parsed", None)
        box = {"success": st.success, "skipped": st.info}.get(result.status, st.error)
        box(f"{result.summary()}\n\n{result.message}")


def _history(engine: Engine, actor: str) -> None:
    """The latest imports with what each replaced; an import can be undone: its rows removed and
    the rows it replaced restored."""
    runs = list_imports(engine, 30)
    st.subheader("Import history")
    if not runs:
        st.caption("No import yet.")
        return
    undoable = {r["import_id"]: r for r in runs if r["undoable"]}
    if undoable:
        left, right = st.columns([3, 1], vertical_alignment="bottom")
        pick = left.selectbox("Undo an import", list(undoable), key="imp_undo_pick",
                              format_func=lambda i: f"#{i} {undoable[i]['kind']}: {undoable[i]['file_name']} "
                                                    f"({undoable[i]['rows_accepted']:,} rows, "
                                                    f"{undoable[i]['rows_replaced']:,} replaced)")
        if right.button("Undo", key="imp_undo", help="Remove its rows and restore the rows it replaced"):
            if _undo(engine, pick, actor):
                runs = list_imports(engine, 30)
    st.dataframe(pd.DataFrame([{
        "import": r["import_id"], "kind": r["kind"], "file": r["file_name"], "company": r["company"],
        "status": r["status"], "rows": r["rows_accepted"], "replaced": r["rows_replaced"], "by": r["imported_by"],
        "at (UTC)": r["started_at"]} for r in runs]), hide_index=True, width="stretch", key="imp_history")


def _undo(engine: Engine, import_id: int, actor: str) -> bool:
    """Undo one import (admins only, checked here on the server); True when it was undone."""
    try:
        require("imports.run")  # refused on the server too, not only hidden by the Data page
    except PermissionDenied as exc:
        st.error(str(exc))
        return False
    try:
        result = undo_import(engine, import_id, actor)
    except UndoError as exc:
        st.error(str(exc), icon=":material/error:")
        return False
    with st.spinner("Updating the monthly summaries the pages read..."):
        upkeep.after_import(engine)
    st.session_state.pop("imp_parsed", None)
    st.success(result["message"], icon=":material/undo:")
    return True
