"""Budgets and targets: month x region x product line x metric -> value."""
from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import Connection, and_

from store import schema as s

from .mapping import Field, Mapping, read_mapped
from .report import Parsed

FIELDS = [
    Field("month", "text", True, ("month", "mois", "period", "période", "date")),
    Field("region", "text", False, ("region", "région"), 64),
    Field("product_line", "text", False, ("product line", "product_line", "gamme"), 64),
    Field("metric", "text", True, ("metric", "metric id", "kpi", "indicateur"), 64),
    Field("value", "number", True, ("value", "target", "budget", "amount", "valeur")),
]
# Metric ids holding money: their values are given in currency units and stored in cents.
MONEY_WORDS = {"revenue", "spend", "budget", "bookings", "pipeline", "amount", "arr", "mrr", "cost", "cac"}
_MONTHS = {m: i for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                       "nov", "dec"], start=1)}


def parse_month(raw: str) -> dt.date:
    """'2024-03', '2024-03-01', '03/2024', '202403', 'Mar 2024' -> 2024-03-01."""
    v = raw.strip()
    m = (re.fullmatch(r"(\d{4})-(\d{1,2})(?:-\d{1,2})?(?:[ T].*)?", v) or re.fullmatch(r"(\d{4})(\d{2})", v))
    if m:
        year, month = int(m.group(1)), int(m.group(2))
    elif m2 := re.fullmatch(r"(\d{1,2})[/.](\d{4})", v):
        year, month = int(m2.group(2)), int(m2.group(1))
    elif m3 := re.fullmatch(r"([A-Za-z]{3})[a-z]*\.?[ -](\d{4})", v):
        if m3.group(1).lower() not in _MONTHS:
            raise ValueError("unknown month name")
        year, month = int(m3.group(2)), _MONTHS[m3.group(1).lower()]
    else:
        raise ValueError("expected a month such as 2024-03, 03/2024 or Mar 2024")
    if not (1 <= month <= 12 and 1900 <= year <= 2200):
        raise ValueError("month or year out of range")
    return dt.date(year, month, 1)


def is_money_metric(metric: str, mapping: Mapping) -> bool:
    listed = mapping.options.get("money_metrics")
    if listed is not None:
        return metric in listed
    return bool(MONEY_WORDS & set(metric.split("_")))


def read_budgets(data: bytes, file_name: str, mapping: Mapping) -> Parsed:
    """Parse and validate budget lines; money metrics converted to cents."""
    report, _table, records = read_mapped(data, file_name, "budgets", FIELDS, mapping)
    rows, seen = [], {}
    for line_no, r in records:
        try:
            month = parse_month(r["month"])
        except ValueError as exc:
            report.add(line_no, "month", r["month"], f"unparseable month: {exc}")
            continue
        metric = re.sub(r"[\s-]+", "_", r["metric"].strip().lower())
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", metric):
            report.add(line_no, "metric", r["metric"], "metric must be an id such as target_revenue or mql_target")
            continue
        key = (month, r["region"] or "", r["product_line"] or "", metric)
        seen.setdefault(key, []).append(line_no)
        value = round(r["value"] * 100) if is_money_metric(metric, mapping) else r["value"]
        rows.append({"month": month, "region": key[1], "product_line": key[2], "metric": metric,
                     "value": float(value)})
    for key, lines in seen.items():
        if len(lines) > 1:
            for ln in lines:
                report.add(ln, "metric", key[3], "duplicate budget line (same month, region, product line and "
                           f"metric on lines {', '.join(map(str, lines))}); which one is right is unknown")
    rows = [r for r in rows if len(seen[(r["month"], r["region"], r["product_line"], r["metric"])]) == 1]
    report.rows_accepted = len(rows)
    report.rows_rejected = len({p.line for p in report.errors if p.line > 1})
    if rows:
        report.period = (min(r["month"] for r in rows), max(r["month"] for r in rows))
    return Parsed(report, rows, {"metrics": sorted({r["metric"] for r in rows})})


def write_budgets(conn: Connection, parsed: Parsed, import_id: int) -> int:
    """Replace the file's metrics over its months, then insert."""
    t = s.budgets
    start, end = parsed.report.period
    replaced = conn.execute(t.delete().where(and_(
        t.c.metric.in_(parsed.scope["metrics"]), t.c.month >= start, t.c.month <= end))).rowcount
    conn.execute(t.insert(), [dict(r, import_id=import_id) for r in parsed.rows])
    return replaced
