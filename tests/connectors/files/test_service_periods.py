"""Invoices with a service period (recurring revenue): the Stripe invoice export's Period Start /
End, a Stripe-style invoice line-items export, the generic header labels, and the files refused."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from connectors.files.importer import import_file
from metrics import Filters, compute
from store import schema as s

from fileimport_helpers import FIXTURES

D = dt.date
COLS = ["invoice_number", "customer_name", "company_id", "amount_excl_tax_cents", "status",
        "service_period_start", "service_period_end"]


def _rows(engine):
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(*[s.invoices.c[c] for c in COLS])
                                               .order_by(s.invoices.c.invoice_number))]


def _import(engine, name, mapping=None, data=None):
    data = data if data is not None else (FIXTURES / name).read_bytes()
    return import_file(engine, "invoices", data, name, actor="test", mapping=mapping)


def test_stripe_invoice_export_reads_the_service_period(engine):
    report = _import(engine, "invoices_stripe_periods.csv", "stripe")
    assert report.status == "success", report.as_text()
    assert _rows(engine) == [
        ("ABC-0101", "Initech", "501", 120000, "paid", D(2026, 1, 1), D(2027, 1, 1)),
        ("ABC-0102", "Umbrella", None, 9900, "open", D(2026, 1, 1), D(2026, 2, 1)),
        ("ABC-0103", "Hooli", None, 25000, "paid", None, None),  # a one-off: no service period
    ]
    # January's MRR: Initech 1200 / 12 + Umbrella 99 / 1; Hooli's one-off is not recurring
    assert compute(engine, "mrr", Filters(D(2026, 1, 1), D(2026, 1, 31))).value == pytest.approx(199.00)
    # February: Umbrella churned (99), Initech still 100
    assert compute(engine, "churned_mrr", Filters(D(2026, 2, 1), D(2026, 2, 28))).value == pytest.approx(99.00)


def test_stripe_line_items_sum_lines_of_one_period_and_keep_other_periods_apart(engine):
    report = _import(engine, "invoice_lines_stripe.csv", "stripe-lines")
    assert report.status == "success", report.as_text()
    assert report.rows_read == 4 and report.rows_accepted == 3
    assert _rows(engine) == [
        ("INV-7001", "Initech", "501", 60000, "paid", D(2026, 3, 1), D(2026, 4, 1)),  # 500 + 100
        ("INV-7001 (period 2026-02-15)", "Initech", "501", -25000, "paid", D(2026, 2, 15), D(2026, 3, 1)),
        ("INV-7002", "Umbrella", None, 240000, "open", D(2026, 3, 1), D(2027, 3, 1)),
    ]
    with engine.connect() as conn:  # the invoice's total is unchanged: 600 - 250
        assert conn.execute(select(func.sum(s.invoices.c.amount_excl_tax_cents))
                            .where(s.invoices.c.invoice_number.like("INV-7001%"))).scalar() == 35000
    # March: Initech 600 / 1 + Umbrella 2400 / 12; the proration's period (15 Feb - 1 Mar, 14 days:
    # 1 month) does not contain 1 March
    assert compute(engine, "mrr", Filters(D(2026, 3, 1), D(2026, 3, 31))).value == pytest.approx(800.00)
    # re-importing the file leaves the same rows (same invoice numbers replaced)
    again = _import(engine, "invoice_lines_stripe.csv", "stripe-lines",
                    data=(FIXTURES / "invoice_lines_stripe.csv").read_bytes() + b"\n")
    assert again.status == "success", again.as_text()
    assert len(_rows(engine)) == 3


GENERIC = ("invoice number,customer,issue date,amount excl tax,status,service period start,service period end\n"
           "G-1,Acme,2026-01-05,300.00,paid,2026-01-01,2026-03-31\n")


def test_generic_labels_service_period_start_and_end(engine):
    report = _import(engine, "generic.csv", data=GENERIC.encode())
    assert report.status == "success", report.as_text()
    assert _rows(engine) == [("G-1", "Acme", None, 30000, "paid", D(2026, 1, 1), D(2026, 3, 31))]
    # 89 days: 3 months, 100 a month in January, February and March
    assert compute(engine, "mrr", Filters(D(2026, 3, 1), D(2026, 3, 31))).value == pytest.approx(100.00)


@pytest.mark.parametrize("start, end, column, words", [
    ("2026-01-01", "", "service_period_end", "needs both its start and its end"),
    ("", "2026-02-01", "service_period_start", "needs both its start and its end"),
    ("2026-03-01", "2026-02-01", "service_period_end", "ends (2026-02-01) before it starts (2026-03-01)"),
])
def test_a_half_or_backwards_service_period_is_refused_and_nothing_is_written(engine, start, end, column, words):
    data = GENERIC.replace("2026-01-01,2026-03-31", f"{start},{end}")
    report = _import(engine, "bad.csv", data=data.encode())
    assert report.status == "rejected"
    assert [(p.line, p.column, p.severity) for p in report.errors if words in p.reason] == [(2, column, "error")]
    assert _rows(engine) == []
