"""Tables: st.dataframe with readable headers, names instead of codes and one way of writing
numbers (metrics.format.format_cell), plus CSV and XLSX downloads with readable headers, the ids
kept, and real number formats in the workbook."""
from __future__ import annotations

import datetime as dt
import io

import pandas as pd
import streamlit as st

from metrics.format import BLANK, format_cell, format_count, percent_number, period_grain, xlsx_format
from store.cells import inert_frame, strings_as_text

from . import cache
from .labels import Labels, id_columns, readable

ACRONYMS = {"mql": "MQL", "mqls": "MQLs", "sql": "SQL", "sqls": "SQLs", "roi": "ROI", "cac": "CAC", "ltv": "LTV",
            "arpa": "ARPA", "id": "ID", "url": "URL", "pct": "%", "hubspot": "HubSpot", "eur": "EUR",
            "mrr": "MRR", "arr": "ARR"}
NAMES = {"label": "Label", "age_hours": "Age", "hubspot_url": "HubSpot", "amount_in_currency": "Amount in deal currency",
         "variance_pct": "Variance %", "pct_of_previous": "% of previous", "pct_of_top": "% of top",
         "is_marketing_sourced": "Marketing-sourced", "ledger_ref": "Ledger ref",
         "quota_attainment": "Attainment", "quota_attainment_paced": "Paced attainment",
         "quota_coverage": "Coverage"}
UNIT_SUFFIX = {"ratio": "%", "days": "days", "hours": "hours"}


def _title(col: str) -> str:
    if col in NAMES:
        return NAMES[col]
    words = [ACRONYMS.get(w, w) for w in col.replace("_", " ").split()]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def header(col: str, columns, unit: str | None = None, currency: str = "EUR") -> str:
    """A column's header for people: "close_date" -> "Close date", "amount" -> "Amount (EUR)",
    "win_rate" -> "Win rate (%)"; a pipeline_by_stage "label" is the "Stage", its "stage" the "Stage ID"."""
    cols = set(columns)
    if col == "label" and "stage" in cols:
        text = "Stage"
    elif col == "label" and "forecast_category" in cols:
        text = "Forecast category"
    elif col in ("stage", "forecast_category") and "label" in cols:
        text = _title(col) + " ID"
    else:
        text = _title(col)
    if unit == "money":
        return f"{text} ({currency})"
    suffix = UNIT_SUFFIX.get(unit or "")
    if suffix and suffix not in text.lower():
        return f"{text} ({suffix})"
    return text


def _missing(v) -> bool:
    return v is None or (not isinstance(v, str) and bool(pd.isna(v)))


def guess_units(df: pd.DataFrame) -> dict[str, tuple[str, ...]]:
    """Units of a metrics.details frame from its column names (money in major units, ratios 0-1)."""
    numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c]) and not c.endswith(TEXT_ENDINGS)
               and not pd.api.types.is_bool_dtype(df[c])]
    numeric = [c for c in numeric if c not in NUMBER_COLUMNS]
    money = tuple(c for c in numeric if any(w in c for w in MONEY_WORDS))
    ratio = tuple(c for c in numeric if c not in money and any(c.endswith(w) or c.startswith(w)
                                                               or f"_{w}" in c for w in RATIO_WORDS))
    days = tuple(c for c in numeric if c not in money + ratio and any(w in c for w in DAY_WORDS))
    count = tuple(c for c in numeric if c not in money + ratio + days)
    return {"money": money, "ratio": ratio, "days": days, "count": count}


def time_units(df: pd.DataFrame) -> dict[str, str]:
    """Columns of dates: 'month' (a month column, every value the 1st), 'datetime' or 'date'."""
    out = {}
    for col in df.columns:
        values = [v for v in df[col] if not _missing(v)]
        if pd.api.types.is_datetime64_any_dtype(df[col]):
            times = [v for v in values if (v.hour, v.minute, v.second) != (0, 0, 0)]
            out[col] = "datetime" if times else "date"
        elif values and all(isinstance(v, (dt.date, dt.datetime)) for v in values):
            out[col] = "datetime" if any(isinstance(v, dt.datetime) for v in values) else "date"
        elif values and col in ("month", "period", "week") and period_grain(values):
            out[col] = "date"
        else:
            continue
        if col in ("month", "period") and out[col] == "date" and period_grain(values) == "month":
            out[col] = "month"
    return out


def units_of(df: pd.DataFrame, money=None, ratio=None, count=None, days=None, ratio_x=()) -> dict[str, str]:
    """Each column's unit: money, ratio, count, days, hours, ratio_x (a coverage, never guessed),
    month, date, datetime (or absent: text)."""
    guessed = guess_units(df)
    out: dict[str, str] = {col: "ratio_x" for col in ratio_x if col in df.columns}
    for unit, given in (("money", money), ("ratio", ratio), ("count", count), ("days", days)):
        for col in guessed[unit] if given is None else given:
            if col in df.columns and col not in out:
                out[col] = "hours" if unit == "days" and "hours" in col else unit
    for col in NUMBER_COLUMNS:
        if col in df.columns and pd.api.types.is_numeric_dtype(df[col]):
            out.setdefault(col, "number")
    for col, unit in time_units(df).items():
        out.setdefault(col, unit)
    return out


def export_frame(df: pd.DataFrame, units: dict[str, str], currency: str = "EUR") -> pd.DataFrame:
    """The frame a CSV carries: readable headers, missing values blank, money to the cent,
    percentages as numbers of percent at the page's precision, dates as ISO dates."""
    out = pd.DataFrame(index=df.index)
    for col in df.columns:
        unit = units.get(col)
        s = df[col]
        if unit in ("money", "number", "ratio_x"):
            s = s.map(lambda v: None if _missing(v) else round(float(v), 2))
        elif unit == "ratio":
            s = s.map(lambda v: None if _missing(v) else percent_number(v))
        elif unit in ("days", "hours"):
            s = s.map(lambda v: None if _missing(v) else round(float(v), 1))
        elif unit == "count":
            s = s.map(lambda v: None if _missing(v) else (int(v) if float(v).is_integer() else v))
        elif unit == "month":
            s = s.map(lambda v: None if _missing(v) else pd.Timestamp(v).strftime("%Y-%m"))
        elif unit == "date":
            s = s.map(lambda v: None if _missing(v) else pd.Timestamp(v).date().isoformat())
        elif unit == "datetime":
            s = s.map(lambda v: None if _missing(v) else pd.Timestamp(v).strftime("%Y-%m-%d %H:%M:%S"))
        else:
            s = s.map(lambda v: None if _missing(v) else v)
        out[header(col, df.columns, unit, currency)] = s.astype(object).values
    return out


def to_csv(df: pd.DataFrame, units: dict[str, str] | None = None, currency: str = "EUR") -> bytes:
    """`df` as CSV: text cells inert (store.cells), CRLF rows so a CR or LF inside a cell is quoted.
    With `units` (units_of), readable headers and rounded values (export_frame)."""
    out = df if units is None else export_frame(df, units, currency)
    return inert_frame(out).to_csv(index=False, lineterminator="\r\n").encode("utf-8")


def to_xlsx(df: pd.DataFrame, sheet: str = "data", units: dict[str, str] | None = None,
            currency: str = "EUR") -> bytes:
    """`df` as a one-sheet workbook: text cells inert and stored as strings, numbers as numbers.
    With `units`, readable headers and each column in its number format (currency, %, dates),
    the values unchanged (0.5555 shows as 55.6 %)."""
    buf = io.BytesIO()
    out = inert_frame(df)
    for col in out.columns:  # Excel has no time zones
        if isinstance(out[col].dtype, pd.DatetimeTZDtype):
            out[col] = out[col].dt.tz_localize(None)
    if units is not None:
        for col, unit in units.items():
            if unit in ("month", "date", "datetime") and col in out.columns:
                out[col] = pd.to_datetime(out[col], errors="coerce")
                if unit != "datetime":
                    out[col] = out[col].dt.normalize()
        out.columns = [header(c, df.columns, units.get(c), currency) for c in df.columns]
    with pd.ExcelWriter(buf, engine="openpyxl") as writer:
        out.to_excel(writer, index=False, sheet_name=sheet[:31] or "data")
        for ws in writer.sheets.values():
            strings_as_text(ws)
            if units is None:
                continue
            for i, col in enumerate(df.columns, start=1):
                unit = units.get(col)
                fmt = xlsx_format(unit, currency)
                letter = ws.cell(row=1, column=i).column_letter
                width = max(len(str(out.columns[i - 1])), 12)
                ws.column_dimensions[letter].width = min(width + 2, 48)
                if fmt:
                    for (cell,) in ws.iter_rows(min_row=2, min_col=i, max_col=i):
                        if cell.value is not None:
                            cell.number_format = fmt
    return buf.getvalue()


STYLED_CELLS = 200_000  # pandas refuses to style more than 262,144 cells
TEXT_ENDINGS = ("_id", "_ref", "_number")  # references that happen to be numbers
NUMBER_COLUMNS = ("amount_in_currency",)  # amounts in the currency named beside them, not the reporting one
MONEY_WORDS = ("amount", "revenue", "spend", "pipeline", "booked", "invoiced", "ledger", "gap",
               "cost", "cac", "arpa", "ltv", "difference", "weighted", "value_eur", "deal_size")
RATIO_WORDS = ("rate", "share", "pct", "ratio_pct", "conversion", "roi", "probability")
DAY_WORDS = ("days", "age_hours", "hours", "cycle")


def screen_frame(df: pd.DataFrame, units: dict[str, str], locale: str, currency: str, cents: bool = False):
    """What st.dataframe shows: id columns left off (the downloads keep them), every cell written by
    metrics.format.format_cell (a pandas Styler: sorting still uses the numbers), missing cells "—"."""
    shown = df.drop(columns=[c for c in id_columns(df) if c in df.columns])
    text_cols = [c for c in shown.columns if c not in units and not pd.api.types.is_bool_dtype(shown[c])]
    for col in text_cols:  # plain text: blank instead of None / nan
        shown[col] = shown[col].map(lambda v: "" if _missing(v) else v).astype(object)
    formats = {c: (lambda v, u=units[c]: format_cell(v, u, locale, currency, cents)) for c in shown.columns
               if c in units}
    if shown.size > STYLED_CELLS:  # too big for a Styler: the cells as text (sorting then by text)
        plain = shown.copy()
        for col, fmt in formats.items():
            plain[col] = plain[col].map(fmt).astype(object)
        return plain, plain
    return shown, shown.style.format(formats, na_rep=BLANK)


def column_config(df: pd.DataFrame, fs, money=(), ratio=(), count=(), days=(), links=(), units=None) -> dict:
    units = units if units is not None else units_of(df, money, ratio, count, days)
    cfg: dict = {}
    for col in df.columns:
        unit = units.get(col)
        label = header(col, df.columns, unit if unit in ("days", "hours") else None)
        if col in links:
            cfg[col] = st.column_config.LinkColumn(label, display_text="Open")
        else:
            cfg[col] = st.column_config.Column(label)
    return cfg


def download_buttons(df: pd.DataFrame, units: dict[str, str], currency: str, *, key: str, name: str) -> None:
    """CSV and XLSX side by side, each as wide as its label (never cut, even in a narrow column)."""
    stem = name.replace(" ", "_").lower()
    with st.container(horizontal=True, gap="small", key=f"{key}_downloads"):
        st.download_button("CSV", lambda: to_csv(df, units, currency), file_name=f"{stem}.csv", mime="text/csv",
                           key=f"{key}_csv", icon=":material/download:", on_click="ignore", width="content")
        st.download_button("XLSX", lambda: to_xlsx(df, stem, units, currency), file_name=f"{stem}.xlsx",
                           mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                           key=f"{key}_xlsx", icon=":material/download:", on_click="ignore", width="content")


def table(df: pd.DataFrame, fs, *, key: str, name: str, money=None, ratio=None, count=None, days=None,
          ratio_x=(), links=("hubspot_url",), height: int | str = "auto", empty: str | None = None,
          labels: Labels | None = None, top: int | None = None) -> None:
    """Show `df` and offer it as CSV and XLSX (files named after `name`).

    Codes read as names (ui.labels.readable, the store's labels of this run unless `labels`);
    column units default to a guess from the names (guess_units); pass them to be explicit.
    `top`: at most that many first rows on screen (a frame sorted by what matters most), with a
    caption saying so; the downloads keep every row (a 1M-deal store's lists run to thousands).
    """
    if df is None or df.empty:
        st.info(empty or f"{_title(name)}: nothing for these filters.", icon=":material/info:")
        return
    df = readable(df, labels if labels is not None else cache.current_labels())
    units = units_of(df, money, ratio, count, days, ratio_x)
    link_cols = [c for c in links if c in df.columns]
    units = {c: u for c, u in units.items() if c not in link_cols}
    on_screen = df
    if top is not None and len(df) > top:
        on_screen = df.head(top)
        st.caption(f"The first {format_count(top, fs.locale)} of {format_count(len(df), fs.locale)} rows; "
                   "the CSV and XLSX downloads have all of them.")
    shown, styled = screen_frame(on_screen, units, fs.locale, fs.currency, getattr(fs, "cents", False))
    st.dataframe(styled, hide_index=True, width="stretch", height=height, key=f"{key}_df", placeholder=BLANK,
                 column_config=column_config(shown, fs, links=link_cols, units=units))
    download_buttons(df, units, fs.currency, key=key, name=name)
