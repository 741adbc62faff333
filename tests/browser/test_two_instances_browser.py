"""Two app instances on one PostgreSQL store (docs/operations.md, "Several instances"): they serve
the same numbers, and when one is stopped in the middle of a session the other keeps serving, a
reload on it works, and the stopped instance's view (its URL: page and filters) opens there the
same. Needs NORTHSTAR_TEST_PG_URL (a throw-away schema per test, like the store tests)."""
from __future__ import annotations

from urllib.parse import urlparse

import pytest

from store import StoreSettings, open_store
from tests.browser.conftest import start_streamlit, stop, wait_for_app
from tests.conftest import PG_URL
from upkeep import seed_demo_if_empty

pytestmark = pytest.mark.skipif(not PG_URL, reason="needs NORTHSTAR_TEST_PG_URL (a PostgreSQL store)")

VIEW = "/?period=trailing_12_months"


def _tiles(page) -> list[str]:
    return page.locator("[data-testid='stMetricValue']").all_inner_texts()


def _north_star(page) -> str:
    """The North Star tile's value on the CEO page (the first tile under its title)."""
    label = page.locator("[data-testid='stMetric']").first
    return label.locator("[data-testid='stMetricValue']").inner_text().strip()


def _no_exception(page) -> None:
    assert page.locator("[data-testid='stException']").count() == 0, \
        page.locator("[data-testid='stMain']").inner_text()[:2000]


def _open(page, url: str) -> None:
    page.goto(url)
    wait_for_app(page, timeout_ms=90000)
    _no_exception(page)


def test_two_instances_serve_the_same_numbers_and_survive_one_stopped(make_store_url, browser, tmp_path):
    url = make_store_url("postgresql")
    seed_demo_if_empty(open_store(StoreSettings(url, "two instances")))  # small demo, 12 weeks of snapshots
    procs = []
    try:
        for name in ("a", "b"):
            folder = tmp_path / name
            folder.mkdir()
            procs.append(start_streamlit(url, folder / "streamlit.log", {"NORTHSTAR_DATA_DIR": str(folder)}))
        (proc_a, base_a), (_proc_b, base_b) = procs
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        on_a, on_b = context.new_page(), context.new_page()
        _open(on_a, base_a + VIEW)
        _open(on_b, base_b + VIEW)
        star = _north_star(on_a)
        assert star and star != "n/a"
        assert _north_star(on_b) == star and _tiles(on_b) == _tiles(on_a)

        # mid-session on a: move to the Sales page, then a is stopped (a deploy, a crash)
        on_a.locator("[data-testid='stSidebarNav'] a", has_text="Sales").first.click()
        on_a.wait_for_url(lambda u: urlparse(u).path.strip("/") == "sales")
        wait_for_app(on_a, timeout_ms=90000)
        sales_on_a = _tiles(on_a)
        where = urlparse(on_a.url)
        stop(proc_a)
        assert proc_a.poll() is not None

        # b keeps serving its session: other page, back, and a reload
        on_b.locator("[data-testid='stSidebarNav'] a", has_text="Finance").first.click()
        on_b.wait_for_url(lambda u: urlparse(u).path.strip("/") == "finance")
        wait_for_app(on_b, timeout_ms=90000)
        _no_exception(on_b)
        on_b.locator("[data-testid='stSidebarNav'] a", has_text="CEO").first.click()
        on_b.wait_for_url(lambda u: urlparse(u).path.strip("/") == "")
        wait_for_app(on_b, timeout_ms=90000)
        assert _north_star(on_b) == star
        on_b.reload()
        wait_for_app(on_b, timeout_ms=90000)
        _no_exception(on_b)
        assert _north_star(on_b) == star

        # the stopped instance's user, sent to b by the load balancer: the same view, same numbers
        _open(on_a, f"{base_b}{where.path}?{where.query}")
        assert urlparse(on_a.url).path.strip("/") == "sales"
        assert _tiles(on_a) == sales_on_a
        context.close()
    finally:
        for proc, _base in procs:
            if proc.poll() is None:
                stop(proc)
