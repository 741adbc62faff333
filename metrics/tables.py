"""The row-level and grouped tables of the metrics contract, by module and name: the callables
pages ask for through ui.cache.detail (which caches them by name), imported here, never looked up
by string through importlib. A table not listed here cannot be asked for."""
from __future__ import annotations

from typing import Callable

import pandas as pd

from . import details, feedback_details, finance_details, quotas, recurring

TABLES: dict[str, dict[str, Callable[..., pd.DataFrame]]] = {
    "metrics.details": {fn.__name__: fn for fn in (
        details.deals_behind, details.contacts_behind, details.burnt_leads, details.funnel,
        details.pipeline_by_stage, details.forecast_by_category, details.past_due_deals, details.owner_table, details.team_table,
        details.campaign_table, details.source_quality, details.lost_reasons_by_source,
        details.leads_by_source_over_time)},
    "metrics.feedback_details": {fn.__name__: fn for fn in (
        feedback_details.lead_review_queue, feedback_details.feedback_by, feedback_details.lead_rejections,
        feedback_details.burnt_leads_valued, feedback_details.burnt_value_by_owner,
        feedback_details.source_values)},
    "metrics.finance_details": {fn.__name__: fn for fn in (
        finance_details.revenue_bridge, finance_details.unmatched_items, finance_details.budget_vs_actual_table,
        finance_details.spend_by_channel)},
    "metrics.quotas": {fn.__name__: fn for fn in (
        quotas.owner_quota_table, quotas.team_quota_table, quotas.quota_tables, quotas.behind_pace)},
    "metrics.recurring": {fn.__name__: fn for fn in (
        recurring.movements_by_month, recurring.cohorts, recurring.movers, recurring.ltv_note,
        recurring.source_note)},
}


def table_function(module: str, name: str) -> Callable[..., pd.DataFrame]:
    """The table `name` of `module` ('metrics.details', 'metrics.feedback_details', 'metrics.finance_details',
    'metrics.quotas' or 'metrics.recurring')."""
    if module not in TABLES:
        raise ValueError(f"{module} is not a metrics detail module ({', '.join(TABLES)})")
    if name not in TABLES[module]:
        raise ValueError(f"{module} has no table {name!r} ({', '.join(TABLES[module])})")
    return TABLES[module][name]


__all__ = ["TABLES", "table_function"]
