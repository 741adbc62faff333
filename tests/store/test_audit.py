"""store.audit: audit rows commit with the change they describe; list and CSV export."""
from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from sqlalchemy import func, select

from store import schema as s
from store.audit import audit_csv, audit_frame, list_audit, record_audit


def _count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(s.audit_log)).scalar_one()


def test_record_audit_commits_with_the_change(engine):
    with engine.begin() as conn:
        conn.execute(s.definition_overrides.insert().values(
            key="funnel.mql_stage", value_json='"mql"', changed_by="a@acme.com",
            changed_at=dt.datetime(2026, 1, 5)))
        record_audit(conn, "a@acme.com", "definition.change", "funnel.mql_stage", "lead", "mql")
    rows = list_audit(engine)
    assert len(rows) == 1
    r = rows[0]
    assert (r["actor"], r["action"], r["target"], r["before"], r["after"]) == \
        ("a@acme.com", "definition.change", "funnel.mql_stage", "lead", "mql")
    assert isinstance(r["at"], dt.datetime)


def test_record_audit_rolls_back_with_a_failed_change(engine):
    with pytest.raises(RuntimeError):
        with engine.begin() as conn:
            record_audit(conn, "a@acme.com", "decision.add", "decision 1", None, {"text": "x"})
            raise RuntimeError("the change failed after the audit row was written")
    assert _count(engine) == 0


def test_record_audit_on_engine_opens_its_own_transaction(engine):
    record_audit(engine, "local-admin", "sync", "hubspot", None, {"deals": 3})
    assert _count(engine) == 1


def test_record_audit_masks_secret_fields_and_serialises_dates(engine):
    before = {"access_token": "pat-eu1-abc", "db": {"password": "hunter2", "host": "h"}}
    after = {"since": dt.date(2026, 3, 1), "ids": {3, 1}}
    record_audit(engine, "cfo@acme.com", "settings.change", "hubspot", before, after)
    r = list_audit(engine)[0]
    assert r["before"] == {"access_token": "***", "db": {"password": "***", "host": "h"}}
    assert r["after"] == {"since": "2026-03-01", "ids": [1, 3]}


def test_record_audit_rejects_missing_actor(engine):
    with pytest.raises(ValueError):
        record_audit(engine, "", "sync", "hubspot", None, None)


def test_list_audit_newest_first_and_filters(engine):
    record_audit(engine, "a@acme.com", "import", "fec.txt", None, {"rows": 10})
    record_audit(engine, "b@acme.com", "sync", "hubspot", None, {"deals": 2})
    record_audit(engine, "a@acme.com", "decision.add", "1", None, {"text": "call"})
    assert [r["action"] for r in list_audit(engine)] == ["decision.add", "sync", "import"]
    assert [r["target"] for r in list_audit(engine, actor="a@acme.com")] == ["1", "fec.txt"]
    assert [r["actor"] for r in list_audit(engine, action="sync")] == ["b@acme.com"]
    assert len(list_audit(engine, limit=2)) == 2


def test_audit_csv_round_trips(engine):
    record_audit(engine, "a@acme.com", "definition.change", "north_star.basis",
                 "booked", "invoiced")
    rows = list(csv.DictReader(io.StringIO(audit_csv(engine))))
    assert len(rows) == 1
    assert rows[0]["actor"] == "a@acme.com"
    assert rows[0]["before"] == '"booked"' and rows[0]["after"] == '"invoiced"'


def test_audit_frame_columns_and_values(engine):
    record_audit(engine, "lead@acme.com", "decision.update", "7", {"status": "open"}, {"status": "done"})
    frame = audit_frame(engine)
    assert list(frame.columns) == ["audit_id", "at", "actor", "action", "target", "before", "after"]
    assert frame.loc[0, "before"] == '{"status": "open"}' and frame.loc[0, "after"] == '{"status": "done"}'
    assert audit_frame(engine, action="sync").empty


def test_record_audit_masks_configured_secret_values_anywhere(engine, monkeypatch):
    token = "pat-eu1-aaaabbbb-cccc-dddd-eeee-ffff00001111"
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", token)
    record_audit(engine, "local-admin", "sync", "hubspot", None,
                 {"status": "failed", "error": f"401 with Bearer {token}"})
    assert list_audit(engine)[0]["after"]["error"] == "401 with Bearer ***"
