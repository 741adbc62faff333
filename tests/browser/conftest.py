"""Shared browser fixtures: a Streamlit server on a free localhost port over a demo store, and
Debian's Chromium driven by Playwright (headless). Tests here are marked `browser`; they skip when
/usr/bin/chromium is missing, unless the CI env var is set (then they fail).

    def test_x(demo_app, page):           # demo_app: base URL; page: a fresh 1440x900 tab
        page.goto(demo_app + "/sales"); wait_for_app(page); shot(page, "sales")
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = ROOT / "test-output" / "screenshots"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.browser)


def _need_chromium() -> None:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_streamlit(store_url: str, log_path: Path, extra_env: dict | None = None):
    """Start `streamlit run app.py` on a free port; returns (process, base URL) once healthy."""
    port = free_port()
    env = {**os.environ, "NORTHSTAR_DB_URL": store_url, "NORTHSTAR_SEED_DEMO": "0", **(extra_env or {})}
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited: {log_path.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(base + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc, base
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    raise RuntimeError(f"streamlit did not answer within 60 s: {log_path.read_text()[-2000:]}")


def stop(proc) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def demo_store_path(tmp_path_factory) -> Path:
    from store import StoreSettings, open_store
    from upkeep import seed_demo_if_empty
    path = tmp_path_factory.mktemp("browser-demo") / "demo.db"
    seed_demo_if_empty(open_store(StoreSettings(f"sqlite:///{path}", "test")))
    return path


@pytest.fixture(scope="session")
def demo_app(demo_store_path, tmp_path_factory):
    """Base URL of a Streamlit server over a copy of the small demo store (one per session)."""
    _need_chromium()
    folder = tmp_path_factory.mktemp("browser-app")
    path = folder / "demo.db"
    shutil.copy(demo_store_path, path)
    proc, base = start_streamlit(f"sqlite:///{path}", folder / "streamlit.log",
                                 {"NORTHSTAR_DATA_DIR": str(folder)})
    yield base
    stop(proc)


@pytest.fixture(scope="session")
def browser():
    _need_chromium()
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:  # launch() gives Chromium a new temporary user-data-dir
        b = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True)
    tab = context.new_page()
    yield tab
    context.close()


def wait_for_app(page, timeout_ms: int = 30000) -> None:
    """Wait until Streamlit has finished running the page script: the app root reports the script
    state "notRunning" (data-test-script-state), the page has its title, and nothing is stale;
    stable over two checks 100 ms apart."""
    page.wait_for_function(
        """() => {
            const app = document.querySelector("[data-testid='stApp']");
            const main = document.querySelector("[data-testid='stMain']");
            const done = !!app && app.getAttribute("data-test-script-state") === "notRunning"
                && !!main && !!main.querySelector("h1")
                && document.querySelectorAll("[data-testid='stSkeleton']").length === 0
                && document.querySelectorAll("[data-stale='true']").length === 0;
            if (!done) { window.__nsStable = 0; return false; }
            const now = Date.now();
            if (!window.__nsStable) { window.__nsStable = now; return false; }
            return now - window.__nsStable >= 100;
        }""", timeout=timeout_ms, polling=50)


def shot(page, name: str, height: int = 2600) -> Path:
    """Screenshot the whole page: Streamlit scrolls inside its main block, so the viewport is made
    tall for the shot (then restored)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": height})
    try:
        wait_for_app(page)
        page.screenshot(path=str(path))
    finally:
        page.set_viewport_size(size)
    return path
