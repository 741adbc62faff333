"""A tiny hand-built store for the sales, funnel and marketing metrics (Q1 2026).

Every expected value in the tests is worked out by hand from these rows (fx: USD 0.92, GBP 1.17).

Owners: o1 Ann Lee (team Alpha, EMEA), o2 Bob Ray (team Beta, NA).
Pipelines: `default` (stage flags + probabilities from definitions.yaml) and `p2`, known only from
pipeline_stages: p2open (prob 0.5), p2won (won), p2lost (lost).

Deals (amount, currency, stage, created -> close, owner, region, product line, contact, deal_source):
  d1  1000.00 EUR  closedwon       2026-01-01 -> 01-11 (10 d)  o1 EMEA A  c1 PAID_SEARCH
  d2  2000.00 USD  closedwon       2026-01-10 -> 02-09 (30 d)  o2 NA   B  c2 -            = 1840.00 EUR
  d3  3000.00 EUR  p2won           2026-02-01 -> 03-22 (49 d)  o1 EMEA B  c3 -
  d4   500.00 EUR  closedlost      -> 01-20                    o2 NA   A  lost_reason price
  d5   100.00 EUR  p2lost          -> 03-01                    o1 -    A
  d6  4000.00 EUR  qualifiedtobuy  -> 03-15 (prob 0.4)         o1 EMEA A  forecast commit
  d7  1000.00 GBP  p2open          -> 02-20 (prob 0.5)         o2 -    B  = 1170.00 EUR
  d8  2000.00 EUR  contractsent    -> 04-10 (outside Q1)       o1 EMEA A
  d9  5000.00 EUR  closedwon       -> 01-15, deleted
Contacts (region, source, campaign, owner; lead / mql / sql / opp / customer; first sales touch):
  c1 EMEA PAID_SEARCH spring o1: 01-05 / 01-06 10:00 / 01-08 / 01-09 / 01-11; touch 01-07 09:00 (23 h)
  c2 NA   OFFLINE     -      o2: 01-08 / -           / 01-12 / 02-01 / 02-09; no touch
  c3 EMEA ORGANIC_SEARCH spring o1: 2025-12-20 / 02-02 / 02-10 / - / 03-22; touch 02-05 00:00 (72 h)
  c4 -    PAID_SOCIAL summer -:  02-15 / 02-16 / - / - / -; touch 02-16 05:00 (5 h)
  c5 NA   PAID_SEARCH spring o2: 03-30 only
  c6 deleted (lead 01-10); c7 EMEA OFFLINE lead 2026-04-02 (outside Q1)
Marketing spend: 01-10 google spring EMEA 500 EUR; 02-10 linkedin summer (no region) 200 USD = 184;
  03-05 google (no campaign) EMEA 300 EUR; 04-01 google spring EMEA 999.99 EUR (outside Q1).
Budgets target_revenue (cents): all regions Jan 300000, Feb 280000, Mar 310000; EMEA 150000 each month.
"""
from __future__ import annotations

import datetime as dt

from metrics import compute
from store import bump_data_version, schema as s

D = dt.date
T = dt.datetime
Q1 = (D(2026, 1, 1), D(2026, 3, 31))


def insert(conn, table, rows: list[dict]) -> None:
    """Insert rows as a writer must: the data version moves, naming the table (so caches and the
    metric rollups know what changed)."""
    for row in rows:
        conn.execute(table.insert().values(**row))
    bump_data_version(conn, table.name)


def deal(deal_id, cents, currency, stage, close, owner=None, region=None, product_line=None, contact=None,
         source=None, created=T(2026, 1, 1), pipeline="default", **extra) -> dict:
    return dict(deal_id=deal_id, amount_cents=cents, currency=currency, pipeline_id=pipeline, stage_id=stage,
                created_at=created, close_date=close, owner_id=owner, region=region, product_line=product_line,
                contact_id=contact, deal_source=source, **extra)


def contact(contact_id, region, source, campaign=None, owner=None, lead=None, mql=None, sql=None, opp=None,
            customer=None, touch=None, **extra) -> dict:
    return dict(contact_id=contact_id, region=region, original_source=source, campaign=campaign, owner_id=owner,
                became_lead_at=lead, became_mql_at=mql, became_sql_at=sql, became_opportunity_at=opp,
                became_customer_at=customer, first_sales_touch_at=touch, created_at=lead, **extra)


def build_world(engine) -> None:
    with engine.begin() as conn:
        insert(conn, s.owners, [
            dict(owner_id="o1", first_name="Ann", last_name="Lee", team_name="Alpha", region="EMEA"),
            dict(owner_id="o2", first_name="Bob", last_name="Ray", team_name="Beta", region="NA"),
        ])
        insert(conn, s.pipelines, [dict(pipeline_id="default", label="Sales"), dict(pipeline_id="p2", label="Renewals")])
        insert(conn, s.pipeline_stages, [
            dict(pipeline_id="default", stage_id="qualifiedtobuy", label="Qualified to buy", display_order=1,
                 probability=0.3),  # definitions say 0.4: the definitions win
            dict(pipeline_id="default", stage_id="contractsent", label="Contract sent", display_order=2, probability=0.9),
            dict(pipeline_id="default", stage_id="closedwon", label="Closed won", display_order=3, probability=1.0,
                 is_closed=True, is_won=True),
            dict(pipeline_id="default", stage_id="closedlost", label="Closed lost", display_order=4, probability=0.0,
                 is_closed=True),
            dict(pipeline_id="p2", stage_id="p2open", label="Renewal open", display_order=1, probability=0.5),
            dict(pipeline_id="p2", stage_id="p2won", label="Renewed", display_order=2, probability=1.0,
                 is_closed=True, is_won=True),
            dict(pipeline_id="p2", stage_id="p2lost", label="Churned", display_order=3, probability=0.0,
                 is_closed=True),
        ])
        insert(conn, s.deals, [
            deal("d1", 100000, "EUR", "closedwon", D(2026, 1, 11), "o1", "EMEA", "A", "c1", "PAID_SEARCH", origin="hubspot"),
            deal("d2", 200000, "USD", "closedwon", D(2026, 2, 9), "o2", "NA", "B", "c2", created=T(2026, 1, 10)),
            deal("d3", 300000, "EUR", "p2won", D(2026, 3, 22), "o1", "EMEA", "B", "c3", created=T(2026, 2, 1),
                 pipeline="p2"),
            deal("d4", 50000, "EUR", "closedlost", D(2026, 1, 20), "o2", "NA", "A", lost_reason="price"),
            deal("d5", 10000, "EUR", "p2lost", D(2026, 3, 1), "o1", None, "A", pipeline="p2"),
            deal("d6", 400000, "EUR", "qualifiedtobuy", D(2026, 3, 15), "o1", "EMEA", "A", forecast_category="commit"),
            deal("d7", 100000, "GBP", "p2open", D(2026, 2, 20), "o2", None, "B", pipeline="p2"),
            deal("d8", 200000, "EUR", "contractsent", D(2026, 4, 10), "o1", "EMEA", "A"),
            deal("d9", 500000, "EUR", "closedwon", D(2026, 1, 15), "o1", "EMEA", "A", is_deleted=True),
        ])
        insert(conn, s.contacts, [
            contact("c1", "EMEA", "PAID_SEARCH", "spring", "o1", T(2026, 1, 5), T(2026, 1, 6, 10), T(2026, 1, 8),
                    T(2026, 1, 9), T(2026, 1, 11), touch=T(2026, 1, 7, 9)),
            contact("c2", "NA", "OFFLINE", None, "o2", T(2026, 1, 8), None, T(2026, 1, 12), T(2026, 2, 1),
                    T(2026, 2, 9)),
            contact("c3", "EMEA", "ORGANIC_SEARCH", "spring", "o1", T(2025, 12, 20), T(2026, 2, 2), T(2026, 2, 10),
                    None, T(2026, 3, 22), touch=T(2026, 2, 5)),
            contact("c4", None, "PAID_SOCIAL", "summer", None, T(2026, 2, 15), T(2026, 2, 16),
                    touch=T(2026, 2, 16, 5)),
            contact("c5", "NA", "PAID_SEARCH", "spring", "o2", T(2026, 3, 30)),
            contact("c6", "NA", "PAID_SEARCH", None, "o2", T(2026, 1, 10), is_deleted=True),
            contact("c7", "EMEA", "OFFLINE", None, "o1", T(2026, 4, 2)),
        ])
        insert(conn, s.marketing_spend, [
            dict(spend_date=D(2026, 1, 10), channel="google", campaign="spring", region="EMEA", amount_cents=50000,
                 currency="EUR"),
            dict(spend_date=D(2026, 2, 10), channel="linkedin", campaign="summer", region=None, amount_cents=20000,
                 currency="USD"),
            dict(spend_date=D(2026, 3, 5), channel="google", campaign=None, region="EMEA", amount_cents=30000,
                 currency="EUR"),
            dict(spend_date=D(2026, 4, 1), channel="google", campaign="spring", region="EMEA", amount_cents=99999,
                 currency="EUR"),
        ])
        insert(conn, s.budgets, [
            dict(month=D(2026, m, 1), region=r, product_line="", metric="target_revenue", value=v)
            for m, r, v in ((1, "", 300000), (2, "", 280000), (3, "", 310000),
                            (1, "EMEA", 150000), (2, "EMEA", 150000), (3, "EMEA", 150000))
        ])


def value(engine, metric_id, f):
    """The metric's value, failing the test with the reason when it is not available."""
    mv = compute(engine, metric_id, f)
    assert mv.available, f"{metric_id}: {mv.reason}"
    return mv.value


def reason(engine, metric_id, f) -> str:
    """Why the metric is not available, failing the test when it is."""
    mv = compute(engine, metric_id, f)
    assert not mv.available, f"{metric_id} should not be available, got {mv.value}"
    return mv.reason


def prepare(engine, mode: str):
    """Build the metric rollups (and check they are fresh) in 'rollups' mode; return the engine."""
    from metrics import rollups, rollups_build
    from metrics.definitions import load_definitions
    if mode == "rollups":
        rollups_build.refresh(engine)
        with engine.connect() as conn:
            defs = load_definitions(conn)
            assert all(rollups.is_fresh(conn, defs, group) for group in rollups.GROUPS)
    return engine
