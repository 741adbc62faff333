"""Frozen snapshots on the store rewound in place (`meeting.snapshots.rewound`): the same figures
and deals as on a whole copy cut back to the Monday (`as_of_store`, the way they were computed
before issue #16), with the rollups kept exact through the rewind or not built at all, on SQLite
and PostgreSQL; the rewind rewrites only what changed since the Monday and is never committed."""
from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest
from sqlalchemy import func, select

import upkeep
from demo import generate_demo
from meeting.changes import deal_changes
from meeting.snapshots import (_LAST_REWIND, as_of_store, backfill_demo_snapshots, frozen_snapshot, rewound,
                               snapshot_deal_pairs, snapshot_deal_rows, snapshot_metric_rows)
from meeting.waterfall import pipeline_waterfall
from metrics.sql import stage_rules
from metrics import nps, recurring, rollups, rollups_build, save_definition
from metrics.definitions import load_definitions
from metrics.registry import Ctx
from store import bump_data_version, schema as s
from store.db import data_version

from meeting_crm import NOW, THIS_WEEK
from test_meeting_frozen import LAST_WEEK, _add_later_data, _add_marketing_and_finance

D = dt.date
T = dt.datetime


def _add_more_changes(engine) -> None:
    """More of what happens after Monday 16 Nov 00:00: d4 moves on and its amount changes, d3
    (lost on the 10th) is reopened, c3 (a lead since October) reaches MQL, F-1 is paid (already
    in _add_marketing_and_finance: on the 20th), a deal is deleted."""
    with engine.begin() as conn:
        conn.execute(s.deals.update().where(s.deals.c.deal_id == "d4").values(
            stage_id="contractsent", amount_cents=900000))
        conn.execute(s.deal_stage_history.insert().values(
            deal_id="d4", stage_id="contractsent", entered_at=T(2026, 11, 17, 9), amount_cents=900000,
            close_date=D(2026, 12, 20)))
        conn.execute(s.deals.update().where(s.deals.c.deal_id == "d3").values(stage_id="qualifiedtobuy"))
        conn.execute(s.deal_stage_history.insert().values(
            deal_id="d3", stage_id="qualifiedtobuy", entered_at=T(2026, 11, 17, 11), amount_cents=200000))
        conn.execute(s.deals.update().where(s.deals.c.deal_id == "d5").values(is_deleted=True))
        conn.execute(s.contacts.insert().values(
            contact_id="c3", region="DACH", original_source="ORGANIC_SEARCH", lifecycle_stage="marketingqualifiedlead",
            created_at=T(2026, 10, 2), became_lead_at=T(2026, 10, 2), became_mql_at=T(2026, 11, 17, 14),
            origin="demo"))
        conn.execute(s.deal_contacts.insert(), [{"deal_id": "d4", "contact_id": "c3"},
                                                {"deal_id": "d6", "contact_id": "c2"}])
        bump_data_version(conn)


def _changed_store(engine) -> None:
    _add_marketing_and_finance(engine)
    _add_later_data(engine)
    _add_more_changes(engine)


def _snapshot(engine, week: dt.date, whole_copy: bool) -> tuple[pd.DataFrame, list[dict]]:
    if whole_copy:
        with as_of_store(engine) as rewind:
            sid = frozen_snapshot(engine, week, "on_demand", NOW, rewind)
    else:
        sid = frozen_snapshot(engine, week, "on_demand", NOW)
    rows = snapshot_metric_rows(engine, sid).drop(columns=["snapshot_id"]).reset_index(drop=True)
    deals = [{k: v for k, v in d.items() if k != "snapshot_id"} for d in snapshot_deal_rows(engine, sid)]
    return rows, deals


def _assert_same(engine, week: dt.date) -> pd.DataFrame:
    old_rows, old_deals = _snapshot(engine, week, whole_copy=True)
    new_rows, new_deals = _snapshot(engine, week, whole_copy=False)
    pd.testing.assert_frame_equal(new_rows.drop(columns=["value"]), old_rows.drop(columns=["value"]))
    differ = [(r.metric_id, r.cut_type, r.cut_value, a, b)
              for r, a, b in zip(old_rows.itertuples(), old_rows.value, new_rows.value)
              if not ((pd.isna(a) and pd.isna(b)) or (not pd.isna(a) and not pd.isna(b)
                                                      and math.isclose(a, b, rel_tol=1e-9, abs_tol=0.011)))]
    assert not differ, f"rewound in place vs whole copy, week {week}: {differ[:20]}"
    assert new_deals == old_deals
    return new_rows


@pytest.mark.parametrize("with_rollups", [False, True], ids=["base-tables", "rollups"])
def test_rewound_equals_whole_copy_after_later_changes(crm, with_rollups):
    _changed_store(crm)
    if with_rollups:
        rollups_build.refresh(crm, force=True)
    for week in (THIS_WEEK, LAST_WEEK):
        _assert_same(crm, week)


def test_rewound_rewrites_only_what_changed_and_commits_nothing(crm):
    _changed_store(crm)
    rollups_build.refresh(crm, force=True)
    version = data_version(crm)
    with crm.connect() as conn:
        before = {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                  for t in (s.deals, s.contacts, s.invoices, s.ledger_entries, s.rollup_deals, s.rollup_state)}
        rollup_state = conn.execute(select(s.rollup_state).order_by(s.rollup_state.c.name)).all()
    with rewound(crm, T(2026, 11, 16)) as conn:
        # d6 created later, nohist closed later and d5 deleted are gone; d2, d3, d4 rewritten
        assert _LAST_REWIND["deals"] == 6
        assert _LAST_REWIND["contacts"] == 3  # c2 created later, c1 SQL and c3 MQL reached later
        stages = dict(conn.execute(select(s.deals.c.deal_id, s.deals.c.stage_id)).all())
        assert stages == {"d1": "closedwon", "d2": "qualifiedtobuy", "d3": "closedlost", "d4": "appointmentscheduled"}
        assert conn.execute(select(s.contacts.c.became_mql_at).where(s.contacts.c.contact_id == "c3")).scalar() is None
        assert conn.execute(select(s.invoices.c.status, s.invoices.c.paid_date)).all() == [("open", None)]
        assert conn.execute(select(func.count()).select_from(s.deal_contacts)).scalar() == 1  # d6-c2 went
        defs = load_definitions(conn)  # the CRM rollups kept exact through the rewind, so still read
        assert rollups.is_fresh(conn, defs) and recurring.is_fresh(conn, defs)
        assert rollups.is_fresh(conn, defs, rollups.NPS) and rollups.is_fresh(conn, defs, rollups.ACCOUNT_SLICES)
    with crm.connect() as conn:  # nothing of it was committed
        after = {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                 for t in (s.deals, s.contacts, s.invoices, s.ledger_entries, s.rollup_deals, s.rollup_state)}
        assert after == before
        assert conn.execute(select(s.rollup_state).order_by(s.rollup_state.c.name)).all() == rollup_state
        assert conn.execute(select(s.deals.c.stage_id).where(s.deals.c.deal_id == "d4")).scalar() == "contractsent"
    assert data_version(crm) == version


def test_rewound_equals_whole_copy_on_the_demo_store(engine):
    """The small demo store (1,500 deals, three years of stage moves, contacts, invoices, ledger),
    its rollups built as `cli.py demo` builds them: this week and weeks back, each as it stood."""
    today = D(2026, 11, 25)
    generate_demo(engine, scale="small", as_of=today)
    upkeep.after_demo(engine)  # builds the rollups, as `cli.py demo` does
    this_week = D(2026, 11, 23)
    for weeks_back in (-1, 0, 3):  # -1: the next Monday, after every write (nothing to rewind)
        week = this_week - dt.timedelta(days=7 * weeks_back)
        rows = _assert_same(engine, week)
        assert rows.value.notna().sum() > 100  # real figures, not an empty store


def _summed(conn, table, query=None) -> dict:
    """{key: n} of a summary (or of the rows of `query`, shaped like it), rows of opposite sign folded."""
    src = table if query is None else query.subquery()
    keys = [src.c[col.name] for col in table.columns if col.name != "n"]
    rows = conn.execute(select(*keys, func.sum(src.c.n)).group_by(*keys)).all()
    return {tuple(r[:-1]): int(r[-1]) for r in rows if r[-1]}


def _older_rows_that_move(engine, created: dt.datetime) -> None:
    """Rows of months before the rewind's that it moves: a company with an answer from September
    gets a deal (created on `created`, so gone in the rewound store) of a line of its own, with an
    invoice issued in September; a contact created on `created` answered in September."""
    with engine.begin() as conn:
        company = conn.execute(select(s.contacts.c.company_id).join(
            s.nps_responses, s.nps_responses.c.contact_id == s.contacts.c.contact_id)
            .where(s.nps_responses.c.submitted_at < T(2026, 10, 1), s.contacts.c.company_id.isnot(None))
            .order_by(s.contacts.c.company_id).limit(1)).scalar_one()
        deal = dict(conn.execute(select(s.deals).where(s.deals.c.is_deleted.is_(False)).limit(1)).mappings().one())
        conn.execute(s.deals.insert().values({**deal, "deal_id": "late-deal", "company_id": company, "contact_id": None,
                                              "product_line": "Zeta", "region": "Nowhere", "created_at": created}))
        conn.execute(s.invoices.insert().values(
            invoice_number="LATE-1", company_id=company, customer_name="Late Co", deal_id="late-deal",
            issue_date=D(2026, 9, 15), amount_excl_tax_cents=120000, tax_cents=0, currency="EUR", status="paid",
            paid_date=D(2026, 9, 30), origin="demo"))
        conn.execute(s.contacts.insert().values(contact_id="late-contact", company_id=company, created_at=created,
                                                origin="demo"))
        conn.execute(s.nps_responses.insert().values(origin="demo", response_key="late-answer", contact_id="late-contact",
                                                     submitted_at=T(2026, 9, 20, 10), score=3))
        bump_data_version(conn)


def test_rewound_store_keeps_the_nps_and_arpa_slices_exact(engine):
    """ARPA's customers by region and product line and the NPS summary, which no Keeper follows,
    are counted out and in again by customer and by answer: in the rewound store they equal a
    rebuild from its rows (so the snapshot reads them, not every invoice and answer), this week
    and weeks back (answers, invoices, deals and companies gone since)."""
    generate_demo(engine, scale="small", as_of=D(2026, 11, 25))
    _older_rows_that_move(engine, created=T(2026, 11, 24, 9))
    upkeep.after_demo(engine)
    with engine.connect() as conn:
        live = {t.name: _summed(conn, t) for t in (s.rollup_nps_months, s.rollup_invoice_account_slices)}
    for moment in (T(2026, 11, 23), T(2026, 10, 26)):
        with rewound(engine, moment) as conn:
            ctx = Ctx(conn, load_definitions(conn))
            for group in (rollups.NPS, rollups.ACCOUNT_SLICES):
                assert rollups.is_fresh(conn, ctx.defs, group)
            for table, query in ((s.rollup_nps_months, nps.build_query(ctx)),
                                 (s.rollup_invoice_account_slices,
                                  rollups._invoice_accounts_query(ctx, grain="day", sliced=True))):
                kept = _summed(conn, table)
                assert kept == _summed(conn, table, query), table.name
                assert kept != live[table.name]  # the rewind did move rows of it


def test_rewound_mrr_follows_a_company_that_goes_when_regions_are_the_companies(engine):
    """With `dimensions.region_from: company`, a deal whose company was created after the Monday
    loses its region in the rewound store: its invoices' MRR rows move to no region, like a
    rebuild of the MRR summary from the rewound rows."""
    generate_demo(engine, scale="small", as_of=D(2026, 11, 25))
    save_definition(engine, "dimensions.region_from", "company", "test")
    with engine.begin() as conn:
        deal_id, company = conn.execute(
            select(s.invoices.c.deal_id, s.invoices.c.company_id)
            .join(s.deals, s.deals.c.deal_id == s.invoices.c.deal_id)
            .where(s.invoices.c.service_period_start.isnot(None), s.invoices.c.issue_date < D(2026, 11, 1),
                   s.deals.c.created_at < T(2026, 10, 1), s.deals.c.company_id.isnot(None))
            .order_by(s.invoices.c.invoice_id).limit(1)).one()
        conn.execute(s.companies.update().where(s.companies.c.company_id == company).values(
            created_at=T(2026, 11, 24, 9)))
        bump_data_version(conn)
    upkeep.after_demo(engine)
    with rewound(engine, T(2026, 11, 23)) as conn:
        ctx = Ctx(conn, load_definitions(conn))
        assert recurring.is_fresh(conn, ctx.defs)
        names = [col.name for col in recurring.R.columns]
        kept = conn.execute(select(*[recurring.R.c[n] for n in names]).where(recurring.R.c.customer == f"c:{company}")
                            .order_by(*[recurring.R.c[n] for n in names])).all()
        query = recurring.summary_query(ctx).subquery()
        rebuilt = conn.execute(select(*[query.c[n] for n in names]).where(query.c.customer == f"c:{company}")
                               .order_by(*[query.c[n] for n in names])).all()
        assert kept and [r.region for r in kept] == [None] * len(kept)
        assert [tuple(r) for r in kept] == [tuple(r) for r in rebuilt]


def test_the_deals_closing_in_the_windows_give_the_whole_comparison(engine):
    """The meeting compares two snapshots over the quarter and the review weeks: the deals that
    close in those windows in either snapshot (`snapshot_deal_pairs`, what the meeting page
    reads) give the same waterfall and the same deal-by-deal changes as every deal of both."""
    generate_demo(engine, scale="small", as_of=D(2026, 11, 25))
    upkeep.after_demo(engine)
    prev_id, snap_id = backfill_demo_snapshots(engine, weeks=2, as_of=D(2026, 11, 25))[-2:]
    quarter = (D(2026, 10, 1), D(2026, 12, 31))
    sd = s.snapshot_deals
    with engine.begin() as conn:  # a deal of the quarter pushed out to the next one (its row then closes outside)
        pushed = conn.execute(select(sd.c.deal_id).where(sd.c.snapshot_id == prev_id, sd.c.is_closed.is_(False),
                                                         sd.c.close_date >= quarter[0], sd.c.close_date <= quarter[1])
                              .order_by(sd.c.deal_id).limit(1)).scalar_one()
        conn.execute(sd.update().where(sd.c.snapshot_id == snap_id, sd.c.deal_id == pushed).values(
            close_date=D(2027, 2, 1), is_closed=False))
    full = (snapshot_deal_rows(engine, prev_id), snapshot_deal_rows(engine, snap_id))
    in_quarter = snapshot_deal_pairs(engine, prev_id, snap_id, quarter)
    assert 0 < len(in_quarter[1]) < len(full[1])  # fewer deals read
    wf = pipeline_waterfall(*in_quarter, window=quarter, fx={"EUR": 1.0, "USD": 0.9, "GBP": 1.15})
    assert wf == pipeline_waterfall(*full, window=quarter, fx={"EUR": 1.0, "USD": 0.9, "GBP": 1.15})
    assert any(line["deal_id"] == pushed for bar in wf.bars if bar.category == "pushed_out" for line in bar.deals)
    with engine.connect() as conn:
        probability = stage_rules(Ctx(conn, load_definitions(conn))).probability
    windows = dict(start_review=(D(2026, 9, 29), D(2026, 10, 5)), end_review=(D(2026, 11, 16), D(2026, 11, 22)),
                   quarter=quarter, probability=probability)
    changes = deal_changes(*snapshot_deal_pairs(engine, prev_id, snap_id, (D(2026, 9, 29), D(2026, 12, 31))), **windows)
    assert changes and changes == deal_changes(*full, **windows)
