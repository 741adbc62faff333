"""Quotas and pacing: each rep's and team's revenue quota against what they won.

A quota is a budget line of metric `target_revenue` set for an owner or a team (budgets.owner_id,
budgets.team; imported with the budget file's `owner` and `team` columns), per month. Company,
region and product-line lines are the company's plan (`target_revenue`, metrics/sales.py) and are
never read here: a company target is not the sum of the reps' quotas, and the reps' quotas are not
a share of it. Which quota lines a filter reads (`quota_for_period`), month by month:

- an owner filter: the chosen owners' own lines (with a team filter too, those of the chosen
  owners who are in the chosen teams); a team's line is never split among its members;
- a team filter: each chosen team's line or, lacking one that month, the sum of its members' lines
  (members: the owners HubSpot puts in the team today, as the team filter counts their deals);
- neither: the same for every team with a line or a member with one, plus the lines of owners in
  no team: the sales organisation's quota.

Every chosen owner or team needs a quota for each month of the period, else the quota is not
available and the reason names who and which months (as a region without a budget makes
target_revenue unavailable). Quotas hold no region, product line, pipeline or source: with such a
filter they are not available. Months are prorated by their days in the period, as targets are.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pandas as pd
from sqlalchemy import Engine, func, select

from store import schema as s

from . import dimensions
from .definitions import load_definitions
from .filters import NONE_BUCKET, Filters
from .pages import SALES_QUOTA
from .registry import Ctx, NotAvailable, Result, computes, ratio
from .rules import quota_lines
from .sales import _month_days, _months, coverage, prefetch_closed

QUOTA_METRIC = "target_revenue"
# The columns of the Sales page's quota tables (and the meeting pack's "Behind pace"), besides the
# owner or team: each the catalog metric of the same id, computed for that owner or team.
QUOTA_COLUMNS = SALES_QUOTA
UNSLICED = NotAvailable("quotas are set per owner and team over every region, product line, pipeline and source: "
                        "remove the region, product line, pipeline and source filters to compare with them")


def _lines(ctx: Ctx, f: Filters) -> dict[dt.date, list[tuple[str, str, float]]]:
    """{month: [(owner id, team, value in cents)]} of the quota lines of the months of `f` (read once
    per Ctx and months: the quota tables ask for every rep over the same period)."""
    first, last = f.start.replace(day=1), f.end.replace(day=1)
    key = ("quota_lines", first, last)
    if key not in ctx.cache:
        b = s.budgets
        rows = ctx.conn.execute(select(b.c.month, b.c.owner_id, b.c.team, func.sum(b.c.value))
                                .where(b.c.metric == QUOTA_METRIC, quota_lines(), b.c.month >= first,
                                       b.c.month <= last)
                                .group_by(b.c.month, b.c.owner_id, b.c.team)).all()
        out: dict[dt.date, list] = {}
        for month, oid, team, value in rows:
            out.setdefault(month, []).append((oid or "", team or "", float(value)))
        ctx.cache[key] = out
    return ctx.cache[key]


def owner_teams(ctx: Ctx) -> dict[str, str]:
    """{owner id: team name ('' for none)}: the team HubSpot puts each owner in today."""
    if "owner_teams" not in ctx.cache:
        o = s.owners
        ctx.cache["owner_teams"] = {oid: team or "" for oid, team in
                                    ctx.conn.execute(select(o.c.owner_id, o.c.team_name)).all()}
    return ctx.cache["owner_teams"]


def _month_quota(lines: list[tuple[str, str, float]], teams_of: dict[str, str], owners: set[str],
                 teams: set[str]) -> tuple[float, list[str]]:
    """(the month's quota in cents, the chosen owners / teams without a quota that month)."""
    by_owner = {oid: v for oid, _t, v in lines if oid}
    by_team = {team: v for oid, team, v in lines if team and not oid}
    if owners:
        chosen = sorted(o for o in owners if not teams or teams_of.get(o, "") in teams)
        return sum(by_owner.get(o, 0.0) for o in chosen), [o for o in chosen if o not in by_owner]
    wanted = sorted(teams) if teams else sorted(set(by_team) | {teams_of.get(o, "") for o in by_owner})
    total, gaps = 0.0, []
    for team in wanted:
        if team in by_team:
            total += by_team[team]
            continue
        members = [v for oid, v in by_owner.items() if teams_of.get(oid, "") == team]
        if not members:
            gaps.append(team)
        total += sum(members)
    return total, gaps


def _sliced(f: Filters) -> bool:
    """Whether `f` has a slice quotas do not have (region, product line, pipeline, source)."""
    return bool(f.regions or f.product_lines or f.pipelines or f.sources)


def quota_for_period(ctx: Ctx, f: Filters) -> Result:
    """The quota of the chosen owners and teams over the period, in cents (module docstring)."""
    if _sliced(f):
        return UNSLICED
    by_month = _lines(ctx, f)
    if not by_month:
        return NotAvailable("no quota covers this period: import target_revenue lines with an owner or team "
                            "column (budgets) on the Data page")
    owners, teams = set(f.owners) - {NONE_BUCKET}, set(f.teams) - {NONE_BUCKET}
    if f.owners and not owners or f.teams and not teams:
        return NotAvailable("quotas are set for owners and teams: \"(none)\" has no quota")
    teams_of = owner_teams(ctx)
    if owners and teams and not any(teams_of.get(o, "") in teams for o in owners):
        return NotAvailable("none of the chosen owners is in the chosen teams: no quota to compare with")
    value, missing = 0.0, {}
    for month in _months(f):
        total, gaps = _month_quota(by_month.get(month, []), teams_of, owners, teams)
        if not by_month.get(month):
            gaps = gaps or ["anyone"]
        for who in gaps:
            missing.setdefault(who, []).append(month.strftime("%Y-%m"))
        overlap = (min(month.replace(day=_month_days(month)), f.end) - max(month, f.start)).days + 1
        value += total * overlap / _month_days(month)
    if missing:
        names = dimensions.owner_names(ctx.conn)
        said = "; ".join(f"{names.get(w, w) if w else 'owners in no team'} in {', '.join(months)}"
                         for w, months in sorted(missing.items()))
        return NotAvailable(f"no quota for {said}: import their target_revenue lines (owner or team column) "
                            "on the Data page")
    return value


@computes("quota")
def quota(ctx: Ctx, f: Filters) -> Result:
    """The revenue quota of the chosen owners and teams for the period (quota_for_period), major units."""
    cents = quota_for_period(ctx, f)
    return cents if isinstance(cents, NotAvailable) else cents / 100.0


@computes("quota_attainment_paced")
def quota_attainment_paced(ctx: Ctx, f: Filters) -> Result:
    """won revenue to date / the quota paced to the days lived so far (Filters.paced)."""
    return ratio(ctx.value("won_revenue", f), ctx.value("quota", f.paced()),
                 "the quota of the days lived so far is zero")


@computes("quota_coverage")
def quota_coverage(ctx: Ctx, f: Filters) -> Result:
    """open pipeline closing in the period / (quota - won revenue)."""
    return coverage(ctx.value("quota", f), ctx.value("won_revenue", f), ctx.value("open_pipeline", f),
                    "the quota of this period is already reached: nothing left to cover")


# --- the quota tables ----------------------------------------------------------------------------

def _quota_holders(ctx: Ctx, f: Filters) -> tuple[set[str], set[str]]:
    """(owner ids, team names) with a quota line in the months of `f` (to its plan end)."""
    owners, teams = set(), set()
    for lines in _lines(ctx, f.whole()).values():
        for oid, team, _v in lines:
            if oid:
                owners.add(oid)
            elif team:
                teams.add(team)
    return owners, teams


def quota_rows(ctx: Ctx, f: Filters, by: str) -> pd.DataFrame:
    """Per owner (`by="owner"`: owner_id, owner, team) or per team (`by="team"`: team): the
    QUOTA_COLUMNS, each the catalog metric computed for that owner or team (ctx.value, the one
    function every page, the CLI and the meeting pack use), worst paced attainment first.

    Rows: the owners with a quota line in the period, within the owner and team filters; the teams
    with a team line or a member with one; none with a region, product line, pipeline or source
    filter (quotas have none: the quota metric says so). A value that cannot be computed is left empty."""
    owners, team_lines = _quota_holders(ctx, f) if not _sliced(f) else (set(), set())
    teams_of = owner_teams(ctx)
    if by == "owner":
        keys = sorted(o for o in owners if (not f.owners or o in f.owners)
                      and (not f.teams or teams_of.get(o, "") in f.teams))
        names = dimensions.owner_names(ctx.conn)
        head = {"owner_id": keys, "owner": [names.get(k, k) for k in keys],
                "team": [teams_of.get(k) or NONE_BUCKET for k in keys]}
        narrowed = [replace(f, owners=(k,)) for k in keys]
    elif by == "team":
        teams = team_lines | ({teams_of.get(o, "") for o in owners} - {""})
        keys = sorted((t for t in teams if not f.teams or t in f.teams), key=str.lower)
        head = {"team": keys}
        narrowed = [replace(f, teams=(k,)) for k in keys]
    else:
        raise ValueError(f"quota tables are by owner or team, not {by!r}")
    # every rep's and team's deal figures in one grouped read per window (to date, to the plan end)
    members = {t: [o for o, team in teams_of.items() if team == t] for t in keys} if by == "team" else {}
    for window in {f.to_date(), f.whole()}:
        prefetch_closed(ctx, window, keys if by == "owner" else [], members)
    values = {mid: [] for mid in QUOTA_COLUMNS}
    for nf in narrowed:
        for mid in QUOTA_COLUMNS:
            v = ctx.value(mid, nf)
            values[mid].append(None if isinstance(v, NotAvailable) or v is None else float(v))
    df = pd.DataFrame({**head, **values}, columns=[*head, *QUOTA_COLUMNS])
    return df.sort_values("quota_attainment_paced", ascending=True, na_position="last",
                          kind="stable").reset_index(drop=True)


def _table(engine: Engine, filters: Filters, by: str) -> pd.DataFrame:
    with engine.connect() as conn:
        ctx = Ctx(conn, load_definitions(conn))
        return quota_rows(ctx, filters, by)


def owner_quota_table(engine: Engine, filters: Filters) -> pd.DataFrame:
    """Per rep with a quota in the period: quota, won, attainment, paced attainment, forecast, coverage."""
    return _table(engine, filters, "owner")


def team_quota_table(engine: Engine, filters: Filters) -> pd.DataFrame:
    """Per team with a quota (its own line or its members'): the columns of owner_quota_table."""
    return _table(engine, filters, "team")


def quota_tables(engine: Engine, filters: Filters) -> pd.DataFrame:
    """owner_quota_table's rows (`kind` "owner") then team_quota_table's (`kind` "team"), computed
    on one connection: the reps' deal figures, which the teams' add up, are read once for both
    (`split_quota_tables` gives the two tables back)."""
    with engine.connect() as conn:
        ctx = Ctx(conn, load_definitions(conn))
        reps, teams = quota_rows(ctx, filters, "owner"), quota_rows(ctx, filters, "team")
    return pd.concat([reps.assign(kind="owner"), teams.assign(kind="team")], ignore_index=True)


def split_quota_tables(both: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(owner_quota_table, team_quota_table) from quota_tables' rows."""
    reps = both[both["kind"] == "owner"].drop(columns="kind").reset_index(drop=True)
    teams = both[both["kind"] == "team"].drop(columns=["kind", "owner_id", "owner"]).reset_index(drop=True)
    return reps, teams


def behind_pace(engine: Engine, filters: Filters) -> pd.DataFrame:
    """The reps and teams whose paced attainment is under 100 %, worst first (the meeting pack's
    "Behind pace"): the rows of the two quota tables, with `kind` owner or team and `name`."""
    df = quota_tables(engine, filters)
    df["name"] = df["owner"].where(df["kind"] == "owner", df["team"])
    df = df[["kind", "name", *QUOTA_COLUMNS]]
    df = df[df["quota_attainment_paced"].notna() & (df["quota_attainment_paced"] < 1.0)]
    return df.sort_values("quota_attainment_paced", kind="stable").reset_index(drop=True)


__all__ = ["QUOTA_COLUMNS", "QUOTA_METRIC", "behind_pace", "owner_quota_table", "owner_teams", "quota_for_period",
           "quota_rows", "quota_tables", "split_quota_tables", "team_quota_table"]
