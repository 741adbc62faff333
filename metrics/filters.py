"""The one value every metric takes: which period and which slice of the business."""
from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, replace

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

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"period end {self.end} is before its start {self.start}")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def with_period(self, start: dt.date, end: dt.date) -> "Filters":
        return replace(self, start=start, end=end)

    def previous_period(self) -> "Filters":
        """The period of the same length just before this one."""
        end = self.start - dt.timedelta(days=1)
        return self.with_period(end - dt.timedelta(days=self.days - 1), end)

    def same_period_last_year(self) -> "Filters":
        def back(d: dt.date) -> dt.date:
            try:
                return d.replace(year=d.year - 1)
            except ValueError:  # 29 February
                return d.replace(year=d.year - 1, day=28)
        return self.with_period(back(self.start), back(self.end))

    def as_dict(self) -> dict:
        """JSON-friendly form (dates as ISO strings, tuples as lists)."""
        d = asdict(self)
        d["start"], d["end"] = self.start.isoformat(), self.end.isoformat()
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}
