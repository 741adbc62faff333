"""Funnel metrics: contacts entering each lifecycle stage, and stage-to-stage conversion.

Counts are a period view of the "any-stage" funnel: a contact counts in a stage's number for
the period in which it entered that stage; a contact that skipped a stage (lead straight to
SQL) passed it when it entered the next stage it did reach. Conversion rates follow a cohort:
of the contacts that entered stage A in the period, the share that reached stage B (at any
time up to now, skipped stages included).
"""
from __future__ import annotations

from sqlalchemy import func, select

from store import schema as s

from . import sql
from .filters import Filters
from .registry import Ctx, NotAvailable, Result, computes

c = s.contacts
NO_CONTACTS = NotAvailable("no contacts in the store yet: run a HubSpot sync or load the demo data")
ROLES = ("lead", "mql", "sql", "opportunity", "customer")


def has_contacts(ctx: Ctx) -> bool:
    if "has_contacts" not in ctx.cache:
        ctx.cache["has_contacts"] = ctx.conn.execute(
            select(c.c.contact_id).where(~c.c.is_deleted).limit(1)).first() is not None
    return ctx.cache["has_contacts"]


def entered(ctx: Ctx, f: Filters, role: str) -> int:
    """Contacts that entered the stage of `role` in the period (any-stage)."""
    key = ("entered", role, f)
    if key not in ctx.cache:
        at = sql.reached_at(ctx, sql.stage_of(ctx, role))
        ctx.cache[key] = int(ctx.conn.execute(
            select(func.count()).where(*sql.contact_conditions(ctx, f), sql.in_period_dt(at, f))).scalar_one())
    return ctx.cache[key]


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
    start = sql.reached_at(ctx, sql.stage_of(ctx, from_role))
    end = sql.reached_at(ctx, sql.stage_of(ctx, to_role))
    n, reached = ctx.conn.execute(select(func.count(), func.count(end)).where(
        *sql.contact_conditions(ctx, f), sql.in_period_dt(start, f))).one()
    if not n:
        return NotAvailable(f"no contact entered the {from_role} stage in this period")
    return reached / n


for _mid, _a, _b in (("lead_to_mql_rate", "lead", "mql"), ("mql_to_sql_rate", "mql", "sql"),
                     ("sql_to_opportunity_rate", "sql", "opportunity"),
                     ("opportunity_to_customer_rate", "opportunity", "customer"),
                     ("lead_to_customer_rate", "lead", "customer")):
    computes(_mid)(lambda ctx, f, a=_a, b=_b: converted(ctx, f, a, b))
