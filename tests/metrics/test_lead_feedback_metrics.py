"""Sales feedback on leads and the burnt lead value, worked by hand on a small store, on SQLite
and PostgreSQL: verdicts stored with their history (the latest counts), the MQL acceptance rate
with its counts, rejection reasons by source and campaign, and what the burnt leads were worth."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from metrics import Filters, breakdown, compute_many
from metrics.details import contacts_behind
from metrics.feedback_details import (burnt_leads_valued, burnt_value_by_owner, feedback_by, lead_rejections,
                                      lead_review_queue)
from store import data_version, schema as s
from store.lead_feedback import FeedbackError, history, record_verdicts

Q4 = Filters(dt.date(2026, 10, 1), dt.date(2026, 12, 31))
NOW = dt.datetime(2026, 12, 5, 12, 0)
REASONS = {"not_a_fit": "Not a fit", "no_budget": "No budget", "no_project": "No project",
           "bad_contact_data": "Bad contact data", "duplicate": "Duplicate", "other": "Other"}
D = dt.datetime


def _contact(cid, source, owner=None, lead=D(2026, 3, 1), mql=None, customer=None, touch=None, campaign=None):
    return {"contact_id": cid, "email": f"{cid}@example.com", "original_source": source, "owner_id": owner,
            "campaign": campaign, "created_at": lead, "became_lead_at": lead, "became_mql_at": mql,
            "became_customer_at": customer, "first_sales_touch_at": touch, "origin": "demo"}


def _deal(did, amount, close, source=None, contact=None, stage="closedwon", deal_type="newbusiness"):
    return {"deal_id": did, "amount_cents": amount * 100, "currency": "EUR", "pipeline_id": "default",
            "stage_id": stage, "created_at": D(2025, 1, 1), "close_date": close, "deal_source": source,
            "contact_id": contact, "deal_type": deal_type, "origin": "demo"}


def build(engine) -> None:
    """Value window: the 12 months ending 2026-12-31 (2026).

    PAID_SEARCH: 10 leads, 2 customers (rate 0.2); won new business 10,000 + 20,000 (avg 15,000):
      a lead is worth 3,000. (A 2025 customer, a 2025 deal and a lost deal are outside.)
    ORGANIC_SEARCH: 4 leads, 1 customer (0.25); won 8,000 (an expansion of 100,000 is not new
      business): worth 2,000.
    OFFLINE: 2 leads, no customer: worth 0.
    Burnt in Q4 (now 5 Dec 12:00, SLA 48 h): b1 (paid, Alice), b2 (paid, touched too late, Bob),
      b3 (organic, Alice), b4 (offline, Bob) = 3,000 + 3,000 + 2,000 + 0 = 8,000; Alice 5,000, Bob 3,000.
      f1 was touched in 2 h; w1's window is still running.
    """
    contacts = [
        _contact("b1", "PAID_SEARCH", "o1", mql=D(2026, 10, 5), campaign="winter"),
        _contact("b2", "PAID_SEARCH", "o2", mql=D(2026, 11, 1), touch=D(2026, 11, 10), campaign="winter"),
        _contact("f1", "PAID_SEARCH", "o1", mql=D(2026, 10, 7, 9), touch=D(2026, 10, 7, 11), campaign="autumn"),
        *[_contact(f"p{i}", "PAID_SEARCH") for i in range(1, 6)],
        _contact("k1", "PAID_SEARCH", lead=D(2026, 2, 1), customer=D(2026, 6, 1)),
        _contact("k2", "PAID_SEARCH", lead=D(2026, 2, 1), customer=D(2026, 6, 1)),
        _contact("old", "PAID_SEARCH", lead=D(2025, 6, 1), customer=D(2025, 9, 1)),
        _contact("b3", "ORGANIC_SEARCH", "o1", mql=D(2026, 11, 15), campaign="seo"),
        _contact("w1", "ORGANIC_SEARCH", "o1", mql=D(2026, 12, 5)),
        _contact("k3", "ORGANIC_SEARCH", lead=D(2026, 3, 1), customer=D(2026, 7, 1)),
        _contact("q1", "ORGANIC_SEARCH"),
        _contact("b4", "OFFLINE", "o2", mql=D(2026, 10, 10)),
        _contact("q2", "OFFLINE"),
    ]
    deals = [_deal("dA", 10_000, dt.date(2026, 6, 15), "PAID_SEARCH", "k1"),
             _deal("dB", 20_000, dt.date(2026, 8, 1), None, "k2"),  # source from its contact
             _deal("dC", 8_000, dt.date(2026, 7, 10), "ORGANIC_SEARCH", "k3"),
             _deal("dD", 100_000, dt.date(2026, 9, 1), "ORGANIC_SEARCH", "k3", deal_type="existingbusiness"),
             _deal("dE", 50_000, dt.date(2025, 11, 1), "PAID_SEARCH", "old"),
             _deal("dF", 99_000, dt.date(2026, 5, 1), "PAID_SEARCH", "k1", stage="closedlost")]
    with engine.begin() as conn:
        conn.execute(s.owners.insert(), [
            {"owner_id": "o1", "email": "alice@example.com", "first_name": "Alice", "last_name": "Martin"},
            {"owner_id": "o2", "email": "bob@example.com", "first_name": "Bob", "last_name": "Stone"}])
        conn.execute(s.contacts.insert(), contacts)
        conn.execute(s.deals.insert(), deals)


def _verdicts(engine) -> None:
    """b1 rejected then accepted (latest counts), b2 no budget, b3 not a fit, f1 accepted; p1 (no
    MQL in Q4) accepted and left out; b4 and w1 not judged."""
    at = D(2026, 11, 20, 10)
    record_verdicts(engine, ["b1", "b2"], "rejected", "no_budget", "alice@example.com", reasons=REASONS, now=at)
    record_verdicts(engine, ["b1"], "accepted", None, "alice@example.com", reasons=REASONS,
                    now=at + dt.timedelta(hours=1))
    record_verdicts(engine, ["b3"], "rejected", "Not a fit", "alice@example.com", reasons=REASONS,
                    note="consultancy, not a buyer", now=D(2026, 12, 1, 9))
    record_verdicts(engine, ["f1", "p1"], "accepted", None, "alice@example.com", reasons=REASONS, now=at)


def test_burnt_lead_value_by_the_hand_worked_formula(engine):
    build(engine)
    values = compute_many(engine, ["burnt_lead_value", "leads_not_followed_up"], Q4, now=NOW)
    assert values["leads_not_followed_up"].value == 4
    assert values["burnt_lead_value"].value == 8_000.0
    assert [(seg, mv.value) for seg, mv in breakdown(engine, "burnt_lead_value", Q4, "owner")] == \
        [("Alice Martin", 5_000.0), ("Bob Stone", 3_000.0)]
    alice = compute_many(engine, ["burnt_lead_value"], Filters(Q4.start, Q4.end, owners=("o1",)), now=NOW)
    assert alice["burnt_lead_value"].value == 5_000.0
    owners = burnt_value_by_owner(engine, Q4)  # what the meeting and the digest read: ids and emails too
    assert owners.values.tolist() == [["o1", "Alice Martin", "alice@example.com", 2, 5_000.0],
                                      ["o2", "Bob Stone", "bob@example.com", 2, 3_000.0]]
    rows = burnt_leads_valued(engine, Q4)
    assert dict(zip(rows["contact_id"], rows["expected_value"])) == {"b1": 3_000.0, "b2": 3_000.0, "b3": 2_000.0,
                                                                     "b4": 0.0}


def test_verdicts_keep_their_history_and_the_latest_counts(engine):
    build(engine)
    before = data_version(engine)
    _verdicts(engine)
    assert data_version(engine) == before + 4
    assert [(h["verdict"], h["reason"]) for h in history(engine, "b1")] == [("rejected", "no_budget"),
                                                                           ("accepted", None)]
    with engine.connect() as conn:
        audit = conn.execute(select(s.audit_log.c.action, s.audit_log.c.target, s.audit_log.c.before_json)
                             .order_by(s.audit_log.c.audit_id)).all()
    assert [(a, t) for a, t, _ in audit] == [("lead.reject", "contact b1"), ("lead.reject", "contact b2"),
                                             ("lead.accept", "contact b1"), ("lead.reject", "contact b3"),
                                             ("lead.accept", "contact f1"), ("lead.accept", "contact p1")]
    assert '"verdict": "rejected"' in audit[2][2]  # the accept records what it replaced
    values = compute_many(engine, ["mqls", "mqls_accepted", "mqls_rejected", "mqls_reviewed",
                                   "mql_acceptance_rate"], Q4, now=NOW)
    assert {k: v.value for k, v in values.items()} == {"mqls": 6, "mqls_accepted": 2, "mqls_rejected": 2,
                                                       "mqls_reviewed": 4, "mql_acceptance_rate": 0.5}
    by_source = {seg: mv.value for seg, mv in breakdown(engine, "mql_acceptance_rate", Q4, "source")}
    assert by_source["PAID_SEARCH"] == pytest.approx(2 / 3) and by_source["ORGANIC_SEARCH"] == 0.0
    # the drill-down lists behind the counts: the rejected MQLs, newest verdict first
    rejected = contacts_behind(engine, "mqls_rejected", Q4)
    assert rejected[["contact_id", "reason"]].values.tolist() == [["b3", "Not a fit"], ["b2", "No budget"]]
    assert sorted(contacts_behind(engine, "mql_acceptance_rate", Q4)["contact_id"]) == ["b1", "b2", "b3", "f1"]
    offline = compute_many(engine, ["mql_acceptance_rate"], Filters(Q4.start, Q4.end, sources=("OFFLINE",)))
    assert offline["mql_acceptance_rate"].reason == "no MQL of this period has a sales verdict yet"


def test_feedback_tables_by_source_campaign_and_week(engine):
    build(engine)
    _verdicts(engine)
    src = feedback_by(engine, Q4, "source").set_index("source")
    assert src.loc["PAID_SEARCH", ["mqls", "reviewed", "accepted", "rejected", "No budget"]].tolist() == [3, 3, 2, 1, 1]
    assert src.loc["PAID_SEARCH", "acceptance_rate"] == pytest.approx(2 / 3)
    assert src.loc["ORGANIC_SEARCH", ["mqls", "reviewed", "rejected", "Not a fit"]].tolist() == [2, 1, 1, 1]
    assert src.loc["OFFLINE", "reviewed"] == 0 and pd_isna(src.loc["OFFLINE", "acceptance_rate"])
    camp = feedback_by(engine, Q4, "campaign").set_index("campaign")
    assert camp.loc["winter", ["mqls", "accepted", "rejected"]].tolist() == [2, 1, 1]
    assert camp.loc["(none)", "mqls"] == 2  # b4 and w1
    # the week of 30 Nov: b3's rejection (1 Dec); b2's (20 Nov) was an earlier week
    week = lead_rejections(engine, Filters(dt.date(2026, 11, 30), dt.date(2026, 12, 6)))
    assert week[["contact_id", "reason", "decided_by"]].values.tolist() == [["b3", "Not a fit", "alice@example.com"]]
    queue = lead_review_queue(engine, Q4)
    assert dict(zip(queue["contact_id"], [None if pd_isna(v) else v for v in queue["verdict"]])) == {
        "w1": None, "b3": "rejected", "b2": "rejected", "b4": None, "f1": "accepted", "b1": "accepted"}
    assert lead_review_queue(engine, Q4, pending_only=True)["contact_id"].tolist() == ["w1", "b4"]


def pd_isna(value) -> bool:
    return value is None or value != value


def test_bad_verdicts_are_refused_whole(engine):
    build(engine)
    with pytest.raises(FeedbackError, match="A rejection needs a reason"):
        record_verdicts(engine, ["b1"], "rejected", None, "alice@example.com", reasons=REASONS)
    with pytest.raises(FeedbackError, match="'too pricey' is not in the shared definitions"):
        record_verdicts(engine, ["b1"], "rejected", "too pricey", "alice@example.com", reasons=REASONS)
    with pytest.raises(FeedbackError, match="takes no rejection reason"):
        record_verdicts(engine, ["b1"], "accepted", "no_budget", "alice@example.com", reasons=REASONS)
    with pytest.raises(FeedbackError, match="1 lead\\(s\\) are not in the store.*nope"):
        record_verdicts(engine, ["b1", "nope"], "accepted", None, "alice@example.com", reasons=REASONS)
    with pytest.raises(FeedbackError, match="Pick at least one lead"):
        record_verdicts(engine, [], "accepted", None, "alice@example.com", reasons=REASONS)
    with engine.connect() as conn:
        assert conn.execute(select(s.lead_feedback)).first() is None
        assert conn.execute(select(s.audit_log)).first() is None


def test_two_verdicts_at_the_same_moment_the_later_recorded_counts(engine):
    """The latest verdict is found per contact (decided_at, then feedback_id): a tie on the time
    goes to the verdict recorded last, in the counts and in every list behind them."""
    build(engine)
    at = D(2026, 11, 20, 10)
    record_verdicts(engine, ["b1", "b2"], "rejected", "no_budget", "alice@example.com", reasons=REASONS, now=at)
    record_verdicts(engine, ["b2"], "accepted", None, "alice@example.com", reasons=REASONS, now=at)
    values = compute_many(engine, ["mqls_accepted", "mqls_rejected", "mqls_reviewed"], Q4, now=NOW)
    assert {k: v.value for k, v in values.items()} == {"mqls_accepted": 1, "mqls_rejected": 1, "mqls_reviewed": 2}
    assert contacts_behind(engine, "mqls_rejected", Q4)["contact_id"].tolist() == ["b1"]
    assert contacts_behind(engine, "mqls_accepted", Q4)["contact_id"].tolist() == ["b2"]
