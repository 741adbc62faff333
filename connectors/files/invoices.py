"""Invoices from CSV/XLSX (Stripe, QuickBooks, Xero presets or a custom mapping)."""
from __future__ import annotations

import re

from sqlalchemy import Connection, and_

from store import schema as s

from . import history
from .mapping import Field, Mapping, read_mapped
from .report import Parsed

FIELDS = [
    Field("invoice_number", "text", True, ("invoice number", "invoice_number", "invoice no", "invoice #",
                                           "number", "numéro de facture", "n° facture", "facture"), 64),
    Field("customer_name", "text", False, ("customer name", "customer_name", "customer", "client", "contact name")),
    Field("company_id", "text", False, ("hubspot company id", "company id", "company_id"), 64),
    Field("deal_id", "text", False, ("hubspot deal id", "deal id", "deal_id"), 64),
    Field("issue_date", "date", True, ("issue date", "issue_date", "invoice date", "date", "date de facture")),
    Field("due_date", "date", False, ("due date", "date d'échéance", "échéance")),
    Field("paid_date", "date", False, ("paid date", "paid at", "payment date", "date de paiement")),
    Field("amount_excl_tax", "cents", True, ("amount excl tax", "amount excluding tax", "amount_excl_tax",
                                             "net amount", "subtotal", "montant ht", "total ht")),
    Field("tax", "cents", False, ("tax", "tax amount", "vat", "tva", "montant tva")),
    Field("currency", "text", False, ("currency", "devise"), 3),
    Field("status", "text", False, ("status", "statut", "état")),
    Field("credit_note", "text", False, ("credit note", "is credit note", "is_credit_note", "type")),
    # the period the amount pays for (recurring revenue, metrics/recurring.py): both or neither
    Field("service_period_start", "date", False, ("service period start", "service_period_start",
                                                  "period start (utc)", "period start", "début de période")),
    Field("service_period_end", "date", False, ("service period end", "service_period_end",
                                                "period end (utc)", "period end", "fin de période")),
]

_STATUS = {
    "paid": "paid", "payé": "paid", "payée": "paid", "réglée": "paid", "settled": "paid",
    "open": "open", "unpaid": "open", "sent": "open", "overdue": "open", "outstanding": "open",
    "authorised": "open", "authorized": "open", "awaiting payment": "open", "partial": "open",
    "partially paid": "open", "impayée": "open", "en retard": "open", "finalized": "open",
    "draft": "draft", "brouillon": "draft",
    "void": "void", "voided": "void", "cancelled": "void", "canceled": "void", "deleted": "void",
    "annulée": "void", "uncollectible": "uncollectible", "written off": "uncollectible",
}
_CREDIT_TRUE = re.compile(r"credit|avoir|refund|^(1|true|yes|oui|y)$", re.IGNORECASE)


def read_invoices(data: bytes, file_name: str, mapping: Mapping) -> Parsed:
    """Parse and validate an invoice export; amounts excluding tax in cents, credit notes negative."""
    report, _table, records = read_mapped(data, file_name, "invoices", FIELDS, mapping)
    origin = str(mapping.constants.get("origin", "csv"))[:16]
    default_currency = str(mapping.constants.get("currency", "EUR")).upper()
    if mapping.options.get("group_lines") == "service_period":
        records = _group_lines_by_period(records, report)
    elif mapping.options.get("group_lines"):
        records = _group_lines(records, report)
    rows: list[tuple[int, dict]] = []
    for line_no, r in records:
        ok = True
        currency = (r["currency"] or default_currency).strip().upper()
        if not re.fullmatch(r"[A-Z]{3}", currency):
            report.add(line_no, "currency", r["currency"], "currency must be a 3-letter ISO code (EUR, USD...)")
            ok = False
        raw_status = (r["status"] or "").strip()
        status = _STATUS.get(raw_status.lower()) if raw_status else ("paid" if r["paid_date"] else "open")
        if status is None:
            report.add(line_no, "status", raw_status,
                       "unknown status (expected paid, open, draft, void or uncollectible; map others under values: status:)")
            ok = False
        amount, tax = r["amount_excl_tax"], r["tax"] or 0
        credit = bool(r["credit_note"] and _CREDIT_TRUE.search(r["credit_note"].strip())) or amount < 0
        if credit and amount > 0:
            amount, tax = -amount, -abs(tax)
        start, end = r.get("service_period_start"), r.get("service_period_end")
        if (start is None) != (end is None):
            missing = "service_period_end" if end is None else "service_period_start"
            report.add(line_no, missing, "", "a service period needs both its start and its end; "
                       "fill the other one, or leave both empty for a one-off charge")
            ok = False
        elif start is not None and end < start:
            report.add(line_no, "service_period_end", end,
                       f"service period ends ({end}) before it starts ({start}); swap the two columns or fix the dates")
            ok = False
        if r["due_date"] and r["due_date"] < r["issue_date"]:
            report.add(line_no, "due_date", r["due_date"], "due date before the issue date", "warning")
        if not ok:
            continue
        rows.append((line_no, {
            "invoice_number": r["invoice_number"], "customer_name": r["customer_name"],
            "company_id": r["company_id"], "deal_id": r["deal_id"], "issue_date": r["issue_date"],
            "due_date": r["due_date"], "paid_date": r["paid_date"], "amount_excl_tax_cents": amount,
            "tax_cents": tax, "currency": currency, "status": status, "is_credit_note": credit,
            "service_period_start": start, "service_period_end": end, "origin": origin}))
    seen: dict[str, list[int]] = {}
    for line_no, row in rows:
        seen.setdefault(row["invoice_number"], []).append(line_no)
    dupes = {n: lines for n, lines in seen.items() if len(lines) > 1}
    for number, lines in dupes.items():
        for ln in lines:
            report.add(ln, "invoice_number", number,
                       f"duplicate invoice number (lines {', '.join(map(str, lines))}); which one is right is unknown")
    final = [row for _, row in rows if row["invoice_number"] not in dupes]
    report.rows_accepted = len(final)
    report.rows_rejected = len({p.line for p in report.errors if p.line > 1})
    if final:
        report.period = (min(r["issue_date"] for r in final), max(r["issue_date"] for r in final))
    return Parsed(report, final, {"origin": origin})


def _group_lines(records: list[tuple[int, dict]], report) -> list[tuple[int, dict]]:
    """Sum the lines of each invoice (Xero exports one row per invoice line)."""
    grouped: dict[str, tuple[int, dict]] = {}
    for line_no, r in records:
        key = r["invoice_number"]
        if key not in grouped:
            grouped[key] = (line_no, dict(r, tax=r["tax"] or 0))
            continue
        first_line, g = grouped[key]
        if g["issue_date"] != r["issue_date"] or (g["currency"] or "") != (r["currency"] or ""):
            report.add(line_no, "issue_date", r["issue_date"],
                       f"line of invoice {key} disagrees with line {first_line} on date or currency")
            continue
        g["amount_excl_tax"] += r["amount_excl_tax"]
        g["tax"] += r["tax"] or 0
    return list(grouped.values())


def _group_lines_by_period(records: list[tuple[int, dict]], report) -> list[tuple[int, dict]]:
    """A line-items export (one row per invoice line, each with its service period): the lines of
    one invoice with the same service period are summed into one row; an invoice whose lines cover
    several periods (a proration, an annual add-on) keeps one row per period, the first under the
    invoice's number and the others under "<number> (period <start>)", so each period's amount is
    recurring revenue of its own months and the invoice's total is unchanged."""
    by_invoice: dict[str, dict[tuple, tuple[int, dict]]] = {}
    for line_no, r in records:
        key = r["invoice_number"]
        period = (r.get("service_period_start"), r.get("service_period_end"))
        groups = by_invoice.setdefault(key, {})
        first = next(iter(groups.values()), None)
        if first is not None and (first[1]["issue_date"] != r["issue_date"]
                                  or (first[1]["currency"] or "") != (r["currency"] or "")):
            report.add(line_no, "issue_date", r["issue_date"],
                       f"line of invoice {key} disagrees with line {first[0]} on date or currency")
            continue
        if period not in groups:
            groups[period] = (line_no, dict(r, tax=r["tax"] or 0))
            continue
        g = groups[period][1]
        g["amount_excl_tax"] += r["amount_excl_tax"]
        g["tax"] += r["tax"] or 0
    out = []
    for key, groups in by_invoice.items():
        for k, (line_no, g) in enumerate(groups.values()):
            if k:
                suffix = f" (period {g.get('service_period_start') or 'none'})"
                g = dict(g, invoice_number=(key[:64 - len(suffix)] + suffix))
            out.append((line_no, g))
    return out


def write_invoices(conn: Connection, parsed: Parsed, import_id: int, replace: bool = False) -> tuple[dict, str]:
    """Insert the file's invoices. An earlier invoice of the same number and source is replaced
    (the file supersedes it); with `replace`, so is every invoice of the source issued in the
    file's period. ({import that had brought the replaced rows: count}, the rule applied)."""
    t = s.invoices
    origin = parsed.scope["origin"]
    numbers = sorted({r["invoice_number"] for r in parsed.rows})
    replaced: dict = {}
    for i in range(0, len(numbers), 500):
        replaced = history.merge(replaced, history.replace_rows(
            conn, t, and_(t.c.origin == origin, t.c.invoice_number.in_(numbers[i:i + 500])), import_id))
    rule = "same invoice numbers"
    if replace:
        start, end = parsed.report.period
        period = history.replace_rows(conn, t, and_(t.c.origin == origin, t.c.issue_date >= start,
                                                    t.c.issue_date <= end), import_id)
        if period:
            replaced = history.merge(replaced, period)
            rule = f"asked to replace: {origin} invoices issued {start} to {end}, and same invoice numbers"
    rows = [dict(r, import_id=import_id) for r in parsed.rows]
    for i in range(0, len(rows), 5000):
        conn.execute(t.insert(), rows[i:i + 5000])
    return replaced, rule
