"""The catalog is the one source: every metric declared once, with a kind from a closed list;
ratios and differences are computed by the layer from the metrics they name; the formula is
generated for every kind but custom; a catalog entry without its function, or a function
without its entry, stops the import with every mismatch listed."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from metrics import REGISTRY, Filters, compute
from metrics.registry import (_FUNCTIONS, _WRITTEN, CatalogError, NotAvailable, bind, binding_problems, difference,
                              load_catalog, ratio)

from metrics_world import D, build_world

ROOT = Path(__file__).resolve().parents[2]
BASE = {"label": "X", "unit": "money", "definition": "d", "owner_role": "CFO"}


def _catalog(tmp_path, entries: list[dict]) -> Path:
    import yaml
    (tmp_path / "sales.yaml").write_text(yaml.safe_dump({"metrics": entries}), encoding="utf-8")
    return tmp_path


def test_catalog_formulas_are_generated_from_the_declaration(tmp_path):
    folder = _catalog(tmp_path, [
        {**BASE, "id": "a", "kind": "sum", "of": "amount x fx", "over": "won deals with close_date in period"},
        {**BASE, "id": "n", "kind": "count", "unit": "count", "over": "won deals"},
        {**BASE, "id": "r", "kind": "ratio", "unit": "ratio", "numerator": "a", "denominator": "n",
         "when_zero": "no deal"},
        {**BASE, "id": "g", "kind": "difference", "minuend": "a", "subtrahend": "a"},
        {**BASE, "id": "c", "kind": "custom", "formula": "  anything a person writes  "},
    ])
    got = {mid: (m.kind, m.formula, m.inputs) for mid, m in load_catalog(folder).items()}
    assert got == {"a": ("sum", "sum(amount x fx) over won deals with close_date in period", ()),
                   "n": ("count", "count(won deals)", ()),
                   "r": ("ratio", "a / n", ("a", "n")),
                   "g": ("difference", "a - a", ("a", "a")),
                   "c": ("custom", "anything a person writes", ())}
    assert load_catalog(folder)["r"].when_zero == "no deal"


def test_catalog_rejects_bad_declarations(tmp_path):
    folder = _catalog(tmp_path, [
        {**BASE, "id": "k", "kind": "average", "formula": "f"},
        {**BASE, "id": "s", "kind": "sum", "of": "amount", "over": "deals", "formula": "typed by hand"},
        {**BASE, "id": "r", "kind": "ratio", "unit": "ratio", "numerator": "s", "denominator": "nope", "when_zero": "z"},
        {**BASE, "id": "q", "kind": "ratio", "unit": "ratio", "numerator": "s", "denominator": "s"},
        {**BASE, "id": "m", "kind": "count", "over": "deals"},
    ])
    with pytest.raises(CatalogError) as err:
        load_catalog(folder)
    text = str(err.value)
    assert "k: kind 'average' is not one of sum, count, ratio, difference, custom" in text
    assert "s: a sum metric's formula is generated" in text
    assert "r: its ratio names unknown metrics: nope" in text
    assert "q: missing when_zero (kind ratio)" in text
    assert "m: a count metric has unit count, not 'money'" in text


def test_catalog_every_shipped_metric_has_its_function():
    assert binding_problems(REGISTRY, _WRITTEN) == []
    assert set(_FUNCTIONS) == set(REGISTRY)
    declared = {m.id for m in REGISTRY.values() if m.kind in ("ratio", "difference")}
    assert declared and not declared & set(_WRITTEN)  # declared, never hand-written
    assert REGISTRY["cac"].formula == "sm_spend / new_customers"
    assert REGISTRY["forecast_accuracy"].owner_role == "CSO"


def test_catalog_mismatch_fails_binding():
    without = {k: v for k, v in REGISTRY.items() if k != "win_rate"}
    extra_fn = dict(_WRITTEN, ghost=lambda ctx, f: 1)
    hand_ratio = dict(_WRITTEN, cac=lambda ctx, f: 1)
    assert binding_problems(without, _WRITTEN) == [
        "win_rate: a @computes function (metrics.sales.win_rate) but no catalog entry"]
    problems = binding_problems(REGISTRY, {k: v for k, v in extra_fn.items() if k != "won_deals"})
    assert any(p.startswith("won_deals: in the catalog but no @computes function") for p in problems)
    assert any(p.startswith("ghost: a @computes function") for p in problems)
    assert any(p.startswith("cac: declared as a ratio") for p in binding_problems(REGISTRY, hand_ratio))
    before = dict(_FUNCTIONS)
    with pytest.raises(CatalogError, match="win_rate"):
        bind(without)
    assert _FUNCTIONS == before  # a failed binding changes nothing


def test_catalog_mismatch_fails_at_import(tmp_path):
    """A copy of the metric layer with one more catalog entry and no function for it cannot be imported."""
    shutil.copytree(ROOT / "metrics", tmp_path / "metrics", ignore=shutil.ignore_patterns("__pycache__"))
    with open(tmp_path / "metrics" / "catalog" / "sales.yaml", "a", encoding="utf-8") as fh:
        fh.write("\n  - id: orphan_metric\n    label: Orphan\n    unit: count\n    kind: count\n"
                 "    over: nothing\n    definition: none\n    owner_role: CSO\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]))
    run = subprocess.run([sys.executable, "-c", "import metrics"], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode != 0
    assert "CatalogError" in run.stderr and "orphan_metric: in the catalog but no @computes function" in run.stderr


@pytest.mark.parametrize("num, den, expected", [
    (3.0, 4.0, 0.75), (5, 2, 2.5), (1.0, 0, NotAvailable("why")), (0.0, 0.0, NotAvailable("why")),
    (NotAvailable("no spend"), 4.0, NotAvailable("no spend")), (2.0, NotAvailable("no leads"), NotAvailable("no leads")),
])
def test_catalog_ratio_kind_by_hand(num, den, expected):
    assert ratio(num, den, "why") == expected


def test_catalog_difference_kind_by_hand():
    assert difference(10.0, 4.5) == 5.5
    assert difference(NotAvailable("no target"), 3.0) == NotAvailable("no target")


def test_catalog_ratio_metric_zero_denominator_says_why(engine):
    build_world(engine)
    april = Filters(D(2026, 4, 1), D(2026, 4, 30))  # only d8, still open: no deal won
    mv = compute(engine, "avg_deal_size", april)
    assert mv.value is None and mv.reason == "no deal was won in this period"
    q1 = Filters(D(2026, 1, 1), D(2026, 3, 31))  # won: d1 1,000 EUR, d2 2,000 USD (x 0.92), d3 3,000 EUR
    assert compute(engine, "avg_deal_size", q1).value == round((1000 + 2000 * 0.92 + 3000) / 3, 2)
