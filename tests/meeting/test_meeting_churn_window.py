"""Which month start the meeting's churned and contracted customers are read on (meeting.report)."""
from __future__ import annotations

import datetime as dt

from meeting.report import churn_window_of

D = dt.date


def test_a_week_holding_a_month_start_shows_that_month_start():
    # Monday 27 Apr - Sunday 3 May 2026 holds 1 May
    assert churn_window_of((D(2026, 4, 27), D(2026, 5, 3))) == (D(2026, 4, 27), D(2026, 5, 3))


def test_a_week_without_one_shows_the_last_month_start_before_its_end():
    # Monday 16 - Sunday 22 Nov 2026: the last month start is 1 Nov
    assert churn_window_of((D(2026, 11, 16), D(2026, 11, 22))) == (D(2026, 11, 1), D(2026, 11, 22))
