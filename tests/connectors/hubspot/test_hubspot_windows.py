"""Incremental runs as windows of searches: one query in the common case; a window holding more
than one search returns (HubSpot: 10,000, lowered here so the tests are quick) split into
narrower ones; a crowded millisecond read by hs_object_id; offsets re-anchored when the window
moves under them; a kill mid-way resumed without a gap; small objects re-listed; deletions."""
from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from connectors.hubspot import settings as cfg
from connectors.hubspot.mapping import from_ms, to_ms
from connectors.hubspot.sync import sync_hubspot
from fake_hubspot import FakeHubSpot, generate_account, now_ms
from hubspot_testkit import assert_store_matches, client_for, deleted_ids
from store import schema as s

ROOT = Path(__file__).resolve().parents[3]
CAP = 500  # the lowered result cap, on the fake and in the connector


def _account(**kw):
    sizes = dict(owners=4, companies=20, contacts=150, deals=20, products=4,
                 archived_fraction=0.0)
    sizes.update(kw)
    return generate_account(**sizes)


def _cursor_ms(engine, obj: str) -> int:
    with engine.connect() as conn:
        at = conn.execute(select(s.sync_state.c.cursor_at).where(
            s.sync_state.c.object_type == obj)).scalar()
    return to_ms(at)


def _searches(fake, obj: str, since: int = 0) -> list[dict]:
    return [q for q in fake.searches[since:] if q["object"] == obj]


def _window(q: dict) -> tuple:
    return tuple((f["operator"], f["value"]) for f in q["filters"])


def _change_contacts(acct, engine, n_spread: int, n_bulk: int, seed: int = 3,
                     bulk_first: bool = False) -> set[str]:
    """Give `n_spread` contacts new last names at times spread from the cursor to now, and
    `n_bulk` more in one millisecond (a bulk import; the earliest with `bulk_first`).
    Returns the changed ids."""
    rng = random.Random(seed)
    lo, hi = _cursor_ms(engine, "contacts"), now_ms() - 1
    live = acct.live("contacts")
    rng.shuffle(live)
    bulk_at = lo if bulk_first else rng.randint(lo, hi)
    lo += bulk_first
    for rec in live[:n_bulk]:
        acct.update("contacts", rec.id, at=bulk_at, lastname=f"bulk-{rec.id}")
    for rec in live[n_bulk:n_bulk + n_spread]:
        acct.update("contacts", rec.id, at=rng.randint(lo, hi), lastname=f"moved-{rec.id}")
    assert sum(r.updated_ms == bulk_at for r in acct.live("contacts")) >= n_bulk
    return {r.id for r in live[:n_bulk + n_spread]}


def test_a_small_window_is_one_search(engine):
    with FakeHubSpot(_account(), window_s=1.0) as fake:
        client = client_for(fake)
        sync_hubspot(engine, client)
        acct = fake.account
        for rec in acct.live("contacts")[:3]:
            acct.update("contacts", rec.id, lastname="Changed")
        before = len(fake.searches)
        result = sync_hubspot(engine, client)
        assert result.counts["contacts"]["written"] == 3
        queries = _searches(fake, "contacts", before)
        assert len(queries) == 1 and queries[0]["after"] is None
        ops = [f["operator"] for f in queries[0]["filters"]]
        assert ops == ["GTE", "LT"] and queries[0]["sort"] == "lastmodifieddate"
        assert 400 not in fake.statuses
        assert_store_matches(engine, acct)


def test_changes_past_the_result_cap_are_read_in_split_windows(engine, monkeypatch):
    monkeypatch.setattr(cfg, "SEARCH_RESULT_CAP", CAP)
    with FakeHubSpot(_account(contacts=1_500), window_s=0.5, result_cap=CAP) as fake:
        client = client_for(fake)
        sync_hubspot(engine, client)
        changed = _change_contacts(fake.account, engine, n_spread=900, n_bulk=600)
        before = len(fake.searches)

        result = sync_hubspot(engine, client, objects=["contacts"])

        assert 400 not in fake.statuses  # no search ever paged past the cap
        assert result.counts["contacts"]["written"] == len(changed) == 1_500  # each once
        assert_store_matches(engine, fake.account)
        queries = _searches(fake, "contacts", before)
        first = queries[0]
        assert first["total"] == 1_500 and first["after"] is None
        windows = {_window(q) for q in queries if q["filters"][0]["operator"] == "GTE"}
        assert len(windows) >= 4  # the first window, split into narrower ones
        paged = [q for q in queries if q["after"] is not None]
        assert paged and all(q["total"] <= CAP and int(q["after"]) < CAP for q in paged)
        # one millisecond holding 600 (more than the cap) is read by hs_object_id
        by_id = [q for q in queries if q["sort"] == "hs_object_id"]
        assert len(by_id) >= 3 and all(q["filters"][0]["operator"] == "EQ" for q in by_id)
        assert len({q["filters"][0]["value"] for q in by_id}) == 1


def _moving_records(client, acct, on_searches: set[int], first_index: int):
    """Wrap `client.call`: after each contacts search numbered in `on_searches` (from 1), one
    record of the page just read changes again (the next one each time, from `first_index`).
    Returns the list of ids moved (filled as it goes) and the unwrapped call."""
    moved: list[str] = []
    seen = [0]
    real_call = client.call

    def call(fn, *a, **kw):
        out = real_call(fn, *a, **kw)
        if kw.get("what") == "contacts search":
            seen[0] += 1
            if seen[0] in on_searches:
                rec = out["results"][first_index + len(moved)]
                acct.update("contacts", str(rec["id"]), lastname="moved-again")
                moved.append(str(rec["id"]))
        return out
    client.call = call
    return moved, real_call


def test_a_window_moving_under_its_offsets_is_read_again_from_the_cursor(engine):
    with FakeHubSpot(_account(contacts=700), window_s=0.5) as fake:
        client = client_for(fake)
        sync_hubspot(engine, client)
        acct = fake.account
        changed = _change_contacts(acct, engine, n_spread=500, n_bulk=0)
        # after the first page, one of its records changes again
        moved, real_call = _moving_records(client, acct, on_searches={1}, first_index=10)
        before = len(fake.searches)
        sync_hubspot(engine, client, objects=["contacts"])

        queries = _searches(fake, "contacts", before)
        assert queries[1]["total"] == queries[0]["total"] - 1  # it left the window
        assert _window(queries[2]) != _window(queries[0])  # re-anchored at the cursor
        with engine.connect() as conn:
            names = dict(conn.execute(select(s.contacts.c.contact_id, s.contacts.c.last_name)).all())
        # every other change is in: none was skipped when the offsets shifted
        assert all(names[i] == f"moved-{i}" for i in changed - set(moved))
        client.call = real_call
        sync_hubspot(engine, client)  # the record changed during the run comes next time
        assert_store_matches(engine, acct)


def test_pages_on_both_sides_of_the_lookback_are_read_as_two_windows(engine):
    """Late-indexed records only enter the last LOOKBACK_MS of a run's window (what the next
    run reads again); a window of several pages is paged in two parts, split there."""
    from connectors.hubspot.state import ObjectState, write_state
    with FakeHubSpot(_account(contacts=700), window_s=0.5) as fake:
        client = client_for(fake)
        sync_hubspot(engine, client)
        acct = fake.account
        now = now_ms()
        with engine.begin() as conn:  # the last run was an hour ago
            write_state(conn, ObjectState("contacts", "incremental", None,
                                          from_ms(now - 3_600_000)))
        live = acct.live("contacts")
        for i, rec in enumerate(live[:300]):  # half well before the lookback, half inside it
            at = now - 3_000_000 + i * 1_000 if i < 150 else now - 60_000 + i
            acct.update("contacts", rec.id, at=at, lastname=f"moved-{rec.id}")
        before = len(fake.searches)
        result = sync_hubspot(engine, client, objects=["contacts"])
        queries = _searches(fake, "contacts", before)
        hi = int(queries[0]["filters"][1]["value"])
        fence = str(hi - cfg.LOOKBACK_MS)
        assert ("LT", fence) in _window(queries[1]) and ("GTE", fence) in _window(queries[-1])
        assert result.counts["contacts"]["written"] == 300
        assert_store_matches(engine, acct)


def test_a_crowded_millisecond_moving_twice_is_read_by_id(engine):
    """Pages of one millisecond give the re-read no time to start from: that millisecond is
    then read by hs_object_id, and the rest of the window after it."""
    with FakeHubSpot(_account(contacts=700), window_s=0.5) as fake:
        client = client_for(fake)
        sync_hubspot(engine, client)
        acct = fake.account
        changed = _change_contacts(acct, engine, n_spread=100, n_bulk=450, bulk_first=True)
        # a record changes after the window's first page, and again after the first page of the
        # window read again
        moved, real_call = _moving_records(client, acct, on_searches={1, 3}, first_index=5)
        before = len(fake.searches)
        sync_hubspot(engine, client, objects=["contacts"])
        queries = _searches(fake, "contacts", before)
        assert len(moved) == 2
        assert any(q["sort"] == "hs_object_id" for q in queries)
        with engine.connect() as conn:
            names = dict(conn.execute(select(s.contacts.c.contact_id, s.contacts.c.last_name)).all())
        missed = [i for i in changed - set(moved) if not names[i].startswith(("bulk-", "moved-"))]
        assert not missed
        client.call = real_call
        sync_hubspot(engine, client)
        assert_store_matches(engine, acct)


def _no_gap_before_cursor(engine, acct) -> None:
    """Every contact modified before the committed cursor is stored as it is now."""
    cursor = _cursor_ms(engine, "contacts")
    with engine.connect() as conn:
        names = dict(conn.execute(select(s.contacts.c.contact_id, s.contacts.c.last_name)).all())
    behind = [r for r in acct.live("contacts") if r.updated_ms < cursor]
    stale = [r.id for r in behind if names.get(r.id) != r.props.get("lastname")]
    assert not stale, f"{len(stale)} contacts modified before the cursor are not stored: {stale[:5]}"


_DRIVER = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from connectors.hubspot import settings
settings.SEARCH_RESULT_CAP = {CAP}
from connectors.hubspot.client import HubSpotClient, load_settings
from connectors.hubspot.sync import sync_hubspot
from store import open_store
sync_hubspot(open_store(), HubSpotClient(load_settings(window_s=0.5)), objects=["contacts"])
"""


@pytest.mark.slow
def test_split_windows_killed_mid_way_resume_identical(engine, store_url):
    rng = random.Random(7)
    with FakeHubSpot(_account(contacts=1_500), window_s=0.5, result_cap=CAP,
                     latency_s=0.005) as fake:
        sync_hubspot(engine, client_for(fake))
        changed = _change_contacts(fake.account, engine, n_spread=900, n_bulk=600, seed=11)
        env = {**os.environ, "NORTHSTAR_DB_URL": store_url, "HUBSPOT_ACCESS_TOKEN": fake.token,
               "HUBSPOT_API_HOST": fake.url, "HUBSPOT_RATE_LIMIT": "1000"}
        cursors, kills = [_cursor_ms(engine, "contacts")], 0
        for _ in range(4):
            target = len(fake.searches) + rng.randint(3, 9)
            proc = subprocess.Popen([sys.executable, "-c", _DRIVER], env=env, cwd=ROOT,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            while proc.poll() is None and len(fake.searches) < target:
                time.sleep(0.002)
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                kills += 1
            proc.wait(timeout=30)
            _no_gap_before_cursor(engine, fake.account)
            cursors.append(_cursor_ms(engine, "contacts"))
        assert kills >= 3
        assert cursors == sorted(cursors) and cursors[-1] > cursors[0]  # progress was kept
        done = subprocess.run([sys.executable, "-c", _DRIVER], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert 400 not in fake.statuses
        assert_store_matches(engine, fake.account)
        with engine.connect() as conn:
            names = dict(conn.execute(select(s.contacts.c.contact_id, s.contacts.c.last_name)).all())
        assert all(names[i].startswith(("bulk-", "moved-")) for i in changed)


def test_small_objects_are_relisted_with_their_deletions(engine):
    with FakeHubSpot(_account(), window_s=1.0) as fake:
        client = client_for(fake)
        sync_hubspot(engine, client)
        acct = fake.account
        kept, gone = acct.live("products")[:2]
        acct.update("products", kept.id, name="Renamed product")
        acct.archive("products", gone.id)
        before_log, before_search = len(fake.log), len(fake.searches)
        result = sync_hubspot(engine, client)
        assert result.counts["products"]["written"] == 1
        assert deleted_ids(engine, "products") == {gone.id}
        product_calls = [p for _, p, _ in fake.log[before_log:] if "products" in p]
        assert product_calls == ["/crm/v3/objects/products"]  # one list page, nothing else
        assert not _searches(fake, "products", before_search)
        assert_store_matches(engine, acct)


def test_a_record_archived_after_its_search_page_ends_deleted(engine):
    """The archived list is read while the changes are; its marks go in after them, so a
    page read just before the archiving cannot bring the record back to life."""
    with FakeHubSpot(_account(), window_s=1.0) as fake:
        client = client_for(fake)
        sync_hubspot(engine, client)
        acct = fake.account
        rec = acct.live("deals")[0]
        acct.update("deals", rec.id, dealname="Changed, then deleted")
        searched = threading.Event()
        real_call = client.call

        def call(fn, *a, **kw):  # the search sees it live; then it is archived and listed so
            if kw.get("what") == "archived deals page":
                assert searched.wait(5)
            out = real_call(fn, *a, **kw)
            if kw.get("what") == "deals search":
                assert rec.id in {str(r["id"]) for r in out["results"]}
                acct.archive("deals", rec.id)
                searched.set()
            return out
        client.call = call
        result = sync_hubspot(engine, client)
        assert result.counts["deals"]["written"] == 0  # the batch read no longer finds it
        assert deleted_ids(engine, "deals") == {rec.id}
        assert_store_matches(engine, acct)
        client.call = real_call
        acct.restore("deals", rec.id)  # HubSpot keeps archived records restorable
        sync_hubspot(engine, client)
        assert not deleted_ids(engine, "deals")
        assert_store_matches(engine, acct)


def test_a_row_newer_than_its_archiving_is_not_marked_deleted(engine):
    """The archived list says when a record was archived; a stored version modified after
    that (HubSpot restored it and the store saw the restored record) keeps living."""
    with FakeHubSpot(_account(), window_s=1.0) as fake:
        client = client_for(fake)
        sync_hubspot(engine, client)
        acct = fake.account
        old, new = acct.live("deals")[:2]
        acct.archive("deals", old.id)
        acct.archive("deals", new.id)
        with engine.begin() as conn:
            conn.execute(s.deals.update().where(s.deals.c.deal_id == new.id).values(
                updated_at=from_ms(new.archived_ms) + dt.timedelta(seconds=1)))
        result = sync_hubspot(engine, client)
        assert deleted_ids(engine, "deals") == {old.id}
        assert result.counts["deals"]["deleted"] == 1
