"""Tables on screen and in downloads (#15): readable headers, ids kept, no None, number formats."""
from __future__ import annotations

import csv
import datetime as dt
import io

import openpyxl
import pandas as pd

from ui.labels import Labels
from ui.tables import header, screen_frame, to_csv, to_xlsx, units_of

LABELS = Labels(stages={("default", "closedwon"): "Closed Won"}, owners={"41": "Inès Thomas (Partners)"})


def _deals() -> pd.DataFrame:
    return pd.DataFrame({
        "deal_id": ["5000000001", "5000000002"], "stage_id": ["closedwon", "closedwon"],
        "stage": ["Closed Won", "Closed Won"], "owner_id": ["41", "41"],
        "owner": ["Inès Thomas (Partners)", None], "amount": [1_206_330.75, 999.5],
        "win_rate": [0.5555, None], "close_date": [dt.date(2026, 10, 31), None],
        "month": [dt.date(2026, 12, 1), dt.date(2026, 11, 1)], "deals": [3, 4]})


def test_headers_read_as_words_with_their_unit():
    cols = ["close_date", "amount", "win_rate", "stage", "label"]
    assert header("close_date", cols) == "Close date"
    assert header("amount", cols, "money") == "Amount (EUR)"
    assert header("win_rate", cols, "ratio") == "Win rate (%)"
    assert header("label", cols) == "Stage"
    assert header("stage", cols) == "Stage ID"
    assert header("deal_id", cols) == "Deal ID"


def test_units_from_names_and_values():
    units = units_of(_deals())
    assert units == {"amount": "money", "win_rate": "ratio", "deals": "count", "close_date": "date",
                     "month": "month"}


def test_csv_has_readable_headers_ids_and_no_none():
    df = _deals()
    rows = list(csv.reader(io.StringIO(to_csv(df, units_of(df)).decode(), newline="")))
    assert rows[0] == ["Deal ID", "Stage ID", "Stage", "Owner ID", "Owner", "Amount (EUR)", "Win rate (%)",
                       "Close date", "Month", "Deals"]
    assert rows[1] == ["5000000001", "closedwon", "Closed Won", "41", "Inès Thomas (Partners)", "1206330.75",
                       "55.6", "2026-10-31", "2026-12", "3"]
    assert rows[2] == ["5000000002", "closedwon", "Closed Won", "41", "", "999.5", "", "", "2026-11", "4"]
    assert not {"None", "nan", "NaT"} & {c for r in rows for c in r}


def test_xlsx_cells_are_numbers_in_real_number_formats():
    df = _deals()
    ws = openpyxl.load_workbook(io.BytesIO(to_xlsx(df, "deals", units_of(df)))).active
    head = [c.value for c in ws[1]]
    assert head[5:9] == ["Amount (EUR)", "Win rate (%)", "Close date", "Month"]
    amount, rate, close, month, deals = ws["F2"], ws["G2"], ws["H2"], ws["I2"], ws["J2"]
    assert amount.value == 1_206_330.75 and amount.data_type == "n" and "€" in amount.number_format
    assert amount.number_format.startswith("#,##0.00")
    assert rate.value == 0.5555 and rate.number_format == "0.0%"  # 55.6 % in Excel, the value unchanged
    assert close.value == dt.datetime(2026, 10, 31) and close.number_format == "yyyy-mm-dd"
    assert month.value == dt.datetime(2026, 12, 1) and month.number_format == "mmm yyyy"
    assert deals.value == 3 and deals.number_format == "#,##0"
    assert ws["E3"].value is None and ws["G3"].value is None  # blank, not "None"


def test_screen_frame_hides_ids_and_writes_cells_by_the_rules():
    df = _deals()
    shown, styled = screen_frame(df, units_of(df), "en-US", "EUR")
    assert "stage_id" not in shown.columns and "owner_id" not in shown.columns
    html = styled.to_html()
    assert "€1,206,331" in html and "€999.50" in html and "55.6%" in html
    assert "Dec 2026" in html and "Oct 31, 2026" in html
    assert "None" not in html and "nan" not in html and "NaT" not in html
    fr = screen_frame(df, units_of(df), "fr-FR", "EUR")[1].to_html()
    assert "déc. 2026" in fr and "55,6\u00a0%" in fr
