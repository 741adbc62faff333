"""Business rules several metric modules share, below all of them in the import graph.

sales, funnel, marketing, finance, details and the rollup builder (rollups_build) import these
at module level, so each rule is written once and no module needs another's compute functions:

- the clock follow-up windows are judged against (`now`) and the follow-up rule itself
  (`follow_up_terms`: a qualified lead is followed up when its first sales touch came within
  `funnel.follow_up_sla_hours` of becoming MQL);
- a deal's primary contact's fields (`contact_field`) and marketing-sourced deals
  (`effective_source`, `marketing_sourced`: the deal source, else the primary contact's original
  source, in `funnel.marketing_sourced_sources`);
- past-due deals (`today`, `carries_past_due`, `in_pipeline`: with pipeline.past_due
  count_in_current_period the pipeline of the period containing today also holds the open deals
  whose close date has passed);
- which invoices are revenue (`NOT_REVENUE_STATUSES`) and their signed amounts (`signed`,
  `signed_net_cents`: credit notes always negative);
- which budget lines are the company's, regions' and product lines' plan (`plan_lines`) and
  which are quotas set for an owner or a team (`quota_lines`): a company target is not the sum of
  the reps' quotas, so each figure reads only its own lines.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, and_, case, func, select

from store import schema as s
from store.db import utcnow

from . import sql
from .registry import Ctx

d, c, inv = s.deals, s.contacts, s.invoices

NOT_REVENUE_STATUSES = ("draft", "void")


# --- budget lines ------------------------------------------------------------------------------

def plan_lines() -> ColumnElement:
    """The budget lines of the company, a region or a product line (no owner, no team)."""
    b = s.budgets
    return and_(b.c.owner_id == "", b.c.team == "")


def quota_lines() -> ColumnElement:
    """The budget lines set for an owner or a team (quotas, metrics/quotas.py)."""
    return ~plan_lines()


# --- follow-up -------------------------------------------------------------------------------

def now(ctx: Ctx) -> dt.datetime:
    """The clock follow-up windows are judged against (tests may pin it in ctx.cache['now'])."""
    return ctx.cache.get("now") or utcnow()


def follow_up_terms(ctx: Ctx, mql_at):
    """(SLA window elapsed, first sales touch within the SLA) for a contact that became MQL at `mql_at`."""
    sla = ctx.defs.follow_up_sla_hours
    touch = c.c.first_sales_touch_at
    elapsed = mql_at <= now(ctx) - dt.timedelta(hours=sla)
    in_time = and_(touch.isnot(None), sql.days_between(ctx, mql_at, touch) * 24.0 <= sla)
    return elapsed, in_time


# --- deals and their primary contact ---------------------------------------------------------

def contact_field(col_name: str):
    """A deal's primary contact's field, as a correlated scalar subquery."""
    return select(c.c[col_name]).where(c.c.contact_id == d.c.contact_id).scalar_subquery()


def effective_source() -> ColumnElement:
    """A deal's source: its deal source, else its primary contact's original source."""
    return func.coalesce(func.nullif(d.c.deal_source, ""), contact_field("original_source"))


def marketing_sourced(ctx: Ctx) -> ColumnElement:
    return effective_source().in_(ctx.defs.marketing_sources)


# --- past-due deals --------------------------------------------------------------------------

def today(ctx: Ctx) -> dt.date:
    """The day past-due deals are judged against (rules.now: tests may pin ctx.cache['now'])."""
    return now(ctx).date()


def carries_past_due(ctx: Ctx, f) -> bool:
    """Whether the pipeline of `f` also holds the past-due deals closing before it: the shared
    definition pipeline.past_due is count_in_current_period and the period contains today."""
    return ctx.defs.past_due_rule == "count_in_current_period" and f.start <= today(ctx) <= f.end


def in_pipeline(ctx: Ctx, f, deal_table=d) -> ColumnElement:
    """The close dates of the open deals in the pipeline of `f` (with the past-due ones when it
    carries them); combine with sql.is_open."""
    col = deal_table.c.close_date
    if carries_past_due(ctx, f):
        return and_(col.isnot(None), col <= f.end)
    return sql.in_period_date(col, f)


# --- invoices --------------------------------------------------------------------------------

def signed(col):
    """An invoice amount with credit notes always negative, whatever sign they were exported with."""
    return case((inv.c.is_credit_note, -func.abs(col)), else_=col)


def signed_net_cents():
    return signed(inv.c.amount_excl_tax_cents)


__all__ = ["NOT_REVENUE_STATUSES", "carries_past_due", "contact_field", "effective_source", "follow_up_terms", "in_pipeline",
           "marketing_sourced", "now", "today", "signed", "signed_net_cents"]
