"""`cli.py metrics`: every metric (or one metric broken down) for a period and slice.

    python cli.py metrics --from 2026-01-01 --to 2026-03-31 [--region EMEA] [--json]
    python cli.py metrics --from 2026-01-01 --to 2026-03-31 --metric won_revenue --by month
    python cli.py metrics --from 2026-10-01 --to 2026-12-05 --plan-to 2026-12-31   # quarter to date

`--plan-to` (a period in progress): the last day of the period it belongs to; plans and stocks
(target, pipeline, forecast, coverage) are taken to it, flows to --to, as "Quarter to date" does.

`--json` prints {"as_of": ..., "filters": {...}, "metrics": {id: {"value", "unit", "label",
"definition"[, "reason" when value is null]}}}; with --metric/--by: {"as_of", "filters",
"metric", "by", "rows": [{"segment", "value", "unit"[, "reason"]}]}. Both are a public contract.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys

from metrics.periods import period_problem
from store import open_store

from . import REGISTRY, DefinitionsError, Filters, UnknownMetric, breakdown, compute_many, get_definitions, rollups
from . import rollups_build
from .definitions import load_definitions
from .format import format_value


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; write it as YYYY-MM-DD, e.g. 2026-01-31") from None


def register(sub) -> None:
    p = sub.add_parser("metrics", help="print every metric (or one, broken down) for a period",
                       description="Print the metrics of a period, as the pages show them.")
    p.add_argument("--from", dest="start", type=_date, required=True, help="first day, YYYY-MM-DD")
    p.add_argument("--to", dest="end", type=_date, required=True, help="last day (included), YYYY-MM-DD")
    p.add_argument("--plan-to", dest="plan_end", type=_date, default=None,
                   help="last day of the period in progress (e.g. the quarter's end): targets, pipeline and "
                        "forecast are taken to it, revenue and other flows to --to")
    p.add_argument("--region", action="append", default=[], help="only this region (repeatable; '(none)' = no region)")
    p.add_argument("--product-line", action="append", default=[], help="only this product line (repeatable)")
    p.add_argument("--owner", action="append", default=[], help="only this owner id (repeatable)")
    p.add_argument("--team", action="append", default=[], help="only this team name (repeatable)")
    p.add_argument("--source", action="append", default=[], help="only this source (repeatable)")
    p.add_argument("--metric", help="one metric id (with --by)")
    p.add_argument("--by", help="break --metric down by month, week, region, product_line, source, owner, team, "
                                "stage, campaign, channel or revenue_type")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=_cmd_metrics)
    r = sub.add_parser("rollups", help="rebuild the metric layer's monthly rollups if stale",
                       description="Rebuild the monthly summaries the metrics read for whole months "
                                   "(metrics/rollups_build.py). Syncs, imports and the demo do this themselves; "
                                   "run it after writing to the store by other means.")
    r.add_argument("--force", action="store_true", help="rebuild even if they are fresh")
    r.add_argument("--status", action="store_true", help="only say whether each group is fresh")
    r.set_defaults(handler=_cmd_rollups)


def _cmd_rollups(args: argparse.Namespace) -> int:
    engine = open_store()
    if args.status:
        with engine.connect() as conn:
            defs = load_definitions(conn)
            for group in rollups.GROUPS:
                st = rollups.state(conn, group)
                fresh = rollups.is_fresh(conn, defs, group)
                built = f"built {st['built_at']:%Y-%m-%d %H:%M} UTC, {st['rows']:,} rows" if st else "never built"
                print(f"{group:<16} {'fresh' if fresh else 'STALE'}  ({built})")
        return 0
    built = rollups_build.refresh(engine, force=args.force)
    if not built:
        print("rollups are fresh; nothing to rebuild")
    for group, b in built.items():
        print(f"{group:<16} rebuilt: {b.rows:,} rows in {b.seconds:.1f} s (data version {b.version})")
    return 0


def _filters(args):
    return Filters(args.start, args.end, plan_end=args.plan_end, regions=tuple(args.region), product_lines=tuple(args.product_line),
                   owners=tuple(args.owner), teams=tuple(args.team), sources=tuple(args.source))


def _entry(mv, with_text: bool) -> dict:
    out = {"value": mv.value, "unit": mv.unit}
    if with_text:
        out.update(label=mv.label, definition=mv.definition)
    if mv.value is None:
        out["reason"] = mv.reason
    return out


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def _cmd_metrics(args: argparse.Namespace) -> int:
    if bool(args.metric) != bool(args.by):
        print("error: --metric and --by go together (e.g. --metric won_revenue --by month); "
              "without both, every metric is printed", file=sys.stderr)
        return 2
    problem = period_problem(args.start, args.end, ("--from", "--to"))
    if not problem and args.plan_end is not None and args.plan_end < args.end:
        problem = f"--plan-to={args.plan_end.isoformat()} is before --to={args.end.isoformat()}"
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        filters = _filters(args)
        engine = open_store()
        defs = get_definitions(engine)
        if args.metric:
            rows = breakdown(engine, args.metric, filters, args.by)
            as_of = next((mv.as_of for _, mv in rows if mv.as_of), None)
            if args.json:
                print(json.dumps({"as_of": _iso(as_of), "filters": filters.as_dict(), "metric": args.metric,
                                  "by": args.by, "rows": [{"segment": seg, **_entry(mv, False)} for seg, mv in rows]},
                                 indent=2, ensure_ascii=False))
                return 0
            print(f"{REGISTRY[args.metric].label} by {args.by}, {filters.start} to {filters.end}")
            width = max([len(seg) for seg, _ in rows] + [8])
            for seg, mv in rows:
                print(f"  {seg:<{width}}  {format_value(mv.value, mv.unit, defs.locale, defs.reporting_currency)}")
            if not rows:
                print("  (no data for this period and filters)")
            return 0
        values = compute_many(engine, list(REGISTRY), filters)
    except (DefinitionsError, UnknownMetric, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    as_of = next((mv.as_of for mv in values.values() if mv.as_of), None)
    if args.json:
        print(json.dumps({"as_of": _iso(as_of), "filters": filters.as_dict(),
                          "metrics": {mid: _entry(mv, True) for mid, mv in values.items()}},
                         indent=2, ensure_ascii=False))
        return 0
    print(f"Metrics {filters.start} to {filters.end}" + (f" (data as of {as_of:%Y-%m-%d %H:%M} UTC)" if as_of else ""))
    width = max(len(mv.label) for mv in values.values())
    for mv in values.values():
        text = format_value(mv.value, mv.unit, defs.locale, defs.reporting_currency)
        print(f"  {mv.label:<{width}}  {text}" + (f"  ({mv.reason})" if mv.value is None else ""))
    return 0
