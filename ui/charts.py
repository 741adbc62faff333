"""Plotly charts drawn the same way on every page: fixed colours (meeting.colors), axes and hover
labels written in the chosen locale, and a plain message instead of an empty chart."""
from __future__ import annotations

import json

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from meeting.colors import color_for
from metrics.format import format_amount, format_percent, format_period, format_value, period_grain

from .cache import current_labels
from .labels import display

SEPARATORS = {"en-US": ".,", "fr-FR": ", "}  # plotly: decimal mark, then thousands separator
SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}
HEIGHT = 320


def _fmt(value, unit: str, fs) -> str:
    """A value label: amounts without cents from €1,000 (the tiles' tooltips keep them), percentages
    at the one precision of every page, the rest as format_value."""
    if unit == "money":
        return format_amount(value, fs.currency, fs.locale)
    if unit == "ratio":
        return format_percent(value, fs.locale)
    return format_value(value, unit, locale=fs.locale, currency=fs.currency)


def period_axis(xs, grain: str | None, locale: str) -> tuple[dict, dict[str, str]] | None:
    """A category x axis with one tick per period, each bar or point at its period, labelled as
    people name it ("Oct 2026", "oct. 2026"; weeks by their first day, "Oct 5, 2026"); and the
    label of each stored value (for hovers). None when the values are not periods."""
    values = sorted({str(x) for x in xs})
    grain = grain or period_grain(values)
    if grain not in ("month", "week", "day") or period_grain(values) is None:
        return None
    shown = {v: format_period(v, grain, locale) for v in values}
    axis = dict(type="category", categoryorder="array", categoryarray=values, tickmode="array",
                tickvals=values, ticktext=[shown[v] for v in values])
    return axis, shown


def _axis(unit: str, fs) -> dict:
    if unit == "ratio":
        return {"tickformat": ".0%"}
    if unit == "money":
        symbol = SYMBOLS.get(fs.currency, fs.currency + " ")
        if fs.locale == "fr-FR":
            return {"tickformat": "~s", "ticksuffix": f" {symbol}"}
        return {"tickformat": "~s", "tickprefix": symbol}
    return {"tickformat": "~s"}


def _layout(fs, unit: str, title: str | None, legend: bool) -> dict:
    """The shared layout (applied first); draws the title above the figure, so it never collides
    with the legend."""
    if title:
        st.markdown(f"**{title}**")
    return dict(
        height=HEIGHT, margin=dict(l=10, r=10, t=30 if legend else 10, b=10),
        separators=SEPARATORS.get(fs.locale, ".,"), showlegend=legend, hovermode="closest",
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0),
        yaxis=_axis(unit, fs),
    )


def _num(v) -> float | None:
    """A plain float for the figure spec (NaN and None become None, numpy scalars float)."""
    return None if v is None or pd.isna(v) else float(v)


def _plain(value):
    """JSON for the values a spec may hold besides plain ones: numpy and Decimal numbers, dates."""
    return float(value) if hasattr(value, "__float__") else str(value)


class _BuiltFigure(go.Figure):
    """A finished figure whose dict (what st.plotly_chart sends) is computed once, not on every
    draw: plotly's to_dict deep-copies and re-encodes every array each time. Read-only."""

    def to_dict(self) -> dict:
        return self._built


@st.cache_resource(show_spinner=False, max_entries=256)
def _figure(spec: str) -> go.Figure:
    """The figure of a JSON spec {"traces": [[type, kwargs]], "layouts": [kwargs]}, built and
    validated once per process and spec, then shared by every session (never changed)."""
    d = json.loads(spec)
    fig = _BuiltFigure([getattr(go, kind)(**kwargs) for kind, kwargs in d["traces"]])
    for update in d["layouts"]:
        fig.update_layout(**update)
    fig._built = go.Figure.to_dict(fig)
    return fig


def no_data(message: str) -> None:
    st.info(message, icon=":material/info:")


def segment_bars(segments, dimension: str, fs, *, title: str | None = None, key: str,
                 horizontal: bool = False) -> str | None:
    """Bars of a metric breakdown [(segment, MetricValue)], one colour per segment.

    Returns the segment the user clicked (for drill-down), or None.
    """
    rows = [(str(seg), mv) for seg, mv in segments if mv.value is not None]
    if not rows:
        reasons = {mv.reason for _s, mv in segments if mv.reason}
        no_data(f"{title or 'Chart'}: no data for these filters"
                + (f" ({'; '.join(sorted(reasons))})" if reasons else "."))
        return None
    unit = rows[0][1].unit
    names = [r[0] for r in rows]
    values = [r[1].value for r in rows]
    text = [_fmt(v, unit, fs) for v in values]
    labels = current_labels()
    shown = [display(dimension, n, labels) for n in names]
    bar = dict(
        x=values if horizontal else names, y=names if horizontal else values,
        orientation="h" if horizontal else "v",
        marker_color=[color_for(dimension, n) for n in names], text=text,
        textposition=_label_positions(values) if len(names) <= 12 else "none", textangle=0, cliponaxis=False,
        customdata=names, hovertext=shown, hovertemplate="%{hovertext}: %{text}<extra></extra>")
    layouts = [_layout(fs, unit, title, legend=False)]
    if shown != names:  # category axis shows the human names; clicks still return the stored value
        layouts.append({"yaxis" if horizontal else "xaxis": dict(tickmode="array", tickvals=names, ticktext=shown)})
    if horizontal:  # the value axis is x; y holds the names, without any currency suffix
        layouts.append(dict(xaxis=_axis(unit, fs), yaxis=dict(autorange="reversed", tickformat="",
                                                             tickprefix="", ticksuffix="")))
    return _show([("Bar", bar)], layouts, key)


def _label_positions(values: list[float]) -> list[str]:
    """Each bar's value label inside the bar, or just past its end when the bar is too short to
    hold it (plotly's "auto" shrinks such a label to an unreadable size instead)."""
    longest = max((abs(v) for v in values), default=0) or 1
    return ["inside" if abs(v) >= 0.25 * longest else "outside" for v in values]


def time_lines(series: dict[str, list], fs, *, dimension: str = "series", title: str | None = None,
               key: str, kind: str = "line", grain: str | None = None) -> str | None:
    """One line (or bar group) per named series of [(period, MetricValue)], shared x axis;
    `grain` ('month' | 'week') labels the axis by period instead of by plotly's own date ticks."""
    traces = []
    unit = None
    every = [str(p) for points in series.values() for p, mv in points if mv.value is not None]
    axis = period_axis(every, grain, fs.locale) if grain in ("month", "week") else None
    when = axis[1] if axis else {}
    for name, points in series.items():
        pts = [(str(p), mv) for p, mv in points if mv.value is not None]
        if not pts:
            continue
        unit = unit or pts[0][1].unit
        xs, ys = [p for p, _ in pts], [mv.value for _, mv in pts]
        text = [_fmt(v, unit, fs) for v in ys]
        common = dict(x=xs, y=ys, name=name, text=text, customdata=xs, hovertext=[when.get(x, x) for x in xs],
                      hovertemplate=f"{name} %{{hovertext}}: %{{text}}<extra></extra>")
        if kind == "bar":
            traces.append(("Bar", dict(marker_color=color_for(dimension, name), textposition="none", **common)))
        else:
            traces.append(("Scatter", dict(mode="lines+markers", line=dict(color=color_for(dimension, name)),
                                           **common)))
    if not traces:
        no_data(f"{title or 'Chart'}: no data for these filters.")
        return None
    layouts = [_layout(fs, unit or "count", title, legend=len(traces) > 1)]
    if kind == "bar":
        layouts.append(dict(barmode="group"))
    if axis:
        layouts.append(dict(xaxis=axis[0]))
    return _show(traces, layouts, key)


def category_bars(df: pd.DataFrame, x: str, y: str, fs, *, unit: str, color_key: str, dimension: str,
                  title: str | None = None, key: str, hover_extra: str | None = None) -> str | None:
    """One bar per row of a metrics.details frame, coloured by `color_key` on `dimension` (e.g. the
    stage id on "stage"), labelled by `x`. Returns the clicked row's `color_key` value."""
    if df is None or df.empty or df[y].fillna(0).abs().sum() == 0:
        no_data(f"{title or 'Chart'}: no data for these filters.")
        return None
    names = [str(v) for v in df[x]]
    values = [0.0 if pd.isna(v) else float(v) for v in df[y]]
    text = [_fmt(v, unit, fs) for v in values]
    if hover_extra:
        text = [f"{t_} ({hover_extra.replace('_', ' ')}: {_fmt(None if pd.isna(e) else float(e), unit, fs)})"
                for t_, e in zip(text, df[hover_extra])]
    bar = dict(x=names, y=values, marker_color=[color_for(dimension, k) for k in df[color_key]],
               customdata=[str(k) for k in df[color_key]], text=text, textposition="none",
               hovertemplate="%{x}: %{text}<extra></extra>")
    return _show([("Bar", bar)], [_layout(fs, unit, title, legend=False)], key)


def frame_bars(df: pd.DataFrame, x: str, y: str | list[str], fs, *, unit: str, color: str | None = None,
               dimension: str = "series", title: str | None = None, key: str,
               barmode: str = "group", kind: str = "bar") -> str | None:
    """Bars (or lines) of a metrics.details DataFrame: one trace per `y` column, or per value of `color`."""
    if df is None or df.empty:
        no_data(f"{title or 'Chart'}: no data for these filters.")
        return None
    traces = []
    axis = period_axis(df[x], None, fs.locale) if x in ("month", "period", "week") else None
    when = axis[1] if axis else {}
    if color:
        groups = [(str(name), g) for name, g in df.groupby(color, sort=False, dropna=False)]
        ycol = y if isinstance(y, str) else y[0]
        pairs = [(name, g[x], g[ycol]) for name, g in groups]
        labels = current_labels()
        shown = {name: display(dimension, name, labels) for name, _g in groups}
        cdim = dimension
    else:
        ys = [y] if isinstance(y, str) else list(y)
        pairs = [(col.replace("_", " ").capitalize(), df[x], df[col]) for col in ys]
        cdim = "series"
        shown = {}
    for name, xs, ys in pairs:
        xs = [str(v) for v in xs]
        text = [_fmt(None if pd.isna(v) else float(v), unit, fs) for v in ys]
        label = shown.get(name, name)
        common = dict(x=xs, y=[_num(v) for v in ys], name=label, text=text, customdata=xs,
                      hovertext=[when.get(v, v) for v in xs],
                      hovertemplate=f"{label} %{{hovertext}}: %{{text}}<extra></extra>")
        key_name = name.lower() if cdim == "series" else name
        if kind == "line":
            traces.append(("Scatter", dict(mode="lines+markers", line=dict(color=color_for(cdim, key_name)),
                                           **common)))
        else:
            traces.append(("Bar", dict(marker_color=color_for(cdim, key_name), textposition="none", **common)))
    layouts = [_layout(fs, unit, title, legend=len(traces) > 1)]
    if kind == "bar":
        layouts.append(dict(barmode=barmode))
    if axis:
        layouts.append(dict(xaxis=axis[0]))
    return _show(traces, layouts, key)


NO_RECURRING = "(it needs invoices with a service period, or line items with recurring billing on won deals)"
MOVEMENT_SERIES = (("new_mrr", "New"), ("expansion_mrr", "Expansion"), ("reactivation_mrr", "Reactivation"),
                   ("contraction_mrr", "Contraction"), ("churned_mrr", "Churn"))


def mrr_movements(df: pd.DataFrame, fs, *, title: str | None = None, key: str) -> str | None:
    """The MRR movements of metrics.recurring.movements_by_month: new, expansion and reactivation
    stacked up, contraction and churn stacked down (negative in the frame), net new MRR as a line.
    Returns the clicked month."""
    if df is None or df.empty:
        no_data(f"{title or 'MRR movements'}: no recurring revenue for these filters {NO_RECURRING}.")
        return None
    axis = period_axis(df["month"], "month", fs.locale)
    when = axis[1] if axis else {}
    xs = [str(v) for v in df["month"]]
    traces = []
    for col, label in (*MOVEMENT_SERIES, ("net_new_mrr", "Net new MRR")):
        ys = [_num(v) for v in df[col]]
        text = [_fmt(v, "money", fs) for v in ys]
        common = dict(x=xs, y=ys, name=label, text=text, customdata=xs, hovertext=[when.get(v, v) for v in xs],
                      hovertemplate=f"{label} %{{hovertext}}: %{{text}}<extra></extra>")
        if col == "net_new_mrr":
            traces.append(("Scatter", dict(mode="lines+markers", line=dict(color=color_for("series", col)), **common)))
        else:
            traces.append(("Bar", dict(marker_color=color_for("series", col), textposition="none", **common)))
    layouts = [_layout(fs, "money", title, legend=True), dict(barmode="relative")]
    if axis:
        layouts.append(dict(xaxis=axis[0]))
    return _show(traces, layouts, key)


def cohort_heatmap(df: pd.DataFrame, fs, *, value: str = "pct_mrr", title: str | None = None, key: str) -> None:
    """metrics.recurring.cohorts as a heatmap: a row per cohort (first month with MRR), a column
    per month since, the share retained (`pct_mrr` or `pct_customers`) written in each cell."""
    if df is None or df.empty:
        no_data(f"{title or 'Cohorts'}: no recurring revenue for these filters {NO_RECURRING}.")
        return
    grid = df.pivot(index="cohort", columns="months_since", values=value).sort_index()
    counts = df.pivot(index="cohort", columns="months_since", values="customers").sort_index()
    cohorts = [str(c) for c in grid.index]
    shown = {c: format_period(c, "month", fs.locale) for c in cohorts}
    z = [[_num(v) for v in row] for row in grid.to_numpy()]
    text = [[("" if v is None else _fmt(v, "ratio", fs)) for v in row] for row in z]
    hover = [[("" if v is None else f"{shown[c]}, month {k}: {_fmt(v, 'ratio', fs)} "
               f"({int(n) if not pd.isna(n) else 0} customers)")
              for k, v, n in zip(grid.columns, row, nrow)] for c, row, nrow in zip(cohorts, z, counts.to_numpy())]
    heat = dict(z=z, x=[int(k) for k in grid.columns], y=[shown[c] for c in cohorts], text=text,
                texttemplate="%{text}", hovertext=hover, hovertemplate="%{hovertext}<extra></extra>",
                colorscale="Blues", zmin=0, zmax=max(1.0, max((v for row in z for v in row if v is not None),
                                                              default=1.0)), showscale=False)
    layout = _layout(fs, "ratio", title, legend=False)
    layout.update(height=max(HEIGHT, 28 * len(cohorts) + 60),
                  xaxis=dict(title="months since the first month with MRR", dtick=1),
                  yaxis=dict(autorange="reversed", type="category"))
    _show([("Heatmap", heat)], [layout], key)


def funnel_chart(df: pd.DataFrame, fs, *, title: str | None = None, key: str) -> str | None:
    """The funnel of metrics.details.funnel: count per stage with % of previous stage."""
    if df is None or df.empty or df["count"].fillna(0).sum() == 0:
        no_data(f"{title or 'Funnel'}: no contacts in the funnel for these filters.")
        return None
    labels = [str(v) for v in df["label"]]
    counts = [0 if pd.isna(v) else float(v) for v in df["count"]]
    pct = [None if pd.isna(v) else float(v) for v in df["pct_of_previous"]]
    text = [_fmt(c, "count", fs) + ("" if p is None else f" ({_fmt(p, 'ratio', fs)} of previous)")
            for c, p in zip(counts, pct)]
    medians = df["median_days_from_previous"] if "median_days_from_previous" in df else [None] * len(df)
    hover = [t + ("" if m is None or pd.isna(m) else f"<br>median {_fmt(float(m), 'days', fs)} after the previous stage")
             for t, m in zip(text, medians)]
    funnel = dict(
        y=labels, x=counts, text=text, textinfo="text", customdata=[str(s) for s in df["stage"]],
        hovertext=hover, marker=dict(color=[color_for("stage", s) for s in df["stage"]]),
        hovertemplate="%{y}: %{hovertext}<extra></extra>")
    return _show([("Funnel", funnel)], [_layout(fs, "count", title, legend=False), dict(yaxis={})], key)


def _show(traces: list, layouts: list[dict], key: str) -> str | None:
    fig = _figure(json.dumps({"traces": traces, "layouts": layouts}, separators=(",", ":"), default=_plain))
    event = st.plotly_chart(fig, key=key, on_select="rerun", selection_mode="points",
                            config={"displaylogo": False})
    try:
        points = event.selection.points if event else []
    except AttributeError:
        return None
    if not points:
        return None
    point = points[0]
    return str(point.get("customdata") if point.get("customdata") is not None
               else point.get("x") if point.get("x") is not None else point.get("y"))
