"""Which metrics each page shows, in order: the one list pages, the meeting pack and the
benchmark (benchmarks/metrics_bench.py) share."""
from __future__ import annotations

PAGE_METRICS: dict[str, tuple[str, ...]] = {
    "ceo": ("north_star", "target_revenue", "gap_to_target", "forecast", "pipeline_coverage", "win_rate",
            "new_customers", "marketing_sourced_share", "cac", "ltv_cac_ratio", "invoiced_revenue",
            "cash_collected"),
    "marketing": ("new_leads", "mqls", "sqls", "lead_to_mql_rate", "mql_to_sql_rate", "lead_to_customer_rate",
                  "marketing_spend", "cost_per_lead", "cost_per_mql", "cost_per_customer",
                  "marketing_sourced_revenue", "marketing_sourced_share", "campaign_roi",
                  "leads_not_followed_up", "follow_up_rate"),
    "sales": ("won_revenue", "won_deals", "lost_deals", "win_rate", "avg_deal_size", "sales_cycle_days",
              "sales_cycle_days_median", "open_pipeline", "weighted_pipeline", "forecast", "pipeline_coverage",
              "sales_velocity", "opportunities", "sql_to_opportunity_rate", "opportunity_to_customer_rate",
              "leads_not_followed_up"),
    "finance": ("invoiced_revenue", "ledger_revenue", "cash_collected", "booked_to_invoiced_gap",
                "invoiced_to_ledger_gap", "sm_spend", "cac", "arpa", "ltv", "ltv_cac_ratio", "cac_payback_months",
                "budget_vs_actual"),
}
