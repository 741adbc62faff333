"""Writing sales' verdicts on leads: one `lead_feedback` row per lead and verdict, with who and
when, an audit row each, and the data version bumped, all in one transaction (every lead of a
bulk verdict is stored, or none). Earlier verdicts stay: the latest one counts (metrics/feedback.py).

Who may judge which lead, and which reasons exist, are the caller's business (commands/feedback.py
checks the role and the lead's owner, and passes the reasons of the shared definitions).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterable, Mapping

from sqlalchemy import Engine, func, select

from . import schema as s
from .audit import record_audit
from .db import bump_data_version, utcnow

VERDICTS = ("accepted", "rejected")
MAX_NOTE = 2000


class FeedbackError(ValueError):
    """A verdict that cannot be stored as given; the message says what to change."""


@dataclass(frozen=True)
class Verdict:
    feedback_id: int
    contact_id: str
    verdict: str
    reason: str | None
    decided_by: str
    decided_at: dt.datetime


def check_verdict(verdict: str, reason: str | None, reasons: Mapping[str, str]) -> str | None:
    """The reason to store (None when accepted); FeedbackError when the pair is not valid."""
    if verdict not in VERDICTS:
        raise FeedbackError(f"A verdict is 'accepted' or 'rejected' (got {verdict!r}).")
    reason = (reason or "").strip() or None
    if verdict == "accepted":
        if reason:
            raise FeedbackError("An accepted lead takes no rejection reason; leave the reason empty.")
        return None
    if not reason:
        raise FeedbackError("A rejection needs a reason: one of " + ", ".join(f"{k} ({v})" for k, v in reasons.items())
                            + ".")
    if reason not in reasons:
        by_label = {v.strip().lower(): k for k, v in reasons.items()}
        if reason.lower() in by_label:
            return by_label[reason.lower()]
        raise FeedbackError(f"Rejection reason {reason!r} is not in the shared definitions "
                            f"(lead_feedback.rejection_reasons): use one of {', '.join(reasons)}.")
    return reason


def latest(conn, contact_ids: Iterable[str]) -> dict[str, dict]:
    """{contact id: its latest verdict row} for the given contacts."""
    t = s.lead_feedback
    ids = sorted(set(contact_ids))
    out: dict[str, dict] = {}
    for i in range(0, len(ids), 500):
        rows = conn.execute(select(t).where(t.c.contact_id.in_(ids[i:i + 500]))
                            .order_by(t.c.contact_id, t.c.decided_at, t.c.feedback_id)).mappings().all()
        for r in rows:
            out[r["contact_id"]] = dict(r)
    return out


def record_verdicts(engine: Engine, contact_ids: Iterable[str], verdict: str, reason: str | None, actor: str, *,
                    reasons: Mapping[str, str], note: str | None = None,
                    now: dt.datetime | None = None) -> list[Verdict]:
    """Store `verdict` (with `reason` when rejected) on every lead of `contact_ids`, as `actor`.

    Refused whole (FeedbackError, nothing written) for an empty list, an unknown or deleted
    contact, a missing or unknown reason, or a note over 2,000 characters."""
    ids = list(dict.fromkeys(str(c).strip() for c in contact_ids if str(c).strip()))
    if not ids:
        raise FeedbackError("Pick at least one lead to accept or reject.")
    if not actor:
        raise FeedbackError("A verdict needs the name of who gives it.")
    reason = check_verdict(verdict, reason, reasons)
    note = (note or "").strip() or None
    if note and len(note) > MAX_NOTE:
        raise FeedbackError(f"The note is {len(note):,} characters long; keep it under {MAX_NOTE:,}.")
    at = now or utcnow()
    c, t = s.contacts, s.lead_feedback
    out: list[Verdict] = []
    with engine.begin() as conn:
        known: set[str] = set()
        for i in range(0, len(ids), 500):
            known |= set(conn.execute(select(c.c.contact_id).where(c.c.contact_id.in_(ids[i:i + 500]),
                                                                   ~c.c.is_deleted)).scalars())
        missing = [x for x in ids if x not in known]
        if missing:
            raise FeedbackError(f"{len(missing)} lead(s) are not in the store (or were deleted in HubSpot): "
                                f"{', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}. "
                                "Refresh the page or sync HubSpot, then try again; nothing was saved.")
        before = latest(conn, ids)
        for contact_id in ids:
            feedback_id = conn.execute(t.insert().values(
                contact_id=contact_id, verdict=verdict, reason=reason, note=note, decided_by=actor[:255],
                decided_at=at)).inserted_primary_key[0]
            prior = before.get(contact_id)
            record_audit(conn, actor, "lead.accept" if verdict == "accepted" else "lead.reject",
                         f"contact {contact_id}",
                         None if prior is None else {k: prior[k] for k in ("verdict", "reason", "decided_by",
                                                                           "decided_at")},
                         {"verdict": verdict, "reason": reason, "note": note, "feedback_id": feedback_id})
            out.append(Verdict(int(feedback_id), contact_id, verdict, reason, actor, at))
        bump_data_version(conn, "lead_feedback", "audit_log")
    return out


def mark_written(engine: Engine, results: Mapping[int, str | None], at: dt.datetime | None = None) -> None:
    """Record the HubSpot write-back of verdicts: {feedback_id: None (written) or why it was not}."""
    if not results:
        return
    t = s.lead_feedback
    at = at or utcnow()
    with engine.begin() as conn:
        for feedback_id, error in results.items():
            conn.execute(t.update().where(t.c.feedback_id == feedback_id).values(
                hubspot_written_at=None if error else at, hubspot_error=(error or None) and error[:1000]))
        bump_data_version(conn, "lead_feedback")


def history(engine: Engine, contact_id: str) -> list[dict]:
    """Every verdict given on a lead, oldest first."""
    t = s.lead_feedback
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(t).where(t.c.contact_id == contact_id)
                                              .order_by(t.c.decided_at, t.c.feedback_id)).mappings()]


def count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(s.lead_feedback)).scalar() or 0)


__all__ = ["FeedbackError", "MAX_NOTE", "VERDICTS", "Verdict", "check_verdict", "count", "history", "latest",
           "mark_written", "record_verdicts"]
