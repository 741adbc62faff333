"""One week's meeting, assembled once from its snapshot: the page, the HTML pack and the XLSX pack
all render this same `WeekReport`, so they show the same numbers.

From the snapshot (frozen): the KPIs with their week-over-week and vs-target change, the
region / product line cuts, the quarter (gap to target, forecast), the pipeline waterfall from the
previous meeting's snapshot. Computed now: forecast accuracy (actuals are today's), the leads not
followed up in the week under review, the campaigns by ROI and the reps and teams behind pace on
their quota for the quarter to the end of that week (row-level lists are not snapshotted; the
quota tables of the Sales page, metrics.quotas), the decision log. First of all: what changed
since the last meeting, explained (meeting.changes, from both frozen snapshots), and the decisions
followed to their outcome (meeting.outcomes).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import Engine

from metrics import REGISTRY, Filters, compute, details, feedback_details, get_definitions, quotas, recurring
from metrics.pages import MEETING_QUARTER, MEETING_WEEK
from metrics.dimensions import owner_names

from . import decisions as dec
from .accuracy import forecast_accuracy_table
from .changes import WeekChanges, compare, explain_week
from .outcomes import Outcome, followed_decisions, value_text
from .snapshots import (QUARTER_CUT, TARGET_CUT, SnapshotError, budget_targets, live_differences,
                        previous_snapshot, snapshot_deal_rows, snapshot_for_week, snapshot_metric_rows)
from .waterfall import Waterfall, pipeline_waterfall

ROLES = ("CMO", "CSO", "CFO")
QUARTER_METRICS = ("target_revenue", "north_star", "won_revenue", "gap_to_target", "forecast",
                   "open_pipeline", "weighted_pipeline", "pipeline_coverage")
HEADLINE_COLUMNS = ["metric_id", "label", "scope", "unit", "value", "change"]
KPI_COLUMNS = ["metric_id", "label", "owner_role", "unit", "down_is_good", "value", "previous", "change",
               "change_pct", "quarter_value", "target", "target_to_date", "vs_target", "vs_target_pct", "period_start",
               "period_end", "note"]
DECISION_COLUMNS = ["decision_id", "week_start", "text", "owner", "due_date", "metric_id", "status",
                    "created_by", "closed_at"]
WATERFALL_DEAL_COLUMNS = ["category", "deal_id", "name", "owner", "stage_id", "previous_stage_id",
                          "close_date", "previous_close_date", "amount", "previous_amount", "currency", "change"]
CAMPAIGNS_SHOWN = 5
BEHIND_PACE_COLUMNS = ["kind", "name", *quotas.QUOTA_COLUMNS]
OUTCOME_COLUMNS = ["decision_id", "metric_id", "unit", "text", "owner", "status", "recorded", "aim", "due_date",
                   "baseline", "latest", "verdict", "readings"]


@dataclass
class WeekReport:
    week_start: dt.date
    snapshot: dict
    previous: dict | None
    review: tuple[dt.date, dt.date]
    quarter: tuple[dt.date, dt.date] | None
    currency: str
    locale: str
    kpis: pd.DataFrame
    cuts: pd.DataFrame
    quarter_table: pd.DataFrame
    waterfall: Waterfall | None
    waterfall_deals: pd.DataFrame
    accuracy: pd.DataFrame
    burnt_leads: pd.DataFrame
    rejections: pd.DataFrame  # the week's lead rejections (latest verdict a rejection decided in the week)
    burnt_value_by_owner: pd.DataFrame  # owner, burnt leads and their value in the week (feedback_details)
    campaigns_best: pd.DataFrame
    campaigns_worst: pd.DataFrame
    decisions: pd.DataFrame
    open_items: pd.DataFrame
    differences: list[dict] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)  # section -> why it is empty
    # reps and teams whose paced quota attainment is under 100 %, worst first (metrics.quotas.behind_pace)
    behind_pace: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=BEHIND_PACE_COLUMNS))
    changes: WeekChanges | None = None  # what changed since the last meeting, explained
    outcomes: list[Outcome] = field(default_factory=list)  # the decisions followed to their outcome
    # customers who churned or contracted on the month first in the week under review (else on the
    # last month first before its end), by name with their MRR before and after: today's view
    churned_customers: pd.DataFrame = field(default_factory=pd.DataFrame)
    churn_window: tuple[dt.date, dt.date] | None = None

    @property
    def title(self) -> str:
        return f"Revenue meeting, week of {self.week_start.isoformat()}"

    def role_kpis(self, role: str) -> pd.DataFrame:
        return self.kpis[self.kpis.owner_role == role].reset_index(drop=True)

    def role_cuts(self, role: str) -> pd.DataFrame:
        """The role's metrics by region and product line (rows: metric, columns: cut values)."""
        part = self.cuts[self.cuts.owner_role == role]
        if part.empty:
            return pd.DataFrame(columns=["label"])
        part = part.assign(cut=part.cut_type.str.replace("_", " ") + ": " + part.cut_value)
        # one value per (metric, cut): a plain pivot, rows in registry order, columns in cut order
        # (pivot_table with sort=False mixes the rows up and leaves all but the first empty)
        table = part.pivot(index="metric_id", columns="cut", values="value")
        table = table.reindex(index=part.metric_id.drop_duplicates(), columns=part.cut.drop_duplicates())
        labels = part.drop_duplicates("metric_id").set_index("metric_id").label
        table.insert(0, "label", labels.reindex(table.index))
        table.columns.name = None
        return table.reset_index(drop=True)

    def headline(self) -> pd.DataFrame:
        """The tiles at the top of the page and the packs (HEADLINE_COLUMNS): the quarter headline,
        the CEO page's row for the same quarter under the same labels, then the week under review
        under week labels ("Won this week"), with the change since the last meeting."""
        out = []
        q = self.quarter_table.set_index("metric_id")
        for mid in MEETING_QUARTER:
            if mid in q.index:
                out.append({"metric_id": mid, "label": REGISTRY[mid].label, "scope": "quarter",
                            "unit": q.loc[mid, "unit"], "value": q.loc[mid, "value"], "change": None})
        k = self.kpis.set_index("metric_id")
        for mid, label in MEETING_WEEK.items():
            if mid in k.index:
                out.append({"metric_id": mid, "label": label, "scope": "week", "unit": k.loc[mid, "unit"],
                            "value": k.loc[mid, "value"], "change": k.loc[mid, "change"]})
        return pd.DataFrame(out, columns=HEADLINE_COLUMNS)

    def outcome_table(self) -> pd.DataFrame:
        """The decisions followed (OUTCOME_COLUMNS): the aim, the reading at the decision's meeting
        (baseline) and the latest, the verdict or why there is none, every reading in words."""
        rows = []
        for o in self.outcomes:
            d = o.decision
            mid = d.get("metric_id")
            unit = REGISTRY[mid].unit if mid in REGISTRY else None
            readings = "; ".join(f"{r.week_start}: {value_text(r.value, mid, self.locale, self.currency)}"
                                 + (" (today's data)" if r.live else "") for r in o.readings)
            rows.append({"decision_id": d["decision_id"], "metric_id": mid, "unit": unit, "text": d["text"],
                         "owner": d["owner"], "status": d["status"], "recorded": d["week_start"], "aim": o.aim_text,
                         "due_date": d.get("due_date"), "baseline": o.baseline, "latest": o.latest,
                         "verdict": o.status_text, "readings": readings})
        return pd.DataFrame(rows, columns=OUTCOME_COLUMNS)

    def change_tables(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """What changed: one row per metric (with its sentence), and every contribution on every cut."""
        if self.changes is None or not self.changes.changes:
            return (pd.DataFrame(columns=["metric_id", "unit", "metric", "previous", "value", "change", "explanation"]),
                    pd.DataFrame(columns=["metric_id", "metric", "dimension", "key", "label", "change", "deals"]))
        summary = self.changes.summary()
        summary.insert(1, "unit", "money")
        return summary, self.changes.rows()

    def sections(self) -> dict[str, pd.DataFrame]:
        """Every section as a table, in page order (the XLSX sheets and the HTML tables): what
        changed and the decisions followed first."""
        wf = pd.DataFrame(self.waterfall.rows() if self.waterfall else [],
                          columns=["category", "label", "amount", "deals"])
        changed, contributions = self.change_tables()
        out = {"What changed": changed, "Decisions followed": self.outcome_table(), "Decisions": self.decisions,
               "Open items": self.open_items, "Change contributions": contributions, "Headline": self.headline(), "KPIs": self.kpis.drop(columns=["down_is_good"]), "Pipeline waterfall": wf,
               "Waterfall deals": self.waterfall_deals, "Forecast accuracy": self.accuracy,
               "Gap to target": self.quarter_table, "Behind pace": self.behind_pace,
               "Leads not followed up": self.burnt_leads,
               "Burnt lead value by owner": self.burnt_value_by_owner, "Lead rejections": self.rejections,
               "Best campaigns": self.campaigns_best, "Worst campaigns": self.campaigns_worst,
               "Churned and contracted customers": self.churned_customers}
        for role in ROLES:
            out[f"{role} KPIs"] = self.role_kpis(role).drop(columns=["down_is_good"])
            out[f"{role} by cut"] = self.role_cuts(role)
        return out


def _kpis(rows: pd.DataFrame, prev_rows: pd.DataFrame | None, paced: dict | None = None) -> pd.DataFrame:
    """Each KPI this week, last week and for the quarter; `target` is the whole quarter's,
    `target_to_date` the target paced to the end of the week under review (`paced`). A flow
    (revenue, leads, spend: catalog compare to_date) is set against its target to date, a plan or
    stock (forecast, pipeline) against the whole quarter's: like with like."""
    paced = paced or {}
    week = rows[rows.cut_type == "total"].set_index("metric_id")
    quarter = rows[rows.cut_type == QUARTER_CUT].set_index("metric_id")
    target = rows[rows.cut_type == TARGET_CUT].set_index("metric_id")
    prev = prev_rows[prev_rows.cut_type == "total"].set_index("metric_id") if prev_rows is not None else None
    out = []
    for mid, mdef in REGISTRY.items():
        if mid not in week.index:
            continue
        r = week.loc[mid]
        value = None if pd.isna(r.value) else float(r.value)
        before = None
        if prev is not None and mid in prev.index and not pd.isna(prev.loc[mid].value):
            before = float(prev.loc[mid].value)
        change = None if value is None or before is None else value - before
        q_value = None
        if mid in quarter.index and not pd.isna(quarter.loc[mid].value):
            q_value = float(quarter.loc[mid].value)
        t_value = float(target.loc[mid].value) if mid in target.index else None
        to_date = paced[mid][0] if mid in paced else None
        against = to_date if mdef.compare == "to_date" else t_value
        vs = None if q_value is None or against is None else q_value - against
        out.append({"metric_id": mid, "label": mdef.label, "owner_role": mdef.owner_role, "unit": mdef.unit,
                    "down_is_good": mdef.down_is_good, "value": value, "previous": before, "change": change,
                    "change_pct": None if change is None or not before else change / abs(before),
                    "quarter_value": q_value, "target": t_value, "target_to_date": to_date, "vs_target": vs,
                    "vs_target_pct": None if vs is None or not against else vs / abs(against),
                    "period_start": r.period_start, "period_end": r.period_end,
                    "note": None if pd.isna(r.note) else r.note})
    return pd.DataFrame(out, columns=KPI_COLUMNS)


def _cuts(rows: pd.DataFrame) -> pd.DataFrame:
    part = rows[rows.cut_type.isin(["region", "product_line"])].copy()
    part["label"] = part.metric_id.map(lambda m: REGISTRY[m].label if m in REGISTRY else m)
    part["owner_role"] = part.metric_id.map(lambda m: REGISTRY[m].owner_role if m in REGISTRY else "")
    order = {m: i for i, m in enumerate(REGISTRY)}
    part = part.assign(_o=part.metric_id.map(order)).sort_values(["_o", "cut_type", "cut_value"]).drop(columns="_o")
    return part[["metric_id", "label", "owner_role", "unit", "cut_type", "cut_value", "value"]].reset_index(drop=True)


def _quarter_table(rows: pd.DataFrame) -> pd.DataFrame:
    q = rows[rows.cut_type == QUARTER_CUT].set_index("metric_id")
    out = [{"metric_id": m, "label": REGISTRY[m].label, "unit": REGISTRY[m].unit,
            "value": None if pd.isna(q.loc[m].value) else float(q.loc[m].value),
            "note": None if pd.isna(q.loc[m].note) else q.loc[m].note}
           for m in QUARTER_METRICS if m in q.index and m in REGISTRY]
    return pd.DataFrame(out, columns=["metric_id", "label", "unit", "value", "note"])


def _owner_names(engine: Engine) -> dict[str, str]:
    """Owner names as every page shows them (metrics.dimensions.owner_names: same-name owners told apart)."""
    with engine.connect() as conn:
        return owner_names(conn)


def _waterfall_deals(wf: Waterfall | None, names: dict[str, str]) -> pd.DataFrame:
    rows = []
    if wf is not None:
        for bar in wf.bars:
            if bar.category in ("start", "end"):
                continue
            for d in bar.deals:
                rows.append(dict(d, category=bar.label, owner=names.get(d.get("owner_id"), d.get("owner_id"))))
    return pd.DataFrame(rows, columns=WATERFALL_DEAL_COLUMNS)


def _decisions(items: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(items, columns=DECISION_COLUMNS)


def _campaigns(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    roi = next((c for c in ("roi", "campaign_roi") if c in table.columns), None)
    if roi is None or table.empty:
        return table.head(0), table.head(0)
    ranked = table[table[roi].notna()].sort_values(roi, ascending=False)
    best = ranked.head(CAMPAIGNS_SHOWN)
    worst = ranked.drop(best.index).tail(CAMPAIGNS_SHOWN).iloc[::-1]
    return best.reset_index(drop=True), worst.reset_index(drop=True)


def _behind_pace(engine: Engine, quarter: tuple[dt.date, dt.date] | None,
                 review: tuple[dt.date, dt.date]) -> tuple[pd.DataFrame, str | None]:
    """The reps and teams behind pace over the quarter to the end of the week under review (their
    quota paced to that day), from the Sales page's quota tables; or why there is no such list."""
    empty = pd.DataFrame(columns=BEHIND_PACE_COLUMNS)
    if quarter is None:
        return empty, "the snapshot holds no quarter"
    f = Filters(quarter[0], min(review[1], quarter[1]), plan_end=quarter[1])
    behind = quotas.behind_pace(engine, f)
    if not behind.empty:
        return behind[BEHIND_PACE_COLUMNS], None
    quota = compute(engine, "quota", f)
    return empty, quota.reason or "nobody is behind pace: every rep and team with a quota is at 100 % or more"


def week_report(engine: Engine, week_start: dt.date, *, check_live: bool = True,
                today: dt.date | None = None) -> WeekReport:
    """Everything the meeting of `week_start` shows; raises SnapshotError when the week has no snapshot."""
    week = dec.week_of(week_start)
    snap = snapshot_for_week(engine, week)
    if snap is None:
        raise SnapshotError(f"The week of {week} has no snapshot. Take one with "
                            f"`python cli.py snapshot --week {week}` (or the button on the Meeting page).")
    defs = get_definitions(engine)
    rows = snapshot_metric_rows(engine, snap["snapshot_id"])
    prev = previous_snapshot(engine, snap)
    prev_rows = snapshot_metric_rows(engine, prev["snapshot_id"]) if prev else None
    week_rows = rows[rows.cut_type == "total"]
    review = ((week_rows.period_start.min(), week_rows.period_end.max()) if not week_rows.empty
              else (week - dt.timedelta(days=7), week - dt.timedelta(days=1)))
    q_rows = rows[rows.cut_type == QUARTER_CUT]
    quarter = (q_rows.period_start.min(), q_rows.period_end.max()) if not q_rows.empty else None

    wf = compared = None
    if prev is not None:  # the two snapshots' deals read once, for the waterfall and the changes
        compared = compare(engine, snap, prev)
        deals = ((compared.start_deals, compared.end_deals) if quarter is not None else
                 (snapshot_deal_rows(engine, prev["snapshot_id"]), snapshot_deal_rows(engine, snap["snapshot_id"])))
        wf = pipeline_waterfall(*deals, window=quarter, fx=defs.fx, currency=defs.reporting_currency)
    unavailable: dict[str, str] = {}
    if prev is None:
        unavailable["Pipeline waterfall"] = "no earlier snapshot to compare with"

    burnt = feedback_details.burnt_leads_valued(engine, Filters(*review), limit=500)
    rejections = feedback_details.lead_rejections(engine, Filters(*review), limit=500)
    burnt_value = feedback_details.burnt_value_by_owner(engine, Filters(*review))
    churn_window = churn_window_of(review)
    churned = recurring.movers(engine, Filters(*churn_window))
    campaigns = details.campaign_table(engine, Filters(quarter[0], review[1]) if quarter else Filters(*review))
    best, worst = _campaigns(campaigns)
    # the targets paced to the end of the week under review (budgets keep no history: as they are)
    paced = budget_targets(engine, quarter[0], min(review[1], quarter[1])) if quarter else {}
    behind, why_behind = _behind_pace(engine, quarter, review)
    if why_behind:
        unavailable["Behind pace"] = why_behind

    return WeekReport(
        week_start=week, snapshot=snap, previous=prev, review=review, quarter=quarter,
        currency=defs.reporting_currency, locale=defs.locale,
        kpis=_kpis(rows, prev_rows, paced), cuts=_cuts(rows), quarter_table=_quarter_table(rows),
        waterfall=wf, waterfall_deals=_waterfall_deals(wf, _owner_names(engine)),
        accuracy=forecast_accuracy_table(engine, until=week, today=today),
        burnt_leads=burnt.reset_index(drop=True), rejections=rejections.reset_index(drop=True),
        burnt_value_by_owner=burnt_value, campaigns_best=best, campaigns_worst=worst,
        decisions=_decisions(dec.decisions_of_week(engine, week)),
        open_items=_decisions(dec.open_items(engine, week)),
        differences=live_differences(engine, snap, rows) if check_live else [],
        unavailable=unavailable, behind_pace=behind,
        changes=explain_week(engine, week, locale=defs.locale, currency=defs.reporting_currency, compared=compared),
        outcomes=followed_decisions(engine, week, locale=defs.locale, currency=defs.reporting_currency),
        churned_customers=churned.reset_index(drop=True), churn_window=churn_window)


def churn_window_of(review: tuple[dt.date, dt.date]) -> tuple[dt.date, dt.date]:
    """The days whose month firsts hold the churn the meeting shows: the week under review when a
    month begins in it, else from the first day of the month the week ends in (its latest MRR
    change) to the week's end."""
    start, end = review
    if any((start + dt.timedelta(days=k)).day == 1 for k in range((end - start).days + 1)):
        return review
    return end.replace(day=1), end


__all__ = ["WeekReport", "week_report", "ROLES", "KPI_COLUMNS"]
