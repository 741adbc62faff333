"""Sales: pipeline by stage, conversion and speed, coverage against target, forecast by category,
burnt leads (not followed up within the SLA), past-due deals (open, close date passed) for their
owners, quotas and pacing per rep and team, and the per-owner and per-team tables."""
from __future__ import annotations

import streamlit as st

from metrics import REGISTRY, pages
from ui import cache, charts, drill
from ui.context import get_context
from ui.page import draw_tabs, header, kpi_row
from ui.tables import table

PIPELINE, PERFORMANCE = list(pages.SALES_PIPELINE), list(pages.SALES_PERFORMANCE)
QUOTA_MONEY = [m for m in pages.SALES_QUOTA if REGISTRY[m].unit == "money"]
QUOTA_RATIO = [m for m in pages.SALES_QUOTA if REGISTRY[m].unit == "ratio"]
QUOTA_X = [m for m in pages.SALES_QUOTA if REGISTRY[m].unit == "ratio_x"]
D = "metrics.details"

ctx = get_context()
header("Sales", ctx, "pipeline, conversion, speed and follow-up")
kpi_row(ctx, PIPELINE)
kpi_row(ctx, PERFORMANCE)

left, right = st.columns(2)
stages = cache.detail(ctx.engine, D, "pipeline_by_stage", ctx.fs.filters)
with left:
    charts.category_bars(stages, "label", "amount", ctx.fs, unit="money", color_key="stage", dimension="stage",
                         hover_extra="weighted_amount", title="Open pipeline by stage", key="sales_stages")
with right:
    forecast = cache.detail(ctx.engine, D, "forecast_by_category", ctx.fs.filters)
    charts.category_bars(forecast, "label", "amount", ctx.fs, unit="money", color_key="forecast_category",
                         dimension="forecast_category", hover_extra="weighted_amount",
                         title="Forecast by category", key="sales_forecast")

def burnt_leads(ctx) -> None:
    sla = cache.definitions(ctx.engine).follow_up_sla_hours
    st.caption(f"Qualified leads with no sales touch within {sla:g} hours of becoming an MQL.")
    table(cache.detail(ctx.engine, D, "burnt_leads", ctx.fs.filters, limit=500), ctx.fs, key="sales_burnt",
          name="burnt_leads", empty="No burnt leads: every qualified lead was followed up within the SLA.")


def past_due(ctx) -> None:
    rule = cache.definitions(ctx.engine).past_due_rule
    where = ("they count in the pipeline and forecast of the period containing today"
             if rule == "count_in_current_period" else "they are in no period's pipeline (pipeline.past_due: exclude)")
    st.caption(f"Open deals whose close date has passed ({where}). Owners: mark each won or lost, or set a new "
               "close date, in HubSpot.")
    table(cache.detail(ctx.engine, D, "past_due_deals", ctx.fs.filters, limit=500), ctx.fs, key="sales_past_due",
          name="past_due_deals", empty="No past-due deals: every open deal has a close date still ahead.")


def by_owner(ctx) -> None:
    table(cache.detail(ctx.engine, D, "owner_table", ctx.fs.filters), ctx.fs, key="sales_owners", name="owners")


def by_team(ctx) -> None:
    table(cache.detail(ctx.engine, D, "team_table", ctx.fs.filters), ctx.fs, key="sales_teams", name="teams")


Q = "metrics.quotas"


def quotas(ctx) -> None:
    st.caption("Each rep's and team's revenue quota (budget lines with an owner or team), what they won, "
               "attainment, paced attainment (won to date against the quota of the days lived so far; under "
               "100 % is behind pace), forecast and coverage of what is left. Behind pace first; click a "
               "header to sort.")
    reps = cache.detail(ctx.engine, Q, "owner_quota_table", ctx.fs.filters)
    empty = None
    if reps.empty:  # the quota metric says why (no quota line, or a slice quotas do not have)
        empty = cache.metric_values(ctx.engine, ["quota"], ctx.fs.filters)["quota"].reason
    units = {"money": QUOTA_MONEY, "ratio": QUOTA_RATIO, "ratio_x": QUOTA_X}
    st.markdown("**By rep**")
    table(reps, ctx.fs, key="sales_quota_reps", name="quotas_by_rep", empty=empty, **units)
    if not reps.empty:
        st.markdown("**By team**")
        table(cache.detail(ctx.engine, Q, "team_quota_table", ctx.fs.filters), ctx.fs, key="sales_quota_teams",
              name="quotas_by_team", **units)


def stage_table(ctx) -> None:
    table(stages, ctx.fs, key="sales_stage_table", name="pipeline_by_stage")


# Quotas first: the sub-goals each sales leader owns (#17), the table the CSO opens the page for.
sections = {"Quotas": quotas, "Burnt leads": burnt_leads, "Past-due deals": past_due, "By owner": by_owner,
            "By team": by_team,
            "Pipeline by stage (table)": stage_table}
draw_tabs(ctx, sections, "sales_tabs")

drill.kpi_drill(ctx, PIPELINE + PERFORMANCE, key="sales_drill")
