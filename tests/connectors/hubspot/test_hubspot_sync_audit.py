"""Every HubSpot sync leaves one audit row naming who ran it and how it ended."""
from __future__ import annotations

import pytest

from connectors.hubspot.client import HubSpotError
from connectors.hubspot.sync import sync_hubspot
from fake_hubspot import FakeHubSpot, generate_account
from hubspot_testkit import client_for
from store.audit import list_audit


@pytest.fixture
def fake():
    with FakeHubSpot(generate_account(owners=3, companies=6, contacts=12, deals=8, products=2),
                     window_s=1.0, rate_limit=100) as server:
        yield server


def test_sync_success_is_audited_with_actor_and_counts(engine, fake):
    result = sync_hubspot(engine, client_for(fake), actor="cfo@acme.com")
    rows = list_audit(engine, action="sync")
    assert len(rows) == 1
    row = rows[0]
    assert (row["actor"], row["target"], row["before"]) == ("cfo@acme.com", "hubspot", None)
    assert row["after"]["run_id"] == result.run_id and row["after"]["status"] == "success"
    assert row["after"]["counts"]["deals"]["written"] == len(fake.account.live("deals"))


def test_sync_failure_is_audited_without_the_token(engine, fake):
    bad = "pat-na1-00000000-wrong-token-0000"
    with pytest.raises(HubSpotError):
        sync_hubspot(engine, client_for(fake, token=bad), actor="ops@acme.com")
    rows = list_audit(engine, action="sync")
    assert [r["actor"] for r in rows] == ["ops@acme.com"]
    assert rows[0]["after"]["status"] == "failed" and rows[0]["after"]["error"]
    assert bad not in str(rows[0]) and fake.token not in str(rows[0])


def test_sync_refused_before_starting_leaves_no_audit_row(engine, fake):
    from connectors.hubspot import sync as sync_module
    assert sync_module._RUN_LOCK.acquire(blocking=False)
    try:
        with pytest.raises(sync_module.SyncAlreadyRunning):
            sync_hubspot(engine, client_for(fake), actor="x@acme.com")
    finally:
        sync_module._RUN_LOCK.release()
    assert list_audit(engine, action="sync") == []
