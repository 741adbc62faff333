"""The same number everywhere: for several filter combinations, every metric shown on more than one
page shows the identical value on each, and the same value the metric layer (and the CLI) gives."""
from __future__ import annotations

import json

import pytest

from tests.pages.conftest import run_app, tiles

ROLE_PAGES = ["pages/ceo.py", "pages/marketing.py", "pages/sales.py", "pages/finance.py"]

COMBOS = [
    {"period": "last_12_months"},
    {"period": "this_quarter", "compare": "last_year"},
    {"period": "last_12_months", "region": "__first_region__"},
    {"period": "fiscal_year", "source": "__first_source__", "locale": "fr-FR"},
]


def _resolve(combo: dict, engine) -> dict:
    """Put the store's first region / source in place of the placeholders."""
    from sqlalchemy import select
    from store import schema as s
    with engine.connect() as conn:
        regions = sorted(v for (v,) in conn.execute(select(s.deals.c.region).distinct()) if v)
        sources = sorted(v for (v,) in conn.execute(select(s.contacts.c.original_source).distinct()) if v)
    out = dict(combo)
    if out.get("region") == "__first_region__":
        out["region"] = regions[0]
    if out.get("source") == "__first_source__":
        out["source"] = sources[0]
    return out


def _shown_everywhere(query: dict) -> dict[str, dict[str, str]]:
    """{tile label: {page: displayed value}} across the role pages, one session (filters kept)."""
    at = run_app(None, query)
    seen: dict[str, dict[str, str]] = {}
    helps: dict[str, dict[str, str]] = {}
    for page in ROLE_PAGES:
        run_app(page, at=at)
        for label, value in tiles(at).items():
            seen.setdefault(label, {})[page] = value
        for m in at.metric:
            helps.setdefault(m.label.split(" · ")[0], {})[page] = m.help or ""
    return seen, helps


@pytest.mark.slow
@pytest.mark.parametrize("combo", COMBOS, ids=["12m", "quarter-vs-last-year", "one-region", "fy-source-fr"])
def test_shared_metrics_show_the_same_value_on_every_page(demo_store, combo, capsys):
    import cli
    from metrics import REGISTRY, get_definitions
    from metrics.periods import period_range, plan_end
    from store import utcnow
    from metrics.format import format_value
    from ui.tiles import tile_text
    from store import StoreSettings, open_store

    engine = open_store(StoreSettings(demo_store, "test"))
    query = _resolve(combo, engine)
    seen, helps = _shown_everywhere(query)
    shared = {label: pages for label, pages in seen.items() if len(pages) > 1}
    assert len(shared) >= 4, f"expected several metrics on more than one page, got {sorted(shared)}"
    for label, pages in shared.items():
        assert len(set(pages.values())) == 1, f"{label} differs across pages: {pages}"

    # ... and it is what `cli.py metrics --json` prints for the same filters, written the same way.
    fy_month = get_definitions(engine).fiscal_year_start_month
    start, end = period_range(query["period"], utcnow().date(), fy_month)
    argv = ["metrics", "--from", start.isoformat(), "--to", end.isoformat(),
            "--plan-to", plan_end(query["period"], utcnow().date(), fy_month).isoformat(), "--json"]
    for opt, key in (("--region", "region"), ("--source", "source")):
        if query.get(key):
            argv += [opt, query[key]]
    assert cli.main(argv) == 0
    printed = json.loads(capsys.readouterr().out)["metrics"]
    by_label = {m.label: m.id for m in REGISTRY.values()}
    locale = query.get("locale", "en-US")
    checked = 0
    for label, pages in seen.items():
        mid = by_label.get(label)
        if mid is None or mid not in printed:
            continue
        value = printed[mid]["value"]
        unit = printed[mid]["unit"]
        assert set(pages.values()) == {tile_text(value, unit, locale, "EUR", mid)}, (mid, pages, value)
        if value is not None and unit == "money" and mid != "gap_to_target":  # the tooltip has it exact
            exact = f"Exact value: {format_value(value, unit, locale=locale, currency='EUR')}"
            assert all(exact in h for h in helps[label].values()), (mid, helps[label], exact)
        checked += 1
    assert checked >= 10
