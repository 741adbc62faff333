"""Tables: st.dataframe with readable headers and number formats, plus CSV and XLSX downloads."""
from __future__ import annotations

import io

import pandas as pd
import streamlit as st

from store.cells import inert_frame, strings_as_text

from .labels import SOURCE_COLUMNS, display

MONEY_FORMATS = {"EUR": "euro", "USD": "dollar"}


ACRONYMS = {"mql": "MQL", "mqls": "MQLs", "sql": "SQL", "sqls": "SQLs", "roi": "ROI", "cac": "CAC", "ltv": "LTV",
            "arpa": "ARPA", "id": "ID", "url": "URL", "pct": "%", "hubspot": "HubSpot"}


def _title(col: str) -> str:
    words = [ACRONYMS.get(w, w) for w in col.replace("_", " ").split()]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def to_csv(df: pd.DataFrame) -> bytes:
    """`df` as CSV: text cells inert (store.cells), CRLF rows so a CR or LF inside a cell is quoted."""
    return inert_frame(df).to_csv(index=False, lineterminator="\r\n").encode("utf-8")


def to_xlsx(df: pd.DataFrame, sheet: str = "data") -> bytes:
    """`df` as a one-sheet workbook: text cells inert and stored as strings, numbers as numbers."""
    buf = io.BytesIO()
    out = inert_frame(df)
    for col in out.columns:  # Excel has no time zones
        if isinstance(out[col].dtype, pd.DatetimeTZDtype):
            out[col] = out[col].dt.tz_localize(None)
    with pd.ExcelWriter(buf, engine="openpyxl") as writer:
        out.to_excel(writer, index=False, sheet_name=sheet[:31] or "data")
        for ws in writer.sheets.values():
            strings_as_text(ws)
    return buf.getvalue()


MONEY_WORDS = ("amount", "revenue", "spend", "pipeline", "booked", "invoiced", "ledger", "gap",
               "cost", "cac", "arpa", "ltv", "difference", "weighted", "value_eur", "deal_size")
RATIO_WORDS = ("rate", "share", "pct", "ratio_pct", "conversion", "roi", "probability")
DAY_WORDS = ("days", "age_hours", "hours", "cycle")


def guess_units(df: pd.DataFrame) -> dict[str, tuple[str, ...]]:
    """Units of a metrics.details frame from its column names (money in major units, ratios 0-1)."""
    numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c]) and not c.endswith("_id")]
    money = tuple(c for c in numeric if any(w in c for w in MONEY_WORDS))
    ratio = tuple(c for c in numeric if c not in money and any(c.endswith(w) or c.startswith(w)
                                                               or f"_{w}" in c for w in RATIO_WORDS))
    days = tuple(c for c in numeric if c not in money + ratio and any(w in c for w in DAY_WORDS))
    count = tuple(c for c in numeric if c not in money + ratio + days)
    return {"money": money, "ratio": ratio, "days": days, "count": count}


def column_config(df: pd.DataFrame, fs, money=(), ratio=(), count=(), days=(), links=()) -> dict:
    money_fmt = MONEY_FORMATS.get(fs.currency, "accounting")
    cfg: dict = {}
    for col in df.columns:
        label = _title(col)
        if col in money:
            cfg[col] = st.column_config.NumberColumn(label, format=money_fmt)
        elif col in ratio:
            cfg[col] = st.column_config.NumberColumn(label, format="percent")
        elif col in count:
            cfg[col] = st.column_config.NumberColumn(label, format="localized")
        elif col in days:
            cfg[col] = st.column_config.NumberColumn(label, format="%.1f")
        elif col in links:
            cfg[col] = st.column_config.LinkColumn(label, display_text="Open")
        else:
            cfg[col] = st.column_config.Column(label)
    return cfg


def table(df: pd.DataFrame, fs, *, key: str, name: str, money=None, ratio=None, count=None, days=None,
          links=("hubspot_url",), height: int | str = "auto", empty: str | None = None) -> None:
    """Show `df` and offer it as CSV and XLSX (files named after `name`).

    Column units default to a guess from the names (guess_units); pass them to be explicit.
    """
    if df is None or df.empty:
        st.info(empty or f"{_title(name)}: nothing for these filters.", icon=":material/info:")
        return
    shown = [c for c in SOURCE_COLUMNS if c in df.columns]
    if shown:  # HubSpot source codes as HubSpot names them (the downloads too)
        df = df.assign(**{c: df[c].map(lambda v: v if v is None or pd.isna(v) else display("source", v))
                          for c in shown})
    guessed = guess_units(df)
    money = guessed["money"] if money is None else money
    ratio = guessed["ratio"] if ratio is None else ratio
    count = guessed["count"] if count is None else count
    days = guessed["days"] if days is None else days
    st.dataframe(df, hide_index=True, width="stretch", height=height, key=f"{key}_df",
                 column_config=column_config(df, fs, money, ratio, count, days,
                                             [c for c in links if c in df.columns]))
    left, right, _ = st.columns([1, 1, 6])
    stem = name.replace(" ", "_").lower()
    left.download_button("CSV", lambda: to_csv(df), file_name=f"{stem}.csv", mime="text/csv",
                         key=f"{key}_csv", icon=":material/download:", on_click="ignore")
    right.download_button("XLSX", lambda: to_xlsx(df, stem), file_name=f"{stem}.xlsx",
                          mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                          key=f"{key}_xlsx", icon=":material/download:", on_click="ignore")
