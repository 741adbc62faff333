"""Net Promoter Score from survey answers (`nps_responses`: HubSpot feedback submissions or an
imported file).

NPS = % of the period's answers scoring 9-10 (promoters) minus % scoring 0-6 (detractors), from
-100 to 100. An answer belongs to the period it was submitted in. Region and product line filter
through the respondent's company (the contact's company): its region, and whether it has a deal
in the product line (by the deal product-line rule). An answer whose contact or company is not in
the store is counted only when no region or product-line filter is set. Owner, team, pipeline and
source filters do not apply to survey answers: with one set the NPS is not available.
"""
from __future__ import annotations

from sqlalchemy import exists, false, func, literal, literal_column, not_, null, or_, select

from store import schema as s

from . import rollups, sql
from .dimensions import company_deal_lines, deal_product_line, in_values, lines_by, lines_filter
from .filters import NONE_BUCKET, Filters
from .registry import Ctx, NotAvailable, Result, computes

n, c, co, d = s.nps_responses, s.contacts, s.companies, s.deals
PROMOTER_MIN, DETRACTOR_MAX = 9, 6


def unfilterable(f: Filters) -> str | None:
    """Why survey answers cannot be cut by `f`, or None."""
    named = [name for name, values in (("owner", f.owners), ("team", f.teams), ("pipeline", f.pipelines),
                                       ("source", f.sources)) if values]
    if named:
        return (f"survey answers are filtered by region and product line only (through the respondent's company); "
                f"clear the {', '.join(named)} filter{'s' if len(named) > 1 else ''}")
    return None




def respondent_region():
    """An answer's region: its contact's company's (NULL without one in the store)."""
    return (select(co.c.region).select_from(c.join(co, co.c.company_id == c.c.company_id))
            .where(c.c.contact_id == n.c.contact_id).scalar_subquery())


def response_conditions(ctx: Ctx, f: Filters) -> list:
    """The period's live answers in the region and product-line slices of `f`."""
    conds = [not_(n.c.is_deleted), sql.in_period_dt(n.c.submitted_at, f)]
    if f.regions:
        conds.append(in_values(respondent_region(), f.regions))
    if f.product_lines:
        # the answer's company (through its contact) has a live deal of a named line (none: has no
        # deal with a product line). Over a few days (the edge days of a period) each answer's
        # company's deals are looked up by ix_deals_company; over a longer period the companies
        # with such deals are found once, in one pass over the deals
        short = f.days <= sql.SHORT_PERIOD_DAYS
        dd = d.alias("nps_deals") if short else d
        pl = deal_product_line(ctx, dd)
        company = select(c.c.company_id).where(c.c.contact_id == n.c.contact_id).correlate(n).scalar_subquery()

        def has_deal(*where):
            if short:
                return exists().where(dd.c.company_id == company, not_(dd.c.is_deleted), *where)
            companies = select(d.c.company_id).where(d.c.company_id.isnot(None), not_(d.c.is_deleted), *where)
            return func.coalesce(company.in_(companies), false())
        named = tuple(v for v in f.product_lines if v != NONE_BUCKET)
        parts = []
        if named:
            parts.append(has_deal(pl.in_(named)))
        if NONE_BUCKET in f.product_lines:
            parts.append(not_(has_deal(pl.isnot(None), pl != "")))
        conds.append(or_(*parts))
    return conds


NO_RESPONSES = NotAvailable("no survey answers in the store yet: import an NPS file on the Data page "
                            "(`cli.py import nps FILE`) or sync HubSpot feedback submissions")


def has_responses(ctx: Ctx) -> bool:
    if "has_nps" not in ctx.cache:
        ctx.cache["has_nps"] = ctx.conn.execute(
            select(n.c.response_id).where(not_(n.c.is_deleted)).limit(1)).first() is not None
    return ctx.cache["has_nps"]


def build_query(ctx: Ctx, where=(), lines: bool = True, sign: int = 1, few: bool = False):
    """rollup_nps_months' rows from the answers (all live ones, or those `where` also selects),
    counted `sign`; without `lines`, deal_lines NULL (rows read with the filters applied to the
    answers); `few`: each answer's company's lines looked up by its deals' index, not read for
    every company in one pass (a few answers, as a rewound store's)."""
    keys = (sql.period_bucket(ctx, n.c.submitted_at, "month"), respondent_region(), n.c.score)
    source, deal_lines, grouped = n, null(), (1, 2, 3)
    if lines and few:
        source = n.outerjoin(c, c.c.contact_id == n.c.contact_id)
        deal_lines, grouped = company_deal_lines(ctx, c.c.company_id, c), (1, 2, 3, 5)
    elif lines:
        cl = lines_by(ctx, "company_id", "company_lines")  # each company's deals' lines, in one pass
        source = n.outerjoin(c, c.c.contact_id == n.c.contact_id).outerjoin(cl, cl.c.key == c.c.company_id)
        deal_lines, grouped = func.coalesce(cl.c.lines, literal("")), (1, 2, 3, 5)
    return (select(*rollups._named(s.rollup_nps_months, *keys, func.count() * sign, deal_lines))
            .select_from(source).where(not_(n.c.is_deleted), *where)
            .group_by(*[literal_column(str(i)) for i in grouped]))


def nps_rows(ctx: Ctx, f: Filters):
    """rollup_nps_months' rows for the answers of `f` submitted in its days (its filters applied
    to the answers)."""
    return build_query(ctx, response_conditions(ctx, f), lines=False).subquery("nps_rows")


def counts_of(ctx: Ctx, f: Filters, r=s.rollup_nps_months) -> tuple[int, int, int]:
    """(answers, promoters, detractors) over the months of `f`, from rows shaped like rollup_nps_months."""
    conds = [*rollups.months(f, r.c.month)] + ([in_values(r.c.region, f.regions)] if f.regions else [])
    if f.product_lines:
        conds.append(lines_filter(f.product_lines, r.c.deal_lines))
    total, promoters, detractors = ctx.conn.execute(
        select(func.sum(r.c.n), func.sum(r.c.n).filter(r.c.score >= PROMOTER_MIN),
               func.sum(r.c.n).filter(r.c.score <= DETRACTOR_MAX)).where(*conds)).one()
    return int(total or 0), int(promoters or 0), int(detractors or 0)


def nps_counts(ctx: Ctx, f: Filters) -> tuple[int, int, int]:
    """(answers, promoters, detractors) of the period (memoised per Ctx): whole months from
    rollup_nps_months when it is fresh, the rest from the answers."""
    key = ("nps_counts", f)
    if key not in ctx.cache:
        ctx.cache[key] = rollups.gather(ctx, f, counts_of, nps_rows, True, rollups.NPS, empty=(0, 0, 0))
    return ctx.cache[key]


@computes("nps_responses")
def nps_responses(ctx: Ctx, f: Filters) -> Result:
    """Survey answers submitted in the period."""
    why = unfilterable(f)
    if why:
        return NotAvailable(why)
    if not has_responses(ctx):
        return NO_RESPONSES
    return nps_counts(ctx, f)[0]


@computes("nps")
def nps(ctx: Ctx, f: Filters) -> Result:
    """100 x (promoters - detractors) / answers."""
    why = unfilterable(f)
    if why:
        return NotAvailable(why)
    if not has_responses(ctx):
        return NO_RESPONSES
    total, promoters, detractors = nps_counts(ctx, f)
    if not total:
        return NotAvailable("no survey answers submitted in this period")
    return round(100.0 * (promoters - detractors) / total, 1)


__all__ = ["DETRACTOR_MAX", "PROMOTER_MIN", "build_query", "counts_of", "nps_counts", "nps_rows", "respondent_region",
           "response_conditions", "unfilterable"]
