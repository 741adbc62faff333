"""Finance metrics on the hand-built world of test_finance_scenario.py (SQLite and PostgreSQL).

Expected values are worked out in the comments from the rows listed in that module's docstring.
"""
from __future__ import annotations

import datetime as dt

import pytest

from metrics import Filters, NONE_BUCKET, REGISTRY, breakdown, compute, compute_many
from metrics.finance import months_in_period, outermost
from store import schema as s

from metrics_world import prepare, reason, value
from test_finance_scenario import FEB, JAN, build_world, insert, invoice, line, set_definition

D = dt.date
JAN_F = Filters(*JAN)
FEB_F = Filters(*FEB)
JAN_FEB = Filters(JAN[0], FEB[1])

FINANCE_IDS = ["invoiced_revenue", "ledger_revenue", "cash_collected", "booked_to_invoiced_gap",
               "invoiced_to_ledger_gap", "sm_spend", "cac", "arpa", "ltv", "ltv_cac_ratio",
               "cac_payback_months", "budget_vs_actual"]



@pytest.fixture
def world(engine, rollup_mode):
    build_world(engine)
    return prepare(engine, rollup_mode)


def test_finance_catalog_complete():
    for mid in FINANCE_IDS:
        mdef = REGISTRY[mid]
        assert mdef.owner_role == "CFO" and mdef.definition and mdef.formula and mdef.sources


def test_invoiced_revenue_nets_credit_notes_excludes_draft_void(world):
    # INV-1 1000 + INV-2 500 USD x 0.92 = 460 - CN-1 100 - CN-2 50 (exported positive) + INV-8 600
    assert value(world, "invoiced_revenue", JAN_F) == pytest.approx(1910.00)
    # February: INV-6 300 only
    assert value(world, "invoiced_revenue", FEB_F) == pytest.approx(300.00)


def test_invoiced_revenue_by_region_adds_up(world):
    # France: INV-1 1000 - CN-1 100 + INV-8 600 (D6) = 1500; North America: 460 - 50 = 410; DACH: nothing
    assert value(world, "invoiced_revenue", Filters(*JAN, regions=("France",))) == pytest.approx(1500.00)
    assert value(world, "invoiced_revenue", Filters(*JAN, regions=("North America",))) == pytest.approx(410.00)
    assert value(world, "invoiced_revenue", Filters(*JAN, regions=("DACH",))) == pytest.approx(0.0)
    parts = breakdown(world, "invoiced_revenue", JAN_F, "region")
    assert {seg: mv.value for seg, mv in parts} == pytest.approx({"France": 1500.00, "North America": 410.00})


def test_invoice_product_line_filter_and_cash_by_region(world):
    # Services: D2's INV-2 460 - CN-2 50; Platform: the rest
    assert value(world, "invoiced_revenue", Filters(*JAN, product_lines=("Services",))) == pytest.approx(410.00)
    assert value(world, "invoiced_revenue", Filters(*JAN, product_lines=("Platform",))) == pytest.approx(1500.00)
    # cash: everything paid in January is France's (INV-1, CN-1 of D1; INV-5 of D5)
    parts = breakdown(world, "cash_collected", JAN_F, "region")
    assert {seg: mv.value for seg, mv in parts} == pytest.approx({"France": 1440.00})


def test_invoice_without_deal_is_in_the_none_bucket(world):
    insert(world, s.invoices, [invoice("INV-9", D(2025, 1, 7), 20000, None)])
    assert value(world, "invoiced_revenue", JAN_F) == pytest.approx(2110.00)
    assert value(world, "invoiced_revenue", Filters(*JAN, regions=("France",))) == pytest.approx(1500.00)
    assert value(world, "invoiced_revenue", Filters(*JAN, regions=(NONE_BUCKET,))) == pytest.approx(200.00)
    total = sum(mv.value for _, mv in breakdown(world, "invoiced_revenue", JAN_F, "region"))
    assert total == pytest.approx(2110.00)


def test_invoice_owner_filter_goes_through_the_deal(world):
    insert(world, s.deals, [{"deal_id": "D8", "name": "Deal D8", "amount_cents": 1, "pipeline_id": "default",
                             "stage_id": "contractsent", "created_at": dt.datetime(2024, 11, 1), "owner_id": "o2"}])
    insert(world, s.invoices, [invoice("INV-10", D(2025, 1, 8), 12345, "D8")])
    assert value(world, "invoiced_revenue", Filters(*JAN, owners=("o2",))) == pytest.approx(123.45)
    assert value(world, "invoiced_revenue", Filters(*JAN, owners=("o1",))) == pytest.approx(1910.00)


def test_invoice_in_unknown_currency_is_left_out_not_taken_at_par(world):
    insert(world, s.invoices, [invoice("INV-CHF", D(2025, 1, 9), 99900, None, currency="CHF")])
    assert value(world, "invoiced_revenue", JAN_F) == pytest.approx(1910.00)


def test_cash_collected_by_paid_date_including_tax(world):
    # INV-1 1000 + 200 tax, CN-1 refund -(100 + 20), INV-5 (issued in December) 300 + 60
    assert value(world, "cash_collected", JAN_F) == pytest.approx(1440.00)
    assert value(world, "cash_collected", FEB_F) == pytest.approx(0.0)


def test_ledger_revenue_fec_signs(world):
    # 706: 1000 + 460 + 600 + 250 - 250 (reversed entry) = 2060; 709 credit note: -100; 708: +30
    assert value(world, "ledger_revenue", JAN_F) == pytest.approx(1990.00)
    # VAT (4457), customers (411), bank (512), S&M (623) and transport (624) lines are not revenue
    assert value(world, "ledger_revenue", Filters(D(2025, 1, 12), D(2025, 1, 12))) == pytest.approx(250.00)
    assert value(world, "ledger_revenue", Filters(D(2025, 1, 12), D(2025, 1, 13))) == pytest.approx(0.0)


def test_ledger_revenue_accounts_follow_the_definitions(world):
    set_definition(world, "ledger.revenue_account_prefixes", ["706"])
    # 706 only (708 MISC out), 709 still netted in as a contra account: 2060 - 100
    assert value(world, "ledger_revenue", JAN_F) == pytest.approx(1960.00)


def test_ledger_revenue_not_available_with_dimensions_or_without_ledger(world):
    assert "no region" in reason(world, "ledger_revenue", Filters(*JAN, regions=("France",)))
    assert "no region" in reason(world, "invoiced_to_ledger_gap", Filters(*JAN, owners=("o1",)))
    assert "FEC" in reason(world, "ledger_revenue", FEB_F)
    # a period partly in the ledger: January's lines count
    assert value(world, "ledger_revenue", JAN_FEB) == pytest.approx(1990.00)


def test_gaps(world):
    # booked: D1 900 + D2 460 + D3 1200 + D4 300 = 2860; invoiced 1910; ledger 1990
    assert value(world, "booked_to_invoiced_gap", JAN_F) == pytest.approx(950.00)
    assert value(world, "invoiced_to_ledger_gap", JAN_F) == pytest.approx(-80.00)
    # France: booked D1 900 + D3 1200 = 2100, invoiced 1500
    assert value(world, "booked_to_invoiced_gap", Filters(*JAN, regions=("France",))) == pytest.approx(600.00)


def test_sm_spend_ledger_wins_in_months_it_covers(world):
    # January is in the ledger: 623 debit 300 - credit 20 = 280; the 300 imported for January is not added
    assert value(world, "sm_spend", JAN_F) == pytest.approx(280.00)
    # February is not: imported 150 EUR + 100 USD x 0.92
    assert value(world, "sm_spend", FEB_F) == pytest.approx(242.00)
    assert value(world, "sm_spend", JAN_FEB) == pytest.approx(522.00)


def test_sm_spend_month_with_sales_but_no_spend_postings_takes_imported_spend(world):
    # February gets a sales posting but its supplier invoices are not booked yet (month not closed)
    insert(world, s.ledger_entries, [line(D(2025, 2, 3), "706100", credit=30000, ref="INV-6")])
    assert value(world, "sm_spend", FEB_F) == pytest.approx(242.00)
    assert value(world, "ledger_revenue", FEB_F) == pytest.approx(300.00)
    # once February's 623 lines arrive, the ledger takes over the month: 75 - 0
    insert(world, s.ledger_entries, [line(D(2025, 2, 28), "623400", debit=7500, ref="EVT-02")])
    assert value(world, "sm_spend", FEB_F) == pytest.approx(75.00)


def test_sm_spend_without_imported_spend(world):
    set_definition(world, "ledger.include_imported_spend", False)
    assert value(world, "sm_spend", JAN_FEB) == pytest.approx(280.00)
    assert "include_imported_spend" in reason(world, "sm_spend", FEB_F)


def test_sm_spend_filters(world):
    assert value(world, "sm_spend", Filters(*FEB, regions=("France",))) == pytest.approx(150.00)
    assert "ledger" in reason(world, "sm_spend", Filters(JAN[0], FEB[1], regions=("France",)))
    assert "owner" in reason(world, "sm_spend", Filters(*FEB, owners=("o1",)))


def test_sm_spend_only_imported_without_ledger(engine):
    build_world(engine, ledger=False)
    # no ledger at all: every imported row counts, January's 300 included
    assert value(engine, "sm_spend", JAN_FEB) == pytest.approx(542.00)


def test_unit_economics(world):
    # CAC: 280 / 2 new customers (K1, K2) = 140
    assert value(world, "cac", JAN_F) == pytest.approx(140.00)
    # ARPA over the 12 months to 31 Jan, which start with the month of the first invoice (INV-5,
    # December): 2 months; revenue 300 + 1910; customers C5, C1, C2, C6 (credit notes add none)
    arpa = 2210 / 4 / 2
    assert value(world, "arpa", JAN_F) == pytest.approx(276.25)
    ltv = arpa * 0.78 / 0.015  # gross margin and monthly churn of definitions.yaml
    assert value(world, "ltv", JAN_F) == pytest.approx(14365.00)
    assert value(world, "ltv_cac_ratio", JAN_F) == pytest.approx(ltv / 140)
    assert value(world, "cac_payback_months", JAN_F) == pytest.approx(140 / (arpa * 0.78))


def test_unit_economics_follow_the_definitions(world):
    set_definition(world, "unit_economics.gross_margin", 0.5)
    set_definition(world, "unit_economics.monthly_churn_rate", 0.02)
    assert value(world, "ltv", JAN_F) == pytest.approx(276.25 * 0.5 / 0.02)


def test_arpa_window_ends_with_the_period(world):
    # to 28 Feb: December to February = 3 months; 2210 + INV-6 300; customers C5, C1, C2, C6, C4
    assert value(world, "arpa", JAN_FEB) == pytest.approx(round(2510 / 5 / 3, 2))
    assert value(world, "arpa", FEB_F) == pytest.approx(round(2510 / 5 / 3, 2))


def test_arpa_window_is_twelve_months_at_most(world):
    # an invoice of 15 January 2024 is before the 12 months to 31 January 2025 (1 Feb 2024 on)
    insert(world, s.invoices, [invoice("INV-0", D(2024, 1, 15), 10000, None)])
    assert value(world, "arpa", JAN_F) == pytest.approx(round(2210 / 4 / 12, 2))
    # ... and inside the 12 months to 31 December 2024: INV-0 100 + INV-5 300, customers 2
    assert value(world, "arpa", Filters(D(2024, 12, 1), D(2024, 12, 31))) == pytest.approx(round(400 / 2 / 12, 2))


def test_months_in_period():
    assert months_in_period(Filters(D(2025, 1, 1), D(2025, 3, 31))) == pytest.approx(3.0)
    # 16 of January's 31 days + 14 of February's 28
    assert months_in_period(Filters(D(2025, 1, 16), D(2025, 2, 14))) == pytest.approx(16 / 31 + 14 / 28)


def test_outermost_prefixes():
    assert outermost(["70", "709", "623"]) == ["70", "623"]
    assert outermost(["706", "709"]) == ["706", "709"]


def test_not_available_instead_of_division_errors(world):
    # no customer became a customer between 10 and 20 January: CAC and its ratios are undefined
    mid_jan = Filters(D(2025, 1, 10), D(2025, 1, 20))
    assert "new customers" in reason(world, "cac", mid_jan)
    assert "new customers" in reason(world, "ltv_cac_ratio", mid_jan)
    before = Filters(D(2024, 11, 1), D(2024, 11, 30))
    assert value(world, "invoiced_revenue", before) == pytest.approx(0.0)
    assert "no customer" in reason(world, "arpa", before)
    assert "no customer" in reason(world, "cac_payback_months", before)
    assert reason(world, "budget_vs_actual", JAN_F)  # no budget lines


def test_empty_store_gives_reasons_not_zeros(engine):
    values = compute_many(engine, FINANCE_IDS, JAN_F)
    for mid, mv in values.items():
        assert mv.value is None and mv.reason, mid


def test_budget_vs_actual(world):
    insert(world, s.budgets, [{"month": D(2025, 1, 1), "metric": "target_revenue", "value": 2_000_000.0}])
    # north star (booked) 2860 / target 20000
    assert value(world, "budget_vs_actual", JAN_F) == pytest.approx(0.143)
    set_definition(world, "north_star.basis", "invoiced")
    assert value(world, "budget_vs_actual", JAN_F) == pytest.approx(1910 / 20000)


def test_ledger_amounts_convert_to_another_reporting_currency(world):
    set_definition(world, "currency.reporting", "USD")
    set_definition(world, "currency.fx_to_reporting", {"USD": 1.0, "EUR": 1.1})
    assert value(world, "ledger_revenue", JAN_F) == pytest.approx(1990 * 1.1)
    assert value(world, "sm_spend", JAN_F) == pytest.approx(280 * 1.1)
