"""The same number everywhere: for several filter combinations, every metric shown on more than one
page shows the identical value on each, and the same value the metric layer (and the CLI) gives."""
from __future__ import annotations

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
    for page in ROLE_PAGES:
        run_app(page, at=at)
        for label, value in tiles(at).items():
            seen.setdefault(label, {})[page] = value
    return seen, at


@pytest.mark.slow
@pytest.mark.parametrize("combo", COMBOS, ids=["12m", "quarter-vs-last-year", "one-region", "fy-source-fr"])
def test_shared_metrics_show_the_same_value_on_every_page(demo_store, combo):
    from metrics import REGISTRY, compute_many, get_definitions
    from metrics.periods import period_range
    from store import utcnow
    from metrics.filters import Filters
    from metrics.format import format_value
    from store import StoreSettings, open_store

    engine = open_store(StoreSettings(demo_store, "test"))
    query = _resolve(combo, engine)
    seen, at = _shown_everywhere(query)
    shared = {label: pages for label, pages in seen.items() if len(pages) > 1}
    assert len(shared) >= 4, f"expected several metrics on more than one page, got {sorted(shared)}"
    for label, pages in shared.items():
        assert len(set(pages.values())) == 1, f"{label} differs across pages: {pages}"

    # ... and it is what the metric layer says for the same filters, written the same way.
    start, end = period_range(query["period"], utcnow().date(), get_definitions(engine).fiscal_year_start_month)
    filters = Filters(start=start, end=end, regions=tuple(filter(None, [query.get("region")])),
                      sources=tuple(filter(None, [query.get("source")])))
    by_label = {m.label: m.id for m in REGISTRY.values()}
    ids = [by_label[label] for label in shared if label in by_label]
    values = compute_many(engine, ids, filters)
    locale = query.get("locale", "en-US")
    for mid in ids:
        mv = values[mid]
        expected = "n/a" if mv.value is None else format_value(mv.value, mv.unit, locale=locale, currency="EUR")
        assert set(shared[mv.label].values()) == {expected}, (mid, shared[mv.label], expected)
