"""Row-level and grouped tables behind the numbers: drill-downs, the funnel, owner and campaign tables.

Every function takes the engine and a `Filters`, returns a pandas DataFrame with snake_case
columns (money in major units of the reporting currency), and selects its records with the
same rules as the metric it explains (metrics/sql.py), so a table's total is the KPI above it.
Grouping happens in SQL; pandas only shapes the result.
"""
from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from typing import Iterator

import pandas as pd
from sqlalchemy import Engine, and_, case, func, literal, or_, select

from store import schema as s
from store.db import get_meta

from . import dimensions, feedback, rollup_days, rollup_forecast, rollups, sql
from .definitions import load_definitions
from .filters import NONE_BUCKET, Filters
from .funnel import ROLES, funnel_stats
from .registry import Ctx
from .rules import contact_field, follow_up_terms, in_pipeline, marketing_sourced, now, today

d, c, o, sp = s.deals, s.contacts, s.owners, s.marketing_spend

STAGE_LABELS = {"lead": "Leads", "marketingqualifiedlead": "MQLs", "salesqualifiedlead": "SQLs",
                "opportunity": "Opportunities", "customer": "Customers"}
# Which deals a deal-based KPI counts.
WON_METRICS = ("won_revenue", "won_deals", "north_star", "avg_deal_size", "sales_cycle_days",
               "sales_cycle_days_median", "marketing_sourced_revenue", "marketing_sourced_share", "gap_to_target",
               "booked_to_invoiced_gap", "budget_vs_actual",  # these two: their booked side
               "new_business_revenue", "expansion_revenue", "renewal_revenue",
               "quota_attainment", "quota_attainment_paced")  # the quota's won side
TYPE_METRICS = {"new_business_revenue": "new_business", "expansion_revenue": "expansion", "renewal_revenue": "renewal"}
OPEN_METRICS = ("open_pipeline", "weighted_pipeline", "pipeline_coverage", "sales_velocity",
                "quota_coverage")  # the open pipeline it divides
CLOSED_METRICS = ("win_rate",)
LOST_METRICS = ("lost_deals",)
FORECAST_METRICS = ("forecast",)
# Which contacts a contact-based KPI counts: metric -> (stage role of the period, role reached).
CONTACT_METRICS = {
    "new_leads": ("lead", None), "mqls": ("mql", None), "sqls": ("sql", None),
    "opportunities": ("opportunity", None), "new_customers": ("customer", None),
    "lead_to_mql_rate": ("lead", "mql"), "mql_to_sql_rate": ("mql", "sql"),
    "sql_to_opportunity_rate": ("sql", "opportunity"), "opportunity_to_customer_rate": ("opportunity", "customer"),
    "lead_to_customer_rate": ("lead", "customer"),
}


@contextmanager
def _ctx(engine: Engine) -> Iterator[Ctx]:
    with engine.connect() as conn:
        yield Ctx(conn, load_definitions(conn))


def _frame(rows, columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame([tuple(r) for r in rows], columns=columns)


# --- deals ---------------------------------------------------------------------------------

def _hubspot_url(portal: str | None, origin: str, deal_id: str) -> str | None:
    if origin != "hubspot" or not portal:
        return None
    return f"https://app.hubspot.com/contacts/{portal}/record/0-3/{deal_id}"


def deals_behind(engine: Engine, metric_id: str, filters: Filters, limit: int = 500) -> pd.DataFrame:
    """The deals a deal-based KPI counts, largest first (hubspot_url for synced deals)."""
    with _ctx(engine) as ctx:
        # closed deals to the period's end; open ones to its plan end (metrics.filters)
        period = sql.in_period_date(d.c.close_date, filters.to_date())
        plan_period = in_pipeline(ctx, filters.whole())  # with the past-due deals when it carries them
        won, lost, open_ = sql.is_won(ctx), sql.is_lost(ctx), sql.is_open(ctx)
        if metric_id in WON_METRICS:
            where = [won, period]
            if metric_id.startswith("marketing_sourced"):
                where += [marketing_sourced(ctx), sql.counted_type(ctx, "marketing_sourced_revenue")]
            elif metric_id in TYPE_METRICS:
                where.append(sql.revenue_type(ctx) == TYPE_METRICS[metric_id])
            elif metric_id == "north_star":
                where.append(sql.counted_type(ctx, "north_star"))
        elif metric_id in OPEN_METRICS:
            where = [open_, plan_period]
        elif metric_id in CLOSED_METRICS:
            where = [or_(won, lost), period, sql.counted_type(ctx, "win_rate")]
        elif metric_id in LOST_METRICS:
            where = [lost, period]
        elif metric_id in FORECAST_METRICS:
            where = [or_(and_(won, period), and_(open_, plan_period))]
        else:
            raise ValueError(f"{metric_id} is not counted in deals; deal lists exist for: "
                             f"{', '.join(WON_METRICS + OPEN_METRICS + CLOSED_METRICS + LOST_METRICS + FORECAST_METRICS)}")
        amount = sql.to_major(ctx, d.c.amount_cents, d.c.currency)
        status = case((won, literal("won")), (lost, literal("lost")), else_=literal("open"))
        q = (select(d.c.deal_id, d.c.name, amount.label("amount"), d.c.currency,
                    (d.c.amount_cents / 100.0).label("amount_in_currency"), d.c.pipeline_id, d.c.stage_id,
                    status.label("status"), sql.stage_probability(ctx).label("probability"),
                    (amount * sql.stage_probability(ctx)).label("weighted_amount"),
                    d.c.created_at, d.c.close_date, d.c.owner_id,
                    select(dimensions.owner_name_sql()).where(o.c.owner_id == d.c.owner_id).scalar_subquery().label("owner"),
                    dimensions.deal_region(ctx).label("region"), dimensions.deal_product_line(ctx).label("product_line"),
                    d.c.deal_source, d.c.forecast_category, d.c.lost_reason, d.c.origin)
             .where(*sql.deal_conditions(ctx, filters), *where)
             .order_by(amount.desc().nulls_last(), d.c.deal_id).limit(limit))
        rows = ctx.conn.execute(q).all()
        portal = get_meta(ctx.conn, "hubspot_portal_id")
        labels = sql.stage_rules(ctx).labels
    cols = ["deal_id", "name", "amount", "currency", "amount_in_currency", "pipeline_id", "stage_id", "status",
            "probability", "weighted_amount", "created_at", "close_date", "owner_id", "owner", "region",
            "product_line", "deal_source", "forecast_category", "lost_reason", "origin"]
    df = _frame(rows, cols)
    df.insert(7, "stage", [labels.get((p, st), st) for p, st in zip(df["pipeline_id"], df["stage_id"])])
    df["amount"] = df["amount"].astype(float).round(2)
    df["weighted_amount"] = df["weighted_amount"].astype(float).round(2)
    df["hubspot_url"] = [_hubspot_url(portal, org, did) for org, did in zip(df["origin"], df["deal_id"])]
    return df


# --- contacts ------------------------------------------------------------------------------

def _contact_columns(ctx: Ctx) -> list:
    return [c.c.contact_id, c.c.email, c.c.first_name, c.c.last_name, c.c.owner_id,
            select(dimensions.owner_name_sql()).where(o.c.owner_id == c.c.owner_id).scalar_subquery().label("owner"),
            c.c.region, c.c.original_source, c.c.campaign, c.c.lifecycle_stage]


CONTACT_COLS = ["contact_id", "email", "first_name", "last_name", "owner_id", "owner", "region", "original_source",
                "campaign", "lifecycle_stage"]


# Sales' verdicts: metric -> the latest verdicts its MQLs have (metrics/feedback.py).
FEEDBACK_METRICS = {"mqls_accepted": ("accepted",), "mqls_rejected": ("rejected",),
                    "mqls_reviewed": ("accepted", "rejected"), "mql_acceptance_rate": ("accepted", "rejected")}
OTHER_CONTACT_LISTS = ["leads_not_followed_up", "follow_up_rate", "burnt_lead_value", *FEEDBACK_METRICS]


def contacts_behind(engine: Engine, metric_id: str, filters: Filters, limit: int = 500) -> pd.DataFrame:
    """The contacts a funnel KPI counts (for a rate: the period's cohort, with whether each converted)."""
    if metric_id in ("leads_not_followed_up", "follow_up_rate"):
        return burnt_leads(engine, filters, limit=limit, only_burnt=metric_id == "leads_not_followed_up")
    if metric_id == "burnt_lead_value":
        df = burnt_leads(engine, filters, limit=limit)
        with _ctx(engine) as ctx:
            df["expected_value"] = [feedback.lead_value(ctx, filters, src) for src in df["original_source"]]
        return df
    if metric_id in FEEDBACK_METRICS:
        return _judged_mqls(engine, filters, FEEDBACK_METRICS[metric_id], limit)
    if metric_id not in CONTACT_METRICS:
        raise ValueError(f"{metric_id} is not counted in contacts; contact lists exist for: "
                         f"{', '.join(list(CONTACT_METRICS) + OTHER_CONTACT_LISTS)}")
    role, to_role = CONTACT_METRICS[metric_id]
    with _ctx(engine) as ctx:
        at = sql.reached_at(ctx, sql.stage_of(ctx, role))
        cols = [*_contact_columns(ctx), at.label("entered_at")]
        names = CONTACT_COLS + ["entered_at"]
        if to_role:
            cols.append(sql.reached_at(ctx, sql.stage_of(ctx, to_role)).label("reached_at"))
            names.append("reached_at")
        rows = ctx.conn.execute(select(*cols).where(*sql.contact_conditions(ctx, filters), sql.in_period_dt(at, filters))
                                .order_by(at, c.c.contact_id).limit(limit)).all()
    df = _frame(rows, names)
    if to_role:
        df["converted"] = df["reached_at"].notna()
    return df


def _judged_mqls(engine: Engine, filters: Filters, verdicts: tuple[str, ...], limit: int) -> pd.DataFrame:
    """The period's MQLs whose latest sales verdict is one of `verdicts`, newest verdict first."""
    with _ctx(engine) as ctx:
        judged, v = feedback.latest_verdicts()
        mql_at = sql.reached_at(ctx, sql.stage_of(ctx, "mql"))
        rows = ctx.conn.execute(
            select(*_contact_columns(ctx), mql_at.label("became_mql_at"), v.c.verdict, v.c.reason, v.c.decided_by,
                   v.c.decided_at)
            .select_from(judged)
            .where(*sql.contact_conditions(ctx, filters), sql.in_period_dt(mql_at, filters), v.c.verdict.in_(verdicts))
            .order_by(v.c.decided_at.desc(), c.c.contact_id).limit(limit)).all()
        labels = ctx.defs.rejection_reasons
    df = _frame(rows, CONTACT_COLS + ["became_mql_at", "verdict", "reason", "decided_by", "decided_at"])
    df["reason"] = [labels.get(r, r) if r else None for r in df["reason"]]
    return df


def burnt_leads(engine: Engine, filters: Filters, limit: int = 500, only_burnt: bool = True) -> pd.DataFrame:
    """Qualified leads of the period with no sales touch within the SLA (window elapsed), oldest first.

    age_hours: hours from becoming MQL to the first touch, or to now when never touched.
    With the default stages, ix_contacts_mql_reached serves the period and the order: one page
    of the index is read, whatever the number of contacts.
    """
    with _ctx(engine) as ctx:
        mql_at = sql.reached_at(ctx, sql.stage_of(ctx, "mql"))
        touch = c.c.first_sales_touch_at
        waited = sql.days_between(ctx, mql_at, func.coalesce(touch, now(ctx))) * 24.0
        elapsed, in_time = follow_up_terms(ctx, mql_at)
        where = [*sql.contact_conditions(ctx, filters, by_date_index=True), sql.in_period_dt(mql_at, filters), elapsed]
        if only_burnt:
            where.append(~in_time)
        rows = ctx.conn.execute(select(*_contact_columns(ctx), mql_at.label("became_mql_at"), touch,
                                       waited.label("age_hours"), case((in_time, True), else_=False).label("followed_up"))
                                .where(*where).order_by(mql_at, c.c.contact_id).limit(limit)).all()
    df = _frame(rows, CONTACT_COLS + ["became_mql_at", "first_sales_touch_at", "age_hours", "followed_up"])
    df["age_hours"] = df["age_hours"].astype(float).round(1)
    df["followed_up"] = df["followed_up"].astype(bool)
    return df


# --- funnel --------------------------------------------------------------------------------

def funnel(engine: Engine, filters: Filters, view: str = "period", mode: str = "strict",
           medians: bool = True) -> pd.DataFrame:
    """Contacts per funnel stage: count, % of previous stage, % of top, median days from the previous stage.

    view "period": contacts that entered each stage in the period. view "cohort": of the leads
    created in the period, how many reached each stage (at any time up to now).
    mode "strict": a contact counts in a stage only with an entry date for it and for every
    earlier stage. mode "any": a skipped stage counts as passed when the next reached stage was.
    The median days are of whole days (days elapsed, the last day's fraction dropped), exact to
    the day: x or x.5 days. Counts and medians come from one day-resolution histogram
    (metrics/rollup_days.py: rollup_funnel_days for the whole months, the contacts for the other
    days). medians=False leaves the median days out (None); the period, any-stage counts are then
    the funnel KPIs themselves (new_leads, mqls...: metrics.funnel, read from the monthly rollups).
    """
    if view not in ("period", "cohort"):
        raise ValueError(f"funnel view {view!r} is not 'period' or 'cohort'")
    if mode not in ("strict", "any"):
        raise ValueError(f"funnel mode {mode!r} is not 'strict' or 'any'")
    with _ctx(engine) as ctx:
        stages = ctx.defs.funnel_stages
        if not medians and view == "period" and mode == "any":
            if [sql.stage_of(ctx, role) for role in ROLES] == list(stages):
                entered = funnel_stats(ctx, filters)["entered"]
                return _funnel_frame([(st, STAGE_LABELS.get(st, st), entered[role], None)
                                      for role, st in zip(ROLES, stages)])
        hist = rollup_days.funnel_days(ctx, filters, view, mode)
    rows = []
    for i, st in enumerate(stages):
        mine = {days: n for (stage, days), n in hist.items() if stage == st}
        median = rollup_days.median(mine) if i and medians else None
        rows.append((st, STAGE_LABELS.get(st, st), sum(mine.values()), None if median is None else round(median, 1)))
    return _funnel_frame(rows)


def _funnel_frame(rows: list[tuple]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["stage", "label", "count", "median_days_from_previous"])
    top = df["count"].iloc[0] if len(df) else 0
    prev = df["count"].shift(1)
    df["pct_of_previous"] = [None if i == 0 or not p else n / p for i, (n, p) in enumerate(zip(df["count"], prev))]
    df["pct_of_top"] = [n / top if top else None for n in df["count"]]
    return df[["stage", "label", "count", "pct_of_previous", "pct_of_top", "median_days_from_previous"]]


def past_due_deals(engine: Engine, filters: Filters, limit: int = 500) -> pd.DataFrame:
    """Open deals whose close date has passed, in the slices of `filters` (any period: they are
    overdue now), most overdue first: deal, owner, amount, stage, close date, days overdue and the
    HubSpot link of synced deals. With pipeline.past_due count_in_current_period they are in the
    pipeline of the period containing today; data quality counts them."""
    with _ctx(engine) as ctx:
        day = today(ctx)
        amount = sql.to_major(ctx, d.c.amount_cents, d.c.currency)
        rows = ctx.conn.execute(
            select(d.c.deal_id, d.c.name, d.c.owner_id,
                   select(dimensions.owner_name_sql()).where(o.c.owner_id == d.c.owner_id).scalar_subquery(),
                   amount, d.c.currency, d.c.pipeline_id, d.c.stage_id, d.c.close_date, d.c.origin)
            .where(*sql.deal_conditions(ctx, filters), sql.is_open(ctx), d.c.close_date < day)
            .order_by(d.c.close_date, d.c.deal_id).limit(limit)).all()
        portal = get_meta(ctx.conn, "hubspot_portal_id")
        labels = sql.stage_rules(ctx).labels
    out = []
    for deal_id, name, owner_id, owner, amt, cur, pid, sid, close, origin in rows:
        close = close if isinstance(close, dt.date) else dt.date.fromisoformat(str(close)[:10])
        out.append((deal_id, name, owner_id, owner, sql.money(amt) if amt is not None else None, cur,
                    labels.get((pid, sid), sid), close, (day - close).days, _hubspot_url(portal, origin, deal_id)))
    return pd.DataFrame(out, columns=["deal_id", "name", "owner_id", "owner", "amount", "currency", "stage",
                                      "close_date", "days_overdue", "hubspot_url"])


# --- pipeline ------------------------------------------------------------------------------

def pipeline_by_stage(engine: Engine, filters: Filters) -> pd.DataFrame:
    """Open deals closing in the period by stage: deals, amount, weighted_amount (totals = the KPIs),
    and of them the past-due ones (close date before today): past_due_deals, past_due_amount. Whole
    months from rollup_deal_forecast while fresh, the edge days from the deals."""
    with _ctx(engine) as ctx:
        open_, due = rollup_forecast.open_by_stage(ctx, filters, today(ctx))
        rules = sql.stage_rules(ctx)
    keys = sorted(open_, key=lambda k: (k[0], rules.order.get(k, 0), k[1]))
    return pd.DataFrame([(pid, sid, rules.labels.get((pid, sid), sid), rules.probability.get((pid, sid), 0.0),
                          open_[pid, sid][0], sql.money(open_[pid, sid][1]), sql.money(open_[pid, sid][2]),
                          due.get((pid, sid), (0,))[0], sql.money(due.get((pid, sid), (0, 0.0))[1]))
                         for pid, sid in keys],
                        columns=["pipeline_id", "stage", "label", "probability", "deals", "amount", "weighted_amount",
                                 "past_due_deals", "past_due_amount"])


def forecast_by_category(engine: Engine, filters: Filters) -> pd.DataFrame:
    """The forecast by HubSpot forecast category: won deals of the period plus open deals closing in it.

    weighted_amount adds up to the forecast KPI (won at 100%, open at stage probability). Whole
    months from the monthly summary rollup_deal_forecast when fresh (metrics/rollup_forecast.py),
    the edge days from the deals.
    """
    with _ctx(engine) as ctx:
        totals = rollup_forecast.forecast_by_category(ctx, filters)
    order = {"closed_won": 0, "commit": 1, "best_case": 2, "pipeline": 3, "omit": 4, NONE_BUCKET: 5}
    rows = sorted(totals.items(), key=lambda r: (order.get(str(r[0]).lower(), 4), str(r[0])))
    return pd.DataFrame([(cat, str(cat).replace("_", " ").capitalize(), int(n), sql.money(a), sql.money(w))
                         for cat, (n, a, w) in rows],
                        columns=["forecast_category", "label", "deals", "amount", "weighted_amount"])


def _people_table(ctx: Ctx, filters: Filters, key, key_name: str) -> pd.DataFrame:
    amount = sql.to_major(ctx, d.c.amount_cents, d.c.currency)
    won, lost, open_ = sql.is_won(ctx), sql.is_lost(ctx), sql.is_open(ctx)
    period = sql.in_period_date(d.c.close_date, filters.to_date())
    pipe_ = and_(open_, in_pipeline(ctx, filters.whole()))  # open deals to the plan end, as open_pipeline
    rated = sql.counted_type(ctx, "win_rate")
    rows = ctx.conn.execute(
        select(key.label("k"),
               func.count().filter(and_(won, period)), func.sum(amount).filter(and_(won, period)),
               func.count().filter(and_(lost, period)),
               func.count().filter(pipe_), func.sum(amount).filter(pipe_),
               func.sum(amount * sql.stage_probability(ctx)).filter(pipe_),
               func.count().filter(and_(won, period, rated)), func.count().filter(and_(lost, period, rated)))
        .where(*sql.deal_conditions(ctx, filters), or_(period, pipe_)).group_by(key)).all()
    out = []
    for k, nw, rev, nl, no, pipe, wpipe, rw, rl in rows:
        nw, nl, rw, rl = int(nw or 0), int(nl or 0), int(rw or 0), int(rl or 0)
        out.append((k if k not in (None, "") else NONE_BUCKET, nw, sql.money(rev), nl, rw, rl,
                    rw / (rw + rl) if rw + rl else None, sql.money(rev) / nw if nw else None,
                    int(no or 0), sql.money(pipe), sql.money(wpipe)))
    df = pd.DataFrame(out, columns=[key_name, "won_deals", "won_revenue", "lost_deals", "won_deals_in_win_rate",
                                    "lost_deals_in_win_rate", "win_rate", "avg_deal_size",
                                    "open_deals", "open_pipeline", "weighted_pipeline"])
    if set(ctx.defs.counted_types("win_rate")) == set(sql.REVENUE_TYPES):
        # the win rate counts every deal: it is the ratio of the won and lost columns already shown
        df = df.drop(columns=["won_deals_in_win_rate", "lost_deals_in_win_rate"])
    return df.sort_values("won_revenue", ascending=False, kind="stable").reset_index(drop=True)


def owner_table(engine: Engine, filters: Filters) -> pd.DataFrame:
    """Per owner: won deals and revenue, lost deals, win rate, average deal, open and weighted pipeline."""
    with _ctx(engine) as ctx:
        df = _people_table(ctx, filters, d.c.owner_id, "owner_id")
        names = dict(ctx.conn.execute(select(o.c.owner_id, dimensions.owner_name_sql())).all())
        teams = dict(ctx.conn.execute(select(o.c.owner_id, o.c.team_name)).all())
    df.insert(1, "owner", [names.get(k, k) for k in df["owner_id"]])
    df.insert(2, "team", [teams.get(k) or NONE_BUCKET for k in df["owner_id"]])
    return df


def team_table(engine: Engine, filters: Filters) -> pd.DataFrame:
    """owner_table grouped by the owners' team."""
    with _ctx(engine) as ctx:
        return _people_table(ctx, filters, dimensions.owner_team(d.c.owner_id), "team")


# --- marketing -----------------------------------------------------------------------------

def campaign_table(engine: Engine, filters: Filters) -> pd.DataFrame:
    """Per campaign: spend, leads, MQLs and customers of the period, attributed won deals and revenue, ROI.

    Won deals and revenue are those of the revenue types campaign ROI counts
    (revenue_types.counted_by.campaign_roi: new business by default), so the ROI column matches the KPI.

    Whole months come from the monthly rollups when they are fresh and carry the filters (as the
    campaign KPIs do), the edge days of a custom period from the contacts and deals."""
    with _ctx(engine) as ctx:
        spend: dict = {}
        if not sql.spend_unfilterable(filters):
            spend = dict(ctx.conn.execute(select(sp.c.campaign, func.sum(sql.to_major(ctx, sp.c.amount_cents, sp.c.currency)))
                                          .where(*sql.spend_conditions(filters), sp.c.campaign.isnot(None),
                                                 sp.c.campaign != "").group_by(sp.c.campaign)).all())
        counts: dict[str, dict[str, int]] = rollups.gather(ctx, filters, rollups.campaign_contacts, rollups.contact_campaign_rows,
                                                           rollups.contact_filters_supported(filters))
        won: dict[str, tuple[int, float]] = rollups.gather(ctx, filters, rollups.campaign_won, rollups.deal_campaign_rows,
                                                           rollups.campaign_filters_supported(filters), empty={})
    names = set(spend) | set(won) | set().union(*[set(v) for v in counts.values()])
    rows = []
    for k in sorted(names, key=str.lower):
        cost = sql.money(spend.get(k)) if k in spend else None
        n_won, revenue = won.get(k, (0, 0.0))
        leads = counts["lead"].get(k, 0)
        rows.append((k, cost, leads, counts["mql"].get(k, 0), counts["customer"].get(k, 0), int(n_won),
                     sql.money(revenue), (sql.money(revenue) - cost) / cost if cost else None,
                     cost / leads if cost and leads else None))
    return pd.DataFrame(rows, columns=["campaign", "spend", "leads", "mqls", "customers", "won_deals",
                                       "won_revenue", "roi", "cost_per_lead"])


def source_quality(engine: Engine, filters: Filters) -> pd.DataFrame:
    """Per original source: leads of the period, how many became MQL and customer (cohort), won revenue.

    Whole months come from the monthly rollups when they are fresh and carry the filters."""
    with _ctx(engine) as ctx:
        cohort: dict[str, tuple] = rollups.gather(
            ctx, filters, lambda c_, part, *r: rollups.lead_cohorts_by_source(c_, part, NONE_BUCKET, *r),
            lambda c_, part: rollups.contact_rows(c_, part, ("lead",)), rollups.contact_filters_supported(filters), empty={})
        revenue: dict[str, tuple] = rollups.gather(
            ctx, filters, lambda c_, part, *r: rollups.won_by_effective_source(c_, part, NONE_BUCKET, *r),
            rollups.deal_rows, empty={})
        marketing = set(ctx.defs.marketing_sources)
    rows = []
    for k in sorted(set(cohort) | set(revenue), key=str.lower):
        n, m, cu = cohort.get(k, (0, 0, 0))
        nw, rev = revenue.get(k, (0, 0.0))
        rows.append((k, k in marketing, int(n), int(m), int(cu), m / n if n else None, cu / n if n else None,
                     int(nw), sql.money(rev)))
    return pd.DataFrame(rows, columns=["source", "is_marketing_sourced", "leads", "reached_mql", "became_customer",
                                       "lead_to_mql_rate", "lead_to_customer_rate", "won_deals", "won_revenue"])


def lost_reasons_by_source(engine: Engine, filters: Filters) -> pd.DataFrame:
    """Why deals were lost (closed-lost in the period) and leads disqualified (MQL in the period), by source."""
    with _ctx(engine) as ctx:
        dsrc = func.coalesce(func.nullif(d.c.deal_source, ""), contact_field("original_source"), literal(NONE_BUCKET))
        reason = func.coalesce(func.nullif(d.c.lost_reason, ""), literal("(no reason given)"))
        lost = ctx.conn.execute(
            select(dsrc, reason, func.count(), func.sum(sql.to_major(ctx, d.c.amount_cents, d.c.currency)))
            .where(*sql.deal_conditions(ctx, filters), sql.is_lost(ctx), sql.in_period_date(d.c.close_date, filters))
            .group_by(dsrc, reason)).all()
        csrc = func.coalesce(func.nullif(c.c.original_source, ""), literal(NONE_BUCKET))
        mql_at = sql.reached_at(ctx, sql.stage_of(ctx, "mql"))
        disq = ctx.conn.execute(
            select(csrc, c.c.disqualified_reason, func.count())
            .where(*sql.contact_conditions(ctx, filters), sql.in_period_dt(mql_at, filters),
                   c.c.disqualified_reason.isnot(None), c.c.disqualified_reason != "")
            .group_by(csrc, c.c.disqualified_reason)).all()
    rows = [(k, "deal lost", r, int(n), sql.money(a)) for k, r, n, a in lost]
    rows += [(k, "lead disqualified", r, int(n), None) for k, r, n in disq]
    df = pd.DataFrame(rows, columns=["source", "kind", "reason", "count", "amount"])
    return df.sort_values(["source", "kind", "count"], ascending=[True, True, False], kind="stable").reset_index(drop=True)


def leads_by_source_over_time(engine: Engine, filters: Filters, grain: str = "month") -> pd.DataFrame:
    """New leads (any-stage, as the new_leads KPI) per period and original source (by month, whole
    months from the monthly rollups when they are fresh and carry the filters)."""
    with _ctx(engine) as ctx:
        if grain == "month":
            counts: dict[tuple[str, str], int] = rollups.gather(
                ctx, filters, lambda c_, part, *r: rollups.leads_by_month_and_source(c_, part, NONE_BUCKET, *r),
                lambda c_, part: rollups.contact_rows(c_, part, ("lead",)), rollups.contact_filters_supported(filters),
                empty={})
        else:  # weeks and quarters: no rollup is shaped by them
            counts = _leads_by_period_and_source(ctx, filters, grain)
    return pd.DataFrame([(p, k, n) for (p, k), n in sorted(counts.items())], columns=["period", "source", "leads"])


def _leads_by_period_and_source(ctx: Ctx, f: Filters, grain: str) -> dict[tuple[str, str], int]:
    at = sql.reached_at(ctx, sql.stage_of(ctx, "lead"))
    bucket = sql.period_bucket(ctx, at, grain)
    src = func.coalesce(func.nullif(c.c.original_source, ""), literal(NONE_BUCKET))
    return {(str(p), k): int(n) for p, k, n in ctx.conn.execute(
        select(bucket, src, func.count()).where(*sql.contact_conditions(ctx, f), sql.in_period_dt(at, f))
        .group_by(bucket, src)).all()}
