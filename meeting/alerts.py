"""Alerts: the rules of the shared definitions (`alerts:` in metrics/definitions.yaml), checked
after every sync and import, each sent once until it clears.

    coverage_below      pipeline coverage of the current fiscal quarter below the threshold
    burnt_leads_above   an owner's leads not followed up within the SLA, over the last
                        `burnt_leads_days` days, above the threshold (one alert per owner)
    forecast_drop_pct   the quarter's forecast now, against the one frozen in the weekly snapshot
                        of a week earlier (same quarter), fell by more than this percentage
    sync_failures       a connector's last runs failed this many times in a row (sync_runs)

Every figure comes from the metric layer (`compute_many`, `breakdown`) or the store's own
history (snapshots, sync runs). `check_alerts` evaluates the rules, opens a row in `alerts` for a
condition that holds and has no open row (and sends it), closes the open rows whose condition no
longer holds (`cleared_at`), and touches the others: a condition that holds on every check is
sent once. Sending goes through meeting.channels (alert recipients, else the digest's), and a
failure is recorded on the alert, never raised.
"""
from __future__ import annotations

import datetime as dt
import html
import logging
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Engine, desc, select, text

from metrics import Filters, breakdown, compute_many, get_definitions
from metrics.format import format_value
from store import schema as s, utcnow
from store.secrets import mask

from . import channels
from .channels import Delivery, Message, Targets
from .decisions import week_of
from .digest import record
from .snapshots import QUARTER_CUT, fiscal_quarter, snapshot_for_week

log = logging.getLogger("northstar.alerts")

RULES = ("coverage_below", "burnt_leads_above", "forecast_drop_pct", "sync_failures")
FINISHED = ("success", "failed", "interrupted")
ALERT_COLUMNS = ["alert_id", "alert_key", "state", "rule", "subject", "message", "value", "threshold", "fired_at",
                 "last_seen_at", "cleared_at", "delivery"]


@dataclass(frozen=True)
class Finding:
    rule: str
    subject: str
    value: float
    threshold: float
    message: str

    @property
    def key(self) -> str:
        return f"{self.rule}:{self.subject}" if self.subject else self.rule


@dataclass
class AlertRun:
    fired: list[dict]
    cleared: list[dict]
    holding: list[dict]
    deliveries: dict[str, list[Delivery]]
    problems: list[str]  # rules that could not be evaluated, and why


# --- rules -------------------------------------------------------------------------------

def _coverage(engine: Engine, defs, today: dt.date, threshold: float) -> list[Finding]:
    start, end = fiscal_quarter(today, defs.fiscal_year_start_month)
    mv = compute_many(engine, ["pipeline_coverage"], Filters(start, end))["pipeline_coverage"]
    if mv.value is None or mv.value >= threshold:
        return []
    shown = format_value(mv.value, mv.unit, defs.locale, defs.reporting_currency)
    return [Finding("coverage_below", "", mv.value, threshold,
                    f"Pipeline coverage of the quarter {start} to {end} is {shown}, below "
                    f"{format_value(threshold, mv.unit, defs.locale)} (alerts.coverage_below).")]


def _burnt_leads(engine: Engine, defs, today: dt.date, threshold: float) -> list[Finding]:
    days = int(defs.alert_threshold("burnt_leads_days") or 7)
    start = today - dt.timedelta(days=days - 1)
    out = []
    for owner, mv in breakdown(engine, "leads_not_followed_up", Filters(start, today), "owner"):
        if mv.value is not None and mv.value > threshold:
            out.append(Finding("burnt_leads_above", owner, mv.value, threshold,
                               f"{owner}: {int(mv.value)} leads not followed up within the SLA from {start} to "
                               f"{today}, above {int(threshold)} (alerts.burnt_leads_above)."))
    return out


def _forecast_drop(engine: Engine, defs, today: dt.date, threshold: float) -> list[Finding]:
    start, end = fiscal_quarter(today, defs.fiscal_year_start_month)
    week_ago = week_of(today) - dt.timedelta(days=7)
    snap = snapshot_for_week(engine, week_ago)
    if snap is None:
        return []
    m = s.snapshot_metrics
    with engine.connect() as conn:
        before = conn.execute(select(m.c.value).where(
            m.c.snapshot_id == snap["snapshot_id"], m.c.metric_id == "forecast", m.c.cut_type == QUARTER_CUT,
            m.c.cut_value == "", m.c.period_start == start, m.c.period_end == end)).scalar()
    if not before:  # another quarter's snapshot, or no forecast then: nothing to compare
        return []
    now = compute_many(engine, ["forecast"], Filters(start, end))["forecast"].value
    if now is None:
        return []
    drop = (before - now) / abs(before) * 100
    if drop <= threshold:
        return []
    fmt = lambda v: format_value(v, "money", defs.locale, defs.reporting_currency)  # noqa: E731
    return [Finding("forecast_drop_pct", "", round(drop, 1), threshold,
                    f"The forecast of the quarter {start} to {end} fell {drop:.1f}% in a week, from {fmt(before)} "
                    f"(snapshot of the week of {snap['week_start']}) to {fmt(now)}, more than {threshold:g}% "
                    "(alerts.forecast_drop_pct).")]


def _sync_failures(engine: Engine, defs, today: dt.date, threshold: float) -> list[Finding]:
    r = s.sync_runs
    need = int(threshold)
    out = []
    with engine.connect() as conn:
        connectors = conn.execute(select(r.c.connector).distinct()).scalars().all()
        for connector in sorted(connectors):
            runs = conn.execute(select(r.c.status, r.c.error).where(r.c.connector == connector,
                                                                    r.c.status.in_(FINISHED))
                                .order_by(desc(r.c.started_at), desc(r.c.run_id)).limit(need)).all()
            if len(runs) < need or any(st != "failed" for st, _ in runs):
                continue
            last = mask((runs[0].error or "no error recorded").strip().splitlines()[0])[:300].rstrip(". ")
            out.append(Finding("sync_failures", connector, float(need), threshold,
                               f"The {connector} sync failed {need} times in a row; last error: {last}. "
                               "See the Data page's connector runs, fix the cause, then sync again."))
    return out


EVALUATORS = {"coverage_below": _coverage, "burnt_leads_above": _burnt_leads,
              "forecast_drop_pct": _forecast_drop, "sync_failures": _sync_failures}


def evaluate(engine: Engine, today: dt.date | None = None) -> tuple[list[Finding], list[str], set[str]]:
    """The conditions that hold now, the rules that could not be evaluated (with why), and the rules
    evaluated (a rule that failed to evaluate keeps its open alerts as they are)."""
    today = today or utcnow().date()
    defs = get_definitions(engine)
    found: list[Finding] = []
    problems: list[str] = []
    evaluated: set[str] = set()
    for rule in RULES:
        threshold = defs.alert_threshold(rule)
        if threshold is None:
            evaluated.add(rule)  # turned off: its open alerts clear
            continue
        try:
            found += EVALUATORS[rule](engine, defs, today, threshold)
            evaluated.add(rule)
        except Exception as exc:  # noqa: BLE001 - one rule's failure must not stop the others, nor the sync
            problems.append(f"{rule}: {mask(str(exc)) or type(exc).__name__}")
            log.warning("alert rule %s could not be evaluated (%s)", rule, mask(str(exc)), exc_info=True)
    return found, problems, evaluated


# --- state -------------------------------------------------------------------------------

def _lock(conn) -> None:
    if conn.dialect.name == "postgresql":  # one checker at a time: an alert opens once
        conn.execute(text("SELECT pg_advisory_xact_lock(424244)"))


def check_alerts(engine: Engine, now: dt.datetime | None = None, send: bool = True,
                 targets: Targets | None = None, attempts: int = channels.ATTEMPTS, delay: float = 1.0) -> AlertRun:
    """Evaluate the rules, record what fired and what cleared, send what fired (see the module)."""
    now = now or utcnow()
    found, problems, evaluated = evaluate(engine, now.date())
    a = s.alerts
    fired, cleared, holding = [], [], []
    with engine.begin() as conn:
        _lock(conn)
        open_rows = {r["alert_key"]: dict(r) for r in conn.execute(select(a).where(a.c.cleared_at.is_(None))).mappings()}
        now_keys = {f.key for f in found}
        for f in found:
            if f.key in open_rows:
                conn.execute(a.update().where(a.c.alert_id == open_rows[f.key]["alert_id"])
                             .values(last_seen_at=now, value=f.value, message=f.message))
                holding.append(open_rows[f.key])
                continue
            row = {"alert_key": f.key, "rule": f.rule, "subject": f.subject, "message": f.message, "value": f.value,
                   "threshold": f.threshold, "fired_at": now, "last_seen_at": now}
            row["alert_id"] = conn.execute(a.insert().values(**row)).inserted_primary_key[0]
            fired.append(row)
        for key, row in open_rows.items():
            if key not in now_keys and row["rule"] in evaluated:
                conn.execute(a.update().where(a.c.alert_id == row["alert_id"]).values(cleared_at=now))
                cleared.append(row)
    deliveries: dict[str, list[Delivery]] = {}
    if send and fired:
        targets = targets or channels.targets_for("alert")
        if targets.configured:
            for row in fired:
                deliveries[row["alert_key"]] = _send(engine, row, targets, attempts, delay)
        else:
            with engine.begin() as conn:
                conn.execute(a.update().where(a.c.alert_id.in_([row["alert_id"] for row in fired]))
                             .values(delivery="not sent: no alert channel configured (NORTHSTAR_ALERT_TO, "
                                              "NORTHSTAR_ALERT_WEBHOOKS or the digest's)"))
    for row in fired:
        log.warning("alert: %s", row["message"])
    for row in cleared:
        log.info("alert cleared: %s", row["alert_key"])
    return AlertRun(fired, cleared, holding, deliveries, problems)


def alert_message(row: dict) -> Message:
    subject = f"Northstar alert: {row['message'][:120]}"
    link = channels.base_url()
    data_page = f"{link}/data" if link else None
    text_ = row["message"] + (f"\n\nSee the Data page: {data_page}" if data_page else "")
    esc = channels.slack_escape
    body = f"<p>{html.escape(row['message'])}</p>" + (
        f'<p><a href="{html.escape(data_page)}">Open the Data page</a></p>' if data_page else "")
    slack = {"text": subject, "blocks": [{"type": "section", "text": {"type": "mrkdwn",
                                                                       "text": f":warning: *Northstar alert*\n{esc(row['message'])}"}}]}
    teams = {"@type": "MessageCard", "@context": "https://schema.org/extensions", "summary": subject,
             "themeColor": "D9534F", "title": "Northstar alert", "text": channels.teams_escape(row["message"])}
    if data_page:
        slack["blocks"].append({"type": "actions", "elements": [{"type": "button", "url": data_page,
                                                                 "text": {"type": "plain_text", "text": "Open the Data page"}}]})
        teams["potentialAction"] = [{"@type": "OpenUri", "name": "Open the Data page",
                                     "targets": [{"os": "default", "uri": data_page}]}]
    return Message(subject, text_, f"<!DOCTYPE html><html><body>{body}</body></html>", slack, teams)


def _send(engine: Engine, row: dict, targets: Targets, attempts: int, delay: float) -> list[Delivery]:
    deliveries = channels.deliver(alert_message(row), targets, attempts=attempts, delay=delay)
    record(engine, "alert", row["alert_key"], deliveries)
    summary = "; ".join(mask(d.line()) for d in deliveries)
    with engine.begin() as conn:
        conn.execute(s.alerts.update().where(s.alerts.c.alert_id == row["alert_id"]).values(delivery=summary[:2000]))
    return deliveries


def list_alerts(engine: Engine, limit: int = 200) -> pd.DataFrame:
    """Open alerts first (newest first), then the cleared ones: ALERT_COLUMNS."""
    a = s.alerts
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(
            select(a).order_by(a.c.cleared_at.is_not(None), desc(a.c.fired_at), desc(a.c.alert_id)).limit(limit)).mappings()]
    for r in rows:
        r["state"] = "open" if r["cleared_at"] is None else "cleared"
    return pd.DataFrame(rows, columns=ALERT_COLUMNS)


def after_write(engine: Engine) -> AlertRun | None:
    """After a sync (successful or not) or an import: check the alerts. Never raises."""
    try:
        return check_alerts(engine)
    except Exception as exc:  # noqa: BLE001 - the write has committed; alerts are checked again next time
        log.warning("alerts could not be checked (%s); run `python cli.py alerts --check`",
                    mask(str(exc)) or type(exc).__name__, exc_info=True)
        return None


__all__ = ["RULES", "Finding", "AlertRun", "evaluate", "check_alerts", "list_alerts", "after_write",
           "alert_message", "ALERT_COLUMNS"]
