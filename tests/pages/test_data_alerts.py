"""The Data page lists the alerts: the open ones with their message, the history with how each was
sent (a webhook by its host only), the rules in force, and the digests and alerts sent."""
from __future__ import annotations

import datetime as dt

from meeting.alerts import check_alerts
from meeting.channels import Delivery
from meeting.digest import record
from metrics import get_definitions
from store import StoreSettings, bump_data_version, open_store, schema as s
from tests.pages.conftest import Q1, run_app


def _failed_syncs(engine, n: int) -> None:
    with engine.begin() as conn:
        for i in range(n):
            at = dt.datetime(2026, 3, 1 + i, 6)
            conn.execute(s.sync_runs.insert().values(connector="hubspot", mode="incremental", started_at=at,
                                                     finished_at=at, status="failed", counts_json="{}",
                                                     error="HubSpot answered 503"))
        bump_data_version(conn, "sync_runs")


def test_data_page_shows_open_alerts_and_what_was_sent(tiny_store, monkeypatch):
    engine = open_store(StoreSettings(tiny_store, "test"))
    hook = "https://hooks.slack.com/services/T1/B2/pageS3cretPath"
    monkeypatch.setenv("NORTHSTAR_ALERT_WEBHOOKS", hook)
    _failed_syncs(engine, 2)
    check_alerts(engine, now=dt.datetime(2026, 3, 3, 7), send=False)
    record(engine, "alert", "sync_failures:hubspot", [Delivery("slack", "slack webhook at hooks.slack.com", False, 3,
                                                               f"cannot reach the webhook ({hook})")])
    at = run_app("pages/data.py", Q1)
    assert not at.exception, [e.value for e in at.exception]
    status = next(t for t in at.tabs if t.label == "Status")
    warnings = [w.value for w in status.warning]
    assert any("The hubspot sync failed 2 times in a row" in w for w in warnings), warnings
    assert any("a connector failing 2 times in a row" in c.value for c in status.caption)
    frames = [df.value for df in at.dataframe]
    history = next(f for f in frames if "delivery" in f.columns)
    assert list(history["state"]) == ["open"]
    sent = next(f for f in frames if "attempts" in f.columns)
    assert list(sent["target"]) == ["slack webhook at hooks.slack.com"]
    page_text = str([f.to_dict() for f in frames]) + str(warnings)
    assert "pageS3cretPath" not in page_text


def test_data_page_without_alerts(tiny_store):
    at = run_app("pages/data.py", Q1)
    assert not at.exception
    status = next(t for t in at.tabs if t.label == "Status")
    assert any("No open alert" in m.value for m in status.success)


def test_alert_thresholds_are_shown_and_edited_on_the_definitions_page(tiny_store):
    at = run_app("pages/definitions.py", Q1)
    assert not at.exception, [e.value for e in at.exception]
    shared = next(df.value for df in at.dataframe if "key" in df.value.columns)
    rows = dict(zip(shared["key"], shared["value"]))
    assert rows["alerts.coverage_below"] == "2.0" and rows["alerts.sync_failures"] == "2"
    at.number_input(key="defs_alert_coverage_below").set_value(1.5)
    at.checkbox(key="defs_alert_on_forecast_drop_pct").uncheck()  # turns the rule off
    at.button(key="defs_save").click().run()
    assert not at.exception, [e.value for e in at.exception]
    engine = open_store(StoreSettings(tiny_store, "test"))
    defs = get_definitions(engine)
    assert defs.alert_threshold("coverage_below") == 1.5 and defs.alert_threshold("forecast_drop_pct") is None
    shared = next(df.value for df in at.dataframe if "key" in df.value.columns)
    assert dict(zip(shared["key"], shared["value"]))["alerts.forecast_drop_pct"] == "off"
