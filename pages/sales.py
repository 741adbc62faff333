"""Sales: pipeline by stage, conversion and speed, coverage against target, forecast by category,
burnt leads (not followed up within the SLA), and the per-owner and per-team tables."""
from __future__ import annotations

import streamlit as st

from ui import cache, charts, drill
from ui.context import get_context
from ui.page import header, kpi_row
from ui.tables import table

PIPELINE = ["open_pipeline", "weighted_pipeline", "target_revenue", "pipeline_coverage", "forecast"]
PERFORMANCE = ["win_rate", "avg_deal_size", "sales_cycle_days", "sales_velocity", "leads_not_followed_up",
               "follow_up_rate"]
D = "metrics.details"

ctx = get_context()
header("Sales", ctx, "pipeline, conversion, speed and follow-up")
kpi_row(ctx, PIPELINE)
kpi_row(ctx, PERFORMANCE)

left, right = st.columns(2)
with left:
    stages = cache.detail(ctx.engine, D, "pipeline_by_stage", ctx.fs.filters)
    picked = charts.frame_bars(stages, "label" if "label" in stages.columns else "stage",
                               [c for c in ("open_amount", "amount", "weighted_amount") if c in stages.columns]
                               or "amount", ctx.fs, unit="money", title="Open pipeline by stage",
                               key="sales_stages")
with right:
    forecast = cache.detail(ctx.engine, D, "forecast_by_category", ctx.fs.filters)
    charts.frame_bars(forecast, "label" if "label" in forecast.columns else "forecast_category",
                      [c for c in ("amount", "weighted_amount") if c in forecast.columns] or "amount", ctx.fs,
                      unit="money", title="Forecast by category", key="sales_forecast")

burnt_tab, owner_tab, team_tab, stage_tab = st.tabs(
    ["Burnt leads", "By owner", "By team", "Pipeline by stage (table)"])
with burnt_tab:
    sla = cache.definitions(ctx.engine).follow_up_sla_hours
    st.caption(f"Qualified leads with no sales touch within {sla:g} hours of becoming an MQL.")
    table(cache.detail(ctx.engine, D, "burnt_leads", ctx.fs.filters, limit=500), ctx.fs, key="sales_burnt",
          name="burnt_leads", empty="No burnt leads: every qualified lead was followed up within the SLA.")
with owner_tab:
    table(cache.detail(ctx.engine, D, "owner_table", ctx.fs.filters), ctx.fs, key="sales_owners",
          name="owners")
with team_tab:
    table(cache.detail(ctx.engine, D, "team_table", ctx.fs.filters), ctx.fs, key="sales_teams", name="teams")
with stage_tab:
    table(stages, ctx.fs, key="sales_stage_table", name="pipeline_by_stage")

drill.kpi_drill(ctx, PIPELINE + PERFORMANCE, key="sales_drill")
