"""Data: store and connection status, connector and import runs, row counts, data-quality warnings,
alerts; the HubSpot sync and file import panels; the audit trail."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from metrics import rollups, rollups_build
from store import mask
from store.audit import AUDIT_COLUMNS, list_audit
from store.db import schema_version
from ui import cache
from ui.alerts_panel import render_alerts
from ui.context import actor, get_context, user_can
from ui.hubspot_panel import render_sync_panel
from ui.import_panel import render_import_panel
from ui.page import header
from ui.status import age
from ui.tables import table

SEVERITY_ICONS = {"error": ":material/error:", "warning": ":material/warning:", "info": ":material/info:"}


def status(ctx) -> None:
    facts = ctx.facts
    a, b, c, d = st.columns(4)
    a.metric("Store", ctx.engine.dialect.name, help="The database behind Northstar (password hidden below).",
             border=True)
    b.metric("Schema version", schema_version(ctx.engine), border=True)
    c.metric("Last HubSpot sync", age(facts.get("last_sync_at")), border=True,
             help=f"{facts.get('last_sync_at') or 'never'} (UTC)")
    d.metric("Last file import", age(facts.get("last_import_at")), border=True,
             help=f"{facts.get('last_import_at') or 'never'} (UTC)")
    st.caption(f"Store: {mask(ctx.engine.url.render_as_string(hide_password=True))}"
               + (" · demo data" if facts.get("is_demo") else ""))
    summaries(ctx)

    st.subheader("Data quality")
    checks = cache.data_quality_checks(ctx.engine)
    problems = [c for c in checks if c.get("count")]
    if not problems:
        st.success("No data-quality warnings.", icon=":material/check_circle:")
    for chk in problems:
        text = f"**{chk['message']}** ({chk['count']:,})" + (f"  \n{chk['hint']}" if chk.get("hint") else "")
        box = st.error if chk.get("severity") == "error" else st.info if chk.get("severity") == "info" else st.warning
        box(text, icon=SEVERITY_ICONS.get(chk.get("severity"), ":material/warning:"))

    render_alerts(ctx.engine, ctx.fs)

    left, right = st.columns(2)
    syncs, imports = cache.recent_runs(ctx.engine)
    with left:
        st.subheader("Last connector runs")
        table(syncs, ctx.fs, key="data_syncs", name="sync_runs", count=(), money=(), ratio=(), days=(),
              empty="No connector run yet: set up HubSpot in the HubSpot tab.")
    with right:
        st.subheader("Last imports")
        table(imports, ctx.fs, key="data_imports", name="import_runs", count=("rows_accepted", "rows_rejected"),
              money=(), ratio=(), days=(), empty="No file imported yet: use the Import files tab.")
    with st.expander("Rows per table"):
        counts = pd.DataFrame(sorted(cache.table_counts(ctx.engine).items()), columns=["table", "rows"])
        table(counts, ctx.fs, key="data_counts", name="table_counts", count=("rows",), money=(), ratio=(),
              days=())


def summaries(ctx) -> None:
    """The metric layer's monthly rollups: fresh (pages read them) or stale (pages read the base
    tables, slower, same numbers, until the rebuild that follows every sync and import)."""
    status = rollups.status(ctx.engine)
    stale = [g for g, s in status.items() if not s["fresh"]]
    built = [s["built_at"] for s in status.values() if s["built_at"]]
    when = f"last built {age(max(built))}" if built else "never built"
    if not stale:
        st.caption(f"Monthly summaries: fresh, {when}. Whole months are read from them.")
        return
    st.caption(f"Monthly summaries: {', '.join(stale)} out of date ({when}); the pages read the base tables "
               "meanwhile (same numbers, slower). They rebuild after each sync and import, and by themselves "
               "30 s after the last change.")
    if user_can(ctx, "settings.edit") and st.button("Rebuild summaries now", key="data_rollups_rebuild",
                                                    icon=":material/refresh:"):
        with st.spinner("Rebuilding the monthly summaries..."):
            built_now = rollups_build.refresh(ctx.engine)
        st.success("Rebuilt: " + ", ".join(f"{g} ({b.rows:,} rows, {b.seconds:.1f} s)" for g, b in built_now.items())
                   if built_now else "They were already fresh.")


def hubspot(ctx) -> None:  # the HubSpot sync panel (ui/hubspot_panel.py)
    render_sync_panel(ctx.engine)


def import_files(ctx) -> None:  # the file import panel (ui/import_panel.py)
    if not user_can(ctx, "imports.run"):
        st.info("Only admins can import files.")
    else:
        render_import_panel(ctx.engine, actor(ctx))


def audit(ctx) -> None:
    if not user_can(ctx, "audit.view"):
        st.info("Your role may not view the audit trail.")
    else:
        rows = list_audit(ctx.engine, limit=500)
        trail = pd.DataFrame(rows, columns=AUDIT_COLUMNS)
        for col in ("before", "after"):
            trail[col] = trail[col].map(lambda v: "" if v is None else str(v))
        table(trail, ctx.fs, key="data_audit", name="audit_trail", count=(), money=(), ratio=(), days=(),
              empty="No audited change yet.")


ctx = get_context()
header("Data", ctx, "where the numbers come from, and how fresh and clean they are")
sections = {"Status": status, "HubSpot": hubspot, "Import files": import_files, "Audit": audit}
for tab, draw in zip(st.tabs(list(sections)), sections.values()):  # all drawn: each is quick
    with tab:
        draw(ctx)
