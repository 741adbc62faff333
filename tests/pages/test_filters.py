"""The sidebar filters: they change the numbers they should, survive page switches, live in the
URL (a copied link opens the same view), and the locale changes how numbers are written.

Expected values come from the tiny store (tests/pages/conftest.py), worked out by hand:
Q1 2026 won deals: 1,000.00 EUR in France + 500.00 EUR in the UK; one France deal lost;
Q4 2025 (the previous period of Q1's 90 days): 800.00 EUR won in France.
"""
from __future__ import annotations

from streamlit.testing.v1 import AppTest

from metrics import REGISTRY
from tests.pages.conftest import APP, Q1, norm, run_app, tile_deltas, tiles

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


def test_a_period_in_progress_compares_flows_to_the_same_days(tiny_store, monkeypatch):
    """On 10 March, Q1 has run 69 days: won revenue is compared with the previous period's first
    69 days (3 Oct - 10 Dec 2025: nothing won; the 800.00 deal closed on 15 Dec), not with all of
    it; the open pipeline, a stock, still against the whole previous period."""
    import datetime as dt

    import ui.filters
    monkeypatch.setattr(ui.filters, "utcnow", lambda: dt.datetime(2026, 3, 10, 9, 0))
    at = run_app("pages/ceo.py", {"period": "this_quarter"})
    assert tiles(at)[NORTH_STAR] == "€1,500"
    assert tile_deltas(at)[NORTH_STAR] == "+€1,500"
    help_text = next(m.help for m in at.metric if m.label.startswith(NORTH_STAR))
    assert "same 69 days (2025-10-03 to 2025-12-10)" in help_text
    assert any("so far vs 2025-10-03 to 2025-12-10" in c.value for c in at.sidebar.caption)
    run_app("pages/sales.py", at=at)
    label = REGISTRY["open_pipeline"].label
    assert "same" not in next(m.help for m in at.metric if m.label.startswith(label))
    # once the period is over, the whole comparison period again: 1,500 vs 800
    monkeypatch.setattr(ui.filters, "utcnow", lambda: dt.datetime(2026, 4, 2, 9, 0))
    at = run_app("pages/ceo.py", {"period": "custom", "from": "2026-01-01", "to": "2026-03-31"})
    assert tile_deltas(at)[NORTH_STAR] == "+€700"
