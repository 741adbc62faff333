"""Finance: booked -> invoiced -> ledger revenue with the gaps and the items behind them;
unit economics; budget vs actual; spend by channel."""
from __future__ import annotations

import streamlit as st

from metrics import pages
from ui import cache, charts
from ui.context import get_context
from ui.page import draw_tabs, header, kpi_row, lazy_expander
from ui.tables import table

REVENUE, UNIT_ECONOMICS = list(pages.FINANCE_REVENUE), list(pages.FINANCE_UNIT_ECONOMICS)
FD = "metrics.finance_details"
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
    gap = st.segmented_control("Items behind the gap", ["booked_to_invoiced", "invoiced_to_ledger"],
                               key="fin_gap", default="booked_to_invoiced",
                               format_func=lambda g: g.replace("_", " ").capitalize()) or "booked_to_invoiced"
    items = cache.detail(ctx.engine, FD, "unmatched_items", ctx.fs.filters, gap=gap)
    table(items, ctx.fs, key="fin_unmatched", name=f"unmatched_{gap}", money=MONEY,
          empty="No unmatched items: every amount on one side has its match on the other.")


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
kpi_row(ctx, REVENUE)
kpi_row(ctx, UNIT_ECONOMICS)
sections = {"Revenue bridge": revenue_bridge, "Budget vs actual": budget_vs_actual,
            "Spend by channel": spend_by_channel}
draw_tabs(ctx, sections, "fin_tabs")
