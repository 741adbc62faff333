"""Definitions: every metric's definition, formula and sources; the shared definitions, editable by
the people allowed to, with the history of who changed what and when."""
from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from auth import PermissionDenied, require
from meeting import changes as meeting_changes, outcomes as meeting_outcomes
from metrics import REGISTRY, DefinitionsError, definition_history, save_definition
from metrics.definitions import BASES, LOCALES, PRODUCT_LINE_SOURCES, REGION_SOURCES
from ui import cache
from ui.context import actor, get_context, user_can
from ui.page import header
from ui.tables import table

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]

ctx = get_context()
header("Definitions", ctx, "one meaning per number, shared by marketing, sales and finance")
defs = cache.definitions(ctx.engine)
raw = defs.raw


ALERT_LABELS = {"coverage_below": "Alert: pipeline coverage below (x)",
                "burnt_leads_above": "Alert: leads not followed up per owner above",
                "burnt_leads_days": "Alert: ...counted over the last (days)",
                "forecast_drop_pct": "Alert: forecast down in a week by more than (%)",
                "sync_failures": "Alert: connector runs failed in a row"}


ALERT_DEFAULTS = {"coverage_below": 2.0, "burnt_leads_above": 5, "burnt_leads_days": 7, "forecast_drop_pct": 10.0,
                  "sync_failures": 2}  # shown in a rule's box while it is off


def shared_rows() -> pd.DataFrame:
    rows = [
        ("Qualified lead (MQL)", "funnel.mql_stage", raw["funnel"]["mql_stage"]),
        ("Sales-qualified lead", "funnel.sql_stage", raw["funnel"]["sql_stage"]),
        ("Follow-up SLA (hours)", "funnel.follow_up_sla_hours", raw["funnel"]["follow_up_sla_hours"]),
        ("Marketing-sourced sources", "funnel.marketing_sourced_sources",
         ", ".join(raw["funnel"]["marketing_sourced_sources"])),
        ("North Star basis", "north_star.basis", raw["north_star"]["basis"]),
        ("Fiscal year starts in", "calendar.fiscal_year_start_month",
         MONTHS[int(raw["calendar"]["fiscal_year_start_month"]) - 1]),
        ("Reporting currency", "currency.reporting", raw["currency"]["reporting"]),
        ("Exchange rates to reporting currency", "currency.fx_to_reporting",
         ", ".join(f"{k} {v}" for k, v in raw["currency"]["fx_to_reporting"].items())),
        ("Region comes from", "dimensions.region_from", raw["dimensions"]["region_from"]),
        ("Product line comes from", "dimensions.product_line_from", raw["dimensions"]["product_line_from"]),
        ("Number format", "locale", raw["locale"]),
    ]
    for key, label in ALERT_LABELS.items():
        value = (raw.get("alerts") or {}).get(key)
        rows.append((label, f"alerts.{key}", "off" if value is None else value))
    for pid, p in raw["pipelines"].items():
        rows.append((f"Won stages ({p.get('label', pid)})", f"pipelines.{pid}.won_stages",
                     ", ".join(p["won_stages"])))
        rows.append((f"Lost stages ({p.get('label', pid)})", f"pipelines.{pid}.lost_stages",
                     ", ".join(p["lost_stages"])))
    return pd.DataFrame([(a, str(c), b) for a, b, c in rows], columns=["definition", "value", "key"])


def _current(key: str):
    try:
        return defs.get(key)
    except (KeyError, TypeError):  # an optional section the store's definitions lack
        return None


def edit_form() -> None:
    """The editors' form: only changed keys are saved, each validated, stored and audited."""
    pid = next(iter(raw["pipelines"]))
    pipe = raw["pipelines"][pid]
    stage_ids = list(dict.fromkeys([*pipe.get("probabilities", {}), *pipe["won_stages"], *pipe["lost_stages"]]))
    stages = defs.funnel_stages
    with st.form("defs_form"):
        a, b, c = st.columns(3)
        wanted = {
            "funnel.mql_stage": a.selectbox("Qualified lead = contacts that reached", stages,
                                            index=stages.index(raw["funnel"]["mql_stage"]), key="defs_mql"),
            "funnel.follow_up_sla_hours": a.number_input(
                "Follow-up SLA (hours)", min_value=1.0, max_value=720.0, step=1.0,
                value=float(raw["funnel"]["follow_up_sla_hours"]), key="defs_sla"),
            f"pipelines.{pid}.won_stages": a.multiselect(f"Won stages ({pipe.get('label', pid)})", stage_ids,
                                                        default=pipe["won_stages"], key="defs_won"),
            "north_star.basis": b.selectbox("North Star basis", BASES, index=BASES.index(raw["north_star"]["basis"]),
                                            key="defs_basis"),
            "calendar.fiscal_year_start_month": b.selectbox(
                "Fiscal year starts in", list(range(1, 13)), format_func=lambda m: MONTHS[m - 1],
                index=int(raw["calendar"]["fiscal_year_start_month"]) - 1, key="defs_fy"),
            "currency.reporting": b.selectbox("Reporting currency", list(defs.fx),
                                              index=list(defs.fx).index(defs.reporting_currency), key="defs_ccy"),
            "dimensions.region_from": c.selectbox("Region comes from", REGION_SOURCES,
                                                  index=REGION_SOURCES.index(raw["dimensions"]["region_from"]),
                                                  key="defs_region"),
            "dimensions.product_line_from": c.selectbox(
                "Product line comes from", PRODUCT_LINE_SOURCES,
                index=PRODUCT_LINE_SOURCES.index(raw["dimensions"]["product_line_from"]), key="defs_pl"),
            "locale": c.selectbox("Default number format", LOCALES, index=LOCALES.index(raw["locale"]),
                                  key="defs_locale"),
        }
        st.caption("Alerts: checked after every sync and import; untick a rule to turn it off")
        alert_values = raw.get("alerts") or {}
        for column, key in zip(st.columns(len(ALERT_LABELS)), ALERT_LABELS):
            current = alert_values.get(key)
            whole = key not in ("coverage_below", "forecast_drop_pct")
            shown = ALERT_DEFAULTS[key] if current is None else current
            number = column.number_input(ALERT_LABELS[key].removeprefix("Alert: "), min_value=0 if whole else 0.0,
                                         step=1 if whole else 0.1, value=int(shown) if whole else float(shown),
                                         key=f"defs_alert_{key}")
            on = key == "burnt_leads_days" or column.checkbox("on", value=current is not None,
                                                             key=f"defs_alert_on_{key}")
            wanted[f"alerts.{key}"] = number if on else None
        submitted = st.form_submit_button("Save changes", type="primary", key="defs_save")
    if not submitted:
        return
    try:  # server-side check, not only the hidden form
        require("definitions.edit", ctx.user)
    except PermissionDenied as exc:
        st.error(str(exc))
        return
    changed = {k: v for k, v in wanted.items() if v != _current(k)}
    if not changed:
        st.info("Nothing changed.")
        return
    try:
        for key, value in changed.items():
            save_definition(ctx.engine, key, value, actor(ctx))
    except DefinitionsError as exc:
        st.error("Not saved: " + "; ".join(exc.problems))
        return
    st.session_state["defs_saved"] = sorted(changed)
    st.rerun()


if st.session_state.pop("defs_saved", None):
    st.success("Saved. Every page now uses the new definitions.", icon=":material/check:")

shared_tab, catalog_tab, meeting_tab, history_tab = st.tabs(["Shared definitions", "Metric catalog",
                                                             "Weekly meeting", "History"])
with shared_tab:
    table(shared_rows(), ctx.fs, key="defs_shared", name="shared_definitions", count=(), money=(), ratio=(),
          days=())
    if user_can(ctx, "definitions.edit"):
        with st.expander("Edit the shared definitions", icon=":material/edit:"):
            st.caption("Changes take effect for everyone at once and are kept in the history.")
            edit_form()
    else:
        st.caption("Only editors and admins can change these definitions.")
with catalog_tab:
    search = st.text_input("Search", key="defs_search", placeholder="e.g. pipeline, CAC, MQL")
    catalog = pd.DataFrame([{"metric": m.label, "id": m.id, "owner": m.owner_role, "unit": m.unit,
                             "definition": m.definition, "formula": m.formula, "sources": ", ".join(m.sources),
                             "breakdowns": ", ".join(m.breakdowns)} for m in REGISTRY.values()])
    if search:
        hay = catalog.apply(lambda r: " ".join(map(str, r.values)).lower(), axis=1)
        catalog = catalog[hay.str.contains(search.lower(), regex=False)]
    table(catalog, ctx.fs, key="defs_catalog", name="metric_catalog", count=(), money=(), ratio=(), days=())
with meeting_tab:
    st.caption("How the weekly meeting explains what changed and judges its decisions (#18).")
    rules = pd.DataFrame([*meeting_changes.RULES, *meeting_outcomes.RULES], columns=["rule", "definition"])
    table(rules, ctx.fs, key="defs_meeting", name="meeting_rules", count=(), money=(), ratio=(), days=())
with history_tab:
    history = pd.DataFrame(definition_history(ctx.engine), columns=["changed_at", "changed_by", "key", "old", "new"])
    for col in ("old", "new"):
        history[col] = history[col].map(lambda v: json.dumps(v) if v is not None else "")
    table(history, ctx.fs, key="defs_history", name="definition_history",
          empty="No changes yet: the definitions are the defaults of metrics/definitions.yaml.")
