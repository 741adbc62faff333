"""upkeep: what follows a write. A sync's upkeep takes this week's meeting snapshot once and never
fails over a snapshot that cannot be taken; install() makes the rollups' Keeper follow writes."""
from __future__ import annotations

import logging

from sqlalchemy import func, select

import upkeep
from meeting import snapshots
from metrics import rollups_build as rollups
from store import observers, schema as s


def _snapshots(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(s.pipeline_snapshots)).scalar_one()


def test_upkeep_after_sync_builds_the_rollups_and_takes_the_weeks_snapshot_once(engine):
    upkeep.after_sync(engine)
    assert _snapshots(engine) == 1
    with engine.connect() as conn:
        assert rollups.state(conn) is not None
    upkeep.after_sync(engine)
    assert _snapshots(engine) == 1


def test_upkeep_after_sync_logs_a_failed_snapshot_and_does_not_raise(engine, monkeypatch, caplog):
    def broken(engine):
        raise RuntimeError("disk full")
    monkeypatch.setattr(snapshots, "ensure_weekly_snapshot", broken)
    with caplog.at_level(logging.WARNING):
        upkeep.after_sync(engine)
    assert "python cli.py snapshot" in caplog.text and _snapshots(engine) == 0


def test_upkeep_install_registers_the_keeper_once():
    try:
        upkeep.install()
        upkeep.install()
        assert observers.registered().count(rollups.Keeper) == 1
    finally:
        upkeep.uninstall()
    assert rollups.Keeper not in observers.registered()
