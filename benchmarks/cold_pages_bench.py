#!/usr/bin/env python3
"""Cold and warm page views, small store against a big one, in a real browser (issue #16).

    .venv/bin/python benchmarks/cold_pages_bench.py --big-url sqlite:////data/northstar-1m.db
    .venv/bin/python benchmarks/cold_pages_bench.py --big-url sqlite:////data/northstar-1m.db \\
        --pg --pg-url postgresql+psycopg://postgres@127.0.0.1:5432/big1m

Starts one Streamlit server per store (the small demo store, built fresh with the same seed and
date as the big one unless --small-url names one; the big store; with --pg a PostgreSQL store
too) and drives Chromium headless. For each filter combination (everyone; one region, --region;
one product line, --product-line),
a new session lands on the Definitions page (no KPI) with the filters in its URL, then clicks
each page in the sidebar: the first click is the page's first view of that filter combination
in that server (a cold view: nothing cached for it yet), a later click the warm view (median of
WARM_RUNS). Each time is from the click until Streamlit reports the script finished
(pages_bench.visit). Every visit is made on each server in turn (small, big, PostgreSQL), so the
machine's noise hits them alike. Prints each view's times and the ratios big/small against the
targets: first view <= 1.5x, warm <= 1.3x.
"""
from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.pages_bench import visit  # noqa: E402
from tests.browser.conftest import CHROMIUM, LAUNCH_ARGS, start_streamlit, stop, wait_for_app  # noqa: E402

PAGES = [("CEO", ""), ("Marketing", "marketing"), ("Sales", "sales"), ("Finance", "finance"),
         ("Weekly meeting", "meeting")]
WARM_RUNS = 2
TIMEOUT_MS = 300_000  # a cold view of a big store on a loaded machine
FIRST_TARGET, WARM_TARGET = 1.5, 1.3


def small_store(folder: Path, seed: int, as_of: dt.date) -> str:
    from store import StoreSettings, open_store
    from upkeep import seed_demo_if_empty
    url = f"sqlite:///{folder / 'small.db'}"
    seed_demo_if_empty(open_store(StoreSettings(url, "bench")), seed=seed, as_of=as_of)
    return url


def measure(pages: dict, query: dict) -> tuple[dict, dict]:
    """{side: {path: first view s}}, {side: {path: [warm s]}} for one filter combination."""
    for side, (page, base) in pages.items():  # a new session: the filters come from the URL, once
        page.goto(f"{base}/definitions?{urlencode(query, doseq=True)}")
        wait_for_app(page, timeout_ms=TIMEOUT_MS)
    first = {side: {} for side in pages}
    warm = {side: {path: [] for _t, path in PAGES} for side in pages}
    for title, path in PAGES:
        for side, (page, _base) in pages.items():
            first[side][path] = visit(page, title, path, TIMEOUT_MS)
    for _ in range(WARM_RUNS):
        for title, path in PAGES:
            for side, (page, _base) in pages.items():
                warm[side][path].append(visit(page, title, path, TIMEOUT_MS))
    return first, warm


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big-url", required=True, help="the big store (e.g. sqlite:////data/northstar-1m.db)")
    parser.add_argument("--small-url", help="the small store (default: a fresh small demo store, same seed and date)")
    parser.add_argument("--pg", action="store_true", help="also measure a PostgreSQL big store (--pg-url)")
    parser.add_argument("--pg-url", help="the PostgreSQL big store, e.g. postgresql+psycopg://postgres@127.0.0.1/big1m")
    parser.add_argument("--seed", type=int, default=42, help="the demo seed of the big store (default 42)")
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date.today(),
                        help="the big store's demo date, YYYY-MM-DD (default: today)")
    parser.add_argument("--region", default="France", help="the region of the one-region views (default France)")
    parser.add_argument("--product-line", default="Analytics",
                        help="the product line of the one-product-line views (default Analytics; '' to skip them)")
    args = parser.parse_args()
    if args.pg and not args.pg_url:
        parser.error("--pg needs --pg-url")
    from playwright.sync_api import sync_playwright
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        stores = {"small": args.small_url or small_store(folder, args.seed, args.as_of), "big": args.big_url}
        if args.pg:
            stores["pg"] = args.pg_url
        servers = {}
        try:
            for side, url in stores.items():
                (folder / side).mkdir()
                servers[side] = start_streamlit(url, folder / side / "streamlit.log",
                                                {"NORTHSTAR_DATA_DIR": str(folder / side)})
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
                results = {}
                views = [("everyone", {}), (f"region {args.region}", {"region": args.region})]
                if args.product_line:
                    views.append((f"line {args.product_line}", {"product_line": args.product_line}))
                for label, query in views:
                    pages = {}
                    for side, (_proc, base) in servers.items():
                        pages[side] = (browser.new_context(viewport={"width": 1440, "height": 900}).new_page(), base)
                    started = time.monotonic()
                    results[label] = measure(pages, query)
                    print(f"{label}: measured in {time.monotonic() - started:.0f} s", flush=True)
                    for page, _base in pages.values():
                        page.context.close()
                browser.close()
        finally:
            for proc, _base in servers.values():
                stop(proc)
    report(results, list(stores))
    return 0


def report(results: dict, sides: list[str]) -> None:
    others = [s for s in sides if s != "small"]
    head = f"{'view':34s} {'small s':>8s}" + "".join(f" {s + ' s':>8s} {s + '/small':>9s}" for s in others)
    met_all = True
    for kind, target in (("first view", FIRST_TARGET), ("warm", WARM_TARGET)):
        print(f"\n{kind} (target: big/small <= {target}x)")
        print(head + "  met")
        for label, (first, warm) in results.items():
            for title, path in PAGES:
                t = {s: (first[s][path] if kind == "first view" else statistics.median(warm[s][path])) for s in sides}
                ratios = {s: t[s] / t["small"] for s in others}
                met = ratios["big"] <= target
                met_all &= met
                cells = "".join(f" {t[s]:8.2f} {ratios[s]:8.1f}x" for s in others)
                print(f"{label + ': ' + title:34s} {t['small']:8.2f}{cells}  {'met' if met else 'not met'}")
    print(f"\nall SQLite targets met: {'yes' if met_all else 'no'}")


if __name__ == "__main__":
    sys.exit(main())
