"""What each page reads on a cold view: every SQL statement a page run issues, with its time.

    python benchmarks/cold_views_profile.py --db sqlite:////data/northstar-1m.db [--region France]
        [--product-line Analytics]
        [--period this_quarter] [--pages ceo marketing sales finance] [--top 8] [--profile]

Runs app.py in-process (Streamlit's AppTest), warms the shell (engine, filter options, labels),
then for each page clears the cached metric values and tables (a filter combination nobody has
viewed since the data last changed) and switches to the page, timing that run and logging each
statement through SQLAlchemy's cursor events. Prints per page: the run's time, the time spent in
SQL, the number of statements and the slowest ones (first line of each). With --profile, a
pyinstrument profile of each page run (text) follows. A diagnostic, not a benchmark: no target;
the ratios 1M/small are cold_pages_bench.py's.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import event  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

PAGES = {"ceo": "pages/ceo.py", "marketing": "pages/marketing.py", "sales": "pages/sales.py",
         "finance": "pages/finance.py", "meeting": "pages/meeting.py"}
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}")
LOG: list[tuple[float, str]] = []


@event.listens_for(Engine, "before_cursor_execute")
def _before(conn, cursor, statement, parameters, context, executemany):
    conn.info.setdefault("_t0", []).append(time.perf_counter())


@event.listens_for(Engine, "after_cursor_execute")
def _after(conn, cursor, statement, parameters, context, executemany):
    t0 = conn.info["_t0"].pop()
    dates = sorted({str(v)[:10] for v in (parameters.values() if isinstance(parameters, dict) else parameters or ())
                    if isinstance(v, (dt.date, dt.datetime)) or (isinstance(v, str) and DAY.match(v))})
    LOG.append((time.perf_counter() - t0, " ".join(statement.split()), dates))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--region", action="append", default=[])
    ap.add_argument("--product-line", action="append", default=[])
    ap.add_argument("--period", default=None)
    ap.add_argument("--pages", nargs="*", default=list(PAGES))
    ap.add_argument("--top", type=int, default=8)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--warm", action="store_true", help="also run each page a second time (caches kept): the warm view")
    args = ap.parse_args()
    os.environ["NORTHSTAR_DB_URL"] = args.db
    os.environ["NORTHSTAR_SEED_DEMO"] = "0"
    from streamlit.testing.v1 import AppTest

    from ui import cache
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    if args.region:
        at.query_params["region"] = args.region
    if args.product_line:
        at.query_params["product_line"] = args.product_line
    if args.period:
        at.query_params["period"] = args.period
    t0 = time.perf_counter()
    at.run()
    print(f"shell + default page: {time.perf_counter() - t0:.2f} s, {len(LOG)} statements")
    for name in args.pages:
        for fn in (cache._values, cache._breakdown, cache._detail):
            fn.clear()
        LOG.clear()
        profiler = None
        if args.profile:
            from pyinstrument import Profiler
            profiler = Profiler()
            profiler.start()
        t0 = time.perf_counter()
        at.switch_page(PAGES[name])
        at.run()
        took = time.perf_counter() - t0
        if profiler is not None:
            profiler.stop()
        if at.exception:
            print(f"{name}: exception {[e.value for e in at.exception]}")
        in_sql = sum(t for t, *_ in LOG)
        print(f"\n== {name} (region {args.region or 'all'}, product line {args.product_line or 'all'}): {took:.2f} s, SQL {in_sql:.2f} s in {len(LOG)} statements")
        for t, stmt, dates in sorted(LOG, reverse=True)[:args.top]:
            print(f"  {t * 1000:8.1f} ms  {stmt[:200]}  dates {' '.join(dates)}")
        if profiler is not None:
            print(profiler.output_text(unicode=False, color=False, show_all=False))
        if args.warm:  # the same page again, its caches kept (a click back to it)
            LOG.clear()
            t0 = time.perf_counter()
            at.run()
            took = time.perf_counter() - t0
            print(f"   warm: {took:.2f} s, SQL {sum(t for t, *_ in LOG):.2f} s in {len(LOG)} statements")
            for t, stmt, dates in sorted(LOG, reverse=True)[:args.top]:
                print(f"  {t * 1000:8.1f} ms  {stmt[:200]}  dates {' '.join(dates)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
