"""The meeting's charts as plain plotly figures, drawn the same on the page and in the HTML pack."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from metrics.format import format_count, format_day, format_period, period_grain

from .colors import color_for

from .waterfall import Waterfall

UP, DOWN, TOTAL = "#54A24B", "#E45756", "#4C78A8"


def _layout(fig: go.Figure, title: str, currency: str) -> go.Figure:
    fig.update_layout(title=title, margin=dict(l=10, r=10, t=50, b=10), height=380,
                      yaxis_title=currency, template="plotly_white", showlegend=fig.layout.showlegend)
    return fig


def waterfall_figure(wf: Waterfall, title: str = "Pipeline waterfall", locale: str = "en-US") -> go.Figure:
    """Start and end as totals, every move as a relative bar (major units of the reporting currency),
    each labelled with its number of deals written in `locale` ("59,982 deals")."""
    measures = ["absolute" if b.category == "start" else "total" if b.category == "end" else "relative"
                for b in wf.bars]
    fig = go.Figure(go.Waterfall(
        x=[b.label for b in wf.bars], y=[b.amount for b in wf.bars], measure=measures,
        text=[f"{format_count(len(b.deals), locale)} deals" for b in wf.bars], textposition="outside",
        increasing={"marker": {"color": UP}}, decreasing={"marker": {"color": DOWN}},
        totals={"marker": {"color": TOTAL}}, connector={"line": {"color": "#BAB0AC"}}))
    fig.update_layout(showlegend=False)
    return _layout(fig, title, wf.currency)


def period_xaxis(values, grain: str | None = None, locale: str = "en-US") -> dict:
    """A category axis with one tick per period, each point at its period, labelled as people name
    it: months "Oct 2026" ("oct. 2026" in fr-FR), weeks and days by their date ("Nov 16, 2026")."""
    keys = sorted({str(v) for v in values})
    grain = grain or period_grain(keys)
    return dict(type="category", categoryorder="array", categoryarray=keys, tickmode="array", tickvals=keys,
                ticktext=[format_period(k, grain, locale) for k in keys])


def accuracy_figure(table: pd.DataFrame, currency: str, title: str = "Forecast vs actual",
                    locale: str = "en-US") -> go.Figure:
    """The forecast recorded each week beside the actual won revenue of its quarter; the x axis
    names each meeting week by its Monday ("Nov 16, 2026")."""
    fig = go.Figure()
    if not table.empty:
        x = [d.isoformat() for d in table.week_start]
        shown = [format_day(d, locale) for d in table.week_start]
        fig.add_trace(go.Scatter(x=x, y=table.forecast, name="Forecast", mode="lines+markers", hovertext=shown,
                                 hovertemplate="Forecast, week of %{hovertext}: %{y:,.0f}<extra></extra>",
                                 line={"color": color_for("series", "forecast")}))
        fig.add_trace(go.Scatter(x=x, y=table.actual, name="Actual (won in the quarter)", mode="lines+markers",
                                 hovertext=shown,
                                 hovertemplate="Actual, week of %{hovertext}: %{y:,.0f}<extra></extra>",
                                 line={"color": color_for("series", "actual")}))
        fig.update_layout(xaxis=period_xaxis(x, "week", locale))
    fig.update_layout(showlegend=True, xaxis_title="Meeting week (Monday)")
    return _layout(fig, title, currency)


__all__ = ["waterfall_figure", "accuracy_figure", "period_xaxis"]
