"""A sync moves data_version (which makes every open dashboard recompute) at most once per
BUMP_EVERY_S while it writes, once per object at the object's end, and always after its last
committed page, whether the run succeeds or stops."""
from __future__ import annotations

import pytest

import connectors.hubspot.sync as sync_mod
from connectors.hubspot.client import DailyLimitReached
from connectors.hubspot.sync import sync_hubspot
from fake_hubspot import FakeHubSpot, generate_account
from hubspot_testkit import assert_store_matches, client_for
from store import data_version


def many_pages_account():
    # 1,300 contacts are 13 list pages, committed 5 pages at a time: 3 commits for contacts alone
    return generate_account(owners=6, companies=25, contacts=1300, deals=40, products=5, archived_fraction=0.0)


@pytest.fixture
def events(monkeypatch) -> list[str]:
    """"commit" after each committed page batch that wrote rows ("empty" after one that wrote none:
    an object with nothing to write, e.g. no NPS answers, needs no bump), "bump" at each
    data_version bump of the sync."""
    out: list[str] = []
    real_commit, real_bump = sync_mod._commit, sync_mod.bump_data_version

    def commit(ctx, obj, *args):
        before = ctx.counts[obj].get("written", 0)
        real_commit(ctx, obj, *args)
        out.append("commit" if ctx.counts[obj].get("written", 0) > before else "empty")

    def bump(conn, *tables):
        version = real_bump(conn, *tables)
        out.append("bump")
        return version
    monkeypatch.setattr(sync_mod, "_commit", commit)
    monkeypatch.setattr(sync_mod, "bump_data_version", bump)
    monkeypatch.setattr(sync_mod, "BUMP_EVERY_S", 3600.0)  # only the first write bumps on its own
    return out


def test_sync_bumps_once_per_object_not_per_page_and_last(engine, events):
    with FakeHubSpot(many_pages_account(), window_s=1.0) as fake:
        before = data_version(engine)
        result = sync_hubspot(engine, client_for(fake))
        assert result.status == "success"
        assert_store_matches(engine, fake.account)
    objects = sum(1 for c in result.counts.values() if c.get("written"))  # the objects that wrote rows
    commits, bumps = events.count("commit"), events.count("bump")
    assert commits > objects + 1  # more committed batches than objects, or the test proves nothing
    assert 1 <= bumps <= objects + 1  # the first write, then at most one per object's end
    assert [e for e in events if e != "empty"][-1] == "bump"  # the last committed rows are visible after the run
    assert data_version(engine) >= before + bumps


def test_sync_stopped_midway_publishes_what_it_committed(engine, events):
    with FakeHubSpot(many_pages_account(), window_s=1.0) as fake:
        client = client_for(fake)
        contact_pages = {"n": 0}
        real_call = client.call

        def call(fn, *a, **kw):  # the daily limit hits on the 12th page of contacts
            if kw.get("what") == "contacts page":
                contact_pages["n"] += 1
                if contact_pages["n"] == 12:
                    fake.faults.scripted.append("DAILY")
            return real_call(fn, *a, **kw)
        client.call = call
        with pytest.raises(DailyLimitReached):
            sync_hubspot(engine, client)
    assert events.count("commit") >= 3  # owners/pipelines/companies and two contact batches at least
    assert [e for e in events if e != "empty"][-1] == "bump"  # the pages committed before the stop show on the next page run
