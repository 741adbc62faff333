"""The meeting pack: one week's `WeekReport` as a self-contained HTML file and an XLSX workbook.

The HTML file carries its charts and plotly.js inline, so it opens offline; every number cell
also holds the raw value in `data-value`. The workbook has a Summary sheet and one sheet per
section with raw numbers (money in major units of the reporting currency, ratios 0-1); its text
cells are inert (`store.cells`): a name or decision starting with = + - @ is written as text.
"""
from __future__ import annotations

import datetime as dt
import html
import io
import math
from typing import Any

import pandas as pd

from metrics import REGISTRY
from metrics.format import (GAP_METRICS, format_amount, format_percent, format_value, gap_text, tile_value_text,
                            vs_target_text, vs_target_xlsx_format, xlsx_format)
from store.cells import inert, strings_as_text

from .charts import accuracy_figure, waterfall_figure
from .report import ROLES, WeekReport

MONEY_COLUMNS = {"amount", "previous_amount", "change", "forecast", "actual", "budget", "spend", "revenue", "quota",
                 "won_revenue"}
RATIO_COLUMNS = {"accuracy", "change_pct", "vs_target_pct", "roi", "campaign_roi", "quota_attainment",
                 "quota_attainment_paced"}
RATIO_X_COLUMNS = {"quota_coverage"}
_CSS = """
body{font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;margin:24px;color:#222}
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:12px;margin:8px 0}th,td{border:1px solid #ddd;padding:3px 6px}
th{background:#f4f4f4;text-align:left}td.n{text-align:right;white-space:nowrap}.note{color:#8a6d3b}
.muted{color:#777}
"""


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT


def _cell_unit(column: str, row: dict) -> str | None:
    """The unit a cell is written in: the row's own unit for value columns, else by column name."""
    if column in ("value", "previous", "change", "quarter_value", "target", "target_to_date",
                  "vs_target", "baseline", "latest") and row.get("unit"):
        return row["unit"]
    if column in MONEY_COLUMNS:
        return "money"
    if column in RATIO_COLUMNS:
        return "ratio"
    if column in RATIO_X_COLUMNS:
        return "ratio_x"
    return None


GAP_COLUMNS = ("value", "previous", "quarter_value")  # a gap metric's own value in these columns
VS_TARGET_COLUMNS = ("vs_target", "vs_target_pct")  # value - target: a distance to the target


def _down_is_good(row: dict) -> bool:
    mid = row.get("metric_id")
    return bool(row.get("down_is_good", REGISTRY[mid].down_is_good if mid in REGISTRY else False))


def format_cell(value: Any, column: str, row: dict, locale: str, currency: str) -> str:
    """A cell as the page and the pack write it. A distance to a target is written in the one
    convention (metrics.format.gap_text): "€832,105 short of target", "€12,000 ahead of target"."""
    if _missing(value):
        return ""
    unit = _cell_unit(column, row)
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if number and row.get("metric_id") in GAP_METRICS and column in GAP_COLUMNS:
        return gap_text(float(value), locale, currency)
    if number and column in VS_TARGET_COLUMNS:
        return vs_target_text(float(value), "share" if column == "vs_target_pct" else (unit or "money"),
                              locale, currency, down_is_good=_down_is_good(row))
    if unit and isinstance(value, (int, float)) and not isinstance(value, bool):
        if unit == "money":  # the presentation rules of every page: no cents from €1,000
            return format_amount(float(value), currency, locale)
        if unit == "ratio":
            return format_percent(float(value), locale)
        return format_value(float(value), unit, locale=locale, currency=currency)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    return str(value)


def _table_html(df: pd.DataFrame, locale: str, currency: str, hide=("metric_id", "unit")) -> str:
    if df is None or df.empty:
        return '<p class="muted">Nothing to show.</p>'
    cols = [c for c in df.columns if c not in hide]
    head = "".join(f"<th>{html.escape(str(c).replace('_', ' '))}</th>" for c in cols)
    body = []
    for row in df.to_dict("records"):
        cells = []
        for c in cols:
            v = row[c]
            text = html.escape(format_cell(v, c, row, locale, currency))
            if isinstance(v, (int, float)) and not isinstance(v, bool) and not _missing(v):
                cells.append(f'<td class="n" data-col="{html.escape(str(c))}" data-value="{float(v)!r}">{text}</td>')
            else:
                cells.append(f'<td data-col="{html.escape(str(c))}">{text}</td>')
        key = html.escape(str(row.get("metric_id", "")))
        body.append(f'<tr data-metric="{key}">' + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def headline_text(row: dict, locale: str, currency: str) -> str:
    """A headline tile's value, written as every page's tiles are (metrics.format.tile_value_text)."""
    value = None if _missing(row["value"]) else float(row["value"])
    return tile_value_text(value, row["unit"], locale, currency, row.get("metric_id"))


def _headline_html(df: pd.DataFrame, locale: str, currency: str) -> str:
    """The headline tiles as a two-column table per scope: label, value (raw in data-value)."""
    if df is None or df.empty:
        return '<p class="muted">Nothing to show.</p>'
    rows = []
    for row in df.to_dict("records"):
        raw = "" if _missing(row["value"]) else f' data-value="{float(row["value"])!r}"'
        rows.append(f'<tr data-metric="{html.escape(row["metric_id"])}" data-scope="{html.escape(row["scope"])}">'
                    f'<td>{html.escape(SCOPES.get(row["scope"], row["scope"]))}</td>'
                    f'<th class="label">{html.escape(row["label"])}</th>'
                    f'<td class="n headline"{raw}>{html.escape(headline_text(row, locale, currency))}</td></tr>')
    return "<table><tbody>" + "".join(rows) + "</tbody></table>"


SCOPES = {"quarter": "Quarter to date", "week": "Week under review"}


def to_html(report: WeekReport) -> str:
    """The week as one HTML document (plotly.js inlined once, so it opens offline)."""
    loc, cur = report.locale, report.currency
    sections = report.sections()
    snap = report.snapshot
    parts = [f"<h1>{html.escape(report.title)}</h1>",
             f'<p class="muted">Snapshot {snap["snapshot_id"]} ({html.escape(snap["kind"])}) taken '
             f'{snap["taken_at"]:%Y-%m-%d %H:%M} UTC. Week under review: {report.review[0]} to {report.review[1]}'
             + (f"; quarter {report.quarter[0]} to {report.quarter[1]}" if report.quarter else "") + ".</p>"]
    if report.differences:
        names = ", ".join(html.escape(d["metric_id"]) for d in report.differences)
        parts.append(f'<p class="note">Today\'s data would give different values for: {names}. '
                     "This pack shows the numbers as they were at the meeting.</p>")
    plotly_js: Any = True

    def chart(fig) -> str:
        nonlocal plotly_js
        out = fig.to_html(full_html=False, include_plotlyjs=plotly_js, config={"displayModeBar": False})
        plotly_js = False
        return out

    def section(title: str, body: str) -> None:
        parts.append(f"<h2>{html.escape(title)}</h2>{body}")

    changed = sections["What changed"]
    if changed.empty:
        why = report.changes.unavailable if report.changes is not None else "not computed"
        section("What changed since the last meeting", f'<p class="muted">{html.escape(why)}</p>')
    else:
        items = "".join(f'<li data-metric="{html.escape(r["metric_id"])}" data-value="{float(r["change"])!r}">'
                        f'{html.escape(r["explanation"])}</li>' for r in changed.to_dict("records"))
        section("What changed since the last meeting", f"<ul>{items}</ul>")
    section("Decisions followed to their outcome", _table_html(sections["Decisions followed"], loc, cur)
            + "<h3>Decisions of the week</h3>" + _table_html(sections["Decisions"], loc, cur)
            + "<h3>Open items carried over</h3>" + _table_html(sections["Open items"], loc, cur))
    section("Headline: the quarter to date and the week under review",
            _headline_html(sections["Headline"], loc, cur))
    section("KPIs", _table_html(sections["KPIs"], loc, cur))
    wf_body = chart(waterfall_figure(report.waterfall, locale=loc)) if report.waterfall else \
        f'<p class="muted">{html.escape(report.unavailable.get("Pipeline waterfall", ""))}</p>'
    section("Pipeline waterfall", wf_body + _table_html(sections["Pipeline waterfall"], loc, cur)
            + "<h3>Deals behind each bar</h3>" + _table_html(sections["Waterfall deals"], loc, cur))
    section("Forecast accuracy", chart(accuracy_figure(report.accuracy, cur, locale=loc))
            + _table_html(sections["Forecast accuracy"], loc, cur))
    section("Gap to target (quarter)", _table_html(sections["Gap to target"], loc, cur))
    why = report.unavailable.get("Behind pace")
    section("Behind pace (quota, quarter to the end of the week under review)",
            f'<p class="muted">{html.escape(why)}</p>' if why else _table_html(sections["Behind pace"], loc, cur))
    for name in ("Leads not followed up", "Best campaigns", "Worst campaigns"):
        why = report.unavailable.get("Campaigns" if "campaigns" in name else name)
        section(name, f'<p class="muted">{html.escape(why)}</p>' if why else _table_html(sections[name], loc, cur))
    for role in ROLES:
        section(role, _table_html(sections[f"{role} KPIs"], loc, cur) + "<h3>By region and product line</h3>"
                + _table_html(sections[f"{role} by cut"], loc, cur))
    section("What changed, by driver and segment", _table_html(sections["Change contributions"], loc, cur))
    return ("<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(report.title)}</title><style>{_CSS}</style></head><body>"
            + "\n".join(parts) + "</body></html>")


def _sheet_name(name: str, used: set[str]) -> str:
    base = "".join(ch for ch in name if ch not in '[]:*?/\\')[:31]
    out, i = base, 2
    while out in used:
        out = f"{base[:28]} {i}"
        i += 1
    used.add(out)
    return out


def _excel(value: Any) -> Any:
    """A cell value for the workbook: raw numbers and dates, text made inert (store.cells)."""
    if _missing(value):
        return None
    if isinstance(value, (list, tuple, dict)):
        return inert(str(value))
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    return inert(value)


def to_xlsx(report: WeekReport) -> bytes:
    """The week as a workbook: Summary, then one sheet per section (raw values)."""
    # openpyxl (0.15 s) only when a pack is written, not at every command's start (cli.py imports this module)
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    wb = Workbook()
    ws = wb.active
    ws.title = "Summary"
    snap = report.snapshot
    for label, value in (("Meeting", report.title), ("Week start", report.week_start),
                         ("Snapshot", snap["snapshot_id"]), ("Kind", snap["kind"]), ("Taken at (UTC)", snap["taken_at"]),
                         ("Review from", report.review[0]), ("Review to", report.review[1]),
                         ("Quarter from", report.quarter[0] if report.quarter else None),
                         ("Quarter to", report.quarter[1] if report.quarter else None),
                         ("Currency", report.currency),
                         ("Differs from today's data", ", ".join(d["metric_id"] for d in report.differences) or "no")):
        ws.append([label, _excel(value)])
    for why_section, why in report.unavailable.items():
        ws.append([_excel(f"{why_section}: not available"), _excel(why)])
    used = {"Summary"}
    for name, df in report.sections().items():
        sheet = wb.create_sheet(_sheet_name(name, used))
        sheet.append([inert(str(c)) for c in df.columns])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for n, row in enumerate(df.to_dict("records"), start=2):
            sheet.append([_excel(row[c]) for c in df.columns])
            for i, col in enumerate(df.columns, start=1):  # numbers stay numbers, shown in their unit
                cell = sheet.cell(row=n, column=i)
                unit = _cell_unit(str(col), row)
                if isinstance(cell.value, (dt.date, dt.datetime)):
                    unit = "datetime" if isinstance(cell.value, dt.datetime) and (
                        cell.value.hour, cell.value.minute) != (0, 0) else "date"
                elif not isinstance(cell.value, (int, float)) or isinstance(cell.value, bool):
                    unit = None
                number_format = xlsx_format(unit, report.currency)
                if unit and str(col) in VS_TARGET_COLUMNS:  # a distance to target: in words, sign kept
                    number_format = vs_target_xlsx_format("ratio" if col == "vs_target_pct" else unit,
                                                          report.currency, down_is_good=_down_is_good(row))
                elif unit and row.get("metric_id") in GAP_METRICS and str(col) in GAP_COLUMNS:
                    number_format = vs_target_xlsx_format(unit, report.currency, gap=True)
                if number_format:
                    cell.number_format = number_format
        for i, col in enumerate(df.columns, start=1):
            sheet.column_dimensions[get_column_letter(i)].width = min(40, max(10, len(str(col)) + 2))
    for sheet in wb.worksheets:
        strings_as_text(sheet)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def pack_file_name(report: WeekReport, ext: str) -> str:
    return f"northstar-meeting-{report.week_start.isoformat()}.{ext}"


__all__ = ["to_html", "to_xlsx", "format_cell", "pack_file_name"]
