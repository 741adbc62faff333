"""Marketing metrics: spend, cost per stage, marketing-sourced revenue, campaign ROI, follow-up.

- A deal is marketing-sourced when its deal source, or (deal source empty) its primary
  contact's original source, is one of `funnel.marketing_sourced_sources`.
- Campaign attribution: a won deal's revenue goes to its primary contact's campaign; a
  campaign's spend is the spend rows naming it.
- Follow-up: a qualified lead (became MQL or later in the period, any-stage) is followed up
  when its first sales touch came within `funnel.follow_up_sla_hours` of becoming MQL.
  Leads whose SLA window is still running are left out of both numbers.
"""
from __future__ import annotations

from sqlalchemy import func, select

from store import schema as s

from . import rollups, sql
from .filters import Filters
from .funnel import NO_CONTACTS, funnel_stats, has_contacts
from .registry import Ctx, NotAvailable, Result, breaks_down, computes
from .sales import NO_DEALS, closed_stats, has_deals

d, c, sp = s.deals, s.contacts, s.marketing_spend


def has_spend(ctx: Ctx) -> bool:
    if "has_spend" not in ctx.cache:
        ctx.cache["has_spend"] = ctx.conn.execute(select(sp.c.spend_id).limit(1)).first() is not None
    return ctx.cache["has_spend"]


@computes("marketing_spend")
def marketing_spend(ctx: Ctx, f: Filters) -> Result:
    """Imported marketing spend dated in the period (region / product line filters apply)."""
    why = sql.spend_unfilterable(f)
    if why:
        return NotAvailable(why)
    if not has_spend(ctx):
        return NotAvailable("no marketing spend imported yet: import a spend file on the Data page")
    n, total = ctx.conn.execute(select(func.count(), func.sum(sql.to_major(ctx, sp.c.amount_cents, sp.c.currency)))
                                .where(*sql.spend_conditions(f))).one()
    if not n:
        return NotAvailable("no marketing spend recorded for this period")
    return sql.money(total)


def _spend_by(ctx: Ctx, f: Filters, col) -> list[tuple[str, Result]]:
    why = sql.spend_unfilterable(f)
    if why:
        return []
    rows = ctx.conn.execute(select(col, func.sum(sql.to_major(ctx, sp.c.amount_cents, sp.c.currency)))
                            .where(*sql.spend_conditions(f)).group_by(col)).all()
    return sorted(((k or "(none)", sql.money(v)) for k, v in rows), key=lambda r: r[0].lower())


@breaks_down("marketing_spend", "channel")
def marketing_spend_by_channel(ctx: Ctx, f: Filters) -> list[tuple[str, Result]]:
    return _spend_by(ctx, f, sp.c.channel)


@breaks_down("marketing_spend", "campaign")
def marketing_spend_by_campaign(ctx: Ctx, f: Filters) -> list[tuple[str, Result]]:
    return _spend_by(ctx, f, sp.c.campaign)


@computes("marketing_sourced_revenue")
def marketing_sourced_revenue(ctx: Ctx, f: Filters) -> Result:
    """Won revenue of the period's marketing-sourced deals."""
    if not has_deals(ctx):
        return NO_DEALS
    return closed_stats(ctx, f)["marketing_revenue"]


@computes("marketing_sourced_share")
def marketing_sourced_share(ctx: Ctx, f: Filters) -> Result:
    """marketing_sourced_revenue / won revenue of the revenue types it counts."""
    if not has_deals(ctx):
        return NO_DEALS
    st = closed_stats(ctx, f)
    types = ctx.defs.counted_types("marketing_sourced_revenue")
    total = sum(st["by_type"][t] for t in types)
    if total == 0:
        kinds = ", ".join(t.replace("_", " ") for t in types)
        return NotAvailable(f"no {kinds} revenue was won in this period")
    return st["marketing_revenue"] / total


def _campaign_figures(ctx: Ctx, f: Filters) -> dict[str, tuple[float, float]]:
    """{campaign: (spend, attributed won revenue)} for campaigns with spend in the period."""
    key = ("campaigns", f)
    if key in ctx.cache:
        return ctx.cache[key]
    spend = dict(ctx.conn.execute(
        select(sp.c.campaign, func.sum(sql.to_major(ctx, sp.c.amount_cents, sp.c.currency)))
        .where(*sql.spend_conditions(f), sp.c.campaign.isnot(None), sp.c.campaign != "")
        .group_by(sp.c.campaign)).all())
    revenue: dict[str, float] = rollups.gather(
        ctx, f, lambda c_, part, *r: rollups.campaign_revenue(c_, part, list(spend), *r), rollups.deal_campaign_rows,
        rollups.campaign_filters_supported(f), empty={}) if spend else {}
    out = {k: (float(v or 0.0), float(revenue.get(k) or 0.0)) for k, v in spend.items()}
    ctx.cache[key] = out
    return out


@computes("campaign_roi")
def campaign_roi(ctx: Ctx, f: Filters) -> Result:
    """(won revenue attributed to campaigns - their spend) / their spend."""
    why = sql.spend_unfilterable(f)
    if why:
        return NotAvailable(why)
    figures = _campaign_figures(ctx, f)
    cost = sum(v[0] for v in figures.values())
    if cost <= 0:
        return NotAvailable("no campaign spend in this period (spend rows naming a campaign)")
    return (sum(v[1] for v in figures.values()) - cost) / cost


@breaks_down("campaign_roi", "campaign")
def campaign_roi_by_campaign(ctx: Ctx, f: Filters) -> list[tuple[str, Result]]:
    if sql.spend_unfilterable(f):
        return []
    return [(k, (rev - cost) / cost if cost > 0 else NotAvailable("no spend"))
            for k, (cost, rev) in sorted(_campaign_figures(ctx, f).items(), key=lambda kv: kv[0].lower())]


def follow_up(ctx: Ctx, f: Filters) -> tuple[int, int] | NotAvailable:
    """(qualified leads whose SLA window has elapsed, of which followed up within it)."""
    if not has_contacts(ctx):
        return NO_CONTACTS
    return funnel_stats(ctx, f)["follow_up"]


@computes("leads_not_followed_up")
def leads_not_followed_up(ctx: Ctx, f: Filters) -> Result:
    """Qualified leads of the period with no sales touch within the SLA (window elapsed)."""
    fu = follow_up(ctx, f)
    if isinstance(fu, NotAvailable):
        return fu
    return fu[0] - fu[1]


@computes("follow_up_rate")
def follow_up_rate(ctx: Ctx, f: Filters) -> Result:
    fu = follow_up(ctx, f)
    if isinstance(fu, NotAvailable):
        return fu
    if fu[0] == 0:
        return NotAvailable("no qualified lead of this period has reached the end of its follow-up window")
    return fu[1] / fu[0]


__all__ = ["has_spend", "follow_up"]
