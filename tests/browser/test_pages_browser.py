"""The app in a real browser (Chromium, headless): every page opens, a filter change reaches the
URL, the copied URL opens the same view, a table downloads. Screenshots go to
test-output/screenshots/; page timings (navigation click -> script finished) to
test-output/page_timings.json (reported in the README, not asserted: timing is no unit test)."""
from __future__ import annotations

import json
import time
from urllib.parse import urlparse

from tests.browser.conftest import ROOT, shot, wait_for_app

# (link text, URL path); the CEO page is the default page, served at /
NAV = [("Marketing", "marketing"), ("Sales", "sales"), ("Finance", "finance"), ("Definitions", "definitions"),
       ("Data", "data"), ("CEO", "")]


def _at_path(path: str):
    return lambda url: urlparse(url).path.strip("/") == path


def _main_text(page) -> str:
    return page.locator("[data-testid='stMain']").inner_text()


def _no_exception(page) -> None:
    assert page.locator("[data-testid='stException']").count() == 0, _main_text(page)[:2000]


def test_every_page_opens_and_timings_are_recorded(demo_app, page):
    page.goto(demo_app + "/?period=trailing_12_months")
    wait_for_app(page)
    timings = {}
    for title, path in NAV:
        started = time.monotonic()
        page.locator("[data-testid='stSidebarNav'] a", has_text=title).first.click()
        page.wait_for_url(_at_path(path))
        wait_for_app(page)
        timings[path or "ceo"] = round(time.monotonic() - started, 2)
        _no_exception(page)
        assert page.locator("h1").first.inner_text().strip(), f"{path} has no title"
        assert "period=trailing_12_months" in page.url, f"filters were lost on the way to {path}: {page.url}"
        shot(page, f"page_{path or 'ceo'}")
    out = ROOT / "test-output" / "page_timings.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(timings, indent=2))
    print("page timings (s):", timings)


def test_filter_change_reaches_the_url_and_the_copied_url_opens_the_same_view(demo_app, page, browser):
    page.goto(demo_app + "/sales")
    wait_for_app(page)
    page.locator(".st-key-f_period [role='combobox']").click()  # the widget with key f_period
    page.get_by_role("option", name="Trailing 12 months").click()
    page.wait_for_url("**period=trailing_12_months*")
    wait_for_app(page)
    tiles_before = page.locator("[data-testid='stMetricValue']").all_inner_texts()
    assert tiles_before and any(t != "n/a" for t in tiles_before)
    copied = page.url
    shot(page, "sales_trailing_12_months")

    other = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    other.goto(copied)
    wait_for_app(other)
    assert other.locator(".st-key-f_period [role='combobox']").input_value() == "Trailing 12 months"
    assert other.locator("[data-testid='stMetricValue']").all_inner_texts() == tiles_before
    other.context.close()


def test_a_table_downloads_as_csv(demo_app, page):
    page.goto(demo_app + "/definitions")
    wait_for_app(page)
    page.get_by_role("tab", name="Metric catalog").click()
    wait_for_app(page)
    with page.expect_download() as info:
        page.locator(".st-key-defs_catalog_csv button").click()  # the CSV button of the catalog table
    download = info.value
    assert download.suggested_filename == "metric_catalog.csv"
    text = open(download.path(), encoding="utf-8").read()
    assert text.splitlines()[0].startswith("Metric,ID,Owner,Unit,Definition")  # readable headers (#15)
    assert "north_star" in text
    shot(page, "definitions_catalog")


def test_french_locale_from_the_url(demo_app, page):
    page.goto(demo_app + "/?period=trailing_12_months&locale=fr-FR")
    wait_for_app(page)
    values = page.locator("[data-testid='stMetricValue']").all_inner_texts()
    money = [v for v in values if "€" in v]
    # 8,35 M€, not €8.35M; a gap keeps its words after the amount ("126 k€ ahead of target", #15)
    assert money and all(v.rstrip().removesuffix(" short of target").removesuffix(" ahead of target").endswith("€")
                         for v in money), values
    assert page.locator(".st-key-f_locale [role='combobox']").input_value().startswith("Français")
    shot(page, "ceo_fr")


def test_sales_quotas_tab_shows_reps_and_teams_on_the_demo(demo_app, page):
    """#17: the demo's reps and teams have quotas; the Quotas tab, the Sales page's first, draws
    both tables (screenshot sales_quotas, looked at when the tab changes)."""
    page.goto(demo_app + "/sales")
    wait_for_app(page)
    assert page.get_by_role("tab", name="Quotas").get_attribute("aria-selected") == "true"  # the first tab
    panel = page.get_by_role("tabpanel")
    panel.get_by_text("By team", exact=True).wait_for(timeout=30000)
    _no_exception(page)
    shot(page, "sales_quotas")
    assert panel.locator("[data-testid='stDataFrame']").count() == 2  # by rep, by team


def test_finance_recurring_revenue_tab_draws_movements_and_cohorts(demo_app, page):
    """The Finance page's Recurring revenue tab on the demo: tiles, the MRR movements chart and the
    cohort heatmap (screenshot finance_recurring.png)."""
    page.goto(demo_app + "/finance?period=trailing_12_months")
    wait_for_app(page)
    tab = page.get_by_role("tab", name="Recurring revenue")
    for _ in range(3):  # the first click after the page loads may only focus the tab bar
        box = tab.bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        try:
            page.get_by_text("MRR movements by month", exact=True).wait_for(timeout=20000)  # the tab's rerun
            break
        except Exception:  # noqa: BLE001 - click again
            continue
    wait_for_app(page)
    _no_exception(page)
    text = _main_text(page)
    for label in ("MRR", "ARR", "Net revenue retention (NRR)", "Gross revenue retention (GRR)",
                  "MRR movements by month", "Cohorts: share retained", "Churned and contracted customers"):
        assert label in text, label
    assert page.locator("[data-testid='stPlotlyChart']").count() >= 2
    shot(page, "finance_recurring", height=3200)
