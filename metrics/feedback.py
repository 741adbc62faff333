"""Sales feedback on qualified leads, and what a burnt lead costs.

- Verdicts: the lead's owner accepts or rejects each MQL, a rejection with a reason from the
  shared definitions (lead_feedback.rejection_reasons). Every verdict is a `lead_feedback` row;
  a contact's latest one (decided_at, then feedback_id) counts (`latest_verdicts`).
- The MQL acceptance rate is a catalog ratio: MQLs of the period (entered the MQL stage in it,
  any-stage) whose latest verdict is "accepted", over those with a verdict at all. MQLs nobody
  judged yet are in neither count.
- A burnt lead (a qualified lead of the period not followed up within the SLA: the contacts
  `leads_not_followed_up` counts) is worth the expected revenue of a lead of its original source:
  that source's new customers / its new leads x its average won new-business deal, both over the
  `lead_feedback.value_window_months` (12) months ending on the period's last day, company-wide
  (a lead of a source is worth the same in every view). `burnt_lead_value` sums it; broken down
  by owner it is each owner's burnt value (one grouped query, used by the Sales page, the
  meeting and the digest).
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, func, literal, select

from store import schema as s

from . import rollups, sql
from .filters import NONE_BUCKET, Filters
from .funnel import NO_CONTACTS, has_contacts
from .dimensions import owner_names
from .registry import Ctx, Result, breaks_down, computes
from .rules import contact_field, follow_up_terms

c, d, lf = s.contacts, s.deals, s.lead_feedback
VERDICTS = ("accepted", "rejected")


def latest_verdicts(outer: bool = False):
    """(contacts joined to their latest verdict, the verdict): each contact's latest lead_feedback
    row (decided_at, then feedback_id), found by one seek in ix_lead_feedback_contact per contact
    (`outer`: contacts without a verdict kept, its columns NULL). The verdict has the columns
    contact_id, verdict, reason, decided_by, decided_at."""
    v = lf.alias("latest_verdict")
    newest = (select(lf.c.feedback_id).where(lf.c.contact_id == c.c.contact_id)
              .order_by(lf.c.decided_at.desc(), lf.c.feedback_id.desc()).limit(1).correlate(c).scalar_subquery())
    on = and_(v.c.contact_id == c.c.contact_id, v.c.feedback_id == newest)
    return (c.outerjoin(v, on) if outer else c.join(v, on)), v


def verdict_counts(ctx: Ctx, f: Filters) -> dict[str, int]:
    """{accepted, rejected}: MQLs of the period by their latest verdict (memoised per Ctx)."""
    key = ("verdict_counts", f)
    if key not in ctx.cache:
        judged, v = latest_verdicts()
        mql_at = sql.reached_at(ctx, sql.stage_of(ctx, "mql"))
        rows = ctx.conn.execute(select(v.c.verdict, func.count()).select_from(judged)
                                .where(*sql.contact_conditions(ctx, f), sql.in_period_dt(mql_at, f))
                                .group_by(v.c.verdict)).all()
        counts = dict.fromkeys(VERDICTS, 0)
        counts.update({verdict: int(n) for verdict, n in rows if verdict in counts})
        ctx.cache[key] = counts
    return ctx.cache[key]


def _verdicts(which: str):
    def fn(ctx: Ctx, f: Filters) -> Result:
        if not has_contacts(ctx):
            return NO_CONTACTS
        counts = verdict_counts(ctx, f)
        return sum(counts.values()) if which == "reviewed" else counts[which]
    fn.__doc__ = f"MQLs of the period whose latest sales verdict is {which}."
    return fn


for _mid, _which in (("mqls_accepted", "accepted"), ("mqls_rejected", "rejected"), ("mqls_reviewed", "reviewed")):
    computes(_mid)(_verdicts(_which))


# --- burnt lead value --------------------------------------------------------------------------

def value_window(ctx: Ctx, f: Filters) -> tuple[dt.date, dt.date]:
    """The months ending on the period's last day over which a source's lead value is measured."""
    months = ctx.defs.lead_value_window_months
    end = f.end
    index = end.year * 12 + end.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    first_next = dt.date(year + (month == 12), month % 12 + 1, 1)
    day = min(end.day, (first_next - dt.timedelta(days=1)).day)
    return dt.date(year, month, day) + dt.timedelta(days=1), end


def _source(col):
    return func.coalesce(func.nullif(col, ""), literal(NONE_BUCKET))


def source_lead_values(ctx: Ctx, f: Filters) -> dict[str, dict]:
    """{source: {leads, customers, won_deals, won_amount, rate, avg_deal, value}} over the value
    window ending on `f`'s last day, every contact and deal counted (no slice applies). A source
    with no new lead or no won new-business deal in the window is worth 0."""
    start, end = value_window(ctx, f)
    key = ("source_lead_values", start, end)
    if key in ctx.cache:
        return ctx.cache[key]
    window = Filters(start, end)
    out: dict[str, dict] = {}
    roles = ("lead", "customer")

    def entered(c_: Ctx, part: Filters, r=s.rollup_contacts) -> dict[tuple[str, str], int]:
        """{(role, source): contacts that entered the role's stage} over the months of `part`, from
        rows shaped like rollup_contacts (the funnel's own counts, whole months from the rollup)."""
        src = _source(r.c.source)
        return {(role, k): int(n or 0) for role, k, n in c_.conn.execute(
            select(r.c.role, src, func.sum(r.c.n)).where(*rollups.months(part, r.c.month), r.c.role.in_(roles))
            .group_by(r.c.role, src)).all()}

    counts = rollups.gather(ctx, window, entered, lambda c_, part: rollups.contact_rows(c_, part, roles), empty={})
    leads, customers = ({k: n for (role, k), n in counts.items() if role == which} for which in roles)
    dsrc = _source(func.coalesce(func.nullif(d.c.deal_source, ""), contact_field("original_source")))
    won = {k: (int(n), float(a or 0.0)) for k, n, a in ctx.conn.execute(
        select(dsrc, func.count(), func.sum(sql.to_major(ctx, d.c.amount_cents, d.c.currency)))
        .where(~d.c.is_deleted, sql.is_won(ctx), sql.in_period_date(d.c.close_date, window),
               sql.revenue_type(ctx) == "new_business")
        .group_by(dsrc)).all()}
    for source in sorted(set(leads) | set(customers) | set(won)):
        n_leads, n_customers = leads.get(source, 0), customers.get(source, 0)
        n_won, amount = won.get(source, (0, 0.0))
        rate = min(1.0, n_customers / n_leads) if n_leads else 0.0
        avg = amount / n_won if n_won else 0.0
        out[source] = {"leads": n_leads, "customers": n_customers, "won_deals": n_won, "won_amount": round(amount, 2),
                       "rate": rate, "avg_deal": round(avg, 2), "value": round(rate * avg, 2)}
    ctx.cache[key] = out
    return out


def burnt_conditions(ctx: Ctx, f: Filters) -> list:
    """The contacts `leads_not_followed_up` counts: MQLs of the period, SLA window elapsed, not
    touched within it."""
    mql_at = sql.reached_at(ctx, sql.stage_of(ctx, "mql"))
    elapsed, in_time = follow_up_terms(ctx, mql_at)
    return [*sql.contact_conditions(ctx, f), sql.in_period_dt(mql_at, f), elapsed, ~in_time]


def burnt_counts_and_values(ctx: Ctx, f: Filters, col) -> dict:
    """{group: (burnt leads, their value)} grouped by `col` (one group, None, when `col` is None)."""
    values = source_lead_values(ctx, f)
    src = _source(c.c.original_source)
    group = col if col is not None else literal(None)
    out: dict = {}
    for key, source, n in ctx.conn.execute(select(group, src, func.count()).where(*burnt_conditions(ctx, f))
                                           .group_by(group, src)).all():
        count, value = out.get(key, (0, 0.0))
        out[key] = (count + int(n), value + int(n) * values.get(source, {}).get("value", 0.0))
    return {k: (n, round(v, 2)) for k, (n, v) in out.items()}


def _burnt_value_by(ctx: Ctx, f: Filters, col) -> dict:
    """{group: value of its burnt leads} (group None when `col` is None)."""
    return {k: v for k, (_n, v) in burnt_counts_and_values(ctx, f, col).items()}


@computes("burnt_lead_value")
def burnt_lead_value(ctx: Ctx, f: Filters) -> Result:
    """Sum over the period's burnt leads of the expected revenue of a lead of their source."""
    if not has_contacts(ctx):
        return NO_CONTACTS
    return _burnt_value_by(ctx, f, None).get(None, 0.0)


@breaks_down("burnt_lead_value", "owner")
def burnt_lead_value_by_owner(ctx: Ctx, f: Filters) -> list[tuple[str, Result]]:
    """Each owner's burnt lead value, by owner name as every owner breakdown shows it ("(none)" for
    leads without an owner), largest first; owners with no burnt value are left out."""
    if not has_contacts(ctx):
        return []
    names = owner_names(ctx.conn)
    by = _burnt_value_by(ctx, f, c.c.owner_id)
    return sorted(((names.get(k, k) if k else NONE_BUCKET, v) for k, v in by.items() if v),
                  key=lambda kv: (-kv[1], kv[0]))


def lead_value(ctx: Ctx, f: Filters, source: str | None) -> float:
    """The expected revenue of one lead of `source` for the period `f` ends."""
    return source_lead_values(ctx, f).get(source or NONE_BUCKET, {}).get("value", 0.0)


__all__ = ["VERDICTS", "burnt_conditions", "burnt_counts_and_values", "latest_verdicts", "lead_value", "source_lead_values", "value_window",
           "verdict_counts"]
