"""Sync against the fake HubSpot: backfill, incremental, deletions, faults, kills, limits."""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import random
import signal
import subprocess
import sys
import time
from collections import deque
from pathlib import Path

import pytest
from sqlalchemy import func, select

from connectors.hubspot.client import DailyLimitReached, HubSpotAuthError
from connectors.hubspot.sync import sync_hubspot
from fake_hubspot import FakeHubSpot, Faults, generate_account, now_ms
from hubspot_testkit import assert_store_matches, client_for, deleted_ids
from store import StoreSettings, data_version, open_store
from store import schema as s

ROOT = Path(__file__).resolve().parents[3]


def small_account(**kw):
    sizes = dict(owners=6, companies=25, contacts=70, deals=40, products=5)
    sizes.update(kw)
    return generate_account(**sizes)


@pytest.fixture
def fake():
    with FakeHubSpot(small_account(), window_s=1.0, rate_limit=100) as server:
        yield server


def _runs(engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(s.sync_runs).order_by(s.sync_runs.c.run_id)).mappings()]


def test_sync_backfill_reproduces_account(engine, fake):
    result = sync_hubspot(engine, client_for(fake))
    assert result.status == "success"
    assert_store_matches(engine, fake.account)
    archived = {r.id for r in fake.account.objects["deals"].values() if r.archived}
    with engine.connect() as conn:  # records deleted before the first sync are not imported
        stored = set(conn.execute(select(s.deals.c.deal_id)).scalars())
    assert not archived & stored
    run = _runs(engine)[-1]
    assert run["status"] == "success" and run["mode"] == "full" and run["finished_at"]
    counts = json.loads(run["counts_json"])
    assert counts["contacts"]["written"] == len(fake.account.live("contacts"))
    assert counts["deals"]["written"] == len(fake.account.live("deals"))


def test_sync_backfill_follows_association_paging(engine):
    with FakeHubSpot(small_account(max_line_items=4), window_s=1.0, assoc_page=1) as fake:
        sync_hubspot(engine, client_for(fake))
        assert_store_matches(engine, fake.account)


def test_sync_incremental_picks_up_exactly_the_changes(engine, fake):
    client = client_for(fake)
    sync_hubspot(engine, client)
    acct = fake.account
    deal = acct.live("deals")[0]
    contact = acct.live("contacts")[3]
    acct.update("deals", deal.id, dealstage="closedwon", amount="4321.5")
    acct.update("contacts", contact.id, lifecyclestage="customer", firstname="Renamed")
    gone_company = acct.live("companies")[2].id
    gone_deal = acct.live("deals")[5].id
    acct.archive("companies", gone_company)
    acct.archive("deals", gone_deal)
    new_li = acct.create("line_items", {"name": "Extra", "hs_product_id": acct.live("products")[0].id,
                                        "quantity": "3", "price": "10.00", "amount": "30.00",
                                        "hs_line_item_currency_code": "EUR"})
    acct.link_line_item(new_li.id, deal.id)
    before = data_version(engine)

    result = sync_hubspot(engine, client)

    assert result.status == "success"
    assert_store_matches(engine, acct)
    assert deleted_ids(engine, "companies") == {gone_company}
    assert deleted_ids(engine, "deals") == {gone_deal}
    c = result.counts
    assert (c["deals"]["written"], c["contacts"]["written"], c["line_items"]["written"]) == (1, 1, 1)
    assert c["companies"]["written"] == 0 and c["products"]["written"] == 0
    assert (c["companies"]["deleted"], c["deals"]["deleted"]) == (1, 1)
    assert _runs(engine)[-1]["mode"] == "incremental"
    assert data_version(engine) > before
    with engine.connect() as conn:
        stages = list(conn.execute(select(s.deal_stage_history.c.stage_id).where(
            s.deal_stage_history.c.deal_id == deal.id).order_by(s.deal_stage_history.c.entered_at)).scalars())
    assert stages[-1] == "closedwon"


def test_sync_incremental_reads_a_bulk_millisecond_past_one_page(engine):
    acct = small_account(contacts=260, same_ms_contacts=230)
    with FakeHubSpot(acct, window_s=1.0) as fake:
        client = client_for(fake)
        sync_hubspot(engine, client, objects=["contacts"])
        at = now_ms() - 1
        for rec in acct.live("contacts")[:230]:  # a bulk import: 230 contacts in one millisecond
            acct.update("contacts", rec.id, at=at, lastname="Imported")
        assert len({r.updated_ms for r in acct.live("contacts")[:230]}) == 1
        result = sync_hubspot(engine, client, objects=["contacts"])
        assert result.counts["contacts"]["written"] >= 230
        with engine.connect() as conn:
            n = conn.execute(select(func.count()).select_from(s.contacts)
                             .where(s.contacts.c.last_name == "Imported")).scalar()
        assert n == 230


def test_sync_with_20_percent_faults_ends_like_a_clean_run(engine, make_store_url, backend):
    faults = Faults(rate=0.2, slow_s=1.2, seed=11)
    with FakeHubSpot(small_account(), window_s=1.0, faults=faults) as fake:
        client = client_for(fake, timeout=(0.5, 0.4))
        sync_hubspot(engine, client)
        assert client.retries > 0
        assert sum(n for st, n in fake.statuses.items() if st != 200) >= 5
        fake.faults.rate = 0.0
        clean = open_store(StoreSettings(make_store_url(backend), "clean"))
        sync_hubspot(clean, client_for(fake))
        assert_store_matches(engine, fake.account)
        assert_store_matches(clean, fake.account)


def test_sync_catches_records_changed_and_deleted_mid_sync(engine):
    faults = Faults(mutate_every=7, seed=5)
    with FakeHubSpot(small_account(), window_s=1.0, faults=faults) as fake:
        client = client_for(fake)
        sync_hubspot(engine, client)
        assert fake.mutations, "the fake changed nothing during the sync"
        fake.faults.mutate_every = 0
        sync_hubspot(engine, client)  # the next incremental run picks up what moved
        assert_store_matches(engine, fake.account)
        # (the store matching means archived ones are not live rows and updates are current)
        assert {a for a, _, _ in fake.mutations} >= {"update", "archive"}


def _check_consistent(engine) -> None:
    """Whatever the kill point: no association or history row without its deal."""
    with engine.connect() as conn:
        deals = set(conn.execute(select(s.deals.c.deal_id)).scalars())
        for t in (s.deal_contacts, s.deal_companies, s.deal_stage_history):
            orphans = set(conn.execute(select(t.c.deal_id)).scalars()) - deals
            assert not orphans, f"{t.name} rows without their deal: {sorted(orphans)[:3]}"
        running = conn.execute(select(func.count()).select_from(s.sync_state)
                               .where(s.sync_state.c.phase == "backfill",
                                      s.sync_state.c.page_after.is_(None),
                                      s.sync_state.c.cursor_at.is_(None))).scalar()
        assert running == 0


@pytest.mark.slow
def test_sync_killed_at_random_points_ends_identical(engine, store_url):
    rng = random.Random(2026)
    with FakeHubSpot(small_account(contacts=150, deals=60), latency_s=0.01) as fake:
        env = {**os.environ, "NORTHSTAR_DB_URL": store_url, "HUBSPOT_ACCESS_TOKEN": fake.token,
               "HUBSPOT_API_HOST": fake.url, "HUBSPOT_RATE_LIMIT": "1000"}
        cmd = [sys.executable, str(ROOT / "cli.py"), "sync", "hubspot", "-q"]
        kills = 0
        for _ in range(4):
            target = fake.requests + rng.randint(2, 24)
            proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
            while proc.poll() is None and fake.requests < target:
                time.sleep(0.002)
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                kills += 1
            proc.wait(timeout=30)
            _check_consistent(engine)
        assert kills >= 3
        done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert_store_matches(engine, fake.account)
        statuses = [r["status"] for r in _runs(engine)]
        assert statuses[-1] == "success" and statuses.count("interrupted") >= kills - 1


def test_sync_resumes_a_backfill_from_the_last_committed_page(engine):
    with FakeHubSpot(small_account(contacts=1300, archived_fraction=0.0), window_s=1.0) as fake:
        client = client_for(fake)
        contact_pages = {"n": 0}
        real_call = client.call

        def call(fn, *a, **kw):  # HubSpot's daily limit hits on the 7th page of contacts
            if kw.get("what") == "contacts page":
                contact_pages["n"] += 1
                if contact_pages["n"] == 7:
                    fake.faults.scripted.append("DAILY")
            return real_call(fn, *a, **kw)
        client.call = call
        with pytest.raises(DailyLimitReached):
            sync_hubspot(engine, client)
        with engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(s.contacts)).scalar()
            state = conn.execute(select(s.sync_state).where(
                s.sync_state.c.object_type == "contacts")).mappings().one()
        # pages 1-5 made the first committed batch; page 6 was read but not yet committed
        assert stored == 500 and state["phase"] == "backfill"
        assert state["page_after"] == sorted(fake.account.objects["contacts"], key=int)[500]
        listed_before = sum(1 for m, p, st in fake.log if p == "/crm/v3/objects/contacts" and st == 200)
        sync_hubspot(engine, client_for(fake))
        assert_store_matches(engine, fake.account)
        listed = sum(1 for m, p, st in fake.log if p == "/crm/v3/objects/contacts" and st == 200)
        # the resumed run reads contacts from page 6 on (8 pages) plus one archived-list page
        assert listed - listed_before == 8 + 1


def test_sync_daily_limit_stops_cleanly_with_the_reset_time(engine):
    with FakeHubSpot(small_account(), window_s=1.0, daily_limit=6) as fake:
        with pytest.raises(DailyLimitReached) as err:
            sync_hubspot(engine, client_for(fake))
        msg = str(err.value)
        assert "daily API limit" in msg and "resets at midnight" in msg and "Run the sync again" in msg
        assert fake.statuses[429] == 1  # stopped at the first DAILY answer, no retry storm
        run = _runs(engine)[-1]
        assert run["status"] == "interrupted" and "daily" in run["error"]


def test_sync_cli_reports_daily_limit_without_traceback(store_url):
    with FakeHubSpot(small_account(), daily_limit=3) as fake:
        env = {**os.environ, "NORTHSTAR_DB_URL": store_url, "HUBSPOT_ACCESS_TOKEN": fake.token,
               "HUBSPOT_API_HOST": fake.url}
        done = subprocess.run([sys.executable, "cli.py", "sync", "hubspot", "-q"], env=env,
                              cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 3
    assert "daily API limit" in done.stderr and "Traceback" not in done.stderr
    assert fake.token not in done.stderr + done.stdout


def test_sync_token_never_in_logs_errors_or_store(engine, caplog):
    secret = "pat-eu1-ffff0000-aaaa-bbbb-cccc-123456789abc"
    caplog.set_level(logging.DEBUG)
    with FakeHubSpot(small_account(), token=secret, window_s=1.0,
                     faults=Faults(rate=0.3, seed=3, slow_s=1.2)) as fake:
        client = client_for(fake, timeout=(0.5, 0.4))
        assert secret not in repr(client.settings)
        sync_hubspot(engine, client)
        fake.token = "rotated"  # the stored token is now refused: 401
        with pytest.raises(HubSpotAuthError) as err:
            sync_hubspot(engine, client_for(fake, token=secret))
    assert "401" in str(err.value)
    assert secret not in str(err.value) and secret not in repr(err.value)
    assert secret not in caplog.text
    with engine.connect() as conn:
        for table in s.metadata.sorted_tables:
            for row in conn.execute(select(table)):
                assert secret not in " ".join(map(str, row)), table.name


def test_sync_in_background_does_not_block_readers(engine):
    import threading
    with FakeHubSpot(small_account(contacts=300), window_s=1.0, latency_s=0.02) as fake:
        worker = threading.Thread(target=sync_hubspot, args=(engine, client_for(fake)))
        worker.start()
        seen_running = False
        reads = 0
        while worker.is_alive():
            with engine.connect() as conn:  # a reader (a page) while the sync writes
                run = conn.execute(select(s.sync_runs.c.status).order_by(
                    s.sync_runs.c.run_id.desc()).limit(1)).scalar()
                conn.execute(select(func.count()).select_from(s.contacts)).scalar()
            seen_running |= run == "running"
            reads += 1
            time.sleep(0.01)  # pacing only: leave the CPU to the sync
        worker.join()
        assert seen_running and reads > 1
        assert _runs(engine)[-1]["status"] == "success"


@pytest.mark.slow
def test_sync_incremental_reads_past_the_10000_search_cap(engine):
    import datetime as dt
    from connectors.hubspot.state import ObjectState, write_state
    acct = generate_account(owners=2, companies=1, contacts=10_050, deals=0, products=1,
                            archived_fraction=0.0)
    with FakeHubSpot(acct, window_s=1.0) as fake:
        with engine.begin() as conn:  # synced long ago: every contact changed since
            write_state(conn, ObjectState("contacts", "incremental", None, dt.datetime(2000, 1, 1)))
        result = sync_hubspot(engine, client_for(fake), objects=["contacts"])
        assert result.counts["contacts"]["written"] == 10_050
        assert 400 not in fake.statuses  # no query ever paged past HubSpot's 10,000 results
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(s.contacts)).scalar() == 10_050


def test_sync_reads_the_line_items_recurring_billing(engine, fake):
    """recurringbillingfrequency, hs_recurring_billing_start_date and hs_term_in_months land on the
    line item (amount, price and quantity as before), on the backfill and on an incremental run."""
    acct = fake.account
    deal = acct.live("deals")[0]
    product = acct.live("products")[0].id

    def line(**props):
        rec = acct.create("line_items", {"name": "Plan", "hs_product_id": product, "quantity": "2",
                                         "price": "50.00", "amount": "100.00",
                                         "hs_line_item_currency_code": "EUR", **props})
        acct.link_line_item(rec.id, deal.id)
        return rec.id

    monthly = line(recurringbillingfrequency="monthly")
    annual = line(recurringbillingfrequency="annually", hs_recurring_billing_start_date="2026-02-15",
                  hs_term_in_months="12")
    half = line(recurringbillingfrequency="PER_SIX_MONTHS", hs_term_in_months="24.0")
    one_time = line(hs_term_in_months="0")
    sync_hubspot(engine, client_for(fake))
    assert_store_matches(engine, acct)  # the generated lines too (monthly, annual, quarterly, one-time)

    def stored():
        li = s.line_items
        with engine.connect() as conn:
            rows = conn.execute(select(li.c.line_item_id, li.c.billing_frequency, li.c.billing_start_date,
                                       li.c.term_months, li.c.amount_cents, li.c.price_cents, li.c.quantity)
                                .where(li.c.line_item_id.in_([monthly, annual, half, one_time]))).all()
        return {r[0]: tuple(r[1:]) for r in rows}

    assert stored() == {monthly: ("monthly", None, None, 10000, 5000, 2.0),
                        annual: ("annually", dt.date(2026, 2, 15), 12, 10000, 5000, 2.0),
                        half: ("per_six_months", None, 24, 10000, 5000, 2.0),
                        one_time: (None, None, None, 10000, 5000, 2.0)}
    acct.update("line_items", monthly, hs_term_in_months="6", hs_recurring_billing_start_date="2026-03-01")
    sync_hubspot(engine, client_for(fake))
    assert stored()[monthly] == ("monthly", dt.date(2026, 3, 1), 6, 10000, 5000, 2.0)
