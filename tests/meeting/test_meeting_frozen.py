"""Frozen snapshots: a week's figures, week and quarter alike, are what the store said at the end
of its review week (its Monday 00:00). Later wins, later stage moves, later deals, contacts,
invoices, ledger entries and spend never reach them, whether the week is taken live or rebuilt."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import func, select

from meeting.snapshots import (QUARTER_CUT, as_of_store, deals_as_of, metric_filters, reconstruct_snapshot,
                               snapshot_deal_rows, snapshot_metric_rows, take_snapshot, value_of)
from metrics import compute_many
from store import bump_data_version, schema as s

from meeting_crm import NOW, THIS_WEEK

D = dt.date
T = dt.datetime
LAST_WEEK = D(2026, 11, 9)


def _add_marketing_and_finance(engine) -> None:
    """Known by Monday 16 Nov: lead c1 (MQL on 10 Nov), an invoice of d1 issued 12 Nov (paid only on
    20 Nov), a 706 sale booked 12 Nov, 500 EUR of spend on 10 Nov."""
    with engine.begin() as conn:
        conn.execute(s.contacts.insert().values(
            contact_id="c1", region="France", original_source="PAID_SEARCH", lifecycle_stage="salesqualifiedlead",
            created_at=T(2026, 10, 20), became_lead_at=T(2026, 10, 20), became_mql_at=T(2026, 11, 10, 9),
            first_sales_touch_at=T(2026, 11, 10, 11), origin="demo"))
        conn.execute(s.invoices.insert().values(
            invoice_number="F-1", deal_id="d1", issue_date=D(2026, 11, 12), paid_date=D(2026, 11, 20),
            amount_excl_tax_cents=1000000, tax_cents=200000, currency="EUR", status="paid"))
        conn.execute(s.ledger_entries.insert().values(
            journal_code="VE", ecriture_date=D(2026, 11, 12), compte_num="706000", credit_cents=1000000,
            debit_cents=0))
        conn.execute(s.marketing_spend.insert().values(spend_date=D(2026, 11, 10), channel="Google Ads",
                                                       amount_cents=50000, currency="EUR"))
        bump_data_version(conn)


def _add_later_data(engine) -> None:
    """What happens after Monday 16 Nov 00:00: d2 won, a new deal won, a deal created before but
    only synced now (won on the 17th, no stage history), c1 becomes SQL, a new lead, a later
    invoice, ledger entry and spend."""
    with engine.begin() as conn:
        conn.execute(s.deals.update().where(s.deals.c.deal_id == "d2").values(
            stage_id="closedwon", close_date=D(2026, 11, 17), forecast_category=None))
        conn.execute(s.deal_stage_history.insert().values(
            deal_id="d2", stage_id="closedwon", entered_at=T(2026, 11, 17, 10), amount_cents=500000,
            close_date=D(2026, 11, 17)))
        conn.execute(s.deals.insert(), [
            {"deal_id": "d6", "amount_cents": 300000, "currency": "EUR", "pipeline_id": "default",
             "stage_id": "closedwon", "created_at": T(2026, 11, 16, 8), "close_date": D(2026, 11, 17),
             "owner_id": "o1", "region": "Nordics", "product_line": "Platform", "origin": "demo"},
            {"deal_id": "nohist", "amount_cents": 100000, "currency": "EUR", "pipeline_id": "default",
             "stage_id": "closedwon", "created_at": T(2026, 11, 2), "close_date": D(2026, 11, 17),
             "owner_id": "o2", "region": "DACH", "product_line": "Analytics", "origin": "demo"}])
        conn.execute(s.deal_stage_history.insert().values(
            deal_id="d6", stage_id="closedwon", entered_at=T(2026, 11, 16, 8), amount_cents=300000,
            close_date=D(2026, 11, 17)))
        conn.execute(s.contacts.update().where(s.contacts.c.contact_id == "c1").values(
            became_sql_at=T(2026, 11, 17), lifecycle_stage="salesqualifiedlead"))
        conn.execute(s.contacts.insert().values(
            contact_id="c2", region="Nordics", original_source="ORGANIC_SEARCH", lifecycle_stage="lead",
            created_at=T(2026, 11, 17), became_lead_at=T(2026, 11, 17), origin="demo"))
        conn.execute(s.invoices.insert().values(
            invoice_number="F-2", deal_id="d2", issue_date=D(2026, 11, 17), amount_excl_tax_cents=500000,
            tax_cents=100000, currency="EUR", status="open"))
        conn.execute(s.ledger_entries.insert().values(
            journal_code="VE", ecriture_date=D(2026, 11, 17), compte_num="706000", credit_cents=500000,
            debit_cents=0))
        conn.execute(s.marketing_spend.insert().values(spend_date=D(2026, 11, 16), channel="Google Ads",
                                                       amount_cents=70000, currency="EUR"))
        bump_data_version(conn)


def _figures(engine, sid) -> pd.DataFrame:
    rows = snapshot_metric_rows(engine, sid)
    return rows.drop(columns=["snapshot_id"]).reset_index(drop=True)


def test_frozen_week_figures_by_hand(crm):
    _add_marketing_and_finance(crm)
    _add_later_data(crm)
    sid = take_snapshot(crm, kind="weekly", now=NOW)
    rows = snapshot_metric_rows(crm, sid)
    # quarter to Monday 16 Nov: d1 won 12 Nov (10,000); d2, d6 and nohist won on the 17th are not in it
    assert value_of(rows, "won_revenue", QUARTER_CUT) == 10000.0
    assert value_of(rows, "won_deals", QUARTER_CUT) == 1.0
    assert value_of(rows, "lost_deals", QUARTER_CUT) == 1.0  # d3, 10 Nov
    # open pipeline closing in Q4 then: d2 5,000 (qualifiedtobuy) + d4 7,000
    assert value_of(rows, "open_pipeline", QUARTER_CUT) == 12000.0
    # c1 became MQL on 10 Nov; c2 arrived on the 17th
    assert value_of(rows, "new_leads", QUARTER_CUT) == 1.0 and value_of(rows, "mqls", QUARTER_CUT) == 1.0
    assert value_of(rows, "sqls", QUARTER_CUT) == 0.0  # c1 became SQL on the 17th
    # F-1 issued 12 Nov (10,000), unpaid by then; F-2 issued on the 17th
    assert value_of(rows, "invoiced_revenue", QUARTER_CUT) == 10000.0
    assert value_of(rows, "cash_collected", QUARTER_CUT) == 0.0
    assert value_of(rows, "ledger_revenue", QUARTER_CUT) == 10000.0
    assert value_of(rows, "marketing_spend", QUARTER_CUT) == 500.0
    # the week under review (9-15 Nov) alike
    assert value_of(rows, "won_revenue") == 10000.0 and value_of(rows, "marketing_spend") == 500.0
    # regions known by then only: Nordics came with later data
    assert set(rows.cut_value[rows.cut_type == "region"]) == {"France", "DACH"}
    # the snapshot's deals: as they stood, nothing created or closed later
    deals = {d["deal_id"]: d for d in snapshot_deal_rows(crm, sid)}
    assert set(deals) == {"d1", "d2", "d3", "d4", "d5"}
    assert (deals["d2"]["stage_id"], deals["d2"]["is_closed"]) == ("qualifiedtobuy", False)


def test_frozen_week_equal_after_later_data(crm):
    _add_marketing_and_finance(crm)
    taken = _figures(crm, take_snapshot(crm, kind="weekly", now=NOW))
    _add_later_data(crm)
    # today's store says otherwise for the same quarter ...
    q = taken[taken.cut_type == QUARTER_CUT].iloc[0].to_dict()
    live = compute_many(crm, ["won_revenue", "new_leads", "invoiced_revenue", "ledger_revenue"], metric_filters(q))
    assert [live[m].value for m in ("won_revenue", "new_leads", "invoiced_revenue", "ledger_revenue")] == \
        [19000.0, 2.0, 15000.0, 15000.0]
    # ... but the week rebuilt afterwards gives the figures taken live on its Monday
    rebuilt = _figures(crm, reconstruct_snapshot(crm, THIS_WEEK, now=NOW, kind="on_demand"))
    pd.testing.assert_frame_equal(rebuilt, taken)


def test_reconstructed_past_week_equal_before_and_after_later_data(crm):
    _add_marketing_and_finance(crm)
    first = _figures(crm, reconstruct_snapshot(crm, LAST_WEEK, now=NOW, kind="on_demand"))
    _add_later_data(crm)
    again = _figures(crm, reconstruct_snapshot(crm, LAST_WEEK, now=NOW, kind="on_demand"))
    pd.testing.assert_frame_equal(again, first)
    # Monday 9 Nov: nothing won or lost in Q4 yet (d1 won on the 12th, d3 lost on the 10th)
    assert value_of(first, "won_revenue", QUARTER_CUT) == 0.0
    assert value_of(first, "won_deals", QUARTER_CUT) == 0.0
    assert value_of(first, "lost_deals", QUARTER_CUT) == 0.0
    assert value_of(first, "mqls", QUARTER_CUT) == 0.0  # c1 became MQL on the 10th
    assert value_of(first, "new_leads", QUARTER_CUT) == 1.0
    assert value_of(first, "invoiced_revenue", QUARTER_CUT) is None  # no invoice yet: F-1 issued on the 12th


def test_frozen_rows_say_what_is_read_as_it_is_now(crm):
    rows = snapshot_metric_rows(crm, reconstruct_snapshot(crm, LAST_WEEK, now=NOW))
    note = rows[(rows.metric_id == "won_revenue") & (rows.cut_type == QUARTER_CUT)].note.iloc[0]
    assert note.startswith("as of 2026-11-09 00:00: only what had happened by then")
    assert "as of 2026-11-18 (no history kept): deal region, product line, owner and source" in note
    ledger = rows[(rows.metric_id == "ledger_revenue") & (rows.cut_type == "total")].note.iloc[0]
    assert "deal region" not in ledger and "shared definitions" in ledger


def test_deals_as_of_leaves_out_deals_without_history_closed_later(crm):
    _add_later_data(crm)
    with crm.connect() as conn:
        then = {d["deal_id"] for d in deals_as_of(conn, T(2026, 11, 16))}
        later = {d["deal_id"]: d for d in deals_as_of(conn, T(2026, 11, 18))}
    assert "nohist" not in then and "d6" not in then
    assert later["nohist"]["is_won"] and later["d6"]["is_won"] and later["d2"]["is_won"]


def test_as_of_store_serves_many_weeks_newest_first_only(crm):
    _add_marketing_and_finance(crm)
    _add_later_data(crm)
    with crm.connect() as conn:
        nov16, nov9 = T(2026, 11, 16), T(2026, 11, 9)
        deals16, deals9 = deals_as_of(conn, nov16), deals_as_of(conn, nov9)
    with as_of_store(crm) as rewind:
        then = rewind(nov16, deals16)
        with then.connect() as conn:  # c2 (17 Nov) gone, c1 SQL date emptied; F-1 unpaid; 17 Nov ledger gone
            assert conn.execute(select(s.contacts.c.contact_id, s.contacts.c.became_sql_at)).all() == [("c1", None)]
            assert conn.execute(select(s.invoices.c.invoice_number, s.invoices.c.status,
                                       s.invoices.c.paid_date)).all() == [("F-1", "open", None)]
            assert conn.execute(select(func.count()).select_from(s.ledger_entries)).scalar() == 1
        then = rewind(nov9, deals9)
        with then.connect() as conn:  # 9 Nov: c1 not yet MQL, F-1 and the 12 Nov ledger entry not yet there
            assert conn.execute(select(s.contacts.c.became_mql_at)).scalars().all() == [None]
            assert conn.execute(select(func.count()).select_from(s.invoices)).scalar() == 0
            assert conn.execute(select(func.count()).select_from(s.ledger_entries)).scalar() == 0
        with pytest.raises(ValueError, match="cannot show 2026-11-16"):
            rewind(nov16, deals16)
