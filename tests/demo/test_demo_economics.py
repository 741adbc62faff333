"""The small demo's unit economics are those of a believable B2B SaaS, worked out from the store in SQL.

Ranges, not values: marketing programmes cost 10-30% of bookings, CAC pays back in 6-20 months,
LTV/CAC is 3-8x (with the shared definitions' gross margin 0.78 and monthly churn 0.015), some
campaigns lose money and some return more than 100%, and about half the revenue is marketing-sourced.
"""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, text

from demo import generate_demo
from store import schema

AS_OF = dt.date(2026, 3, 15)
FIRST, LAST = "2025-03-01", "2026-02-28"  # the last 12 full months
PREVIOUS_FIRST, PREVIOUS_LAST = "2024-03-01", "2025-02-28"
GROSS_MARGIN, MONTHLY_CHURN = 0.78, 0.015  # unit_economics defaults of metrics/definitions.yaml
MARKETING_SOURCES = ("ORGANIC_SEARCH", "PAID_SEARCH", "PAID_SOCIAL", "SOCIAL_MEDIA", "EMAIL_MARKETING",
                     "DIRECT_TRAFFIC", "OTHER_CAMPAIGNS")
EUR = "CASE {0} WHEN 'USD' THEN 0.92 WHEN 'GBP' THEN 1.17 ELSE 1.0 END"
WON = "d.stage_id IN ('closedwon', 'renewalwon') AND d.close_date BETWEEN :first AND :last"

_FIGURES: dict[str, dict] = {}  # backend -> figures (the demo is deterministic: generate once)


def _scalar(conn, sql: str, **params) -> float:
    return float(conn.execute(text(sql), {"first": FIRST, "last": LAST, **params}).scalar() or 0)


@pytest.fixture
def figures(engine):
    """Bookings, spend, customers, ARPA and per-campaign / per-channel returns of the last 12 months."""
    if engine.dialect.name in _FIGURES:
        return _FIGURES[engine.dialect.name]
    generate_demo(engine, scale="small", seed=3, as_of=AS_OF)
    deal_eur = f"d.amount_cents * {EUR.format('d.currency')} / 100.0"
    with engine.connect() as conn:
        out = {
            "bookings": _scalar(conn, f"SELECT SUM({deal_eur}) FROM deals d WHERE {WON}"),
            "spend": _scalar(conn, "SELECT SUM(amount_cents) / 100.0 FROM marketing_spend "
                                   "WHERE spend_date BETWEEN :first AND :last"),
            "previous_spend": _scalar(conn, "SELECT SUM(amount_cents) / 100.0 FROM marketing_spend "
                                            "WHERE spend_date BETWEEN :first AND :last",
                                      first=PREVIOUS_FIRST, last=PREVIOUS_LAST),
            "new_customers": _scalar(conn, "SELECT COUNT(*) FROM contacts WHERE became_customer_at >= :first "
                                           "AND became_customer_at < :after", after="2026-03-01"),
            "invoiced": _scalar(conn, f"""
                SELECT SUM(CASE WHEN is_credit_note THEN -ABS(amount_excl_tax_cents) ELSE amount_excl_tax_cents END
                           * {EUR.format('currency')} / 100.0)
                FROM invoices WHERE issue_date BETWEEN :first AND :last AND status NOT IN ('draft', 'void')"""),
            "accounts": _scalar(conn, """
                SELECT COUNT(DISTINCT COALESCE(company_id, customer_name)) FROM invoices
                WHERE issue_date BETWEEN :first AND :last AND status NOT IN ('draft', 'void')
                  AND NOT is_credit_note"""),
            "marketing_sourced": _scalar(conn, f"""
                SELECT SUM({deal_eur}) FROM deals d JOIN contacts c ON c.contact_id = d.contact_id
                WHERE {WON} AND COALESCE(NULLIF(d.deal_source, ''), c.original_source) IN
                      ({', '.join(f"'{s}'" for s in MARKETING_SOURCES)})"""),
        }
        returns = {}
        for level in ("campaign", "channel"):
            rows = conn.execute(text(f"""
                SELECT s.{level}, s.spend, COALESCE(r.revenue, 0)
                FROM (SELECT {level}, SUM(amount_cents) / 100.0 AS spend FROM marketing_spend
                      WHERE spend_date BETWEEN :first AND :last GROUP BY {level}) s
                LEFT JOIN (SELECT m.{level}, SUM({deal_eur}) AS revenue
                           FROM deals d JOIN contacts c ON c.contact_id = d.contact_id
                           JOIN (SELECT DISTINCT campaign, channel FROM marketing_spend) m ON m.campaign = c.campaign
                           WHERE {WON} GROUP BY m.{level}) r ON r.{level} = s.{level}"""),
                {"first": FIRST, "last": LAST}).all()
            returns[level] = {name: (float(spend), float(revenue)) for name, spend, revenue in rows}
        out["returns"] = returns
        out["spend_days"] = set(conn.execute(select(schema.marketing_spend.c.spend_date).distinct()).scalars())
        out["spend_rows_per_week"] = _scalar(conn, """
            SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM marketing_spend GROUP BY spend_date, campaign) x""")
    _FIGURES[engine.dialect.name] = out
    return out


def _unit_economics(f: dict) -> tuple[float, float, float]:
    """(CAC, CAC payback in months, LTV/CAC) by the definitions in metrics/catalog/finance.yaml."""
    arpa = f["invoiced"] / f["accounts"] / 12
    cac = f["spend"] / f["new_customers"]
    return cac, cac / (arpa * GROSS_MARGIN), arpa * GROSS_MARGIN / MONTHLY_CHURN / cac


def test_demo_marketing_spend_is_a_believable_share_of_bookings(figures):
    assert figures["bookings"] > 5_000_000
    assert 0.10 <= figures["spend"] / figures["bookings"] <= 0.30
    assert figures["spend"] > 1.2 * figures["previous_spend"]  # spend grows with the company


def test_demo_cac_pays_back_in_months_not_days(figures):
    cac, payback, ltv_cac = _unit_economics(figures)
    assert 5_000 <= cac <= 60_000
    assert 6 <= payback <= 20
    assert 3 <= ltv_cac <= 8


def _roi(spend: float, revenue: float) -> float:
    return (revenue - spend) / spend


def test_demo_some_campaigns_lose_money_and_some_pay(figures):
    by_campaign = [_roi(*v) for v in figures["returns"]["campaign"].values()]
    assert sum(r < 0 for r in by_campaign) >= 3 and sum(r > 1.0 for r in by_campaign) >= 3
    assert max(by_campaign) < 10.0  # a few hundred percent at best, not thousands
    channels = figures["returns"]["channel"]
    assert len(channels) == 6  # every channel spent in the period
    # paid social is dear for the leads it brings; content costs little for its leads
    social = [channels["LinkedIn Ads"], channels["Meta Ads"]]
    assert _roi(*channels["LinkedIn Ads"]) < 0 and _roi(*map(sum, zip(*social))) < -0.2
    assert _roi(*channels["Content & SEO"]) > 1.0
    # all campaigns together pay back, but nowhere near the 20x of a store without real spend
    assert 0 < _roi(*map(sum, zip(*channels.values()))) < 2.0


def test_demo_marketing_sourced_share_is_plausible(figures):
    assert 0.35 <= figures["marketing_sourced"] / figures["bookings"] <= 0.60


def test_demo_spend_rows_stay_weekly(figures):
    days = sorted(figures["spend_days"])
    # every row is dated on a Monday, except the first week of the timeline (starts on the 1st)
    assert all(day.weekday() == 0 for day in days[1:]) and days[0] == dt.date(2023, 3, 1)
    assert figures["spend_rows_per_week"] == 1
