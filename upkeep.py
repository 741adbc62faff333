"""What follows a write, so that the writers (connectors, demo) need not know the metric layer or
the weekly meeting: the monthly rollups settled, the week's meeting snapshot taken.

    install()                        once per process (app start, cli.py): the rollups' Keeper
                                     follows every write announced through store.observers
    after_sync(engine)               a successful HubSpot sync: settle the rollups, take this
                                     week's snapshot if it has none and send its digest when
                                     configured, check the alerts (never fails the sync)
    after_sync_failed(engine)        a failed sync: check the alerts (a sync failing twice)
    after_import(engine)             a successful file import: settle the rollups, check the alerts
    after_demo(engine)               demo data written: build the rollups
    demo_snapshots(engine, weeks)    the demo's past weeks of meeting snapshots and this week's
    seed_demo_if_empty(engine)       first start: the demo company, its rollups, 12 weeks of snapshots
    refresh_soon(engine)             a long-running app: rebuild stale rollups once writes pause
"""
from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

import demo
from meeting import alerts, digest, snapshots
from metrics import rollups_build as rollups
from store import observers
from store.db import shrink_wal

log = logging.getLogger("northstar.upkeep")


def install() -> None:
    """Keep fresh CRM rollups exact through every write announced to store.observers (the
    HubSpot sync's batches). Idempotent."""
    observers.register(rollups.Keeper)


def uninstall() -> None:
    observers.unregister(rollups.Keeper)


def after_import(engine: Engine) -> dict[str, rollups.Built]:
    """After a successful import (or sync): rebuild the stale rollups, fold what a Keeper grew;
    returns the groups rebuilt. A failure is logged, never raised (the write has committed).
    Then the write-ahead log is folded into the store and truncated."""
    built = rollups.settle(engine, log)
    _shrink_wal(engine)
    alerts.after_write(engine)
    return built


def after_sync(engine: Engine) -> None:
    """After a successful HubSpot sync: settle the rollups, then this week's meeting snapshot if
    the week has none yet (the first successful sync of the week takes it). Never raises over
    the sync that committed: a failed snapshot is logged with the command that retries it."""
    rollups.settle(engine, log)
    taken = None
    try:
        taken = snapshots.ensure_weekly_snapshot(engine)
    except Exception as exc:  # noqa: BLE001
        log.warning("sync done, but this week's meeting snapshot failed (%s); run `python cli.py snapshot`",
                    type(exc).__name__, exc_info=True)
    if taken is not None:  # the week's first snapshot: its digest, when channels are configured
        try:
            digest.after_snapshot(engine, snapshots.get_snapshot(engine, taken)["week_start"])
        except Exception as exc:  # noqa: BLE001 - after_snapshot logs its own failures; this is the lookup
            log.warning("sync done, but the digest could not start (%s); run `python cli.py digest`",
                        type(exc).__name__)
    _shrink_wal(engine)
    alerts.after_write(engine)


def after_sync_failed(engine: Engine) -> None:
    """After a failed sync: check the alerts (a connector failing twice in a row). Never raises."""
    alerts.after_write(engine)


def after_demo(engine: Engine) -> dict[str, rollups.Built]:
    """After demo data was written: the monthly rollups the pages read (a failure is logged),
    then the write-ahead log folded into the store and truncated (the 1M demo leaves gigabytes)."""
    built = rollups.refresh_quietly(engine, log)
    _shrink_wal(engine)
    return built


def demo_snapshots(engine: Engine, weeks: int, as_of: dt.date | None = None) -> list[int]:
    """The weekly snapshots of the `weeks` weeks before `as_of`'s week, rebuilt from deal history,
    plus this week's; returns their ids."""
    ids = snapshots.backfill_demo_snapshots(engine, weeks=weeks, as_of=as_of)
    _shrink_wal(engine)
    return ids


def _shrink_wal(engine: Engine) -> None:
    """store.db.shrink_wal after a big write; a reader holding the log open is only logged."""
    try:
        if not shrink_wal(engine):
            log.info("write-ahead log not truncated yet (a reader holds it); the next checkpoint will")
    except SQLAlchemyError as exc:
        log.warning("could not truncate the write-ahead log (%s)", exc)


def seed_demo_if_empty(engine: Engine, scale: str = "small", seed: int = demo.DEFAULT_SEED,
                       as_of: dt.date | None = None) -> bool:
    """First start: fill a store without data with the demo company, build its rollups and the
    weekly meeting's last 12 weeks; True if it did."""
    if not demo.seed_demo_if_empty(engine, scale=scale, seed=seed, as_of=as_of):
        return False
    after_demo(engine)
    demo_snapshots(engine, weeks=12, as_of=as_of)
    return True


def refresh_soon(engine: Engine) -> bool:
    """For the app, once per page run: stale rollups rebuild in the background once the store has
    had no write for a while (see metrics.rollups_build.refresh_soon). True if a rebuild started."""
    return rollups.refresh_soon(engine, log)
