"""Marketing spend: date x channel x campaign amounts, from CSV/XLSX or a wide weekly file."""
from __future__ import annotations

import re

from sqlalchemy import Connection, and_

from store import schema as s

from . import history
from .detect import FileFormatError, make_cents_parser, make_date_parser, detect_date_format, read_table
from .mapping import Field, Mapping, norm_label, read_mapped
from .report import ImportReport, Parsed

FIELDS = [
    Field("spend_date", "date", True, ("date", "day", "spend date", "spend_date", "week", "jour")),
    Field("channel", "text", True, ("channel", "source", "platform", "canal"), 64),
    Field("campaign", "text", False, ("campaign", "campaign name", "campagne")),
    Field("region", "text", False, ("region", "région"), 64),
    Field("product_line", "text", False, ("product line", "product_line", "gamme"), 64),
    Field("amount", "cents", True, ("amount", "spend", "cost", "amount spent*", "montant", "dépense")),
    Field("currency", "text", False, ("currency", "currency code", "devise"), 3),
]


def read_spend(data: bytes, file_name: str, mapping: Mapping) -> Parsed:
    """Parse and validate a spend export into store rows (amounts in cents)."""
    if mapping.options.get("wide"):
        report, records = _read_wide(data, file_name, mapping)
        table_header = None
    else:
        report, table, records = read_mapped(data, file_name, "spend", FIELDS, mapping)
        table_header = table.header if table else None
    origin = str(mapping.constants.get("origin", "csv"))[:16]
    header_currency = None
    if table_header and "amount" not in mapping.constants:
        m = re.search(r"\(([A-Z]{3})\)", " ".join(h for h in table_header if norm_label(h).startswith("amount")))
        header_currency = m.group(1) if m else None
    default_currency = str(mapping.constants.get("currency") or header_currency or "EUR").upper()
    if not any(p.line == 0 for p in report.errors) and "currency" not in mapping.constants \
            and not header_currency and records and all(r.get("currency") is None for _, r in records):
        report.add(0, "currency", "", f"the file names no currency; amounts are taken as {default_currency} "
                   "(set constants: {currency: XXX} in the mapping to change it)", "warning")
    rows = []
    seen: dict[tuple, int] = {}
    for line_no, r in records:
        currency = (r.get("currency") or default_currency).strip().upper()
        if not re.fullmatch(r"[A-Z]{3}", currency):
            report.add(line_no, "currency", r.get("currency"), "currency must be a 3-letter ISO code (EUR, USD...)")
            continue
        if r["amount"] < 0:
            report.add(line_no, "amount", r["amount"] / 100, "negative spend (a refund?) imported as is", "warning")
        key = (r["spend_date"], r["channel"], r.get("campaign"), r.get("region"), r.get("product_line"))
        if key in seen:
            report.add(line_no, "spend_date", r["spend_date"],
                       f"same date, channel and campaign as line {seen[key]}; both are kept and add up", "warning")
        seen.setdefault(key, line_no)
        rows.append({"spend_date": r["spend_date"], "channel": r["channel"].strip(), "campaign": r.get("campaign"),
                     "region": r.get("region"), "product_line": r.get("product_line"),
                     "amount_cents": r["amount"], "currency": currency, "origin": origin})
    report.rows_accepted = len(rows)
    report.rows_rejected = len({p.line for p in report.errors if p.line > 1})
    if rows:
        report.period = (min(r["spend_date"] for r in rows), max(r["spend_date"] for r in rows))
    return Parsed(report, rows, {"origin": origin, "channels": sorted({r["channel"] for r in rows})})


def _read_wide(data: bytes, file_name: str, mapping: Mapping) -> tuple[ImportReport, list[tuple[int, dict]]]:
    """One row per period and one spend column per channel (`tv_S`...), melted to date x channel."""
    report = ImportReport("spend", file_name)
    report.detected["preset"] = mapping.preset
    date_col = str(mapping.options.get("date_column", "DATE"))
    suffix = str(mapping.options.get("spend_suffix", "_S"))
    try:
        table = read_table(data, file_name, mapping.read_options())
    except FileFormatError as exc:
        report.add(0, "", "", str(exc))
        return report, []
    report.detected.update(table.detected)
    header = table.header
    lower = [h.lower() for h in header]
    if date_col.lower() not in lower:
        report.add(1, date_col, "", f"no {date_col!r} column (the wide format needs one date column)")
        return report, []
    i_date = lower.index(date_col.lower())
    spend_cols = [(i, h[: -len(suffix)]) for i, h in enumerate(header) if h.endswith(suffix) and len(h) > len(suffix)]
    if not spend_cols:
        report.add(1, "", "", f"no spend column ending in {suffix!r}")
        return report, []
    report.detected["channels"] = ", ".join(c for _, c in spend_cols)
    opts = mapping.read_options()
    fmt = opts.date_format or detect_date_format([c[i_date] for _, c in table.rows if i_date < len(c)])
    parse_date = make_date_parser(fmt)
    cents = make_cents_parser(opts.decimal or ".", opts.thousands or "")
    out = []
    for line_no, cells in table.rows:
        if len(cells) < len(header):
            report.add(line_no, "", ",".join(cells)[:60], f"expected {len(header)} fields, found {len(cells)}")
            continue
        try:
            day = parse_date(cells[i_date])
        except ValueError as exc:
            report.add(line_no, date_col, cells[i_date], f"unparseable date: {exc}")
            continue
        parsed, ok = [], True
        for i, channel in spend_cols:
            try:
                parsed.append((channel, cents(cells[i])))
            except ValueError as exc:
                report.add(line_no, header[i], cells[i], f"unparseable amount: {exc}")
                ok = False
        if ok:
            out.extend((line_no, {"spend_date": day, "channel": ch, "amount": amt, "currency": None})
                       for ch, amt in parsed)
    report.rows_read = len(table.rows)
    return report, out


def spend_key(row) -> tuple:
    return (row["spend_date"], row["channel"], row["campaign"] or None, row["region"] or None,
            row["product_line"] or None)


def write_spend(conn: Connection, parsed: Parsed, import_id: int, replace: bool = False) -> tuple[dict, str]:
    """Insert the file's spend. Earlier spend of the same source, day, channel, campaign, region and
    product line is replaced (the file supersedes it); with `replace`, so is all the source's spend
    on the file's channels in its period. ({import that had brought the replaced rows: count}, the rule)."""
    t = s.marketing_spend
    start, end = parsed.report.period
    scope = and_(t.c.origin == parsed.scope["origin"], t.c.channel.in_(parsed.scope["channels"]),
                 t.c.spend_date >= start, t.c.spend_date <= end)
    if replace:
        rule = f"asked to replace: {parsed.scope['origin']} spend on {', '.join(parsed.scope['channels'])} " \
               f"from {start} to {end}"
        replaced = history.replace_rows(conn, t, scope, import_id)
    else:
        rule = "same source, day, channel, campaign, region and product line"
        keys = {spend_key(r) for r in parsed.rows}
        replaced = history.replace_rows(conn, t, scope, import_id, keep=lambda row: spend_key(row) in keys)
    rows = [dict(r, import_id=import_id) for r in parsed.rows]
    for i in range(0, len(rows), 5000):
        conn.execute(t.insert(), rows[i:i + 5000])
    return replaced, rule
