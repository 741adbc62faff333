"""The Data page's HubSpot panel, run with Streamlit's AppTest against the fake HubSpot."""
from __future__ import annotations

import time

from streamlit.testing.v1 import AppTest

from ui import hubspot_panel as ui
from fake_hubspot import FakeHubSpot, Faults, generate_account


def _panel(url: str) -> None:
    from ui.hubspot_panel import render_sync_panel
    from store import StoreSettings, open_store
    render_sync_panel(open_store(StoreSettings(url, "test")))


def _wait(job, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not job.finished and time.monotonic() < deadline:
        time.sleep(0.05)
    assert job.finished


def test_panel_without_token_says_where_to_set_it(store_url):
    at = AppTest.from_function(_panel, args=(store_url,)).run(timeout=30)
    assert not at.exception
    assert any("HUBSPOT_ACCESS_TOKEN" in w.value for w in at.warning)
    assert not at.button  # no Sync now without a token
    assert any("No HubSpot sync yet" in i.value for i in at.info)


def test_panel_sync_now_runs_in_background_and_lists_the_run(store_url, monkeypatch):
    acct = generate_account(contacts=30, deals=15, companies=10)
    with FakeHubSpot(acct, latency_s=0.05) as fake:  # slow enough to see it running
        monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", fake.token)
        monkeypatch.setenv("HUBSPOT_API_HOST", fake.url)
        at = AppTest.from_function(_panel, args=(store_url,)).run(timeout=30)
        at.button(key="hubspot_sync_now").click().run(timeout=30)
        assert not at.exception
        assert any("Sync running" in m.value for m in at.markdown)
        bars = at.get("progress")
        assert len(bars) == 8  # one per object: owners ... deals, feedback submissions (NPS)
        at.run(timeout=30)  # the button was drawn before the click started the sync
        assert at.button(key="hubspot_sync_now").disabled  # no second sync meanwhile
        job = next(iter(j for k, j in ui._JOBS.items() if k.endswith(store_url.split("/")[-1])))
        _wait(job)
        at.run(timeout=30)
    assert job.error is None
    runs = at.dataframe[0].value
    assert list(runs["status"]) == ["success"]
    assert runs["records written"].iloc[0] >= len(acct.live("contacts")) + len(acct.live("deals"))
    assert any("Sync finished" in s.value for s in at.success)


def test_panel_shows_the_error_and_next_step(store_url, monkeypatch):
    with FakeHubSpot(generate_account(contacts=5, deals=2, companies=2),
                     faults=Faults(rate=1.0, kinds=("DAILY",))) as fake:
        monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", fake.token)
        monkeypatch.setenv("HUBSPOT_API_HOST", fake.url)
        at = AppTest.from_function(_panel, args=(store_url,)).run(timeout=30)
        at.button(key="hubspot_sync_now").click().run(timeout=30)
        job = next(iter(j for k, j in ui._JOBS.items() if k.endswith(store_url.split("/")[-1])))
        _wait(job)
        at.run(timeout=30)
    errors = " ".join(e.value for e in at.error)
    assert "daily API limit" in errors and "run the sync again after the reset" in errors, \
        (errors, job.error)
    assert fake.token not in errors
