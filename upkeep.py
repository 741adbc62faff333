"""What follows a write, so that the writers (connectors, demo) need not know the metric layer or
the weekly meeting: the monthly rollups settled, the week's meeting snapshot taken.

    install()                        once per process (app start, cli.py): the rollups' Keeper
                                     follows every write announced through store.observers
    after_sync(engine)               a successful HubSpot sync: settle the rollups, take this
                                     week's snapshot if it has none (never fails the sync)
    after_import(engine)             a successful file import: settle the rollups
    after_demo(engine)               demo data written: build the rollups
    demo_snapshots(engine, weeks)    the demo's past weeks of meeting snapshots and this week's
    seed_demo_if_empty(engine)       first start: the demo company, its rollups, 12 weeks of snapshots
    refresh_soon(engine)             a long-running app: rebuild stale rollups once writes pause
"""
from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import Engine

import demo
from meeting import snapshots
from metrics import rollups_build as rollups
from store import observers

log = logging.getLogger("northstar.upkeep")


def install() -> None:
    """Keep fresh CRM rollups exact through every write announced to store.observers (the
    HubSpot sync's batches). Idempotent."""
    observers.register(rollups.Keeper)


def uninstall() -> None:
    observers.unregister(rollups.Keeper)


def after_import(engine: Engine) -> dict[str, rollups.Built]:
    """After a successful import (or sync): rebuild the stale rollups, fold what a Keeper grew;
    returns the groups rebuilt. A failure is logged, never raised (the write has committed)."""
    return rollups.settle(engine, log)


def after_sync(engine: Engine) -> None:
    """After a successful HubSpot sync: settle the rollups, then this week's meeting snapshot if
    the week has none yet (the first successful sync of the week takes it). Never raises over
    the sync that committed: a failed snapshot is logged with the command that retries it."""
    rollups.settle(engine, log)
    try:
        snapshots.ensure_weekly_snapshot(engine)
    except Exception as exc:  # noqa: BLE001
        log.warning("sync done, but this week's meeting snapshot failed (%s); run `python cli.py snapshot`",
                    type(exc).__name__, exc_info=True)


def after_demo(engine: Engine) -> dict[str, rollups.Built]:
    """After demo data was written: the monthly rollups the pages read (a failure is logged)."""
    return rollups.refresh_quietly(engine, log)


def demo_snapshots(engine: Engine, weeks: int, as_of: dt.date | None = None) -> list[int]:
    """The weekly snapshots of the `weeks` weeks before `as_of`'s week, rebuilt from deal history,
    plus this week's; returns their ids."""
    return snapshots.backfill_demo_snapshots(engine, weeks=weeks, as_of=as_of)


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
