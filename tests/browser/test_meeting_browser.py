"""The weekly meeting page in a real browser over the demo store (12 past weekly snapshots + this
week's): open it, go to a past week, record a decision, export the pack (HTML and XLSX) and check
the files hold the page's numbers. Screenshots: test-output/screenshots/meeting_*.png."""
from __future__ import annotations

import datetime as dt
import io
import re
from html.parser import HTMLParser

from openpyxl import load_workbook

from metrics.format import format_amount
from ui.tiles import tile_text

from tests.browser.conftest import shot, wait_for_app


def _main_text(page) -> str:
    return page.locator("[data-testid='stMain']").inner_text()


def _no_exception(page) -> None:
    assert page.locator("[data-testid='stException']").count() == 0, _main_text(page)[:2000]


def _tile(page, label: str) -> str:
    metric = page.locator("[data-testid='stMetric']").filter(has_text=label).first
    return metric.locator("[data-testid='stMetricValue']").inner_text().strip()


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.chunks, self.external = [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if (tag == "script" and a.get("src")) or (tag == "link" and a.get("href")):
            self.external.append(a.get("src") or a.get("href"))

    def handle_data(self, data):
        self.chunks.append(data)


def test_meeting_page_week_decision_and_pack(demo_app, page, tmp_path):
    page.goto(demo_app + "/meeting")
    wait_for_app(page, timeout_ms=90000)
    _no_exception(page)
    text = _main_text(page)
    assert "Weekly revenue meeting" in text and "Pipeline waterfall since the last meeting" in text
    # #18: what changed, explained, and the decisions followed open the page, before the headline
    assert text.index("What changed since the last meeting") < text.index("Decisions followed to their outcome") \
        < text.index("Quarter to date")
    assert re.search(r"Won this week [+-]", text) and re.search(r"Forecast [+-]", text)
    shot(page, "meeting_this_week")

    # a past demo week: rebuilt as the store stood then, compared with the meeting before it
    today = dt.date.today()
    past = today - dt.timedelta(days=today.weekday() + 21)
    page.get_by_role("combobox", name="Week").click()
    page.get_by_role("option", name=f"Week of {past:%d %b %Y}").click()
    page.get_by_text("rebuilt as the store stood then").first.wait_for(timeout=90000)
    wait_for_app(page, timeout_ms=90000)
    _no_exception(page)
    text = _main_text(page)
    assert "rebuilt as the store stood then" in text and "Forecast vs actual" in text
    # the quarter headline under the CEO page's labels, the week under week labels (#15)
    assert _tile(page, "North Star revenue") not in ("", "n/a")
    north_star = _tile(page, "Won this week")
    assert north_star not in ("", "n/a")
    shot(page, "meeting_past_week")

    # record a decision in that week's meeting
    form = page.locator("[data-testid='stForm']")
    form.get_by_label("Decision", exact=True).fill("Call every burnt DACH lead back by Friday")
    form.get_by_label("Owner", exact=True).fill("Head of Sales DACH")
    metric = form.get_by_role("combobox", name="Linked metric")
    metric.click()
    metric.fill("Won revenue")  # the selectbox filters its options as one types
    page.get_by_role("option", name="Won revenue", exact=True).first.wait_for(timeout=30000)
    page.keyboard.press("Enter")
    form.get_by_label("Target value", exact=True).fill("250000")
    form.get_by_role("button", name="Record decision").click()
    wait_for_app(page, timeout_ms=90000)
    page.get_by_text("Call every burnt DACH lead back by Friday").first.wait_for(timeout=30000)
    _no_exception(page)
    # followed from the week it was taken in: its aim and its first reading, above the headline
    text = _main_text(page)
    assert "Won revenue: reach €250,000" in text
    assert text.index("Won revenue: reach €250,000") < text.index("Quarter to date")
    shot(page, "meeting_decision_recorded")
    # the page top (#18): what changed, explained, and the decision followed (Streamlit scrolls inside its blocks)
    page.evaluate("() => { for (const e of document.querySelectorAll('*')) { if (e.scrollTop > 0) e.scrollTop = 0; } }")
    shot(page, "meeting_top", height=1300)

    # export the pack: the HTML opens offline and holds the page's numbers; the XLSX reads back
    with page.expect_download() as info:
        page.get_by_role("button", name="HTML pack").click()
    html_path = tmp_path / info.value.suggested_filename
    info.value.save_as(html_path)
    assert info.value.suggested_filename == f"northstar-meeting-{past.isoformat()}.html"
    parser = _Text()
    parser.feed(html_path.read_text(encoding="utf-8"))
    assert parser.external == []
    body = " ".join(parser.chunks)
    assert "Call every burnt DACH lead back by Friday" in body
    # the week's tile is compact (#15: "€159K"); the pack holds the same number in full
    raw = re.search(r'<tr data-metric="north_star">.*?data-col="value" data-value="([^"]+)"',
                    html_path.read_text(encoding="utf-8"), re.S)
    assert raw and tile_text(float(raw.group(1)), "money", "en-US", "EUR") == north_star
    assert format_amount(float(raw.group(1))) in body

    with page.expect_download() as info:
        page.get_by_role("button", name="XLSX pack").click()
    wb = load_workbook(io.BytesIO(open(info.value.path(), "rb").read()))
    assert "KPIs" in wb.sheetnames and "Decisions" in wb.sheetnames
    decisions = [r[2] for r in wb["Decisions"].iter_rows(min_row=2, values_only=True)]
    assert "Call every burnt DACH lead back by Friday" in decisions
