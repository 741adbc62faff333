"""Region, product line, owner, team and source: which slice a record is in, written once.

Filters (`conditions`, `selects`), breakdown segments and the sidebar's options (`options`), the
SQL of every metric (metrics/sql.py) and the rollups (metrics/rollups.py, rollups_build.py) all
use these rules, so a region a chart shows is a region the filter can select, and the reverse:

- a deal's region comes from the deal, its company or its owner (`dimensions.region_from`); its
  product line from the deal or its largest line item (`dimensions.product_line_from`);
  contacts, marketing spend and budget lines carry their own region (and product line);
- in a dimension filter, `NONE_BUCKET` selects the records with no value (NULL or empty);
- an owner is shown by name: first and last name, else e-mail, else the owner id.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

from sqlalchemy import Column, ColumnElement, Connection, Integer, MetaData, String, Table, Text, false, func, literal, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from store import schema as s

from .definitions import Definitions
from .filters import NONE_BUCKET, Filters
from .registry import Ctx

d, o = s.deals, s.owners
Distinct = Callable[[Connection, object], set]


# --- filter conditions -----------------------------------------------------------------------

def in_values(col, values: tuple[str, ...]) -> ColumnElement:
    """col IN values, where NONE_BUCKET stands for NULL or empty."""
    named = [v for v in values if v != NONE_BUCKET]
    conds = [col.in_(named)] if named else []
    if NONE_BUCKET in values:
        conds.append(or_(col.is_(None), col == ""))
    return or_(*conds) if conds else false()


def selects(value: str | None, wanted: Iterable[str]) -> bool:
    """Whether a record's `value` is one of the named `wanted` values (the Python side of
    `in_values`, for budget lines, whose '' means "all", not "none")."""
    return value in set(wanted) - {NONE_BUCKET}


def broad(col) -> ColumnElement:
    """`col` as an expression no index can serve (same value, NULL kept).

    Region, product line and source each select a large share of the rows (a region is a
    quarter of the deals); left indexable, SQLite prefers their index to the period's date
    range and looks up every row of the region over all years. Wrapped, the period range
    (ix_deals_close_cover, the stage-date indexes) drives the query.
    """
    return func.coalesce(col, None)


def owner_team(owner_col) -> ColumnElement:
    return select(o.c.team_name).where(o.c.owner_id == owner_col).scalar_subquery()


def conditions(f: Filters, *, region=None, product_line=None, owner=None, pipeline=None,
               source=None) -> list[ColumnElement]:
    """WHERE conditions for the slices of `f` on the given columns (a team filter goes through
    `owner`); a slice whose column is not given is left to the caller."""
    conds: list[ColumnElement] = []
    for values, col in ((f.regions, region), (f.product_lines, product_line), (f.owners, owner)):
        if values and col is not None:
            conds.append(in_values(col, values))
    if f.teams and owner is not None:
        conds.append(in_values(owner_team(owner), f.teams))
    for values, col in ((f.pipelines, pipeline), (f.sources, source)):
        if values and col is not None:
            conds.append(in_values(col, values))
    return conds


# --- a deal's region and product line ----------------------------------------------------------

def deal_region(ctx: Ctx, deal_table=d) -> ColumnElement:
    """A deal's region, by the rule `dimensions.region_from` (deal | company | owner)."""
    rule = ctx.defs.get("dimensions.region_from")
    if rule == "company":
        return (select(s.companies.c.region).where(s.companies.c.company_id == deal_table.c.company_id)
                .scalar_subquery())
    if rule == "owner":
        return select(o.c.region).where(o.c.owner_id == deal_table.c.owner_id).scalar_subquery()
    return broad(deal_table.c.region)


def deal_product_line(ctx: Ctx, deal_table=d) -> ColumnElement:
    """A deal's product line, by `dimensions.product_line_from` (deal | line_items: the largest)."""
    if ctx.defs.get("dimensions.product_line_from") == "line_items":
        li, p = s.line_items, s.products
        return (select(p.c.product_line).select_from(li.join(p, p.c.product_id == li.c.product_id))
                .where(li.c.deal_id == deal_table.c.deal_id, ~li.c.is_deleted)
                .order_by(li.c.amount_cents.desc(), li.c.line_item_id).limit(1).scalar_subquery())
    return broad(deal_table.c.product_line)


# --- a contact's product lines (the contact rollups' deal_lines) ------------------------------

LINE_SEP, LINE_ESC = ",", "\x1f"  # between a contact's product lines; a comma inside a name


class position_of(FunctionElement):
    """position_of(text, part): where `part` first occurs in `text`, 0 if nowhere (instr / strpos)."""
    type = Integer()
    name = "position_of"
    inherit_cache = True


@compiles(position_of)
def _position_of(element, compiler, **kw):
    return f"instr({compiler.process(element.clauses, **kw)})"


@compiles(position_of, "postgresql")
def _position_of_pg(element, compiler, **kw):
    return f"strpos({compiler.process(element.clauses, **kw)})"


def contact_deal_lines(ctx: Ctx, contact_table=s.contacts, without=None) -> ColumnElement:
    """The product lines of a contact's live deals (those it is the primary contact of) as one
    text: each line once, in no set order, separated by LINE_SEP (a LINE_SEP inside a name
    written LINE_ESC), '' for none; `without`: the ids of deals left out (a SELECT or a list).
    During a full build (stage_contact_lines), read from its temporary table."""
    staged = ctx.cache.get(LINES_TABLE)
    if staged is not None and without is None:
        found = select(staged.c.lines).where(staged.c.contact_id == contact_table.c.contact_id).scalar_subquery()
        return func.coalesce(found, literal(""))
    return _deal_lines_of(ctx, "contact_id", contact_table.c.contact_id, contact_table, without)


def company_deal_lines(ctx: Ctx, company_id, outer) -> ColumnElement:
    """contact_deal_lines for a company: the product lines of the live deals of the company
    `company_id` (a column of the table `outer` of the enclosing query), read through
    ix_deals_company (rollup_nps_months' lines of a few answers)."""
    return _deal_lines_of(ctx, "company_id", company_id, outer)


def _deal_lines_of(ctx: Ctx, key: str, value, outer, without=None) -> ColumnElement:
    """The lines of the live deals whose column `key` equals `value` (correlated to `outer`)."""
    dd = d.alias("line_deals")
    pl = deal_product_line(ctx, dd)
    conds = [dd.c[key] == value, ~dd.c.is_deleted, pl.isnot(None), pl != ""]
    if without is not None:
        conds.append(dd.c.deal_id.notin_(without))
    # each line once, sorted: the order is not guaranteed by either database (readers do not depend
    # on it), but sorted lines keep one row per set of lines in the rollups
    item = func.replace(pl, LINE_SEP, LINE_ESC).label("line")
    lines = select(item).where(*conds).distinct().order_by(item).correlate(outer).subquery("lines")
    agg = func.string_agg if ctx.conn.dialect.name == "postgresql" else func.group_concat
    return func.coalesce(select(agg(lines.c.line, literal(LINE_SEP))).scalar_subquery(), literal(""))


def lines_by(ctx: Ctx, key: str, name: str):
    """(key, lines): the product lines of the live deals of each value of the deals' column `key`
    (contact_id: each contact's, as contact_deal_lines; company_id: each company's), in one pass
    over the deals."""
    pl = deal_product_line(ctx, d)
    item = func.replace(pl, LINE_SEP, LINE_ESC)
    pairs = (select(d.c[key].label("key"), item.label("line"))
             .where(d.c[key].isnot(None), ~d.c.is_deleted, pl.isnot(None), pl != "")
             .distinct().order_by(d.c[key], item).subquery(f"{name}_pairs"))
    agg = func.string_agg if ctx.conn.dialect.name == "postgresql" else func.group_concat
    return select(pairs.c.key, agg(pairs.c.line, literal(LINE_SEP)).label("lines")).group_by(pairs.c.key).subquery(name)


LINES_TABLE = "northstar_contact_lines"  # a full build's contacts' lines, in a temporary table


def stage_contact_lines(ctx: Ctx) -> None:
    """For a full build of the contact rollups on `ctx`'s connection: every contact's lines
    (lines_by) written once to a temporary table, which `contact_deal_lines` then reads by the
    contact's id instead of reading its deals again for every summary query."""
    conn = ctx.conn
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {LINES_TABLE}")
    conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {LINES_TABLE} (contact_id VARCHAR(64) PRIMARY KEY, lines TEXT)")
    staged = _lines_table()
    conn.execute(staged.insert().from_select(["contact_id", "lines"], select(*lines_by(ctx, "contact_id", "contact_lines").c)))
    ctx.cache[LINES_TABLE] = staged


def _lines_table() -> Table:
    return Table(LINES_TABLE, MetaData(), Column("contact_id", String(64), primary_key=True), Column("lines", Text))


def lines_filter(product_lines: Iterable[str], col) -> ColumnElement:
    """`lines_condition` on a summary's deal_lines, whose rows built from the base tables for a
    part's days (deal_lines NULL) have the filter applied already."""
    return or_(col.is_(None), lines_condition(product_lines, col))


def lines_condition(product_lines: Iterable[str], col) -> ColumnElement:
    """The rows of a contact rollup whose contact is in one of `product_lines` (a deal in a named
    line; NONE_BUCKET: no deal with a product line), over its deal_lines column `col`, as
    sql.contact_conditions selects the contacts themselves."""
    values = tuple(product_lines)
    padded = literal(LINE_SEP) + col + literal(LINE_SEP)
    conds = [position_of(padded, LINE_SEP + v.replace(LINE_SEP, LINE_ESC) + LINE_SEP) > 0
             for v in values if v != NONE_BUCKET]
    if NONE_BUCKET in values:
        conds.append(col == "")
    return or_(*conds) if conds else false()


# --- the values a slice can take ---------------------------------------------------------------

def region_columns(defs: Definitions) -> list:
    """The columns a region filter selects records by: the deals' region under `region_from`,
    and the contacts', marketing spend's and budget lines' own."""
    deal_side = {"company": s.companies.c.region, "owner": o.c.region}.get(defs.get("dimensions.region_from"),
                                                                            d.c.region)
    return [deal_side, s.contacts.c.region, s.marketing_spend.c.region, s.budgets.c.region]


def product_line_columns(defs: Definitions) -> list:
    """The columns a product-line filter selects records by, under `product_line_from`."""
    deal_side = (s.products.c.product_line if defs.get("dimensions.product_line_from") == "line_items"
                 else d.c.product_line)
    return [deal_side, s.marketing_spend.c.product_line, s.budgets.c.product_line]


SOURCE_COLUMNS = (d.c.deal_source, s.contacts.c.original_source)
TEAM_COLUMNS = (o.c.team_name,)


def _index_position(col) -> tuple[int, Any] | None:
    """(0, None) when `col` leads an index of its table, (1, first column) when it comes second in
    one, else None."""
    second = None
    for ix in col.table.indexes:
        cols = list(ix.columns)
        if cols and cols[0] is col:
            return 0, None
        if len(cols) > 1 and cols[1] is col:
            second = cols[0]
    return (1, second) if second is not None else None


def _seek_distinct(conn, col, where=None) -> set:
    """Distinct non-NULL values by one index seek each: MIN(col) WHERE col > previous."""
    out: set = set()
    base = select(func.min(col)) if where is None else select(func.min(col)).where(where)
    value = conn.execute(base).scalar()
    while value is not None:
        out.add(value)
        value = conn.execute(base.where(col > value)).scalar()
    return out


def indexed_distinct(conn: Connection, col) -> set:
    """The distinct non-NULL values of a column. When the column leads an index (or comes second,
    after a column with few values), by index seeks, one per value, instead of reading the whole
    table or index: milliseconds instead of 0.1-0.2 s per column on the 1M-deal, 3M-contact store."""
    where = _index_position(col)
    if where is None:
        return {v for (v,) in conn.execute(select(col).distinct()) if v is not None}
    if where[0] == 0:
        return _seek_distinct(conn, col)
    lead = where[1]
    out: set = set()
    for value in _seek_distinct(conn, lead):
        out |= _seek_distinct(conn, col, lead == value)
    if conn.execute(select(lead).where(lead.is_(None)).limit(1)).first() is not None:
        out |= _seek_distinct(conn, col, lead.is_(None))
    return out


def distinct_values(conn: Connection, cols: Iterable, distinct: Distinct = indexed_distinct) -> list[str]:
    """The non-empty values of `cols`, sorted case-insensitively (`distinct(conn, col)` reads one
    column's distinct values: by default through an index where one leads with the column)."""
    values: set[str] = set()
    for col in cols:
        values |= {v for v in distinct(conn, col) if v not in (None, "")}
    return sorted(values, key=str.lower)


def options(conn: Connection, defs: Definitions, distinct: Distinct = indexed_distinct) -> dict[str, list]:
    """What people can filter on: regions, product lines, sources and teams (values), owners
    ((owner id, name) by name) and pipelines ((id, label)). Breakdown segments come from here too."""
    return {
        "regions": distinct_values(conn, region_columns(defs), distinct),
        "product_lines": distinct_values(conn, product_line_columns(defs), distinct),
        "sources": distinct_values(conn, SOURCE_COLUMNS, distinct),
        "teams": distinct_values(conn, TEAM_COLUMNS, distinct),
        "owners": sorted(owner_names(conn).items(), key=lambda p: (p[1].lower(), p[0])),
        "pipelines": [(p.pipeline_id, p.label) for p in conn.execute(
            select(s.pipelines.c.pipeline_id, s.pipelines.c.label).order_by(s.pipelines.c.display_order))],
    }


# --- owners by name ----------------------------------------------------------------------------

def owner_display_name(first_name: str | None, last_name: str | None, email: str | None, owner_id: str) -> str:
    """An owner's name as shown: first and last name, else e-mail, else the owner id."""
    return " ".join(x for x in (first_name, last_name) if x) or email or owner_id


def owner_name_sql() -> ColumnElement:
    """`owner_display_name` in SQL, over the owners table."""
    name = func.trim(func.coalesce(o.c.first_name, "") + literal(" ") + func.coalesce(o.c.last_name, ""))
    return func.coalesce(func.nullif(name, ""), o.c.email, o.c.owner_id)


def owner_names_from_rows(rows) -> dict[str, str]:
    """owner_id -> the name people know, from rows of (owner_id, first_name, last_name, email,
    team_name); owners sharing a name get their team in brackets, or their email when the team
    does not tell them apart either: "Inès Thomas (Partners)", "Inès Thomas (Mid-Market EMEA)"."""
    base = {}
    for oid, first, last, email, team in rows:
        base[oid] = (owner_display_name(first, last, email, str(oid)), email, team)
    by_name: dict[str, list] = {}
    for oid, (name, _email, _team) in base.items():
        by_name.setdefault(name.casefold(), []).append(oid)
    out = {}
    for oid, (name, email, team) in base.items():
        twins = by_name[name.casefold()]
        if len(twins) == 1:
            out[oid] = name
            continue
        teams = [base[t][2] for t in twins]
        if team and teams.count(team) == 1:
            out[oid] = f"{name} ({team})"
        elif email:
            out[oid] = f"{name} ({email})"
        else:
            out[oid] = f"{name} ({oid})"
    return out


def owner_names(conn: Connection) -> dict[str, str]:
    """{owner id: name} of every owner in the store, same-name owners told apart
    (`owner_names_from_rows`): the one naming rule of pages, breakdowns, drill-downs and the pack."""
    return owner_names_from_rows(conn.execute(select(o.c.owner_id, o.c.first_name, o.c.last_name, o.c.email,
                                                     o.c.team_name)).all())


__all__ = ["SOURCE_COLUMNS", "TEAM_COLUMNS", "broad", "conditions", "deal_product_line", "deal_region",
           "distinct_values", "in_values", "options", "owner_display_name", "owner_name_sql", "owner_names",
           "owner_names_from_rows",
           "owner_team", "product_line_columns", "region_columns", "selects"]
