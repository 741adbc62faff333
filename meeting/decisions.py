"""The decision log of the weekly meeting: what, owner, due date, linked metric, status, and what
the decision should move: the linked metric's segment (region, product line, owner or source;
none = the whole company), the direction it should go (up or down) and/or the value it should reach
by the due date (meeting.outcomes follows it week by week to a verdict).

A decision is recorded in the meeting of one week (`meeting_decisions.week_start`) and is carried
into every later meeting as an open item until it is closed (done or dropped). Every change writes
a `decision_events` row (the decision's own history) and an audit row, in the same transaction.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import Engine, and_, or_, select

from metrics import REGISTRY
from metrics.definitions import load_definitions
from metrics.dimensions import options
from store import bump_data_version, schema as s, utcnow
from store.audit import record_audit

STATUSES = ("open", "done", "dropped")
SEGMENTS = ("region", "product_line", "owner", "source")
DIRECTIONS = ("up", "down")
EDITABLE = ("text", "owner", "due_date", "metric_id", "status", "segment_type", "segment_value", "direction",
            "target_value")
AIM = ("segment_type", "segment_value", "direction", "target_value")  # what needs a linked metric


class DecisionError(ValueError):
    """A decision cannot be saved as given; the message says what to change."""


def week_of(day: dt.date) -> dt.date:
    """The Monday of the week `day` is in (weeks start on Monday)."""
    return day - dt.timedelta(days=day.weekday())


def _plain(row: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v) for k, v in row.items()}


def _check(values: dict[str, Any]) -> dict[str, Any]:
    out = dict(values)
    for key in ("text", "owner"):
        if key in out:
            out[key] = (out[key] or "").strip()
            if not out[key]:
                raise DecisionError(f"A decision needs a {'description' if key == 'text' else 'owner'} "
                                    f"(got an empty {key}).")
    if "status" in out and out["status"] not in STATUSES:
        raise DecisionError(f"Status {out['status']!r} is not one of {', '.join(STATUSES)}.")
    if "due_date" in out and out["due_date"] is not None and not isinstance(out["due_date"], dt.date):
        try:
            out["due_date"] = dt.date.fromisoformat(str(out["due_date"]))
        except ValueError:
            raise DecisionError(f"Due date {out['due_date']!r} is not a date like 2026-12-31.") from None
    if out.get("metric_id"):
        if out["metric_id"] not in REGISTRY:
            raise DecisionError(f"Metric {out['metric_id']!r} is not in the catalog "
                                f"(e.g. {next(iter(REGISTRY), 'won_revenue')!r}).")
    elif "metric_id" in out:
        out["metric_id"] = None
    for key in ("segment_type", "segment_value", "direction"):
        if key in out:
            out[key] = (str(out[key]).strip() if out[key] is not None else "") or None
    if out.get("segment_type") is not None and out["segment_type"] not in SEGMENTS:
        raise DecisionError(f"Segment {out['segment_type']!r} is not one of {', '.join(SEGMENTS)} "
                            "(leave it empty for the whole company).")
    if out.get("direction") is not None and out["direction"] not in DIRECTIONS:
        raise DecisionError(f"Direction {out['direction']!r} is not one of {', '.join(DIRECTIONS)}.")
    if "target_value" in out and out["target_value"] is not None and out["target_value"] != "":
        try:
            out["target_value"] = float(out["target_value"])
        except (TypeError, ValueError):
            raise DecisionError(f"Target value {out['target_value']!r} is not a number like 250000.") from None
        if out["target_value"] != out["target_value"] or out["target_value"] in (float("inf"), float("-inf")):
            raise DecisionError(f"Target value {out['target_value']!r} is not a number like 250000.")
    elif "target_value" in out:
        out["target_value"] = None
    return out


def _check_aim(row: dict[str, Any]) -> None:
    """A decision's aim as a whole: a segment needs both its kind and its value, and an aim needs
    the metric it should move."""
    if (row.get("segment_type") is None) != (row.get("segment_value") is None):
        raise DecisionError("Name both the segment's kind (region, product_line, owner, source) and its value, "
                            "or neither for the whole company.")
    if not row.get("metric_id") and any(row.get(k) is not None for k in AIM):
        raise DecisionError("A segment, direction or target value needs the metric it should move: "
                            "pick a linked metric.")


_OPTION_KEYS = {"region": "regions", "product_line": "product_lines", "source": "sources", "owner": "owners"}


def _resolve_segment(conn, row: dict[str, Any]) -> str | None:
    """The segment value as the filters store it: one of the values the sidebar offers for that
    kind (an owner by id or by name), matched exactly, else ignoring case when that names one."""
    kind, value = row.get("segment_type"), row.get("segment_value")
    if kind is None or value is None:
        return value
    offered = options(conn, load_definitions(conn))[_OPTION_KEYS[kind]]
    pairs = [(v, v) for v in offered] if kind != "owner" else [(oid, name) for oid, name in offered]
    for stored, shown in pairs:
        if value in (stored, shown):
            return stored
    loose = {stored for stored, shown in pairs if value.casefold() in (str(stored).casefold(), shown.casefold())}
    if len(loose) == 1:
        return loose.pop()
    names = [shown for _, shown in pairs]
    listed = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
    raise DecisionError(f"No {kind.replace('_', ' ')} is called {value!r}; pick one of: {listed or '(none in the store)'}.")


def _event(conn, decision_id: int, week: dt.date, actor: str, action: str,
           before: dict | None, after: dict | None, at: dt.datetime) -> None:
    conn.execute(s.decision_events.insert().values(
        decision_id=decision_id, week_start=week, at=at, actor=actor, action=action,
        before_json=None if before is None else json.dumps(_plain(before), sort_keys=True),
        after_json=None if after is None else json.dumps(_plain(after), sort_keys=True)))
    record_audit(conn, actor, "decision.add" if action == "add" else "decision.update",
                 f"decision {decision_id}", before, after)
    bump_data_version(conn, "meeting_decisions", "decision_events", "audit_log")


def add_decision(engine: Engine, *, text: str, owner: str, actor: str, week_start: dt.date | None = None,
                 due_date: dt.date | None = None, metric_id: str | None = None,
                 segment_type: str | None = None, segment_value: str | None = None,
                 direction: str | None = None, target_value: float | str | None = None,
                 now: dt.datetime | None = None) -> int:
    """Record a decision in the meeting of `week_start` (default: this week); returns its id.
    `segment_type`/`segment_value`, `direction` and `target_value` say what it should move
    (they need `metric_id`)."""
    now = now or utcnow()
    week = week_of(week_start or now.date())
    values = _check({"text": text, "owner": owner, "due_date": due_date, "metric_id": metric_id,
                     "segment_type": segment_type, "segment_value": segment_value, "direction": direction,
                     "target_value": target_value})
    _check_aim(values)
    with engine.begin() as conn:
        values["segment_value"] = _resolve_segment(conn, values)
        row = dict(values, week_start=week, status="open", created_at=now, created_by=actor)
        decision_id = conn.execute(s.meeting_decisions.insert().values(**row)).inserted_primary_key[0]
        _event(conn, decision_id, week, actor, "add", None, dict(values, status="open"), now)
    return int(decision_id)


def update_decision(engine: Engine, decision_id: int, actor: str, week_start: dt.date | None = None,
                    now: dt.datetime | None = None, **changes: Any) -> dict:
    """Change some of EDITABLE; returns the decision as saved (every change is an event)."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise DecisionError(f"Cannot change {', '.join(sorted(unknown))}; editable: {', '.join(EDITABLE)}.")
    changes = _check(changes)
    now = now or utcnow()
    week = week_of(week_start or now.date())
    with engine.begin() as conn:
        t = s.meeting_decisions
        current = conn.execute(select(t).where(t.c.decision_id == decision_id)).mappings().first()
        if current is None:
            raise DecisionError(f"There is no decision {decision_id}.")
        if "segment_type" in changes or "segment_value" in changes:
            changes["segment_value"] = _resolve_segment(conn, {**dict(current), **changes})
        diff = {k: v for k, v in changes.items() if current[k] != v}
        _check_aim({**dict(current), **diff})
        if not diff:
            return dict(current)
        values = dict(diff)
        if "status" in diff:
            values["closed_at"] = None if diff["status"] == "open" else now
            action = "reopen" if diff["status"] == "open" else "close"
        else:
            action = "update"
        conn.execute(t.update().where(t.c.decision_id == decision_id).values(**values))
        _event(conn, decision_id, week, actor, action, {k: current[k] for k in diff}, diff, now)
        return dict(conn.execute(select(t).where(t.c.decision_id == decision_id)).mappings().one())


def close_decision(engine: Engine, decision_id: int, actor: str, status: str = "done",
                   week_start: dt.date | None = None, now: dt.datetime | None = None) -> dict:
    """Close a decision as done or dropped."""
    if status not in ("done", "dropped"):
        raise DecisionError(f"Close a decision as 'done' or 'dropped', not {status!r}.")
    return update_decision(engine, decision_id, actor, week_start=week_start, now=now, status=status)


def _rows(engine: Engine, where) -> list[dict]:
    t = s.meeting_decisions
    q = select(t).where(where).order_by(t.c.week_start, t.c.decision_id)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def decisions_of_week(engine: Engine, week_start: dt.date) -> list[dict]:
    """The decisions recorded in the meeting of that week."""
    return _rows(engine, s.meeting_decisions.c.week_start == week_of(week_start))


def open_items(engine: Engine, week_start: dt.date) -> list[dict]:
    """Decisions of earlier meetings still open when that week began (carried over).

    For a past week this is the list as it was then: an item closed since still appears, with
    its current status, because it was open when that meeting started.
    """
    t = s.meeting_decisions
    week = week_of(week_start)
    began = dt.datetime.combine(week, dt.time())
    return _rows(engine, and_(t.c.week_start < week, or_(t.c.closed_at.is_(None), t.c.closed_at >= began)))


def decision_history(engine: Engine, decision_id: int | None = None) -> list[dict]:
    """Events (oldest first): decision_id, week_start, at, actor, action, before, after."""
    e = s.decision_events
    q = select(e).order_by(e.c.at, e.c.event_id)
    if decision_id is not None:
        q = q.where(e.c.decision_id == decision_id)
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(q).mappings()]
    for r in rows:
        for col, key in (("before_json", "before"), ("after_json", "after")):
            raw = r.pop(col)
            r[key] = json.loads(raw) if raw else None
    return rows


__all__ = ["STATUSES", "SEGMENTS", "DIRECTIONS", "DecisionError", "week_of", "add_decision", "update_decision", "close_decision",
           "decisions_of_week", "open_items", "decision_history"]
