"""Numbers are cached on (filters, data version): a write that bumps the data version shows up on
the next run; a write that does not bump it is not seen (nothing else invalidates the cache)."""
from __future__ import annotations

import datetime as dt

from metrics import REGISTRY
from store import StoreSettings, bump_data_version, open_store, schema as s
from tests.pages.conftest import Q1, run_app, tiles

NORTH_STAR = REGISTRY["north_star"].label


def _add_won_deal(url: str, cents: int, bump: bool) -> None:
    engine = open_store(StoreSettings(url, "test"))
    with engine.begin() as conn:
        conn.execute(s.deals.insert().values(
            deal_id=f"x{cents}", name="Late deal", amount_cents=cents, currency="EUR", pipeline_id="default",
            stage_id="closedwon", created_at=dt.datetime(2026, 1, 5), close_date=dt.date(2026, 3, 20),
            owner_id="o2", region="UK", product_line="Core", is_deleted=False, origin="csv"))
        if bump:
            bump_data_version(conn)


def test_a_bumped_write_shows_on_the_next_run_and_an_unbumped_one_does_not(tiny_store):
    at = run_app("pages/ceo.py", Q1)
    assert tiles(at)[NORTH_STAR] == "€1,500"
    _add_won_deal(tiny_store, 25_000, bump=False)
    at.run()
    assert tiles(at)[NORTH_STAR] == "€1,500"  # served from the cache: the data version did not move
    _add_won_deal(tiny_store, 10_000, bump=True)
    at.run()
    assert tiles(at)[NORTH_STAR] == "€1,850"  # 1,500 + 250 + 100 once the version moved
