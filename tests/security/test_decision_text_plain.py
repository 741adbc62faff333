"""Issue #13, finding 8: decision text (and its owner) is shown as plain text on the meeting page, so
an editor's `![t](http://host/track.png)` never makes a viewer's browser fetch an image and a link is
not clickable; the HTML meeting pack escapes it too."""
from __future__ import annotations

import datetime as dt

import pytest
from streamlit.testing.v1 import AppTest

from meeting.decisions import add_decision, week_of
from meeting.pack import to_html
from meeting.report import week_report
from meeting.snapshots import reconstruct_snapshot, take_snapshot
from store import StoreSettings, open_store
from tests.meeting.meeting_crm import meeting_page_as, seed_crm

THIS_WEEK = week_of(dt.date.today())
IMAGE = "![t](http://host.example/track.png)"
LINK = "[Open the report](http://phish.example/login)"
TEXT = f"Review pricing {IMAGE} then {LINK} <img src=x onerror=alert(1)>"
OWNER = "**CSO** ![o](http://host.example/owner.png)"


@pytest.fixture
def decision_store(make_store_url, backend, monkeypatch):
    url = make_store_url(backend)
    engine = open_store(StoreSettings(url, "test"))
    seed_crm(engine)
    reconstruct_snapshot(engine, THIS_WEEK - dt.timedelta(days=7))
    take_snapshot(engine)
    add_decision(engine, text=TEXT, owner=OWNER, actor="lead@acme.com", week_start=THIS_WEEK)
    add_decision(engine, text=f"Carried: {IMAGE}", owner="Ana", actor="lead@acme.com",
                 week_start=THIS_WEEK - dt.timedelta(days=7))
    monkeypatch.setenv("NORTHSTAR_DB_URL", url)
    monkeypatch.setenv("NORTHSTAR_SEED_DEMO", "0")
    return engine


def _markdown_bodies(at: AppTest) -> list[str]:
    """Every element body Streamlit renders as Markdown (markdown, caption, alerts, toasts)."""
    kinds = (at.markdown, at.caption, at.info, at.warning, at.error, at.success, at.toast)
    return [str(e.value) for kind in kinds for e in kind]


@pytest.mark.parametrize("email", ["ann@acme.com", "lead@acme.com"])  # a viewer and an editor
def test_decision_text_is_plain_text_on_the_meeting_page(decision_store, email):
    at = meeting_page_as(email)
    plain = [t.value for t in at.text]
    assert TEXT in plain, "the decision is shown word for word, as text"
    assert f"Carried: {IMAGE}" in plain, "so is an open item carried over from an earlier week"
    assert any(OWNER in t for t in plain), "the owner too"
    for body in _markdown_bodies(at):
        for fragment in ("](http://host.example", "](http://phish.example", "<img", "**CSO**"):
            assert fragment not in body, f"{fragment!r} would be rendered as Markdown in {body!r}"


def test_decision_text_is_escaped_in_the_html_pack(decision_store):
    page = to_html(week_report(decision_store, THIS_WEEK))
    assert "<img src=x" not in page and '<img src="http://host.example' not in page
    assert "![t](http://host.example/track.png)" in page, "Markdown is not rendered: it stays as typed"
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
