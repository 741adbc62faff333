"""The one value every metric takes: which period and which slice of the business.

A period still in progress has two ends. `end` is the last day counted so far (today for
"Quarter to date"); `plan_end` is the last day of the period it belongs to (the quarter's end).
Flows (revenue won, leads, spend: catalog `compare: to_date`) are counted over [start, end];
plans and stocks (target, open pipeline, forecast, coverage: `compare: whole`) are taken over
[start, plan_end], so "Quarter to date" shows the whole quarter's target and the pipeline still
expected to close in it. The metric layer (registry.Ctx.value) picks the window per metric with
`whole()` / `to_date()`; callers only say where the period would end (`plan_end`), once.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field, replace

# In a dimension filter, this value selects the records with no value for the dimension
# (deals without a region...): breakdowns show it as its own bucket so segments add up to the total.
NONE_BUCKET = "(none)"


@dataclass(frozen=True)
class Filters:
    """Period [start, end] inclusive (dates), plus optional slices. Empty tuple = all."""
    start: dt.date
    end: dt.date
    regions: tuple[str, ...] = ()
    product_lines: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()  # owner ids
    teams: tuple[str, ...] = ()  # team names
    pipelines: tuple[str, ...] = ()  # pipeline ids
    sources: tuple[str, ...] = ()  # original source values (contacts) / deal source
    # the last day of the period a period in progress belongs to (quarter end for "Quarter to
    # date"); None when the period is closed (plans and stocks then use `end` too)
    plan_end: dt.date | None = None
    # set on the plans' form only (`whole()`): the `end` flows use, so a plan built from a flow
    # (gap = target - revenue to date) still counts the flow to date
    flow_end: dt.date | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"period end {self.end} is before its start {self.start}")
        if self.plan_end is not None and self.plan_end < self.end:
            raise ValueError(f"plan end {self.plan_end} is before the period end {self.end}")
        if self.plan_end is not None and self.plan_end == self.end and self.flow_end is None:
            object.__setattr__(self, "plan_end", None)  # a closed period: one end (one cache key)

    def whole(self) -> "Filters":
        """The filters a plan or stock (catalog `compare: whole`) is computed with: [start, plan_end]."""
        if self.flow_end is not None or self.plan_end is None:
            return self
        return replace(self, end=self.plan_end, flow_end=self.end)

    def to_date(self) -> "Filters":
        """The filters a flow (catalog `compare: to_date`) is computed with: [start, end]."""
        if self.flow_end is None:
            return self
        return replace(self, end=self.flow_end, flow_end=None)

    def paced(self) -> "Filters":
        """The days lived so far as a closed period: a plan over it is prorated to them (a target
        paced to today: the revenue target of 1 - 5 December beside 5 days of revenue)."""
        view = self.to_date()
        return view.with_period(view.start, view.end)

    @property
    def in_progress(self) -> bool:
        """True when plans and stocks run past `end` (a period to date)."""
        return self.to_date().plan_end is not None

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def with_period(self, start: dt.date, end: dt.date, plan_end: dt.date | None = None) -> "Filters":
        """The same slices over another period (closed unless `plan_end` is given)."""
        return replace(self, start=start, end=end, plan_end=plan_end, flow_end=None)

    def previous_period(self) -> "Filters":
        """The period of the same length just before this one (closed)."""
        view = self.to_date()
        end = view.start - dt.timedelta(days=1)
        return view.with_period(end - dt.timedelta(days=view.days - 1), end)

    def same_period_last_year(self) -> "Filters":
        def back(d: dt.date) -> dt.date:
            try:
                return d.replace(year=d.year - 1)
            except ValueError:  # 29 February
                return d.replace(year=d.year - 1, day=28)
        view = self.to_date()
        return view.with_period(back(view.start), back(view.end),
                                back(view.plan_end) if view.plan_end else None)

    def as_dict(self) -> dict:
        """JSON-friendly form (dates as ISO strings, tuples as lists)."""
        d = asdict(self)
        for k in ("start", "end", "plan_end", "flow_end"):
            d[k] = d[k].isoformat() if d[k] is not None else None
        if d["flow_end"] is None:
            del d["flow_end"]
        if d["plan_end"] is None:
            del d["plan_end"]
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}
