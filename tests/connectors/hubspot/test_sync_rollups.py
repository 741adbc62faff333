"""A sync keeps the metric rollups exact as it writes (metrics.rollups_build.Keeper, following the
sync's writes through store.observers once `upkeep.install()` registered it): after an
incremental run with changes and deletions they are fresh without a rebuild, and every metric
equals the same metric read from the base tables."""
from __future__ import annotations

import datetime as dt
import math

import pytest

import upkeep
from connectors.hubspot.sync import sync_hubspot
from fake_hubspot import FakeHubSpot, generate_account
from hubspot_testkit import assert_store_matches, client_for
from metrics import REGISTRY, Filters, rollups
from metrics.definitions import load_definitions
from metrics.registry import Ctx, NotAvailable


@pytest.fixture(autouse=True)
def keeper():
    """The rollups' Keeper follows the sync's writes, as in the app and the CLI."""
    upkeep.install()
    yield
    upkeep.uninstall()


PERIODS = [Filters(dt.date(2015, 1, 1), dt.date(2035, 12, 31)), Filters(dt.date(2015, 1, 17), dt.date(2035, 12, 9))]


def _values(engine, f, use_rollups):
    with engine.connect() as conn, conn.begin():
        ctx = Ctx(conn, load_definitions(conn))
        if not use_rollups:
            ctx.cache["use_rollups"] = False
        return {m: ctx.value(m, f) for m in REGISTRY}


def _equal(a, b) -> bool:
    if isinstance(a, NotAvailable) or isinstance(b, NotAvailable):
        return type(a) is type(b)
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=0.011)


def _fresh_state(engine):
    with engine.connect() as conn:
        assert rollups.is_fresh(conn, load_definitions(conn))
        return rollups.state(conn)


def test_incremental_sync_keeps_the_rollups_exact_without_a_rebuild(engine):
    account = generate_account(owners=6, companies=25, contacts=70, deals=40, products=5)
    with FakeHubSpot(account, window_s=1.0, rate_limit=100) as fake:
        client = client_for(fake)
        sync_hubspot(engine, client)
        upkeep.after_sync(engine)  # backfill: the rollups are built at the end
        built = _fresh_state(engine)
        acct = fake.account
        deals, contacts = acct.live("deals"), acct.live("contacts")
        acct.update("deals", deals[0].id, dealstage="closedwon", amount="4321.5")
        acct.update("deals", deals[1].id, dealstage="closedlost")
        acct.update("deals", deals[2].id, amount="17.25")
        acct.update("contacts", contacts[3].id, lifecyclestage="customer")
        acct.update("contacts", contacts[4].id, hs_analytics_source="OFFLINE")
        acct.archive("deals", deals[5].id)
        acct.archive("contacts", contacts[6].id)

        result = sync_hubspot(engine, client)
        upkeep.after_sync(engine)

        assert result.status == "success" and result.counts["deals"]["written"] == 3
        assert_store_matches(engine, acct)
    kept = _fresh_state(engine)
    assert kept["built_at"] == built["built_at"] and kept["built_version"] > built["built_version"]  # kept, not rebuilt
    for f in PERIODS:
        base, rolled = _values(engine, f, False), _values(engine, f, True)
        assert {m for m in base if not _equal(base[m], rolled[m])} == set(), f
