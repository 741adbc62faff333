"""Recurring revenue (metrics/recurring.py) on a tiny hand-built store, SQLite and PostgreSQL, read
from the base tables and from the rollup_mrr summary.

Invoices with a service period, EUR, 2026 (amount excluding tax / months of the period):
  A  company C1 "Acme", deal D1 (France, Platform): monthly, Stripe-style ends (1 Jan - 1 Feb ...):
     Jan 100, Feb 100, Mar 150, Apr 150, May 120, Jun 120
  B  no company, no deal, " Beta Ltd " then "BETA LTD" (one customer): annual 1 Feb 2026 - 1 Feb 2027
     1200 (365 days = 12 months: 100/month), add-on 1 Jun - 1 Jul 50
  C  company C3, deal D2 (North America, Services): 1 Jan - 31 Jan (last day written: 30 days = 1
     month) 200; a void invoice for February (999, never counts); monthly again Apr, May, Jun 80
  D  no company, "Delta", no deal: quarterly 1 Mar - 1 Jun 300 (92 days = 3 months: 100/month),
     credit note 1 Apr - 1 May 40 (April 60)
  An invoice with no service period (one-off, 500) has no MRR.

MRR by month:   Jan 300 (A100 C200)  Feb 200 (A100 B100)  Mar 350 (A150 B100 D100)
                Apr 390 (A150 B100 C80 D60)  May 400 (A120 B100 C80 D100)  Jun 350 (A120 B150 C80)
                Jul 100 (B100)
Movements:  Jan new 300 (A, C) | Feb new 100 (B), churn 200 (C) | Mar expansion 50 (A), new 100 (D)
            Apr reactivation 80 (C), contraction 40 (D) | May contraction 30 (A), expansion 40 (D)
            Jun expansion 50 (B), churn 100 (D) | Jul churn 120 (A) + 80 (C), contraction 50 (B)
"""
from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import replace

import pytest

from metrics import NONE_BUCKET, Filters, breakdown, compute, compute_many
from metrics import recurring
from metrics.finance import arpa_value
from metrics.definitions import load_definitions
from metrics.registry import Ctx
from store import schema as s

from metrics_world import prepare, reason, value
from test_finance_scenario import insert

D = dt.date
Q2 = Filters(D(2026, 4, 1), D(2026, 6, 30))
H1 = Filters(D(2026, 1, 1), D(2026, 6, 30))
MOVE_IDS = ["new_mrr", "expansion_mrr", "reactivation_mrr", "contraction_mrr", "churned_mrr"]


def _deal(deal_id, region, product_line):
    return {"deal_id": deal_id, "name": f"Deal {deal_id}", "amount_cents": 100000, "currency": "EUR",
            "pipeline_id": "default", "stage_id": "closedwon", "created_at": dt.datetime(2025, 12, 1),
            "close_date": D(2025, 12, 20), "region": region, "product_line": product_line}


_n = itertools.count(1)


def _inv(cents, start, end, company=None, name=None, deal=None, status="paid", credit=False):
    return {"invoice_number": f"R-{next(_n)}", "issue_date": start, "amount_excl_tax_cents": cents,
            "tax_cents": 0, "currency": "EUR", "status": status, "is_credit_note": credit, "company_id": company,
            "customer_name": name, "deal_id": deal, "service_period_start": start, "service_period_end": end,
            "origin": "csv"}


def _month(m):
    return D(2026, m, 1), D(2026, m + 1, 1)


def build(engine):
    insert(engine, s.pipelines, [{"pipeline_id": "default", "label": "Sales Pipeline"}])
    insert(engine, s.pipeline_stages, [{"pipeline_id": "default", "stage_id": "closedwon", "label": "Won",
                                        "probability": 1.0, "is_closed": True, "is_won": True}])
    insert(engine, s.deals, [_deal("D1", "France", "Platform"), _deal("D2", "North America", "Services")])
    rows = [_inv(c * 100, *_month(m), company="C1", name="Acme", deal="D1")
            for m, c in ((1, 100), (2, 100), (3, 150), (4, 150), (5, 120), (6, 120))]
    rows += [_inv(120000, D(2026, 2, 1), D(2027, 2, 1), name=" Beta Ltd "),
             _inv(5000, D(2026, 6, 1), D(2026, 7, 1), name="BETA LTD"),
             _inv(20000, D(2026, 1, 1), D(2026, 1, 31), company="C3", name="Corvid", deal="D2"),
             _inv(99900, *_month(2), company="C3", name="Corvid", deal="D2", status="void")]
    rows += [_inv(8000, *_month(m), company="C3", name="Corvid", deal="D2") for m in (4, 5, 6)]
    rows += [_inv(30000, D(2026, 3, 1), D(2026, 6, 1), name="Delta"),
             _inv(-4000, D(2026, 4, 1), D(2026, 5, 1), name="Delta", credit=True)]
    one_off = _inv(50000, D(2026, 3, 10), None, company="C1", name="Acme", deal="D1")
    one_off["service_period_start"] = None
    insert(engine, s.invoices, rows + [one_off])


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


def test_mrr_of_each_month_and_arr(world):
    expected = {1: 300, 2: 200, 3: 350, 4: 390, 5: 400, 6: 350, 7: 100, 8: 100}
    assert {m: value(world, "mrr", _month_f(m)) for m in expected} == pytest.approx(expected)
    assert value(world, "arr", Q2) == pytest.approx(12 * 350)
    # the month containing the period's last day, whatever day it is
    assert value(world, "mrr", Filters(D(2026, 1, 15), D(2026, 4, 2))) == pytest.approx(390)


@pytest.mark.parametrize("month, moves", [
    (1, {"new_mrr": 300}),
    (2, {"new_mrr": 100, "churned_mrr": 200}),
    (3, {"expansion_mrr": 50, "new_mrr": 100}),
    (4, {"reactivation_mrr": 80, "contraction_mrr": 40}),
    (5, {"contraction_mrr": 30, "expansion_mrr": 40}),
    (6, {"expansion_mrr": 50, "churned_mrr": 100}),
    (7, {"churned_mrr": 200, "contraction_mrr": 50}),
])
def test_every_movement_kind_by_month(world, month, moves):
    got = {m: mv.value for m, mv in compute_many(world, MOVE_IDS, _month_f(month)).items()}
    assert got == pytest.approx({m: moves.get(m, 0.0) for m in MOVE_IDS})


def test_movements_of_a_period_add_up_to_the_change_in_mrr(world):
    # Q2 against March (350): new 0, expansion 40 + 50, reactivation 80, contraction 40 + 30, churn 100
    got = {m: mv.value for m, mv in compute_many(world, MOVE_IDS + ["net_new_mrr", "mrr"], Q2).items()}
    assert got == pytest.approx({"new_mrr": 0, "expansion_mrr": 90, "reactivation_mrr": 80, "contraction_mrr": 70,
                                 "churned_mrr": 100, "net_new_mrr": 0, "mrr": 350})


@pytest.mark.parametrize("f", [
    H1, Q2, Filters(D(2026, 1, 15), D(2026, 3, 10)), Filters(D(2025, 11, 1), D(2026, 8, 31)),
    Filters(D(2026, 2, 2), D(2026, 2, 20)),  # no month begins in it: no movement
    Filters(D(2026, 1, 1), D(2026, 7, 31), regions=("France",)),
    Filters(D(2026, 2, 1), D(2026, 7, 31), regions=(NONE_BUCKET,)),
    Filters(D(2026, 3, 1), D(2026, 7, 31), product_lines=("Services",)),
])
def test_the_mrr_identity_holds_for_every_period_and_filter(world, f):
    start = f.with_period(f.start - dt.timedelta(days=1), f.start - dt.timedelta(days=1))
    before = compute(world, "mrr", start).value
    got = {m: mv.value for m, mv in compute_many(world, MOVE_IDS + ["mrr", "net_new_mrr"], f).items()}
    moved = (got["new_mrr"] + got["expansion_mrr"] + got["reactivation_mrr"] - got["contraction_mrr"]
             - got["churned_mrr"])
    assert got["mrr"] == pytest.approx(before + moved)
    assert got["net_new_mrr"] == pytest.approx(moved)


def test_region_and_product_line_follow_the_invoice_deal(world):
    jan_jul = Filters(D(2026, 1, 1), D(2026, 7, 31))
    # France is A alone: new 100 (Jan), expansion 50 (Mar), contraction 30 (May), churn 120 (Jul)
    france = {m: mv.value for m, mv in compute_many(world, MOVE_IDS, replace(jan_jul, regions=("France",))).items()}
    assert france == pytest.approx({"new_mrr": 100, "expansion_mrr": 50, "reactivation_mrr": 0,
                                    "contraction_mrr": 30, "churned_mrr": 120})
    # Services is C alone: new 200 in Jan, churn 200 in Feb, reactivation 80 in Apr, churn 80 in Jul
    services = {m: mv.value for m, mv in compute_many(world, MOVE_IDS, replace(jan_jul, product_lines=("Services",))).items()}
    assert services == pytest.approx({"new_mrr": 200, "expansion_mrr": 0, "reactivation_mrr": 80,
                                      "contraction_mrr": 0, "churned_mrr": 280})
    # the segments add up: June MRR 350 = France 120 + North America 80 + (none) B 150 + D 0
    parts = {seg: mv.value for seg, mv in breakdown(world, "mrr", _month_f(6), "region")}
    assert parts == pytest.approx({"France": 120, "North America": 80, NONE_BUCKET: 150})
    assert "owner" in reason(world, "mrr", replace(Q2, owners=("o1",)))


def test_nrr_grr_and_churn_rates(world):
    # starting customers (March): A 150, B 100, D 100 = 350; in June A 120, B 150, D 0 = 270
    assert value(world, "nrr", Q2) == pytest.approx(270 / 350)
    # capped: min(120, 150) + min(150, 100) + 0 = 220
    assert value(world, "grr", Q2) == pytest.approx(220 / 350)
    # D churned (C's reactivation does not make it a starting customer): 1 of 3
    assert value(world, "logo_churn_rate", Q2) == pytest.approx(1 / 3)
    # (churn 100 + contraction 70) / 350
    assert value(world, "revenue_churn_rate", Q2) == pytest.approx(170 / 350)
    # January: no customer had MRR in December
    assert "nothing to retain" in reason(world, "nrr", _month_f(1))


def test_cohorts_by_first_month(world):
    df = recurring.cohorts(world, H1)
    got = {(r.cohort, r.months_since): (r.customers, round(r.pct_customers, 4), round(r.pct_mrr, 4))
           for r in df.itertuples()}
    # January: A 100 + C 200 = 300; February A 100 (1 of 2, 100/300); March A 150; April A 150 + C 80
    assert [got[("2026-01", k)] for k in range(6)] == [
        (2, 1.0, 1.0), (1, 0.5, round(100 / 300, 4)), (1, 0.5, 0.5), (2, 1.0, round(230 / 300, 4)),
        (2, 1.0, round(200 / 300, 4)), (2, 1.0, round(200 / 300, 4))]
    # February: B 100, 100, 100, 100, then 150 in June
    assert [got[("2026-02", k)] for k in range(5)] == [(1, 1.0, 1.0)] * 4 + [(1, 1.0, 1.5)]
    # March: D 100, 60, 100, then gone in June (0 customers, 0 %)
    assert [got[("2026-03", k)] for k in range(4)] == [(1, 1.0, 1.0), (1, 1.0, 0.6), (1, 1.0, 1.0), (0, 0.0, 0.0)]
    assert set(df["cohort"]) == {"2026-01", "2026-02", "2026-03"}


def test_movements_by_month_and_the_churned_customers_by_name(world):
    df = recurring.movements_by_month(world, Q2)
    assert list(df["month"]) == ["2026-04", "2026-05", "2026-06"]
    assert list(df["mrr"]) == pytest.approx([390, 400, 350])
    assert list(df["churned_mrr"]) == pytest.approx([0, 0, -100])  # drawn downwards
    assert list(df["net_new_mrr"]) == pytest.approx([40, 10, -50])
    movers = recurring.movers(world, Q2)
    assert [(r.customer, r.movement, r.mrr_before, r.mrr_after) for r in movers.itertuples()] == [
        ("Delta", "churn", 100, 0), ("Delta", "contraction", 100, 60), ("Acme", "contraction", 150, 120)]


def test_ltv_uses_the_measured_churn_rate_after_six_months(world):
    june, july = Filters(D(2026, 6, 1), D(2026, 6, 30)), Filters(D(2026, 7, 1), D(2026, 7, 31))
    with world.connect() as conn:
        ctx = Ctx(conn, load_definitions(conn))
        arpa_june, arpa_july = arpa_value(ctx, june), arpa_value(ctx, july)
        assert recurring.ltv_churn_rate(ctx, june)[1].startswith("churn: the configured rate (1.50%")
        # July: 6 months after January. Feb-Jul churned + contraction: 200 + 40 + 30 + 100 + 250 = 620,
        # over the starting MRR of those months (Jan-Jun): 300 + 200 + 350 + 390 + 400 + 350 = 1990
        rate, note = recurring.ltv_churn_rate(ctx, july)
        assert rate == pytest.approx(620 / 1990)
        assert note.startswith("churn: measured, 31.16%/month")
    assert value(world, "ltv", june) == pytest.approx(arpa_june * 0.78 / 0.015, abs=0.01)
    assert value(world, "ltv", july) == pytest.approx(arpa_july * 0.78 / (620 / 1990), abs=0.01)


def test_without_service_periods_the_figures_say_what_to_import(engine):
    insert(engine, s.invoices, [{**_inv(10000, D(2026, 1, 1), None), "service_period_start": None}])
    assert "service period" in reason(engine, "mrr", Q2)
    assert recurring.cohorts(engine, Q2).empty and recurring.movements_by_month(engine, Q2).empty


# --- the movements summary (rollup_mrr_moves) against the base answer ----------------------------

RECURRING_IDS = ["mrr", "arr", *MOVE_IDS, "net_new_mrr", "nrr", "grr", "logo_churn_rate", "revenue_churn_rate"]


def _mixed(engine):
    """The world above plus customers spread over several deals (regions x product lines) with gaps,
    reactivations, credit notes and a churn repeated: a customer's movement in a slice is not its
    total's."""
    import random
    rnd = random.Random(17)
    deals = [_deal(f"M{k}", region, line) for k, (region, line) in enumerate(
        [("France", "Platform"), ("France", "Services"), ("Germany", "Platform"), (None, "Platform"),
         ("Germany", None), ("", "Services")])]
    insert(engine, s.deals, deals)
    rows = []
    for c in range(12):
        for deal in rnd.sample(deals, rnd.randint(1, 3)):
            for m in range(1, 12):
                if rnd.random() < 0.6:
                    rows.append(_inv(rnd.choice([5000, 8000, 12000]), D(2025, m, 1), D(2025, m + 1, 1),
                                     company=f"MX{c}", name=f"Mixed {c}", deal=deal["deal_id"]))
            if rnd.random() < 0.3:
                rows.append(_inv(-3000, D(2025, 6, 1), D(2025, 7, 1), company=f"MX{c}", deal=deal["deal_id"],
                                 credit=True))
    insert(engine, s.invoices, rows)


def _recurring_values(engine, f: Filters, use_rollups: bool) -> dict:
    with engine.connect() as conn, conn.begin():
        ctx = Ctx(conn, load_definitions(conn))
        if not use_rollups:
            ctx.cache["use_rollups"] = False
        else:
            assert recurring.usable(ctx)
            assert (recurring._moves(ctx, f) is not None) == (len(f.regions) < 2 and len(f.product_lines) < 2)
        out = {mid: ctx.value(mid, f) for mid in RECURRING_IDS}
        out["ltv_churn"] = recurring.ltv_churn_rate(ctx, f)
        return out


def _close(a, b) -> bool:
    if isinstance(a, tuple):
        return all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, str) or a is None or b is None:
        return a == b
    if hasattr(a, "reason") or hasattr(b, "reason"):
        return getattr(a, "reason", None) == getattr(b, "reason", None)
    return float(a) == pytest.approx(float(b), abs=0.011)


def test_the_movements_summary_equals_the_base_answer(engine, monkeypatch):
    build(engine)
    _mixed(engine)
    prepare(engine, "rollups")
    with engine.connect() as conn:
        assert conn.execute(s.rollup_mrr_moves.select().limit(1)).first() is not None
        assert conn.execute(s.rollup_mrr_retention.select().limit(1)).first() is not None
    periods = [(D(2025, 1, 1), D(2025, 12, 31)), (D(2025, 4, 1), D(2025, 6, 30)), (D(2025, 3, 15), D(2025, 9, 10)),
               (D(2025, 7, 1), D(2026, 6, 30)), (D(2025, 5, 2), D(2025, 5, 20)), (D(2024, 11, 1), D(2026, 8, 31)),
               (D(2025, 12, 1), D(2026, 7, 31))]
    slices = [{}, {"regions": ("France",)}, {"regions": (NONE_BUCKET,)}, {"regions": ("Germany",)},
              {"product_lines": ("Platform",)}, {"product_lines": (NONE_BUCKET,)},
              {"regions": ("France",), "product_lines": ("Services",)},
              {"regions": (NONE_BUCKET,), "product_lines": ("Platform",)},
              {"regions": ("France", "Germany")}, {"regions": ("Nowhere",)}]
    tables, lists = {}, {}
    for (start, end), kw in itertools.product(periods, slices):
        f = Filters(start, end, **kw)
        summary, base = _recurring_values(engine, f, True), _recurring_values(engine, f, False)
        assert summary.keys() == base.keys()
        for k in base:
            assert _close(summary[k], base[k]), (f, k, summary[k], base[k])
        tables[f] = recurring.movements_by_month(engine, f)
        lists[f] = (recurring.cohorts(engine, f), recurring.movers(engine, f))
    whole = _recurring_values(engine, Filters(D(2025, 4, 1), D(2025, 12, 31)), True)
    assert whole["churned_mrr"] > 0 and whole["reactivation_mrr"] > 0 and whole["contraction_mrr"] > 0
    assert whole["logo_churn_rate"] > 0 and whole["ltv_churn"][1].startswith("churn: measured")
    monkeypatch.setattr(recurring, "_moves", lambda ctx, f: None)  # the same tables from rollup_mrr
    for f, table in tables.items():
        other = recurring.movements_by_month(engine, f)
        assert list(table.columns) == list(other.columns) and len(table) == len(other)
        for col in table.columns:
            got, want = list(table[col]), list(other[col])
            assert got == want if col == "month" else got == pytest.approx(want, abs=0.011), (f, col)
    assert any(len(c) for c, _m in lists.values()) and any(len(m) for _c, m in lists.values())
    assert any("contraction" in set(m["movement"]) for _c, m in lists.values())
    monkeypatch.setattr(recurring, "usable", lambda ctx: False)  # cohorts and movers from the invoices

    def rows(df):
        return sorted(tuple(round(v, 6) if isinstance(v, float) else v for v in r) for r in df.itertuples(index=False))
    for f, (cohort, moved) in lists.items():
        other_cohort, other_moved = recurring.cohorts(engine, f), recurring.movers(engine, f)
        assert rows(cohort) == rows(other_cohort), f
        assert rows(moved) == rows(other_moved), f
