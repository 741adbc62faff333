"""HubSpot records -> store rows: value parsing and one mapping function per table.

Pure functions of what HubSpot sends (decoded JSON, or any object with `id`, `properties`,
`created_at`, `updated_at`), so they can be tested alone and reused by the HubSpot CSV import.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from store import schema as s

from . import settings as cfg

EPOCH = dt.datetime(1970, 1, 1)


# --- value parsing -----------------------------------------------------------------------

def parse_datetime(value: Any) -> dt.datetime | None:
    """HubSpot datetime (ISO-8601, epoch ms string, date, or aware datetime) -> naive UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value
    text = str(value).strip()
    try:  # the usual case, '2026-02-25T16:26:25.880Z'
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        parsed = None
    if parsed is not None and not text.isdigit():
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return parsed
    if text.isdigit():
        return EPOCH + dt.timedelta(milliseconds=int(text))
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return parsed


def parse_date(value: Any) -> dt.date | None:
    parsed = parse_datetime(value)
    return parsed.date() if parsed else None


def to_cents(value: Any) -> int | None:
    """A decimal amount string ('1234.5') -> integer cents (123450), half up."""
    if value is None or str(value).strip() == "":
        return None
    try:
        return int((Decimal(str(value).strip()) * 100).quantize(Decimal(1), ROUND_HALF_UP))
    except InvalidOperation:
        return None


def to_ms(value: dt.datetime) -> int:
    return (value - EPOCH) // dt.timedelta(milliseconds=1)


def from_ms(ms: int) -> dt.datetime:
    return EPOCH + dt.timedelta(milliseconds=ms)


def _float(value: Any, default: float) -> float:
    try:
        return float(value) if value not in (None, "") else default
    except ValueError:
        return default


_LENGTHS: dict[str, dict[str, int]] = {}


def _fit(table, row: dict) -> dict:
    """Cut strings to their column's length (PostgreSQL refuses longer ones)."""
    lengths = _LENGTHS.get(table.name)
    if lengths is None:
        lengths = _LENGTHS[table.name] = {
            c.name: c.type.length for c in table.columns if getattr(c.type, "length", None)}
    for name, length in lengths.items():
        value = row.get(name)
        if isinstance(value, str) and len(value) > length:
            row[name] = value[:length]
    return row


# --- records as HubSpot sends them --------------------------------------------------------

@dataclass(slots=True)
class Record:
    """One CRM record from HubSpot's JSON; dates stay ISO strings until mapped."""
    id: str
    properties: dict
    created_at: str | None
    updated_at: str | None
    properties_with_history: dict  # name -> [{"value", "timestamp", ...}], newest first


@dataclass(slots=True)
class Page:
    results: list[Record]
    after: str | None  # the cursor of the next page; None on the last one
    total: int | None  # search answers only


def read_page(body: dict) -> Page:
    """A list, search or batch answer (decoded JSON) as records and the next cursor.

    Objects are read from the JSON rather than through the SDK's models: building those
    took a large share of the client's time on big pages (deals with history), and the fake
    server's tests check these same answers against the SDK's models.
    """
    results = [Record(str(r["id"]), r.get("properties") or {}, r.get("createdAt"),
                      r.get("updatedAt"), r.get("propertiesWithHistory") or {})
               for r in body["results"]]
    after = ((body.get("paging") or {}).get("next") or {}).get("after")
    return Page(results, str(after) if after is not None else None, body.get("total"))


# --- record -> row -----------------------------------------------------------------------

def _props(rec: Any) -> dict:
    return rec.properties or {}


def _first(p: dict, *names: str) -> Any:
    for name in names:
        if p.get(name) not in (None, ""):
            return p[name]
    return None


def company_row(rec: Any) -> dict:
    p = _props(rec)
    return _fit(s.companies, {
        "company_id": str(rec.id), "name": p.get("name"), "domain": p.get("domain"),
        "industry": p.get("industry"), "country": p.get("country"),
        **cfg.dimensions("companies", p), "owner_id": p.get("hubspot_owner_id") or None,
        "created_at": parse_datetime(p.get("createdate")) or parse_datetime(rec.created_at),
        "updated_at": parse_datetime(p.get("hs_lastmodifieddate")) or parse_datetime(rec.updated_at),
        "is_deleted": False, "origin": cfg.CONNECTOR,
    })


def contact_row(rec: Any) -> dict:
    p = _props(rec)
    row = {
        "contact_id": str(rec.id), "email": p.get("email"), "first_name": p.get("firstname"),
        "last_name": p.get("lastname"), "company_id": p.get("associatedcompanyid") or None,
        "owner_id": p.get("hubspot_owner_id") or None, **cfg.dimensions("contacts", p),
        "lifecycle_stage": p.get("lifecyclestage"), "lead_status": p.get("hs_lead_status"),
        "original_source": p.get("hs_analytics_source"),
        "source_detail": p.get("hs_analytics_source_data_1"),
        "campaign": p.get("hs_analytics_source_data_2"),
        "created_at": parse_datetime(p.get("createdate")) or parse_datetime(rec.created_at),
        "first_sales_touch_at": parse_datetime(
            _first(p, "hs_sa_first_engagement_date", "notes_last_contacted")),
        "disqualified_reason": p.get(cfg.DISQUALIFIED_REASON_PROPERTY),
        "updated_at": parse_datetime(p.get("lastmodifieddate")) or parse_datetime(rec.updated_at),
        "is_deleted": False, "origin": cfg.CONNECTOR,
    }
    for column, stage in cfg.LIFECYCLE_COLUMNS.items():
        row[column] = parse_datetime(_first(p, f"hs_v2_date_entered_{stage}",
                                            f"hs_lifecyclestage_{stage}_date"))
    return _fit(s.contacts, row)


def deal_row(rec: Any, currency: str) -> dict:
    p = _props(rec)
    return _fit(s.deals, {
        "deal_id": str(rec.id), "name": p.get("dealname"), "amount_cents": to_cents(p.get("amount")),
        "currency": (p.get("deal_currency_code") or currency).upper(),
        "pipeline_id": p.get("pipeline") or "", "stage_id": p.get("dealstage") or "",
        "created_at": parse_datetime(p.get("createdate")) or parse_datetime(rec.created_at),
        "close_date": parse_date(p.get("closedate")), "owner_id": p.get("hubspot_owner_id") or None,
        **cfg.dimensions("deals", p), "deal_source": p.get("hs_analytics_source"),
        "lost_reason": p.get("closed_lost_reason"), "forecast_category": p.get("hs_forecast_category"),
        "deal_type": p.get("dealtype") or None,
        "updated_at": parse_datetime(p.get("hs_lastmodifieddate")) or parse_datetime(rec.updated_at),
        "is_deleted": False, "origin": cfg.CONNECTOR,
    })


def product_row(rec: Any, currency: str) -> dict:
    p = _props(rec)
    return _fit(s.products, {
        "product_id": str(rec.id), "name": p.get("name") or "", "sku": p.get("hs_sku"),
        **cfg.dimensions("products", p), "price_cents": to_cents(p.get("price")),
        "currency": currency, "is_deleted": False,
    })


def line_item_row(rec: Any, currency: str) -> dict:
    """No deal_id: it comes from the deal's associations and must not be overwritten here."""
    p = _props(rec)
    return _fit(s.line_items, {
        "line_item_id": str(rec.id), "product_id": p.get("hs_product_id") or None,
        "name": p.get("name"), "quantity": _float(p.get("quantity"), 1.0),
        "price_cents": to_cents(p.get("price")), "amount_cents": to_cents(p.get("amount")),
        "currency": (p.get("hs_line_item_currency_code") or currency).upper(),
        "billing_frequency": (str(p.get("recurringbillingfrequency") or "").strip().lower() or None),
        "billing_start_date": parse_date(p.get("hs_recurring_billing_start_date")),
        "term_months": _term(p.get("hs_term_in_months")),
        "updated_at": parse_datetime(p.get("hs_lastmodifieddate")) or parse_datetime(rec.updated_at),
        "is_deleted": False,
    })


def _term(value: Any) -> int | None:
    """hs_term_in_months ('12', '12.0') -> 12; empty, zero, negative or not a number -> None (no term)."""
    months = _float(value, 0.0)
    return int(round(months)) if months >= 1 else None


def stage_history_rows(rec: Any) -> list[dict]:
    """One row per dealstage change, with the amount and close date in force at that time."""
    hist = rec.properties_with_history or {}

    def series(name: str) -> list[tuple[dt.datetime, Any]]:
        out = [(parse_datetime(v.get("timestamp")), v.get("value")) for v in hist.get(name) or []]
        return sorted((t, v) for t, v in out if t is not None)

    amounts, closes = series("amount"), series("closedate")

    def as_of(values: list[tuple[dt.datetime, Any]], at: dt.datetime) -> Any:
        current = None
        for t, v in values:
            if t > at:
                break
            current = v
        return current

    rows, seen = [], set()
    for at, stage in series("dealstage"):
        if not stage or (stage, at) in seen:
            continue
        seen.add((stage, at))
        rows.append({"deal_id": str(rec.id), "stage_id": stage, "entered_at": at,
                     "amount_cents": to_cents(as_of(amounts, at)),
                     "close_date": parse_date(as_of(closes, at))})
    return rows
