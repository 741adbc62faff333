"""KPI tiles: a metric's value in the chosen locale, its change vs the comparison period, and a
tooltip with the registry's definition and the data's as-of time. Unavailable values say why."""
from __future__ import annotations

import streamlit as st

from metrics.format import GAP_METRICS, format_value, gap_text, tile_value_text

NOT_AVAILABLE = "n/a"


def _fmt(value, unit: str, locale: str, currency: str) -> str:
    return format_value(value, unit, locale=locale, currency=currency)


def tile_text(value, unit: str, locale: str, currency: str, metric_id: str | None = None) -> str:
    """A value short enough for a tile (metrics.format.tile_value_text: "€853K", "55.6%",
    "€832K short of target"), the exact value in the tooltip."""
    return tile_value_text(value, unit, locale, currency, metric_id)


def delta_text(current, previous, unit: str, locale: str, currency: str) -> str | None:
    """The one place a change is shown: `current` minus `previous`, written in the metric's unit.

    Ratios change in percentage points ("+2.5 pts"); None when either side is not available.
    """
    if current is None or previous is None or current.value is None or previous.value is None:
        return None
    diff = current.value - previous.value
    sign = "-" if diff < 0 else "+"
    if unit == "ratio":
        text = _fmt(abs(diff), "ratio", locale, currency).replace("%", "").replace("\u202f", "").strip()
        return f"{sign}{text} pts"
    return f"{sign}{tile_text(abs(diff), unit, locale, currency)}"


def help_text(mv, compare=None, compare_label: str = "", locale: str = "en-US",
              currency: str = "EUR") -> str:
    """Tooltip: the definition, the as-of time, the comparison value and why a value is missing."""
    parts = [mv.definition]
    if mv.value is not None and mv.metric_id in GAP_METRICS:
        parts.append(f"Exact value: {gap_text(mv.value, locale, currency)}")
    elif mv.value is not None and mv.unit == "money":
        parts.append(f"Exact value: {_fmt(mv.value, mv.unit, locale, currency)}")
    if mv.as_of is not None:
        parts.append(f"Data as of {mv.as_of:%Y-%m-%d %H:%M} UTC.")
    if mv.value is None and mv.reason:
        parts.append(f"Not available: {mv.reason}")
    if compare is not None:
        parts.append(f"{compare_label}: {_fmt(compare.value, compare.unit, locale, currency)}"
                     + (f" ({compare.reason})" if compare.reason else ""))
    return "\n\n".join(p for p in parts if p)


def compare_label(fs, to_date: bool) -> str:
    """What the delta compares with: '(Previous period, same 54 days)' while the period runs."""
    cut = getattr(fs, "compare_to_date", None)
    if to_date and cut is not None:
        return f"{fs.compare_label}, same {cut.days} days ({cut.start.isoformat()} to {cut.end.isoformat()})"
    return fs.compare_label


def no_change_reason(compare) -> str | None:
    """Why a tile shows no change (a stock with no snapshot of the comparison point), else None."""
    if compare is not None and compare.value is None and compare.reason and compare.reason.startswith("no change"):
        return compare.reason
    return None


def tile(mv, fs, compare=None, *, label: str | None = None, down_is_good: bool = False,
         owner: str | None = None, container=None, to_date: bool = False, explain_no_change: bool = True) -> None:
    """One KPI tile in `container` (default: the current column); `explain_no_change=False` when
    the caller says once, for a whole row, why some tiles show no change."""
    where = container or st
    value = tile_text(mv.value, mv.unit, fs.locale, fs.currency, mv.metric_id)
    title = label or mv.label
    if owner:
        title = f"{title} · {owner}"
    where.metric(title, value,
                 delta=delta_text(mv, compare, mv.unit, fs.locale, fs.currency),
                 delta_color="inverse" if down_is_good else "normal",
                 help=help_text(mv, compare, compare_label(fs, to_date), fs.locale, fs.currency),
                 border=True)
    if mv.value is None:
        where.caption(f"Not available: {mv.reason or 'no data for these filters'}")
    elif explain_no_change and (why := no_change_reason(compare)):
        where.caption(why[0].upper() + why[1:] + ".")


def tile_row(values: dict, fs, compare_values: dict | None, metric_ids, registry,
             owners: dict[str, str] | None = None, big_first: bool = False) -> None:
    """A row of tiles, one per metric id, in the order given (the first one larger if `big_first`)."""
    ids = list(metric_ids)
    widths = [2] + [1] * (len(ids) - 1) if big_first else [1] * len(ids)
    unchanged: dict[str, list[str]] = {}  # why no change is shown -> the tiles it applies to
    for col, mid in zip(st.columns(widths), ids):
        mdef = registry.get(mid)
        compare = (compare_values or {}).get(mid)
        if values[mid].value is not None and (why := no_change_reason(compare)):
            unchanged.setdefault(why, []).append(values[mid].label)
        with col.container(key="big_tile") if big_first and mid == ids[0] else col:
            tile(values[mid], fs, compare, down_is_good=bool(mdef and mdef.down_is_good),
                 owner=(owners or {}).get(mid), to_date=bool(mdef and mdef.compare == "to_date"),
                 explain_no_change=False)
    for why, labels in unchanged.items():  # once per row, naming the tiles, not under each of them
        names = labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]
        st.caption(f"No change shown for {names}: {why.split(': ', 1)[1]}.")
