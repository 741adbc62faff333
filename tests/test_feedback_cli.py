"""`cli.py feedback accept|reject`: sales' verdict on leads from the shell, stored and audited as
on the Sales page; a bad reason exits 2 with what to do and stores nothing."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

import cli
from store import StoreSettings, open_store, schema as s


def _store(store_url, monkeypatch):
    monkeypatch.setenv("NORTHSTAR_DB_URL", store_url)
    monkeypatch.delenv("HUBSPOT_WRITE_LEAD_FEEDBACK", raising=False)
    engine = open_store(StoreSettings(store_url, "test"))
    with engine.begin() as conn:
        conn.execute(s.contacts.insert(), [
            {"contact_id": cid, "email": f"{cid}@client.example", "became_mql_at": dt.datetime(2026, 11, 2),
             "origin": "hubspot"} for cid in ("101", "102")])
    return engine


def test_feedback_cli_accepts_and_rejects(store_url, monkeypatch, capsys):
    engine = _store(store_url, monkeypatch)
    assert cli.main(["feedback", "accept", "101", "--as", "Alice@Acme.com"]) == 0
    assert capsys.readouterr().out.strip() == "1 lead accepted."
    assert cli.main(["feedback", "reject", "101", "102", "--reason", "duplicate", "--note", "same person",
                     "--as", "alice@acme.com"]) == 0
    assert capsys.readouterr().out.strip() == "2 leads rejected."
    with engine.connect() as conn:
        rows = conn.execute(select(s.lead_feedback.c.contact_id, s.lead_feedback.c.verdict, s.lead_feedback.c.reason,
                                   s.lead_feedback.c.note, s.lead_feedback.c.decided_by)
                            .order_by(s.lead_feedback.c.feedback_id)).all()
    assert rows == [("101", "accepted", None, None, "alice@acme.com"),
                    ("101", "rejected", "duplicate", "same person", "alice@acme.com"),
                    ("102", "rejected", "duplicate", "same person", "alice@acme.com")]


def test_feedback_cli_refuses_an_unknown_reason(store_url, monkeypatch, capsys):
    engine = _store(store_url, monkeypatch)
    assert cli.main(["feedback", "reject", "101", "--reason", "too_pricey", "--as", "alice@acme.com"]) == 2
    err = capsys.readouterr().err
    assert "'too_pricey' is not in the shared definitions" in err and "no_budget" in err
    with engine.connect() as conn:
        assert conn.execute(select(s.lead_feedback)).first() is None
