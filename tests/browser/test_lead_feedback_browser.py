"""The Sales page's Lead feedback tab in a real browser (Chromium, headless) on the demo store:
the tab opens without an error and shows the verdict form, the acceptance tiles with their counts
and the period's MQLs. Screenshot: test-output/screenshots/sales_lead_feedback.png. (Saving a
verdict through the form is tested with AppTest: tests/pages/test_lead_feedback_page.py.)"""
from __future__ import annotations

from tests.browser.conftest import shot, wait_for_app


def _main_text(page) -> str:
    return page.locator("[data-testid='stMain']").inner_text()


def _open_tab(page, name: str, shows: str) -> None:
    """Click a lazy tab until its content shows. The first tab click after a page load is sometimes
    answered with the first tab again (seen on every page's lazy tabs, not only this one); a second
    click opens it."""
    for _ in range(4):
        if page.get_by_text(shows).count() == 0:
            page.get_by_role("tab", name=name).click()
        wait_for_app(page)
        page.wait_for_timeout(2500)  # the reverting answer, when it comes, comes within this
        wait_for_app(page)
        if page.get_by_text(shows).count():
            return
    raise AssertionError(f"the {name} tab did not open: {_main_text(page)[:1500]}")


def test_sales_lead_feedback_tab_in_the_browser(demo_app, page):
    page.goto(demo_app + "/sales")
    wait_for_app(page)
    _open_tab(page, "Lead feedback", "Only leads without a verdict")
    assert page.locator("[data-testid='stException']").count() == 0, _main_text(page)[:2000]
    text = _main_text(page)
    for expected in ("Save verdict", "Reason (when rejected)", "MQL acceptance rate", "MQLs accepted by sales",
                     "MQLs rejected by sales", "MQLs with a sales verdict"):
        assert expected in text, expected
    values = page.locator("[data-testid='stMetric']", has_text="MQLs with a sales verdict") \
        .locator("[data-testid='stMetricValue']").inner_text()
    assert int(values.replace(",", "")) > 0  # the demo's owners have judged leads this quarter
    shot(page, "sales_lead_feedback")
