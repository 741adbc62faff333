"""Finance: booked -> invoiced -> ledger revenue with the gaps and the items behind them;
unit economics; recurring revenue (MRR movements, retention, cohorts); budget vs actual; spend by
channel."""
from __future__ import annotations

import streamlit as st

from metrics import pages
from ui import cache, charts
from ui.context import get_context
from ui.page import draw_tabs, header, kpi_row, kpi_rows, lazy_expander
from ui.tables import table

REVENUE, UNIT_ECONOMICS = list(pages.FINANCE_REVENUE), list(pages.FINANCE_UNIT_ECONOMICS)
RECURRING = list(pages.FINANCE_RECURRING)
FR = "metrics.recurring"
FD = "metrics.finance_details"
MRR_MONEY = ("mrr", "new_mrr", "expansion_mrr", "reactivation_mrr", "contraction_mrr", "churned_mrr", "net_new_mrr")
MONEY = ["booked", "invoiced", "ledger", "booked_to_invoiced_gap", "invoiced_to_ledger_gap", "difference",
         "booked_new_business", "booked_expansion", "booked_renewal"]


def revenue_bridge(ctx) -> None:
    bridge = cache.detail(ctx.engine, FD, "revenue_bridge", ctx.fs.filters)
    left, right = st.columns(2)
    with left:
        if st.toggle("Split booked revenue by type", key="fin_bridge_types",
                     help="New business, expansion and renewal (the revenue types of the shared definitions)"):
            charts.frame_bars(bridge, "month", ["booked_new_business", "booked_expansion", "booked_renewal"], ctx.fs,
                              unit="money", title="Booked revenue by type and month", key="fin_bridge_types_chart")
        else:
            charts.frame_bars(bridge, "month", ["booked", "invoiced", "ledger"], ctx.fs, unit="money",
                              title="Booked, invoiced and ledger revenue by month", key="fin_bridge")
    with right:
        charts.frame_bars(bridge, "month", ["booked_to_invoiced_gap", "invoiced_to_ledger_gap"], ctx.fs,
                          unit="money", title="Gaps by month", key="fin_gaps")
    with lazy_expander("Revenue bridge by month (table)", "fin_bridge_exp") as exp:
        if exp.open:
            table(bridge, ctx.fs, key="fin_bridge_table", name="revenue_bridge", money=MONEY)
    # on demand: matching a period's deals, invoices and ledger lines reads all of them (0.8 s a
    # quarter on a 1M-deal store), which the tiles and charts above do not
    with lazy_expander("Items behind the gaps (the 500 largest differences)", "fin_items_exp") as exp:
        if exp.open:
            gap = st.segmented_control("Items behind the gap", ["booked_to_invoiced", "invoiced_to_ledger"],
                                       key="fin_gap", default="booked_to_invoiced",
                                       format_func=lambda g: g.replace("_", " ").capitalize()) or "booked_to_invoiced"
            items = cache.detail(ctx.engine, FD, "unmatched_items", ctx.fs.filters, gap=gap)
            table(items, ctx.fs, key="fin_unmatched", name=f"unmatched_{gap}", money=MONEY,
                  empty="No unmatched items: every amount on one side has its match on the other.")


def recurring_revenue(ctx) -> None:
    kpi_row(ctx, RECURRING)
    st.caption(cache.detail(ctx.engine, FR, "source_note", ctx.fs.filters)["note"].iloc[0])
    moves = cache.detail(ctx.engine, FR, "movements_by_month", ctx.fs.filters)
    charts.mrr_movements(moves, ctx.fs, title="MRR movements by month", key="fin_mrr_moves")
    st.caption("MRR changes on the first of each month: new, expansion and reactivation add to it, contraction "
               "and churn take from it (drawn below zero); the line is the net change. Each month against the "
               "one before, per customer.")
    with lazy_expander("MRR movements by month (table)", "fin_mrr_exp") as exp:
        if exp.open:
            table(moves, ctx.fs, key="fin_mrr_table", name="mrr_movements", money=MRR_MONEY)
    basis = st.segmented_control("Cohorts retained by", ["pct_mrr", "pct_customers"], key="fin_cohort_basis",
                                 default="pct_mrr",
                                 format_func=lambda v: "MRR" if v == "pct_mrr" else "Customers") or "pct_mrr"
    cohorts = cache.detail(ctx.engine, FR, "cohorts", ctx.fs.filters)
    charts.cohort_heatmap(cohorts, ctx.fs, value=basis, key="fin_cohorts",
                          title="Cohorts: share retained, by first month with MRR")
    movers = cache.detail(ctx.engine, FR, "movers", ctx.fs.filters)
    st.markdown("**Churned and contracted customers in the period**")
    table(movers, ctx.fs, key="fin_mrr_movers", name="churned_contracted_customers",
          money=("mrr_before", "mrr_after", "change"),
          empty="No customer churned or contracted on the month firsts of this period.")


def budget_vs_actual(ctx) -> None:
    budget = cache.detail(ctx.engine, FD, "budget_vs_actual_table", ctx.fs.filters)
    table(budget, ctx.fs, key="fin_budget", name="budget_vs_actual", ratio=("variance_pct",),
          empty="No budget lines for this period: import a budget file on the Data page.")
    st.caption("Budget, actual and variance are in each line's metric unit (money in the reporting currency).")


def spend_by_channel(ctx) -> None:
    spend = cache.detail(ctx.engine, FD, "spend_by_channel", ctx.fs.filters, grain="month")
    charts.frame_bars(spend, "period", "spend", ctx.fs, unit="money", color="channel", dimension="channel",
                      barmode="stack", title="Marketing spend by channel", key="fin_spend")
    with lazy_expander("Spend by channel (table)", "fin_spend_exp") as exp:
        if exp.open:
            table(spend, ctx.fs, key="fin_spend_table", name="spend_by_channel", money=("spend",))


ctx = get_context()
header("Finance", ctx, "does booked revenue become invoices and ledger entries?")
kpi_rows(ctx, REVENUE, UNIT_ECONOMICS)
st.caption("LTV " + cache.detail(ctx.engine, FR, "ltv_note", ctx.fs.filters)["note"].iloc[0] + ".")
sections = {"Revenue bridge": revenue_bridge, "Recurring revenue": recurring_revenue,
            "Budget vs actual": budget_vs_actual,
            "Spend by channel": spend_by_channel}
draw_tabs(ctx, sections, "fin_tabs")
