"""What changed, explained: the week-over-week change of the North Star, the forecast and the open
pipeline, split into drivers and segments that add up to the change exactly.

Both ends are frozen weekly snapshots (meeting.snapshots): this meeting's and the previous one's,
deal by deal (`snapshot_deals`, amounts in integer cents of the reporting currency, converted
deal by deal as the waterfall does), so the explanation is the meeting's own numbers:

    north_star     "Won this week": deals closed won with a close date in the week each meeting
                   reviewed (this meeting's week against the previous meeting's week).
                   Drivers: volume and size, with N won deals of average size A = R / N:
                       volume effect = (N_this - N_last) * A_last       (rounded to the cent)
                       size effect   = R_this - R_last - volume effect  (= N_this * (A_this - A_last))
                   so volume + size = the change exactly; with no deal won last week the whole
                   change is volume, with none this week it is -R_last (volume).
    open_pipeline  open deals closing in this meeting's fiscal quarter: the pipeline waterfall's
                   bars (new, increased, decreased, pushed out, pulled in, won, lost), reused from
                   meeting.waterfall, deal by deal.
    forecast       the quarter's won revenue plus the weighted open pipeline closing in it
                   (amount x stage probability, each deal rounded to the cent): each deal's change
                   goes to its waterfall bar; a deal open in the quarter at both ends with the same
                   amount that moved stage goes to "stage", any other change (a deal won without
                   being in the quarter's open pipeline at the start, a won deal's amount or date
                   changed) to "other".

Segments: the same per-deal changes summed by region, product line, owner and source (a deal's
attributes at this meeting's snapshot, else at the previous one; source is the deal's source,
else its primary contact's original source, read as it is now: no history is kept), deals
without the attribute in "(none)".

When the snapshots' stored figure (what the meeting's tiles show) changed by something other than
the deals' sum (past-due deals counted in the current quarter, the North Star on an invoiced basis,
revenue types a figure does not count), the difference is its own contribution, "not traced to a
deal", in the drivers and in every segment cut, so every cut still adds up to the tiles' change.
It is counted only when both stored values cover the same period (the quarter figures of two
meetings in different quarters are not comparable; the change is then the deals' own).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import pandas as pd
from sqlalchemy import Engine, select

from metrics import REGISTRY, get_definitions
from metrics.definitions import load_definitions
from metrics.dimensions import owner_names
from metrics.filters import NONE_BUCKET
from metrics.forecasts import QUARTER_CUT
from metrics.format import format_change_money, format_compact_money
from metrics.pages import MEETING_WEEK
from metrics.registry import Ctx
from metrics.sql import stage_rules
from store import schema as s

from .decisions import week_of
from .snapshots import SnapshotError, previous_snapshot, snapshot_deal_pairs, snapshot_for_week, snapshot_metric_rows
from .waterfall import CATEGORIES, in_scope, pipeline_waterfall, reporting_cents

METRICS = ("north_star", "forecast", "open_pipeline")
DIMENSIONS = ("region", "product_line", "owner", "source")
DIMENSION_LABELS = {"driver": "Driver", "region": "Region", "product_line": "Product line", "owner": "Owner",
                    "source": "Source"}
# the North Star of the week under review is the meeting's "Won this week" tile
LABELS = {"north_star": MEETING_WEEK["north_star"]}
UNTRACED = "untraced"
UNTRACED_LABEL = "not traced to a deal"
TOP = 3  # contributions named in the sentence
DRIVER_LABELS = {"volume": "Volume (number of deals won)", "size": "Size (average deal size)",
                 "new": "New", "increased": "Increased", "decreased": "Decreased", "pushed_out": "Pushed out",
                 "pulled_in": "Pulled in", "won": "Won", "lost": "Lost", "stage": "Stage moved",
                 "other": "Other changes to won deals", UNTRACED: "Not traced to a deal"}
_VERBS = {"increased": "increased", "decreased": "decreased", "pushed_out": "pushed out of the quarter",
          "pulled_in": "pulled into the quarter", "won": "won", "lost": "lost or removed",
          "stage": "moved stage", "other": "won outside the open pipeline or changed after winning"}
# The rules in words, shown on the Definitions page (tab "Weekly meeting").
RULES = (
    ("What changed: the two ends",
     "The change of Won this week, the Forecast and the Open pipeline is between the frozen snapshots of this "
     "meeting and the previous one (every figure as of each meeting's Monday 00:00), deal by deal, amounts "
     "converted to the reporting currency deal by deal; so the explanation is the meeting's own numbers."),
    ("Volume and size (Won this week)",
     "With N deals won of average size A = revenue / N: volume effect = (N this week - N last week) x A last "
     "week; size effect = N this week x (A this week - A last week), taken as the change minus the volume "
     "effect so the two add up to the change to the cent. With no deal won last week the whole change is "
     "volume; with none this week it is minus last week's revenue (volume)."),
    ("Pipeline and forecast drivers",
     "Open pipeline: the waterfall's moves for the deals closing in the quarter (new, increased, decreased, "
     "pushed out, pulled in, won, lost). Forecast = revenue won in the quarter + each open deal closing in it "
     "at amount x stage probability: each deal's change goes to its waterfall move; an open deal whose stage "
     "alone changed to 'Stage moved'; any other change (a deal won without being in the quarter's open "
     "pipeline, a won deal's amount or date changed) to 'Other changes to won deals'."),
    ("Segments",
     "The same per-deal changes summed by region, product line, owner and source (the deal's values at this "
     "meeting, else at the previous one; source as it is now), deals without the value in '(none)'. Every "
     "cut adds up to the change exactly. What the stored figure changed by beyond the deals (past-due deals, "
     "an invoiced North Star, revenue types a figure leaves out) is 'not traced to a deal' in every cut."),
)
CONTRIBUTION_COLUMNS = ["metric_id", "metric", "dimension", "key", "label", "change", "deals"]


@dataclass(frozen=True)
class Contribution:
    """One part of a change: a driver or a segment, its signed amount in reporting-currency cents,
    and the per-deal rows behind it."""
    key: str
    label: str
    amount_cents: int
    deals: tuple[dict, ...] = ()

    @property
    def amount(self) -> float:
        return self.amount_cents / 100


@dataclass(frozen=True)
class MetricChange:
    metric_id: str
    label: str
    start_cents: int
    end_cents: int
    drivers: tuple[Contribution, ...]
    segments: dict[str, tuple[Contribution, ...]]
    sentence: str
    note: str = ""

    @property
    def change_cents(self) -> int:
        return self.end_cents - self.start_cents

    @property
    def change(self) -> float:
        return self.change_cents / 100

    def cuts(self) -> dict[str, tuple[Contribution, ...]]:
        """Every cut of the change: the drivers, then each segment dimension; each adds up to it."""
        return {"driver": self.drivers, **self.segments}

    def top(self, n: int = TOP) -> list[Contribution]:
        """The `n` largest drivers by size (zero ones left out)."""
        return sorted((c for c in self.drivers if c.amount_cents), key=lambda c: -abs(c.amount_cents))[:n]


@dataclass(frozen=True)
class WeekChanges:
    """The explanation of one meeting week against the previous meeting."""
    week_start: dt.date
    previous_week: dt.date | None
    changes: dict[str, MetricChange] = field(default_factory=dict)
    unavailable: str = ""  # why there is no explanation (no earlier snapshot)

    @property
    def sentences(self) -> list[str]:
        return [c.sentence for c in self.changes.values()]

    def rows(self) -> pd.DataFrame:
        """Every contribution on every cut (CONTRIBUTION_COLUMNS), for tables and the packs; money
        in major units of the reporting currency."""
        out = []
        for c in self.changes.values():
            for dim, parts in c.cuts().items():
                out += [{"metric_id": c.metric_id, "metric": c.label, "dimension": DIMENSION_LABELS[dim],
                         "key": p.key, "label": p.label, "change": p.amount, "deals": len(p.deals)} for p in parts]
        return pd.DataFrame(out, columns=CONTRIBUTION_COLUMNS)

    def summary(self) -> pd.DataFrame:
        """One row per metric: label, last meeting, this meeting, change, the sentence."""
        return pd.DataFrame([{"metric_id": c.metric_id, "metric": c.label, "previous": c.start_cents / 100,
                              "value": c.end_cents / 100, "change": c.change, "explanation": c.sentence}
                             for c in self.changes.values()],
                            columns=["metric_id", "metric", "previous", "value", "change", "explanation"])


# --- per deal (pure) -------------------------------------------------------------------------

def _in(day: dt.date | None, window: tuple[dt.date, dt.date]) -> bool:
    return day is not None and window[0] <= day <= window[1]


def _won_in(deal: Mapping[str, Any] | None, window: tuple[dt.date, dt.date]) -> bool:
    return deal is not None and bool(deal.get("is_won")) and _in(deal.get("close_date"), window)


def _forecast_cents(deal: Mapping[str, Any] | None, quarter: tuple[dt.date, dt.date],
                    probability: Mapping[tuple[str, str], float], fx, missing: set[str]) -> int:
    """A deal's part of the quarter's forecast: its amount when won in the quarter, its amount
    times its stage probability (rounded to the cent) when open and closing in it, else 0."""
    if deal is None:
        return 0
    if _won_in(deal, quarter):
        return reporting_cents(deal, fx, missing)
    if in_scope(deal, quarter):
        p = probability.get((deal.get("pipeline_id"), deal.get("stage_id")), 0.0)
        return int(round(reporting_cents(deal, fx, missing) * p))
    return 0


def deal_changes(start_deals: Iterable[Mapping[str, Any]], end_deals: Iterable[Mapping[str, Any]], *,
                 start_review: tuple[dt.date, dt.date], end_review: tuple[dt.date, dt.date],
                 quarter: tuple[dt.date, dt.date], probability: Mapping[tuple[str, str], float] | None = None,
                 fx: Mapping[str, float] | None = None) -> list[dict]:
    """Each deal's change between two snapshots (dicts shaped like snapshot_deals rows), in cents:

    north_star      + amount if won in `end_review` at the end, - amount if won in `start_review` at the start
    open_pipeline   its waterfall change over `quarter` (pipeline_waterfall), driver = its bar
    forecast        _forecast_cents at the end minus at the start, driver = its bar, else stage / other

    Only deals with a change are returned; each row also has name, region, product_line, owner_id
    (at the end, else the start)."""
    start = {d["deal_id"]: d for d in start_deals}
    end = {d["deal_id"]: d for d in end_deals}
    probability = probability or {}
    missing: set[str] = set()
    wf = pipeline_waterfall(start.values(), end.values(), window=quarter, fx=fx)
    bar_of: dict[str, tuple[str, int]] = {}
    for bar in wf.bars:
        if bar.category in ("start", "end"):
            continue
        for line in bar.deals:
            bar_of[line["deal_id"]] = (bar.category, int(round(line["change"] * 100)))
    out = []
    for deal_id in sorted(set(start) | set(end), key=str):
        s_, e_ = start.get(deal_id), end.get(deal_id)
        won = ((reporting_cents(e_, fx, missing) if _won_in(e_, end_review) else 0)
               - (reporting_cents(s_, fx, missing) if _won_in(s_, start_review) else 0))
        category, pipe = bar_of.get(deal_id, (None, 0))
        fc = (_forecast_cents(e_, quarter, probability, fx, missing)
              - _forecast_cents(s_, quarter, probability, fx, missing))
        if not (won or pipe or fc):
            continue
        if category is not None:
            fc_driver = category
        elif in_scope(s_, quarter) and in_scope(e_, quarter):
            fc_driver = "stage"
        else:
            fc_driver = "other"
        now = e_ if e_ is not None else s_
        out.append({"deal_id": deal_id, "name": now.get("name"), "region": now.get("region"),
                    "product_line": now.get("product_line"), "owner_id": now.get("owner_id"),
                    "north_star": won, "north_star_driver": "won_this_week" if won > 0 else "won_last_week",
                    "open_pipeline": pipe, "open_pipeline_driver": category,
                    "forecast": fc, "forecast_driver": fc_driver})
    return out


# --- sums (pure) ------------------------------------------------------------------------------

def _deal_line(row: dict, metric_id: str) -> dict:
    return {"deal_id": row["deal_id"], "name": row.get("name"), "region": row.get("region"),
            "product_line": row.get("product_line"), "owner_id": row.get("owner_id"),
            "source": row.get("source"), "change": row[metric_id] / 100}


def _segments(rows: list[dict], metric_id: str, untraced: int,
              names: Mapping[str, str]) -> dict[str, tuple[Contribution, ...]]:
    out: dict[str, tuple[Contribution, ...]] = {}
    for dim in DIMENSIONS:
        col = "owner_id" if dim == "owner" else dim
        groups: dict[str, list[dict]] = {}
        for r in rows:
            if r[metric_id]:
                groups.setdefault(r.get(col) or NONE_BUCKET, []).append(r)
        parts = [Contribution(key, names.get(key, key) if dim == "owner" else key,
                              sum(r[metric_id] for r in members),
                              tuple(_deal_line(r, metric_id) for r in members))
                 for key, members in groups.items()]
        if untraced:
            parts.append(Contribution(UNTRACED, UNTRACED_LABEL, untraced))
        out[dim] = tuple(sorted(parts, key=lambda c: (-abs(c.amount_cents), c.key)))
    return out


def _won_drivers(rows: list[dict], start_deals, end_deals, start_review, end_review,
                 fx) -> tuple[tuple[Contribution, ...], tuple]:
    """Volume and size effects of the won revenue (see the module docstring)."""
    missing: set[str] = set()
    won_then = [d for d in start_deals if _won_in(d, start_review)]
    won_now = [d for d in end_deals if _won_in(d, end_review)]
    n0, n1 = len(won_then), len(won_now)
    r0 = sum(reporting_cents(d, fx, missing) for d in won_then)
    r1 = sum(reporting_cents(d, fx, missing) for d in won_now)
    volume = r1 - r0 if n0 == 0 else int(round((n1 - n0) * r0 / n0))
    size = (r1 - r0) - volume
    avg0 = r0 / n0 if n0 else None
    avg1 = r1 / n1 if n1 else None
    deals = tuple(_deal_line(r, "north_star") for r in rows if r["north_star"])
    vol = Contribution("volume", DRIVER_LABELS["volume"], volume, deals)
    siz = Contribution("size", DRIVER_LABELS["size"], size)
    return (vol, siz), (n0, n1, avg0, avg1)


def _bar_drivers(rows: list[dict], metric_id: str, keys: Iterable[str]) -> tuple[Contribution, ...]:
    out = []
    for key in keys:
        members = [r for r in rows if r[f"{metric_id}_driver"] == key and r[metric_id]]
        out.append(Contribution(key, DRIVER_LABELS[key], sum(r[metric_id] for r in members),
                                tuple(_deal_line(r, metric_id) for r in members)))
    return tuple(out)


def _deals_words(c: Contribution) -> str:
    """"2 DACH Platform deals pushed out of the quarter": the count, with the region and product
    line the deals share."""
    n = len(c.deals)
    shared = []
    for col in ("region", "product_line"):
        values = {d.get(col) for d in c.deals}
        if len(values) == 1 and None not in values:
            shared.append(str(values.pop()))
    what = " ".join(shared + ["deal" if n == 1 else "deals"])
    if c.key == "new":
        return f"{n} new {what}"
    return f"{n} {what} {_VERBS[c.key]}"


def _phrase(c: Contribution, won: tuple | None, locale: str, currency: str) -> str:
    if c.key == UNTRACED:
        return UNTRACED_LABEL
    if c.key == "volume" and won is not None:
        n0, n1 = won[0], won[1]
        diff = n1 - n0
        return (f"{abs(diff)} {'more' if diff > 0 else 'fewer'} deal{'' if abs(diff) == 1 else 's'} won "
                f"({n1} against {n0})")
    if c.key == "size" and won is not None:
        avg0, avg1 = won[2] or 0.0, won[3] or 0.0
        word = "up" if avg1 > avg0 else "down"
        return (f"average deal size {word} {format_compact_money(abs(avg1 - avg0) / 100, currency, locale)} "
                f"(to {format_compact_money(avg1 / 100, currency, locale)})")
    return _deals_words(c)


def sentence(label: str, change_cents: int, top: list[Contribution], won: tuple | None = None,
             locale: str = "en-US", currency: str = "EUR") -> str:
    """"Forecast -€120K: 2 DACH Platform deals pushed out of the quarter (-€95.0K), ...": the change
    and its largest contributions, written by the presentation rules (metrics.format)."""
    head = f"{label} {format_change_money(change_cents / 100, currency, locale)}"
    if not top:
        return f"{head}: no change." if not change_cents else f"{head}."
    parts = [f"{_phrase(c, won, locale, currency)} ({format_change_money(c.amount, currency, locale)})" for c in top]
    return f"{head}: " + ", ".join(parts) + "."


def explain(start_deals: list[Mapping[str, Any]], end_deals: list[Mapping[str, Any]], *,
            start_review: tuple[dt.date, dt.date], end_review: tuple[dt.date, dt.date],
            quarter: tuple[dt.date, dt.date], probability: Mapping[tuple[str, str], float] | None = None,
            fx: Mapping[str, float] | None = None, recorded: Mapping[str, tuple[float | None, float | None]] | None = None,
            sources: Mapping[str, str] | None = None, names: Mapping[str, str] | None = None,
            labels: Mapping[str, str] | None = None, locale: str = "en-US", currency: str = "EUR") -> dict[str, MetricChange]:
    """The change of each of METRICS between two deal-level snapshots, with drivers and segments.

    `recorded[metric_id]` = (stored value at the start, at the end) in major units, when both cover
    the same period: the change is then theirs, the part the deals do not explain "not traced to a
    deal". `sources` maps a deal to its source, `names` an owner id to its name."""
    start_deals, end_deals = list(start_deals), list(end_deals)
    rows = deal_changes(start_deals, end_deals, start_review=start_review, end_review=end_review,
                        quarter=quarter, probability=probability, fx=fx)
    sources, names, labels, recorded = sources or {}, names or {}, labels or {}, recorded or {}
    for r in rows:
        r["source"] = sources.get(r["deal_id"])
    out: dict[str, MetricChange] = {}
    for mid in METRICS:
        deal_sum = sum(r[mid] for r in rows)
        won_facts = None
        if mid == "north_star":
            drivers, won_facts = _won_drivers(rows, start_deals, end_deals, start_review, end_review, fx)
            missing: set[str] = set()
            deal_start = sum(reporting_cents(d, fx, missing) for d in start_deals if _won_in(d, start_review))
        elif mid == "open_pipeline":
            drivers = _bar_drivers(rows, mid, [c for c in CATEGORIES if c not in ("start", "end")])
            missing = set()
            deal_start = sum(reporting_cents(d, fx, missing) for d in start_deals if in_scope(d, quarter))
        else:
            drivers = _bar_drivers(rows, mid, [c for c in CATEGORIES if c not in ("start", "end")] + ["stage", "other"])
            missing = set()
            deal_start = sum(_forecast_cents(d, quarter, probability or {}, fx, missing) for d in start_deals)
        start_cents, end_cents, untraced, note = deal_start, deal_start + deal_sum, 0, ""
        then, now = recorded.get(mid, (None, None))
        if then is not None and now is not None:
            start_cents, end_cents = int(round(then * 100)), int(round(now * 100))
            untraced = (end_cents - start_cents) - deal_sum
        else:
            note = "from the deals of both snapshots (no stored figure of the same period at both ends)"
        if untraced:
            drivers = drivers + (Contribution(UNTRACED, DRIVER_LABELS[UNTRACED], untraced),)
        label = labels.get(mid) or LABELS.get(mid) or (REGISTRY[mid].label if mid in REGISTRY else mid)
        change = MetricChange(mid, label, start_cents, end_cents, drivers,
                              _segments(rows, mid, untraced, names), "", note)
        text = sentence(label, change.change_cents, change.top(), won_facts if mid == "north_star" else None,
                        locale, currency)
        out[mid] = MetricChange(mid, label, start_cents, end_cents, drivers, change.segments, text, note)
    return out


# --- from the store ---------------------------------------------------------------------------

def _sources(engine: Engine, deal_ids: Iterable[str]) -> dict[str, str]:
    """A deal's source as the metric layer's source filter reads it: its own, else its primary
    contact's original source (as it is now: no history kept)."""
    ids = sorted(set(deal_ids))
    if not ids:
        return {}
    d, c = s.deals, s.contacts
    out: dict[str, str] = {}
    with engine.connect() as conn:
        for i in range(0, len(ids), 500):
            q = (select(d.c.deal_id, d.c.deal_source, c.c.original_source)
                 .select_from(d.outerjoin(c, c.c.contact_id == d.c.contact_id))
                 .where(d.c.deal_id.in_(ids[i:i + 500])))
            for deal_id, own, contact in conn.execute(q):
                if own or contact:
                    out[deal_id] = own or contact
    return out


def _stored(rows: pd.DataFrame, metric_id: str, cut_type: str) -> tuple[float | None, tuple | None]:
    hit = rows[(rows.metric_id == metric_id) & (rows.cut_type == cut_type) & (rows.cut_value == "")]
    if hit.empty:
        return None, None
    r = hit.iloc[0]
    return (None if pd.isna(r.value) else float(r.value)), (r.period_start, r.period_end)


def _period(rows: pd.DataFrame, cut_type: str, fallback: tuple[dt.date, dt.date]) -> tuple[dt.date, dt.date]:
    part = rows[rows.cut_type == cut_type]
    return (part.period_start.min(), part.period_end.max()) if not part.empty else fallback


@dataclass(frozen=True)
class Compared:
    """Two snapshots side by side: their metric rows, the windows compared (the previous and this
    review week, this quarter) and the deals closing in them in either snapshot, each with its
    row in both (snapshot_deal_pairs; the others move none of the three metrics, nor the
    waterfall over the quarter)."""
    rows: pd.DataFrame
    prev_rows: pd.DataFrame
    start_review: tuple[dt.date, dt.date]
    end_review: tuple[dt.date, dt.date]
    quarter: tuple[dt.date, dt.date]
    start_deals: list
    end_deals: list


def compare(engine: Engine, snap: dict, prev: dict) -> Compared:
    """`snap` and the snapshot before it, `prev`, read once for the waterfall and the changes."""
    week = snap["week_start"]
    rows, prev_rows = (snapshot_metric_rows(engine, x["snapshot_id"]) for x in (snap, prev))
    end_review = _period(rows, "total", (week - dt.timedelta(days=7), week - dt.timedelta(days=1)))
    start_review = _period(prev_rows, "total", (prev["week_start"] - dt.timedelta(days=7),
                                                 prev["week_start"] - dt.timedelta(days=1)))
    quarter = _period(rows, QUARTER_CUT, end_review)
    start_deals, end_deals = snapshot_deal_pairs(engine, prev["snapshot_id"], snap["snapshot_id"], (
        min(start_review[0], end_review[0], quarter[0]), max(start_review[1], end_review[1], quarter[1])))
    return Compared(rows, prev_rows, start_review, end_review, quarter, start_deals, end_deals)


def explain_week(engine: Engine, week_start: dt.date, *, locale: str | None = None,
                 currency: str | None = None, compared: Compared | None = None) -> WeekChanges:
    """What changed between the meeting of `week_start` and the previous one, explained (the
    module docstring). Raises SnapshotError when the week has no snapshot; without an earlier
    snapshot the result has no changes and says why (`unavailable`). `compared`: the two
    snapshots already read (`compare`, as the week's report does for its waterfall too)."""
    week = week_of(week_start)
    snap = snapshot_for_week(engine, week)
    if snap is None:
        raise SnapshotError(f"The week of {week} has no snapshot. Take one with "
                            f"`python cli.py snapshot --week {week}`.")
    prev = previous_snapshot(engine, snap)
    if prev is None:
        return WeekChanges(week, None, unavailable="no earlier snapshot to compare with")
    defs = get_definitions(engine)
    with engine.connect() as conn:
        probability = stage_rules(Ctx(conn, load_definitions(conn))).probability
        names = owner_names(conn)
    c = compared if compared is not None else compare(engine, snap, prev)
    recorded: dict[str, tuple[float | None, float | None]] = {}
    then, _ = _stored(c.prev_rows, "north_star", "total")
    now, _ = _stored(c.rows, "north_star", "total")
    recorded["north_star"] = (then, now)
    for mid in ("forecast", "open_pipeline"):
        then, p_then = _stored(c.prev_rows, mid, QUARTER_CUT)
        now, p_now = _stored(c.rows, mid, QUARTER_CUT)
        recorded[mid] = (then, now) if p_then == p_now else (None, None)
    sources = _sources(engine, [d["deal_id"] for d in c.start_deals + c.end_deals])
    changes = explain(c.start_deals, c.end_deals, start_review=c.start_review, end_review=c.end_review,
                      quarter=c.quarter, probability=probability, fx=defs.fx, recorded=recorded, sources=sources,
                      names=names, locale=locale or defs.locale, currency=currency or defs.reporting_currency)
    return WeekChanges(week, prev["week_start"], changes)


__all__ = ["RULES", "METRICS", "DIMENSIONS", "Compared", "Contribution", "MetricChange", "WeekChanges", "compare",
           "deal_changes", "explain", "explain_week", "sentence"]
