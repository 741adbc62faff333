"""`cli.py demo`: --if-empty, refusal on real data, --reset, bad arguments; seed_demo_if_empty."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

import cli
from demo import StoreNotEmpty, generate_demo, seed_demo_if_empty
from store import get_meta, open_store, schema, upsert
from store.db import data_version


@pytest.fixture(autouse=True)
def snapshot_calls(monkeypatch) -> list:
    """The meeting's snapshot backfill (tested in tests/meeting) recorded instead of run: it is slow."""
    import meeting.snapshots
    calls: list = []
    monkeypatch.setattr(meeting.snapshots, "backfill_demo_snapshots",
                        lambda engine, weeks, as_of=None: calls.append((weeks, as_of)) or [])
    return calls


def _count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def _add_real_deal(engine) -> None:
    with engine.begin() as conn:
        upsert(conn, schema.deals, [{"deal_id": "9", "name": "Real deal", "amount_cents": 500_00,
                                     "currency": "EUR", "pipeline_id": "default", "stage_id": "closedwon",
                                     "created_at": dt.datetime(2025, 1, 2), "origin": "hubspot"}], ["deal_id"])


def test_demo_cli_if_empty_seeds_once(capsys, snapshot_calls):
    assert cli.main(["demo", "--if-empty", "--as-of", "2026-01-31"]) == 0
    out = capsys.readouterr().out
    assert "demo data (small, seed 42, as of 2026-01-31)" in out
    assert snapshot_calls == [(12, dt.date(2026, 1, 31))]
    engine = open_store()
    assert _count(engine, schema.deals) == 1500
    version = data_version(engine)
    assert cli.main(["demo", "--if-empty", "--as-of", "2026-01-31"]) == 0
    assert "no demo data added" in capsys.readouterr().out
    assert len(snapshot_calls) == 1
    assert data_version(engine) == version and _count(engine, schema.deals) == 1500


def test_demo_cli_refuses_to_mix_with_real_data(capsys):
    engine = open_store()
    _add_real_deal(engine)
    assert cli.main(["demo", "--as-of", "2026-01-31"]) == 2
    err = capsys.readouterr().err
    assert "not demo data" in err and "--reset" in err and "Traceback" not in err
    assert _count(engine, schema.deals) == 1 and _count(engine, schema.contacts) == 0
    # --if-empty leaves a real store alone without failing `make run`
    assert cli.main(["demo", "--if-empty"]) == 0
    assert _count(engine, schema.deals) == 1


def test_demo_cli_refuses_a_second_demo_without_reset(capsys):
    assert cli.main(["demo", "--as-of", "2026-01-31", "--seed", "1"]) == 0
    assert cli.main(["demo", "--as-of", "2026-01-31", "--seed", "2"]) == 2
    assert "already holds demo data" in capsys.readouterr().err
    with open_store().connect() as conn:
        assert get_meta(conn, "demo_seed") == "1"


def test_demo_cli_reset_replaces_everything(capsys):
    engine = open_store()
    _add_real_deal(engine)
    assert cli.main(["demo", "--reset", "--seed", "8", "--as-of", "2026-01-31"]) == 0
    assert "deleted all existing data" in capsys.readouterr().out
    engine = open_store()
    with engine.connect() as conn:
        assert conn.execute(select(schema.deals).where(schema.deals.c.deal_id == "9")).first() is None
        assert get_meta(conn, "is_demo") == "1" and get_meta(conn, "demo_seed") == "8"
        assert get_meta(conn, "demo_as_of") == "2026-01-31"
    assert _count(engine, schema.deals) == 1500


@pytest.mark.parametrize("args, message", [
    (["--as-of", "31/01/2026"], "YYYY-MM-DD"),
    (["--seed", "-3"], "non-negative"),
    (["--as-of", "9999-12-31"], "--as-of=9999-12-31 is after 2100-12-31"),
])
def test_demo_cli_bad_arguments_exit_2(capsys, args, message):
    assert cli.main(["demo", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert _count(open_store(), schema.contacts) == 0


def test_demo_seed_if_empty_only_on_an_empty_store(engine):
    assert seed_demo_if_empty(engine, as_of=dt.date(2026, 1, 31)) is True
    assert _count(engine, schema.contacts) == 4500
    assert seed_demo_if_empty(engine, as_of=dt.date(2026, 1, 31)) is False
    assert _count(engine, schema.contacts) == 4500


def test_demo_seed_if_empty_leaves_real_data_alone(engine):
    _add_real_deal(engine)
    assert seed_demo_if_empty(engine) is False
    assert _count(engine, schema.deals) == 1
    with pytest.raises(StoreNotEmpty, match="--reset"):
        generate_demo(engine)
    with engine.connect() as conn:
        assert get_meta(conn, "is_demo") is None


def test_demo_failure_half_way_keeps_nothing(engine, monkeypatch):
    from demo import finance
    from sqlalchemy import inspect

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")
    monkeypatch.setattr(finance, "generate_spend", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        generate_demo(engine, as_of=dt.date(2026, 1, 31))
    assert _count(engine, schema.contacts) == 0 and _count(engine, schema.deals) == 0
    indexes = {ix["name"] for ix in inspect(engine).get_indexes("deals")}
    assert {"ix_deals_close_date", "ix_deals_owner"} <= indexes  # dropped for the load, restored on rollback
    with engine.connect() as conn:
        assert get_meta(conn, "is_demo") is None


def test_demo_cli_snapshot_weeks_can_be_chosen_or_skipped(capsys, snapshot_calls):
    assert cli.main(["demo", "--as-of", "2026-01-31", "--snapshot-weeks", "3"]) == 0
    assert snapshot_calls == [(3, dt.date(2026, 1, 31))]
    assert cli.main(["demo", "--reset", "--as-of", "2026-01-31", "--snapshot-weeks", "0"]) == 0
    assert "meeting snapshots      skipped" in capsys.readouterr().out
    assert len(snapshot_calls) == 1
