"""The CEO trend and the Finance bridge split booked revenue by type on the demo store (toggles),
without an exception, through the metric layer only."""
from __future__ import annotations

import pytest

from tests.pages.conftest import run_app


@pytest.mark.slow
@pytest.mark.parametrize("page, key", [("pages/ceo.py", "ceo_trend_types"), ("pages/finance.py", "fin_bridge_types")])
def test_revenue_types_pages_split_by_type(demo_store, page, key):
    at = run_app(page, {"period": "trailing_12_months"})
    at.toggle(key=key).set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.toggle(key=key).value is True
