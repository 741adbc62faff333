"""Marketing: leads, MQLs and SQLs by source and campaign over time; the funnel; cost per lead,
MQL and customer; campaign ROI; source quality; sales feedback on lead quality."""
from __future__ import annotations

import streamlit as st

from metrics import REGISTRY, pages
from ui import cache, charts, drill
from ui.context import get_context
from ui.page import draw_tabs, header, kpi_row, kpi_rows, supports
from ui.tables import table

VOLUME, COST = list(pages.MARKETING_VOLUME), list(pages.MARKETING_COST)
D = "metrics.details"

ctx = get_context()
header("Marketing", ctx, "where leads come from, what they cost and what they become")
kpi_rows(ctx, VOLUME, COST)

left, right = st.columns(2)
with left:
    st.subheader("Leads by source")
    a, b = st.columns(2)
    metric = a.selectbox("Count", ["new_leads", "mqls", "sqls"], key="mkt_metric",
                         format_func=lambda m: REGISTRY[m].label)
    by = b.selectbox("Split by", [x for x in ("source", "campaign") if supports(metric, x)] or ["source"],
                     key="mkt_by", format_func=str.capitalize)
    segment = charts.segment_bars(cache.metric_breakdown(ctx.engine, metric, ctx.fs.filters, by), by, ctx.fs,
                                  key="mkt_by_source", horizontal=True)
    drill.segment_drill(ctx, metric, by, segment, key="mkt_source_drill")
with right:
    st.subheader("Funnel")
    a, b = st.columns(2)
    view = a.segmented_control("View", ["period", "cohort"], key="mkt_funnel_view", default="period",
                               format_func=str.capitalize,
                               help="Period: contacts entering each stage in the period. Cohort: the "
                                    "leads created in the period, and how far they got.")
    mode = b.segmented_control("Stages", ["any", "strict"], key="mkt_funnel_mode", default="any",
                               format_func={"strict": "Strict order", "any": "Any stage reached"}.get)
    funnel = cache.detail(ctx.engine, D, "funnel", ctx.fs.filters, view=view or "period", mode=mode or "any")
    charts.funnel_chart(funnel, ctx.fs, key="mkt_funnel")

over_time = cache.detail(ctx.engine, D, "leads_by_source_over_time", ctx.fs.filters, grain="month")
period_col = next((c for c in ("period", "month", "week") if c in over_time.columns), None)
value_col = next((c for c in ("leads", "new_leads", "count") if c in over_time.columns), None)
if period_col and value_col:
    charts.frame_bars(over_time, period_col, value_col, ctx.fs, unit="count", color="source",
                      dimension="source", barmode="stack", title="New leads by source over time",
                      key="mkt_over_time")
else:
    charts.no_data("New leads by source over time: no leads for these filters.")



TYPE_NAMES = {"new_business": "new business", "expansion": "expansion", "renewal": "renewals"}


def campaigns(ctx) -> None:
    counted = cache.definitions(ctx.engine).counted_types("campaign_roi")
    if len(counted) < len(TYPE_NAMES):  # say which won revenue the table (and its ROI) counts
        st.caption(f"Won deals, won revenue and ROI count {' and '.join(TYPE_NAMES[t] for t in counted)} only, "
                   "as campaign ROI does (shared definitions: revenue_types.counted_by.campaign_roi).")
    table(cache.detail(ctx.engine, D, "campaign_table", ctx.fs.filters), ctx.fs, key="mkt_campaigns",
          name="campaigns")


def source_quality(ctx) -> None:
    st.caption("Conversion to customer and revenue by original source.")
    table(cache.detail(ctx.engine, D, "source_quality", ctx.fs.filters), ctx.fs, key="mkt_quality",
          name="source_quality")


def sales_feedback(ctx) -> None:
    st.caption("Sales' verdict on the period's MQLs (Sales page, Lead feedback): accepted or rejected with a reason. "
               "The acceptance rate is accepted / (accepted + rejected); MQLs nobody judged yet are in neither.")
    kpi_row(ctx, list(pages.LEAD_FEEDBACK))
    for by, title in (("source", "By source"), ("campaign", "By campaign")):
        st.markdown(f"**{title}**")
        table(cache.detail(ctx.engine, "metrics.feedback_details", "feedback_by", ctx.fs.filters, by=by), ctx.fs,
              key=f"mkt_lead_feedback_{by}", name=f"lead_feedback_by_{by}", ratio=["acceptance_rate"],
              empty="No MQL in this period for these filters.")
    st.markdown("**Lost and disqualified**")
    st.caption("Why sales lost or disqualified the leads of each source.")
    table(cache.detail(ctx.engine, D, "lost_reasons_by_source", ctx.fs.filters), ctx.fs, key="mkt_feedback",
          name="lost_reasons_by_source")


def leads_table(ctx) -> None:
    table(over_time, ctx.fs, key="mkt_over_time_table", name="leads_by_source_over_time")


sections = {"Campaigns": campaigns, "Source quality": source_quality, "Sales feedback": sales_feedback,
            "Leads over time (table)": leads_table}
draw_tabs(ctx, sections, "mkt_tabs")

drill.kpi_drill(ctx, VOLUME + COST, key="mkt_drill")
