"""The pipeline waterfall between two deal-level snapshots (pure: no store access).

The pipeline in scope is the open deals whose close date falls in `window` (inclusive; None =
every open deal). Each deal of either snapshot lands in at most one category:

    new         not in scope at the start, in scope at the end, and not an open deal at the start
                (created since, or reopened)                                 + end amount
    increased   in scope at both ends, amount went up                        + (end - start)
    decreased   in scope at both ends, amount went down                      - (start - end)
    pushed_out  open at both ends, close date moved out of the window        - start amount
    pulled_in   open at both ends, close date moved into the window          + end amount
    won         in scope at the start, closed won at the end                 - start amount
    lost        in scope at the start, closed lost (or deleted) at the end   - start amount

so start + new + increased + decreased + pushed_out + pulled_in + won + lost == end, exactly:
amounts are converted to integer cents of the reporting currency deal by deal before summing.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

CATEGORIES = ("start", "new", "increased", "decreased", "pushed_out", "pulled_in", "won", "lost", "end")
LABELS = {"start": "Start", "new": "New", "increased": "Increased", "decreased": "Decreased",
          "pushed_out": "Pushed out", "pulled_in": "Pulled in", "won": "Won", "lost": "Lost", "end": "End"}


@dataclass(frozen=True)
class Bar:
    """One bar: its signed amount (reporting-currency cents) and the deals behind it."""
    category: str
    label: str
    amount_cents: int
    deals: tuple[dict, ...] = ()

    @property
    def amount(self) -> float:
        """The amount in major units (euros)."""
        return self.amount_cents / 100


@dataclass(frozen=True)
class Waterfall:
    bars: tuple[Bar, ...]
    window: tuple[dt.date, dt.date] | None = None
    currency: str = "EUR"
    unconverted: tuple[str, ...] = field(default=())  # currencies without a rate (counted as 0)

    def bar(self, category: str) -> Bar:
        return next(b for b in self.bars if b.category == category)

    @property
    def start_cents(self) -> int:
        return self.bar("start").amount_cents

    @property
    def end_cents(self) -> int:
        return self.bar("end").amount_cents

    def rows(self) -> list[dict]:
        """One dict per bar (category, label, amount, deals count), for tables and exports."""
        return [{"category": b.category, "label": b.label, "amount": b.amount, "deals": len(b.deals)}
                for b in self.bars]


def reporting_cents(deal: Mapping[str, Any], fx: Mapping[str, float] | None, missing: set[str]) -> int:
    """A deal's amount in integer cents of the reporting currency (`fx` None: as stored); a currency
    without a rate counts 0 and is added to `missing`."""
    amount = deal.get("amount_cents")
    if amount is None:
        return 0
    if fx is None:
        return int(amount)
    currency = (deal.get("currency") or "").upper()
    if currency not in fx:
        missing.add(currency or "?")
        return 0
    return int(round(int(amount) * float(fx[currency])))


def is_open(deal: Mapping[str, Any] | None) -> bool:
    return deal is not None and not deal.get("is_closed")


def _in_window(deal: Mapping[str, Any], window: tuple[dt.date, dt.date] | None) -> bool:
    if window is None:
        return True
    close = deal.get("close_date")
    return close is not None and window[0] <= close <= window[1]


def in_scope(deal: Mapping[str, Any] | None, window) -> bool:
    return is_open(deal) and _in_window(deal, window)


def _line(deal: Mapping[str, Any], before: Mapping[str, Any] | None, change_cents: int) -> dict:
    """The row shown under a bar: the deal at the end (or start), what it was, and its effect."""
    now = deal
    return {
        "deal_id": now.get("deal_id"), "name": now.get("name"), "owner_id": now.get("owner_id"),
        "stage_id": now.get("stage_id"), "close_date": now.get("close_date"),
        "previous_stage_id": before.get("stage_id") if before else None,
        "previous_close_date": before.get("close_date") if before else None,
        "amount": _major(now.get("amount_cents")), "currency": now.get("currency"),
        "previous_amount": _major(before.get("amount_cents")) if before else None,
        "change": change_cents / 100,
    }


def _major(cents: Any) -> float | None:
    return None if cents is None else int(cents) / 100


def pipeline_waterfall(start_deals: Iterable[Mapping[str, Any]], end_deals: Iterable[Mapping[str, Any]],
                       window: tuple[dt.date, dt.date] | None = None,
                       fx: Mapping[str, float] | None = None, currency: str = "EUR") -> Waterfall:
    """Bars from the pipeline in `start_deals` to the one in `end_deals` (dicts shaped like
    snapshot_deals rows: deal_id, amount_cents, currency, close_date, is_closed, is_won...).

    `fx` maps a currency to its rate to the reporting currency (None = amounts already are).
    """
    start = {d["deal_id"]: d for d in start_deals}
    end = {d["deal_id"]: d for d in end_deals}
    missing: set[str] = set()
    buckets: dict[str, list[tuple[dict, int]]] = {c: [] for c in CATEGORIES}

    for deal_id in sorted(set(start) | set(end), key=str):
        s, e = start.get(deal_id), end.get(deal_id)
        s_in, e_in = in_scope(s, window), in_scope(e, window)
        s_amt = reporting_cents(s, fx, missing) if s else 0
        e_amt = reporting_cents(e, fx, missing) if e else 0
        if s_in:
            buckets["start"].append((_line(s, None, s_amt), s_amt))
        if e_in:
            buckets["end"].append((_line(e, None, e_amt), e_amt))
        if s_in and e_in:
            delta = e_amt - s_amt
            if delta:
                buckets["increased" if delta > 0 else "decreased"].append((_line(e, s, delta), delta))
        elif s_in:  # left the pipeline in scope
            if e is None:
                gone = dict(s, stage_id=None, name=s.get("name"))
                buckets["lost"].append((dict(_line(gone, s, -s_amt), note="removed from the CRM"), -s_amt))
            elif e.get("is_closed"):
                buckets["won" if e.get("is_won") else "lost"].append((_line(e, s, -s_amt), -s_amt))
            else:  # still open, close date now outside the window
                later = window is not None and e.get("close_date") is not None and e["close_date"] > window[1]
                no_date = e.get("close_date") is None
                cat = "pushed_out" if (later or no_date) else "pulled_in"
                buckets[cat].append((_line(e, s, -s_amt), -s_amt))
        elif e_in:  # entered the pipeline in scope
            if is_open(s):  # open before with a close date outside the window
                earlier = s.get("close_date") is None or s["close_date"] > window[1]
                cat = "pulled_in" if earlier else "pushed_out"
                buckets[cat].append((_line(e, s, e_amt), e_amt))
            else:  # created since the start snapshot, or reopened
                buckets["new"].append((_line(e, s, e_amt), e_amt))

    bars = tuple(Bar(c, LABELS[c], sum(v for _, v in buckets[c]),
                     tuple(sorted((d for d, _ in buckets[c]), key=lambda d: -abs(d["change"]))))
                 for c in CATEGORIES)
    wf = Waterfall(bars=bars, window=window, currency=currency, unconverted=tuple(sorted(missing)))
    moves = sum(b.amount_cents for b in bars if b.category not in ("start", "end"))
    assert wf.start_cents + moves == wf.end_cents, "waterfall bars do not add up"
    return wf


__all__ = ["CATEGORIES", "LABELS", "Bar", "Waterfall", "pipeline_waterfall", "reporting_cents", "is_open", "in_scope"]
