"""A small hand-built CRM for the meeting tests: one pipeline, two regions, two product lines,
deals with stage histories, a revenue budget. Dates sit around the week of Monday 2026-11-16."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from streamlit.testing.v1 import AppTest

from store import bump_data_version, schema as s

D = dt.date
T = dt.datetime
NOW = T(2026, 11, 18, 9, 0)  # a Wednesday; the meeting week starts Monday 2026-11-16
THIS_WEEK = D(2026, 11, 16)

STAGES = (("appointmentscheduled", 0.2, False, False), ("qualifiedtobuy", 0.4, False, False),
          ("contractsent", 0.9, False, False), ("closedwon", 1.0, True, True), ("closedlost", 0.0, True, False))

# deal_id: (amount EUR, currency, region, product line, created, close date, owner,
#           [(stage, entered_at, amount EUR at that time or None)])
DEALS = {
    "d1": (10000, "EUR", "France", "Platform", T(2026, 9, 1), D(2026, 11, 12), "o1",
           [("appointmentscheduled", T(2026, 9, 1), 8000), ("contractsent", T(2026, 10, 20), 10000),
            ("closedwon", T(2026, 11, 12, 15), 10000)]),
    "d2": (5000, "EUR", "DACH", "Analytics", T(2026, 10, 5), D(2026, 12, 15), "o2",
           [("appointmentscheduled", T(2026, 10, 5), 5000), ("qualifiedtobuy", T(2026, 11, 3), 5000)]),
    "d3": (2000, "USD", "France", "Analytics", T(2026, 10, 1), D(2026, 11, 10), "o1",
           [("qualifiedtobuy", T(2026, 10, 1), 2000), ("closedlost", T(2026, 11, 10, 12), 2000)]),
    "d4": (7000, "EUR", "DACH", "Platform", T(2026, 11, 11), D(2026, 12, 20), "o2",
           [("appointmentscheduled", T(2026, 11, 11), 7000)]),
    "d5": (4000, "EUR", "France", "Platform", T(2026, 8, 3), D(2026, 9, 20), "o1",
           [("contractsent", T(2026, 8, 3), 4000), ("closedwon", T(2026, 9, 20, 10), 4000)]),
}


def seed_crm(engine) -> None:
    with engine.begin() as conn:
        conn.execute(s.pipelines.insert().values(pipeline_id="default", label="Sales Pipeline"))
        conn.execute(s.pipeline_stages.insert(), [
            {"pipeline_id": "default", "stage_id": st, "label": st, "display_order": i, "probability": p,
             "is_closed": c, "is_won": w} for i, (st, p, c, w) in enumerate(STAGES)])
        conn.execute(s.owners.insert(), [
            {"owner_id": "o1", "first_name": "Ana", "last_name": "Roux", "region": "France", "team_name": "FR"},
            {"owner_id": "o2", "first_name": "Ben", "last_name": "Maier", "region": "DACH", "team_name": "DACH"}])
        for deal_id, (amount, cur, region, line, created, close, owner, hist) in DEALS.items():
            conn.execute(s.deals.insert().values(
                deal_id=deal_id, name=f"Deal {deal_id}", amount_cents=amount * 100, currency=cur,
                pipeline_id="default", stage_id=hist[-1][0], created_at=created, close_date=close,
                owner_id=owner, region=region, product_line=line,
                forecast_category="PIPELINE" if not hist[-1][0].startswith("closed") else None,
                updated_at=hist[-1][1], origin="demo"))
            conn.execute(s.deal_stage_history.insert(), [
                {"deal_id": deal_id, "stage_id": st, "entered_at": at,
                 "amount_cents": None if a is None else a * 100, "close_date": close} for st, at, a in hist])
        conn.execute(s.budgets.insert(), [
            {"month": D(2026, m, 1), "region": "", "product_line": "", "metric": "target_revenue",
             "value": 30000 * 100.0} for m in (10, 11, 12)])
        bump_data_version(conn)




# --- signing in to the app as a meeting participant (AppTest) --------------------------------

APP = str(Path(__file__).resolve().parents[2] / "app.py")
OIDC = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "k" * 40,
        "client_id": "northstar", "client_secret": "oidc-client-secret-value",
        "server_metadata_url": "https://idp.example/.well-known/openid-configuration"}
ROLES = {"lead@acme.com": "editor", "@acme.com": "viewer"}


def seed_leads(engine) -> None:
    """Three leads that became MQL in the week under review (9-15 Nov) and were never touched:
    two of Ana Roux (o1), one of Ben Maier (o2); one touched within the SLA (not burnt)."""
    rows = [("c1", "o1", T(2026, 11, 10, 9), None), ("c2", "o1", T(2026, 11, 11, 9), None),
            ("c3", "o2", T(2026, 11, 12, 9), None), ("c4", "o2", T(2026, 11, 12, 10), T(2026, 11, 12, 12))]
    with engine.begin() as conn:
        conn.execute(s.contacts.insert(), [
            {"contact_id": cid, "email": f"{cid}@lead.example", "owner_id": owner, "region": "France",
             "lifecycle_stage": "marketingqualifiedlead", "original_source": "ORGANIC_SEARCH",
             "created_at": mql - dt.timedelta(days=1), "became_lead_at": mql - dt.timedelta(days=1),
             "became_mql_at": mql, "first_sales_touch_at": touch, "updated_at": mql, "origin": "demo"}
            for cid, owner, mql, touch in rows])


def meeting_page_as(email: str) -> AppTest:
    """The app signed in as `email` (lead@acme.com edits, other @acme.com addresses view), on the
    Weekly meeting page; fails on any exception."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.secrets["auth"] = {**OIDC, "roles": ROLES}
    at.user = {"is_logged_in": True, "email": email, "name": email, "email_verified": True}
    at.run()
    at.switch_page("pages/meeting.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at
