"""The metric registry: each metric's metadata (catalog/*.yaml) bound to one compute function.

A compute function takes a `Ctx` (connection + effective definitions) and a `Filters`, runs
one SQL aggregate (or a few), and returns a number, or `NotAvailable(reason)` when the value
is undefined (no lost deals, no spend...). Pages, the CLI and the meeting pack all go through
`compute` / `compute_many` / `breakdown`, so the same filters give the same number everywhere.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Union

import yaml
from sqlalchemy import Connection

from .definitions import Definitions
from .filters import Filters

# One YAML file per area, read in this order (the order metrics are listed in).
CATALOG_DIR = Path(__file__).with_name("catalog")
CATALOG_FILES = ("sales.yaml", "funnel.yaml", "marketing.yaml", "finance.yaml")
UNITS = ("money", "count", "ratio", "days", "months", "ratio_x")
OWNER_ROLES = ("CEO", "CMO", "CSO", "CFO")


@dataclass(frozen=True)
class NotAvailable:
    """A value that cannot be computed, and why (shown in the UI instead of a number)."""
    reason: str


Result = Union[float, int, None, NotAvailable]


def first_unavailable(*values: Result) -> NotAvailable | None:
    """The first input that is not available (its reason explains the result), or None."""
    return next((v for v in values if isinstance(v, NotAvailable)), None)


@dataclass(frozen=True)
class Ctx:
    """What a compute function gets besides the filters.

    `cache` memoises values and lookups within one `compute_many` call (one connection, one
    snapshot), so a metric built from others (forecast = won + weighted) runs each query once.
    """
    conn: Connection
    defs: Definitions
    cache: dict = field(default_factory=dict, compare=False, hash=False, repr=False)

    def value(self, metric_id: str, f: Filters) -> Result:
        """Another metric's value for `f` on this connection (computed once per Ctx)."""
        key = ("value", metric_id, f)
        if key not in self.cache:
            self.cache[key] = _FUNCTIONS[metric_id](self, f)
        return self.cache[key]


@dataclass(frozen=True)
class MetricDef:
    id: str
    label: str
    unit: str  # money (reporting currency, major units) | count | ratio (0-1) | days | months | ratio_x (e.g. LTV:CAC 3.2x)
    definition: str  # one paragraph for humans, shown beside the number
    formula: str
    owner_role: str  # who answers for it in the meeting: CEO | CMO | CSO | CFO
    sources: tuple[str, ...]  # store tables it reads
    down_is_good: bool = False
    breakdowns: tuple[str, ...] = ()
    # how a period still in progress is compared: "to_date" (a flow: revenue, leads; against the
    # same number of days of the comparison period) or "whole" (a plan or stock: target, pipeline)
    compare: str = "to_date"


@dataclass(frozen=True)
class MetricValue:
    metric_id: str
    value: float | None
    unit: str
    label: str
    definition: str
    as_of: dt.datetime | None
    reason: str | None = None  # why value is None

    @property
    def available(self) -> bool:
        return self.value is not None


ComputeFn = Callable[[Ctx, Filters], Result]
_FUNCTIONS: dict[str, ComputeFn] = {}
# Breakdowns that narrowed filters cannot express (stage, campaign, channel): one GROUP BY each.
BreakdownFn = Callable[[Ctx, Filters], "list[tuple[str, Result]]"]
_BREAKDOWNS: dict[tuple[str, str], BreakdownFn] = {}


def computes(metric_id: str) -> Callable[[ComputeFn], ComputeFn]:
    """Decorator binding a compute function to a metric id of catalog/*.yaml."""
    def wrap(fn: ComputeFn) -> ComputeFn:
        if metric_id in _FUNCTIONS:
            raise ValueError(f"metric {metric_id!r} has two compute functions")
        _FUNCTIONS[metric_id] = fn
        return fn
    return wrap


def breaks_down(metric_id: str, by: str) -> Callable[[BreakdownFn], BreakdownFn]:
    """Decorator binding a grouped query `(ctx, filters) -> [(segment, value)]` to a metric and a `by`."""
    def wrap(fn: BreakdownFn) -> BreakdownFn:
        _BREAKDOWNS[(metric_id, by)] = fn
        return fn
    return wrap


class CatalogError(ValueError):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("Invalid metric catalog:\n- " + "\n- ".join(problems))


def _entries(folder: Path) -> list[tuple[str, dict]]:
    entries = []
    for name in CATALOG_FILES:
        path = folder / name
        if path.exists():
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            entries += [(name, e) for e in raw.get("metrics", [])]
    return entries


COMPARE_KINDS = ("to_date", "whole")


def load_catalog(folder: Path = CATALOG_DIR) -> dict[str, MetricDef]:
    """Read catalog/*.yaml into MetricDefs, reporting every problem (with its file) at once."""
    problems: list[str] = []
    out: dict[str, MetricDef] = {}
    for i, (fname, entry) in enumerate(_entries(folder)):
        mid = f"{fname}: " + (entry.get("id") or f"<entry {i}>")
        missing = [k for k in ("id", "label", "unit", "definition", "formula", "owner_role") if not entry.get(k)]
        if missing:
            problems.append(f"{mid}: missing {', '.join(missing)}")
            continue
        if entry["unit"] not in UNITS:
            problems.append(f"{mid}: unit {entry['unit']!r} is not one of {', '.join(UNITS)}")
        if entry["owner_role"] not in OWNER_ROLES:
            problems.append(f"{mid}: owner_role {entry['owner_role']!r} is not one of {', '.join(OWNER_ROLES)}")
        if entry["id"] in out:
            problems.append(f"{mid}: defined twice")
        if entry.get("compare", "to_date") not in COMPARE_KINDS:
            problems.append(f"{mid}: compare {entry['compare']!r} is not one of {', '.join(COMPARE_KINDS)}")
        out[entry["id"]] = MetricDef(
            id=entry["id"], label=entry["label"], unit=entry["unit"], definition=" ".join(entry["definition"].split()),
            formula=entry["formula"].strip(), owner_role=entry["owner_role"],
            sources=tuple(entry.get("sources", ())), down_is_good=bool(entry.get("down_is_good", False)),
            breakdowns=tuple(entry.get("breakdowns", ())), compare=entry.get("compare", "to_date"))
    if problems:
        raise CatalogError(problems)
    return out
