"""The sidebar's region options and a region breakdown's segments come from one rule
(metrics.dimensions): with regions taken from the deal's owner or company, every region a chart
shows can be selected in the filter, selecting it gives that segment's number, and every region
the filter offers is a segment."""
from __future__ import annotations

import datetime as dt

import pytest

from metrics import NONE_BUCKET, Filters, breakdown, compute, save_definition
from store import bump_data_version, schema as s
from ui.cache import filter_options

D = dt.date
YEAR = Filters(D(2026, 1, 1), D(2026, 12, 31))


def _world(engine) -> None:
    """Two won deals whose own region column, owner's region and company's region all differ."""
    with engine.begin() as conn:
        conn.execute(s.owners.insert(), [dict(owner_id="o1", first_name="Ann", region="Nordics"),
                                         dict(owner_id="o2", first_name="Bob", region="Iberia")])
        conn.execute(s.companies.insert(), [dict(company_id="co1", name="One", region="Benelux"),
                                            dict(company_id="co2", name="Two", region="Italy")])
        conn.execute(s.pipeline_stages.insert(), [dict(pipeline_id="default", stage_id="closedwon", label="Won",
                                                       display_order=1, probability=1.0, is_closed=True,
                                                       is_won=True)])
        conn.execute(s.deals.insert(), [
            dict(deal_id="d1", amount_cents=100000, currency="EUR", pipeline_id="default", stage_id="closedwon",
                 created_at=dt.datetime(2026, 1, 5), close_date=D(2026, 2, 1), owner_id="o1", company_id="co1", region="Deal-only"),
            dict(deal_id="d2", amount_cents=30000, currency="EUR", pipeline_id="default", stage_id="closedwon",
                 created_at=dt.datetime(2026, 1, 5), close_date=D(2026, 3, 1), owner_id="o2", company_id="co2", region="Deal-only"),
        ])
        bump_data_version(conn, "owners", "companies", "pipeline_stages", "deals")


@pytest.mark.parametrize("rule, regions", [("owner", {"Nordics": 1000.0, "Iberia": 300.0}),
                                           ("company", {"Benelux": 1000.0, "Italy": 300.0})])
def test_region_options_match_breakdown_segments(engine, rule, regions):
    _world(engine)
    save_definition(engine, "dimensions.region_from", rule, "test")
    segments = {seg: mv.value for seg, mv in breakdown(engine, "won_revenue", YEAR, "region") if seg != NONE_BUCKET}
    options = set(filter_options(engine)["regions"])
    assert segments == regions  # by hand: d1 is 1,000 EUR, d2 300 EUR, each in its owner's / company's region
    assert options == set(segments)  # every segment selectable, every option a segment
    for region in options:  # and selecting a region gives its segment's number
        assert compute(engine, "won_revenue", Filters(YEAR.start, YEAR.end, regions=(region,))).value == segments[region]
