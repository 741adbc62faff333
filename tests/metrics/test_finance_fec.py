"""Finance metrics on files imported through the file connector: the real FEC files of
tests/data/fec (ledger revenue and S&M spend must equal the figures an independent reader
got, tests/connectors/files/test_fec.py: split on the separator, Decimal sums; awk agrees), and a
French invoice export with a credit note (tests/fixtures/files/invoices_generic_fr.csv)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from connectors.files.importer import import_file
from metrics import Filters, compute_many

ROOT = Path(__file__).resolve().parents[2]
SHARED_FEC = ROOT / "tests" / "data" / "fec"
INVOICES_FR = ROOT / "tests" / "fixtures" / "files" / "invoices_generic_fr.csv"

# file: (first and last EcritureDate, revenue = credit - debit on 70x in cents, 623x debit - credit in cents)
FILES = {
    "111111111FEC20221231.TXT": ("2023-01-01", "2023-07-31", 3647728, 4105),
    "000000000FEC20231231.txt": ("2021-01-01", "2023-06-30", 16529793, 144900),
}


@pytest.mark.parametrize("name", sorted(FILES))
def test_ledger_metrics_on_a_real_fec(engine, name):
    first, last, revenue_cents, spend_cents = FILES[name]
    report = import_file(engine, "fec", (SHARED_FEC / name).read_bytes(), name, actor="test")
    assert report.status == "success", report.message
    f = Filters(dt.date.fromisoformat(first), dt.date.fromisoformat(last))
    got = compute_many(engine, ["ledger_revenue", "sm_spend", "invoiced_to_ledger_gap"], f)
    assert got["ledger_revenue"].value == pytest.approx(revenue_cents / 100)
    assert got["sm_spend"].value == pytest.approx(spend_cents / 100)
    # no invoices imported: the gap says so instead of showing minus the ledger
    assert got["invoiced_to_ledger_gap"].value is None and "invoice" in got["invoiced_to_ledger_gap"].reason


def test_invoice_metrics_on_an_imported_invoice_export(engine):
    report = import_file(engine, "invoices", INVOICES_FR.read_bytes(), INVOICES_FR.name, actor="test")
    assert report.status == "success", report.message
    jan = compute_many(engine, ["invoiced_revenue", "cash_collected"], Filters(dt.date(2024, 1, 1), dt.date(2024, 1, 31)))
    feb = compute_many(engine, ["invoiced_revenue", "cash_collected"], Filters(dt.date(2024, 2, 1), dt.date(2024, 2, 29)))
    # January: F-2024-001 1 200,00 + F-2024-002 3 450,50 HT; nothing paid in January
    assert jan["invoiced_revenue"].value == pytest.approx(4650.50)
    assert jan["cash_collected"].value == pytest.approx(0.0)
    # February: the credit note F-2024-003 -200,00 HT; F-2024-001 paid on 10/02, 1 200 + 240 TVA
    # (the credit note says "Payée" but has no payment date, so no cash moved on a known day)
    assert feb["invoiced_revenue"].value == pytest.approx(-200.00)
    assert feb["cash_collected"].value == pytest.approx(1440.00)
