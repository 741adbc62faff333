"""Alerts: each rule of the shared definitions fires once, is sent once through the channels, stays
open while it holds and clears when it no longer does; checked after syncs (failed ones too) and
imports. On SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt
import json
import logging

import pytest
from sqlalchemy import select, update

import cli
import upkeep
from meeting import alerts, channels
from meeting.snapshots import reconstruct_snapshot
from meeting_crm import NOW, seed_leads
from local_servers import WebhookReceiver
from metrics import DefinitionsError, rollups, rollups_build, save_definition
from store import bump_data_version, schema as s

T = dt.datetime
HOOK_PATH = "/services/T9/B9/alertS3cretPath"


@pytest.fixture
def hook(monkeypatch):
    monkeypatch.setattr(channels.time, "sleep", lambda s: None)
    with WebhookReceiver() as receiver:
        monkeypatch.setenv("NORTHSTAR_ALERT_WEBHOOKS", "slack+" + receiver.url(HOOK_PATH))
        yield receiver


def _quiet(engine, *keep: str) -> None:
    """Turn off every rule but `keep` (null threshold)."""
    for rule in alerts.RULES:
        if rule not in keep:
            save_definition(engine, f"alerts.{rule}", None, actor="test")


def _run(engine, status: str, at: T, error: str | None = None) -> None:
    with engine.begin() as conn:
        conn.execute(s.sync_runs.insert().values(connector="hubspot", mode="incremental", started_at=at,
                                                 finished_at=at, status=status, counts_json="{}", error=error))
        bump_data_version(conn, "sync_runs")


def test_sync_failing_twice_fires_once_and_clears(engine, hook, caplog):
    caplog.set_level(logging.DEBUG)
    _quiet(engine, "sync_failures")
    _run(engine, "success", T(2026, 11, 1))
    _run(engine, "failed", T(2026, 11, 2), "HubSpot answered 401 for token pat-na1-11111111-2222-3333-4444-555555555555")
    assert alerts.check_alerts(engine, now=T(2026, 11, 2, 1)).fired == []  # once is not twice
    _run(engine, "failed", T(2026, 11, 3), "HubSpot answered 401")
    first = alerts.check_alerts(engine, now=T(2026, 11, 3, 1))
    assert [r["alert_key"] for r in first.fired] == ["sync_failures:hubspot"]
    assert "failed 2 times in a row" in first.fired[0]["message"]
    again = alerts.check_alerts(engine, now=T(2026, 11, 3, 2))
    assert again.fired == [] and [r["alert_key"] for r in again.holding] == ["sync_failures:hubspot"]
    assert len(hook.posts) == 1  # sent once while it holds
    path, body = hook.posts[0]
    assert path == HOOK_PATH and "hubspot sync failed 2 times" in body["blocks"][0]["text"]["text"]
    _run(engine, "success", T(2026, 11, 4))
    cleared = alerts.check_alerts(engine, now=T(2026, 11, 4, 1))
    assert [r["alert_key"] for r in cleared.cleared] == ["sync_failures:hubspot"]
    _run(engine, "failed", T(2026, 11, 5))
    _run(engine, "failed", T(2026, 11, 6))
    assert len(alerts.check_alerts(engine, now=T(2026, 11, 6, 1)).fired) == 1  # a new episode fires again
    listed = alerts.list_alerts(engine)
    assert list(listed.state) == ["open", "cleared"]
    assert listed.iloc[1]["cleared_at"] == T(2026, 11, 4, 1)
    assert "slack webhook at 127.0.0.1: sent" in listed.iloc[1]["delivery"]
    with engine.connect() as conn:
        sent = conn.execute(select(s.notifications.c.kind, s.notifications.c.ref, s.notifications.c.ok)).all()
    assert sent == [("alert", "sync_failures:hubspot", True)] * 2
    text = caplog.text + str(listed.to_dict("records"))
    assert "alertS3cretPath" not in text and "pat-na1-11111111" not in text


def test_failed_sync_checks_alerts_through_upkeep(engine, hook):
    _quiet(engine, "sync_failures")
    _run(engine, "failed", T(2026, 11, 2))
    _run(engine, "failed", T(2026, 11, 3))
    upkeep.after_sync_failed(engine)
    assert len(hook.posts) == 1
    upkeep.after_import(engine)  # an import checks them too: still open, not sent again
    assert len(hook.posts) == 1 and list(alerts.list_alerts(engine).state) == ["open"]


def test_coverage_rule_follows_the_shared_threshold(crm, hook):
    _quiet(crm, "coverage_below")
    save_definition(crm, "alerts.coverage_below", 50.0, actor="test")
    run = alerts.check_alerts(crm, now=NOW)
    assert [r["alert_key"] for r in run.fired] == ["coverage_below"] and run.fired[0]["threshold"] == 50.0
    assert "below 50.0x" in run.fired[0]["message"]
    save_definition(crm, "alerts.coverage_below", 0.0001, actor="test")
    assert [r["alert_key"] for r in alerts.check_alerts(crm, now=NOW).cleared] == ["coverage_below"]
    assert len(hook.posts) == 1


def test_burnt_leads_per_owner(crm, hook):
    seed_leads(crm)
    _quiet(crm, "burnt_leads_above")
    save_definition(crm, "alerts.burnt_leads_above", 1, actor="test")
    run = alerts.check_alerts(crm, now=T(2026, 11, 15, 12))  # last 7 days: 9-15 Nov
    assert [r["alert_key"] for r in run.fired] == ["burnt_leads_above:Ana Roux"]  # 2 > 1; Ben has 1
    assert run.fired[0]["value"] == 2.0
    with crm.begin() as conn:  # Ana's leads get their first touch: the alert clears
        conn.execute(update(s.contacts).where(s.contacts.c.owner_id == "o1")
                     .values(first_sales_touch_at=s.contacts.c.became_mql_at + dt.timedelta(hours=1)))
        bump_data_version(conn, "contacts")
    assert [r["alert_key"] for r in alerts.check_alerts(crm, now=T(2026, 11, 15, 13)).cleared] == \
        ["burnt_leads_above:Ana Roux"]


def test_forecast_drop_week_over_week(crm, hook):
    _quiet(crm, "forecast_drop_pct")
    reconstruct_snapshot(crm, dt.date(2026, 11, 9), now=NOW)  # the forecast frozen a week earlier
    assert alerts.check_alerts(crm, now=NOW).fired == []
    with crm.begin() as conn:  # the open deals vanish: the forecast falls
        conn.execute(update(s.deals).where(s.deals.c.deal_id.in_(["d2", "d4"])).values(is_deleted=True))
        bump_data_version(conn, "deals")
    run = alerts.check_alerts(crm, now=NOW)
    assert [r["alert_key"] for r in run.fired] == ["forecast_drop_pct"]
    assert run.fired[0]["value"] > 10 and "fell" in run.fired[0]["message"]


def test_without_channels_an_alert_is_recorded_and_says_it_was_not_sent(engine, monkeypatch):
    for var in ("NORTHSTAR_ALERT_WEBHOOKS", "NORTHSTAR_DIGEST_WEBHOOKS", "NORTHSTAR_ALERT_TO", "NORTHSTAR_DIGEST_TO"):
        monkeypatch.delenv(var, raising=False)
    _quiet(engine, "sync_failures")
    _run(engine, "failed", T(2026, 11, 2))
    _run(engine, "failed", T(2026, 11, 3))
    run = alerts.check_alerts(engine, now=T(2026, 11, 3, 1))
    assert len(run.fired) == 1 and run.deliveries == {}
    assert alerts.list_alerts(engine).iloc[0]["delivery"].startswith("not sent: no alert channel configured")


def test_a_failing_rule_never_stops_the_others(engine, hook, monkeypatch):
    def broken(*args):
        raise RuntimeError("boom")
    monkeypatch.setitem(alerts.EVALUATORS, "coverage_below", broken)
    _run(engine, "failed", T(2026, 11, 2))
    _run(engine, "failed", T(2026, 11, 3))
    run = alerts.check_alerts(engine, now=T(2026, 11, 3, 1))
    assert run.problems == ["coverage_below: boom"] and [r["rule"] for r in run.fired] == ["sync_failures"]


def test_editing_a_threshold_leaves_the_metric_rollups_fresh(crm):
    rollups_build.refresh(crm)
    assert all(st["fresh"] for st in rollups.status(crm).values())
    save_definition(crm, "alerts.coverage_below", 3.0, actor="test")
    assert all(st["fresh"] for st in rollups.status(crm).values())
    save_definition(crm, "funnel.follow_up_sla_hours", 24, actor="test")  # a definition the numbers use
    assert not all(st["fresh"] for st in rollups.status(crm).values())


def test_bad_threshold_is_refused_with_what_to_write(engine):
    with pytest.raises(DefinitionsError, match="alerts.forecast_drop_pct.*a percentage like 10"):
        save_definition(engine, "alerts.forecast_drop_pct", "ten", actor="test")


def test_alerts_command(engine, hook, monkeypatch, capsys, store_url):
    monkeypatch.setenv("NORTHSTAR_DB_URL", store_url)
    _quiet(engine, "sync_failures")
    _run(engine, "failed", T(2026, 11, 2))
    _run(engine, "failed", T(2026, 11, 3))
    assert cli.main(["alerts", "--check"]) == 0
    out = capsys.readouterr().out
    assert "fired: The hubspot sync failed 2 times in a row" in out and "1 fired, 0 still open, 0 cleared" in out
    assert cli.main(["alerts"]) == 0
    assert "open" in capsys.readouterr().out
    assert "alertS3cretPath" not in out
    assert cli.main(["alerts", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(a["alert_key"], a["state"], a["cleared_at"]) for a in listed] == [("sync_failures:hubspot", "open", None)]
