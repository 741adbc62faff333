"""Invoices, marketing spend and budgets: each preset and the generic mapping, round-tripped
into the store, with expected rows written out by hand from the fixture files."""
from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import ROUND_HALF_UP, Decimal

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from connectors.files.importer import import_file, read_file
from store import schema as s
from fileimport_helpers import FIXTURES, SHARED_SPEND

D = dt.date


def _rows(engine, table, cols, order):
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(*[table.c[c] for c in cols]).order_by(*[table.c[o] for o in order]))]


def _import(engine, kind, name, mapping=None, data=None, **kw):
    data = data if data is not None else (FIXTURES / name).read_bytes()
    report = import_file(engine, kind, data, name, actor="test", mapping=mapping, **kw)
    assert report.status == "success", report.as_text()
    return report


INV_COLS = ["invoice_number", "customer_name", "deal_id", "issue_date", "due_date", "paid_date",
            "amount_excl_tax_cents", "tax_cents", "currency", "status", "is_credit_note", "origin"]


def test_invoices_generic_french_csv(engine):
    report = _import(engine, "invoices", "invoices_generic_fr.csv")
    assert report.detected["delimiter"] == "semicolon" and report.detected["decimal"] == ","
    assert _rows(engine, s.invoices, INV_COLS, ["invoice_number"]) == [
        ("F-2024-001", "Acme SA", "9001", D(2024, 1, 15), D(2024, 2, 14), D(2024, 2, 10), 120000, 24000, "EUR", "paid", False, "csv"),
        ("F-2024-002", "Globex", None, D(2024, 1, 31), D(2024, 3, 1), None, 345050, 69010, "EUR", "open", False, "csv"),
        ("F-2024-003", "Acme SA", "9001", D(2024, 2, 5), D(2024, 3, 6), None, -20000, -4000, "EUR", "paid", True, "csv"),
    ]


def test_invoices_stripe_preset(engine):
    _import(engine, "invoices", "invoices_stripe.csv", mapping="stripe")
    assert _rows(engine, s.invoices, INV_COLS, ["invoice_number"]) == [
        ("ABC-0001", "Initech", "7001", D(2024, 3, 1), D(2024, 3, 31), D(2024, 3, 5), 99000, 19800, "EUR", "paid", False, "stripe"),
        ("ABC-0002", "Umbrella", None, D(2024, 3, 12), D(2024, 4, 11), None, 150050, 30010, "EUR", "open", False, "stripe"),
        ("ABC-0003", "Initech", None, D(2024, 3, 20), None, None, 25000, 0, "USD", "void", False, "stripe"),
    ]


def test_invoices_xero_preset_sums_lines(engine):
    report = _import(engine, "invoices", "invoices_xero.csv", mapping="xero")
    assert report.rows_read == 4 and report.rows_accepted == 3
    got = _rows(engine, s.invoices, ["invoice_number", "amount_excl_tax_cents", "tax_cents", "currency",
                                     "status", "is_credit_note"], ["invoice_number"])
    assert got == [("CN-0007", -10000, -2000, "GBP", "paid", True),
                   ("INV-0101", 112000, 22400, "GBP", "paid", False),  # 1,000.00 + 120.00
                   ("INV-0102", 300000, 60000, "GBP", "open", False)]


def _quickbooks_xlsx() -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(["Date", "Transaction type", "No.", "Customer", "Due date", "Amount before tax", "Tax amount", "Status"])
    ws.append([dt.datetime(2024, 2, 3), "Invoice", "1001", "Hooli", dt.datetime(2024, 3, 4), 1999.99, 400, "Paid"])
    ws.append([dt.datetime(2024, 2, 10), "Invoice", "1002", "Hooli", dt.datetime(2024, 3, 11), 500, 100, "Overdue"])
    ws.append([dt.datetime(2024, 2, 12), "Credit Memo", "1003", "Hooli", None, 50.5, 10.1, "Closed"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_invoices_quickbooks_xlsx_preset(engine):
    _import(engine, "invoices", "quickbooks.xlsx", mapping="quickbooks", data=_quickbooks_xlsx())
    got = _rows(engine, s.invoices, ["invoice_number", "issue_date", "due_date", "amount_excl_tax_cents",
                                     "tax_cents", "status", "is_credit_note", "origin"], ["invoice_number"])
    assert got == [("1001", D(2024, 2, 3), D(2024, 3, 4), 199999, 40000, "paid", False, "quickbooks"),
                   ("1002", D(2024, 2, 10), D(2024, 3, 11), 50000, 10000, "open", False, "quickbooks"),
                   ("1003", D(2024, 2, 12), None, -5050, -1010, "paid", True, "quickbooks")]


def test_invoices_mapping_file_and_forced_options(engine, tmp_path):
    data = "Ref|Who|When|Net|VAT\nA-1|Zed|03.04.2024|1.234,5|0\n".encode("cp1252")
    mapping = tmp_path / "mine.yaml"
    mapping.write_text("columns: {invoice_number: Ref, customer_name: Who, issue_date: When, "
                       "amount_excl_tax: Net, tax: VAT}\noptions: {delimiter: pipe, decimal: ',', thousands: '.'}\n"
                       "constants: {currency: chf}\n", encoding="utf-8")
    _import(engine, "invoices", "mine.csv", mapping=str(mapping), data=data)
    assert _rows(engine, s.invoices, ["invoice_number", "issue_date", "amount_excl_tax_cents", "currency", "status"],
                 ["invoice_number"]) == [("A-1", D(2024, 4, 3), 123450, "CHF", "open")]


def test_invoices_validation_problems():
    data = ("invoice number,customer,issue date,amount excl tax,status\n"
            "A1,X,2024-01-01,100.00,paid\n"
            "A2,X,2024-13-01,100.00,paid\n"
            "A3,X,2024-01-02,1O0.00,paid\n"
            "A4,X,2024-01-03,100.00,lost in the mail\n"
            "A1,Y,2024-01-05,50.00,paid\n"
            "A5,X,2024-01-06,100.00,open\n").encode()
    report = read_file("invoices", data, "inv.csv").report
    got = sorted((p.line, p.column, p.reason.split(":")[0].split(" (")[0]) for p in report.errors)
    assert got == [(2, "invoice_number", "duplicate invoice number"), (3, "issue date", "unparseable date"),
                   (4, "amount excl tax", "unparseable amount"), (5, "status", "unknown status"),
                   (6, "invoice_number", "duplicate invoice number")]
    assert report.rows_accepted == 1 and report.rows_rejected == 5 and report.partial_safe


def test_invoices_reimport_replaces_only_the_same_invoice_numbers(engine):
    first = b"invoice number,issue date,amount excl tax\nB1,2024-05-01,10.00\nB2,2024-05-20,20.00\n"
    second = b"invoice number,issue date,amount excl tax\nB1,2024-05-01,11.00\nB3,2024-05-25,30.00\n"
    _import(engine, "invoices", "may.csv", data=first)
    report = _import(engine, "invoices", "may-fixed.csv", data=second)
    assert report.rows_replaced == 1 and report.replaced_from == {1: 1}  # B1, brought by import #1
    assert _rows(engine, s.invoices, ["invoice_number", "amount_excl_tax_cents"], ["invoice_number"]) == [
        ("B1", 1100), ("B2", 2000), ("B3", 3000)]


def test_invoices_reimport_with_replace_replaces_the_period(engine):
    first = b"invoice number,issue date,amount excl tax\nB1,2024-05-01,10.00\nB2,2024-05-20,20.00\n"
    second = b"invoice number,issue date,amount excl tax\nB1,2024-05-01,11.00\nB3,2024-05-25,30.00\n"
    _import(engine, "invoices", "may.csv", data=first)
    report = _import(engine, "invoices", "may-fixed.csv", data=second, replace=True)
    assert report.rows_replaced == 2 and report.replaced_from == {1: 2}
    assert _rows(engine, s.invoices, ["invoice_number", "amount_excl_tax_cents"], ["invoice_number"]) == [
        ("B1", 1100), ("B3", 3000)]


SPEND_COLS = ["spend_date", "channel", "campaign", "region", "product_line", "amount_cents", "currency", "origin"]


def test_spend_google_ads_preset_skips_title_lines(engine):
    report = _import(engine, "spend", "spend_google_ads.csv", mapping="google-ads")
    assert report.detected["header line"] == "3"
    assert _rows(engine, s.marketing_spend, SPEND_COLS, ["spend_id"]) == [
        (D(2024, 1, 1), "google_ads", "Brand FR", None, None, 123450, "EUR", "google-ads"),
        (D(2024, 1, 1), "google_ads", "Generic EN", None, None, 8725, "EUR", "google-ads"),
        (D(2024, 1, 2), "google_ads", "Brand FR", None, None, 99000, "EUR", "google-ads")]


def test_spend_meta_ads_currency_from_header(engine):
    _import(engine, "spend", "spend_meta_ads.csv", mapping="meta-ads")
    assert _rows(engine, s.marketing_spend, ["spend_date", "amount_cents", "currency"], ["spend_id"]) == [
        (D(2024, 2, 1), 15075, "USD"), (D(2024, 2, 2), 14925, "USD")]


def test_spend_linkedin_ads_preset_forced_us_dates(engine):
    report = _import(engine, "spend", "spend_linkedin_ads.csv",
                     mapping={"preset": "linkedin-ads", "options": {"month_first": True}})
    assert "Impressions" in report.detected["columns not imported"]
    assert _rows(engine, s.marketing_spend, SPEND_COLS, ["spend_id"]) == [
        (D(2024, 1, 3), "linkedin_ads", "ABM Enterprise", None, None, 102040, "EUR", "linkedin-ads"),
        (D(2024, 1, 4), "linkedin_ads", "ABM Enterprise", None, None, 98000, "EUR", "linkedin-ads")]


def test_spend_generic(engine):
    _import(engine, "spend", "spend_generic.csv")
    assert _rows(engine, s.marketing_spend, SPEND_COLS, ["spend_id"]) == [
        (D(2024, 3, 1), "linkedin", "ABM Q1", "EMEA", "Platform", 50000, "EUR", "csv"),
        (D(2024, 3, 1), "events", "Salon Paris", "EMEA", None, 250000, "EUR", "csv"),
        (D(2024, 3, 2), "linkedin", "ABM Q1", "NA", "Platform", 30010, "USD", "csv")]


def test_spend_robyn_weekly_preset_melts_channels(engine):
    path = SHARED_SPEND / "dt_simulated_weekly.csv"
    report = _import(engine, "spend", path.name, mapping="robyn-weekly", data=path.read_bytes())
    expected: dict[str, int] = {}
    with path.open(newline="") as f:  # independent: csv module + Decimal, half-up to cents
        for row in csv.DictReader(f):
            for col, value in row.items():
                if col.endswith("_S"):
                    cents = int((Decimal(value) * 100).quantize(Decimal(1), ROUND_HALF_UP))
                    expected[col[:-2]] = expected.get(col[:-2], 0) + cents
    assert set(expected) == {"tv", "ooh", "print", "search", "facebook"}
    with engine.connect() as conn:
        got = dict(conn.execute(select(s.marketing_spend.c.channel, func.sum(s.marketing_spend.c.amount_cents))
                                .group_by(s.marketing_spend.c.channel)).all())
    assert got == expected
    assert report.rows_read == 208 and report.rows_accepted == 208 * 5
    assert report.period == (D(2015, 11, 23), D(2019, 11, 11))
    assert any("no currency" in p.reason for p in report.warnings)


def test_spend_robyn_reimport_replaces_not_doubles(engine):
    path = SHARED_SPEND / "dt_simulated_weekly.csv"
    data = path.read_bytes()
    _import(engine, "spend", path.name, mapping="robyn-weekly", data=data)
    changed = data.replace(b"\n", b"\r\n")  # same content, different bytes: a new hash
    report = _import(engine, "spend", path.name, mapping="robyn-weekly", data=changed)
    assert report.rows_replaced == 1040
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(s.marketing_spend)).scalar_one() == 1040


def test_budgets_generic(engine):
    _import(engine, "budgets", "budgets.csv")
    got = _rows(engine, s.budgets, ["month", "region", "product_line", "metric", "value"], ["budget_id"])
    assert got == [(D(2024, 1, 1), "EMEA", "Platform", "target_revenue", 15_000_000.0),  # money -> cents
                   (D(2024, 1, 1), "EMEA", "Platform", "mqls", 120.0),
                   (D(2024, 2, 1), "", "", "target_revenue", 30_000_050.0),
                   (D(2024, 2, 1), "EMEA", "", "lead_to_mql_rate", 0.125)]


@pytest.mark.parametrize("raw, month", [("2024-03", D(2024, 3, 1)), ("03/2024", D(2024, 3, 1)),
                                        ("Mar 2024", D(2024, 3, 1)), ("202412", D(2024, 12, 1)),
                                        ("2024-07-15", D(2024, 7, 1))])
def test_budgets_month_formats(raw, month):
    parsed = read_file("budgets", f"month,metric,value\n{raw},mqls,5\n".encode(), "b.csv")
    assert parsed.report.ok and parsed.rows[0]["month"] == month


def test_budgets_duplicates_and_bad_values():
    data = ("month,region,metric,value\n2024-01,EMEA,mqls,5\n2024-01,EMEA,mqls,6\n"
            "2024-13,EMEA,mqls,1\n2024-02,EMEA,MQL target!,1\n2024-02,EMEA,mqls,abc\n").encode()
    report = read_file("budgets", data, "b.csv").report
    got = sorted((p.line, p.reason.split(" (")[0].split(":")[0]) for p in report.errors)
    assert got == [(2, "duplicate budget line"), (3, "duplicate budget line"), (4, "unparseable month"),
                   (5, "metric must be an id such as target_revenue or mqls"), (6, "unparseable number")]
