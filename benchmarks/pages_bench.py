#!/usr/bin/env python3
"""Page speed in a real browser: how long each page takes from the click on its sidebar link until
Streamlit has finished the script (Chromium headless, small demo store, last 12 months).

    .venv/bin/python benchmarks/pages_bench.py                 # a fresh small demo store
    .venv/bin/python benchmarks/pages_bench.py --db /tmp/x.db  # any SQLite store

The session lands on the CEO page first (its time, which includes the browser loading plotly.js
once, is printed apart). cold: first visit of each page in the session (numbers not cached yet);
warm: the median of 3 more visits (numbers cached on the data version). Reference, measured in the same run: a warm visit of
the Definitions page, which computes no KPI; ratios are page / reference. Target (issue 5): every
page interactive within 2 s of navigation on the small demo store.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser.conftest import CHROMIUM, LAUNCH_ARGS, start_streamlit, stop, wait_for_app  # noqa: E402

PAGES = [("Marketing", "marketing"), ("Sales", "sales"), ("Finance", "finance"), ("Data", "data"),
         ("Definitions", "definitions"), ("CEO", "")]
WARM_RUNS = 3


def visit(page, title: str, path: str, timeout_ms: int = 30000) -> float:
    started = time.monotonic()
    page.locator("[data-testid='stSidebarNav'] a", has_text=title).first.click()
    page.wait_for_url(lambda url: urlparse(url).path.strip("/") == path, timeout=timeout_ms)
    wait_for_app(page, timeout_ms=timeout_ms)
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="SQLite store (default: a fresh small demo store)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db
        if db is None:
            from upkeep import seed_demo_if_empty
            from store import StoreSettings, open_store
            db = Path(tmp) / "demo.db"
            seed_demo_if_empty(open_store(StoreSettings(f"sqlite:///{db}", "bench")))
        proc, base = start_streamlit(f"sqlite:///{db}", Path(tmp) / "streamlit.log")
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
                page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
                started = time.monotonic()
                page.goto(base + "/?period=trailing_12_months")  # lands on the CEO page
                wait_for_app(page)
                landing = time.monotonic() - started
                cold = {path: visit(page, title, path) for title, path in PAGES}
                warm = {path: [] for _t, path in PAGES}
                for _ in range(WARM_RUNS):
                    for title, path in PAGES:
                        warm[path].append(visit(page, title, path))
                browser.close()
        finally:
            stop(proc)
    ref = statistics.median(warm["definitions"])
    print(f"first load of the app (CEO page, includes the browser loading plotly.js): {landing:.2f} s")
    print(f"reference (Definitions, warm): {ref:.2f} s")
    print(f"{'page':12s} {'cold s':>7s} {'warm s':>7s} {'cold/ref':>9s} {'warm/ref':>9s}")
    worst = 0.0
    for _title, path in PAGES:
        w = statistics.median(warm[path])
        worst = max(worst, cold[path], w)
        print(f"{path or 'ceo':12s} {cold[path]:7.2f} {w:7.2f} {cold[path] / ref:9.1f} {w / ref:9.1f}")
    print(f"slowest: {worst:.2f} s (target: 2 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
