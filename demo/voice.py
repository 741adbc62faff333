"""The demo's customer voice: sales' verdicts on the qualified leads and NPS survey answers.

Deterministic per (seed, block), drawn from their own random stream so the CRM and finance rows
stay as they were. Owners judge most MQLs within four days of qualification (older MQLs more
often than last week's); weak sources are rejected more (paid social, other campaigns), leads
that went on to become SQLs rarely. Customers answer an NPS survey about once a quarter; scores
lean positive, lower in North America, with a few detractors everywhere.
"""
from __future__ import annotations

import datetime as dt
from random import Random

from .crm import COLUMNS as CRM_COLUMNS
from .timeline import Timeline, ts

COLUMNS = {
    "lead_feedback": ("contact_id", "verdict", "reason", "note", "decided_by", "decided_at"),
    "nps_responses": ("origin", "response_key", "contact_id", "email", "submitted_at", "score", "is_deleted"),
}
# Rejection reason ids of metrics/definitions.yaml (lead_feedback.rejection_reasons; the demo does
# not read the metric layer: tests/demo checks they are the definitions' own), with their weights.
REASONS = (("not_a_fit", 30), ("no_budget", 20), ("no_project", 20), ("bad_contact_data", 12), ("duplicate", 8),
           ("other", 10))
REJECT_RATE = {"PAID_SOCIAL": 0.45, "OTHER_CAMPAIGNS": 0.4, "DIRECT_TRAFFIC": 0.3, "EMAIL_MARKETING": 0.3,
               "PAID_SEARCH": 0.25, "SOCIAL_MEDIA": 0.3, "ORGANIC_SEARCH": 0.18, "OFFLINE": 0.12, "REFERRALS": 0.08}
NOTES = {"not_a_fit": "Too small for us", "no_budget": "Budget frozen until next year",
         "no_project": "Just browsing", "bad_contact_data": "Phone and email bounce",
         "duplicate": "Already in a deal with a colleague", "other": "Student"}
SURVEY_EVERY = dt.timedelta(days=91)
_C = {name: i for i, name in enumerate(CRM_COLUMNS["contacts"])}


def _when(text: str | None) -> dt.datetime | None:
    """A contact row's datetime (written as text by demo.timeline.ts) back as a datetime."""
    return None if text is None else dt.datetime.fromisoformat(text)


def _reason(rng: Random) -> str:
    pick = rng.random() * sum(w for _, w in REASONS)
    for reason, weight in REASONS:
        pick -= weight
        if pick < 0:
            return reason
    return REASONS[-1][0]


def _score(rng: Random, region: str | None) -> int:
    r = rng.random() + (0.08 if region == "North America" else 0.0)
    if r < 0.42:
        return rng.choice((9, 10, 10))
    if r < 0.74:
        return rng.choice((7, 8))
    return rng.choice((0, 2, 3, 4, 5, 6, 6))


def generate_voice_block(tl: Timeline, seed: int, block: int, contact_rows: list[tuple],
                         owner_emails: dict[str, str]) -> dict[str, list]:
    """Verdicts on the block's MQLs and the block's customers' NPS answers, as row tuples."""
    rng = Random(f"northstar-demo:{seed}:voice:{block}")
    out: dict[str, list] = {"lead_feedback": [], "nps_responses": []}
    for row in contact_rows:
        cid, mql, sql_at, customer = (row[_C["contact_id"]], _when(row[_C["became_mql_at"]]),
                                      row[_C["became_sql_at"]], _when(row[_C["became_customer_at"]]))
        if mql is not None:
            age = tl.now - mql
            judged = rng.random() < (0.8 if age > dt.timedelta(days=14) else 0.45)
            decided = mql + dt.timedelta(minutes=rng.randrange(60, 4 * 24 * 60))
            owner = owner_emails.get(row[_C["owner_id"]] or "")
            if judged and owner and decided < tl.now:
                p_reject = REJECT_RATE.get(row[_C["original_source"]] or "", 0.25) * (0.25 if sql_at else 1.0)
                if rng.random() < p_reject:
                    reason = _reason(rng)
                    note = NOTES[reason] if rng.random() < 0.3 else None
                    out["lead_feedback"].append((cid, "rejected", reason, note, owner, ts(decided)))
                else:
                    out["lead_feedback"].append((cid, "accepted", None, None, owner, ts(decided)))
        if customer is not None:
            n, at = 0, customer + SURVEY_EVERY
            while at < tl.now:
                if rng.random() < 0.4:
                    when = at + dt.timedelta(hours=rng.randrange(0, 240))
                    if when < tl.now:
                        out["nps_responses"].append(("demo", f"demo:{cid}:{n}", cid, row[_C["email"]], ts(when),
                                                     _score(rng, row[_C["region"]]), False))
                n, at = n + 1, at + SURVEY_EVERY
    return out
