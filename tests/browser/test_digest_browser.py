"""The digest email as a mail client shows it: its HTML rendered by Chromium, every section
visible, numbers right-aligned, the link a button; a screenshot in test-output/screenshots."""
from __future__ import annotations

import datetime as dt

from meeting import digest
from meeting.snapshots import reconstruct_snapshot, take_snapshot
from tests.browser.conftest import SCREENSHOTS
from tests.meeting.meeting_crm import NOW, THIS_WEEK, seed_crm, seed_leads


def test_digest_email_renders(engine, page):
    seed_crm(engine)
    seed_leads(engine)
    reconstruct_snapshot(engine, dt.date(2026, 11, 9), now=NOW)
    take_snapshot(engine, kind="weekly", now=NOW)
    d = digest.build_digest(engine, THIS_WEEK, base_url="https://northstar.acme.example", today=NOW.date())
    page.set_viewport_size({"width": 800, "height": 900})
    page.set_content(digest.to_html(d))
    titles = page.locator("h2").all_inner_texts()
    assert titles == [sec.title for sec in d.sections]
    assert page.get_by_text("€35,000 short of target", exact=False).is_visible()
    button = page.get_by_role("link", name="Open the meeting page")
    assert button.get_attribute("href") == "https://northstar.acme.example/meeting?week=2026-11-16"
    owners = page.locator("h2[data-section=burnt_leads] + table td").all_inner_texts()
    assert owners == ["Ana Roux", "2", "€0", "Ben Maier", "1", "€0"]
    align = page.locator("h2[data-section=burnt_leads] + table td").nth(1).evaluate("e => getComputedStyle(e).textAlign")
    assert align == "right"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "digest-email.png"), full_page=True)
