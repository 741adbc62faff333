"""The Data page's alerts: the open ones (each sent once until it clears), the recent history with
how each was sent, the rules in force (alerts: in the shared definitions), and the last digests."""
from __future__ import annotations

import pandas as pd
import streamlit as st
from sqlalchemy import Engine, desc, select

from meeting.alerts import list_alerts
from metrics import get_definitions
from store import mask, schema as s
from ui.status import age
from ui.tables import table

RULE_TEXT = {"coverage_below": "pipeline coverage of the quarter below {:g}x",
             "burnt_leads_above": "more than {:g} leads not followed up for one owner",
             "forecast_drop_pct": "the quarter's forecast down more than {:g}% in a week",
             "sync_failures": "a connector failing {:g} times in a row"}


def _sent(engine: Engine, limit: int = 20) -> pd.DataFrame:
    n = s.notifications
    with engine.connect() as conn:
        rows = conn.execute(select(n.c.kind, n.c.ref, n.c.channel, n.c.target, n.c.sent_at, n.c.ok, n.c.attempts,
                                   n.c.error).order_by(desc(n.c.sent_at), desc(n.c.notification_id)).limit(limit)).all()
    df = pd.DataFrame([dict(r._mapping) for r in rows],
                      columns=["kind", "ref", "channel", "target", "sent_at", "ok", "attempts", "error"])
    for col in ("target", "error"):
        df[col] = df[col].map(lambda v: "" if v is None else mask(str(v)))
    return df


def render_alerts(engine: Engine, fs) -> None:
    st.subheader("Alerts")
    defs = get_definitions(engine)
    rules = [text.format(defs.alert_threshold(rule)) for rule, text in RULE_TEXT.items()
             if defs.alert_threshold(rule) is not None]
    st.caption("Checked after every sync and import; each alert is sent once (email, Slack, Teams) until it "
               "clears. Rules (alerts: in the shared definitions): " + ("; ".join(rules) or "all off") + ".")
    alerts = list_alerts(engine)
    open_ = alerts[alerts.state == "open"]
    if open_.empty:
        st.success("No open alert.", icon=":material/check_circle:")
    for row in open_.to_dict("records"):
        st.warning(f"{mask(row['message'])}  \nsince {row['fired_at']:%Y-%m-%d %H:%M} UTC ({age(row['fired_at'])})",
                   icon=":material/notifications_active:")
    if not alerts.empty:
        shown = alerts.drop(columns=["alert_id", "alert_key"]).assign(
            message=alerts.message.map(mask), delivery=alerts.delivery.map(lambda v: "" if v is None else mask(v)))
        with st.expander(f"Alert history ({len(alerts)})"):
            table(shown, fs, key="data_alerts", name="alerts", count=(), money=(), ratio=(), days=())
    sent = _sent(engine)
    with st.expander("Digests and alerts sent"):
        table(sent, fs, key="data_notifications", name="notifications", count=("attempts",), money=(), ratio=(),
              days=(), empty="Nothing sent yet: see `python cli.py digest --help`.")
