"""`cli.py sync hubspot`: progress per object, a summary, and clear errors."""
from __future__ import annotations

import logging

import pytest

import cli
from fake_hubspot import FakeHubSpot, generate_account
from meeting import channels
from meeting.alerts import list_alerts
from tests.meeting.local_servers import WebhookReceiver
from store import StoreSettings, open_store
from store import schema as s
from sqlalchemy import func, select


@pytest.fixture(autouse=True)
def _restore_logging():
    """cli.main() configures logging on captured streams: undo it for the tests after."""
    handlers, level = logging.root.handlers[:], logging.root.level
    yield
    logging.root.handlers[:] = handlers
    logging.root.setLevel(level)


def test_cli_sync_shows_progress_per_object_and_a_summary(store_url, monkeypatch, capsys):
    acct = generate_account(contacts=20, deals=10, companies=5)
    with FakeHubSpot(acct) as fake:
        monkeypatch.setenv("NORTHSTAR_DB_URL", store_url)
        monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", fake.token)
        monkeypatch.setenv("HUBSPOT_API_HOST", fake.url)
        assert cli.main(["sync", "hubspot", "--objects", "deals,owners"]) == 0
    out, err = capsys.readouterr()
    lines = [ln.strip() for ln in err.replace("\r", "\n").splitlines() if ln.strip()]
    assert any(ln.startswith("owners") and "done" in ln for ln in lines)
    assert any(ln.startswith("deals") and "done" in ln for ln in lines)
    assert not any(ln.startswith("contacts") for ln in lines)  # --objects limits the run
    assert "hubspot sync success" in out and fake.token not in out + err
    engine = open_store(StoreSettings(store_url, "test"))
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(s.deals)).scalar() == len(acct.live("deals"))
        assert conn.execute(select(func.count()).select_from(s.contacts)).scalar() == 0


def test_cli_sync_rejects_unknown_objects_and_missing_token(store_url, monkeypatch, capsys):
    monkeypatch.setenv("NORTHSTAR_DB_URL", store_url)
    monkeypatch.chdir("/")  # no .streamlit/secrets.toml
    assert cli.main(["sync", "hubspot"]) == 2
    assert "HUBSPOT_ACCESS_TOKEN" in capsys.readouterr().err
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "pat-x")
    assert cli.main(["sync", "hubspot", "--objects", "deals,tickets"]) == 2
    err = capsys.readouterr().err
    assert "tickets" in err and "choose from" in err and "Traceback" not in err


def test_cli_sync_failing_twice_raises_the_alert_once(store_url, monkeypatch, capsys):
    acct = generate_account(contacts=5, deals=3, companies=2)
    monkeypatch.setattr(channels.time, "sleep", lambda s: None)
    with FakeHubSpot(acct) as fake, WebhookReceiver() as hook:
        monkeypatch.setenv("NORTHSTAR_DB_URL", store_url)
        monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "pat-na1-00000000-0000-0000-0000-000000000000")  # refused
        monkeypatch.setenv("HUBSPOT_API_HOST", fake.url)
        monkeypatch.setenv("NORTHSTAR_ALERT_WEBHOOKS", "slack+" + hook.url())
        assert cli.main(["sync", "hubspot", "-q"]) == 2
        assert hook.posts == []  # once is not twice
        assert cli.main(["sync", "hubspot", "-q"]) == 2
        assert cli.main(["sync", "hubspot", "-q"]) == 2  # still failing: not sent again
    capsys.readouterr()
    assert len(hook.posts) == 1
    assert "hubspot sync failed" in hook.posts[0][1]["blocks"][0]["text"]["text"]
    assert "pat-na1-00000000" not in str(hook.posts)
    engine = open_store(StoreSettings(store_url, "test"))
    assert list(list_alerts(engine).alert_key) == ["sync_failures:hubspot"]
