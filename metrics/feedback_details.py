"""Tables behind sales' feedback on leads and the burnt lead value (metrics/feedback.py):

- `lead_review_queue`: the period's MQLs with their current verdict, for the owner to judge;
- `feedback_by`: acceptance and rejection reasons by source or campaign (the counts beside the
  rate: the rate is accepted / (accepted + rejected), as `mql_acceptance_rate`);
- `lead_rejections`: the rejections decided in the period (the weekly meeting's list);
- `burnt_leads_valued`: the burnt leads with what each was worth (`burnt_lead_value`'s rows).

Selected with the same rules as the metrics, so a table's totals are the KPIs above it.
"""
from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine, func, select

from store import schema as s

from . import sql
from .details import CONTACT_COLS, _contact_columns, _ctx, _frame, contacts_behind
from .feedback import burnt_counts_and_values, latest_verdicts, source_lead_values
from .dimensions import owner_names
from .filters import NONE_BUCKET, Filters

c = s.contacts
SEGMENTS = {"source": c.c.original_source, "campaign": c.c.campaign}


def lead_review_queue(engine: Engine, filters: Filters, limit: int = 500, pending_only: bool = False) -> pd.DataFrame:
    """The MQLs of the period (newest first) with their latest verdict: what each owner judges.

    verdict: accepted | rejected | None (not judged yet); reason: the rejection reason's label;
    owner_email: the owner's email (who may judge the lead)."""
    with _ctx(engine) as ctx:
        judged, v = latest_verdicts(outer=True)
        mql_at = sql.reached_at(ctx, sql.stage_of(ctx, "mql"))
        where = [*sql.contact_conditions(ctx, filters), sql.in_period_dt(mql_at, filters)]
        if pending_only:
            where.append(v.c.verdict.is_(None))
        rows = ctx.conn.execute(
            select(*_contact_columns(ctx), mql_at.label("became_mql_at"), v.c.verdict, v.c.reason, v.c.decided_by,
                   v.c.decided_at, select(s.owners.c.email).where(s.owners.c.owner_id == c.c.owner_id)
                   .scalar_subquery().label("owner_email"))
            .select_from(judged)
            .where(*where).order_by(mql_at.desc(), c.c.contact_id).limit(limit)).all()
        labels = ctx.defs.rejection_reasons
    df = _frame(rows, CONTACT_COLS + ["became_mql_at", "verdict", "reason", "decided_by", "decided_at",
                                      "owner_email"])
    df["reason"] = [labels.get(r, r) if r else None for r in df["reason"]]
    df["owner_email"] = [(e or "").strip().lower() or None for e in df["owner_email"]]
    return df


def feedback_by(engine: Engine, filters: Filters, by: str = "source") -> pd.DataFrame:
    """Per source (or campaign): the period's MQLs, how many sales judged, accepted, rejected,
    the acceptance rate (accepted / judged; None when none was judged) and one column per
    rejection reason (its label) counting the rejections that gave it. Sorted by MQLs."""
    if by not in SEGMENTS:
        raise ValueError(f"feedback is broken down by {' or '.join(SEGMENTS)}, not {by!r}")
    with _ctx(engine) as ctx:
        judged, v = latest_verdicts(outer=True)
        seg = func.coalesce(func.nullif(SEGMENTS[by], ""), NONE_BUCKET)
        mql_at = sql.reached_at(ctx, sql.stage_of(ctx, "mql"))
        rows = ctx.conn.execute(
            select(seg, v.c.verdict, v.c.reason, func.count())
            .select_from(judged)
            .where(*sql.contact_conditions(ctx, filters), sql.in_period_dt(mql_at, filters))
            .group_by(seg, v.c.verdict, v.c.reason)).all()
        labels = ctx.defs.rejection_reasons
    out: dict[str, dict] = {}
    for key, verdict, reason, n in rows:
        r = out.setdefault(key, {by: key, "mqls": 0, "reviewed": 0, "accepted": 0, "rejected": 0,
                                 **{label: 0 for label in labels.values()}})
        r["mqls"] += int(n)
        if verdict in ("accepted", "rejected"):
            r["reviewed"] += int(n)
            r[verdict] += int(n)
        if verdict == "rejected" and reason:
            label = labels.get(reason, reason)
            r[label] = r.get(label, 0) + int(n)
    cols = [by, "mqls", "reviewed", "accepted", "rejected", "acceptance_rate", *labels.values()]
    frame = pd.DataFrame(sorted(out.values(), key=lambda r: (-r["mqls"], str(r[by]).lower())))
    if frame.empty:
        return pd.DataFrame(columns=cols)
    frame["acceptance_rate"] = [a / n if n else None for a, n in zip(frame["accepted"], frame["reviewed"])]
    extra = [col for col in frame.columns if col not in cols]  # a reason since removed from the definitions
    return frame[cols + extra]


def lead_rejections(engine: Engine, filters: Filters, limit: int = 500) -> pd.DataFrame:
    """Leads whose latest verdict is a rejection decided in the period, newest first."""
    with _ctx(engine) as ctx:
        judged, v = latest_verdicts()
        rows = ctx.conn.execute(
            select(*_contact_columns(ctx), v.c.reason, v.c.decided_by, v.c.decided_at)
            .select_from(judged)
            .where(*sql.contact_conditions(ctx, filters), v.c.verdict == "rejected",
                   sql.in_period_dt(v.c.decided_at, filters))
            .order_by(v.c.decided_at.desc(), c.c.contact_id).limit(limit)).all()
        labels = ctx.defs.rejection_reasons
    df = _frame(rows, CONTACT_COLS + ["reason", "decided_by", "decided_at"])
    df["reason"] = [labels.get(r, r) if r else None for r in df["reason"]]
    return df


def burnt_leads_valued(engine: Engine, filters: Filters, limit: int = 500) -> pd.DataFrame:
    """The burnt leads (details.burnt_leads) with `expected_value`: what a lead of its source was
    worth (metrics.feedback: the source's lead-to-customer rate x its average won deal, trailing
    12 months); they add up to `burnt_lead_value` (its drill-down list)."""
    return contacts_behind(engine, "burnt_lead_value", filters, limit=limit)


def burnt_value_by_owner(engine: Engine, filters: Filters) -> pd.DataFrame:
    """Each owner's burnt leads of the period and what they were worth (`burnt_lead_value` by
    owner, with the owner's id and email for whoever writes to them: the meeting, the digest),
    largest value first; leads without an owner under "(none)"."""
    with _ctx(engine) as ctx:
        by = burnt_counts_and_values(ctx, filters, c.c.owner_id)
        names = owner_names(ctx.conn)
        emails = dict(ctx.conn.execute(select(s.owners.c.owner_id, s.owners.c.email)).all())
    cols = ["owner_id", "owner", "owner_email", "burnt_leads", "burnt_lead_value"]
    rows = [{"owner_id": oid, "owner": names.get(oid, oid) if oid else NONE_BUCKET, "owner_email": emails.get(oid),
             "burnt_leads": n, "burnt_lead_value": v} for oid, (n, v) in by.items()]
    return pd.DataFrame(sorted(rows, key=lambda r: (-r["burnt_lead_value"], r["owner"])), columns=cols)


def source_values(engine: Engine, filters: Filters) -> pd.DataFrame:
    """What one lead of each source is worth for the period (the burnt lead value's inputs)."""
    with _ctx(engine) as ctx:
        values = source_lead_values(ctx, filters)
    cols = ["source", "leads", "customers", "rate", "won_deals", "avg_deal", "value"]
    return pd.DataFrame([{"source": k, **{c_: v[c_] for c_ in cols[1:]}} for k, v in values.items()], columns=cols)


__all__ = ["burnt_leads_valued", "burnt_value_by_owner", "feedback_by", "lead_rejections", "lead_review_queue", "source_values"]
