"""ui.charts builds each figure once per spec: the shared figure sends what plotly itself would."""
from __future__ import annotations

import json

import plotly.graph_objects as go

from ui.charts import _figure


def _spec(traces, layouts) -> str:
    return json.dumps({"traces": traces, "layouts": layouts})


def test_figure_sends_the_same_dict_as_a_figure_built_directly():
    bar = {"x": ["France", "UK"], "y": [1000.0, 500.0], "marker_color": ["#4C78A8", "#F58518"],
           "text": ["€1,000.00", "€500.00"], "textposition": "none"}
    layouts = [{"height": 320, "separators": ".,", "showlegend": False}, {"barmode": "group"}]
    direct = go.Figure(go.Bar(**bar))
    direct.update_layout(height=320, separators=".,", showlegend=False)
    direct.update_layout(barmode="group")
    assert _figure(_spec([["Bar", bar]], layouts)).to_dict() == direct.to_dict()


def test_figure_is_built_once_per_spec_and_again_for_another():
    funnel = {"y": ["Lead", "MQL"], "x": [40, 10], "text": ["40", "10 (25% of previous)"]}
    spec = _spec([["Funnel", funnel]], [{"height": 320}])
    first = _figure(spec)
    assert _figure(spec) is first
    other = _figure(_spec([["Funnel", {**funnel, "x": [40, 12]}]], [{"height": 320}]))
    assert other is not first
    assert other.to_dict()["data"][0]["x"] != first.to_dict()["data"][0]["x"]
