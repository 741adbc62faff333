"""Sales: pipeline by stage, conversion and speed, coverage against target, forecast by category,
sales' verdict on each qualified lead (accept, or reject with a reason; one lead or many at once),
burnt leads (not followed up within the SLA) and what they were worth, past-due deals (open, close
date passed) for their owners, quotas and pacing per rep and team, and the per-owner and per-team
tables."""
from __future__ import annotations

import streamlit as st

from auth import PermissionDenied
from commands.feedback import review_leads
from metrics import REGISTRY, pages
from metrics.quotas import split_quota_tables
from store.lead_feedback import FeedbackError
from ui import cache, charts, drill
from ui.context import get_context, user_can
from ui.page import draw_tabs, header, kpi_row, kpi_rows
from ui.tables import table

PIPELINE, PERFORMANCE = list(pages.SALES_PIPELINE), list(pages.SALES_PERFORMANCE)
QUOTA_MONEY = [m for m in pages.SALES_QUOTA if REGISTRY[m].unit == "money"]
QUOTA_RATIO = [m for m in pages.SALES_QUOTA if REGISTRY[m].unit == "ratio"]
QUOTA_X = [m for m in pages.SALES_QUOTA if REGISTRY[m].unit == "ratio_x"]
FEEDBACK, BURNT = list(pages.LEAD_FEEDBACK), list(pages.SALES_BURNT)
D, FD = "metrics.details", "metrics.feedback_details"
VERDICT_WORDS = {"accepted": "Accept", "rejected": "Reject"}
QUEUE_COLUMNS = ["contact_id", "first_name", "last_name", "email", "owner", "original_source", "campaign",
                 "became_mql_at", "verdict", "reason", "decided_by", "decided_at"]

ctx = get_context()
header("Sales", ctx, "pipeline, conversion, speed and follow-up")
kpi_rows(ctx, PIPELINE, PERFORMANCE)

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

def _lead_name(row) -> str:
    name = " ".join(x for x in (row.first_name, row.last_name) if isinstance(x, str) and x) or row.email or row.contact_id
    source = row.original_source if isinstance(row.original_source, str) and row.original_source else "no source"
    return f"{name} ({source}, {row.owner if isinstance(row.owner, str) else 'no owner'})"


def _queue(ctx, pending_only: bool):
    queue = cache.detail(ctx.engine, FD, "lead_review_queue", ctx.fs.filters, limit=500)
    if not user_can(ctx, "leads.review_any"):  # an owner sees and judges their own leads
        queue = queue[queue["owner_email"] == (ctx.user.email or "").strip().lower()]
    return queue[queue["verdict"].isna()] if pending_only else queue


def lead_feedback(ctx) -> None:
    st.caption("Accept or reject each qualified lead of the period; a rejection names a reason from the shared "
               "definitions. Marketing sees the acceptance rate and the reasons by source and campaign. The "
               "latest verdict counts; earlier ones stay in the history and the audit trail.")
    pending_only = st.toggle("Only leads without a verdict", key="sales_fb_pending", value=False)
    queue = _queue(ctx, pending_only)
    if user_can(ctx, "leads.review") and not queue.empty and _verdict_form(ctx, queue):
        cache.forget_data_version()  # the tiles and the table below show the verdicts just saved
        queue = _queue(ctx, pending_only)
    elif not user_can(ctx, "leads.review"):
        st.info("Sign in with a role to accept or reject your leads.")
    kpi_row(ctx, FEEDBACK)
    table(queue[[c for c in QUEUE_COLUMNS if c in queue.columns]], ctx.fs, key="sales_fb_queue", name="lead_feedback",
          empty=("No qualified lead of yours in this period." if not user_can(ctx, "leads.review_any")
                 else "No qualified lead in this period for these filters."))


def _verdict_form(ctx, queue) -> bool:
    """The verdict form over `queue`'s leads; True when a verdict was saved in this run."""
    reasons = cache.definitions(ctx.engine).rejection_reasons
    names = {row.contact_id: _lead_name(row) for row in queue.itertuples()}
    with st.form("sales_fb_form", clear_on_submit=True, border=True):
        everyone = st.checkbox(f"All {len(names)} leads listed below", key="sales_fb_all")
        picked = st.multiselect("Leads", list(names), format_func=names.get, key="sales_fb_leads",
                                placeholder="Pick one lead or several")
        a, b, c = st.columns([1, 1, 2])
        verdict = a.radio("Verdict", list(VERDICT_WORDS), format_func=VERDICT_WORDS.get, key="sales_fb_verdict",
                          horizontal=True)
        reason = b.selectbox("Reason (when rejected)", [""] + list(reasons),
                             format_func=lambda r: reasons.get(r, "—"), key="sales_fb_reason")
        note = c.text_input("Note (optional)", key="sales_fb_note", max_chars=2000)
        saved = st.form_submit_button("Save verdict", type="primary")
    if not saved:
        return False
    chosen = list(names) if everyone else picked
    try:
        result = review_leads(ctx.engine, ctx.user, chosen, verdict, reason or None, note or None)
    except (FeedbackError, PermissionDenied) as exc:
        st.error(str(exc))
        return False
    (st.warning if result.not_written else st.success)(result.message)
    return True


def burnt_leads(ctx) -> None:
    sla = cache.definitions(ctx.engine).follow_up_sla_hours
    st.caption(f"Qualified leads with no sales touch within {sla:g} hours of becoming an MQL, and what each was "
               "worth: the expected revenue of a lead of its source (the source's lead-to-customer rate x its "
               "average won deal, trailing 12 months).")
    kpi_row(ctx, BURNT)
    charts.segment_bars(cache.metric_breakdown(ctx.engine, "burnt_lead_value", ctx.fs.filters, "owner"), "owner",
                        ctx.fs, title="Burnt lead value by owner", key="sales_burnt_owner", horizontal=True)
    table(cache.detail(ctx.engine, FD, "burnt_leads_valued", ctx.fs.filters, limit=500), ctx.fs, key="sales_burnt",
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
    reps, teams = split_quota_tables(cache.detail(ctx.engine, Q, "quota_tables", ctx.fs.filters))  # one read
    empty = None
    if reps.empty:  # the quota metric says why (no quota line, or a slice quotas do not have)
        empty = cache.metric_values(ctx.engine, ["quota"], ctx.fs.filters)["quota"].reason
    units = {"money": QUOTA_MONEY, "ratio": QUOTA_RATIO, "ratio_x": QUOTA_X}
    st.markdown("**By rep**")
    table(reps, ctx.fs, key="sales_quota_reps", name="quotas_by_rep", empty=empty, **units)
    if not reps.empty:
        st.markdown("**By team**")
        table(teams, ctx.fs, key="sales_quota_teams", name="quotas_by_team", **units)


def stage_table(ctx) -> None:
    table(stages, ctx.fs, key="sales_stage_table", name="pipeline_by_stage")


# Quotas first: the sub-goals each sales leader owns (#17), the table the CSO opens the page for.
sections = {"Quotas": quotas, "Burnt leads": burnt_leads, "Lead feedback": lead_feedback, "Past-due deals": past_due,
            "By owner": by_owner,
            "By team": by_team,
            "Pipeline by stage (table)": stage_table}
draw_tabs(ctx, sections, "sales_tabs")

drill.kpi_drill(ctx, PIPELINE + PERFORMANCE, key="sales_drill")
