"""One meaning per label (#15): a label names one thing with one scope on every page and in both
meeting packs; a gap is written in one convention; a rate beside two counts is their ratio.

The store, worked out by hand (tests/pages/conftest.py's tiny store plus):
  open d6 1,000.00 closing 25 Mar 2026 and d7 400.00 closing 1 Feb 2026 (20% stage)
  revenue target 3,000.00 (Jan), 3,000.00 (Feb), 3,100.00 (Mar)
The meeting of the week of Monday 9 March 2026 reviews 2 - 8 March (frozen at 9 March 00:00); the
pages are opened on Sunday 8 March ("Quarter to date": 1 Jan - 8 Mar, plans to 31 Mar):
  North Star revenue 1,500.00 (d1 1,000.00 on 10 Feb + d2 500.00 on 5 Mar)
  Revenue target 9,100.00; Gap to target 9,100.00 - 1,500.00 = 7,600.00 short of target
  Open pipeline d6 + d7 = 1,400.00; Forecast 1,500.00 + 20% x 1,400.00 = 1,780.00
  Pipeline coverage 1,400.00 / 7,600.00 = 0.2x
  Won this week (2 - 8 Mar): d2 500.00; Pipeline closing this week: none, 0.00
"""
from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from openpyxl import load_workbook

import ui.filters
from meeting.pack import to_html, to_xlsx
from meeting.report import week_report
from meeting.snapshots import take_snapshot
from metrics.format import gap_text, tile_value_text, vs_target_text
from metrics.pages import MEETING_WEEK
from tests.pages.conftest import build_plan_store, run_app, tiles

WEEK = dt.date(2026, 3, 9)
ROLE_PAGES = ["pages/ceo.py", "pages/marketing.py", "pages/sales.py", "pages/finance.py"]


def test_one_sign_convention_for_every_gap():
    assert gap_text(832105.0) == "€832,105 short of target"
    assert gap_text(832105.0, compact=True) == "€832K short of target"
    assert gap_text(-12000.0, compact=True) == "€12.0K ahead of target"
    assert gap_text(0.0) == "on target"
    assert vs_target_text(-832105.0) == gap_text(832105.0)  # revenue - target, the same words
    assert vs_target_text(5000.0, down_is_good=True) == "€5,000 over target"  # spend above its budget
    assert vs_target_text(-0.025, "ratio") == "2.5 pts short of target"
    assert vs_target_text(-0.534, "share") == "53.4% short of target"
    assert gap_text(832105.0, "fr-FR", compact=True) == "832\u00a0k€ short of target"


@pytest.fixture
def labelled_store(make_store_url, backend, app_env, monkeypatch):
    url = make_store_url(backend)
    engine = build_plan_store(url)
    take_snapshot(engine, week_start=WEEK, now=dt.datetime(2026, 3, 9, 8, 0))
    app_env(url)
    monkeypatch.setattr(ui.filters, "utcnow", lambda: dt.datetime(2026, 3, 8, 12, 0))
    return engine


def _html_headline(page: str) -> dict[str, str]:
    return {html_label: value for html_label, value in
            re.findall(r'<th class="label">(.*?)</th><td class="n headline"[^>]*>(.*?)</td>', page)}


def test_a_label_shows_one_number_on_every_page_and_in_both_packs(labelled_store):
    seen: dict[str, dict[str, str]] = {}
    at = run_app(None, {"period": "this_quarter"})
    for page in ROLE_PAGES:
        run_app(page, at=at)
        for label, value in tiles(at).items():
            seen.setdefault(label, {})[page] = value
    at.query_params["week"] = WEEK.isoformat()
    run_app("pages/meeting.py", at=at)
    for label, value in tiles(at).items():
        seen.setdefault(label, {})["meeting page"] = value
    report = week_report(labelled_store, WEEK)
    for label, value in _html_headline(to_html(report)).items():
        seen.setdefault(label, {})["HTML pack"] = value
    sheet = load_workbook(io.BytesIO(to_xlsx(report)))["Headline"]
    header = [c.value for c in sheet[1]]
    for row in sheet.iter_rows(min_row=2, values_only=True):
        r = dict(zip(header, row))
        seen.setdefault(r["label"], {})["XLSX pack"] = tile_value_text(r["value"], r["unit"], "en-US", "EUR",
                                                                       r["metric_id"])
    for label, places in seen.items():
        assert len(set(places.values())) == 1, f"{label!r} shows different numbers: {places}"

    # the hand-worked values, under one label each, wherever they are shown
    expected = {"North Star revenue": "€1,500", "Revenue target": "€9,100", "Forecast": "€1,780",
                "Gap to target": "€7,600 short of target", "Open pipeline": "€1,400", "Pipeline coverage": "0.2x",
                MEETING_WEEK["north_star"]: "€500", MEETING_WEEK["open_pipeline"]: "€0"}
    for label, value in expected.items():
        assert set(seen[label].values()) == {value}, (label, seen[label])
    assert {"meeting page", "HTML pack", "XLSX pack"} <= set(seen["Gap to target"])
    assert {"pages/ceo.py", "meeting page"} <= set(seen["Forecast"])
    assert {"pages/sales.py", "meeting page"} <= set(seen["Pipeline coverage"])


def test_ceo_funnel_rates_beside_counts_are_their_ratio(demo_store):
    at = run_app("pages/ceo.py", {"period": "this_quarter"})
    line = next(m.value for m in at.markdown if "→" in m.value)
    steps = re.findall(r"\*\*([\d,]+)\*\* ([^(→]+?)(?: \(([\d.]+)% of ([^)]+)\))?(?: →|$)", line)
    assert len(steps) == 5, line
    counts = [int(n.replace(",", "")) for n, *_ in steps]
    for (n, label, rate, of), before, now in zip(steps[1:], counts, counts[1:]):
        assert rate, (label, line)
        assert float(rate) == pytest.approx(round(now / before * 100 + 1e-9, 1)), (label, rate, now, before)
        assert of.strip() == steps[counts.index(before)][1].strip()
    cohort = next(c.value for c in at.caption if "Cohort conversion" in c.value)
    assert "(cohort)" in cohort and "Lead to MQL rate (cohort)" in cohort


def test_a_stock_is_compared_with_its_value_at_the_same_point_or_not_at_all(labelled_store, monkeypatch):
    """On Monday 9 March 2026 Quarter to date has run 68 days; the previous quarter's same point is
    7 December 2025. Today's deals say nothing of the pipeline as it stood then (what is left open
    of Q4 2025 today is not it), so without a snapshot frozen that day the open pipeline has no
    change, and says why; with the meeting snapshot of the week of 8 December 2025 (frozen at
    00:00 that Monday: d5 was not closed yet and its stage of then is unknown, so Q4's open
    pipeline then was 0.00) the change is 1,400.00 - 0.00."""
    monkeypatch.setattr(ui.filters, "utcnow", lambda: dt.datetime(2026, 3, 9, 9, 0))
    label = "Open pipeline"
    at = run_app("pages/sales.py", {"period": "this_quarter"})
    tile = next(m for m in at.metric if m.label.startswith(label))
    assert tile.value == "€1,400" and not tile.delta
    assert any(c.value.startswith("No change shown for Open pipeline, ") and
               ": no meeting snapshot of 2025-12-07" in c.value and "what it was then" in c.value
               for c in at.caption)
    # one caption per row of tiles, naming its tiles (the pipeline row; Sales velocity in the next)
    assert [c.value.split(":")[0] for c in at.caption if "No change shown" in c.value] == [
        "No change shown for Open pipeline, Weighted pipeline, Pipeline coverage and Forecast",
        "No change shown for Sales velocity"]
    take_snapshot(labelled_store, week_start=dt.date(2025, 12, 8), now=dt.datetime(2026, 3, 9, 8, 0))
    at = run_app("pages/sales.py", {"period": "this_quarter"})
    tile = next(m for m in at.metric if m.label.startswith(label))
    assert tile.delta == "+€1,400"
    assert "as it stood on 2025-12-07, from the meeting snapshot of the week of 2025-12-08" in tile.help
    # a flow keeps its to-date comparison: won revenue against Q4 2025's first 68 days (nothing won)
    assert next(m for m in at.metric if m.label.startswith("Win rate")).value
