#!/usr/bin/env python3
"""Load benchmark: N concurrent sessions against a running app while a sync writes.

    .venv/bin/python benchmarks/load_bench.py --store data/bench/northstar-1M.db
    .venv/bin/python benchmarks/load_bench.py --store data/northstar.db --sessions 1,5 --loads 2
    .venv/bin/python benchmarks/load_bench.py --client browser ...   # headless Chromium instead
    .venv/bin/python benchmarks/load_bench.py --instances 2 ...      # two app processes, one store
    .venv/bin/python benchmarks/load_bench.py --reference ...        # + a trivial app, same sessions

Starts `streamlit run app.py` on a free port with NORTHSTAR_DB_URL pointing at the store, then,
for each N, opens N sessions at once, each loading the pages in turn. Two clients:
`ws` (default) speaks Streamlit's websocket protocol like the browser does (GET the page, open
/_stcore/stream, send rerun_script for the page, read ForwardMsgs); page-ready = the run's
`script_finished` FINISHED_SUCCESSFULLY, errors = exception elements, compile errors, closed
sockets, timeouts. It measures the server, not the client's rendering (which happens on each
user's machine; on a 2-core box, 25 Chromium renderers would mostly measure themselves).
`browser` drives Debian's /usr/bin/chromium (one context = one session); page-ready = the
script finished (`data-test-script-state="notRunning"`) with content drawn. Meanwhile a separate
writer process commits sync-like transactions (updates a batch of deals, records a sync run
and an audit row, bumps the data version so every cache misses), holding each write
transaction open for --hold seconds; a probe thread times a fixed read query all along, so a
reader blocked by the writer shows up as probe latency near --hold.

Reports page-ready p50/p95 and errors per N, p95(N) / p95(1) against the target (<= 3 at 25),
probe latency with and without the writer, and how many data versions the loads met and about how
many loads had to recompute their page's numbers (first load of a page at a new version).
`--reference` also runs a trivial 4-page Streamlit app (one line per page) and sends it the same
sessions right after each level: what one Streamlit process costs on this machine with no work of
ours, printed beside Northstar's numbers. Results also go to --json.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-extensions", "--mute-audio",
                 "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
                 "--disable-backgrounding-occluded-windows"]
READY_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  return document.querySelectorAll('[data-testid="stMainBlockContainer"] [data-testid="stElementContainer"]').length > 0;
}"""
# --reference: the same pages in a trivial Streamlit app (one line of text each, same navigation),
# measured by the same sessions in the same run: what one Streamlit process on this machine costs
# before Northstar computes or draws anything.
REFERENCE_APP = """import streamlit as st
st.set_page_config(page_title="reference", layout="wide")
def page(name):
    return lambda: st.write(f"{name}: reference page")
st.navigation([st.Page(page(p), title=p, url_path=p, default=(p == "ceo"))
               for p in ("ceo", "sales", "marketing", "finance")]).run()
"""
# One week of deals through the close-date index: cheap at any scale, so its latency is lock waits.
PROBE_SQL = "SELECT COUNT(*), SUM(amount_cents) FROM deals WHERE close_date BETWEEN ? AND ?"


def cpu_seconds(procs: list[subprocess.Popen]) -> float:
    """User + system CPU time used so far by these processes (Linux /proc; NaN elsewhere)."""
    total = 0.0
    try:
        for proc in procs:
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")
    return total


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of values; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))]


# --- the app under test ----------------------------------------------------------------

def start_app(store_url: str, port: int, log_path: Path, app: Path = ROOT / "app.py") -> subprocess.Popen:
    env = {**os.environ, "NORTHSTAR_DB_URL": store_url, "NORTHSTAR_SEED_DEMO": "0",
           "NORTHSTAR_LOG_LEVEL": "WARNING"}
    cmd = [sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true",
           "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    log = open(log_path, "w")
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_healthy(port: int, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the app exited with code {proc.returncode}; see its log")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"the app did not answer on port {port} within {timeout:.0f} s")


# --- the writer (separate process) and the read probe ----------------------------------

def writer_main(store_url: str, stop_file: str, hold: float, batch: int, pause: float, out: str) -> None:
    """Commit sync-like transactions until stop_file appears; write stats to `out`."""
    sys.path.insert(0, str(ROOT))
    from sqlalchemy import bindparam, select, update
    from connectors.hubspot.sync import SYNC_TABLES
    from metrics.rollups_build import Keeper
    from store import StoreSettings, bump_data_version, open_store, schema as s, utcnow
    from store.audit import record_audit
    engine = open_store(StoreSettings(store_url, "load bench"))
    with engine.connect() as conn:
        ids = [r[0] for r in conn.execute(select(s.deals.c.deal_id).limit(50 * batch))][::7]
    commits, latencies, errors, k = 0, [], [], 0
    stmt = (update(s.deals).where(s.deals.c.deal_id == bindparam("b_id"))
            .values(amount_cents=s.deals.c.amount_cents + bindparam("b_delta"), updated_at=bindparam("b_at")))
    while not os.path.exists(stop_file):
        chunk = [ids[(k * batch + i) % len(ids)] for i in range(batch)] if ids else []
        k += 1
        started = time.perf_counter()
        try:
            with engine.begin() as conn:  # as the HubSpot sync writes (connectors/hubspot/sync.py)
                keeper = Keeper(conn)
                now = utcnow()
                with keeper.around("deals", chunk):
                    if chunk:
                        conn.execute(stmt, [{"b_id": d, "b_delta": 1 - 2 * (k % 2), "b_at": now} for d in chunk])
                conn.execute(s.sync_runs.insert().values(connector="bench", mode="incremental", started_at=now,
                                                         finished_at=now, status="success",
                                                         counts_json=json.dumps({"deals": len(chunk)})))
                record_audit(conn, "load-bench", "sync", "bench", None, {"deals": len(chunk)})
                keeper.publish(bump_data_version(conn, *SYNC_TABLES, "sync_runs", "audit_log"))
                time.sleep(hold)  # a long write transaction: readers must not wait for it
            commits += 1
            latencies.append(time.perf_counter() - started)
        except Exception as exc:  # reported, not raised: the bench counts writer errors
            errors.append(f"{type(exc).__name__}: {exc}"[:200])
        time.sleep(pause)
    Path(out).write_text(json.dumps({"commits": commits, "errors": errors,
                                     "commit_p50_s": pct(latencies, 50), "commit_max_s": max(latencies, default=0)}))


class Probe(threading.Thread):
    """Times PROBE_SQL on its own SQLite connection every `every` seconds."""

    def __init__(self, db_path: str, every: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.db_path, self.every = db_path, every
        self.samples: list[tuple[float, float]] = []  # (monotonic time, seconds)
        self.stop = threading.Event()

    def run(self) -> None:
        conn = sqlite3.connect(self.db_path, timeout=60, check_same_thread=False)
        while not self.stop.is_set():
            t0 = time.perf_counter()
            conn.execute(PROBE_SQL, ("2026-01-05", "2026-01-11")).fetchone()
            self.samples.append((time.monotonic(), time.perf_counter() - t0))
            self.stop.wait(self.every)
        conn.close()

    def between(self, t0: float, t1: float) -> list[float]:
        return [d for t, d in self.samples if t0 <= t <= t1]


class Versions:
    """The store's data version at the start of each page load, per (app, page): the first load of a
    page at a version new to that app recomputes the page's numbers (a cache miss; every cache key
    holds the data version), later ones share them (hits, or waits on that one computation). An
    estimate: the script reads the version a moment after the load starts."""

    def __init__(self, db_path: str) -> None:
        self.conn = sqlite3.connect(db_path, timeout=60, check_same_thread=False)
        self.seen: list[tuple[str, str, str]] = []
        self.known: set[tuple[str, str, str]] = set()  # (app, page, version) loaded before

    def current(self) -> str:
        row = self.conn.execute("SELECT value FROM store_meta WHERE key = 'data_version'").fetchone()
        return row[0] if row else "0"

    def note(self, base: str, path: str) -> None:
        self.seen.append((base, path, self.current()))

    def take(self) -> tuple[int, int]:
        """(data versions seen, loads that met a new (app, page, version)) since the last take."""
        seen, self.seen = self.seen, []
        new = set(seen) - self.known
        self.known |= new
        return len({v for _b, _p, v in seen}), len(new)


# --- browser sessions ------------------------------------------------------------------

async def one_session(browser, base: str, paths: list[str], loads: int, timeout_s: float,
                      versions: Versions | None = None) -> tuple[list[float], list[str]]:
    times, errors = [], []
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    try:
        for i in range(loads):
            path = paths[i % len(paths)]
            if versions:
                versions.note(base, path)
            t0 = time.perf_counter()
            try:
                await page.goto(f"{base}/{path}", wait_until="commit", timeout=timeout_s * 1000)
                await page.wait_for_function(READY_JS, timeout=timeout_s * 1000, polling=50)
                elapsed = time.perf_counter() - t0
                if await page.locator('[data-testid="stException"]').count():
                    errors.append(f"/{path}: exception on page")
                else:
                    times.append(elapsed)
            except Exception as exc:  # timeout, crash, lost connection: an error of this load
                errors.append(f"/{path}: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}")
    finally:
        await context.close()
    return times, errors


async def ws_load(base: str, path: str) -> str | None:
    """One page load over Streamlit's websocket protocol; None when ready, else the error."""
    import websockets
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    await asyncio.to_thread(lambda: urllib.request.urlopen(f"{base}/{path}", timeout=30).read())
    host = base.split("://", 1)[1]
    async with websockets.connect(f"ws://{host}/_stcore/stream", subprotocols=["streamlit"],
                                  origin=base, max_size=None, open_timeout=30) as ws:
        msg = BackMsg()
        msg.rerun_script.query_string = ""
        msg.rerun_script.page_name = path
        msg.rerun_script.context_info.timezone = "UTC"
        await ws.send(msg.SerializeToString())
        error = None
        while True:
            fwd = ForwardMsg()
            fwd.ParseFromString(await ws.recv())
            kind = fwd.WhichOneof("type")
            if kind == "delta" and fwd.delta.WhichOneof("type") == "new_element" \
                    and fwd.delta.new_element.WhichOneof("type") == "exception":
                error = f"/{path}: exception {fwd.delta.new_element.exception.type or 'on page'}"
            elif kind == "page_not_found":  # Streamlit then runs the default page: still an error
                error = f"/{path}: page not found"
            elif kind == "script_finished":
                status = fwd.script_finished
                if status == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                    return f"/{path}: compile error"
                if status == ForwardMsg.FINISHED_SUCCESSFULLY:
                    return error


async def ws_session(base: str, paths: list[str], loads: int, timeout_s: float,
                     versions: Versions | None = None) -> tuple[list[float], list[str]]:
    times, errors = [], []
    for i in range(loads):
        path = paths[i % len(paths)]
        if versions:
            versions.note(base, path)
        t0 = time.perf_counter()
        try:
            error = await asyncio.wait_for(ws_load(base, path), timeout_s)
        except Exception as exc:  # timeout, refused or dropped connection: an error of this load
            error = f"/{path}: {type(exc).__name__}: {str(exc)[:120]}"
        if error:
            errors.append(error)
        else:
            times.append(time.perf_counter() - t0)
    return times, errors


async def run_level(bases: list[str], n: int, paths: list[str], loads: int, timeout_s: float,
                    client: str = "ws", versions: Versions | None = None) -> dict:
    """n sessions at once; session i talks to app instance i mod len(bases) (a sticky balancer)."""
    async def delayed(i, run):
        await asyncio.sleep(i / max(n, 1))  # stagger starts over 1 s, like people arriving
        return await run(bases[i % len(bases)])
    if client == "ws":
        results = await asyncio.gather(*(delayed(i, lambda base: ws_session(base, paths, loads, timeout_s, versions))
                                         for i in range(n)))
    else:
        from playwright.async_api import async_playwright
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                results = await asyncio.gather(*(delayed(i, lambda base: one_session(browser, base, paths,
                                                                                      loads, timeout_s, versions))
                                                 for i in range(n)))
            finally:
                await browser.close()
    times = [t for r in results for t in r[0]]
    errors = [e for r in results for e in r[1]]
    out = {"sessions": n, "loads": n * loads, "ok": len(times), "errors": len(errors),
           "error_samples": errors[:5], "p50_s": pct(times, 50), "p95_s": pct(times, 95),
           "max_s": max(times, default=float("nan"))}
    if versions:
        out["data_versions"], out["recomputed"] = versions.take()  # about the loads that had to recompute
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_store = ROOT / "data" / "bench" / "northstar-1M.db"
    ap.add_argument("--store", default=str(default_store), help="SQLite store file (default: the 1M-deal bench store)")
    ap.add_argument("--sessions", default="1,10,25", help="comma-separated session counts")
    ap.add_argument("--loads", type=int, default=4, help="page loads per session")
    ap.add_argument("--pages", default="/,sales,marketing,finance",
                    help="url paths visited in turn; / is the default page (CEO)")
    ap.add_argument("--hold", type=float, default=1.0, help="seconds the writer keeps each transaction open")
    ap.add_argument("--batch", type=int, default=2000, help="deals updated per writer transaction")
    ap.add_argument("--pause", type=float, default=2.0, help="seconds between writer transactions")
    ap.add_argument("--timeout", type=float, default=120, help="seconds before a page load counts as an error")
    ap.add_argument("--no-writer", action="store_true", help="measure without the concurrent sync")
    ap.add_argument("--instances", type=int, default=1,
                    help="app processes sharing the store, sessions spread over them (scale-out)")
    ap.add_argument("--client", choices=("ws", "browser"), default="ws",
                    help="ws: Streamlit's websocket protocol (default); browser: headless Chromium")
    ap.add_argument("--reference", action="store_true",
                    help="also measure a trivial 4-page Streamlit app with the same sessions, level by level, "
                         "in the same run (what Streamlit alone costs on this machine)")
    ap.add_argument("--json", default=str(ROOT / "benchmarks" / "output" / "load_bench.json"))
    ap.add_argument("--writer-only", nargs=6, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.writer_only:
        url, stop, hold, batch, pause, out = args.writer_only
        writer_main(url, stop, float(hold), int(batch), float(pause), out)
        return 0

    store = Path(args.store).resolve()
    if not store.is_file():
        print(f"no store at {store}: build one first (python cli.py demo ...) or pass --store", file=sys.stderr)
        return 2
    if args.client == "browser" and not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing: apt-get install chromium", file=sys.stderr)
        return 2
    url = f"sqlite:///{store}"
    sys.path.insert(0, str(ROOT))
    from metrics import rollups_build as rollups
    from store import StoreSettings, open_store
    t0 = time.perf_counter()
    built = rollups.refresh(open_store(StoreSettings(url, "load bench")))  # as after the store's last sync
    if built:
        print(f"metric rollups were stale: rebuilt in {time.perf_counter() - t0:.1f} s before starting")
    levels = [int(x) for x in args.sessions.split(",")]
    paths = [p.strip().strip("/") for p in args.pages.split(",")]  # "" = the default page
    work = Path(tempfile.mkdtemp(prefix="ns-load-"))
    ports = [free_port() for _ in range(args.instances)]
    apps = [start_app(url, port, work / f"app-{i}.log") for i, port in enumerate(ports)]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    ref_bases = []
    if args.reference:  # as many trivial app processes as Northstar ones, same sessions
        (work / "reference_app.py").write_text(REFERENCE_APP)
        ref_ports = [free_port() for _ in range(args.instances)]
        apps += [start_app(url, port, work / f"reference-{i}.log", work / "reference_app.py")
                 for i, port in enumerate(ref_ports)]
        ports += ref_ports
        ref_bases = [f"http://127.0.0.1:{port}" for port in ref_ports]
    probe = Probe(str(store))
    versions = Versions(str(store))
    writer = None
    stop_file = work / "stop"
    report: dict = {"store": str(store), "size_mb": round(store.stat().st_size / 1e6, 1), "client": args.client,
                    "instances": args.instances, "writer": None, "levels": []}
    try:
        for port, app in zip(ports, apps):
            wait_healthy(port, app)
        print(f"{len(bases)} app instance(s) on {', '.join(bases)} (store {store.name}, "
              f"{report['size_mb']} MB)" + (f", reference app on {', '.join(ref_bases)}" if ref_bases else "")
              + "; warming up...", flush=True)
        asyncio.run(run_level(bases, len(bases), paths, len(paths), args.timeout, args.client, versions))  # fill caches
        if ref_bases:
            asyncio.run(run_level(ref_bases, len(ref_bases), paths, len(paths), args.timeout, args.client))
        # one session on warm caches before any write: what a page costs when nothing recomputes
        warm = asyncio.run(run_level(bases, 1, paths, args.loads, args.timeout, args.client, versions))
        report["warm_n1_no_writer"] = warm
        print(f"N=  1 before any write (caches warm): p50 {warm['p50_s']:.2f} s, p95 {warm['p95_s']:.2f} s, "
              f"errors {warm['errors']}", flush=True)
        probe.start()
        time.sleep(3)
        t_idle = time.monotonic()
        idle = probe.between(0, t_idle)
        report["probe_idle_p95_s"], report["probe_idle_max_s"] = pct(idle, 95), max(idle, default=0.0)
        if not args.no_writer:
            before = versions.current()
            writer = subprocess.Popen([sys.executable, __file__, "--writer-only", url, str(stop_file),
                                       str(args.hold), str(args.batch), str(args.pause), str(work / "writer.json")],
                                      cwd=ROOT)
            # every level, N=1 included, runs while the writer commits: wait for its first commit (a
            # level started before it would only read the warm-up's cached version)
            deadline = time.monotonic() + 120
            while versions.current() == before and writer.poll() is None and time.monotonic() < deadline:
                time.sleep(0.1)
        for n in levels:
            t0, cpu0 = time.monotonic(), cpu_seconds(apps[:len(bases)])
            level = asyncio.run(run_level(bases, n, paths, args.loads, args.timeout, args.client, versions))
            level["server_cpu_s"] = cpu_seconds(apps[:len(bases)]) - cpu0
            level["wall_s"] = time.monotonic() - t0
            probe_times = probe.between(t0, time.monotonic())
            level["probe_p95_s"], level["probe_max_s"] = pct(probe_times, 95), max(probe_times, default=float("nan"))
            report["levels"].append(level)
            print(f"N={n:>3}: {level['ok']}/{level['loads']} loads, p50 {level['p50_s']:.2f} s, "
                  f"p95 {level['p95_s']:.2f} s, errors {level['errors']}, "
                  f"read probe max {level['probe_max_s']:.3f} s; {level['data_versions']} data versions seen, "
                  f"about {level['recomputed']} loads recomputed; app CPU {level['server_cpu_s']:.1f} s in "
                  f"{level['wall_s']:.0f} s ({level['server_cpu_s'] / max(level['loads'], 1):.2f} s per load)", flush=True)
            if ref_bases:  # right after, same N, same client: the trivial app's time at this load
                cpu0 = cpu_seconds(apps[len(bases):])
                ref = asyncio.run(run_level(ref_bases, n, paths, args.loads, args.timeout, args.client))
                ref["server_cpu_s"] = cpu_seconds(apps[len(bases):]) - cpu0
                level["reference"] = ref
                print(f"       reference app: {ref['ok']}/{ref['loads']} loads, p50 {ref['p50_s']:.2f} s, "
                      f"p95 {ref['p95_s']:.2f} s, errors {ref['errors']}, app CPU {ref['server_cpu_s']:.1f} s "
                      f"({ref['server_cpu_s'] / max(ref['loads'], 1):.3f} s per load)", flush=True)
    finally:
        stop_file.touch()
        if writer is not None:
            writer.wait(timeout=120)
            wpath = work / "writer.json"
            report["writer"] = json.loads(wpath.read_text()) if wpath.exists() else {"errors": ["no report"]}
        probe.stop.set()
        for app in apps:
            app.terminate()
        for app in apps:
            try:
                app.wait(timeout=20)
            except subprocess.TimeoutExpired:
                app.kill()
    ref = report["levels"][0]["p95_s"] if report["levels"] else float("nan")
    print(f"\n{'N':>4} {'loads':>6} {'p50 s':>7} {'p95 s':>7} {'p95/p95(1)':>11} {'errors':>7} {'probe max s':>12}")
    for lv in report["levels"]:
        lv["p95_ratio"] = lv["p95_s"] / ref if ref else float("nan")
        print(f"{lv['sessions']:>4} {lv['loads']:>6} {lv['p50_s']:>7.2f} {lv['p95_s']:>7.2f} "
              f"{lv['p95_ratio']:>11.2f} {lv['errors']:>7} {lv['probe_max_s']:>12.3f}")
    if ref_bases and report["levels"]:
        ref1 = report["levels"][0]["reference"]["p95_s"]
        print(f"\nreference (trivial 4-page app, same sessions, same run):\n"
              f"{'N':>4} {'p50 s':>7} {'p95 s':>7} {'p95/p95(1)':>11} {'errors':>7} {'Northstar p95 / reference p95':>30}")
        for lv in report["levels"]:
            r = lv["reference"]
            r["p95_ratio"] = r["p95_s"] / ref1 if ref1 else float("nan")
            lv["p95_over_reference"] = lv["p95_s"] / r["p95_s"] if r["p95_s"] else float("nan")
            print(f"{lv['sessions']:>4} {r['p50_s']:>7.2f} {r['p95_s']:>7.2f} {r['p95_ratio']:>11.2f} "
                  f"{r['errors']:>7} {lv['p95_over_reference']:>30.2f}")
    w = report.get("writer")
    if w:
        print(f"writer: {w.get('commits', 0)} commits (each held open {args.hold:.1f} s), "
              f"{len(w.get('errors', []))} errors; read probe p95 idle {report['probe_idle_p95_s']:.3f} s")
    last = report["levels"][-1] if report["levels"] else None
    errors = sum(lv["errors"] for lv in report["levels"]) + len((w or {}).get("errors", []))
    # blocked = a read waited for most of a write transaction, beyond its own idle worst case
    blocked = any(lv["probe_max_s"] >= report["probe_idle_max_s"] + args.hold * 0.8
                  for lv in report["levels"]) if w else False
    met = bool(last) and errors == 0 and last["p95_ratio"] <= 3 and not blocked
    report["target_met"] = met
    print(f"target (no errors, p95 at N={last['sessions'] if last else '?'} <= 3x p95 at N=1, "
          f"readers never blocked): {'met' if met else 'NOT met'}")
    if last and report["warm_n1_no_writer"]["p95_s"]:
        report["p95_over_warm_n1"] = last["p95_s"] / report["warm_n1_no_writer"]["p95_s"]
        print(f"  (p95 at N={last['sessions']} with writes / p95 of one session on warm caches before any write: "
              f"{report['p95_over_warm_n1']:.1f}x)")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2))
    print(f"app logs: {work}/app-*.log")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
