"""The Monday digest: one week's meeting, short, by email (HTML and plain text) and to Slack or
Teams, or written to files.

Built from the week's frozen snapshot through `meeting.report.week_report`, the object the meeting
page and the packs render, and written with the pack's own cell formatting: every figure is the
meeting's. The digest is a list of sections (`SECTIONS`: what changed, explained as on the
meeting page (meeting.changes); the decisions followed to their outcome (meeting.outcomes); the
quarter headline; leads not followed up by owner, with their value (the `burnt_lead_value` metric
by owner); decisions due; the link). Each builder takes the `DigestInput` and returns a `Section`
or None (nothing to say), so one more section is one more function in the list. Every renderer
(text, HTML, Slack Block Kit, Teams message card) draws the same sections.
"""
from __future__ import annotations

import datetime as dt
import html
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pandas as pd
from sqlalchemy import Engine, select

from metrics import NONE_BUCKET, REGISTRY
from metrics.format import format_day
from store import schema as s, utcnow
from store.secrets import mask

from . import channels
from .channels import Delivery, Message, Targets
from .decisions import week_of
from .pack import format_cell
from .report import WeekReport, week_report

log = logging.getLogger("northstar.digest")

BURNT_LEAD_VALUE_METRIC = "burnt_lead_value"  # the meeting's burnt_value_by_owner table is this metric by owner
CHANGES_SHOWN = 6
HEADLINE = ("north_star", "forecast", "gap_to_target", "pipeline_coverage")
MEETING_PATH = "meeting"  # the Weekly meeting page's url_path (ui/shell.py)


@dataclass
class Section:
    key: str
    title: str
    lines: list[str] = field(default_factory=list)  # plain sentences, one bullet each
    columns: list[str] = field(default_factory=list)  # an optional table: header...
    rows: list[list[str]] = field(default_factory=list)  # ...and formatted cells
    note: str | None = None
    numeric: tuple[int, ...] = ()  # the table's columns that hold numbers (right-aligned)


@dataclass
class DigestInput:
    engine: Engine
    report: WeekReport
    base_url: str | None
    today: dt.date


@dataclass
class Digest:
    week_start: dt.date
    subject: str
    sections: list[Section]
    figures: dict[str, float | None]  # metric id (or id.column) -> the raw value shown, for checks
    link: str | None

    def section(self, key: str) -> Section | None:
        return next((sec for sec in self.sections if sec.key == key), None)


def _cell(report: WeekReport, value: Any, column: str, row: dict) -> str:
    return format_cell(value, column, row, report.locale, report.currency) or "not available"


def _deals(n: int) -> str:
    return f"{n} deal" if n == 1 else f"{n} deals"


def _raw_text(value: Any) -> str | None:
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def _raw(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else float(value)


# --- sections ----------------------------------------------------------------------------

def headline(inp: DigestInput, figures: dict) -> Section:
    """The quarter: North Star to date against the target paced to the end of the week, forecast,
    gap to target, coverage (the meeting's quarter figures, frozen in the snapshot)."""
    r = inp.report
    q = r.quarter_table.set_index("metric_id") if not r.quarter_table.empty else pd.DataFrame()
    k = r.kpis.set_index("metric_id") if not r.kpis.empty else pd.DataFrame()
    lines = []
    for mid in HEADLINE:
        if mid not in REGISTRY:
            continue
        value = _raw(q.loc[mid, "value"]) if mid in q.index else (
            _raw(k.loc[mid, "quarter_value"]) if mid in k.index else None)
        figures[mid] = value
        row = {"metric_id": mid, "unit": REGISTRY[mid].unit, "value": value}
        text = _cell(r, value, "value", row)
        label = REGISTRY[mid].label
        if mid == "north_star" and mid in k.index:
            paced, vs = _raw(k.loc[mid, "target_to_date"]), _raw(k.loc[mid, "vs_target"])
            figures["north_star.target_to_date"], figures["north_star.vs_target"] = paced, vs
            if paced is not None:
                krow = k.loc[mid].to_dict() | {"metric_id": mid}
                text += (f" to date, against {_cell(r, paced, 'target_to_date', krow)} paced target "
                         f"({_cell(r, vs, 'vs_target', krow)})")
        lines.append(f"{label}: {text}")
    period = f"{r.quarter[0]} to {r.quarter[1]}" if r.quarter else "the quarter"
    return Section("headline", f"The quarter ({period})", lines)


def what_changed(inp: DigestInput, figures: dict) -> Section | None:
    """What changed since the last meeting: the meeting's own explanation (meeting.changes: won
    revenue, forecast and open pipeline by driver, the three largest contributions in words), then
    the KPIs that moved most week over week (the meeting's change column)."""
    r = inp.report
    if r.previous is None:
        return Section("what_changed", "What changed", [], note="No earlier meeting to compare with yet.")
    lines = []
    if r.changes is not None:
        for c in r.changes.changes.values():
            figures[f"explained.{c.metric_id}"] = c.change
        lines = list(r.changes.sentences)
    moved = r.kpis[r.kpis.change.notna() & (r.kpis.change != 0)].copy()
    moved["size"] = moved.change_pct.abs().fillna(float("inf"))
    moved = moved.sort_values("size", ascending=False).head(CHANGES_SHOWN)
    rows = []
    for row in moved.to_dict("records"):
        figures[f"{row['metric_id']}.change"] = _raw(row["change"])
        pct = "" if row["change_pct"] is None or pd.isna(row["change_pct"]) else \
            f" ({'+' if row['change_pct'] > 0 else ''}{_cell(r, row['change_pct'], 'change_pct', row)})"
        rows.append([row["label"], _cell(r, row["previous"], "previous", row), _cell(r, row["value"], "value", row),
                     ("+" if row["change"] > 0 else "") + _cell(r, row["change"], "change", row) + pct])
    return Section("what_changed", f"What changed since {r.previous['week_start']}", lines,
                   ["KPI", "last week", "this week", "change"] if rows else [], rows,
                   None if rows else "No KPI changed week over week.", numeric=(1, 2, 3))


def decisions_followed(inp: DigestInput, figures: dict) -> Section | None:
    """The decisions followed to their outcome (meeting.outcomes, as on the meeting page): the aim,
    the metric when the decision was taken and now, the verdict or why there is none yet."""
    table = inp.report.outcome_table()
    table = table[table.metric_id.notna()]  # a decision that names no metric has nothing to follow
    if table.empty:
        return None
    rows = []
    for row in table.to_dict("records"):
        figures[f"decision.{row['decision_id']}.latest"] = _raw(row["latest"])
        unit = {"unit": row["unit"]}
        rows.append([str(row["text"]), str(row["aim"]), _cell(inp.report, row["baseline"], "value", unit),
                     _cell(inp.report, row["latest"], "value", unit), str(row["verdict"])])
    return Section("decisions_followed", "Decisions followed to their outcome", [],
                   ["decision", "aim", "when taken", "now", "verdict"], rows, numeric=(2, 3))


def burnt_lead_values(inp: DigestInput) -> tuple[dict[str, float] | None, str | None]:
    """What the leads not followed up were worth, per owner name: the meeting's own table
    (`WeekReport.burnt_value_by_owner`, the `burnt_lead_value` metric by owner over the week under
    review); (None, why) when the week has no such table."""
    by_owner = inp.report.burnt_value_by_owner
    if by_owner is None or "burnt_lead_value" not in getattr(by_owner, "columns", ()):
        return None, f"Their value is not available ({BURNT_LEAD_VALUE_METRIC} by owner)."
    return {("(no owner)" if row["owner"] == NONE_BUCKET else row["owner"]): float(row["burnt_lead_value"])
            for row in by_owner.to_dict("records")}, None


def burnt_leads(inp: DigestInput, figures: dict) -> Section:
    """Leads not followed up within the SLA in the week under review, by owner: the meeting's own
    list (report.burnt_leads), counted per owner, with their value when it is tracked."""
    r = inp.report
    leads = r.burnt_leads
    title = "Leads not followed up, by owner"
    if leads.empty:
        figures["burnt_leads"] = 0
        return Section("burnt_leads", title, ["None in the week under review."])
    owners = leads.assign(owner=leads.owner.fillna("(no owner)")).groupby("owner").size().sort_values(ascending=False)
    values, why = burnt_lead_values(inp)
    figures["burnt_leads"] = int(owners.sum())
    rows = []
    for owner, n in owners.items():
        figures[f"burnt_leads.{owner}"] = int(n)
        row = [str(owner), _cell(r, int(n), "value", {"unit": "count"})]
        if values is not None:
            figures[f"burnt_lead_value.{owner}"] = values.get(owner)
            row.append(_cell(r, values.get(owner), "value", {"unit": "money"}))
        rows.append(row)
    note = why
    if len(leads) >= 500:
        note = ((note or "") + " The meeting lists the first 500 leads; counts are of those.").strip()
    return Section("burnt_leads", title, [], ["owner", "leads"] + (["value"] if values is not None else []),
                   rows, note, numeric=(1, 2))


def decisions_due(inp: DigestInput, figures: dict) -> Section:
    """Open decisions due in the meeting week, and open ones already overdue."""
    r = inp.report
    week_end = r.week_start + dt.timedelta(days=6)
    items = pd.concat([r.open_items, r.decisions], ignore_index=True).drop_duplicates("decision_id")
    items = items.loc[((items.status == "open") & items.due_date.notna()).astype(bool)]
    due = items.loc[items.due_date.map(lambda d: d <= week_end).astype(bool)].sort_values(["due_date", "decision_id"])
    figures["decisions_due"] = len(due)
    rows = [[str(d["text"]), str(d["owner"]), format_day(d["due_date"], r.locale)
             + (" (overdue)" if d["due_date"] < r.week_start else ""),
             "" if _raw_text(d["metric_id"]) is None else REGISTRY[d["metric_id"]].label if d["metric_id"] in REGISTRY
             else str(d["metric_id"])]
            for d in due.to_dict("records")]
    return Section("decisions_due", f"Decisions due this week (to {week_end})", [] if rows else ["None."],
                   ["decision", "owner", "due", "metric"] if rows else [], rows)


def link(inp: DigestInput, figures: dict) -> Section:
    url = meeting_url(inp.base_url, inp.report.week_start)
    if url is None:
        return Section("link", "The meeting", [], note="Set NORTHSTAR_BASE_URL to link the meeting page.")
    return Section("link", "The meeting", [f"Open the meeting page: {url}"])


# What changed and the decisions followed come first, as in the meeting pack.
SECTIONS: list[Callable[[DigestInput, dict], Section | None]] = [what_changed, decisions_followed, headline, burnt_leads,
                                                               decisions_due, link]


def meeting_url(base: str | None, week: dt.date) -> str | None:
    return f"{base.rstrip('/')}/{MEETING_PATH}?week={week.isoformat()}" if base else None


def build_digest(engine: Engine, week: dt.date, base_url: str | None = None,
                 today: dt.date | None = None) -> Digest:
    """The digest of the meeting of `week` (any day of it); SnapshotError when it has no snapshot."""
    report = week_report(engine, week_of(week), check_live=False, today=today)
    inp = DigestInput(engine, report, base_url, today or utcnow().date())
    figures: dict[str, float | None] = {}
    sections = [sec for build in SECTIONS if (sec := build(inp, figures)) is not None]
    return Digest(report.week_start, f"Northstar: week of {report.week_start.isoformat()}", sections, figures,
                  meeting_url(base_url, report.week_start))


# --- rendering ---------------------------------------------------------------------------

def to_text(d: Digest) -> str:
    out = [d.subject, "=" * len(d.subject), ""]
    for sec in d.sections:
        out += [sec.title, "-" * len(sec.title)]
        out += [f"- {line}" for line in sec.lines]
        if sec.rows:
            widths = [max(len(str(x)) for x in col) for col in zip(sec.columns, *sec.rows)]
            out.append("  ".join(c.ljust(w) for c, w in zip(sec.columns, widths)).rstrip())
            out += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in sec.rows]
        if sec.note:
            out.append(sec.note)
        out.append("")
    return "\n".join(out)


# Inline styles: many mail clients drop a <style> block, none drops a style attribute.
_STYLE = {
    "body": "margin:0;padding:24px;background:#f6f7f9;font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,"
            "sans-serif;color:#222",
    "card": "max-width:680px;margin:0 auto;background:#ffffff;border:1px solid #e3e5e8;border-radius:8px;"
            "padding:20px 28px",
    "h1": "font-size:20px;margin:0 0 4px",
    "h2": "font-size:15px;margin:22px 0 6px;color:#1f3a5f",
    "ul": "margin:4px 0;padding-left:20px",
    "li": "margin:3px 0",
    "table": "border-collapse:collapse;font-size:13px;width:100%",
    "th": "border-bottom:1px solid #ddd;padding:4px 6px;text-align:left;color:#555;font-weight:600",
    "td": "border-bottom:1px solid #eee;padding:4px 6px;text-align:left",
    "note": "color:#777;font-size:12px",
    "button": "display:inline-block;background:#1f3a5f;color:#ffffff;padding:8px 14px;border-radius:5px;"
              "text-decoration:none",
}
_RIGHT = ";text-align:right;white-space:nowrap"


def to_html(d: Digest) -> str:
    """The digest as an HTML email: one card, a heading per section, inline styles only."""
    esc, st = html.escape, _STYLE
    parts = [f'<h1 style="{st["h1"]}">{esc(d.subject)}</h1>']
    for sec in d.sections:
        parts.append(f'<h2 style="{st["h2"]}" data-section="{esc(sec.key)}">{esc(sec.title)}</h2>')
        if sec.key == "link" and d.link:
            parts.append(f'<p><a style="{st["button"]}" href="{esc(d.link)}">Open the meeting page</a></p>')
        elif sec.lines:
            parts.append(f'<ul style="{st["ul"]}">'
                         + "".join(f'<li style="{st["li"]}">{esc(line)}</li>' for line in sec.lines) + "</ul>")
        if sec.rows:
            def cell(tag: str, i: int, text: str) -> str:
                style = st[tag] + (_RIGHT if i in sec.numeric else "")
                return f'<{tag} style="{style}">{esc(text)}</{tag}>'
            head = "".join(cell("th", i, c) for i, c in enumerate(sec.columns))
            body = "".join("<tr>" + "".join(cell("td", i, c) for i, c in enumerate(row)) + "</tr>" for row in sec.rows)
            parts.append(f'<table style="{st["table"]}" cellpadding="0" cellspacing="0"><thead><tr>{head}</tr></thead>'
                         f"<tbody>{body}</tbody></table>")
        if sec.note:
            parts.append(f'<p style="{st["note"]}">{esc(sec.note)}</p>')
    return ('<!DOCTYPE html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">'
            f'<title>{esc(d.subject)}</title></head><body style="{st["body"]}"><div style="{st["card"]}">'
            + "\n".join(parts) + "</div></body></html>")


def _rows_text(sec: Section, esc: Callable[[Any], str], bold: str) -> list[str]:
    return [f"{bold}{esc(row[0])}{bold}: " + ", ".join(f"{esc(c)} {esc(h)}" if h in ("leads",) else
                                                       f"{esc(h)} {esc(c)}" for h, c in zip(sec.columns[1:], row[1:]))
            for row in sec.rows]


def to_slack(d: Digest) -> dict:
    """Slack Block Kit: a header, one section per digest section, the link as a button."""
    esc = channels.slack_escape
    blocks: list[dict] = [{"type": "header", "text": {"type": "plain_text", "text": d.subject[:150]}}]
    for sec in d.sections:
        if sec.key == "link":
            continue
        body = [f"• {esc(line)}" for line in sec.lines] + [f"• {line}" for line in _rows_text(sec, esc, "*")]
        if sec.note:
            body.append(f"_{esc(sec.note)}_")
        text = f"*{esc(sec.title)}*\n" + "\n".join(body)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}})
    if d.link:
        blocks.append({"type": "actions", "elements": [{"type": "button", "url": d.link,
                                                        "text": {"type": "plain_text", "text": "Open the meeting page"}}]})
    return {"text": d.subject, "blocks": blocks[:50]}


def to_teams(d: Digest) -> dict:
    """A Microsoft Teams (Office 365 connector) MessageCard: one card section per digest section."""
    esc = channels.teams_escape
    sections = []
    for sec in d.sections:
        if sec.key == "link":
            continue
        body = [f"- {esc(line)}" for line in sec.lines] + [f"- {line}" for line in _rows_text(sec, esc, "**")]
        if sec.note:
            body.append(f"_{esc(sec.note)}_")
        sections.append({"activityTitle": esc(sec.title), "text": "\n\n".join(body) or " "})
    card = {"@type": "MessageCard", "@context": "https://schema.org/extensions", "summary": d.subject,
            "themeColor": "1F3A5F", "title": esc(d.subject), "sections": sections}
    if d.link:
        card["potentialAction"] = [{"@type": "OpenUri", "name": "Open the meeting page",
                                    "targets": [{"os": "default", "uri": d.link}]}]
    return card


def message(d: Digest) -> Message:
    return Message(d.subject, to_text(d), to_html(d), to_slack(d), to_teams(d))


# --- sending -----------------------------------------------------------------------------

def file_names(d: Digest) -> dict[str, str]:
    stem = f"northstar-digest-{d.week_start.isoformat()}"
    return {"text": f"{stem}.txt", "html": f"{stem}.html", "slack": f"{stem}.slack.json", "teams": f"{stem}.teams.json"}


def write_files(d: Digest, folder: Path) -> list[Path]:
    """The digest as files (text, HTML, Slack and Teams JSON), nothing sent."""
    msg = message(d)
    folder.mkdir(parents=True, exist_ok=True)
    names = file_names(d)
    contents = {"text": msg.text, "html": msg.html, "slack": json.dumps(msg.slack, indent=2, ensure_ascii=False),
                "teams": json.dumps(msg.teams, indent=2, ensure_ascii=False)}
    paths = []
    for key, name in names.items():
        path = folder / name
        path.write_text(contents[key], encoding="utf-8")
        paths.append(path)
    return paths


def record(engine: Engine, kind: str, ref: str, deliveries: list[Delivery], now: dt.datetime | None = None) -> None:
    """Log each delivery in `notifications` (the webhook by its host only, errors masked)."""
    if not deliveries:
        return
    now = now or utcnow()
    with engine.begin() as conn:
        conn.execute(s.notifications.insert(), [
            {"kind": kind, "ref": ref[:255], "channel": d.channel, "target": mask(d.target)[:255], "sent_at": now,
             "ok": d.ok, "attempts": d.attempts, "error": mask(d.error)} for d in deliveries])


def sent_before(engine: Engine, week: dt.date) -> bool:
    """True when the digest of that week already went out through some channel."""
    n = s.notifications
    with engine.connect() as conn:
        return conn.execute(select(n.c.notification_id).where(
            n.c.kind == "digest", n.c.ref == week_of(week).isoformat(), n.c.ok.is_(True)).limit(1)).first() is not None


def send_digest(engine: Engine, week: dt.date, targets: Targets | None = None, base_url: str | None = None,
                today: dt.date | None = None, attempts: int = channels.ATTEMPTS, delay: float = 1.0) -> list[Delivery]:
    """Build the week's digest and send it to every channel of `targets` (default: the configured
    ones); returns one Delivery per channel and logs them in the store."""
    targets = targets or channels.targets_for("digest")
    d = build_digest(engine, week, base_url if base_url is not None else channels.base_url(), today)
    deliveries = channels.deliver(message(d), targets, attempts=attempts, delay=delay)
    record(engine, "digest", d.week_start.isoformat(), deliveries)
    return deliveries


def after_snapshot(engine: Engine, week: dt.date) -> list[Delivery]:
    """The digest after the week's snapshot was taken, when channels are configured and it has not
    gone out yet. Never raises: a failure is logged with the command that retries it."""
    try:
        targets = channels.targets_for("digest")
        if not targets.configured or sent_before(engine, week):
            return []
        deliveries = send_digest(engine, week, targets)
    except Exception as exc:  # noqa: BLE001 - the snapshot stands whatever happens here
        log.warning("the week's snapshot is taken, but its digest failed (%s); run `python cli.py digest`",
                    mask(str(exc)) or type(exc).__name__)
        return []
    for dlv in deliveries:
        (log.info if dlv.ok else log.warning)("digest of week %s: %s", week_of(week), dlv.line())
    return deliveries


__all__ = ["Section", "Digest", "DigestInput", "SECTIONS", "BURNT_LEAD_VALUE_METRIC", "build_digest", "message",
           "to_text", "to_html", "to_slack", "to_teams", "write_files", "send_digest", "after_snapshot",
           "sent_before", "record", "meeting_url", "burnt_lead_values"]
