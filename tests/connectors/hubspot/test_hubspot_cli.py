"""`cli.py sync hubspot`: progress per object, a summary, and clear errors."""
from __future__ import annotations

import logging

import pytest

import cli
from fake_hubspot import FakeHubSpot, generate_account
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
