"""Finance tables on the hand-built world of test_finance_scenario.py: the revenue bridge, the
items behind each gap (exactly the planted ones), budget vs actual lines and spend by channel."""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, Phase, given, settings, strategies as st

from metrics import Filters, compute
from metrics.definitions import load_definitions
from metrics.finance_details import (budget_vs_actual_table, match_invoice, revenue_bridge, spend_by_channel,
                                     unmatched_items)
from store import schema as s

from test_finance_scenario import FEB, JAN, build_world, insert, invoice, line

D = dt.date
JAN_F = Filters(*JAN)
JAN_FEB = Filters(JAN[0], FEB[1])


def pd_isnull(x) -> bool:
    return x is None or x != x


@pytest.fixture
def world(engine):
    build_world(engine)
    return engine


def rows(df, *cols):
    """The rows as plain tuples, missing values as None (pandas shows them as NaN)."""
    return sorted(tuple(None if pd_isnull(x) else x for x in r)
                  for r in df[list(cols)].itertuples(index=False, name=None))


def test_revenue_bridge_by_month(world):
    df = revenue_bridge(world, JAN_FEB)
    assert list(df["month"]) == [D(2025, 1, 1), D(2025, 2, 1)]
    jan, feb = df.iloc[0], df.iloc[1]
    assert (jan.booked, jan.invoiced, jan.ledger) == pytest.approx((2860.00, 1910.00, 1990.00))
    assert (jan.booked_to_invoiced_gap, jan.invoiced_to_ledger_gap) == pytest.approx((950.00, -80.00))
    # February: nothing won, INV-6 300 invoiced, no ledger yet
    assert (feb.booked, feb.invoiced, feb.booked_to_invoiced_gap) == pytest.approx((0.0, 300.00, -300.00))
    assert pd_isnull(feb.ledger) and pd_isnull(feb.invoiced_to_ledger_gap)


def test_bridge_agrees_with_the_kpis(world):
    jan = revenue_bridge(world, JAN_F).iloc[0]
    assert jan.invoiced == compute(world, "invoiced_revenue", JAN_F).value
    assert jan.ledger == compute(world, "ledger_revenue", JAN_F).value
    assert jan.booked_to_invoiced_gap == compute(world, "booked_to_invoiced_gap", JAN_F).value


def test_unmatched_booked_to_invoiced_finds_the_planted_gaps(world):
    df = unmatched_items(world, JAN_F, gap="booked_to_invoiced")
    assert rows(df, "kind", "deal_id", "difference") == sorted([
        ("won, invoiced amount differs", "D2", 50.00),      # 460 booked, 460 - 50 (CN-2) invoiced
        ("won, not invoiced", "D3", 1200.00),              # only a void invoice
        ("won, invoiced in another period", "D4", 300.00),  # INV-6 in February
        ("invoice for a deal not won in this period", "D6", -600.00),  # INV-8, deal won in December
    ])
    assert df["difference"].sum() == pytest.approx(950.00)  # = the gap
    assert list(df["difference"].abs()) == sorted(df["difference"].abs(), reverse=True)


def test_unmatched_invoiced_to_ledger_finds_the_planted_gaps(world):
    df = unmatched_items(world, JAN_F, gap="invoiced_to_ledger")
    # INV-2 matches through its entry label; the X-9 entry and its reversal cancel out
    assert rows(df, "kind", "invoice_number", "ledger_ref", "difference") == sorted([
        ("invoice not in the ledger", "CN-2", None, -50.00),
        ("ledger line with no invoice", None, "MISC", -30.00),
    ])
    assert df["difference"].sum() == pytest.approx(-80.00)


def test_unmatched_invoiced_to_ledger_timing_and_amounts(engine):
    insert(engine, s.invoices, [invoice("INV-20", D(2025, 1, 30), 10000, None),
                                invoice("inv-21", D(2025, 1, 10), 50000, None)])
    insert(engine, s.ledger_entries, [line(D(2025, 2, 2), "706100", credit=10000, ref="INV-20"),
                                      line(D(2025, 1, 10), "706100", credit=45000, ref=" INV-21 ")])
    jan = unmatched_items(engine, JAN_F, gap="invoiced_to_ledger")
    assert rows(jan, "kind", "invoice_number", "invoiced", "ledger", "difference") == sorted([
        ("invoice posted in another period", "INV-20", 100.00, 0.0, 100.00),
        ("ledger amount differs", "inv-21", 500.00, 450.00, 50.00),
    ])
    feb = unmatched_items(engine, Filters(*FEB), gap="invoiced_to_ledger")
    assert rows(feb, "kind", "invoice_number", "difference") == [
        ("ledger posting of an invoice of another period", "INV-20", -100.00)]


def test_unmatched_limit_and_bad_gap(world):
    assert len(unmatched_items(world, JAN_F, gap="booked_to_invoiced", limit=2)) == 2
    with pytest.raises(ValueError, match="booked_to_invoiced"):
        unmatched_items(world, JAN_F, gap="booked_to_ledger")


def test_match_invoice_rule():
    numbers = {"INV-2", "F2025-7"}
    assert match_invoice("INV-2", "", numbers) == "INV-2"
    assert match_invoice("", "Facture inv-2 Acme", numbers) == "INV-2"
    assert match_invoice("", "Facture F2025-7.", numbers) == "F2025-7"
    assert match_invoice("", "Facture INV-23", numbers) is None  # whole words only
    assert match_invoice("X", "Divers", numbers) is None


BUDGETS = [
    {"month": D(2025, 1, 1), "metric": "target_revenue", "region": "", "product_line": "", "value": 2_000_000.0},
    {"month": D(2025, 1, 1), "metric": "target_revenue", "region": "France", "product_line": "", "value": 1_000_000.0},
    {"month": D(2025, 1, 1), "metric": "target_revenue", "region": "DACH", "product_line": "", "value": 500_000.0},
    {"month": D(2025, 1, 1), "metric": "mqls", "region": "", "product_line": "", "value": 10.0},
    {"month": D(2025, 1, 1), "metric": "marketing_spend", "region": "", "product_line": "", "value": 50_000.0},
    {"month": D(2025, 3, 1), "metric": "mqls", "region": "", "product_line": "", "value": 99.0},
]


def test_budget_vs_actual_table(world):
    insert(world, s.budgets, BUDGETS)
    df = budget_vs_actual_table(world, JAN_F)
    got = {(r.metric, r.region): (r.budget, r.actual, r.variance, r.variance_pct) for r in df.itertuples()}
    assert got == {
        ("marketing_spend", ""): pytest.approx((500.00, 300.00, -200.00, -0.4)),    # imported January spend
        ("mqls", ""): pytest.approx((10, 3, -7, -0.7)),                            # K1, K2, K3
        ("target_revenue", ""): pytest.approx((20000.00, 2860.00, -17140.00, -0.857)),  # north star (booked)
        ("target_revenue", "France"): pytest.approx((10000.00, 2100.00, -7900.00, -0.79)),  # D1 + D3
        ("target_revenue", "DACH"): pytest.approx((5000.00, 300.00, -4700.00, -0.94)),  # D4
    }
    assert set(df["month"]) == {D(2025, 1, 1)}  # the March line is outside the period


def test_budget_vs_actual_table_filters_and_proration(world):
    insert(world, s.budgets, BUDGETS)
    dach = budget_vs_actual_table(world, Filters(*JAN, regions=("DACH",)))
    # only DACH's own line: company-wide lines and France's are left out
    assert rows(dach, "metric", "region", "budget", "actual") == [("target_revenue", "DACH", 5000.00, 300.00)]
    assert budget_vs_actual_table(world, Filters(*JAN, owners=("o1",))).empty  # budgets have no owner
    half = budget_vs_actual_table(world, Filters(D(2025, 1, 1), D(2025, 1, 15)))
    line_ = half[(half["metric"] == "target_revenue") & (half["region"] == "")].iloc[0]
    assert line_.budget == pytest.approx(round(20000 * 15 / 31, 2))
    assert line_.actual == pytest.approx(1360.00)  # D1 900 + D2 460


def test_spend_by_channel(world):
    month = spend_by_channel(world, JAN_FEB)
    assert rows(month, "period", "channel", "spend") == [
        (D(2025, 1, 1), "Google Ads", 300.00), (D(2025, 2, 1), "Google Ads", 150.00),
        (D(2025, 2, 1), "LinkedIn Ads", 92.00)]
    week = spend_by_channel(world, JAN_FEB, grain="week")
    assert rows(week, "period", "channel") == [
        (D(2025, 1, 6), "Google Ads"), (D(2025, 2, 3), "Google Ads"), (D(2025, 2, 10), "LinkedIn Ads")]
    na = spend_by_channel(world, Filters(JAN[0], FEB[1], regions=("North America",)))
    assert rows(na, "channel", "spend") == [("LinkedIn Ads", 92.00)]
    with pytest.raises(ValueError, match="month"):
        spend_by_channel(world, JAN_FEB, grain="day")
    # spend has no owner: empty, as the marketing_spend KPI is n/a
    assert spend_by_channel(world, Filters(JAN[0], FEB[1], owners=("o1",))).empty
    assert not compute(world, "marketing_spend", Filters(JAN[0], FEB[1], owners=("o1",))).available


# --- property: the items always add up to their gap --------------------------------------

def _clear(engine) -> None:
    with engine.begin() as conn:
        for t in (s.invoices, s.ledger_entries, s.deals):
            conn.execute(t.delete())


_days = st.integers(min_value=-40, max_value=70).map(lambda n: D(2025, 1, 1) + dt.timedelta(days=n))
_cents = st.integers(min_value=100, max_value=500_000)
_invoices = st.lists(st.tuples(_days, _cents, st.sampled_from(["open", "paid", "void", "draft"]),
                               st.booleans(), st.sampled_from(["EUR", "USD"]), st.sampled_from([None, "W1", "W2", "W3"])),
                     max_size=8)
_postings = st.lists(st.tuples(_days, _cents, st.sampled_from(["706100", "709000", "708000", "411000"]),
                               st.integers(min_value=0, max_value=9), st.booleans(), st.booleans()), max_size=10)
_won = st.lists(st.tuples(st.sampled_from(["W1", "W2", "W3"]), _days, _cents), max_size=3, unique_by=lambda t: t[0])


# no shrinking: each example writes to the store, and shrinking a failure would take minutes
@settings(max_examples=30, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(invoices=_invoices, postings=_postings, won=_won)
def test_unmatched_items_add_up_to_the_gaps(engine, invoices, postings, won):
    _clear(engine)
    insert(engine, s.deals, [{"deal_id": did, "name": did, "amount_cents": cents, "pipeline_id": "default",
                              "stage_id": "closedwon", "created_at": dt.datetime(2024, 1, 1), "close_date": day}
                             for did, day, cents in won])
    insert(engine, s.invoices, [invoice(f"F-{i}", day, cents, did, status=status, credit=credit, currency=cur)
                                for i, (day, cents, status, credit, cur, did) in enumerate(invoices)])
    # postings reference an invoice by PieceRef or by label, or nothing (n >= len(invoices))
    insert(engine, s.ledger_entries, [
        line(day, account, debit=cents if debit else 0, credit=0 if debit else cents,
             ref=f"F-{n}" if by_ref else "", lib="" if by_ref else f"Facture F-{n} client")
        for day, cents, account, n, debit, by_ref in postings])
    f = JAN_F
    kpis = {mv.metric_id: mv for mv in (compute(engine, m, f) for m in (
        "booked_to_invoiced_gap", "invoiced_to_ledger_gap"))}
    b2i = unmatched_items(engine, f, gap="booked_to_invoiced", limit=None)
    if kpis["booked_to_invoiced_gap"].available:
        assert b2i["difference"].sum() == pytest.approx(kpis["booked_to_invoiced_gap"].value, abs=0.02)
    i2l = unmatched_items(engine, f, gap="invoiced_to_ledger", limit=None)
    if kpis["invoiced_to_ledger_gap"].available:
        assert i2l["difference"].sum() == pytest.approx(kpis["invoiced_to_ledger_gap"].value, abs=0.02)


def _expected_booked_to_invoiced(invoices, won, f) -> list[tuple]:
    """The booked-to-invoiced items worked out in Python from the inserted rows: (kind, deal id,
    invoice number, difference), the rule the SQL implements."""
    fx = load_definitions().fx
    revenue = [(f"F-{n}", day, round((-1 if credit else 1) * cents * fx[cur] / 100.0, 2), did)
               for n, (day, cents, status, credit, cur, did) in enumerate(invoices) if status in ("open", "paid")]
    in_period = [r for r in revenue if f.start <= r[1] <= f.end]
    won_here = {did: round(cents * fx["EUR"] / 100.0, 2) for did, day, cents in won if f.start <= day <= f.end}
    known = {did for did, _day, _cents in won}
    out = []
    for did, booked in won_here.items():
        own = [r for r in in_period if r[3] == did]
        diff = round(booked - sum(r[2] for r in own), 2)
        if abs(diff) >= 0.005:
            kind = ("won, not invoiced" if not any(r[3] == did for r in revenue)
                    else "won, invoiced in another period" if not own else "won, invoiced amount differs")
            out.append((kind, did, ", ".join(r[0] for r in sorted(own, key=lambda r: (r[1], r[0]))) or None, diff))
    for number, _day, net, did in in_period:
        if did not in won_here:
            kind = "invoice for a deal not won in this period" if did in known else "invoice with no deal"
            out.append((kind, did if did in known else None, number, -net))
    return out


@settings(max_examples=30, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(invoices=_invoices, won=_won, limit=st.integers(min_value=1, max_value=4))
def test_booked_to_invoiced_items_are_the_worked_out_ones_largest_first(engine, invoices, won, limit):
    """The SQL that matches, orders and limits the items gives the items worked out by hand, the
    largest difference first, and a limited list is the head of the whole one."""
    _clear(engine)
    insert(engine, s.deals, [{"deal_id": did, "name": f"Deal {did}", "amount_cents": cents, "pipeline_id": "default",
                              "stage_id": "closedwon", "created_at": dt.datetime(2024, 1, 1), "close_date": day}
                             for did, day, cents in won])
    insert(engine, s.invoices, [invoice(f"F-{n}", day, cents, did, status=status, credit=credit, currency=cur)
                                for n, (day, cents, status, credit, cur, did) in enumerate(invoices)])
    whole = unmatched_items(engine, JAN_F, gap="booked_to_invoiced", limit=None)
    got = [(r.kind, None if pd_isnull(r.deal_id) else r.deal_id,
            None if pd_isnull(r.invoice_number) else r.invoice_number, r.difference) for r in whole.itertuples()]
    want = _expected_booked_to_invoiced(invoices, won, JAN_F)
    assert sorted((g[:3] for g in got), key=repr) == sorted((w[:3] for w in want), key=repr)  # each item once, of its kind
    differences = {g[:3]: g[3] for g in got}
    assert all(differences[w[:3]] == pytest.approx(w[3], abs=0.011) for w in want)  # cents rounded per line
    assert list(whole["difference"].abs()) == sorted(whole["difference"].abs(), reverse=True)
    assert all(name == f"Deal {did}" for did, name in zip(whole["deal_id"], whole["deal_name"]) if not pd_isnull(did))
    head = unmatched_items(engine, JAN_F, gap="booked_to_invoiced", limit=limit)
    assert _records(head) == _records(whole.head(limit))


def _records(df) -> list[tuple]:
    """The rows in order, missing values as None (a column's dtype depends on which rows it holds)."""
    return [tuple(None if pd_isnull(x) else x for x in r) for r in df.itertuples(index=False, name=None)]
