"""Monthly and weekly chart axes (#15): one tick per period at its period, named as people name it."""
from __future__ import annotations

import datetime as dt

import pandas as pd

from meeting.charts import accuracy_figure, period_xaxis
from ui.charts import period_axis


def test_month_axis_ticks_each_month_including_december():
    axis, shown = period_axis(["2026-10-01", "2026-11-01", "2026-12-01", "2026-11-01"], None, "en-US")
    assert axis["type"] == "category"  # each bar sits on its month, not on a day plotly picks
    assert axis["tickvals"] == ["2026-10-01", "2026-11-01", "2026-12-01"]
    assert axis["ticktext"] == ["Oct 2026", "Nov 2026", "Dec 2026"]  # not "Oct 1 / Oct 31 / Nov 30"
    assert shown["2026-12-01"] == "Dec 2026"


def test_month_axis_in_french():
    axis, _ = period_axis(["2026-10", "2026-11", "2026-12"], "month", "fr-FR")
    assert axis["ticktext"] == ["oct. 2026", "nov. 2026", "déc. 2026"]


def test_week_axis_names_each_week_by_an_unambiguous_date():
    axis, _ = period_axis(["2026-11-30", "2026-12-07"], "week", "en-US")
    assert axis["ticktext"] == ["Nov 30, 2026", "Dec 7, 2026"]
    axis, _ = period_axis(["2026-11-30", "2026-12-07"], "week", "fr-FR")
    assert axis["ticktext"] == ["30 nov. 2026", "7 déc. 2026"]


def test_week_axis_keeps_a_week_starting_on_the_first_as_a_week():
    axis, _ = period_axis(["2026-06-01"], "week", "en-US")
    assert axis["ticktext"] == ["Jun 1, 2026"]


def test_other_categories_get_no_period_axis():
    assert period_axis(["France", "UK"], None, "en-US") is None


def test_meeting_axes_name_months_and_meeting_weeks():
    assert period_xaxis(["2026-12-01", "2026-10-01"], "month")["ticktext"] == ["Oct 2026", "Dec 2026"]
    table = pd.DataFrame({"week_start": [dt.date(2026, 11, 16), dt.date(2026, 11, 23)],
                          "forecast": [100.0, 120.0], "actual": [90.0, 90.0]})
    fig = accuracy_figure(table, "EUR", locale="fr-FR")
    assert list(fig.layout.xaxis.ticktext) == ["16 nov. 2026", "23 nov. 2026"]
    assert fig.layout.xaxis.type == "category"
