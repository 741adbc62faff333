"""Finance metrics on the real FEC files of /work/shared/data/fec, imported through the file
connector: ledger revenue and S&M spend must equal the figures an independent reader got
(tests/connectors/files/test_fec.py: split on the separator, Decimal sums; awk agrees)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from connectors.files.importer import import_file
from metrics import Filters, compute_many

SHARED_FEC = Path(__file__).resolve().parents[3] / "shared" / "data" / "fec"

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
