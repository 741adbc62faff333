"""Helpers for the HubSpot tests: a client aimed at the fake, and the store a fake account
should produce, worked out here from the account itself (independently of connectors/)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from connectors.hubspot.client import ClientSettings, HubSpotClient
from fake_hubspot.account import EPOCH, Account, Record
from store import schema as s

TOKEN = "pat-na1-5e1f0c2a-test-secret-token-93d7"


def client_for(fake, **overrides) -> HubSpotClient:
    """A client with the fake's limits, a 2 s timeout and near-instant backoff.

    Tests injecting slow responses pass a shorter `timeout` (and a longer `slow_s`)."""
    values = dict(token=fake.token, host=fake.url, rate_limit=fake.rate_limit,
                  window_s=fake.window_s, search_per_s=fake.search_per_s, headroom=0.0,
                  timeout=(1.0, 2.0), attempts=12, backoff_s=0.002, max_backoff_s=0.02)
    values.update(overrides)
    return HubSpotClient(ClientSettings(**values))


def _t(iso: str | None) -> dt.datetime | None:
    if not iso:
        return None
    return dt.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ")


def _cents(text: str | None) -> int | None:
    return None if text in (None, "") else int(round(float(text) * 100))


def _num_sorted(ids) -> list[str]:
    return sorted(ids, key=int)


def expected_store(acct: Account, currency: str = "EUR") -> dict[str, dict]:
    """{table: {key: row}} for every live record of the account."""
    out: dict[str, dict] = {}
    live = {obj: [r for r in recs.values() if not r.archived] for obj, recs in acct.objects.items()}
    out["owners"] = {o.id: {
        "email": o.email, "first_name": o.first_name, "last_name": o.last_name,
        "team_id": o.team[0] if o.team else None, "team_name": o.team[1] if o.team else None,
        "region": o.team[1] if o.team else None, "is_archived": o.archived} for o in acct.owners}
    out["pipelines"] = {p["id"]: {"label": p["label"], "display_order": p["displayOrder"]}
                        for p in acct.pipelines}
    out["pipeline_stages"] = {
        (p["id"], sid): {"label": label, "display_order": n, "probability": float(prob),
                         "is_closed": closed == "true",
                         "is_won": closed == "true" and prob == "1.0"}
        for p in acct.pipelines for n, (sid, label, prob, closed) in enumerate(p["stages"])}
    out["products"] = {r.id: {"name": r.props["name"], "sku": r.props["hs_sku"],
                              "product_line": r.props["product_line"],
                              "price_cents": _cents(r.props["price"]), "currency": currency}
                       for r in live["products"]}
    out["companies"] = {r.id: {
        "name": r.props.get("name"), "domain": r.props.get("domain"),
        "industry": r.props.get("industry"), "country": r.props.get("country"),
        "region": r.props.get("region"), "owner_id": r.props.get("hubspot_owner_id"),
        "created_at": EPOCH + dt.timedelta(milliseconds=r.created_ms),
        "updated_at": EPOCH + dt.timedelta(milliseconds=r.updated_ms)} for r in live["companies"]}

    def entered(r: Record, stage: str):
        return _t(r.props.get(f"hs_v2_date_entered_{stage}")) or \
            _t(r.props.get(f"hs_lifecyclestage_{stage}_date"))
    out["contacts"] = {r.id: {
        "email": r.props.get("email"), "first_name": r.props.get("firstname"),
        "last_name": r.props.get("lastname"), "company_id": r.props.get("associatedcompanyid"),
        "owner_id": r.props.get("hubspot_owner_id"), "region": r.props.get("region"),
        "lifecycle_stage": r.props.get("lifecyclestage"), "lead_status": r.props.get("hs_lead_status"),
        "original_source": r.props.get("hs_analytics_source"),
        "source_detail": r.props.get("hs_analytics_source_data_1"),
        "campaign": r.props.get("hs_analytics_source_data_2"),
        "created_at": EPOCH + dt.timedelta(milliseconds=r.created_ms),
        "became_lead_at": entered(r, "lead"), "became_mql_at": entered(r, "marketingqualifiedlead"),
        "became_sql_at": entered(r, "salesqualifiedlead"),
        "became_opportunity_at": entered(r, "opportunity"),
        "became_customer_at": entered(r, "customer"),
        "first_sales_touch_at": _t(r.props.get("hs_sa_first_engagement_date"))
        or _t(r.props.get("notes_last_contacted")),
        "disqualified_reason": r.props.get("disqualification_reason"),
        "updated_at": EPOCH + dt.timedelta(milliseconds=r.updated_ms)} for r in live["contacts"]}
    deals, history = {}, {}
    for r in live["deals"]:
        companies = {c: primary for (d, c), primary in acct.deal_companies.items() if d == r.id}
        primary = [c for c, p in companies.items() if p]
        contacts = _num_sorted(c for d, c in acct.deal_contacts if d == r.id)
        deals[r.id] = {
            "name": r.props["dealname"], "amount_cents": _cents(r.props["amount"]),
            "currency": r.props.get("deal_currency_code") or currency,
            "pipeline_id": r.props["pipeline"], "stage_id": r.props["dealstage"],
            "created_at": EPOCH + dt.timedelta(milliseconds=r.created_ms),
            "close_date": _t(r.props["closedate"]).date(),
            "owner_id": r.props.get("hubspot_owner_id"),
            "company_id": (primary or _num_sorted(companies) or [None])[0],
            "contact_id": contacts[0] if contacts else None,
            "product_line": r.props.get("product_line"), "region": r.props.get("region"),
            "deal_source": r.props.get("hs_analytics_source"),
            "lost_reason": r.props.get("closed_lost_reason"),
            "forecast_category": r.props.get("hs_forecast_category"),
            "updated_at": EPOCH + dt.timedelta(milliseconds=r.updated_ms)}
        for stage, ts in r.history["dealstage"]:
            amounts = [a for a, t in r.history["amount"] if t <= ts]
            closes = [c for c, t in r.history["closedate"] if t <= ts]
            history[(r.id, stage, EPOCH + dt.timedelta(milliseconds=ts))] = {
                "amount_cents": _cents(amounts[-1]) if amounts else None,
                "close_date": _t(closes[-1]).date() if closes else None}
    out["deals"], out["deal_stage_history"] = deals, history
    live_deals = set(deals)
    out["deal_contacts"] = {(d, c): {} for d, c in acct.deal_contacts if d in live_deals}
    out["deal_companies"] = {k: {} for k in acct.deal_companies if k[0] in live_deals}
    out["line_items"] = {r.id: {
        "deal_id": acct.line_item_deal.get(r.id) if acct.line_item_deal.get(r.id) in live_deals
        else None,
        "product_id": r.props.get("hs_product_id"), "name": r.props.get("name"),
        "quantity": float(r.props["quantity"]), "price_cents": _cents(r.props["price"]),
        "amount_cents": _cents(r.props["amount"]),
        "currency": r.props.get("hs_line_item_currency_code") or currency,
        "billing_frequency": (r.props.get("recurringbillingfrequency") or "").lower() or None,
        "billing_start_date": (dt.date.fromisoformat(r.props["hs_recurring_billing_start_date"])
                               if r.props.get("hs_recurring_billing_start_date") else None),
        "term_months": _term(r.props.get("hs_term_in_months")),
        "updated_at": EPOCH + dt.timedelta(milliseconds=r.updated_ms)} for r in live["line_items"]}
    return out


def _term(value) -> int | None:
    """hs_term_in_months as stored: whole months, none below 1."""
    return int(float(value)) if value and float(value) >= 1 else None


KEYS = {"owners": ["owner_id"], "pipelines": ["pipeline_id"],
        "pipeline_stages": ["pipeline_id", "stage_id"], "products": ["product_id"],
        "companies": ["company_id"], "contacts": ["contact_id"], "deals": ["deal_id"],
        "deal_stage_history": ["deal_id", "stage_id", "entered_at"],
        "deal_contacts": ["deal_id", "contact_id"], "deal_companies": ["deal_id", "company_id"],
        "line_items": ["line_item_id"]}
DELETABLE = {"products", "companies", "contacts", "deals", "line_items"}


def actual_store(engine, expected: dict[str, dict]) -> dict[str, dict]:
    """The store in the shape of `expected` (live rows only; the columns `expected` names)."""
    out = {}
    with engine.connect() as conn:
        for name, rows in expected.items():
            table = s.metadata.tables[name]
            q = select(table)
            if name in DELETABLE:
                q = q.where(table.c.is_deleted.is_(False))
            cols = set(next(iter(rows.values()))) if rows else set()
            got = {}
            for r in conn.execute(q).mappings():
                key = tuple(r[k] for k in KEYS[name])
                got[key[0] if len(key) == 1 else key] = {c: r[c] for c in cols}
            out[name] = got
    return out


def assert_store_matches(engine, acct: Account) -> None:
    expected = expected_store(acct)
    actual = actual_store(engine, expected)
    for name in expected:
        exp, act = expected[name], actual[name]
        missing, extra = set(exp) - set(act), set(act) - set(exp)
        assert not missing and not extra, f"{name}: missing {sorted(missing)[:5]}, extra {sorted(extra)[:5]}"
        for key, row in exp.items():
            for col, value in row.items():
                assert act[key][col] == value, f"{name} {key} {col}: store {act[key][col]!r} != {value!r}"


def deleted_ids(engine, obj: str) -> set[str]:
    table, key = s.metadata.tables[obj], KEYS[obj][0]
    with engine.connect() as conn:
        return set(conn.execute(select(table.c[key]).where(table.c.is_deleted.is_(True))).scalars())
