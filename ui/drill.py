"""Drill-down: from a KPI or a chart segment to the deals or contacts behind it."""
from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import replace

import streamlit as st

from metrics import REGISTRY
from metrics.format import format_period

from . import cache
from .labels import display
from .tables import table

# breakdown dimension -> Filters field it narrows
SEGMENT_FIELDS = {"region": "regions", "product_line": "product_lines", "source": "sources",
                  "team": "teams", "owner": "owners", "pipeline": "pipelines"}
DEAL_MONEY = ("amount", "amount_eur", "amount_reporting", "weighted_amount", "value")


def record_kind(metric_id: str) -> str | None:
    """'deals' or 'contacts': which records a metric counts (from its registry sources)."""
    mdef = REGISTRY.get(metric_id)
    if mdef is None:
        return None
    first = mdef.sources[0] if mdef.sources else None  # the records it counts come first
    return first if first in ("deals", "contacts") else None


def narrowed(filters, by: str, segment: str, options: dict | None = None):
    """`filters` restricted to one chart segment (a region, a month ...); None if not narrowable."""
    if by in SEGMENT_FIELDS:
        value = segment
        if by == "owner" and options:  # breakdowns label owners by name
            value = {name: oid for oid, name in options.get("owners", [])}.get(segment, segment)
        return replace(filters, **{SEGMENT_FIELDS[by]: (value,)})
    try:
        if by == "month":
            first = dt.date.fromisoformat(segment[:7] + "-01")
            last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
        elif by == "week":
            first = dt.date.fromisoformat(segment[:10])
            last = first + dt.timedelta(days=6)
        else:
            return None
    except ValueError:
        return None
    return filters.with_period(max(first, filters.start), min(last, filters.end))


def records_table(ctx, metric_id: str, filters, *, key: str, title: str | None = None) -> None:
    """The deals or contacts behind `metric_id` under `filters` (HubSpot links when synced)."""
    kind = record_kind(metric_id)
    if kind is None:
        st.caption("This number is not made of deals or contacts: no records to list.")
        return
    fn = "deals_behind" if kind == "deals" else "contacts_behind"
    df = cache.detail(ctx.engine, "metrics.details", fn, filters, metric_id, limit=500)
    if title:
        st.markdown(f"**{title}**")
    money = [c for c in df.columns if c in DEAL_MONEY or c.endswith("_amount")]
    table(df, ctx.fs, key=key, name=f"{metric_id}_{kind}", money=money, days=("age_days", "age_hours"),
          ratio=("probability",),
          empty=f"No {kind} behind this number for these filters.")
    if len(df) >= 500:
        st.caption("Showing the first 500; download or narrow the filters for the rest.")


def kpi_drill(ctx, metric_ids, *, key: str) -> None:
    """An expander to list the records behind one of the page's KPIs."""
    ids = [m for m in metric_ids if record_kind(m)]
    if not ids:
        return
    with st.expander("Drill down: the deals and contacts behind a number"):
        # nothing chosen until asked: the records table is fetched and sent only for a chosen number
        chosen = st.selectbox("Number", ids, key=f"{key}_metric", index=None,
                              placeholder="Choose a number to list its records",
                              format_func=lambda m: REGISTRY[m].label)
        if chosen:
            records_table(ctx, chosen, ctx.fs.filters, key=f"{key}_records")


def segment_drill(ctx, metric_id: str, by: str, segment: str | None, *, key: str) -> None:
    """Below a chart: the records behind the clicked segment."""
    if not segment:
        return
    narrowed_filters = narrowed(ctx.fs.filters, by, segment, cache.filter_options(ctx.engine))
    if narrowed_filters is None:
        return
    shown = (format_period(segment, by, ctx.fs.locale) if by in ("month", "week")
             else display(by, segment, cache.current_labels()))
    records_table(ctx, metric_id, narrowed_filters, key=key,
                  title=f"Behind {'the week of ' if by == 'week' else ''}{shown}")
