"""Funnel metrics: contacts entering each lifecycle stage, and stage-to-stage conversion.

Counts are a period view of the "any-stage" funnel: a contact counts in a stage's number for
the period in which it entered that stage; a contact that skipped a stage (lead straight to
SQL) passed it when it entered the next stage it did reach. Conversion rates follow a cohort:
of the contacts that entered stage A in the period, the share that reached stage B (at any
time up to now, skipped stages included).
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, union

from store import schema as s

from . import rollups, sql
from .filters import Filters
from .registry import Ctx, NotAvailable, Result, computes
from .rules import follow_up_terms, now

c = s.contacts
NO_CONTACTS = NotAvailable("no contacts in the store yet: run a HubSpot sync or load the demo data")
ROLES = ("lead", "mql", "sql", "opportunity", "customer")


def has_contacts(ctx: Ctx) -> bool:
    if "has_contacts" not in ctx.cache:
        ctx.cache["has_contacts"] = ctx.conn.execute(
            select(c.c.contact_id).where(~c.c.is_deleted).limit(1)).first() is not None
    return ctx.cache["has_contacts"]


def funnel_stats(ctx: Ctx, f: Filters) -> dict:
    """Every funnel figure of the period in one pass over the contacts (memoised per Ctx).

    entered[role]: contacts that entered the role's stage in the period (any-stage);
    reached[(a, b)]: of those that entered a's stage in the period, how many reached b's;
    follow_up: (qualified leads of the period whose SLA window elapsed, of which touched in time).
    Whole months come from the monthly rollup when it is fresh (metrics/rollups.py), the other
    days from the contacts; every figure is a count, so the parts add up.
    """
    key = ("funnel_stats", f)
    if key in ctx.cache:
        return ctx.cache[key]
    n = len(ROLES)
    totals = rollups.gather(ctx, f, _funnel_figures, rollups.contact_rows, rollups.contact_filters_supported(f))
    stats = {"entered": {role: totals[i] for i, role in enumerate(ROLES)},
             "reached": {pair: totals[n + i] for i, pair in enumerate(CONVERSIONS)},
             "follow_up": (totals[-2], totals[-1])}
    ctx.cache[key] = stats
    return stats


def _at(ctx: Ctx) -> dict:
    return {role: sql.reached_at(ctx, sql.stage_of(ctx, role)) for role in ROLES}


def _funnel_figures(ctx: Ctx, f: Filters, *r) -> list[int]:
    """entered per role, reached per conversion, (follow-up elapsed, in time), over the months of
    `f` from rows shaped like rollup_contacts (the rollup, or rollups.contact_rows for the days of
    `f`). Those rows count every MQL's follow-up; the MQLs whose SLA window has not elapsed yet
    (the last SLA hours) are read from the contacts and taken out."""
    roll = rollups.funnel_raw(ctx, f, *r)
    entered = [roll[role]["n"] for role in ROLES]
    reached = [roll[a]["reached_" + b] for a, b in CONVERSIONS]
    mqls, in_time_all = roll["mql"]["n"], roll["mql"]["followed_up_in_sla"]
    cutoff = now(ctx) - dt.timedelta(hours=ctx.defs.follow_up_sla_hours)
    waiting = waiting_in_time = 0
    if cutoff < sql.day_start(f.end + dt.timedelta(days=1)):
        at_mql = _at(ctx)["mql"]
        _, in_time = follow_up_terms(ctx, at_mql)
        counts = select(func.count(), func.count().filter(in_time))
        # one lower bound, so that the planner ranges the date index from the cutoff, not the period's start
        waiting_conds = ([at_mql > cutoff, at_mql < sql.day_start(f.end + dt.timedelta(days=1))]
                         if cutoff >= sql.day_start(f.start) else [sql.in_period_dt(at_mql, f)])
        default = [sql.stage_of(ctx, role) for role in ROLES] == list(ctx.defs.funnel_stages)
        if default and not (f.product_lines or f.pipelines):
            # the default stages: ix_contacts_mql_reached (the any-stage MQL date) finds the MQLs
            # reached after the cutoff, 40 ms for the last two days of the 3M-contact store
            n, n_in_time = ctx.conn.execute(counts.where(*sql.contact_conditions(ctx, f, by_date_index=True),
                                                         *waiting_conds)).one()
            waiting, waiting_in_time = int(n or 0), int(n_in_time or 0)
        else:
            # the contacts found first, then counted with the filters: under a product-line or
            # pipeline filter (through the contacts' deals) PostgreSQL would otherwise read every
            # deal of the line and look each contact up (2 s at 1M). The default stages: by
            # ix_contacts_mql_reached; others: each stage entered after the cutoff, by its date index
            found = ([select(c.c.contact_id).where(*waiting_conds)] if default else
                     [select(c.c.contact_id).where(sql.stage_column(st) > cutoff) for st in ctx.defs.funnel_stages])
            recent = ctx.conn.execute(union(*found)).scalars().all()
            for i in range(0, len(recent), 10_000):
                n, n_in_time = ctx.conn.execute(
                    counts.where(c.c.contact_id.in_(recent[i:i + 10_000]), *sql.contact_conditions(ctx, f),
                                 *waiting_conds)).one()
                waiting, waiting_in_time = waiting + int(n or 0), waiting_in_time + int(n_in_time or 0)
    return entered + reached + [mqls - waiting, in_time_all - waiting_in_time]


def entered(ctx: Ctx, f: Filters, role: str) -> int:
    """Contacts that entered the stage of `role` in the period (any-stage)."""
    return funnel_stats(ctx, f)["entered"][role]


def _count(role: str):
    def fn(ctx: Ctx, f: Filters) -> Result:
        if not has_contacts(ctx):
            return NO_CONTACTS
        return entered(ctx, f, role)
    fn.__doc__ = f"Contacts that entered the {role} stage in the period (any-stage)."
    return fn


for _mid, _role in (("new_leads", "lead"), ("mqls", "mql"), ("sqls", "sql"), ("opportunities", "opportunity"),
                    ("new_customers", "customer")):
    computes(_mid)(_count(_role))


def converted(ctx: Ctx, f: Filters, from_role: str, to_role: str) -> Result:
    """Of the contacts that entered `from_role`'s stage in the period, the share that reached `to_role`'s."""
    if not has_contacts(ctx):
        return NO_CONTACTS
    stats = funnel_stats(ctx, f)
    n = stats["entered"][from_role]
    if not n:
        return NotAvailable(f"no contact entered the {from_role} stage in this period")
    return stats["reached"][(from_role, to_role)] / n


CONVERSIONS = (("lead", "mql"), ("mql", "sql"), ("sql", "opportunity"), ("opportunity", "customer"),
               ("lead", "customer"))
for _mid, (_a, _b) in zip(("lead_to_mql_rate", "mql_to_sql_rate", "sql_to_opportunity_rate",
                           "opportunity_to_customer_rate", "lead_to_customer_rate"), CONVERSIONS):
    computes(_mid)(lambda ctx, f, a=_a, b=_b: converted(ctx, f, a, b))
