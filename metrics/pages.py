"""Which metrics each page shows, in order: the one list the pages (pages/*.py import their rows
from here), the meeting page and the benchmark (benchmarks/metrics_bench.py, PAGE_METRICS) share.
Every id is a catalog metric (tests/metrics/test_metrics_api.py checks it)."""
from __future__ import annotations

# CEO: the headline row, the funnel, the scorecard. The funnel line shows the period's counts with,
# beside each, its ratio to the count before it (metrics.details.funnel: the rate beside two counts
# is their ratio); the cohort conversions (of the contacts entering a stage in the period, the share
# that reached the next one since) are shown apart, under labels that say "cohort".
CEO_HEADLINE = ("north_star", "target_revenue", "forecast", "gap_to_target", "pipeline_coverage")
CEO_FUNNEL = ("new_leads", "mqls", "sqls", "opportunities", "new_customers")
CEO_COHORT_RATES = ("lead_to_mql_rate", "mql_to_sql_rate", "sql_to_opportunity_rate", "opportunity_to_customer_rate")
CEO_SCORECARD = ("marketing_sourced_share", "follow_up_rate", "win_rate", "forecast_accuracy",
                 "cac_payback_months", "ltv_cac_ratio", "nps", "nrr")
MARKETING_VOLUME = ("new_leads", "mqls", "sqls", "new_customers", "marketing_sourced_revenue",
                    "marketing_sourced_share")
MARKETING_COST = ("marketing_spend", "cost_per_lead", "cost_per_mql", "cost_per_customer", "campaign_roi")
SALES_PIPELINE = ("open_pipeline", "weighted_pipeline", "target_revenue", "pipeline_coverage", "forecast")
SALES_PERFORMANCE = ("win_rate", "avg_deal_size", "sales_cycle_days", "sales_velocity", "leads_not_followed_up",
                     "follow_up_rate")
# Sales, Quotas tab: one row per rep (and per team), each column the catalog metric of that id
# computed for the row's owner or team (metrics.quotas.QUOTA_COLUMNS, the meeting pack's "Behind pace").
SALES_QUOTA = ("quota", "won_revenue", "quota_attainment", "quota_attainment_paced", "forecast", "quota_coverage")
# Sales feedback on leads (Sales page "Lead feedback" tab, Marketing "Sales feedback" tab): the rate
# with the counts it is the ratio of beside it; the burnt leads' tab: how many and what they were worth.
LEAD_FEEDBACK = ("mql_acceptance_rate", "mqls_accepted", "mqls_rejected", "mqls_reviewed")
SALES_BURNT = ("leads_not_followed_up", "burnt_lead_value")
# The weekly meeting's customer voice: the week's NPS with its base (and the week's lead rejections).
MEETING_NPS = ("nps", "nps_responses")
FINANCE_REVENUE = ("north_star", "invoiced_revenue", "ledger_revenue", "booked_to_invoiced_gap",
                   "invoiced_to_ledger_gap", "cash_collected")
FINANCE_UNIT_ECONOMICS = ("sm_spend", "cac", "arpa", "ltv", "ltv_cac_ratio", "cac_payback_months")
# Recurring revenue (metrics/recurring.py): the tiles above the MRR movements chart and cohorts
FINANCE_RECURRING = ("mrr", "arr", "net_new_mrr", "nrr", "grr", "revenue_churn_rate")
# The weekly meeting's top: the quarter headline (the CEO's row, for the quarter of the week under
# review), then the week under review, whose tiles are named for their week: a label names one
# thing with one scope everywhere, so a week's figure never wears the quarter's name.
MEETING_QUARTER = CEO_HEADLINE
MEETING_WEEK = {"north_star": "Won this week", "open_pipeline": "Pipeline closing this week"}


def _ids(*rows) -> tuple[str, ...]:
    """The metric ids of `rows` in order, each once (a funnel row holds (count, rate) pairs)."""
    flat = [m for row in rows for item in row for m in (item if isinstance(item, tuple) else (item,)) if m]
    return tuple(dict.fromkeys(flat))


# Each page's full metric set (what one page run computes), for the benchmark and tests.
PAGE_METRICS: dict[str, tuple[str, ...]] = {
    "ceo": _ids(CEO_HEADLINE, CEO_FUNNEL, CEO_COHORT_RATES, CEO_SCORECARD),
    "marketing": _ids(MARKETING_VOLUME, MARKETING_COST),
    "sales": _ids(SALES_PIPELINE, SALES_PERFORMANCE),
    "finance": _ids(FINANCE_REVENUE, FINANCE_UNIT_ECONOMICS, FINANCE_RECURRING),
}
