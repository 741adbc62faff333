"""Pure parts of ui/: colours, table exports and unit guesses, filter keys, freshness wording, link values."""
from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pandas as pd

from metrics.filters import Filters
from ui.cache import filters_from_key, filters_key
from meeting.colors import PALETTE, UNKNOWN, color_for, color_map
from ui.filters import match_value
from ui.status import age
from ui.tables import guess_units, to_csv, to_xlsx


def test_color_for_known_source_is_fixed():
    assert color_for("source", "PAID_SEARCH") == "#4C78A8"
    assert color_for("source", "paid_search") == "#4C78A8"


def test_color_for_unknown_value_is_stable_and_from_the_palette():
    first = color_for("region", "Nordics")
    assert first in PALETTE
    assert color_map("region", ["Nordics", "DACH"])["Nordics"] == first


def test_color_for_missing_values_is_grey():
    assert color_for("region", None) == UNKNOWN
    assert color_for("region", "(none)") == UNKNOWN


def test_filters_key_round_trips():
    f = Filters(start=dt.date(2026, 1, 1), end=dt.date(2026, 3, 31), regions=("France", "UK"),
                owners=("o1",))
    assert filters_from_key(filters_key(f)) == f


def test_filters_key_differs_when_a_filter_differs():
    f = Filters(start=dt.date(2026, 1, 1), end=dt.date(2026, 3, 31))
    assert filters_key(f) != filters_key(Filters(start=f.start, end=f.end, regions=("UK",)))


def test_xlsx_export_reads_back_the_same_rows():
    df = pd.DataFrame({"deal_name": ["A", "B"], "amount": [1234.5, 10.0]})
    book = openpyxl.load_workbook(io.BytesIO(to_xlsx(df, "deals")))
    rows = list(book["deals"].iter_rows(values_only=True))
    assert rows == [("deal_name", "amount"), ("A", 1234.5), ("B", 10.0)]


def test_csv_export_has_a_header_and_no_index():
    df = pd.DataFrame({"a": [1], "b": ["x"]})
    assert to_csv(df).decode() == "a,b\r\n1,x\r\n"  # RFC 4180 rows: a CR inside a cell gets quoted


def test_csv_export_quotes_a_cell_holding_a_line_break():
    df = pd.DataFrame({"a": ["x\r=1+1", "y\nz"], "b": [-1.5, 2]})
    assert to_csv(df).decode() == 'a,b\r\n"x\r=1+1",-1.5\r\n"y\nz",2.0\r\n'


def test_guess_units_from_column_names():
    df = pd.DataFrame({"owner_id": ["o1"], "won_revenue": [1.0], "win_rate": [0.5], "deals": [3],
                       "cycle_days": [12.0], "owner": ["Alice"]})
    units = guess_units(df)
    assert units["money"] == ("won_revenue",)
    assert units["ratio"] == ("win_rate",)
    assert units["days"] == ("cycle_days",)
    assert units["count"] == ("deals",)


def test_age_wording():
    now = dt.datetime(2026, 1, 10, 12, 0)
    assert age(None, now) == "never"
    assert age(now - dt.timedelta(seconds=30), now) == "just now"
    assert age(now - dt.timedelta(minutes=20), now) == "20 min ago"
    assert age(now - dt.timedelta(hours=5), now) == "5 h ago"
    assert age(now - dt.timedelta(days=3), now) == "3 days ago"


def test_registered_values_get_distinct_colours_in_sorted_order():
    from meeting import colors
    colors.register("product_line", ["Services", "Analytics", "Platform"])
    try:
        got = [color_for("product_line", v) for v in ("Analytics", "Platform", "Services")]
        assert got == list(PALETTE[:3])
    finally:
        colors._KNOWN.pop("product_line", None)


def test_bar_labels_go_outside_bars_too_short_to_hold_them():
    from ui.charts import _label_positions
    assert _label_positions([1_482_222, 5_867_765, 356_863]) == ["inside", "inside", "outside"]
    assert _label_positions([-400, 100, 0]) == ["inside", "inside", "outside"]
    assert _label_positions([0, 0]) == ["outside", "outside"]


def test_link_values_match_a_choice_ignoring_case_when_unambiguous():
    regions = {"France": "France", "UK": "UK", "DACH": "DACH"}
    assert match_value("France", regions) == ("France", [])
    assert match_value("france", regions) == ("France", [])
    assert match_value("dach", regions) == ("DACH", [])
    assert match_value("Narnia", regions) == (None, [])
    # by the on-screen label too: an owner's name, a source's name
    owners = {"o1": "Alice Martin", "o2": "Bob Smith"}
    assert match_value("alice martin", owners) == ("o1", [])
    assert match_value("O2", owners) == ("o2", [])
    assert match_value("paid search", {"PAID_SEARCH": "Paid search", "OFFLINE": "Offline sources"}) == \
        ("PAID_SEARCH", [])
    # two choices equal but for case: the exact one, else neither
    both = {"Benelux": "Benelux", "BENELUX": "BENELUX"}
    assert match_value("BENELUX", both) == ("BENELUX", [])
    assert match_value("benelux", both) == (None, ["Benelux", "BENELUX"])
