"""Small page scaffolding shared by the role pages: header, tile rows with comparison, segments."""
from __future__ import annotations

from dataclasses import replace

import streamlit as st

from meeting import snapshots
from metrics import REGISTRY
from metrics.details import FORECAST_METRICS, OPEN_METRICS

from . import cache
from .tiles import tile_row


def header(title: str, ctx, caption: str | None = None) -> None:
    st.title(title)
    st.caption(" · ".join(p for p in (ctx.fs.period_label, caption) if p))


def values_with_compare(ctx, metric_ids) -> tuple[dict, dict | None]:
    """The metrics for the chosen filters, and for the comparison filters (None without comparison).

    While the period is in progress, a metric compared to date (a flow: revenue, leads) gets the
    comparison period's same first days; a plan or stock (target, pipeline) the whole of it."""
    ids = list(dict.fromkeys(metric_ids))
    now = cache.metric_values(ctx.engine, ids, ctx.fs.filters)
    if not ctx.fs.compare:
        return now, None
    to_date = getattr(ctx.fs, "compare_to_date", None)
    by_kind = {kind: [m for m in ids if (REGISTRY[m].compare if m in REGISTRY else "whole") == kind]
               for kind in ("to_date", "whole")}
    before = {}
    if to_date is not None and by_kind["to_date"]:
        before.update(cache.metric_values(ctx.engine, by_kind["to_date"], to_date))
    rest = by_kind["whole"] + (by_kind["to_date"] if to_date is None else [])
    if rest:
        before.update(cache.metric_values(ctx.engine, rest, ctx.fs.compare))
    before.update(_stocks_then(ctx, [m for m in ids if m in STOCKS_NOW], now))
    return now, before


# Read from the deals open today: for a past period, today's value is what was left open of it,
# not what it was at the same point of that period, so it is never the comparison.
STOCKS_NOW = OPEN_METRICS + FORECAST_METRICS


def _stocks_then(ctx, ids: list[str], now: dict) -> dict:
    """The comparison of the metrics read from today's open deals: the value as it stood at the
    same point of the comparison period, from the weekly meeting snapshot frozen that day (whole
    company, quarter presets); else no value, with the reason shown under the tile."""
    c = ctx.fs.compare
    if not ids or c is None:
        return {}
    c = c.to_date()
    sliced = any((c.regions, c.product_lines, c.owners, c.teams, c.pipelines, c.sources))
    found, week = ({}, None) if sliced else snapshots.stocks_as_of(ctx.engine, ids, c.start, c.plan_end or c.end, c.end)
    out = {}
    for mid in ids:
        mv = now[mid]
        if mid in found:
            why = f"as it stood on {c.end.isoformat()}, from the meeting snapshot of the week of {week.isoformat()}"
            out[mid] = replace(mv, value=found[mid], reason=why)
        else:
            out[mid] = replace(mv, value=None, reason=(
                f"no change shown: no meeting snapshot of {c.end.isoformat()} (the same point of the "
                f"comparison period){' for the whole company only' if sliced else ''}; today's deals "
                f"cannot say what it was then"))
    return out


def kpi_row(ctx, metric_ids, *, owners: dict[str, str] | None = None, big_first: bool = False) -> dict:
    """Draw one row of tiles; returns the values so the page can reuse them (same numbers)."""
    now, before = values_with_compare(ctx, metric_ids)
    tile_row(now, ctx.fs, before, metric_ids, REGISTRY, owners, big_first=big_first)
    return now


def kpi_rows(ctx, *rows) -> dict:
    """Rows of tiles drawn one under the other from one computation of all their metrics: the
    figures they share (the period's won and lost deals, the funnel counts) are read once, not
    once a row. Returns the values."""
    now, before = values_with_compare(ctx, [m for row in rows for m in row])
    for metric_ids in rows:
        tile_row(now, ctx.fs, before, list(metric_ids), REGISTRY, None)
    return now


def supports(metric_id: str, by: str) -> bool:
    mdef = REGISTRY.get(metric_id)
    return bool(mdef and by in mdef.breakdowns)


def grain_picker(key: str, options=("month", "week")) -> str:
    choice = st.segmented_control("Grain", list(options), key=key, default=options[0],
                                  format_func=str.capitalize, label_visibility="collapsed")
    return choice or options[0]


def lazy_tabs(labels: list[str], key: str) -> list:
    """Tabs whose content is computed only while open (a click reruns the page)."""
    return list(st.tabs(labels, key=key, on_change="rerun"))


def draw_tabs(ctx, sections: dict, key: str) -> None:
    """Lazy tabs, one per {label: draw(ctx)}: only the open tab is computed and drawn."""
    for tab, draw in zip(lazy_tabs(list(sections), key), sections.values()):
        if tab.open:
            with tab:
                draw(ctx)


def lazy_expander(label: str, key: str):
    """An expander whose content is computed and sent only while open (opening it reruns the page):
    `with (exp := lazy_expander(...)): if exp.open: ...`."""
    return st.expander(label, key=key, on_change="rerun")
