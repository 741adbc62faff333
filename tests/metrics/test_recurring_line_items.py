"""Recurring revenue from HubSpot line items with recurring billing (metrics/recurring.py, the
source when no invoice has a service period), on a tiny hand-built store, SQLite and PostgreSQL,
read from the base tables and from the rollup_mrr summary.

Won deals, EUR, 2026 (a line's MRR = its amount for one billing period / the period's months):
  D1 company C1 "Acme" (France, Platform), closed 10 Jan:
     L1 monthly 100 (2 x 50), no term, billing from 1 Feb: 100/month from February on (auto-renewing)
     L2 quarterly 90, term 3 months, billing from 1 Feb: 30/month February, March, April
     L3 monthly 999, deleted in HubSpot: never counts; L4 one-time 500 (no frequency): no MRR
  D2 company C2 "Bolt" (North America, Services), closed 20 Jan:
     L5 annually 2400, term 12, billing from 1 Mar: 200/month March 2026 - February 2027
     L6 annually 1200, term 12, billing from 15 May: 100/month June 2026 - May 2027 (the 1st of
        June is the first month's first day inside [15 May, 15 May 2027))
  D3 no company, contact P3 "Cara Diaz" (France, Services), closed 14 Feb:
     L7 quarterly 300, term 6, no start date: from the close date, 100/month March - August
  D7 contact P3 again (France, Services), closed 20 Sep: L8 monthly 50, term 2, from 1 Oct: October, November
  D4 lost (monthly 700) and D5 open (monthly 800): never count.

MRR by month: Jan 0 | Feb 130 (Acme) | Mar, Apr 430 (Acme 130, Bolt 200, Cara 100) | May 400 (Acme 100)
              Jun, Jul, Aug 500 (Bolt 300) | Sep 400 (Cara 0) | Oct, Nov 450 (Cara 50) | Dec 400 (Cara 0)
Movements: Feb new 130 | Mar new 300 (Bolt 200, Cara 100) | May contraction 30 (Acme) | Jun expansion
           100 (Bolt) | Sep churn 100 (Cara) | Oct reactivation 50 (Cara) | Dec churn 50 (Cara)
"""
from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from metrics import Filters, breakdown, compute_many
from metrics import recurring, rollups_build
from metrics.definitions import load_definitions
from metrics.registry import Ctx
from store import schema as s
from store.db import utcnow

from metrics_world import prepare, value
from test_finance_scenario import insert, set_definition

D = dt.date
Q2 = Filters(D(2026, 4, 1), D(2026, 6, 30))
H2 = Filters(D(2026, 7, 1), D(2026, 12, 31))
MOVE_IDS = ["new_mrr", "expansion_mrr", "reactivation_mrr", "contraction_mrr", "churned_mrr"]


def _deal(deal_id, close, region, product_line, company=None, contact=None, stage="closedwon"):
    return {"deal_id": deal_id, "name": f"Deal {deal_id}", "amount_cents": 100000, "currency": "EUR",
            "pipeline_id": "default", "stage_id": stage, "created_at": dt.datetime(2025, 12, 1),
            "close_date": close, "region": region, "product_line": product_line, "company_id": company,
            "contact_id": contact}


def _line(line_id, deal, amount, frequency, start=None, term=None, deleted=False, quantity=1.0):
    return {"line_item_id": line_id, "deal_id": deal, "name": f"Line {line_id}", "quantity": quantity,
            "price_cents": int(amount * 100 / quantity), "amount_cents": amount * 100, "currency": "EUR",
            "billing_frequency": frequency, "billing_start_date": start, "term_months": term,
            "is_deleted": deleted}


def build(engine):
    insert(engine, s.pipelines, [{"pipeline_id": "default", "label": "Sales Pipeline"}])
    insert(engine, s.pipeline_stages, [
        {"pipeline_id": "default", "stage_id": "closedwon", "label": "Won", "probability": 1.0,
         "is_closed": True, "is_won": True},
        {"pipeline_id": "default", "stage_id": "closedlost", "label": "Lost", "probability": 0.0,
         "is_closed": True, "is_won": False},
        {"pipeline_id": "default", "stage_id": "qualifiedtobuy", "label": "Qualified", "probability": 0.4,
         "is_closed": False, "is_won": False}])
    insert(engine, s.companies, [{"company_id": "C1", "name": "Acme"}, {"company_id": "C2", "name": "Bolt"}])
    insert(engine, s.contacts, [{"contact_id": "P3", "first_name": "Cara", "last_name": "Diaz",
                                 "email": "cara@example.com", "created_at": dt.datetime(2025, 11, 1)}])
    insert(engine, s.deals, [
        _deal("D1", D(2026, 1, 10), "France", "Platform", company="C1"),
        _deal("D2", D(2026, 1, 20), "North America", "Services", company="C2"),
        _deal("D3", D(2026, 2, 14), "France", "Services", contact="P3"),
        _deal("D7", D(2026, 9, 20), "France", "Services", contact="P3"),
        _deal("D4", D(2026, 2, 1), "France", "Platform", company="C1", stage="closedlost"),
        _deal("D5", D(2026, 2, 1), "France", "Platform", company="C2", stage="qualifiedtobuy")])
    insert(engine, s.line_items, [
        _line("L1", "D1", 100, "monthly", D(2026, 2, 1), quantity=2.0),
        _line("L2", "D1", 90, "quarterly", D(2026, 2, 1), 3),
        _line("L3", "D1", 999, "monthly", D(2026, 2, 1), deleted=True),
        _line("L4", "D1", 500, None),
        _line("L5", "D2", 2400, "annually", D(2026, 3, 1), 12),
        _line("L6", "D2", 1200, "annually", D(2026, 5, 15), 12),
        _line("L7", "D3", 300, "quarterly", None, 6),
        _line("L8", "D7", 50, "monthly", D(2026, 10, 1), 2),
        _line("L9", "D4", 700, "monthly", D(2026, 2, 1)),
        _line("L10", "D5", 800, "monthly", D(2026, 2, 1))])


@pytest.fixture
def world(engine, rollup_mode):
    build(engine)
    prepare(engine, rollup_mode)
    if rollup_mode == "rollups":
        with engine.connect() as conn:
            assert recurring.is_fresh(conn, load_definitions(conn))
    return engine


def _month_f(m):
    return Filters(D(2026, m, 1), D(2026, m, 28))


def _source(engine):
    with engine.connect() as conn:
        return recurring.source_in_use(Ctx(conn, load_definitions(conn)))


def test_mrr_of_each_month_from_the_line_items(world):
    expected = {1: 0, 2: 130, 3: 430, 4: 430, 5: 400, 6: 500, 7: 500, 8: 500, 9: 400, 10: 450, 11: 450, 12: 400}
    assert {m: value(world, "mrr", _month_f(m)) for m in expected} == pytest.approx(expected)
    assert value(world, "arr", Q2) == pytest.approx(12 * 500)
    assert _source(world) == "line_items"
    assert "line items with recurring billing" in recurring.source_note(world, Q2)["note"].iloc[0]


@pytest.mark.parametrize("month, moves", [
    (2, {"new_mrr": 130}),
    (3, {"new_mrr": 300}),
    (4, {}),
    (5, {"contraction_mrr": 30}),
    (6, {"expansion_mrr": 100}),
    (9, {"churned_mrr": 100}),
    (10, {"reactivation_mrr": 50}),
    (12, {"churned_mrr": 50}),
])
def test_every_movement_by_month(world, month, moves):
    got = {m: mv.value for m, mv in compute_many(world, MOVE_IDS, _month_f(month)).items()}
    assert got == pytest.approx({m: moves.get(m, 0.0) for m in MOVE_IDS})


def test_movements_of_a_period_add_up_and_retention(world):
    # Q2 against March (430): expansion 100, contraction 30 -> June 500
    got = {m: mv.value for m, mv in compute_many(world, MOVE_IDS + ["net_new_mrr", "mrr"], Q2).items()}
    assert got == pytest.approx({"new_mrr": 0, "expansion_mrr": 100, "reactivation_mrr": 0, "contraction_mrr": 30,
                                 "churned_mrr": 0, "net_new_mrr": 70, "mrr": 500})
    # H2 against June (500): churn 100 + 50, reactivation 50 -> December 400
    got = {m: mv.value for m, mv in compute_many(world, MOVE_IDS + ["net_new_mrr", "mrr"], H2).items()}
    assert got == pytest.approx({"new_mrr": 0, "expansion_mrr": 0, "reactivation_mrr": 50, "contraction_mrr": 0,
                                 "churned_mrr": 150, "net_new_mrr": -100, "mrr": 400})
    # March's customers: Acme 130, Bolt 200, Cara 100 = 430; in June 100 + 300 + 100 = 500, capped 100 + 200 + 100
    assert value(world, "nrr", Q2) == pytest.approx(500 / 430)
    assert value(world, "grr", Q2) == pytest.approx(400 / 430)


def test_customer_region_and_product_line_come_from_the_deal(world):
    parts = {seg: mv.value for seg, mv in breakdown(world, "mrr", _month_f(6), "region")}
    assert parts == pytest.approx({"France": 200, "North America": 300})
    services = replace(_month_f(10), product_lines=("Services",))
    assert value(world, "mrr", services) == pytest.approx(350)  # Bolt 300 + Cara 50
    movers = recurring.movers(world, H2)
    assert [(r.month, r.customer, r.movement, r.mrr_before, r.mrr_after) for r in movers.itertuples()] == [
        ("2026-09", "Cara Diaz", "churn", 100, 0), ("2026-12", "Cara Diaz", "churn", 50, 0)]


def test_billing_data_wins_when_any_invoice_has_a_service_period(engine):
    build(engine)
    insert(engine, s.invoices, [{"invoice_number": "R-1", "issue_date": D(2026, 6, 1), "amount_excl_tax_cents": 7000,
                                 "tax_cents": 0, "currency": "EUR", "status": "paid", "is_credit_note": False,
                                 "company_id": "C9", "customer_name": "Zed", "service_period_start": D(2026, 6, 1),
                                 "service_period_end": D(2026, 7, 1), "origin": "csv"}])
    assert _source(engine) == "invoices"
    assert recurring.source_note(engine, Q2)["note"].iloc[0].startswith("Recurring revenue from billing data")
    assert value(engine, "mrr", _month_f(6)) == pytest.approx(70)  # the invoice alone, not the line items' 500
    set_definition(engine, "recurring.source", "line_items")  # the shared definition can force a source
    assert _source(engine) == "line_items"
    assert "set by recurring.source = line_items" in recurring.source_note(engine, Q2)["note"].iloc[0]
    assert value(engine, "mrr", _month_f(6)) == pytest.approx(500)


def test_no_recurring_data_says_where_it_would_come_from(engine):
    build(engine)
    set_definition(engine, "recurring.source", "invoices")
    mv = compute_many(engine, ["mrr"], _month_f(6))["mrr"]
    assert not mv.available and "service period" in mv.reason and "line item" in mv.reason


def test_every_frequency_in_the_reporting_currency(engine):
    """One customer, one won deal closed 1 Jan 2026, each line from 1 Jan for 24 months:
    weekly 120 USD -> 120 x 0.92 x 52 / 12 = 478.40; biweekly 60 -> 60 x 26 / 12 = 130;
    per_six_months 600 -> 100; per_two_years 2400 -> 100; per_five_years 6000 -> 100;
    an unknown frequency ("daily") and a line on no deal count nothing. MRR 908.40."""
    build(engine)
    with engine.begin() as conn:  # only this test's lines: the store's own are removed
        conn.execute(s.line_items.delete())
    usd = {**_line("W", "D1", 120, "weekly", D(2026, 1, 1), 24), "currency": "USD"}
    insert(engine, s.line_items, [usd, _line("B", "D1", 60, "biweekly", D(2026, 1, 1), 24),
                                  _line("S", "D1", 600, "per_six_months", D(2026, 1, 1), 24),
                                  _line("T", "D1", 2400, "per_two_years", D(2026, 1, 1), 24),
                                  _line("F", "D1", 6000, "per_five_years", D(2026, 1, 1), 24),
                                  _line("X", "D1", 999, "daily", D(2026, 1, 1), 24),
                                  _line("N", None, 999, "monthly", D(2026, 1, 1), 24)])
    assert value(engine, "mrr", _month_f(3)) == pytest.approx(478.40 + 130 + 300)
    assert value(engine, "mrr", Filters(D(2027, 12, 1), D(2027, 12, 31))) == pytest.approx(908.40)
    assert value(engine, "mrr", Filters(D(2028, 1, 1), D(2028, 1, 31))) == 0  # 24 months: Jan 2026 - Dec 2027


def test_a_summary_built_in_an_earlier_month_is_stale(engine):
    """Lines without a term run up to the current month: last month's summary is out of date."""
    build(engine)
    rollups_build.refresh(engine)
    with engine.connect() as conn:
        assert recurring.is_fresh(conn, load_definitions(conn))
    with engine.begin() as conn:
        conn.execute(s.rollup_state.update().where(s.rollup_state.c.name == recurring.GROUP)
                     .values(built_at=utcnow() - dt.timedelta(days=40)))
    with engine.connect() as conn:
        assert not recurring.is_fresh(conn, load_definitions(conn))
