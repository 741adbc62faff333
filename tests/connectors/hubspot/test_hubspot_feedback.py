"""HubSpot and sales feedback against the fake server: NPS answers read from feedback submissions
(skipped, with the reason, when the token lacks the scope), and sales' verdicts on leads written
back to the contacts when the setting is on (refusals recorded, never lost)."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from auth import User
from commands.feedback import review_leads
from connectors.hubspot import settings as cfg
from connectors.hubspot.client import ClientSettings
from connectors.hubspot.sync import sync_hubspot
from fake_hubspot import FakeHubSpot, generate_account
from fake_hubspot.account import EPOCH
from hubspot_testkit import client_for
from metrics import Filters, compute_many
from store import schema as s
from store.lead_feedback import FeedbackError

READ_SCOPES = {"crm.objects.contacts.read", "crm.objects.companies.read", "crm.objects.deals.read",
               "crm.objects.line_items.read", "crm.objects.owners.read", "e-commerce"}
MANAGER = User("manager@example.com", "Manager", "editor")
NOV_1 = int((dt.datetime(2026, 11, 1) - EPOCH).total_seconds() * 1000)
DAY = 86_400_000


def _account():
    acct = generate_account(owners=4, companies=8, contacts=20, deals=6, products=3, archived_fraction=0.0)
    contacts = sorted(acct.live("contacts"), key=lambda r: int(r.id))
    # NPS: 10, 9, 8, 5 and a CSAT answer that is not NPS -> promoters 2, detractors 1 of 4 = +25
    for rec, score, day in zip(contacts, (10, 9, 8, 5), (1, 2, 3, 4)):
        acct.add_feedback(rec.id, score, NOV_1 + day * DAY)
    acct.add_feedback(contacts[4].id, 2, NOV_1 + 5 * DAY, survey_type="CSAT")
    return acct


def _settings(fake) -> ClientSettings:
    return ClientSettings(token=fake.token, host=fake.url, rate_limit=fake.rate_limit, window_s=fake.window_s,
                          headroom=0.0, timeout=(1.0, 2.0), attempts=3, backoff_s=0.002, max_backoff_s=0.02)


def test_sync_reads_nps_from_feedback_submissions(engine):
    with FakeHubSpot(_account(), window_s=1.0) as fake:
        result = sync_hubspot(engine, client_for(fake))
        assert result.status == "success" and result.notes == []
        assert result.counts["feedback_submissions"]["written"] == 4  # the CSAT answer is not NPS
        nov = Filters(dt.date(2026, 11, 1), dt.date(2026, 11, 30))
        values = compute_many(engine, ["nps", "nps_responses"], nov)
        assert (values["nps"].value, values["nps_responses"].value) == (25.0, 4)
        # an answer deleted in HubSpot leaves the NPS at the next sync: 10, 9, 8 -> +66.7
        gone = next(r for r in fake.account.live("feedback_submissions") if r.props["hs_value"] == "5")
        fake.account.archive("feedback_submissions", gone.id)
        sync_hubspot(engine, client_for(fake))
        values = compute_many(engine, ["nps", "nps_responses"], nov)
        assert (values["nps"].value, values["nps_responses"].value) == (66.7, 3)


def test_sync_without_the_feedback_scope_says_it_skipped_nps(engine):
    with FakeHubSpot(_account(), window_s=1.0, scopes=READ_SCOPES) as fake:
        result = sync_hubspot(engine, client_for(fake))
        assert result.status == "success"
        assert result.notes == [
            "NPS skipped: the HubSpot token lacks the crm.objects.feedback_submissions.read scope, so feedback "
            "submissions (survey answers) were not read. Grant it in the private app to read NPS from HubSpot, "
            "or import the answers with `cli.py import nps FILE`."]
        assert 403 in fake.statuses
        with engine.connect() as conn:
            assert conn.execute(select(s.nps_responses)).first() is None
            run = conn.execute(select(s.sync_runs)).mappings().one()
            contacts = conn.execute(select(s.contacts.c.contact_id)).scalars().all()
        assert run["status"] == "success" and "NPS skipped" in run["error"]
        assert len(contacts) == 20  # everything else was read


@pytest.fixture
def synced(engine):
    """A store synced from the fake (all scopes), the fake still running."""
    with FakeHubSpot(_account(), window_s=1.0) as fake:
        sync_hubspot(engine, client_for(fake))
        yield engine, fake


def _leads(engine, n: int) -> list[str]:
    with engine.connect() as conn:
        return conn.execute(select(s.contacts.c.contact_id).order_by(s.contacts.c.contact_id).limit(n)).scalars().all()


def test_verdicts_are_written_back_to_hubspot_when_enabled(synced):
    engine, fake = synced
    a, b, c = _leads(engine, 3)
    accepted = review_leads(engine, MANAGER, [a], "accepted", write_back=True, hubspot=_settings(fake))
    rejected = review_leads(engine, MANAGER, [b, c], "rejected", "no_budget", write_back=True,
                            hubspot=_settings(fake))
    assert (accepted.written, rejected.written, rejected.not_written) == (1, 2, {})
    assert rejected.message == "2 leads rejected. Written to HubSpot: 2."
    props = {cid: p for cid, p in fake.updates}
    assert props == {a: {cfg.VERDICT_PROPERTY: "accepted", cfg.REJECTION_REASON_PROPERTY: ""},
                     b: {cfg.VERDICT_PROPERTY: "rejected", cfg.REJECTION_REASON_PROPERTY: "no_budget"},
                     c: {cfg.VERDICT_PROPERTY: "rejected", cfg.REJECTION_REASON_PROPERTY: "no_budget"}}
    assert fake.account.objects["contacts"][b].props[cfg.VERDICT_PROPERTY] == "rejected"
    with engine.connect() as conn:
        rows = conn.execute(select(s.lead_feedback.c.contact_id, s.lead_feedback.c.hubspot_written_at,
                                   s.lead_feedback.c.hubspot_error)).all()
    assert all(w is not None and e is None for _, w, e in rows) and len(rows) == 3


def test_write_back_is_off_by_default(synced, monkeypatch):
    engine, fake = synced
    monkeypatch.delenv(cfg.WRITE_BACK_ENV, raising=False)
    result = review_leads(engine, MANAGER, _leads(engine, 1), "accepted", hubspot=_settings(fake))
    assert result.write_back is False and fake.updates == []
    assert result.message == "1 lead accepted."


def test_write_back_without_the_write_scope_keeps_the_verdict_and_says_why(engine):
    with FakeHubSpot(_account(), window_s=1.0, scopes=READ_SCOPES | {cfg.FEEDBACK_SCOPE}) as fake:
        sync_hubspot(engine, client_for(fake))
        (a,) = _leads(engine, 1)
        result = review_leads(engine, MANAGER, [a], "rejected", "not_a_fit", write_back=True,
                              hubspot=_settings(fake))
        assert result.written == 0 and fake.updates == []
        why = result.not_written[a]
        assert why == ("HubSpot refused the write: the private app lacks the crm.objects.contacts.write scope "
                       "(grant it, or turn the write-back off)")
        with engine.connect() as conn:
            row = conn.execute(select(s.lead_feedback)).mappings().one()
        assert (row["verdict"], row["reason"], row["hubspot_written_at"], row["hubspot_error"]) == \
            ("rejected", "not_a_fit", None, why)


def test_write_back_to_a_portal_without_the_properties_says_what_to_create(synced):
    engine, fake = synced
    fake.writable_contact_properties -= {cfg.VERDICT_PROPERTY}
    (a,) = _leads(engine, 1)
    result = review_leads(engine, MANAGER, [a], "accepted", write_back=True, hubspot=_settings(fake))
    assert result.written == 0
    assert "northstar_lead_verdict" in result.not_written[a] and "Create the contact properties" in result.not_written[a]


def test_an_owner_judges_only_their_own_leads(synced):
    engine, fake = synced
    with engine.connect() as conn:
        rows = conn.execute(select(s.contacts.c.contact_id, s.owners.c.email)
                            .join(s.owners, s.owners.c.owner_id == s.contacts.c.owner_id)
                            .order_by(s.contacts.c.contact_id)).all()
    mine_email = rows[0][1]
    mine = [cid for cid, email in rows if email == mine_email]
    theirs = [cid for cid, email in rows if email != mine_email][:1]
    seller = User(mine_email, "Seller", "viewer")
    assert len(review_leads(engine, seller, mine, "accepted", write_back=False).verdicts) == len(mine)
    with pytest.raises(FeedbackError, match="only the leads you own"):
        review_leads(engine, seller, mine + theirs, "rejected", "duplicate", write_back=False)
    with engine.connect() as conn:  # the refused batch saved nothing, not even the seller's own leads
        assert {r for r in conn.execute(select(s.lead_feedback.c.verdict)).scalars()} == {"accepted"}
