"""The weekly revenue meeting: on top, what changed since the last meeting, explained, and the
decisions followed to their outcome (with the decision log); then one week's snapshot (KPIs week
over week and against target), the
pipeline waterfall since the last meeting, forecast accuracy, gap to target, leads not followed up,
campaigns by ROI, one section per CMO / CSO / CFO, the decision log, and the pack to send round.

Every number comes from meeting.report.week_report (the week's frozen snapshot), the same object
the HTML and XLSX packs are written from.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from auth import require
from meeting import decisions as dec
from meeting.accuracy import mean_accuracy
from meeting.changes import DIMENSION_LABELS
from meeting.charts import accuracy_figure, waterfall_figure
from meeting.pack import format_cell, headline_text, pack_file_name, to_html, to_xlsx
from meeting.report import ROLES, WeekReport, week_report
from meeting.snapshots import SnapshotError, list_snapshots, take_snapshot
from meeting.waterfall import CATEGORIES, LABELS
from metrics import REGISTRY
from metrics.pages import MEETING_NPS
from metrics.periods import date_problem
from ui import cache
from ui.context import actor, get_context, user_can
from ui.tables import table
from ui.tiles import tile_text

KPI_SHOWN = {"label": "KPI", "value": "This week", "previous": "Last week", "change": "Change",
             "change_pct": "Change %", "quarter_value": "Quarter", "target": "Quarter target",
             "target_to_date": "Target to date",
             "vs_target": "vs target", "vs_target_pct": "vs target %"}
ROLE_NAMES = {"CMO": "Marketing (CMO)", "CSO": "Sales (CSO)", "CFO": "Finance (CFO)"}
STATUS_LABELS = {"open": "Open", "done": "Done", "dropped": "Dropped"}
WEEK_KEPT = "_meeting_week_kept"
SHOWN_ROWS = 500  # the waterfall's deals and the churned customers on screen: the largest first


# kept as the object itself, not copied on every rerun as st.cache_data does: a 1M-deal store's
# report (the waterfall's deals, the changes) pickles to 40 MB, about 1 s a rerun; the page only
# reads it (every table it shows is a new frame)
@st.cache_resource(show_spinner="Reading the week's snapshot...", max_entries=8)
def _report(key: str, data_version: int, week: dt.date, _engine) -> WeekReport:
    return week_report(_engine, week)


@st.cache_data(max_entries=8)
def _weeks(key: str, data_version: int, _engine) -> list[dt.date]:
    return sorted({r["week_start"] for r in list_snapshots(_engine)}, reverse=True)


def _fmt(value, unit: str) -> str:
    """A tile's value: written as every page's tiles are (ui.tiles.tile_text: "€141.2K", "55.6%")."""
    return tile_text(None if value is None or pd.isna(value) else float(value), unit, ctx.fs.locale,
                     ctx.fs.currency)


def _shown(df: pd.DataFrame) -> pd.DataFrame:
    """A KPI table as the page writes it (each row in its own unit)."""
    out = []
    for row in df.to_dict("records"):
        out.append({title: (row[col] if col == "label" else
                            format_cell(row[col], col, row, ctx.fs.locale, ctx.fs.currency))
                    for col, title in KPI_SHOWN.items()})
    return pd.DataFrame(out, columns=list(KPI_SHOWN.values()))


def _headline(report: WeekReport) -> None:
    """The quarter headline (the CEO page's row, same labels and numbers for the same quarter),
    then the week under review under week labels: one label, one meaning, on every page."""
    h = report.headline()
    quarter, week = h[h.scope == "quarter"], h[h.scope == "week"]
    st.subheader("Quarter to date")
    if quarter.empty:
        st.info("This snapshot has no quarter values.")
    else:
        st.caption(f"Fiscal quarter {report.quarter[0]} to {report.quarter[1]}: revenue won to the end of the week "
                   f"under review ({report.review[1]}), against the whole quarter's target, pipeline and forecast, "
                   f"as the store stood at the snapshot; the CEO page's row for the same quarter.")
        for col, row in zip(st.columns(len(quarter)), quarter.to_dict("records")):
            col.metric(row["label"], headline_text(row, ctx.fs.locale, ctx.fs.currency), border=True,
                       help=REGISTRY[row["metric_id"]].definition)
    st.subheader("The week under review")
    for col, row in zip(st.columns(max(len(week), 1)), week.to_dict("records")):
        delta = None if pd.isna(row["change"]) else _fmt(row["change"], row["unit"])
        col.metric(row["label"], headline_text(row, ctx.fs.locale, ctx.fs.currency), delta=delta, border=True,
                   help=f"{REGISTRY[row['metric_id']].definition}\n\nWeek {report.review[0]} to {report.review[1]} "
                        f"only; the change is against last week's meeting.")


def _what_changed(report: WeekReport) -> None:
    """The change of the North Star, forecast and open pipeline since the last meeting in words,
    then every contribution by driver or segment (each cut adds up to the change)."""
    st.subheader("What changed since the last meeting")
    changes = report.changes
    if changes is None or not changes.changes:
        st.info(f"Nothing to explain: {changes.unavailable if changes is not None else 'no earlier snapshot'}.")
        return
    st.caption(f"From the frozen snapshot of the meeting of {changes.previous_week} to this one: the change and "
               "its three largest contributions. Won this week splits into volume (more or fewer deals, at last "
               "week's average size) and size (this week's deals, at the change of the average size); the "
               "forecast and the pipeline closing in the quarter into the waterfall's moves, deal by deal.")
    for change in changes.changes.values():
        # st.text: deal, region and product-line names are shown as typed, never read as Markdown
        st.text(change.sentence)
    with st.expander("By driver and segment"):
        a, b = st.columns(2)
        picked = a.segmented_control("Figure", list(changes.changes), default=next(iter(changes.changes)),
                                     format_func=lambda m: changes.changes[m].label, key="meeting_change_metric")
        cut = b.segmented_control("Split by", list(DIMENSION_LABELS), default="driver",
                                  format_func=DIMENSION_LABELS.get, key="meeting_change_cut")
        change = changes.changes[picked or next(iter(changes.changes))]
        parts = change.cuts()[cut or "driver"]
        shown = pd.DataFrame([{"Contribution": p.label, "Change": format_cell(p.amount, "change", {}, ctx.fs.locale,
                                                                              ctx.fs.currency), "Deals": len(p.deals)}
                              for p in parts if p.amount_cents or p.deals],
                             columns=["Contribution", "Change", "Deals"])
        st.dataframe(shown, hide_index=True, width="stretch", key="meeting_change_table")
        st.caption(f"{change.label}: {format_cell(change.start_cents / 100, 'change', {}, ctx.fs.locale, ctx.fs.currency)}"
                   f" at the last meeting, {format_cell(change.end_cents / 100, 'change', {}, ctx.fs.locale, ctx.fs.currency)}"
                   " now; the contributions add up to the change."
                   + (f" Computed {change.note}." if change.note else ""))


def _followed(report: WeekReport) -> None:
    """Each open or recently closed decision: its aim, the metric at the meeting it was taken in
    and at each meeting since, the verdict at its due date."""
    st.subheader("Decisions followed to their outcome")
    table_ = report.outcome_table()
    if table_.empty:
        st.caption("No open or recently closed decision to follow.")
        return
    st.caption("The linked metric at the meeting the decision was taken in and at each weekly snapshot since; "
               "the verdict is given at the meeting whose week contains the due date (the rules: Definitions page, "
               "tab Weekly meeting).")
    rows = []
    for r in table_.to_dict("records"):
        taken = format_cell(r["baseline"], "baseline", r, ctx.fs.locale, ctx.fs.currency) or "—"
        latest = format_cell(r["latest"], "latest", r, ctx.fs.locale, ctx.fs.currency) or "—"
        status = STATUS_LABELS.get(r["status"], r["status"])
        with st.container(border=True):
            # st.text, not Markdown: what an editor typed is shown as typed
            st.text(f"{r['text']} · {r['owner']} · {status}")
            st.text(f"{r['aim'] or 'no linked metric'} · when taken: {taken} · latest: {latest} · {r['verdict']}")
        rows.append({"Decision": r["text"], "Owner": r["owner"], "Status": status, "Aim": r["aim"],
                     "When taken": taken, "Latest": latest, "Verdict": r["verdict"], "Each meeting": r["readings"]})
    with st.expander("Every reading"):
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="meeting_followed")


def _waterfall(report: WeekReport) -> None:
    st.subheader("Pipeline waterfall since the last meeting")
    if report.waterfall is None:
        st.info(f"No waterfall: {report.unavailable.get('Pipeline waterfall', 'no earlier snapshot')}.")
        return
    prev = report.previous
    window = report.waterfall.window
    st.caption(f"Open deals closing in {window[0]} to {window[1]}, from the snapshot of week {prev['week_start']} "
               f"to this one. Each deal moves into one bar; the bars add up from start to end.")
    st.plotly_chart(waterfall_figure(report.waterfall, locale=ctx.fs.locale), key="meeting_waterfall", config={"displayModeBar": False})
    moving = [c for c in CATEGORIES if c not in ("start", "end")]
    pick = st.segmented_control("Deals behind", [LABELS[c] for c in moving], default=LABELS["won"],
                                key="meeting_wf_bar")
    deals = report.waterfall_deals
    chosen = deals[deals.category == pick] if pick else deals
    table(chosen.drop(columns=["category"]), ctx.fs, key="meeting_wf_deals", name=f"waterfall_{pick or 'all'}",
          empty=f"No deal in '{pick}' this week.", top=SHOWN_ROWS)


def _forecast(report: WeekReport) -> None:
    st.subheader("Forecast vs actual")
    acc = report.accuracy
    mean, n_final = mean_accuracy(acc)
    st.caption("The forecast each meeting recorded for its fiscal quarter, against the revenue won in that "
               "quarter. Accuracy = 1 - |forecast - actual| / actual, once the quarter is over.")
    left, right = st.columns([3, 1])
    left.plotly_chart(accuracy_figure(acc, report.currency, locale=ctx.fs.locale), key="meeting_accuracy",
                      config={"displayModeBar": False})
    right.metric("Forecast accuracy (ended quarters)",
                 _fmt(mean, "ratio"), border=True,
                 help=f"Mean over {n_final} weekly forecasts of quarters that have ended.")
    table(acc.drop(columns=["snapshot_id"]), ctx.fs, key="meeting_acc_table", name="forecast_accuracy",
          money=("forecast", "actual"), ratio=("accuracy",), count=())


def _quarter(report: WeekReport) -> None:
    st.subheader("Gap to target for the quarter")
    if report.quarter_table.empty:
        st.info("This snapshot has no quarter values.")
        return
    st.caption(f"Fiscal quarter {report.quarter[0]} to {report.quarter[1]}, to date as the store stood at the end "
               f"of the week under review ({report.week_start} 00:00); the headline at the top, in full.")
    st.dataframe(_shown_quarter(report.quarter_table), hide_index=True, key="meeting_quarter")


def _behind_pace(report: WeekReport) -> None:
    st.subheader("Behind pace on quota")
    why = report.unavailable.get("Behind pace")
    if why:
        st.info(f"Nobody listed: {why}.")
        return
    st.caption(f"Reps and teams whose revenue won from {report.quarter[0]} to the end of the week under review is "
               "under their quota paced to that day, worst first: today's view of the Sales page's quota tables.")
    table(report.behind_pace, ctx.fs, key="meeting_behind_pace", name="behind_pace",
          money=("quota", "won_revenue", "forecast"), ratio=("quota_attainment", "quota_attainment_paced"),
          count=(), ratio_x=("quota_coverage",))


def _shown_quarter(df: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame([{"KPI": r["label"], "Quarter to date": format_cell(r["value"], "value", r, ctx.fs.locale,
                                                                          ctx.fs.currency)}
                         for r in df.to_dict("records")], columns=["KPI", "Quarter to date"])


def _customer_voice(report: WeekReport) -> None:
    """NPS of the week and of the quarter to date, from the week's snapshot (metrics.pages.MEETING_NPS)."""
    st.subheader("Customer voice (NPS)")
    k = report.kpis.set_index("metric_id")
    cols = st.columns(len(MEETING_NPS) * 2)
    for i, mid in enumerate(MEETING_NPS):
        if mid not in k.index:
            continue
        row = k.loc[mid]
        cols[2 * i].metric(f"{row['label']}, the week", _fmt(row["value"], row["unit"]),
                           help=row["note"] if isinstance(row["note"], str) else None)
        cols[2 * i + 1].metric(f"{row['label']}, quarter to date", _fmt(row["quarter_value"], row["unit"]))


def _leads_and_campaigns(report: WeekReport) -> None:
    st.subheader("Leads not followed up in the week")
    k = report.kpis.set_index("metric_id")
    if "leads_not_followed_up" in k.index:
        st.caption(f"{_fmt(k.loc['leads_not_followed_up', 'value'], 'count')} at the snapshot; the list below is "
                   "today's view of the same week.")
    why = report.unavailable.get("Leads not followed up")
    if why:
        st.info(f"Not available: {why}.")
    else:
        table(report.burnt_leads, ctx.fs, key="meeting_burnt", name="leads_not_followed_up",
              empty="Every qualified lead of the week was followed up within the SLA.")
        st.markdown("**What they were worth, by owner**")
        st.caption("Each burnt lead at the expected revenue of a lead of its source (lead-to-customer rate x "
                   "average won deal, trailing 12 months).")
        table(report.burnt_value_by_owner, ctx.fs, key="meeting_burnt_value", name="burnt_lead_value_by_owner",
              money=["burnt_lead_value"], empty="No burnt lead in the week.")
    st.subheader("Leads sales rejected in the week")
    st.caption("Leads whose owner rejected them during the week (the latest verdict), with the reason; today's "
               "view of the same week.")
    table(report.rejections, ctx.fs, key="meeting_rejections", name="lead_rejections",
          empty="No lead was rejected in the week.")
    st.subheader("Campaigns by ROI (quarter to date)")
    why = report.unavailable.get("Campaigns")
    if why:
        st.info(f"Not available: {why}.")
        return
    best, worst = st.columns(2)
    with best:
        st.markdown("**Best**")
        table(report.campaigns_best, ctx.fs, key="meeting_best", name="best_campaigns", empty="No campaign with spend.")
    with worst:
        st.markdown("**Worst**")
        table(report.campaigns_worst, ctx.fs, key="meeting_worst", name="worst_campaigns",
              empty="No other campaign with spend.")


def _churned(report: WeekReport) -> None:
    st.subheader("Churned and contracted customers")
    window = report.churn_window
    if window:
        st.caption(f"Recurring revenue changes on the first of each month: customers whose MRR went to zero "
                   f"(churn) or down (contraction) on {window[0]:%d %b %Y}"
                   + ("" if window == report.review else ", the last month start before the week's end")
                   + "; today's view, not the snapshot.")
    table(report.churned_customers, ctx.fs, key="meeting_churned", name="churned_contracted_customers",
          money=("mrr_before", "mrr_after", "change"), top=SHOWN_ROWS,
          empty="No customer churned or contracted (or there is no recurring revenue yet: see the Finance page).")


def _role(report: WeekReport, role: str) -> None:
    st.subheader(ROLE_NAMES[role])
    st.dataframe(_shown(report.role_kpis(role)), hide_index=True, width="stretch", key=f"meeting_{role}_kpis")
    cuts = report.role_cuts(role)
    if len(cuts.columns) > 1:
        with st.expander("By region and product line (this week)"):
            ids = {REGISTRY[m].label: m for m in REGISTRY}
            shown = cuts.copy()
            for c in shown.columns[1:]:
                shown[c] = [format_cell(v, "value", {"metric_id": ids.get(lbl), "unit": REGISTRY[ids[lbl]].unit
                                                     if lbl in ids else "count"}, ctx.fs.locale, ctx.fs.currency)
                            for v, lbl in zip(shown[c], shown["label"])]
            st.dataframe(shown, hide_index=True, width="stretch", key=f"meeting_{role}_cuts")


def _decisions(report: WeekReport, editable: bool) -> None:
    st.subheader("Decisions")
    week = report.week_start
    carried = report.open_items
    st.markdown(f"**Open items from earlier meetings** ({len(carried)})")
    if carried.empty:
        st.caption("None: every earlier decision is closed.")
    for row in carried.to_dict("records"):
        _decision_row(row, week, editable)
    st.markdown(f"**Recorded this week** ({len(report.decisions)})")
    if report.decisions.empty:
        st.caption("No decision recorded in this meeting yet.")
    for row in report.decisions.to_dict("records"):
        _decision_row(row, week, editable)
    if editable:
        with st.form("meeting_new_decision", clear_on_submit=True):
            st.markdown("**Record a decision**")
            text = st.text_input("Decision", key="dec_text", placeholder="What was decided")
            a, b, c = st.columns(3)
            owner = a.text_input("Owner", key="dec_owner")
            due = b.date_input("Due date", value=None, key="dec_due")
            metric = c.selectbox("Linked metric", [""] + list(REGISTRY), key="dec_metric",
                                 format_func=lambda m: REGISTRY[m].label if m else "(none)")
            d, e, f, g = st.columns(4)
            seg_type = d.selectbox("Segment", [""] + list(dec.SEGMENTS), key="dec_seg_type",
                                   format_func=lambda v: DIMENSION_LABELS.get(v, v) if v else "(whole company)")
            seg_value = e.text_input("Segment value", key="dec_seg_value",
                                     help="The region, product line, owner (name or id) or source, as the filters name it.")
            direction = f.selectbox("Should go", ["", *dec.DIRECTIONS], key="dec_direction",
                                    format_func=lambda v: v or "(no direction)")
            target = g.text_input("Target value", key="dec_target", help="The value to reach by the due date "
                                  "(money in the reporting currency, a rate as 0.25).")
            if st.form_submit_button("Record decision", type="primary"):
                _guarded(lambda: dec.add_decision(ctx.engine, text=text, owner=owner, actor=actor(ctx),
                                                  week_start=week, due_date=due, metric_id=metric or None,
                                                  segment_type=seg_type or None, segment_value=seg_value or None,
                                                  direction=direction or None, target_value=target or None),
                         "Decision recorded.")
    else:
        st.caption("Your role may not record or close decisions (needs editor).")
    with st.expander("History of the decision log"):
        hist = pd.DataFrame(dec.decision_history(ctx.engine),
                            columns=["decision_id", "week_start", "at", "actor", "action", "before", "after"])
        for col in ("before", "after"):
            hist[col] = hist[col].map(lambda v: "" if not v else ", ".join(f"{k}: {x}" for k, x in v.items()))
        st.dataframe(hist.drop(columns=["event_id"], errors="ignore"), hide_index=True, width="stretch",
                     key="meeting_dec_history")


def _decision_row(row: dict, week: dt.date, editable: bool) -> None:
    did = row["decision_id"]
    link = f" · {REGISTRY[row['metric_id']].label}" if row.get("metric_id") in REGISTRY else ""
    due = f" · due {row['due_date']}" if row.get("due_date") else ""
    a, b = st.columns([5, 2])
    # st.text, not Markdown: what an editor typed is shown as typed (a link stays text, an image
    # is never fetched by the viewers' browsers).
    a.text(row["text"])
    a.text(f"{row['owner']}{due}{link} · recorded week {row['week_start']}")
    if not editable:
        b.write(STATUS_LABELS.get(row["status"], row["status"]))
        return
    status = b.selectbox("Status", list(STATUS_LABELS), index=list(STATUS_LABELS).index(row["status"]),
                         format_func=STATUS_LABELS.get, key=f"dec_status_{did}", label_visibility="collapsed")
    if status != row["status"]:
        _guarded(lambda: dec.update_decision(ctx.engine, did, actor(ctx), week_start=week, status=status),
                 f"Decision {did}: {STATUS_LABELS[status].lower()}.")


def _guarded(action, done: str) -> None:
    """Run a decision change after the server-side permission check; show errors, not tracebacks."""
    try:
        require("decisions.edit", ctx.user)
        action()
    except PermissionError as exc:
        st.error(str(exc))
        return
    except dec.DecisionError as exc:
        st.error(str(exc))
        return
    st.toast(done)
    st.rerun()


def _pack(report: WeekReport) -> None:
    st.subheader("Meeting pack")
    st.caption("For people who were not in the room: the whole week in one file that opens offline, "
               "or as a workbook with one sheet per section.")
    buttons = st.container(horizontal=True, key="meeting_pack_buttons")  # each button as wide as its label
    buttons.download_button("HTML pack", lambda: to_html(report).encode("utf-8"), file_name=pack_file_name(report, "html"),
                            mime="text/html", key="meeting_pack_html", icon=":material/download:", on_click="ignore")
    buttons.download_button("XLSX pack", lambda: to_xlsx(report), file_name=pack_file_name(report, "xlsx"),
                            mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                            key="meeting_pack_xlsx", icon=":material/download:", on_click="ignore")


ctx = get_context()
key, version = cache.store_key(ctx.engine), cache.current_data_version(ctx.engine)
st.title("Weekly revenue meeting")
this_week = dec.week_of(dt.date.today())
weeks = _weeks(key, version, ctx.engine)
options = sorted(set(weeks) | {this_week}, reverse=True)
# A link may name the week (?week=2026-11-16, any day of it). Streamlit forgets a widget's state
# when a run draws it with another identity (page switches), so the chosen week is also kept
# under a plain session key.
if WEEK_KEPT not in st.session_state and st.query_params.get("week"):
    try:
        linked = dt.date.fromisoformat(st.query_params["week"])
    except ValueError:
        st.toast(f"Ignored week={st.query_params['week']!r} in the link: not a date like 2026-11-16.")
    else:
        problem = date_problem(linked, "week")
        if problem:
            st.warning(f"Ignored the link's {problem}; showing this week.", icon=":material/link_off:")
        else:
            st.session_state[WEEK_KEPT] = dec.week_of(linked)
if st.session_state.get(WEEK_KEPT) in options:
    st.session_state["meeting_week"] = st.session_state[WEEK_KEPT]
elif st.session_state.get("meeting_week") not in options:
    st.session_state["meeting_week"] = this_week
week = st.selectbox("Week", options, key="meeting_week",
                    format_func=lambda w: f"Week of {w:%d %b %Y}" + (" (this week)" if w == this_week else ""),
                    on_change=lambda: st.session_state.__setitem__(WEEK_KEPT, st.session_state["meeting_week"]))
if st.query_params.get("week") != week.isoformat():
    st.query_params["week"] = week.isoformat()

if week not in weeks:
    st.info("This week has no snapshot yet. One is taken after the first sync of the week, by "
            "`python cli.py snapshot` (cron), or here.")
    if user_can(ctx, "snapshots.take") and st.button("Take this week's snapshot", type="primary", key="meeting_take"):
        try:
            require("snapshots.take", ctx.user)
            with st.spinner("Computing every metric for every cut..."):
                take_snapshot(ctx.engine, kind="weekly")
        except (PermissionError, SnapshotError) as exc:
            st.error(str(exc))
        else:
            st.rerun()
    st.stop()

try:
    report = _report(key, version, week, ctx.engine)
except SnapshotError as exc:
    st.error(str(exc))
    st.stop()

snap = report.snapshot
kind = {"weekly": "weekly", "on_demand": "on demand", "reconstructed": "rebuilt as the store stood then"}[snap["kind"]]
st.caption(f"Snapshot {snap['snapshot_id']} ({kind}), taken {snap['taken_at']:%Y-%m-%d %H:%M} UTC · "
           f"week under review {report.review[0]} to {report.review[1]} · compared with "
           + (f"the meeting of {report.previous['week_start']}" if report.previous else "no earlier meeting"))
if report.differences:
    labels = dict.fromkeys(REGISTRY[d["metric_id"]].label for d in report.differences if d["metric_id"] in REGISTRY)
    st.warning(f"These numbers are as they were at the meeting. Today's data would give other values "
               f"for {len(labels)} KPI(s): {', '.join(labels)}.", icon=":material/history:")
elif week < this_week:
    st.caption("Today's data gives the same values as this snapshot.")

_what_changed(report)
_followed(report)
_decisions(report, user_can(ctx, "decisions.edit"))
_headline(report)
st.subheader("Every KPI: week over week and against the quarter's target")
st.dataframe(_shown(report.kpis), hide_index=True, width="stretch", key="meeting_kpis")
st.caption(f"vs target: revenue, leads, spend and other flows against the target to date (paced to "
           f"{report.review[1]}, the end of the week under review); forecast, pipeline and other plans against "
           f"the whole quarter's target.")
_waterfall(report)
_forecast(report)
_quarter(report)
_behind_pace(report)
_customer_voice(report)
_leads_and_campaigns(report)
_churned(report)
for role in ROLES:
    _role(report, role)
_pack(report)
