"""The sidebar filters: they change the numbers they should, survive page switches, live in the
URL (a copied link opens the same view), and the locale changes how numbers are written.

Expected values come from the tiny store (tests/pages/conftest.py), worked out by hand:
Q1 2026 won deals: 1,000.00 EUR in France + 500.00 EUR in the UK; one France deal lost;
Q4 2025 (the previous period of Q1's 90 days): 800.00 EUR won in France.
"""
from __future__ import annotations

import datetime as dt

import pytest
from streamlit.testing.v1 import AppTest

import ui.filters
from metrics import REGISTRY
from metrics.periods import PERIOD_KINDS
from store import StoreSettings, bump_data_version, open_store, schema as s
from tests.pages.conftest import APP, Q1, norm, run_app, tile_deltas, tiles
from ui.filters import PERIODS

NORTH_STAR = REGISTRY["north_star"].label
WIN_RATE = REGISTRY["win_rate"].label


def url_values(at, key: str) -> list[str]:
    value = at.query_params.get(key, [])
    return [value] if isinstance(value, str) else list(value)


def test_all_regions_show_the_total_north_star(tiny_store):
    at = run_app("pages/ceo.py", Q1)
    assert tiles(at)[NORTH_STAR] == "€1,500"


def test_region_filter_changes_the_north_star(tiny_store):
    at = run_app("pages/ceo.py", Q1)
    at.multiselect(key="f_region").set_value(["France"]).run()
    assert not at.exception
    assert tiles(at)[NORTH_STAR] == "€1,000"
    at.multiselect(key="f_region").set_value(["UK"]).run()
    assert tiles(at)[NORTH_STAR] == "€500"


def test_owner_filter_changes_the_win_rate(tiny_store):
    at = run_app("pages/sales.py", Q1)
    assert tiles(at)[WIN_RATE].startswith("66.7")  # 2 won of 3 closed
    at.multiselect(key="f_owner").set_value(["o1"]).run()  # Alice: 1 won, 1 lost
    assert tiles(at)[WIN_RATE].startswith("50")


def test_delta_is_the_change_against_the_previous_period(tiny_store):
    at = run_app("pages/ceo.py", Q1)
    assert tile_deltas(at)[NORTH_STAR] == "+€700"  # 1,500 now, 800 in Q4 2025
    at.selectbox(key="f_compare").set_value("none").run()
    assert not tile_deltas(at)[NORTH_STAR]


def test_filters_survive_a_page_switch_and_are_in_the_url(tiny_store):
    at = run_app("pages/ceo.py", Q1)
    at.multiselect(key="f_region").set_value(["UK"]).run()
    run_app("pages/finance.py", at=at)
    assert at.multiselect(key="f_region").value == ["UK"]
    assert tiles(at)[NORTH_STAR] == "€500"
    assert url_values(at, "region") == ["UK"]
    assert url_values(at, "period") == ["custom"]
    assert url_values(at, "from") == ["2026-01-01"]


def test_a_copied_url_opens_the_same_view(tiny_store):
    first = run_app("pages/ceo.py", Q1)
    first.multiselect(key="f_region").set_value(["France"]).run()
    first.selectbox(key="f_compare").set_value("last_year").run()
    copied = {k: v for k, v in first.query_params.items()}

    second = AppTest.from_file(APP, default_timeout=120)
    for k, v in copied.items():
        second.query_params[k] = v
    second.run()
    run_app("pages/ceo.py", at=second)
    assert second.multiselect(key="f_region").value == ["France"]
    assert second.selectbox(key="f_compare").value == "last_year"
    assert tiles(second) == tiles(first)


def test_unknown_url_values_fall_back_to_defaults(tiny_store):
    at = run_app("pages/ceo.py", {"period": "fortnight", "region": ["Atlantis", "UK"], "compare": "x"})
    assert at.selectbox(key="f_period").value == "this_quarter"
    assert at.selectbox(key="f_compare").value == "previous"
    assert at.multiselect(key="f_region").value == ["UK"]


def test_french_locale_writes_numbers_the_french_way(tiny_store):
    at = run_app("pages/ceo.py", {**Q1, "locale": "fr-FR"})
    assert norm(tiles(at)[NORTH_STAR]) == "1 500 €"


def test_drill_down_lists_the_deals_behind_a_kpi(tiny_store):
    at = run_app("pages/ceo.py", Q1)
    at.selectbox(key="ceo_drill_metric").set_value("north_star").run()
    deals = next(df.value for df in at.dataframe if "deal_id" in df.value.columns)
    assert sorted(deals["deal_id"]) == ["d1", "d2"]  # the two deals won in Q1 2026
    at.multiselect(key="f_region").set_value(["UK"]).run()
    deals = next(df.value for df in at.dataframe if "deal_id" in df.value.columns)
    assert list(deals["deal_id"]) == ["d2"]


def test_a_custom_period_in_progress_compares_flows_to_the_same_days(tiny_store, monkeypatch):
    """On 10 March, custom dates 1 Jan - 31 Mar have run 69 days: won revenue is compared with the
    previous period's first 69 days (3 Oct - 10 Dec 2025: nothing won; the 800.00 deal closed on
    15 Dec), not with all of it; the open pipeline, a stock, still against the whole previous period."""
    monkeypatch.setattr(ui.filters, "utcnow", lambda: dt.datetime(2026, 3, 10, 9, 0))
    at = run_app("pages/ceo.py", Q1)
    assert tiles(at)[NORTH_STAR] == "€1,500"
    assert tile_deltas(at)[NORTH_STAR] == "+€1,500"
    help_text = next(m.help for m in at.metric if m.label.startswith(NORTH_STAR))
    assert "same 69 days (2025-10-03 to 2025-12-10)" in help_text
    assert any("so far vs 2025-10-03 to 2025-12-10" in c.value for c in at.sidebar.caption)
    run_app("pages/sales.py", at=at)
    label = REGISTRY["open_pipeline"].label
    help_text = next(m.help for m in at.metric if m.label.startswith(label))
    assert "same 69 days" not in help_text
    # and, read from today's deals, it is not compared with what is left open of that period (#15)
    assert "no meeting snapshot of 2025-12-31" in help_text
    # once the period is over, the whole comparison period again: 1,500 vs 800
    monkeypatch.setattr(ui.filters, "utcnow", lambda: dt.datetime(2026, 4, 2, 9, 0))
    at = run_app("pages/ceo.py", Q1)
    assert tile_deltas(at)[NORTH_STAR] == "+€700"


def test_quarter_to_date_ends_today_and_compares_with_the_same_days_of_the_quarter_before(tiny_store, monkeypatch):
    """On 10 March: 1 Jan - 10 Mar 2026 (d1 won 10 Feb, d2 5 Mar: 1,500.00) against the first 69
    days of Q4 2025, 1 Oct - 8 Dec (nothing won; d5 closed on 15 Dec)."""
    monkeypatch.setattr(ui.filters, "utcnow", lambda: dt.datetime(2026, 3, 10, 9, 0))
    at = run_app("pages/ceo.py", {"period": "this_quarter"})
    assert tiles(at)[NORTH_STAR] == "€1,500"
    assert tile_deltas(at)[NORTH_STAR] == "+€1,500"
    assert any(c.value.startswith("Quarter to date: 2026-01-01 to 2026-03-10 · vs 2025-10-01 to 2025-12-08")
               for c in at.sidebar.caption)


def test_last_12_full_months_and_trailing_12_months(tiny_store, monkeypatch):
    """On 10 April 2026: the 12 full months are Apr 2025 - Mar 2026 (d5 800 + d1 1,000 + d2 500);
    the trailing 12 months 11 Apr 2025 - 10 Apr 2026, the same deals."""
    monkeypatch.setattr(ui.filters, "utcnow", lambda: dt.datetime(2026, 4, 10, 9, 0))
    at = run_app("pages/ceo.py", {"period": "last_12_full_months"})
    assert tiles(at)[NORTH_STAR] == "€2,300"
    assert any(c.value.startswith("Last 12 full months: 2025-04-01 to 2026-03-31") for c in at.sidebar.caption)
    at = run_app("pages/ceo.py", {"period": "trailing_12_months"})
    assert any(c.value.startswith("Trailing 12 months: 2025-04-11 to 2026-04-10") for c in at.sidebar.caption)


def test_old_period_names_in_links_open_the_new_presets(tiny_store, monkeypatch):
    monkeypatch.setattr(ui.filters, "utcnow", lambda: dt.datetime(2026, 4, 10, 9, 0))
    for old, new, caption in (("fiscal_year", "this_year", "Fiscal year to date: 2026-01-01 to 2026-04-10"),
                              ("last_12_months", "trailing_12_months", "Trailing 12 months: 2025-04-11 to 2026-04-10"),
                              ("quarter_to_date", "this_quarter", "Quarter to date: 2026-04-01 to 2026-04-10")):
        at = run_app("pages/ceo.py", {"period": old})
        assert at.selectbox(key="f_period").value == new
        assert url_values(at, "period") == [new]
        assert any(c.value.startswith(caption) for c in at.sidebar.caption), old


def test_last_quarter_shows_the_forecast_accuracy(tiny_store, monkeypatch):
    """Two weekly snapshots recorded a Q1 2026 forecast of 1,200.00 and 1,500.00; Q1's won revenue
    is 1,500.00: accuracy 1 - 300/1,500 = 0.8 and 1.0, mean 90.0%. On 15 April, last quarter is Q1."""
    engine = open_store(StoreSettings(tiny_store, "test"))
    with engine.begin() as conn:
        for sid, week, forecast in ((1, dt.date(2026, 2, 9), 1200.0), (2, dt.date(2026, 3, 9), 1500.0)):
            conn.execute(s.pipeline_snapshots.insert().values(snapshot_id=sid, week_start=week, kind="weekly",
                                                              taken_at=dt.datetime.combine(week, dt.time(7))))
            conn.execute(s.snapshot_metrics.insert().values(
                snapshot_id=sid, metric_id="forecast", cut_type="quarter", cut_value="",
                period_start=dt.date(2026, 1, 1), period_end=dt.date(2026, 3, 31), value=forecast, unit="money"))
        bump_data_version(conn, "pipeline_snapshots", "snapshot_metrics")
    monkeypatch.setattr(ui.filters, "utcnow", lambda: dt.datetime(2026, 4, 15, 9, 0))
    at = run_app("pages/ceo.py", {"period": "last_quarter", "compare": "none"})
    assert tiles(at)["Forecast accuracy"] == "90.0%"
    assert tiles(at)[NORTH_STAR] == "€1,500"
    at = run_app("pages/ceo.py", {"period": "this_quarter", "compare": "none"})
    assert tiles(at)["Forecast accuracy"] == "n/a"


def test_every_preset_is_in_the_sidebar():
    assert list(PERIODS) == [*PERIOD_KINDS, "custom"]


@pytest.mark.parametrize("page", ["pages/sales.py", "pages/finance.py"])
@pytest.mark.parametrize("start, end, named", [
    ("0001-01-01", "0001-01-31", "from=0001-01-01 is before 1990-01-01"),
    ("9999-12-01", "9999-12-31", "from=9999-12-01 is after 2100-12-31"),
    ("1900-01-01", "2999-12-31", "from=1900-01-01 is before 1990-01-01"),
    ("2026-01-01", "2999-12-31", "to=2999-12-31 is after 2100-12-31"),
    ("1990-01-01", "2020-06-30", "from=1990-01-01 to to=2020-06-30 is longer than 20 years"),
    ("2026-13-01", "2026-12-31", "from='2026-13-01' is not a date"),
])
def test_dates_out_of_range_in_a_link_fall_back_to_the_default_period(tiny_store, monkeypatch, page, start, end, named):
    """On 10 March 2026 the default period is 1 Jan - 10 Mar (quarter to date): 1,500.00 won."""
    monkeypatch.setattr(ui.filters, "utcnow", lambda: dt.datetime(2026, 3, 10, 9, 0))
    at = run_app(page, {"period": "custom", "from": start, "to": end})
    warnings = [w.value for w in at.warning]
    assert any(named in w and "showing Quarter to date instead" in w for w in warnings), warnings
    assert at.selectbox(key="f_period").value == "this_quarter"
    assert url_values(at, "period") == ["this_quarter"] and url_values(at, "from") == []
    assert any(c.value.startswith("Quarter to date: 2026-01-01 to 2026-03-10") for c in at.sidebar.caption)
    run_app("pages/ceo.py", at=at)
    assert tiles(at)[NORTH_STAR] == "€1,500"
    at.selectbox(key="f_period").set_value("last_quarter").run()  # the user moves on: the warning goes
    assert not any(named in w.value for w in at.warning)


def test_the_longest_custom_period_is_served(tiny_store):
    at = run_app("pages/ceo.py", {"period": "custom", "from": "2010-01-01", "to": "2029-12-31"})
    assert not at.warning
    assert tiles(at)[NORTH_STAR] == "€2,300"  # every won deal: 800 + 1,000 + 500


def test_an_unknown_filter_value_in_a_link_says_so_and_names_the_valid_ones(tiny_store):
    at = run_app("pages/sales.py", {**Q1, "region": ["Narnia", "UK"], "owner": "o9"})
    warnings = [w.value for w in at.warning]
    assert "The link's region='Narnia' is not a known region; ignored. Valid values: France, UK." in warnings
    assert "The link's owner='o9' is not a known owner; ignored. Valid values: o1 (Alice Martin), " \
           "o2 (Bob Smith)." in warnings
    assert at.multiselect(key="f_region").value == ["UK"]
    assert url_values(at, "region") == ["UK"] and url_values(at, "owner") == []


def test_a_filter_value_in_a_link_matches_ignoring_case(tiny_store):
    at = run_app("pages/ceo.py", {**Q1, "region": "france", "owner": "alice martin", "source": "paid search"})
    assert not at.warning
    assert at.multiselect(key="f_region").value == ["France"]
    assert at.multiselect(key="f_owner").value == ["o1"]
    assert at.multiselect(key="f_source").value == ["PAID_SEARCH"]
    assert url_values(at, "region") == ["France"] and url_values(at, "owner") == ["o1"]
    assert tiles(at)[NORTH_STAR] == "€1,000"  # d1, France


def test_unknown_period_compare_and_locale_in_a_link_say_so(tiny_store):
    at = run_app("pages/ceo.py", {"period": "fortnight", "compare": "x", "locale": "de-DE"})
    warnings = " ".join(w.value for w in at.warning)
    assert "The link's period='fortnight' is not a known period; ignored. Valid values: this_week (This week to " \
           "date), last_week (Last week)," in warnings
    assert "compare='x' is not a known comparison" in warnings and "previous (Previous period)" in warnings
    assert "locale='de-DE' is not a known number format; ignored. Valid values: en-US, fr-FR." in warnings
    at = run_app("pages/ceo.py", {"period": "LAST_QUARTER", "locale": "FR-fr"})
    assert not at.warning
    assert at.selectbox(key="f_period").value == "last_quarter" and at.selectbox(key="f_locale").value == "fr-FR"


def test_quarter_to_date_shows_the_pipeline_closing_later_in_the_quarter(tiny_store, monkeypatch):
    """On 10 April 2026, Quarter to date is 1 - 10 April for flows, but the open pipeline is the
    quarter's: d4 (2,000.00, closing 30 April) is in it, though it closes after today."""
    monkeypatch.setattr(ui.filters, "utcnow", lambda: dt.datetime(2026, 4, 10, 9, 0))
    at = run_app("pages/sales.py", {"period": "this_quarter"})
    assert tiles(at)[REGISTRY["open_pipeline"].label] == "€2,000"
    assert tiles(at)[REGISTRY["forecast"].label] == "€400"  # nothing won yet + 20% of 2,000.00
    assert any("target, pipeline and forecast: the whole period, to 2026-06-30 (vs to 2026-03-31)" in c.value
               for c in at.sidebar.caption)
