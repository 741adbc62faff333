"""Data-quality checks: each problem counted, with a message and what to do."""
from __future__ import annotations

import datetime as dt

from metrics import data_quality
from store import schema as s
from store.db import utcnow

from metrics_world import D, build_world, deal, insert


def test_clean_world_has_only_the_known_gaps(engine):
    build_world(engine)
    found = {c["check"]: c["count"] for c in data_quality.checks(engine)}
    # c4 has no region; deals are in EUR, USD and GBP; d6, d7 and d8 (close dates in 2026 up to
    # 04-10) are still open and their close dates have passed (the tests run after April 2026)
    assert found == {"contact_without_region": 1, "mixed_currencies": 3, "past_due_deals": 3}


def test_each_problem_is_counted_with_a_hint(engine):
    build_world(engine)
    with engine.begin() as conn:
        insert(conn, s.deals, [
            deal("q1", None, "EUR", "closedwon", D(2026, 1, 5), "o1"),  # no amount
            deal("q2", 1000, "EUR", "closedwon", D(2026, 1, 5)),  # no owner
            deal("q3", 1000, "EUR", "closedwon", None, "ghost", contact="nobody"),  # unknown owner and contact, no date
            deal("q4", 1000, "EUR", "mystery", D(2026, 1, 5), "o1"),  # a stage nobody knows
        ])
        conn.execute(s.sync_runs.insert().values(connector="hubspot", mode="full", status="success",
                                                 started_at=utcnow() - dt.timedelta(days=3),
                                                 finished_at=utcnow() - dt.timedelta(days=3)))
    checks = {c["check"]: c for c in data_quality.checks(engine)}
    assert checks["deal_without_amount"]["count"] == 1
    assert checks["deal_without_owner"]["count"] == 1
    assert checks["deal_unknown_owner"]["count"] == 1
    assert checks["deal_unknown_contact"]["count"] == 1
    assert checks["deal_without_close_date"]["count"] == 1
    assert checks["deal_unknown_stage"]["count"] == 1
    assert checks["stale_sync"]["count"] >= 71
    assert all(c["message"] and c["hint"] and c["severity"] in ("warning", "error") for c in checks.values())


def test_empty_store_has_nothing_to_report(engine):
    assert data_quality.checks(engine) == []
