#!/usr/bin/env python3
"""Frozen meeting snapshots at scale: this week's snapshot and a past week rebuilt, against the
metric layer's own speed on the live store measured in the same run.

    .venv/bin/python benchmarks/snapshot_bench.py --url sqlite:////path/to/100k.db
    .venv/bin/python benchmarks/snapshot_bench.py --url sqlite:////path/to/1M.db --weeks-back 4
    .venv/bin/python benchmarks/snapshot_bench.py --url postgresql+psycopg://postgres@127.0.0.1/big
    .venv/bin/python benchmarks/snapshot_bench.py --url ... --old   # also the whole-copy path of before

Each snapshot is taken as `frozen_snapshot(kind="on_demand")` (what `python cli.py snapshot`
does for the week, without the "this week already has one" shortcut), then deleted again, so
the store is left as it was and the bench can be rerun. It times, for this week (as of its
Monday 00:00), for the week `--weeks-back` weeks earlier, and "on its Monday": the week
starting after the store's last day, taken that Monday at 06:00 with nothing written since its
midnight (a weekly cron after a quiet weekend: the rewind undoes nothing): the whole snapshot (store rewound
in place, every registry metric for every standard cut and the quarter, the snapshot's deals,
the write), and apart the rewind alone (`rewound`: finding and rewriting what changed since the
Monday, rollups kept exact). Reference, same run: `compute_many` of every registry metric for
the total cut of the review week on the live store (rollups as they are); ratios are snapshot /
reference. `--old` also times the whole-copy path (`as_of_store`: copy the store, cut it back,
compute there), slow on a big store. Prints the peak RSS. Targets (issue #16, 1M-deal store):
this week's snapshot <= 5 s, a past week <= 20 s.
"""
from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _drop(engine, sid: int) -> None:
    from store import schema as s
    with engine.begin() as conn:
        for t in (s.snapshot_deals, s.snapshot_metrics):
            conn.execute(t.delete().where(t.c.snapshot_id == sid))
        conn.execute(s.pipeline_snapshots.delete().where(s.pipeline_snapshots.c.snapshot_id == sid))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="the store (SQLite or PostgreSQL URL)")
    parser.add_argument("--as-of", metavar="YYYY-MM-DD", help="today for the bench (default: today, UTC)")
    parser.add_argument("--weeks-back", type=int, default=4, help="the past week rebuilt (default 4 weeks back)")
    parser.add_argument("--old", action="store_true", help="also time the whole-copy path of before")
    parser.add_argument("--past-only", action="store_true", help="only the past week (a big store's long run)")
    parser.add_argument("--this-only", action="store_true", help="only this week")
    args = parser.parse_args()

    from meeting.decisions import week_of
    from meeting.snapshots import as_of_store, frozen_snapshot, rewound
    from metrics import REGISTRY, Filters, compute_many
    from store import StoreSettings, open_store, utcnow

    engine = open_store(StoreSettings(args.url, "the snapshot bench"))
    today = dt.date.fromisoformat(args.as_of) if args.as_of else utcnow().date()
    now = dt.datetime.combine(today, dt.time(7, 0))
    this_week = week_of(today)
    # the week that starts after the store's last day, its snapshot taken that Monday at 06:00 with
    # nothing written since midnight: the weekly cron's case (the rewind finds nothing to undo)
    next_week = this_week + dt.timedelta(days=7)
    weeks = [("on its Monday", next_week), ("this week", this_week),
             (f"{args.weeks_back} weeks back", this_week - dt.timedelta(days=7 * args.weeks_back))]

    if args.past_only:
        weeks = weeks[2:]
    elif args.this_only:
        weeks = weeks[:2]
    started = time.perf_counter()  # reference: the metric layer on the live store, total cut
    compute_many(engine, list(REGISTRY), Filters(this_week - dt.timedelta(days=7), this_week - dt.timedelta(days=1)))
    reference = time.perf_counter() - started
    print(f"store {engine.url.render_as_string(hide_password=True)}, today {today}")
    print(f"reference: every registry metric, total cut, live store: {reference:.2f} s")
    print(f"{'week':16s} {'monday':10s} {'rewind s':>9s} {'rows':>8s} {'snapshot s':>11s} {'/ref':>6s}"
          + (f" {'old s':>8s} {'old/new':>8s}" if args.old else ""))
    for label, week in weeks:
        moment = dt.datetime.combine(week, dt.time())
        t0 = time.perf_counter()
        from meeting import snapshots
        with rewound(engine, moment):
            pass
        rewind_s = time.perf_counter() - t0
        counts = snapshots._LAST_REWIND.copy()
        phases = snapshots._REWIND_SECONDS.copy()
        t0 = time.perf_counter()
        taken = dt.datetime.combine(next_week, dt.time(6, 0)) if week == next_week else now
        sid = frozen_snapshot(engine, week, "on_demand", taken)
        snap_s = time.perf_counter() - t0
        _drop(engine, sid)
        line = (f"{label:16s} {week.isoformat():10s} {rewind_s:9.2f} {sum(counts.values()):8d} {snap_s:11.2f} "
                f"{snap_s / reference:6.1f}")
        if args.old:
            t0 = time.perf_counter()
            with as_of_store(engine) as rewind:
                sid = frozen_snapshot(engine, week, "on_demand", now, rewind)
            old_s = time.perf_counter() - t0
            _drop(engine, sid)
            line += f" {old_s:8.2f} {old_s / snap_s:8.1f}"
        print(line)
        print(f"{'':16s} rewritten: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        print(f"{'':16s} rewind s by phase: " + ", ".join(f"{k} {v}" for k, v in phases.items()))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MB; targets on the 1M store: this week <= 5 s, a past week <= 20 s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
