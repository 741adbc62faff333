"""Budgets, targets and quotas: month x region x product line x metric -> value, or month x owner
or team x metric -> value (a quota: the owner is named by the HubSpot owner's email or owner id,
the team by its HubSpot team name)."""
from __future__ import annotations

import datetime as dt
import difflib
import re
from typing import Collection

from sqlalchemy import Connection, Engine, and_, select

from store import schema as s

from . import history
from .mapping import Field, Mapping, read_mapped
from .report import Parsed

FIELDS = [
    Field("month", "text", True, ("month", "mois", "period", "période", "date")),
    Field("region", "text", False, ("region", "région"), 64),
    Field("product_line", "text", False, ("product line", "product_line", "gamme"), 64),
    Field("owner", "text", False, ("owner", "owner email", "owner id", "rep", "propriétaire"), 255),
    Field("team", "text", False, ("team", "équipe"), 128),
    Field("metric", "text", True, ("metric", "metric id", "kpi", "indicateur"), 64),
    Field("value", "number", True, ("value", "target", "budget", "amount", "valeur")),
]
# Metric ids holding money: their values are given in currency units and stored in cents.
MONEY_WORDS = {"revenue", "spend", "budget", "bookings", "pipeline", "amount", "arr", "mrr", "cost", "cac"}
_MONTHS = {m: i for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                       "nov", "dec"], start=1)}


def parse_month(raw: str) -> dt.date:
    """'2024-03', '2024-03-01', '03/2024', '202403', 'Mar 2024' -> 2024-03-01."""
    v = raw.strip()
    m = (re.fullmatch(r"(\d{4})-(\d{1,2})(?:-(\d{1,2}))?(?:[ T].*)?", v) or re.fullmatch(r"(\d{4})(\d{2})()", v))
    if m:
        year, month = int(m.group(1)), int(m.group(2))
        if m.group(3):  # a full date names a month only if it is a real day of it
            try:
                dt.date(year, month, int(m.group(3)))
            except ValueError:
                raise ValueError(f"{v} is not a date (no such day in that month)") from None
    elif m2 := re.fullmatch(r"(\d{1,2})[/.](\d{4})", v):
        year, month = int(m2.group(2)), int(m2.group(1))
    elif m3 := re.fullmatch(r"([A-Za-z]{3})[a-z]*\.?[ -](\d{4})", v):
        if m3.group(1).lower() not in _MONTHS:
            raise ValueError("unknown month name")
        year, month = int(m3.group(2)), _MONTHS[m3.group(1).lower()]
    else:
        raise ValueError("expected a month such as 2024-03, 03/2024 or Mar 2024")
    if not (1 <= month <= 12 and 1900 <= year <= 2200):
        raise ValueError("month or year out of range")
    return dt.date(year, month, 1)


def is_money_metric(metric: str, mapping: Mapping) -> bool:
    listed = mapping.options.get("money_metrics")
    if listed is not None:
        return metric in listed
    return bool(MONEY_WORDS & set(metric.split("_")))


def known_regions(engine: Engine | None) -> set[str]:
    """The regions the store knows: those of its deals, contacts, companies, owners, spend and
    budgets (regions come from the CRM, as the shared definitions' `dimensions` say)."""
    if engine is None:
        return set()
    out: set[str] = set()
    with engine.connect() as conn:
        for col in (s.deals.c.region, s.contacts.c.region, s.companies.c.region, s.owners.c.region,
                    s.marketing_spend.c.region, s.budgets.c.region):
            out |= {v for v in conn.execute(select(col).distinct()).scalars() if v}
    return out


def known_owners(engine: Engine | None) -> tuple[dict[str, str], dict[str, str]]:
    """({owner id or lower-cased email: owner id}, {owner id: team name}) of the store's owners."""
    if engine is None:
        return {}, {}
    o = s.owners
    keys: dict[str, str] = {}
    teams: dict[str, str] = {}
    with engine.connect() as conn:
        for oid, email, team in conn.execute(select(o.c.owner_id, o.c.email, o.c.team_name)):
            keys[str(oid)] = str(oid)
            if email:
                keys.setdefault(email.strip().lower(), str(oid))
            teams[str(oid)] = team or ""
    return keys, teams


def _quota_target(r: dict, owners: dict[str, str], owner_teams: dict[str, str],
                  teams: dict[str, str]) -> tuple[str, str, str, str]:
    """(owner id, team, column, problem) of a line's owner and team columns; problem '' when valid.

    A quota line is set for an owner or a team over all regions and product lines. An owner is
    named by the HubSpot owner's email or owner id; a team by its name (any case). A line naming
    both is the owner's, and the owner must be in that team."""
    owner_raw, team_raw = (r.get("owner") or "").strip(), (r.get("team") or "").strip()
    if not owner_raw and not team_raw:
        return "", "", "", ""
    if r.get("region") or r.get("product_line"):
        return "", "", "owner" if owner_raw else "team", (
            "a quota line is set for an owner or a team over every region and product line: leave region "
            "and product line empty on it")
    team = ""
    if team_raw:
        team = teams.get(team_raw.lower(), "")
        if not team:
            listed = ", ".join(sorted(set(teams.values()))[:12]) or "none (sync HubSpot first)"
            return "", "", "team", f"unknown team (the store's HubSpot teams: {listed})"
    if not owner_raw:
        return "", team, "", ""
    oid = owners.get(owner_raw) or owners.get(owner_raw.lower())
    if not oid:
        known = "no owner yet (sync HubSpot first)" if not owners else f"{len(owner_teams)} owners"
        return "", "", "owner", ("unknown owner: give the HubSpot owner's email or owner id "
                                 f"(the store knows {known})")
    if team and owner_teams.get(oid, "") != team:
        return "", "", "team", (f"owner {owner_raw} is not in team {team} (HubSpot puts them in "
                                f"{owner_teams.get(oid) or 'no team'}): fix the team or leave it empty")
    return oid, "", "", ""


def read_budgets(data: bytes, file_name: str, mapping: Mapping, engine: Engine | None = None,
                 metric_ids: Collection[str] | None = None) -> Parsed:
    """Parse and validate budget lines; money metrics converted to cents. A metric id not in
    `metric_ids` (the metric catalog's ids, which the budget-vs-actual table compares with their
    actuals; the CLI and the Data page pass them, connectors do not read the metric layer), or a
    region the store does not know, is a row-level error."""
    report, _table, records = read_mapped(data, file_name, "budgets", FIELDS, mapping)
    metrics = set(metric_ids or ())
    owners, owner_teams = known_owners(engine) if records else ({}, {})
    teams = {v.lower(): v for v in owner_teams.values() if v}
    if records and not metrics:
        report.add(0, "metric", "", "no metric catalog given: metric ids not checked", "warning")
    regions = known_regions(engine) if records else set()
    if records and not regions:
        report.add(0, "region", "", "the store knows no region yet (sync HubSpot first): regions not checked",
                   "warning")
    rows, seen = [], {}
    for line_no, r in records:
        try:
            month = parse_month(r["month"])
        except ValueError as exc:
            report.add(line_no, "month", r["month"], f"unparseable month: {exc}")
            continue
        metric = re.sub(r"[\s-]+", "_", r["metric"].strip().lower())
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", metric):
            report.add(line_no, "metric", r["metric"], "metric must be an id such as target_revenue or mqls")
            continue
        if metrics and metric not in metrics:
            close = difflib.get_close_matches(metric, metrics, n=1)
            report.add(line_no, "metric", r["metric"], "unknown metric id" + (
                f" (did you mean {close[0]}?)" if close else " (see the Definitions page for the metric ids)"))
            continue
        if regions and r["region"] and r["region"] not in regions:
            report.add(line_no, "region", r["region"], "unknown region (the store knows "
                       f"{', '.join(sorted(regions)[:12])}{' ...' if len(regions) > 12 else ''})")
            continue
        owner_id, team, column, problem = _quota_target(r, owners, owner_teams, teams)
        if problem:
            report.add(line_no, column, r.get(column) or "", problem)
            continue
        key = (month, r["region"] or "", r["product_line"] or "", owner_id, team, metric)
        seen.setdefault(key, []).append(line_no)
        value = round(r["value"] * 100) if is_money_metric(metric, mapping) else r["value"]
        rows.append({"month": month, "region": key[1], "product_line": key[2], "owner_id": owner_id,
                     "team": team, "metric": metric, "value": float(value)})
    for key, lines in seen.items():
        if len(lines) > 1:
            for ln in lines:
                report.add(ln, "metric", key[5], "duplicate budget line (same month, region, product line, "
                           f"owner, team and metric on lines {', '.join(map(str, lines))}); which one is right "
                           "is unknown")
    rows = [r for r in rows if len(seen[_key(r)]) == 1]
    report.rows_accepted = len(rows)
    report.rows_rejected = len({p.line for p in report.errors if p.line > 1})
    if rows:
        report.period = (min(r["month"] for r in rows), max(r["month"] for r in rows))
    return Parsed(report, rows, {"metrics": sorted({r["metric"] for r in rows})})


def _key(r) -> tuple:
    return (r["month"], r["region"], r["product_line"], r["owner_id"], r["team"], r["metric"])


def write_budgets(conn: Connection, parsed: Parsed, import_id: int, replace: bool = False) -> tuple[dict, str]:
    """Insert the file's budget lines. An earlier line of the same month, region, product line,
    owner, team and metric is replaced (the file supersedes it); with `replace`, so is every line of
    the file's metrics over its months (company, region, product-line and quota lines alike).
    ({import that had brought the replaced rows: count}, the rule applied)."""
    t = s.budgets
    start, end = parsed.report.period
    scope = and_(t.c.metric.in_(parsed.scope["metrics"]), t.c.month >= start, t.c.month <= end)
    if replace:
        rule = f"asked to replace: {', '.join(parsed.scope['metrics'])} from {start:%Y-%m} to {end:%Y-%m}"
        replaced = history.replace_rows(conn, t, scope, import_id)
    else:
        rule = "same month, region, product line, owner, team and metric"
        keys = {_key(r) for r in parsed.rows}
        replaced = history.replace_rows(conn, t, scope, import_id, keep=lambda row: _key(row) in keys)
    conn.execute(t.insert(), [dict(r, import_id=import_id) for r in parsed.rows])
    return replaced, rule
