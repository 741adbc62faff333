"""The demo calendar: three years of days ending the day before `as_of`, weighted for growth and seasons."""
from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from itertools import accumulate
from random import Random

YEARS = 3
YEARLY_GROWTH = 1.45  # new contacts per day grow 45% a year
MONTH_SEASON = {1: 1.05, 2: 1.0, 3: 1.1, 4: 1.0, 5: 0.95, 6: 1.0, 7: 0.8, 8: 0.6, 9: 1.1,
                10: 1.15, 11: 1.1, 12: 0.75}
WEEKDAY = (1.0, 1.05, 1.05, 1.0, 0.9, 0.3, 0.25)
DAY = dt.timedelta(days=1)


def ts(value: dt.datetime | None) -> str | None:
    """A datetime in the text form the store's SQLAlchemy types write (SQLite) and PostgreSQL parses."""
    return None if value is None else value.isoformat(" ") + ".000000"


def ds(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def month_start(d: dt.date) -> dt.date:
    return d.replace(day=1)


def add_months(d: dt.date, months: int) -> dt.date:
    """The first day of the month `months` after d's month."""
    index = d.year * 12 + d.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def quarter_end(d: dt.date) -> dt.date:
    return add_months(dt.date(d.year, (d.month - 1) // 3 * 3 + 1, 1), 3) - DAY


class Timeline:
    """Days from the first of the month three years before `as_of` to the day before it.

    `now` (midnight at the start of `as_of`) bounds every event: nothing happens on or after it.
    """

    def __init__(self, as_of: dt.date):
        self.as_of = as_of
        self.now = dt.datetime.combine(as_of, dt.time())
        self.start = add_months(month_start(as_of), -12 * YEARS)
        self.days = [self.start + DAY * i for i in range((as_of - self.start).days)]
        weights = [YEARLY_GROWTH ** (i / 365.25) * MONTH_SEASON[d.month] * WEEKDAY[d.weekday()]
                   for i, d in enumerate(self.days)]
        self.cumulative = list(accumulate(weights))
        self.total = self.cumulative[-1]
        self._weights = weights

    def moment(self, rng: Random) -> dt.datetime:
        """A working-hours moment on a day drawn by weight (growth, season, weekday)."""
        i = min(bisect_right(self.cumulative, rng.random() * self.total), len(self.days) - 1)
        return (dt.datetime.combine(self.days[i], dt.time())
                + dt.timedelta(seconds=rng.randrange(7 * 3600, 20 * 3600)))

    def share(self, first: dt.date, end: dt.date) -> float:
        """Fraction of all contact creation expected on days in [first, end)."""
        lo = max(0, (first - self.start).days)
        hi = min(len(self.days), (end - self.start).days)
        if hi <= lo:
            return 0.0
        return (self.cumulative[hi - 1] - (self.cumulative[lo - 1] if lo else 0.0)) / self.total

    def months(self, through: dt.date | None = None) -> list[dt.date]:
        """First days of the months from the start to `through` (default: as_of's month)."""
        last = month_start(through or self.as_of)
        out, m = [], self.start
        while m <= last:
            out.append(m)
            m = add_months(m, 1)
        return out
