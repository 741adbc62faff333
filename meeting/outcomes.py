"""Decisions followed to their outcome: the linked metric's value when a decision was taken and at
each weekly meeting since, and a verdict at its due date.

Readings come from the weekly snapshots (frozen: a reading never changes once its meeting is
past), from the row the meeting itself shows:

    whole company, a plan or stock (catalog compare: whole: forecast, pipeline, gap)  the quarter cut
    whole company, a flow (won revenue, leads, spend)                                 the week under review
    a region or product line                                                          that cut, week under review
    an owner or source  (snapshots keep no such cut)  the same metric function with the segment as
                        filter over the snapshot's week under review, computed from today's data

The baseline is the reading of the meeting the decision was taken in (else the first one after);
the due reading is the one of the meeting whose week under review contains the due date (the
Monday after it). Verdict, at the due reading only:

    the intended way is the named direction, else from the baseline towards the target value;
    moved against it from the baseline                      -> moved the other way
    else, with a target value: at it or beyond it           -> moved as intended
                               short of it                  -> not yet
    else (a direction only): beyond the baseline            -> moved as intended
                             equal to it                    -> not yet

Before the due meeting there is no verdict (the readings show the way so far). The decision's own
changes stay in its history (decision_events, append-only).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine, and_, or_, select

from metrics import REGISTRY, Filters, compute_many
from metrics.dimensions import owner_names
from metrics.forecasts import QUARTER_CUT
from metrics.format import format_amount, format_percent, format_value
from store import schema as s

from .decisions import week_of
from .snapshots import snapshot_for_week

VERDICTS = {"as_intended": "moved as intended", "not_yet": "not yet", "other_way": "moved the other way"}
SNAPSHOT_CUTS = ("region", "product_line")
RECENT_WEEKS = 4  # a decision closed this many weeks before a meeting is still followed in it
SEGMENT_LABELS = {"region": "region", "product_line": "product line", "owner": "owner", "source": "source"}
# The rules in words, shown on the Definitions page (tab "Weekly meeting").
RULES = (
    ("Decisions followed: readings",
     "A decision names a metric, optionally a segment (region, product line, owner, source) and the direction "
     "or value it should reach by its due date. Its reading at each weekly meeting comes from that meeting's "
     "frozen snapshot: the quarter for a whole-company plan or stock (forecast, pipeline, gap), the week under "
     "review for a flow and for a region or product line; an owner or source (not kept in snapshots) is the "
     "same metric with that filter over the snapshot's week, from today's data."),
    ("Decisions followed: verdict",
     "Given at the meeting whose week under review contains the due date, against the reading of the meeting "
     "the decision was taken in. The intended way is the named direction, else towards the target value. "
     "Moved against it: moved the other way. Else, with a target value, at or beyond it: moved as intended, "
     "short of it: not yet; with a direction only, beyond the first reading: moved as intended, equal: not "
     "yet. Before the due meeting there is no verdict; the readings and the decision's changes are kept."),
)
OUTCOME_COLUMNS = ["decision_id", "text", "owner", "status", "metric", "aim", "due_date", "baseline",
                   "latest", "verdict", "readings"]


@dataclass(frozen=True)
class Reading:
    week_start: dt.date  # the meeting
    value: float | None
    period_start: dt.date | None
    period_end: dt.date | None
    live: bool = False  # computed from today's data (owner and source segments)


@dataclass(frozen=True)
class Outcome:
    decision: dict
    readings: tuple[Reading, ...]
    baseline: float | None
    due_week: dt.date | None
    due_value: float | None
    verdict: str | None  # a key of VERDICTS, None before the due meeting or when unknown
    status_text: str  # the verdict in words, or why there is none yet
    aim_text: str

    @property
    def latest(self) -> float | None:
        return next((r.value for r in reversed(self.readings) if r.value is not None), None)


def verdict(baseline: float | None, value: float | None, direction: str | None = None,
            target: float | None = None) -> str | None:
    """The verdict rule (module docstring); None when a value is missing or nothing was aimed at."""
    if baseline is None or value is None or (direction is None and target is None):
        return None
    up = direction == "up" if direction is not None else target >= baseline
    sign = 1 if up else -1
    moved = sign * (value - baseline)
    if moved < 0:
        return "other_way"
    if target is not None:
        return "as_intended" if sign * (value - target) >= 0 else "not_yet"
    return "as_intended" if moved > 0 else "not_yet"


def due_meeting(due_date: dt.date | None) -> dt.date | None:
    """The meeting whose week under review contains the due date (the Monday after it)."""
    return None if due_date is None else week_of(due_date) + dt.timedelta(days=7)


def _cut(decision: dict) -> tuple[str, str]:
    seg = decision.get("segment_type")
    if seg in SNAPSHOT_CUTS:
        return seg, decision["segment_value"]
    if seg is None and REGISTRY[decision["metric_id"]].compare == "whole":
        return QUARTER_CUT, ""
    return "total", ""


def _weeks(engine: Engine, first: dt.date, last: dt.date) -> list[dt.date]:
    p = s.pipeline_snapshots
    with engine.connect() as conn:
        return sorted(set(conn.execute(select(p.c.week_start).where(p.c.week_start >= first, p.c.week_start <= last)
                                       .distinct()).scalars()))


def readings(engine: Engine, decision: dict, until_week: dt.date) -> list[Reading]:
    """The metric's reading at each meeting from the decision's week to `until_week` (and never
    past its due meeting), oldest first."""
    mid = decision["metric_id"]
    last = until_week
    due = due_meeting(decision.get("due_date"))
    if due is not None:
        last = min(last, due)
    cut_type, cut_value = _cut(decision)
    m = s.snapshot_metrics
    out = []
    for week in _weeks(engine, decision["week_start"], last):
        snap = snapshot_for_week(engine, week)
        if snap is None:
            continue
        want = "total" if decision.get("segment_type") in ("owner", "source") else cut_type
        with engine.connect() as conn:
            row = conn.execute(select(m.c.value, m.c.period_start, m.c.period_end).where(
                m.c.snapshot_id == snap["snapshot_id"], m.c.metric_id == mid, m.c.cut_type == want,
                m.c.cut_value == (cut_value if want == cut_type else ""))).first()
        if row is None:
            out.append(Reading(week, None, None, None))
            continue
        value, start, end = row
        if decision.get("segment_type") in ("owner", "source"):
            seg = decision["segment_value"]
            f = (Filters(start, end, owners=(seg,)) if decision["segment_type"] == "owner"
                 else Filters(start, end, sources=(seg,)))
            value = compute_many(engine, [mid], f)[mid].value
            out.append(Reading(week, None if value is None else float(value), start, end, live=True))
        else:
            out.append(Reading(week, None if value is None else float(value), start, end))
    return out


def value_text(value: float | None, metric_id: str, locale: str = "en-US", currency: str = "EUR") -> str:
    """A reading or target as tables write it (metrics.format: money in full without cents from €1,000)."""
    unit = REGISTRY[metric_id].unit
    if unit == "money":
        return format_amount(value, currency, locale)
    if unit == "ratio":
        return format_percent(value, locale)
    return format_value(value, unit, locale=locale, currency=currency)


def aim_text(decision: dict, names: dict[str, str] | None = None, locale: str = "en-US",
             currency: str = "EUR") -> str:
    """"Won revenue, region DACH: up to €250,000 by 2026-12-31"."""
    mid = decision.get("metric_id")
    if not mid or mid not in REGISTRY:
        return ""
    text = REGISTRY[mid].label
    seg = decision.get("segment_type")
    if seg:
        value = decision["segment_value"]
        if seg == "owner" and names:
            value = names.get(value, value)
        text += f", {SEGMENT_LABELS.get(seg, seg)} {value}"
    parts = []
    if decision.get("direction"):
        parts.append(decision["direction"])
    if decision.get("target_value") is not None:
        parts.append(("to " if parts else "reach ") + value_text(float(decision["target_value"]), mid, locale, currency))
    if decision.get("due_date"):
        parts.append(f"by {decision['due_date']}")
    return text + (": " + " ".join(parts) if parts else "")


def follow_decision(engine: Engine, decision: dict, until_week: dt.date, *, names: dict[str, str] | None = None,
                    locale: str = "en-US", currency: str = "EUR") -> Outcome:
    """One decision followed from its meeting to `until_week` (the meeting looking at it)."""
    aim = aim_text(decision, names, locale, currency)
    if not decision.get("metric_id") or decision["metric_id"] not in REGISTRY:
        return Outcome(decision, (), None, None, None, None, "no linked metric to follow", aim)
    reads = tuple(readings(engine, decision, until_week))
    baseline = next((r.value for r in reads), None)
    due = due_meeting(decision.get("due_date"))
    due_read = next((r for r in reads if due is not None and r.week_start == due), None)
    due_value = due_read.value if due_read else None
    aimed = decision.get("direction") is not None or decision.get("target_value") is not None
    result = None
    if not aimed:
        text = "no direction or target value: no verdict"
    elif due is None:
        text = "no due date: no verdict"
    elif due_read is None:
        text = (f"verdict at the meeting of {due}" if until_week < due
                else f"no snapshot of the week of {due}: take one to judge")
    elif baseline is None or due_value is None:
        text = "not available: no value at the decision's meeting or at the due date"
    else:
        result = verdict(baseline, due_value, decision.get("direction"), decision.get("target_value"))
        text = VERDICTS[result]
    return Outcome(decision, reads, baseline, due, due_value, result, text, aim)


def followed_decisions(engine: Engine, week_start: dt.date, *, recent_weeks: int = RECENT_WEEKS,
                       locale: str = "en-US", currency: str = "EUR") -> list[Outcome]:
    """The decisions the meeting of `week_start` follows: those of this and earlier meetings still
    open when it began, or closed in the `recent_weeks` weeks before it (or since), oldest first."""
    week = week_of(week_start)
    t = s.meeting_decisions
    since = dt.datetime.combine(week - dt.timedelta(days=7 * recent_weeks), dt.time())
    q = (select(t).where(and_(t.c.week_start <= week, or_(t.c.closed_at.is_(None), t.c.closed_at >= since)))
         .order_by(t.c.week_start, t.c.decision_id))
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(q).mappings()]
        names = owner_names(conn)
    return [follow_decision(engine, r, week, names=names, locale=locale, currency=currency) for r in rows]


__all__ = ["RULES", "VERDICTS", "Reading", "Outcome", "verdict", "due_meeting", "readings", "aim_text", "value_text", "follow_decision",
           "followed_decisions"]
