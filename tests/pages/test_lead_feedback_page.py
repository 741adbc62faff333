"""The Sales page's Lead feedback tab: the owner accepts or rejects the period's MQLs, one or many
at once, with a reason from the shared definitions; the tiles, the table and the audit follow.
The Marketing page's Sales feedback tab shows acceptance and reasons by source and campaign; the
CEO scorecard carries the NPS."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from conftest import Q1, run_app, tiles
from metrics import REGISTRY
from store import StoreSettings, bump_data_version, open_store, schema as s


def _add_mqls(url: str) -> None:
    """Four MQLs in Q1 2026: Ann and Ben (paid search, campaign spring, Alice), Cat (organic, Bob),
    Dan (organic, campaign seo, Alice); all touched in time (no burnt lead)."""
    engine = open_store(StoreSettings(url, "test"))
    rows = []
    for cid, first, source, campaign, owner, day in (("c1", "Ann", "PAID_SEARCH", "spring", "o1", 5),
                                                       ("c2", "Ben", "PAID_SEARCH", "spring", "o1", 6),
                                                       ("c3", "Cat", "ORGANIC_SEARCH", None, "o2", 7),
                                                       ("c4", "Dan", "ORGANIC_SEARCH", "seo", "o1", 8)):
        mql = dt.datetime(2026, 2, day, 9)
        rows.append({"contact_id": cid, "email": f"{first.lower()}@client.example", "first_name": first,
                     "last_name": "Lead", "owner_id": owner, "original_source": source, "campaign": campaign,
                     "created_at": mql, "became_lead_at": mql, "became_mql_at": mql,
                     "first_sales_touch_at": mql + dt.timedelta(hours=1), "origin": "csv"})
    with engine.begin() as conn:
        conn.execute(s.contacts.insert(), rows)
        bump_data_version(conn)


def _open_tab(at, key: str, label: str):
    """Open one of a page's lazy tabs (only the open tab is computed and drawn)."""
    at.session_state[key] = label
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _save(at, leads, verdict, reason=""):
    at.multiselect(key="sales_fb_leads").set_value(leads)
    at.radio(key="sales_fb_verdict").set_value(verdict)
    at.selectbox(key="sales_fb_reason").set_value(reason)
    next(b for b in at.button if b.label == "Save verdict").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def test_sales_lead_feedback_accepts_and_rejects_in_bulk(tiny_store):
    _add_mqls(tiny_store)
    at = _open_tab(run_app("pages/sales.py", Q1), "sales_tabs", "Lead feedback")
    label = {m: REGISTRY[m].label for m in ("mql_acceptance_rate", "mqls_accepted", "mqls_rejected", "mqls_reviewed")}
    shown = tiles(at)
    assert shown[label["mqls_reviewed"]] == "0" and shown[label["mql_acceptance_rate"]] == "n/a"
    _save(at, ["c1", "c2"], "rejected", "no_budget")  # two leads at once
    assert any(m.value == "2 leads rejected." for m in at.success)
    _save(at, ["c1"], "accepted")  # Ann reconsidered: the latest verdict counts
    _save(at, ["c3"], "accepted")
    shown = tiles(at)
    # accepted Ann and Cat, rejected Ben: 2 / 3 = 66.7%
    assert (shown[label["mqls_accepted"]], shown[label["mqls_rejected"]], shown[label["mqls_reviewed"]],
            shown[label["mql_acceptance_rate"]]) == ("2", "1", "3", "66.7%")
    engine = open_store(StoreSettings(tiny_store, "test"))
    with engine.connect() as conn:
        rows = conn.execute(select(s.lead_feedback.c.contact_id, s.lead_feedback.c.verdict, s.lead_feedback.c.reason,
                                   s.lead_feedback.c.decided_by).order_by(s.lead_feedback.c.feedback_id)).all()
        actions = conn.execute(select(s.audit_log.c.action).where(s.audit_log.c.action.like("lead.%"))).scalars().all()
    assert rows == [("c1", "rejected", "no_budget", "local-admin"), ("c2", "rejected", "no_budget", "local-admin"),
                    ("c1", "accepted", None, "local-admin"), ("c3", "accepted", None, "local-admin")]
    assert actions == ["lead.reject", "lead.reject", "lead.accept", "lead.accept"]


def test_a_rejection_without_a_reason_says_what_to_do_and_saves_nothing(tiny_store):
    _add_mqls(tiny_store)
    at = _open_tab(run_app("pages/sales.py", Q1), "sales_tabs", "Lead feedback")
    _save(at, ["c4"], "rejected", "")
    assert any("A rejection needs a reason" in e.value for e in at.error)
    engine = open_store(StoreSettings(tiny_store, "test"))
    with engine.connect() as conn:
        assert conn.execute(select(s.lead_feedback)).first() is None


def test_marketing_sees_acceptance_and_reasons_by_source_and_campaign(tiny_store):
    _add_mqls(tiny_store)
    at = _open_tab(run_app("pages/sales.py", Q1), "sales_tabs", "Lead feedback")
    _save(at, ["c1", "c4"], "rejected", "not_a_fit")
    _save(at, ["c2"], "accepted")
    _open_tab(run_app("pages/marketing.py", at=at), "mkt_tabs", "Sales feedback")
    frames = [d.value for d in at.dataframe]
    by_source = next(f for f in frames if "source" in f.columns and "accepted" in f.columns)
    paid = by_source[by_source["source"] == "Paid search"].iloc[0]  # Ann rejected (not a fit), Ben accepted
    assert (paid["mqls"], paid["reviewed"], paid["accepted"], paid["rejected"], paid["Not a fit"]) == (2, 2, 1, 1, 1)
    assert paid["acceptance_rate"] == 0.5
    by_campaign = next(f for f in frames if "campaign" in f.columns and "accepted" in f.columns)
    assert dict(zip(by_campaign["campaign"], by_campaign["rejected"])) == {"spring": 1, "(none)": 0, "seo": 1}


def test_ceo_scorecard_shows_nps(tiny_store):
    engine = open_store(StoreSettings(tiny_store, "test"))
    with engine.begin() as conn:  # 10, 9, 3 in Q1: (2 - 1) / 3 = +33.3
        conn.execute(s.nps_responses.insert(), [
            {"origin": "csv", "response_key": f"r{i}", "email": f"x{i}@client.example",
             "submitted_at": dt.datetime(2026, 2, 1 + i), "score": score} for i, score in enumerate((10, 9, 3))])
        bump_data_version(conn)
    at = run_app("pages/ceo.py", Q1)
    assert tiles(at)[REGISTRY["nps"].label] == "+33.3"
