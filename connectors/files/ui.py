"""The Data page's import panel: upload, preview, column mapping, validation report, import."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from . import fec as fec_mod
from .detect import FileFormatError, ReadOptions, read_table
from .importer import IMPORT_KINDS, PRESETS, FileImportError, import_file, read_file
from .invoices import FIELDS as INVOICE_FIELDS
from .budgets import FIELDS as BUDGET_FIELDS
from .hubspot_csv import FIELDS as HUBSPOT_FIELDS
from .spend import FIELDS as SPEND_FIELDS

KIND_LABELS = {
    "fec": "FEC ledger (Fichier des Écritures Comptables)", "invoices": "Invoices",
    "spend": "Marketing spend", "budgets": "Budgets and targets", "hubspot-deals": "HubSpot export: deals",
    "hubspot-contacts": "HubSpot export: contacts", "hubspot-companies": "HubSpot export: companies",
}
FIELDS = {"invoices": INVOICE_FIELDS, "spend": SPEND_FIELDS, "budgets": BUDGET_FIELDS,
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
    mode = st.radio("Source", ["Upload a file", "A file on the server"], horizontal=True, key="imp_source",
                    help="Use a server path for files larger than the upload limit (e.g. a full-year FEC).")
    if mode == "Upload a file":
        up = st.file_uploader("File", type=["csv", "txt", "tsv", "xlsx"], key="imp_upload")
        return (up.name, up.getvalue()) if up is not None else (None, None)
    raw = st.text_input("Path on the server", key="imp_path")
    if not raw:
        return None, None
    path = Path(raw).expanduser()
    if not path.is_file():
        st.error(f"{path} is not a readable file on the server.", icon=":material/error:")
        return None, None
    return path.name, path.read_bytes()


def render_import_panel(engine: Engine, actor: str = "local admin") -> None:
    """Pick the kind, give the file, check the report and preview, then import."""
    kind = st.selectbox("What are you importing?", IMPORT_KINDS, format_func=KIND_LABELS.get, key="imp_kind")
    presets = sorted(PRESETS[kind], key=lambda p: (p != "generic", p))
    preset = st.selectbox("Preset", presets, key=f"imp_preset_{kind}",
                          help="Ready mappings for common exports; 'generic' recognises usual column names.")
    name, data = _source()
    options = _options_form(kind)
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
            parsed = read_file(kind, data, name, mapping=mapping, engine=engine,
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
        from auth import PermissionDenied, require
        try:
            require("imports.run")  # refused on the server too, not only hidden by the Data page
        except PermissionDenied as exc:
            st.error(str(exc))
            return
        bar = st.progress(0.0, text="importing")
        result = import_file(engine, kind, data, name, actor=actor, mapping=mapping, valid_only=partial,
                             progress=lambda f, msg: bar.progress(min(max(f, 0.0), 1.0), text=msg))
        bar.empty()
        if result.status == "success":
            from metrics import rollups_build as rollups
            with st.spinner("Updating the monthly summaries the pages read..."):
                rollups.settle(engine)
        st.session_state.pop("imp_parsed", None)
        box = {"success": st.success, "skipped": st.info}.get(result.status, st.error)
        box(f"{result.summary()}\n\n{result.message}")
