"""Data-quality checks: what makes a number less trustworthy, and how to fix it.

`checks(engine)` returns one dict per problem found: check, severity (warning | error),
count, message, hint. An empty list means nothing to report. Each check is one SQL count.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, and_, func, not_, or_, select

from store import schema as s
from store.db import get_meta, utcnow

from . import sql
from .definitions import load_definitions
from .registry import Ctx
from .rules import today

STALE_SYNC_HOURS = 36


def _count(conn, table, *where) -> int:
    return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def checks(engine: Engine) -> list[dict]:
    """Every data-quality problem of the store, most serious first."""
    with engine.connect() as conn:
        ctx = Ctx(conn, load_definitions(conn))
        return _checks(ctx)


def _checks(ctx: Ctx) -> list[dict]:
    conn, d, c = ctx.conn, s.deals, s.contacts
    live = not_(d.c.is_deleted)
    fx = ctx.defs.fx
    out: list[dict] = []

    def add(check: str, severity: str, count: int, message: str, hint: str) -> None:
        if count:
            out.append({"check": check, "severity": severity, "count": count, "message": message, "hint": hint})

    unknown = sorted(v for (v,) in conn.execute(
        select(func.upper(d.c.currency)).where(live).distinct()) if v and v not in fx)
    add("unknown_currency", "error",
        _count(conn, d, live, func.upper(d.c.currency).notin_(list(fx))),
        f"{', '.join(unknown) or 'Some'} deals are in a currency with no exchange rate: their amounts are left out.",
        "Add the rate to currency.fx_to_reporting on the Definitions page.")
    spend_unknown = _count(conn, s.marketing_spend, func.upper(s.marketing_spend.c.currency).notin_(list(fx)))
    add("unknown_spend_currency", "error", spend_unknown,
        "Marketing spend rows are in a currency with no exchange rate: they are left out.",
        "Add the rate to currency.fx_to_reporting on the Definitions page.")
    currencies = _count(conn, select(d.c.currency).where(live).distinct().subquery())
    if currencies > 1:
        add("mixed_currencies", "warning", currencies,
            f"Deals are in {currencies} currencies; they are converted at the fixed rates of the definitions.",
            "Check currency.fx_to_reporting on the Definitions page.")
    add("deal_without_amount", "warning", _count(conn, d, live, d.c.amount_cents.is_(None)),
        "Deals have no amount: they count as deals but add nothing to revenue or pipeline.",
        "Fill in the amount in HubSpot; the next sync picks it up.")
    add("deal_without_owner", "warning", _count(conn, d, live, or_(d.c.owner_id.is_(None), d.c.owner_id == "")),
        "Deals have no owner: they appear under \"(none)\" in owner and team views.",
        "Assign an owner in HubSpot.")
    add("deal_unknown_owner", "warning", _count(conn, d, live, d.c.owner_id.isnot(None), d.c.owner_id != "",
                                                d.c.owner_id.notin_(select(s.owners.c.owner_id))),
        "Deals name an owner that is not in the store (orphan records).",
        "Run a full HubSpot sync so owners are loaded.")
    add("deal_without_close_date", "warning", _count(conn, d, live, d.c.close_date.is_(None)),
        "Deals have no close date: they are in no period's revenue or pipeline.",
        "Set the close date in HubSpot.")
    add("deal_unknown_contact", "warning", _count(conn, d, live, d.c.contact_id.isnot(None),
                                                  d.c.contact_id.notin_(select(c.c.contact_id))),
        "Deals point to a contact that is not in the store (orphan records).",
        "Run a full HubSpot sync.")
    past_due = and_(live, sql.is_open(ctx), d.c.close_date < today(ctx))
    due_n, due_amount = conn.execute(select(func.count(), func.sum(sql.to_major(ctx, d.c.amount_cents, d.c.currency)))
                                     .where(past_due)).one()
    counted = ("they count in the pipeline and forecast of the period containing today, marked past due"
               if ctx.defs.past_due_rule == "count_in_current_period" else
               "they are in no period's pipeline or forecast (pipeline.past_due: exclude)")
    add("past_due_deals", "warning", int(due_n or 0),
        f"Open deals worth {sql.money(due_amount):,.0f} {ctx.defs.reporting_currency} have a close date that has "
        f"passed: {counted}.",
        "Their owners should mark each one won or lost, or set a new close date, in HubSpot; "
        "the Sales page lists them by owner (Past-due deals).")
    rules = sql.stage_rules(ctx)
    known = list(rules.probability) + [(p, st) for p, sts in rules.won.items() for st in sts] + \
        [(p, st) for p, sts in rules.lost.items() for st in sts]
    unknown_stage = and_(live, not_(or_(*[and_(d.c.pipeline_id == p, d.c.stage_id == st) for p, st in set(known)]))) \
        if known else live
    add("deal_unknown_stage", "warning", _count(conn, d, unknown_stage),
        "Deals are in a pipeline stage Northstar does not know: they count as open at probability 0.",
        "Sync pipelines from HubSpot, or add the stage under pipelines in the definitions.")
    add("contact_without_region", "warning", _count(conn, c, not_(c.c.is_deleted), or_(c.c.region.is_(None), c.c.region == "")),
        "Contacts have no region: they appear under \"(none)\" in region views.",
        "Fill in the region in HubSpot.")
    raw = get_meta(conn, "last_sync_at")
    runs = s.sync_runs
    last = conn.execute(select(func.max(runs.c.finished_at)).where(runs.c.status == "success")).scalar()
    if last is None and raw:
        try:
            last = dt.datetime.fromisoformat(raw)
        except ValueError:
            last = None
    if last is not None and utcnow() - last > dt.timedelta(hours=STALE_SYNC_HOURS):
        hours = int((utcnow() - last).total_seconds() // 3600)
        add("stale_sync", "warning", hours,
            f"The last successful HubSpot sync finished {hours} hours ago: CRM numbers may be out of date.",
            "Run a sync from the Data page or `python cli.py sync`.")
    out.sort(key=lambda r: (r["severity"] != "error", r["check"]))
    return out
