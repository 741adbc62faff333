"""The metric registry: each metric's metadata (catalog/*.yaml) bound to one compute function.

Every metric is declared in the catalog with a kind, from a closed list (`KINDS`):

- `sum` (`of`, `over`) and `count` (`over`): an aggregate over records, computed by one
  hand-written SQL function (`@computes`); the formula shown is generated: sum(of) over ...;
- `ratio` (`numerator`, `denominator`: metric ids; `when_zero`: why there is no value when the
  denominator is 0) and `difference` (`minuend`, `subtrahend`: metric ids): computed here from
  the metrics they name, never hand-written; the formula is generated;
- `custom`: a hand-written function, with its formula in prose.

A compute function takes a `Ctx` (connection + effective definitions) and a `Filters`, runs
one SQL aggregate (or a few), and returns a number, or `NotAvailable(reason)` when the value
is undefined (no lost deals, no spend...). `bind` (called when `metrics` is imported) checks
that every catalog entry has its function and every function its entry, and fails with every
mismatch listed. Pages, the CLI and the meeting pack all go through `compute` /
`compute_many` / `breakdown`, so the same filters give the same number everywhere.
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
CATALOG_FILES = ("sales.yaml", "funnel.yaml", "marketing.yaml", "finance.yaml", "forecasts.yaml", "recurring.yaml")
UNITS = ("money", "count", "ratio", "days", "months", "ratio_x", "score")
OWNER_ROLES = ("CEO", "CMO", "CSO", "CFO")
# kind -> the fields its declaration needs (besides id, label, unit, definition, owner_role)
KINDS: dict[str, tuple[str, ...]] = {
    "sum": ("of", "over"),
    "count": ("over",),
    "ratio": ("numerator", "denominator", "when_zero"),
    "difference": ("minuend", "subtrahend"),
    "custom": ("formula",),
}
DECLARED_KINDS = ("ratio", "difference")  # computed by the layer from other metrics
KIND_UNITS = {"sum": ("money",), "count": ("count",)}


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
        """Another metric's value for `f` on this connection (computed once per Ctx), over the
        window its kind takes: a plan or stock to the period's plan end, a flow to its end."""
        f = scoped(metric_id, f)
        key = ("value", metric_id, f)
        if key not in self.cache:
            self.cache[key] = _FUNCTIONS[metric_id](self, f)
        return self.cache[key]


@dataclass(frozen=True)
class MetricDef:
    id: str
    label: str
    unit: str  # money (reporting currency, major units) | count | ratio (0-1) | days | months | ratio_x (e.g. LTV:CAC 3.2x) | score (NPS, -100 to 100)
    definition: str  # one paragraph for humans, shown beside the number
    formula: str  # generated from the declaration, except for kind custom
    owner_role: str  # who answers for it in the meeting: CEO | CMO | CSO | CFO
    sources: tuple[str, ...]  # store tables it reads
    down_is_good: bool = False
    breakdowns: tuple[str, ...] = ()
    # how a period still in progress is compared: "to_date" (a flow: revenue, leads; against the
    # same number of days of the comparison period) or "whole" (a plan or stock: target, pipeline)
    compare: str = "to_date"
    # the window of a `compare: whole` metric while its period is in progress: "plan" (to the end
    # of the period: target, pipeline) or "end" (a trailing window ending on the period's last
    # day counted, e.g. ARPA's 12 months: never reaching into days not yet lived)
    window: str = "plan"
    kind: str = "custom"  # one of KINDS
    inputs: tuple[str, ...] = ()  # ratio: (numerator, denominator); difference: (minuend, subtrahend)
    when_zero: str | None = None  # ratio: why there is no value when the denominator is 0


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


def scoped(metric_id: str, f: Filters) -> Filters:
    """The filters `metric_id` is computed with: [start, plan_end] for a plan or stock of the
    period (catalog `compare: whole`), [start, end] for a flow (metrics.filters)."""
    return f.whole() if metric_id in _PLANS else f.to_date()
_WRITTEN: dict[str, ComputeFn] = {}  # the hand-written functions (@computes)
_PLANS: set[str] = set()  # metrics computed to the period's plan end (catalog compare: whole)
_FUNCTIONS: dict[str, ComputeFn] = {}  # every catalog metric's function, once `bind` has run
# Breakdowns that narrowed filters cannot express (stage, campaign, channel): one GROUP BY each.
BreakdownFn = Callable[[Ctx, Filters], "list[tuple[str, Result]]"]
_BREAKDOWNS: dict[tuple[str, str], BreakdownFn] = {}


def computes(metric_id: str) -> Callable[[ComputeFn], ComputeFn]:
    """Decorator binding a compute function to a metric id of catalog/*.yaml."""
    def wrap(fn: ComputeFn) -> ComputeFn:
        if metric_id in _WRITTEN:
            raise ValueError(f"metric {metric_id!r} has two compute functions")
        _WRITTEN[metric_id] = fn
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
WINDOWS = ("plan", "end")


def formula_of(kind: str, entry: dict) -> str:
    """The formula shown to users: generated from the declaration, prose for a custom metric."""
    if kind == "sum":
        return f"sum({entry['of']}) over {' '.join(str(entry['over']).split())}"
    if kind == "count":
        return f"count({' '.join(str(entry['over']).split())})"
    if kind == "ratio":
        return f"{entry['numerator']} / {entry['denominator']}"
    if kind == "difference":
        return f"{entry['minuend']} - {entry['subtrahend']}"
    return str(entry["formula"]).strip()


def load_catalog(folder: Path = CATALOG_DIR) -> dict[str, MetricDef]:
    """Read catalog/*.yaml into MetricDefs, reporting every problem (with its file) at once."""
    problems: list[str] = []
    out: dict[str, MetricDef] = {}
    for i, (fname, entry) in enumerate(_entries(folder)):
        mid = f"{fname}: " + (entry.get("id") or f"<entry {i}>")
        kind = entry.get("kind")
        if kind not in KINDS:
            problems.append(f"{mid}: kind {kind!r} is not one of {', '.join(KINDS)}")
            continue
        missing = [k for k in ("id", "label", "unit", "definition", "owner_role", *KINDS[kind]) if not entry.get(k)]
        if missing:
            problems.append(f"{mid}: missing {', '.join(missing)} (kind {kind})")
            continue
        if kind != "custom" and "formula" in entry:
            problems.append(f"{mid}: a {kind} metric's formula is generated from its declaration; remove formula")
        if kind in KIND_UNITS and entry["unit"] not in KIND_UNITS[kind]:
            problems.append(f"{mid}: a {kind} metric has unit {' or '.join(KIND_UNITS[kind])}, not {entry['unit']!r}")
        if entry["unit"] not in UNITS:
            problems.append(f"{mid}: unit {entry['unit']!r} is not one of {', '.join(UNITS)}")
        if entry["owner_role"] not in OWNER_ROLES:
            problems.append(f"{mid}: owner_role {entry['owner_role']!r} is not one of {', '.join(OWNER_ROLES)}")
        if entry["id"] in out:
            problems.append(f"{mid}: defined twice")
        if entry.get("window", "plan") not in WINDOWS:
            problems.append(f"{mid}: window {entry['window']!r} is not one of {', '.join(WINDOWS)}")
        if entry.get("compare", "to_date") not in COMPARE_KINDS:
            problems.append(f"{mid}: compare {entry['compare']!r} is not one of {', '.join(COMPARE_KINDS)}")
        inputs = {"ratio": ("numerator", "denominator"), "difference": ("minuend", "subtrahend")}.get(kind, ())
        out[entry["id"]] = MetricDef(
            id=entry["id"], label=entry["label"], unit=entry["unit"], definition=" ".join(entry["definition"].split()),
            formula=formula_of(kind, entry), owner_role=entry["owner_role"],
            sources=tuple(entry.get("sources", ())), down_is_good=bool(entry.get("down_is_good", False)),
            breakdowns=tuple(entry.get("breakdowns", ())), compare=entry.get("compare", "to_date"),
            window=entry.get("window", "plan"),
            kind=kind, inputs=tuple(str(entry[k]) for k in inputs),
            when_zero=" ".join(str(entry["when_zero"]).split()) if kind == "ratio" else None)
    for mdef in out.values():
        unknown = [m for m in mdef.inputs if m not in out]
        if unknown:
            problems.append(f"{mdef.id}: its {mdef.kind} names unknown metrics: {', '.join(unknown)}")
    if problems:
        raise CatalogError(problems)
    return out


# --- binding catalog entries to functions ------------------------------------------------------

def ratio(numerator: Result, denominator: Result, when_zero: str) -> Result:
    """numerator / denominator; the first input not available says why, a zero (or missing)
    denominator gives NotAvailable(when_zero)."""
    if missing := first_unavailable(numerator, denominator):
        return missing
    if numerator is None or denominator is None or float(denominator) == 0:
        return NotAvailable(when_zero)
    return float(numerator) / float(denominator)


def difference(minuend: Result, subtrahend: Result) -> Result:
    """minuend - subtrahend; the first input not available says why."""
    if missing := first_unavailable(minuend, subtrahend):
        return missing
    return minuend - subtrahend


def declared_function(mdef: MetricDef) -> ComputeFn:
    """The compute function of a ratio or difference metric, from the metrics it names."""
    first, second = mdef.inputs
    if mdef.kind == "ratio":
        return lambda ctx, f: ratio(ctx.value(first, f), ctx.value(second, f), mdef.when_zero)
    return lambda ctx, f: difference(ctx.value(first, f), ctx.value(second, f))


def binding_problems(catalog: dict[str, MetricDef], written: dict[str, ComputeFn]) -> list[str]:
    """Catalog entries without their function, functions without an entry, and hand-written
    functions for metrics the catalog declares (ratio, difference)."""
    problems = [f"{mid}: in the catalog but no @computes function computes it"
                for mid, mdef in catalog.items() if mdef.kind not in DECLARED_KINDS and mid not in written]
    problems += [f"{mid}: a @computes function ({fn.__module__}.{fn.__name__}) but no catalog entry"
                 for mid, fn in written.items() if mid not in catalog]
    problems += [f"{mid}: declared as a {catalog[mid].kind} in the catalog, so it must not have a @computes "
                 f"function ({fn.__module__}.{fn.__name__})"
                 for mid, fn in written.items() if mid in catalog and catalog[mid].kind in DECLARED_KINDS]
    return problems


def bind(catalog: dict[str, MetricDef]) -> None:
    """Give every catalog metric its compute function (hand-written or declared); raise a
    CatalogError listing every mismatch between the catalog and the @computes functions."""
    problems = binding_problems(catalog, _WRITTEN)
    if problems:
        raise CatalogError(problems)
    _PLANS.clear()
    _PLANS.update(mid for mid, mdef in catalog.items() if mdef.compare == "whole" and mdef.window == "plan")
    _FUNCTIONS.clear()
    _FUNCTIONS.update({mid: declared_function(mdef) if mdef.kind in DECLARED_KINDS else _WRITTEN[mid]
                       for mid, mdef in catalog.items()})
