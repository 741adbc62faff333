"""The monthly rollups change speed, never a number: every metric computed from the rollups
equals the same metric computed from the base tables, for whole and partial periods and every
filter, on SQLite and PostgreSQL; stale rollups (a write, a definitions edit) are not read."""
from __future__ import annotations

import datetime as dt
import math

import pytest
from sqlalchemy import func, select, update

import upkeep
from demo import generate_demo
from metrics import REGISTRY, Filters, NONE_BUCKET, compute_many, recurring, rollups, rollups_build, save_definition
from metrics.definitions import load_definitions
from metrics.registry import Ctx, NotAvailable
from store import StoreSettings, bump_data_version, observers, open_store, schema as s
from store.db import changed_since

AS_OF = dt.date(2026, 11, 23)
NOW = dt.datetime(2026, 11, 22, 12, 0)  # inside the data: some MQLs' follow-up window is still open
D = dt.date


RECENT_FROM = D(2026, 10, 1)  # the recent days a build on AS_OF holds by day (rollups.recent_from)


def _demo_with_rollups(engine) -> None:
    generate_demo(engine, scale="small", as_of=AS_OF)
    upkeep.after_demo(engine)  # builds the rollups, as `cli.py demo` does


@pytest.fixture
def demo_engine(store_url, backend, store_templates, monkeypatch):
    """The small demo as of AS_OF with its rollups (built once per worker, copied per test)."""
    monkeypatch.setattr(rollups_build, "_today", lambda: AS_OF)  # the recent days: from 1 Oct
    store_templates.fill(backend, store_url, f"demo-rollups-{AS_OF}", _demo_with_rollups)
    return open_store(StoreSettings(store_url, "test store"))


def _values(engine, f: Filters, use_rollups: bool, ids=None) -> dict:
    with engine.connect() as conn, conn.begin():
        ctx = Ctx(conn, load_definitions(conn))
        ctx.cache["now"] = NOW
        if not use_rollups:
            ctx.cache["use_rollups"] = False
        else:
            # every group but ARPA's customers by slice, which a Keeper cannot keep (a distinct count),
            # and the NPS summary, not kept through a contact write (settle rebuilds them): may be stale
            assert all(rollups.usable(ctx, g) for g in rollups.GROUPS if g not in (rollups.ACCOUNT_SLICES, rollups.NPS))
        return {mid: ctx.value(mid, f) for mid in (ids or REGISTRY)}


def _same(a, b) -> bool:
    if isinstance(a, NotAvailable) or isinstance(b, NotAvailable):
        return isinstance(a, NotAvailable) and isinstance(b, NotAvailable) and a.reason == b.reason
    if a is None or b is None:
        return a is b
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=0.011)


def _both_ways(engine, figures) -> list:
    """[figures(ctx) with the rollups, figures(ctx) from the base tables]."""
    out = []
    for use in (True, False):
        with engine.connect() as conn:
            ctx = Ctx(conn, load_definitions(conn))
            if not use:
                ctx.cache["use_rollups"] = False
            out.append(figures(ctx))
    return out


def _close(a, b) -> bool:
    """Figures alike: numbers within a cent, lists, tuples and dicts of them element by element."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    return _same(a, b)


def _assert_same(engine, f: Filters) -> dict:
    base, rolled = _values(engine, f, False), _values(engine, f, True)
    diff = {mid: (base[mid], rolled[mid]) for mid in base if not _same(base[mid], rolled[mid])}
    assert not diff, f"{f}: base vs rollups differ: {diff}"
    return rolled


def _owner_team_region(engine):
    with engine.connect() as conn:
        owner, team = conn.execute(select(s.owners.c.owner_id, s.owners.c.team_name).limit(1)).one()
        region = conn.execute(select(s.deals.c.region).where(s.deals.c.region.isnot(None)).limit(1)).scalar()
        pl = conn.execute(select(s.deals.c.product_line).where(s.deals.c.product_line.isnot(None)).limit(1)).scalar()
        source = conn.execute(select(s.contacts.c.original_source).limit(1)).scalar()
    return owner, team, region, pl, source


PERIODS = [
    (D(2026, 10, 1), D(2026, 12, 31)),  # a quarter, whole months
    (D(2026, 1, 1), D(2026, 12, 31)),  # a year
    (D(2026, 8, 17), D(2026, 11, 9)),  # custom: partial months at both edges
    (D(2026, 11, 16), D(2026, 11, 22)),  # a week: no whole month, all from the base tables
    (D(2026, 8, 5), D(2026, 11, 27)),  # edges of most of a month: that month less its other days
]


@pytest.mark.parametrize("period", PERIODS, ids=["quarter", "year", "custom", "week", "long-edges"])
def test_every_metric_equal_with_and_without_rollups(demo_engine, period):
    values = _assert_same(demo_engine, Filters(*period))
    assert values["won_revenue"] > 0 and values["new_leads"] > 0  # the comparison is not of empty sets


def test_filters_equal_with_and_without_rollups(demo_engine):
    owner, team, region, pl, source = _owner_team_region(demo_engine)
    q = (D(2026, 7, 1), D(2026, 9, 30))
    for kw in ({"regions": (region,)}, {"regions": (region, NONE_BUCKET)}, {"product_lines": (pl,)},
               {"owners": (owner,)}, {"teams": (team,)}, {"sources": (source,)}, {"pipelines": ("default",)},
               {"regions": (region,), "product_lines": (pl,), "owners": (owner,)}):
        _assert_same(demo_engine, Filters(*q, **kw))


def test_invoice_figures_by_deal_dimension_equal_with_and_without_rollups(demo_engine):
    """rollup_invoice_dims (the invoice's deal's dimensions) for whole months and edge days,
    including the "(none)" bucket, which holds the invoices with no live deal."""
    owner, team, region, pl, source = _owner_team_region(demo_engine)
    ids = ["invoiced_revenue", "cash_collected", "booked_to_invoiced_gap", "arpa"]
    seen = 0.0
    for period in ((D(2026, 7, 1), D(2026, 9, 30)), (D(2026, 8, 17), D(2026, 11, 9)), (D(2026, 11, 3), D(2026, 11, 19)),
                   (D(2026, 8, 3), D(2026, 11, 28))):
        for kw in ({"regions": (region,)}, {"regions": (NONE_BUCKET,)}, {"regions": (region, NONE_BUCKET)},
                   {"product_lines": (pl,)}, {"owners": (owner,)}, {"teams": (team,)}, {"pipelines": ("default",)},
                   {"sources": (source,)}, {"regions": (NONE_BUCKET,), "owners": (NONE_BUCKET,)},
                   {"regions": (region,), "product_lines": (pl,)}):
            f = Filters(*period, **kw)
            with demo_engine.connect() as conn:
                assert rollups.usable(Ctx(conn, load_definitions(conn)), rollups.ACCOUNT_SLICES)
            base, rolled = _values(demo_engine, f, False, ids), _values(demo_engine, f, True, ids)
            assert all(_same(base[k], rolled[k]) for k in ids), (f, base, rolled)
            seen += abs(rolled["invoiced_revenue"] or 0)
    assert seen > 0
    with demo_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(s.rollup_invoice_dims)).scalar() > 0
        assert conn.execute(select(func.count()).select_from(s.rollup_invoice_dim_days)).scalar() > 0


def test_an_edge_of_most_of_a_month_is_read_as_the_month_less_its_other_days():
    f = Filters(D(2025, 12, 6), D(2025, 12, 31))  # a trailing year's first days
    assert rollups.by_complement(f) == [(Filters(D(2025, 12, 1), D(2025, 12, 31)), 1),
                                        (Filters(D(2025, 12, 1), D(2025, 12, 5)), -1)]
    assert rollups.by_complement(Filters(D(2026, 3, 2), D(2026, 3, 30))) == [
        (Filters(D(2026, 3, 1), D(2026, 3, 31)), 1), (Filters(D(2026, 3, 1), D(2026, 3, 1)), -1),
        (Filters(D(2026, 3, 31), D(2026, 3, 31)), -1)]
    assert rollups.by_complement(Filters(D(2026, 12, 1), D(2026, 12, 5))) is None  # its own days are fewer
    assert rollups.by_complement(Filters(D(2026, 2, 1), D(2026, 2, 14))) is None  # as many: read them
    assert rollups.by_complement(Filters(D(2026, 1, 20), D(2026, 2, 10))) is None  # two months
    assert rollups.negate((3, 2.5, None)) == (-3, -2.5, None) and rollups.negate(None) is None
    with pytest.raises(TypeError):
        rollups.negate({"owner": 1})  # a key that cancels out would stay with zeros


def test_rollups_are_read_and_sum_like_the_base(demo_engine):
    """The fast path is really taken: the rollup rows alone give the quarter's won deals."""
    f = Filters(D(2026, 10, 1), D(2026, 12, 31))
    with demo_engine.connect() as conn:
        ctx = Ctx(conn, load_definitions(conn))
        assert rollups.split(ctx, f, True) == [(f, True)]
        raw = rollups.closed_raw(ctx, f)
        with_edges = rollups.split(ctx, Filters(D(2026, 9, 20), D(2026, 11, 3)), True)
    assert raw[0] == _values(demo_engine, f, False, ["won_deals"])["won_deals"]
    assert with_edges == [(Filters(D(2026, 10, 1), D(2026, 10, 31)), True),
                          (Filters(D(2026, 9, 20), D(2026, 9, 30)), False),
                          (Filters(D(2026, 11, 1), D(2026, 11, 3)), False)]


def test_a_write_makes_them_stale_until_refreshed(demo_engine):
    f = Filters(D(2026, 10, 1), D(2026, 12, 31))
    before = compute_many(demo_engine, ["won_deals", "won_revenue"], f)
    with demo_engine.begin() as conn:
        deal_id = conn.execute(select(s.deals.c.deal_id).where(
            s.deals.c.stage_id == "closedwon", s.deals.c.close_date >= f.start, s.deals.c.close_date <= f.end,
            ~s.deals.c.is_deleted).limit(1)).scalar()
        conn.execute(update(s.deals).where(s.deals.c.deal_id == deal_id).values(is_deleted=True))
        bump_data_version(conn, "deals")
    with demo_engine.connect() as conn:
        assert not rollups.is_fresh(conn, load_definitions(conn))
        assert rollups.is_fresh(conn, load_definitions(conn), rollups.INVOICES)  # invoices did not change
    after = compute_many(demo_engine, ["won_deals"], f)
    assert after["won_deals"].value == before["won_deals"].value - 1  # read from the deals, not the stale rollup
    built = rollups_build.refresh(demo_engine)
    # the MRR summary and the invoices by deal dimension read the deals' region and product line,
    # the NPS answers their company's deals' product lines
    assert set(built) == {rollups.NAME, rollups.INVOICE_DIMS, rollups.ACCOUNT_SLICES, recurring.GROUP, rollups.NPS}
    assert compute_many(demo_engine, ["won_deals"], f)["won_deals"].value == before["won_deals"].value - 1
    _assert_same(demo_engine, f)


def test_writes_elsewhere_keep_them_fresh(demo_engine):
    from meeting.decisions import add_decision
    add_decision(demo_engine, text="Hire two SDRs", owner="CSO", actor="test")
    with demo_engine.connect() as conn:
        defs = load_definitions(conn)
        assert all(rollups.is_fresh(conn, defs, g) for g in rollups.GROUPS)
    assert rollups_build.refresh(demo_engine) == {}


def test_an_unnamed_write_counts_as_any_table(demo_engine):
    with demo_engine.begin() as conn:
        version = bump_data_version(conn)
        assert changed_since(conn, version - 1, ["ledger_entries"])
    with demo_engine.connect() as conn:
        defs = load_definitions(conn)
        assert not any(rollups.is_fresh(conn, defs, g) for g in rollups.GROUPS)


def test_a_definitions_edit_makes_them_stale(demo_engine):
    """Region rules, SLA and stages are applied when building: an edit must not read old rollups."""
    save_definition(demo_engine, "funnel.follow_up_sla_hours", 4, actor="test")
    with demo_engine.connect() as conn:
        assert not rollups.is_fresh(conn, load_definitions(conn))
    f = Filters(D(2026, 7, 1), D(2026, 9, 30))
    stale = _values(demo_engine, f, False, ["leads_not_followed_up"])
    rollups_build.refresh(demo_engine)
    _assert_same(demo_engine, f)
    assert _values(demo_engine, f, True, ["leads_not_followed_up"]) == stale


def test_refresh_rebuilds_nothing_when_fresh_and_everything_when_forced(demo_engine):
    assert rollups_build.refresh(demo_engine) == {}
    built = rollups_build.refresh(demo_engine, force=True)
    assert set(built) == set(rollups.GROUPS) | {recurring.GROUP} and all(b.rows > 0 for b in built.values())
    with demo_engine.connect() as conn:
        assert rollups.state(conn)["rows"] == built[rollups.NAME].rows


def test_empty_store_builds_empty_rollups_and_metrics_say_not_available(engine):
    rollups_build.refresh(engine)
    values = compute_many(engine, ["won_revenue", "new_leads", "invoiced_revenue", "arpa"],
                          Filters(D(2026, 1, 1), D(2026, 3, 31)))
    assert all(v.value is None and v.reason for v in values.values())


def test_distinct_customers_over_months_with_gaps(engine):
    """ARPA's customer count from the rollup (month, previous invoiced month) equals a distinct count."""
    inv = s.invoices
    rows = []
    # customer A: Jan, Mar; B: Feb only; C: Jan, Feb, Apr; D: only a credit note in Mar; E: draft in Feb
    for n, (cust, day, credit, status) in enumerate([
            ("A", D(2026, 1, 5), False, "paid"), ("A", D(2026, 3, 5), False, "paid"),
            ("B", D(2026, 2, 5), False, "open"), ("C", D(2026, 1, 9), False, "paid"),
            ("C", D(2026, 2, 9), False, "paid"), ("C", D(2026, 4, 9), False, "paid"),
            ("D", D(2026, 3, 1), True, "paid"), ("E", D(2026, 2, 2), False, "draft")]):
        rows.append({"invoice_number": f"F{n}", "customer_name": cust, "issue_date": day, "currency": "EUR",
                     "amount_excl_tax_cents": 10_000, "tax_cents": 2_000, "status": status,
                     "is_credit_note": credit, "origin": "csv"})
    with engine.begin() as conn:
        conn.execute(inv.insert(), rows)
        bump_data_version(conn, "invoices")
    rollups_build.refresh(engine)
    expected = {(1, 1): 2, (1, 2): 3, (2, 3): 3, (3, 3): 1, (1, 4): 3, (2, 4): 3, (4, 4): 1, (3, 4): 2}
    with engine.connect() as conn:
        ctx = Ctx(conn, load_definitions(conn))
        for (m1, m2), n in expected.items():
            f = Filters(D(2026, m1, 1), D(2026, m2, 28) if m2 == 2 else D(2026, m2, 30 if m2 in (4,) else 31))
            assert rollups.invoice_accounts(ctx, f) == n, (m1, m2)
        # by day (ARPA's trailing 12 months end on any day): every window of days against a distinct count
        counted = [(cust, day) for cust, day, credit, status in [
            ("A", D(2026, 1, 5), 0, 1), ("A", D(2026, 3, 5), 0, 1), ("B", D(2026, 2, 5), 0, 1),
            ("C", D(2026, 1, 9), 0, 1), ("C", D(2026, 2, 9), 0, 1), ("C", D(2026, 4, 9), 0, 1)]]
        days = sorted({day for _c, day in counted} | {D(2026, 1, 1), D(2026, 2, 6), D(2026, 3, 6), D(2026, 4, 30)})
        for i, first in enumerate(days):
            for last in days[i:]:
                want = len({cust for cust, day in counted if first <= day <= last})
                assert rollups.invoice_accounts_by_day(ctx, Filters(first, last)) == want, (first, last)


def test_the_app_rebuilds_stale_rollups_in_the_background_once_writes_pause(demo_engine):
    import time
    from store.db import get_meta
    with demo_engine.begin() as conn:
        bump_data_version(conn, "contacts")
        changed = dt.datetime.fromisoformat(get_meta(conn, "data_changed_at"))
    # a write 5 s ago: a sync may still be running, so nothing starts yet
    assert not rollups_build.refresh_soon(demo_engine, now=changed + dt.timedelta(seconds=5))
    assert rollups_build.refresh_soon(demo_engine, now=changed + dt.timedelta(seconds=rollups_build.QUIET_SECONDS + 1))
    for _ in range(300):  # the background build commits
        with demo_engine.connect() as conn:
            if rollups.is_fresh(conn, load_definitions(conn)):
                break
        time.sleep(0.1)
    else:
        raise AssertionError("the background rebuild did not make the rollups fresh")
    for _ in range(300):  # and it ends (the other groups after the CRM one) before the store is dropped
        if not rollups_build._lock.locked():
            break
        time.sleep(0.1)
    assert not rollups_build.refresh_soon(demo_engine)  # fresh now: nothing more to do


def test_a_rollup_is_never_asked_for_a_dimension_it_lacks():
    f = Filters(D(2026, 1, 1), D(2026, 3, 31), owners=("o1",))
    assert not rollups.campaign_filters_supported(f)
    with pytest.raises(ValueError, match="cannot filter by owner_id"):
        rollups.deal_conditions(f, s.rollup_deal_campaigns)
    assert len(rollups.deal_conditions(f, s.rollup_deals)) == 1


@pytest.fixture
def keeper():
    """The Keeper follows the writes announced to store.observers, as upkeep.install() sets it up
    in the app and the CLI."""
    upkeep.install()
    yield
    upkeep.uninstall()


def _sync_like_write(engine, table, key, ids, change, publish=True):
    """One write transaction as the HubSpot sync makes it: rows changed inside the write's
    observers (the keeper), the data version bumped naming the table, the observers told."""
    with engine.begin() as conn:
        watch = observers.watch(conn)
        with watch.around(table.name, ids):
            change(conn)
        version = bump_data_version(conn, table.name)
        if publish:
            watch.publish(version)


def test_a_keeper_keeps_the_rollups_exact_through_deal_and_contact_writes(demo_engine, keeper, monkeypatch):
    d, c = s.deals, s.contacts
    with demo_engine.connect() as conn:
        deal_ids = conn.execute(select(d.c.deal_id).where(~d.c.is_deleted).order_by(d.c.deal_id).limit(50)).scalars().all()
        # contacts without a deal, to be given one (their product lines change with the deal write)
        dealless = conn.execute(select(c.c.contact_id).where(c.c.became_lead_at.isnot(None), c.c.contact_id.notin_(
            select(d.c.contact_id).where(d.c.contact_id.isnot(None)))).order_by(c.c.contact_id).limit(3)).scalars().all()
        pl = conn.execute(select(d.c.product_line).where(d.c.product_line.isnot(None)).limit(1)).scalar()
        # a contact with a deal of its own in another line, to be given a Zeta deal too
        holder = conn.execute(select(d.c.contact_id).where(d.c.deal_id.notin_(deal_ids), d.c.contact_id.isnot(None),
                                                           d.c.product_line.isnot(None), ~d.c.is_deleted)
                              .order_by(d.c.deal_id).limit(1)).scalar()
        contact_ids = conn.execute(select(c.c.contact_id).where(c.c.became_mql_at.isnot(None))
                                   .order_by(c.c.contact_id).limit(40)).scalars().all()
        template = dict(conn.execute(select(d).where(d.c.deal_id == deal_ids[0])).mappings().one())

    def change_deals(conn):
        conn.execute(update(d).where(d.c.deal_id.in_(deal_ids[:10])).values(amount_cents=d.c.amount_cents + 12345))
        conn.execute(update(d).where(d.c.deal_id.in_(deal_ids[:4])).values(close_date=D(2026, 11, 3),  # recent days
                                                                           stage_id="closedwon"))
        conn.execute(update(d).where(d.c.deal_id.in_(deal_ids[10:20])).values(close_date=D(2026, 8, 14),
                                                                              stage_id="closedwon"))
        conn.execute(update(d).where(d.c.deal_id.in_(deal_ids[20:30])).values(is_deleted=True))
        conn.execute(update(d).where(d.c.deal_id.in_(deal_ids[30:40])).values(region="Atlantis", owner_id=None))
        conn.execute(d.insert().values({**template, "deal_id": "new-1", "close_date": D(2026, 10, 2),
                                        "amount_cents": 99_900, "stage_id": "closedwon"}))
        # the contacts' product lines: a new line, one with a comma, deals moved to contacts without one
        conn.execute(update(d).where(d.c.deal_id.in_(deal_ids[40:43])).values(product_line="Zeta"))
        conn.execute(update(d).where(d.c.deal_id == deal_ids[43]).values(product_line="Data, EU"))
        for deal_id, contact_id in zip(deal_ids[44:47], dealless):
            conn.execute(update(d).where(d.c.deal_id == deal_id).values(contact_id=contact_id))
        conn.execute(update(d).where(d.c.deal_id.in_(deal_ids[47:50])).values(contact_id=None))
        conn.execute(update(d).where(d.c.deal_id == deal_ids[39]).values(contact_id=holder, product_line="Zeta"))

    def change_contacts(conn):
        conn.execute(update(c).where(c.c.contact_id.in_(contact_ids[:10])).values(original_source="OFFLINE"))
        conn.execute(update(c).where(c.c.contact_id.in_(contact_ids[10:20]))
                     .values(became_sql_at=dt.datetime(2026, 9, 3, 10, 0), campaign="spring-x"))
        conn.execute(update(c).where(c.c.contact_id.in_(contact_ids[20:30])).values(is_deleted=True))
        conn.execute(update(c).where(c.c.contact_id.in_(contact_ids[30:40]))  # into the recent days
                     .values(became_lead_at=dt.datetime(2026, 10, 20, 9, 0), became_mql_at=dt.datetime(2026, 11, 4, 9, 0),
                             campaign="autumn-y"))

    _sync_like_write(demo_engine, d, "deal_id", deal_ids + ["new-1"], change_deals)
    _sync_like_write(demo_engine, c, "contact_id", contact_ids, change_contacts)
    with demo_engine.connect() as conn:
        assert rollups.is_fresh(conn, load_definitions(conn))
    for period in PERIODS[:3]:
        _assert_same(demo_engine, Filters(*period))
    _assert_same(demo_engine, Filters(D(2026, 7, 1), D(2026, 9, 30), regions=("Atlantis",)))
    assert len(dealless) == 3
    for lines in (("Zeta",), ("Data, EU",), (pl, NONE_BUCKET), (NONE_BUCKET,), (pl, "Zeta")):
        for period in (PERIODS[1], PERIODS[2], (D(2024, 1, 1), D(2026, 12, 31))):
            _assert_same(demo_engine, Filters(*period, product_lines=lines))
    from metrics import details
    by_line = [Filters(D(2024, 1, 1), D(2026, 11, 9), product_lines=lines) for lines in (("Zeta",), (pl, NONE_BUCKET))]
    calls = [("campaign_table", {})] + [("funnel", {"view": v, "mode": "any"}) for v in ("period", "cohort")]
    rolled = [getattr(details, name)(demo_engine, f, **kw) for name, kw in calls for f in by_line]
    with monkeypatch.context() as m:  # the same from the contacts joined to their deals
        m.setattr(rollups, "usable", lambda ctx, group=rollups.NAME: False)
        base = [getattr(details, name)(demo_engine, f, **kw) for name, kw in calls for f in by_line]
    assert all(_frames_close(a, b) for a, b in zip(rolled, base))
    assert rolled[2]["count"].sum() > 0  # the Zeta contacts' funnel: not empty
    # the invoices of the moved deals, by day (a region's edge days): kept exact too
    _assert_same(demo_engine, Filters(D(2026, 8, 17), D(2026, 11, 9), regions=("Atlantis",)))
    dim_days = _cents_by_key(demo_engine, s.rollup_invoice_dim_days)
    assert any(key[3] == "Atlantis" for key in dim_days)
    periods = [Filters(*p) for p in PERIODS[:3]]
    rolled = [details.campaign_table(demo_engine, f) for f in periods]
    with monkeypatch.context() as m:  # the same tables from the contacts and deals
        m.setattr(rollups, "usable", lambda ctx, group=rollups.NAME: False)
        base = [details.campaign_table(demo_engine, f) for f in periods]
    assert all(_frames_close(a, b) for a, b in zip(rolled, base))
    assert "spring-x" in set(rolled[1]["campaign"])  # the moved contacts' new campaign
    # the edge days in the recent summaries (the custom period's 1-9 Nov, the week) after the write
    recent = [Filters(*PERIODS[2]), Filters(*PERIODS[3]), Filters(D(2026, 10, 15), D(2026, 11, 9))]
    calls = [("campaign_table", {})] + [("funnel", {"view": v, "mode": m}) for v in ("period", "cohort")
                                         for m in ("any", "strict")]
    rolled = [getattr(details, name)(demo_engine, f, **kw) for name, kw in calls for f in recent]
    with monkeypatch.context() as m:
        m.setattr(rollups, "usable", lambda ctx, group=rollups.NAME: False)
        base = [getattr(details, name)(demo_engine, f, **kw) for name, kw in calls for f in recent]
    assert all(_frames_close(a, b) for a, b in zip(rolled, base))
    assert "autumn-y" in set(rolled[2]["campaign"])  # the moved contacts, in the recent days
    grown = {t: conn_count(demo_engine, t) for t in (s.rollup_deals, s.rollup_contacts, s.rollup_deal_campaigns,
                                                     s.rollup_contact_campaigns)}
    kept = rollups_build.RECENT_TABLES
    rollups_build.compact(demo_engine)  # one row per key again, the same sums
    _assert_same(demo_engine, Filters(*PERIODS[1]))
    compacted = {t: conn_count(demo_engine, t) for t in (*grown, *kept)}
    sums = {t: _sums_by_key(demo_engine, t) for t in kept}
    rollups_build.refresh(demo_engine, force=True)
    assert compacted == {t: conn_count(demo_engine, t) for t in compacted}  # what a rebuild from the rows gives
    assert sums == {t: _sums_by_key(demo_engine, t) for t in kept}
    assert all(grown[t] > compacted[t] for t in grown)
    assert dim_days == _cents_by_key(demo_engine, s.rollup_invoice_dim_days)


def _cents_by_key(engine, table) -> dict:
    """A summary's cents by key, without the keys whose rows add up to nothing."""
    keys = [col for col in table.columns if col.name != "cents"]
    with engine.connect() as conn:
        return {tuple(k): int(n) for *k, n in conn.execute(select(*keys, func.sum(table.c.cents)).group_by(*keys))
                if n}


def _sums_by_key(engine, table) -> dict:
    keys = [col for col in table.columns if col.name != "n"]
    with engine.connect() as conn:
        return {tuple(k): int(n) for *k, n in conn.execute(select(*keys, func.sum(table.c.n)).group_by(*keys))}


def conn_count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_a_write_the_keeper_cannot_follow_marks_the_rollups_stale_at_once(demo_engine, keeper):
    save_definition(demo_engine, "dimensions.product_line_from", "line_items", actor="test")
    rollups_build.refresh(demo_engine)
    with demo_engine.connect() as conn:
        assert rollups.is_fresh(conn, load_definitions(conn))
    _sync_like_write(demo_engine, s.line_items, "line_item_id", ["li-1"], lambda conn: None, publish=False)
    with demo_engine.connect() as conn:
        assert not rollups.is_fresh(conn, load_definitions(conn))
    # and a later bump with a keeper does not declare them fresh again
    _sync_like_write(demo_engine, s.deals, "deal_id", ["nope"], lambda conn: None)
    with demo_engine.connect() as conn:
        assert not rollups.is_fresh(conn, load_definitions(conn))


def test_a_keeper_leaves_stale_rollups_alone(demo_engine, keeper):
    with demo_engine.begin() as conn:
        bump_data_version(conn)  # a write nobody kept
    _sync_like_write(demo_engine, s.deals, "deal_id", ["x"], lambda conn: None)
    with demo_engine.connect() as conn:
        assert not rollups.is_fresh(conn, load_definitions(conn))
    with demo_engine.connect() as conn:  # no delta rows were added to rollups nobody reads
        assert rollups.state(conn)["rows"] == sum(conn_count(demo_engine, t) for t in rollups.GROUPS[rollups.NAME][1])


def test_an_invoice_import_leaves_the_crm_rollups_fresh_and_the_cli_rebuilds_the_invoice_ones(demo_engine, tmp_path,
                                                                                                  monkeypatch):
    import cli
    csv = tmp_path / "invoices.csv"
    csv.write_text("invoice number,customer,invoice date,amount excl tax,tax,currency,status\n"
                   "X-1,Acme,2026-10-15,1000.00,200.00,EUR,paid\n")
    monkeypatch.setenv("NORTHSTAR_DB_URL", demo_engine.url.render_as_string(hide_password=False))
    before = _values(demo_engine, Filters(D(2026, 10, 1), D(2026, 12, 31)), True, ["invoiced_revenue"])
    assert cli.main(["import", "invoices", str(csv)]) == 0
    with demo_engine.connect() as conn:
        defs = load_definitions(conn)
        assert rollups.is_fresh(conn, defs) and rollups.is_fresh(conn, defs, rollups.INVOICES)
    after = _values(demo_engine, Filters(D(2026, 10, 1), D(2026, 12, 31)), True, ["invoiced_revenue"])
    assert after["invoiced_revenue"] == pytest.approx(before["invoiced_revenue"] + 1000.00)


def test_the_ceo_funnel_counts_are_the_funnel_kpis(demo_engine):
    """details.funnel without medians (the CEO chart) reads the rollup-backed KPIs: same counts
    as the full per-stage queries, for whole and partial periods."""
    from metrics.details import funnel
    for period in PERIODS:
        fast = funnel(demo_engine, Filters(*period), view="period", mode="any", medians=False)
        full = funnel(demo_engine, Filters(*period), view="period", mode="any")
        assert list(fast["count"]) == list(full["count"]) and fast["count"].sum() > 0
        assert fast["median_days_from_previous"].isna().all() and full["median_days_from_previous"].notna().any()
        assert list(fast["pct_of_previous"].fillna(-1)) == list(full["pct_of_previous"].fillna(-1))


def _details_both_ways(engine, calls: list[tuple[str, Filters, dict]]) -> tuple[list, list]:
    """metrics.details tables for each (function name, filters, keywords), from the rollups and
    then from the base tables (the rollups made stale by a write nobody kept, then rebuilt)."""
    from metrics import details
    rolled = [getattr(details, name)(engine, f, **kw) for name, f, kw in calls]
    with engine.begin() as conn:
        bump_data_version(conn)
    base = [getattr(details, name)(engine, f, **kw) for name, f, kw in calls]
    rollups_build.refresh(engine)
    return rolled, base


def _frames_close(a, b) -> bool:
    import pandas as pd
    try:
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9, atol=0.011)
    except AssertionError:
        return False
    return True


def test_campaign_table_equal_with_and_without_rollups(demo_engine):
    """The campaign table reads whole months from rollup_contact_campaigns and
    rollup_deal_campaigns: the same rows as from the contacts and deals, for whole and partial
    periods and the filters each rollup carries or lacks."""
    owner, team, region, pl, source = _owner_team_region(demo_engine)
    filters = [Filters(*p) for p in PERIODS] + [
        Filters(*period, **kw) for period in (PERIODS[1], PERIODS[2], PERIODS[3])  # custom, week: recent days
        for kw in ({"regions": (region,)}, {"owners": (owner,)}, {"sources": (source,)},
                   {"product_lines": (pl,)}, {"teams": (team,)})]
    with demo_engine.connect() as conn:
        ctx = Ctx(conn, load_definitions(conn))
        assert rollups.split(ctx, filters[1], True) == [(filters[1], True)]  # the year: all from the rollups
        assert rollups.campaign_contacts(ctx, filters[1])["lead"]  # and they hold campaigns
    rolled, base = _details_both_ways(demo_engine, [("campaign_table", f, {}) for f in filters])
    for f, a, b in zip(filters, rolled, base):
        assert _frames_close(a, b), f"{f}:\n{a}\n{b}"
    year = rolled[1]
    assert year["leads"].sum() > 0 and year["won_deals"].sum() > 0 and year["customers"].sum() > 0


@pytest.mark.parametrize("name,kw", [("source_quality", {}), ("leads_by_source_over_time", {"grain": "month"}),
                                     ("leads_by_source_over_time", {"grain": "week"})])
def test_marketing_tables_equal_with_and_without_rollups(demo_engine, name, kw):
    """Source quality (lead cohorts by source, won revenue by effective source) and new leads by
    source over time read whole months from rollup_contacts and rollup_deals: the same rows."""
    owner, team, region, pl, source = _owner_team_region(demo_engine)
    filters = [Filters(*p) for p in PERIODS] + [
        Filters(*PERIODS[1], **f) for f in ({"regions": (region,)}, {"owners": (owner,)}, {"sources": (source,)},
                                            {"product_lines": (pl,)}, {"teams": (team,)}, {"pipelines": ("default",)})]
    rolled, base = _details_both_ways(demo_engine, [(name, f, kw) for f in filters])
    for f, a, b in zip(filters, rolled, base):
        assert _frames_close(a, b), f"{f}:\n{a}\n{b}"
    assert len(rolled[1]) > 3 and rolled[1].iloc[:, 2].sum() > 0


# --- day-resolution histograms: the medians that do not add up (metrics/rollup_days.py) ---------

def _whole_days(a, b) -> int:
    """Whole days from a to b (date or datetime), the last day's fraction dropped, in Python."""
    a = a if isinstance(a, dt.datetime) else dt.datetime.combine(a, dt.time())
    b = b if isinstance(b, dt.datetime) else dt.datetime.combine(b, dt.time())
    return int((b.replace(tzinfo=None) - a.replace(tzinfo=None)).total_seconds() / 86400)


def _py_median(values: list) -> float | None:
    v = sorted(values)
    return (v[(len(v) - 1) // 2] + v[len(v) // 2]) / 2 if v else None


def test_median_of_a_histogram():
    from metrics.rollup_days import median
    assert median({}) is None and median({None: 3}) is None
    assert median({5: 1}) == 5
    assert median({1: 2, 4: 1, 44: 1}) == 2.5  # 1, 1, 4, 44
    assert median({3: 1, 1: 1, 2: 1, None: 7}) == 2  # NULLs left out
    assert median({0: 2, 10: 2}) == 5 and median({0: 3, 10: 2}) == 0


FUNNEL_FILTERS = [{}, {"regions": "region"}, {"owners": "owner"}, {"teams": "team"}, {"sources": "source"},
                  {"product_lines": "pl"}, {"regions": "region", "owners": "owner"}]


@pytest.mark.parametrize("view,mode", [("period", "any"), ("period", "strict"), ("cohort", "any"), ("cohort", "strict")])
def test_funnel_with_medians_equal_with_and_without_rollups(demo_engine, view, mode):
    """The funnel's counts and median days between stages read whole months from
    rollup_funnel_days: the same frame as from the contacts, for whole and partial periods and
    every filter (product line: the summary lacks it, so the contacts)."""
    owner, team, region, pl, source = _owner_team_region(demo_engine)
    named = {"region": (region,), "owner": (owner,), "team": (team,), "source": (source,), "pl": (pl,)}
    filters = [Filters(*p) for p in PERIODS] + [
        Filters(*PERIODS[2], **{k: named[v] for k, v in kw.items()}) for kw in FUNNEL_FILTERS[1:]]
    rolled, base = _details_both_ways(demo_engine, [("funnel", f, {"view": view, "mode": mode}) for f in filters])
    for f, a, b in zip(filters, rolled, base):
        assert _frames_close(a, b), f"{f}:\n{a}\n{b}"
    year = rolled[1]
    assert year["count"].iloc[0] > 0 and year["median_days_from_previous"].iloc[1:].notna().all()


@pytest.mark.parametrize("mode", ["any", "strict"])
def test_funnel_medians_are_the_contacts_whole_day_medians(demo_engine, mode):
    """Against an independent count in Python over the contacts' stage dates: the period view's
    counts and medians (exact to the day) from the summary, for a quarter and a region."""
    from metrics.details import funnel
    owner, team, region, pl, source = _owner_team_region(demo_engine)
    with demo_engine.connect() as conn:
        defs = load_definitions(conn)
        stages = defs.funnel_stages
        from metrics.sql import STAGE_COLUMNS
        cols = [s.contacts.c[STAGE_COLUMNS[st]] for st in stages]
        people = conn.execute(select(s.contacts.c.region, *cols).where(~s.contacts.c.is_deleted)).all()
    for f in (Filters(D(2026, 7, 1), D(2026, 9, 30)), Filters(D(2026, 7, 1), D(2026, 9, 30), regions=(region,))):
        lo, hi = dt.datetime.combine(f.start, dt.time()), dt.datetime.combine(f.end + dt.timedelta(days=1), dt.time())
        counts, medians = [], []
        for i, st in enumerate(stages):
            days = []
            n = 0
            for reg, *dates in people:
                if f.regions and reg not in f.regions:
                    continue
                at = [dates[j] if mode == "strict" else next((x for x in dates[j:] if x is not None), None)
                      for j in range(len(stages))]
                if at[i] is None or not (lo <= at[i].replace(tzinfo=None) < hi):
                    continue
                if mode == "strict" and any(x is None for x in at[:i]):
                    continue
                n += 1
                if i:
                    days.append(_whole_days(at[i - 1], at[i]))
            counts.append(n)
            medians.append(_py_median(days) if i else None)
        with demo_engine.connect() as conn:
            ctx = Ctx(conn, load_definitions(conn))
            assert rollups.split(ctx, f, True) == [(f, True)]  # the quarter: all from the summary
        df = funnel(demo_engine, f, view="period", mode=mode)
        assert list(df["count"]) == counts and counts[1] > 0
        assert [None if pd_isna(x) else x for x in df["median_days_from_previous"]] == [
            None if m is None else round(m, 1) for m in medians]


def pd_isna(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def test_sales_cycle_median_is_the_won_deals_whole_day_median(demo_engine):
    """sales_cycle_days_median from rollup_deal_cycles equals the median of the won deals' whole
    days counted in Python, for a year, a custom period and a region; and the summary is read."""
    owner, team, region, pl, source = _owner_team_region(demo_engine)
    with demo_engine.connect() as conn:
        ctx = Ctx(conn, load_definitions(conn))
        from metrics import sql
        deals = conn.execute(select(s.deals.c.created_at, s.deals.c.close_date, s.deals.c.region)
                             .where(~s.deals.c.is_deleted, sql.is_won(ctx), s.deals.c.created_at.isnot(None))).all()
        assert conn.execute(select(func.count()).select_from(s.rollup_deal_cycles)).scalar() > 0
    for f in (Filters(D(2026, 1, 1), D(2026, 12, 31)), Filters(*PERIODS[2]),
              Filters(D(2026, 1, 1), D(2026, 12, 31), regions=(region,))):
        days = [_whole_days(a, b) for a, b, reg in deals
                if f.start <= (b if isinstance(b, dt.date) else dt.date.fromisoformat(str(b)[:10])) <= f.end
                and (not f.regions or reg in f.regions)]
        got = _values(demo_engine, f, True, ["sales_cycle_days_median"])["sales_cycle_days_median"]
        assert len(days) > 2 and got == _py_median(days)


def test_forecast_table_equal_with_and_without_rollups(demo_engine):
    from metrics import compute_many
    """The Sales page's forecast by category reads whole months from rollup_deal_forecast (won
    deals of the period, open deals of its pipeline, past-due ones when the period holds today):
    the same rows as from the deals, for whole and partial periods, a plan end and every filter."""
    owner, team, region, pl, source = _owner_team_region(demo_engine)
    today = dt.date.today()
    filters = [Filters(*p) for p in PERIODS] + [
        Filters(today.replace(day=1) - dt.timedelta(days=40), today),  # holds today: the past-due deals
        Filters(D(2026, 10, 1), D(2026, 11, 20), plan_end=D(2026, 12, 31)),
        *[Filters(*PERIODS[2], **kw) for kw in ({"regions": (region,)}, {"owners": (owner,)}, {"teams": (team,)},
                                                {"sources": (source,)}, {"product_lines": (pl,)},
                                                {"pipelines": ("default",)})]]
    rolled, base = _details_both_ways(demo_engine, [("forecast_by_category", f, {}) for f in filters])
    for f, a, b in zip(filters, rolled, base):
        assert _frames_close(a, b), f"{f}:\n{a}\n{b}"
    # the open pipeline by stage, with its past-due deals, from the same summary
    by_stage, by_stage_base = _details_both_ways(demo_engine, [("pipeline_by_stage", f, {}) for f in filters])
    for f, a, b in zip(filters, by_stage, by_stage_base):
        assert _frames_close(a, b), f"{f}:\n{a}\n{b}"
    assert any(t["past_due_deals"].sum() > 0 for t in by_stage) and all(len(t) for t in by_stage[:3])
    for f, table in zip(filters[:5], by_stage):  # its totals are the KPIs
        kpis = compute_many(demo_engine, ["open_pipeline", "weighted_pipeline"], f)
        assert math.isclose(table["amount"].sum(), kpis["open_pipeline"].value, abs_tol=0.05)
        assert math.isclose(table["weighted_amount"].sum(), kpis["weighted_pipeline"].value, abs_tol=0.05)
    assert len(rolled[0]) > 2 and rolled[0]["deals"].sum() > 0
    with demo_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(s.rollup_deal_forecast)).scalar() > 0
    for f in filters[:5]:  # and the weighted column still adds up to the forecast KPI
        assert math.isclose(rolled[filters.index(f)]["weighted_amount"].sum(),
                            compute_many(demo_engine, ["forecast"], f)["forecast"].value, abs_tol=0.05)


# --- the recent days by day: the Marketing page's edge days (rollup_recent_*) ------------------

def test_the_recent_days_are_read_from_the_day_summaries_and_equal_the_contacts(demo_engine):
    """The edge days from the first recent day on (1 Oct, a build on AS_OF) are summed from
    rollup_recent_funnel_days and rollup_recent_contact_campaigns, earlier ones from the contacts;
    both give what the contacts give, for every funnel view and mode and every filter."""
    from metrics import rollup_days
    owner, team, region, pl, source = _owner_team_region(demo_engine)
    named = {"region": (region,), "owner": (owner,), "team": (team,), "source": (source,), "pl": (pl,)}
    recent, older = Filters(D(2026, 11, 1), D(2026, 11, 9)), Filters(D(2026, 9, 20), D(2026, 9, 30))
    with demo_engine.connect() as conn:
        assert rollups.recent_start(conn) == RECENT_FROM
        for table in rollups_build.RECENT_TABLES:
            first, n = conn.execute(select(func.min(table.c.day), func.count()).select_from(table)).one()
            assert first >= RECENT_FROM.isoformat() and n > 0
        ctx = Ctx(conn, load_definitions(conn))
        assert rollups.recent(ctx, recent) and not rollups.recent(ctx, older)
        for f in (recent, older):
            sources = [str(select(rows).compile()) for rows in (rollup_days.funnel_day_rows("period", "any")(ctx, f),
                                                                rollups.contact_campaign_rows(ctx, f),
                                                                rollups.deal_rows(ctx, f),
                                                                rollups.deal_campaign_rows(ctx, f))]
            assert ["rollup_recent_" in q for q in sources] == [f is recent] * 4
        by_owner = str(select(rollups.deal_campaign_rows(ctx, Filters(recent.start, recent.end, owners=(owner,))))
                       .compile())
        assert "rollup_recent_" not in by_owner  # the campaign summaries carry no owner: the deals
        pl_rows = str(select(rollup_days.funnel_day_rows("period", "any")(ctx, Filters(recent.start, recent.end, product_lines=(pl,))))
                      .compile())
        assert "rollup_recent_" in pl_rows  # a product line: the summaries' deal_lines
        pipeline = conn.execute(select(s.deals.c.pipeline_id).limit(1)).scalar()
        by_pipeline = str(select(rollup_days.funnel_day_rows("period", "any")(ctx, Filters(recent.start, recent.end,
                                                                                           pipelines=(pipeline,))))
                          .compile())
        assert "rollup_recent_" not in by_pipeline  # a pipeline: the contacts with a deal in it

    def both(f):
        return _both_ways(demo_engine, lambda ctx: (
            [rollup_days.funnel_days(ctx, f, v, m) for v in rollup_days.VIEWS for m in rollup_days.MODES],
            rollups.gather(ctx, f, rollups.campaign_contacts, rollups.contact_campaign_rows,
                           rollups.contact_filters_supported(f))))

    for f in [recent, older, Filters(D(2026, 9, 15), D(2026, 11, 9))] + [
            Filters(D(2026, 9, 15), D(2026, 11, 9), **{k: named[v] for k, v in kw.items()}) for kw in FUNNEL_FILTERS[1:]]:
        fast, slow = both(f)
        assert fast == slow, f
    fast, _ = both(recent)
    assert all(fast[0]) and fast[1]["lead"]  # not a comparison of empty sets


def test_the_deals_of_recent_days_from_the_day_summaries_equal_the_deals(demo_engine):
    """The deals closing in recent edge days (rollup_recent_deals, rollup_recent_deal_campaigns):
    the Sales figures (closed and open deals, by owner, by effective source) and the campaigns'
    won deals give what the deals give, for every deal filter, alone and combined."""
    owner, team, region, pl, source = _owner_team_region(demo_engine)
    with demo_engine.connect() as conn:
        pipeline = conn.execute(select(s.deals.c.pipeline_id).limit(1)).scalar()
        deal_source = conn.execute(select(s.deals.c.deal_source).where(s.deals.c.deal_source.isnot(None))
                                   .limit(1)).scalar()
    named = [{}, {"regions": (region,)}, {"product_lines": (pl,)}, {"owners": (owner,)}, {"teams": (team,)},
             {"pipelines": (pipeline,)}, {"sources": (deal_source,)}, {"regions": (region, NONE_BUCKET)},
             {"regions": (region,), "product_lines": (pl,)}]
    periods = [(D(2026, 11, 1), D(2026, 11, 9)), (D(2026, 10, 1), D(2026, 12, 5)), (D(2026, 9, 20), D(2026, 11, 9)),
               (D(2026, 10, 3), D(2026, 12, 31))]

    def both(f):
        return _both_ways(demo_engine, lambda ctx: (
            rollups.gather(ctx, f, rollups.closed_raw, rollups.deal_rows),
            rollups.gather(ctx, f, rollups.closed_raw_by_owner, rollups.deal_rows, empty={}),
            rollups.gather(ctx, f, lambda c_, part, *r: rollups.won_by_effective_source(c_, part, "(none)", *r),
                           rollups.deal_rows, empty={}),
            rollups.gather(ctx, f, rollups.campaign_won, rollups.deal_campaign_rows,
                           rollups.campaign_filters_supported(f), empty={})))

    seen = 0
    for period in periods:
        for kw in named:
            fast, slow = both(Filters(*period, **kw))
            assert _close(fast, slow), (period, kw, fast, slow)
            seen += bool(fast[0][0])
    assert seen > len(named)  # won deals in most of them: not a comparison of empty sets


def test_a_new_month_trims_the_recent_days_and_they_stay_exact(demo_engine, monkeypatch):
    """settle, once the month moved on without a rebuild, drops the days before the previous
    month's first; those days then come from the contacts, the same figures."""
    monkeypatch.setattr(rollups_build, "_today", lambda: D(2026, 12, 2))
    with demo_engine.connect() as conn:
        before = conn_count(demo_engine, s.rollup_recent_funnel_days)
    assert rollups_build.settle(demo_engine) == {}  # fresh: nothing rebuilt, only trimmed
    with demo_engine.connect() as conn:
        ctx = Ctx(conn, load_definitions(conn))
        assert rollups.is_fresh(conn, ctx.defs) and rollups.recent_start(conn) == D(2026, 11, 1)
        assert conn.execute(select(func.min(s.rollup_recent_funnel_days.c.day))).scalar() >= "2026-11-01"
        assert not rollups.recent(ctx, Filters(D(2026, 10, 20), D(2026, 10, 31)))
        assert rollups.recent(ctx, Filters(D(2026, 11, 1), D(2026, 11, 9)))
        assert rollups.state(conn)["rows"] == sum(conn_count(demo_engine, t) for t in rollups.GROUPS[rollups.NAME][1])
    assert 0 < conn_count(demo_engine, s.rollup_recent_funnel_days) < before
    assert rollups_build.trim_recent(demo_engine) == 0  # once
    filters = [Filters(D(2026, 9, 15), D(2026, 11, 9)), Filters(D(2026, 10, 20), D(2026, 11, 9))]
    calls = [(name, f, kw) for f in filters for name, kw in (("campaign_table", {}), ("funnel", {"mode": "any"}))]
    rolled, base = _details_both_ways(demo_engine, calls)
    for (_, f, _), a, b in zip(calls, rolled, base):
        assert _frames_close(a, b), f"{f}:\n{a}\n{b}"


def test_nps_counts_from_the_monthly_summary_equal_the_answers(demo_engine):
    """The NPS tiles read whole months from rollup_nps_months (the respondent's company's region
    and its deals' product lines carried): the same counts as from the answers, for whole and
    partial periods, a region (and the none bucket), product lines (and the none bucket); a
    contact write, and a deal write, make it stale."""
    from metrics import nps
    owner, team, region, pl, source = _owner_team_region(demo_engine)
    with demo_engine.connect() as conn:
        lines = sorted(conn.execute(select(s.deals.c.product_line).where(s.deals.c.product_line.isnot(None))
                                    .distinct()).scalars())
    filters = [Filters(*p) for p in PERIODS] + [
        Filters(*period, **kw) for period in (PERIODS[1], PERIODS[2])
        for kw in ({"regions": (region,)}, {"regions": (region, NONE_BUCKET)}, {"regions": (NONE_BUCKET,)},
                   {"product_lines": (pl,)}, {"product_lines": tuple(lines[:2])}, {"product_lines": (NONE_BUCKET,)},
                   {"product_lines": (lines[-1], NONE_BUCKET), "regions": (region,)})]
    with demo_engine.connect() as conn:
        ctx = Ctx(conn, load_definitions(conn))
        assert rollups.usable(ctx, rollups.NPS) and conn_count(demo_engine, s.rollup_nps_months) > 0
        fast = [nps.nps_counts(ctx, f) for f in filters]
        base_ctx = Ctx(conn, ctx.defs)
        base_ctx.cache["use_rollups"] = False
        assert fast == [nps.nps_counts(base_ctx, f) for f in filters]
    assert fast[1][0] > 0 and fast[5][0] > 0 and fast[8][0] > 0  # the year; in one region; in one product line
    with demo_engine.begin() as conn:  # a deal's product line: the NPS of its company's answers moves
        conn.execute(update(s.deals).where(s.deals.c.company_id.in_(select(s.contacts.c.company_id).where(
            s.contacts.c.contact_id.in_(select(s.nps_responses.c.contact_id))))).values(product_line="Zeta"))
        bump_data_version(conn, "deals")
    with demo_engine.connect() as conn:
        assert not rollups.is_fresh(conn, load_definitions(conn), rollups.NPS)
    zeta = Filters(*PERIODS[1], product_lines=("Zeta",))
    with demo_engine.connect() as conn:
        from_answers = nps.nps_counts(Ctx(conn, load_definitions(conn)), zeta)
    assert from_answers[0] > 0 and set(rollups_build.refresh(demo_engine)) >= {rollups.NPS}
    with demo_engine.connect() as conn:
        ctx = Ctx(conn, load_definitions(conn))
        assert rollups.usable(ctx, rollups.NPS) and nps.nps_counts(ctx, zeta) == from_answers
    with demo_engine.begin() as conn:
        conn.execute(update(s.contacts).where(s.contacts.c.contact_id.in_(
            select(s.nps_responses.c.contact_id).limit(5))).values(company_id=None))
        bump_data_version(conn, "contacts")
    with demo_engine.connect() as conn:
        assert not rollups.is_fresh(conn, load_definitions(conn), rollups.NPS)
        ctx = Ctx(conn, load_definitions(conn))
        moved = nps.nps_counts(ctx, filters[4])
    assert set(rollups_build.refresh(demo_engine)) >= {rollups.NPS}
    with demo_engine.connect() as conn:
        ctx = Ctx(conn, load_definitions(conn))
        assert rollups.usable(ctx, rollups.NPS) and nps.nps_counts(ctx, filters[4]) == moved
