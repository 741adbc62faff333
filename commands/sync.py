"""`cli.py sync hubspot [--full] [--objects deals,contacts]`: a sync with per-object progress."""
from __future__ import annotations

import argparse
import getpass
import sys

import upkeep
from connectors.hubspot.client import DailyLimitReached, HubSpotClient, HubSpotError, load_settings
from connectors.hubspot.sync import Progress, parse_objects, sync_hubspot
from store import mask, open_store


def _bar(p: Progress, width: int = 28) -> str:
    filled = int(p.fraction * width)
    total = f"/{p.total:,}" if p.total else ""
    eta = f"  ETA {p.eta_s:,.0f}s" if p.eta_s is not None and p.phase != "done" else ""
    return (f"\r{p.object_type:<11} [{'#' * filled}{'.' * (width - filled)}] "
            f"{p.done:,}{total} {p.phase}{eta}   ")


def _printer(stream):
    def show(p: Progress) -> None:
        stream.write(_bar(p) + ("\n" if p.phase == "done" else ""))
        stream.flush()
    return show


def _cmd_sync_hubspot(args: argparse.Namespace) -> int:
    engine = None
    try:
        objects = parse_objects(args.objects) if args.objects else None
        client = HubSpotClient(load_settings())
        engine = open_store()
        result = sync_hubspot(engine, client, objects=objects, full=args.full,
                              progress=None if args.quiet else _printer(sys.stderr),
                              actor=f"cli:{getpass.getuser()}")
        upkeep.after_sync(engine)
    except DailyLimitReached as exc:
        print(mask(f"\nstopped: {exc}"), file=sys.stderr)
        if engine is not None:
            upkeep.after_sync_failed(engine)
        return 3
    except HubSpotError as exc:
        print(mask(f"\nerror: {exc}"), file=sys.stderr)
        if engine is not None:
            upkeep.after_sync_failed(engine)  # the alert on a sync failing twice
        return 2
    total = sum(c.get("written", 0) for c in result.counts.values())
    deleted = sum(c.get("deleted", 0) for c in result.counts.values())
    print(f"hubspot sync {result.status} (run {result.run_id}): {total:,} records written, "
          f"{deleted:,} marked deleted, {client.requests:,} requests ({client.retries} retried)")
    for note in result.notes:  # what the run skipped, and why (e.g. NPS without its scope)
        print(mask(f"note: {note}"), file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    sync = sub.add_parser("sync", help="pull data from a connector into the store")
    ssub = sync.add_subparsers(dest="source", metavar="SOURCE", required=True)
    hs = ssub.add_parser("hubspot", help="HubSpot CRM (token from HUBSPOT_ACCESS_TOKEN)",
                         description="Incremental by default; the first run, or --full, reads "
                         "everything. A stopped run resumes from its last saved page.")
    hs.add_argument("--full", action="store_true", help="re-read every record (backfill)")
    hs.add_argument("--objects", metavar="LIST",
                    help="comma-separated subset: owners,pipelines,products,companies,contacts,"
                         "line_items,deals")
    hs.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    hs.set_defaults(handler=_cmd_sync_hubspot)
