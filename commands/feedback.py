"""Sales' verdict on qualified leads: who may give it, storing it, and writing it back to HubSpot.

`review_leads` is what the Sales page's **Lead feedback** tab (one lead or many at once) and
`cli.py feedback accept|reject` call. A user with `leads.review` (any role) judges the leads they
own (the contact's HubSpot owner has their email); `leads.review_any` (editors: sales managers)
judges anyone's. The reasons come from the shared definitions (lead_feedback.rejection_reasons).
The verdicts are stored and audited in one transaction (store/lead_feedback.py); when
`HUBSPOT_WRITE_LEAD_FEEDBACK` is on, they are then written to the contacts in HubSpot
(connectors/hubspot/writeback.py) and each stored verdict records whether that worked and why not.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from typing import Iterable

from sqlalchemy import Engine, select

from auth import PermissionDenied, User, can, require
from connectors.hubspot import settings as hs
from connectors.hubspot.client import ClientSettings
from connectors.hubspot.writeback import write_back_enabled, write_contact_properties
from metrics import get_definitions
from store import open_store, schema as s
from store.lead_feedback import FeedbackError, Verdict, mark_written, record_verdicts

HUBSPOT_ORIGINS = ("hubspot", "csv")  # contacts that exist in HubSpot (synced, or from its CSV export)


@dataclass
class ReviewResult:
    verdicts: list[Verdict]
    write_back: bool = False  # the setting was on
    written: int = 0  # verdicts written to HubSpot
    not_written: dict[str, str] = field(default_factory=dict)  # contact id -> why not

    @property
    def message(self) -> str:
        n = len(self.verdicts)
        what = self.verdicts[0].verdict if self.verdicts else "saved"
        text = f"{n} lead{'s' if n != 1 else ''} {what}."
        if self.write_back:
            text += f" Written to HubSpot: {self.written}."
            if self.not_written:
                reasons = sorted(set(self.not_written.values()))
                text += f" Not written for {len(self.not_written)}: " + "; ".join(reasons[:3])
        return text


def _owners(engine: Engine, ids: list[str]) -> dict[str, tuple[str | None, str]]:
    """{contact id: (its owner's email, origin)}."""
    c, o = s.contacts, s.owners
    out: dict[str, tuple[str | None, str]] = {}
    with engine.connect() as conn:
        for i in range(0, len(ids), 500):
            for cid, email, origin in conn.execute(
                    select(c.c.contact_id, o.c.email, c.c.origin).select_from(c.outerjoin(o, o.c.owner_id == c.c.owner_id))
                    .where(c.c.contact_id.in_(ids[i:i + 500]))).all():
                out[cid] = ((email or "").strip().lower() or None, origin)
    return out


def review_leads(engine: Engine, user: User, contact_ids: Iterable[str], verdict: str, reason: str | None = None,
                 note: str | None = None, *, write_back: bool | None = None,
                 hubspot: ClientSettings | None = None) -> ReviewResult:
    """Accept or reject leads as `user`; PermissionDenied for a role without leads.review,
    FeedbackError (nothing saved) for someone else's lead without leads.review_any, or bad input."""
    require("leads.review", user)
    ids = list(dict.fromkeys(str(x).strip() for x in contact_ids if str(x).strip()))
    owners = _owners(engine, ids)
    if not can(user, "leads.review_any"):
        me = (user.email or "").strip().lower()
        others = [cid for cid in ids if cid in owners and owners[cid][0] != me]
        if others:
            raise FeedbackError(f"You may accept or reject only the leads you own; {len(others)} of these are "
                                f"someone else's ({', '.join(others[:5])}{' ...' if len(others) > 5 else ''}). "
                                "A sales manager (editor role) may judge any lead. Nothing was saved.")
    reasons = get_definitions(engine).rejection_reasons
    verdicts = record_verdicts(engine, ids, verdict, reason, user.actor, reasons=reasons, note=note)
    result = ReviewResult(verdicts)
    if not (write_back_enabled() if write_back is None else write_back):
        return result
    result.write_back = True
    wanted = {v.contact_id: {hs.VERDICT_PROPERTY: v.verdict, hs.REJECTION_REASON_PROPERTY: v.reason or ""}
              for v in verdicts if owners.get(v.contact_id, (None, ""))[1] in HUBSPOT_ORIGINS}
    answers = write_contact_properties(wanted, settings=hubspot) if wanted else {}
    outcome = {}
    for v in verdicts:
        why = answers.get(v.contact_id, "not a HubSpot contact (demo data): nothing to write back")
        outcome[v.feedback_id] = why
        if why:
            result.not_written[v.contact_id] = why
        else:
            result.written += 1
    mark_written(engine, outcome)
    return result


# --- cli.py feedback ----------------------------------------------------------------------------

def register(subparsers) -> None:
    p = subparsers.add_parser("feedback", help="accept or reject qualified leads (sales feedback to marketing)",
                              description="Record sales' verdict on leads: accepted, or rejected with a reason "
                                          "from the shared definitions (lead_feedback.rejection_reasons). "
                                          f"With {hs.WRITE_BACK_ENV}=1 the verdict is also written to the "
                                          "HubSpot contact.")
    sub = p.add_subparsers(dest="feedback_command", metavar="ACTION", required=True)
    for name in ("accept", "reject"):
        a = sub.add_parser(name, help=f"{name} one or more leads (HubSpot contact ids)")
        a.add_argument("contact_ids", nargs="+", metavar="CONTACT_ID")
        if name == "reject":
            a.add_argument("--reason", "-r", required=True, help="a reason id, e.g. no_budget")
        a.add_argument("--note", help="a free-text note kept with the verdict")
        a.add_argument("--as", dest="actor", required=True, help="who gives the verdict (their email)")
        a.set_defaults(handler=_cmd_review, verdict="accepted" if name == "accept" else "rejected")


def _cmd_review(args: argparse.Namespace) -> int:
    engine = open_store()
    # the command line is the server operator's: it may judge any lead, named as --as
    user = User(email=args.actor.strip().lower(), name=args.actor, role="admin")
    try:
        result = review_leads(engine, user, args.contact_ids, args.verdict, getattr(args, "reason", None), args.note)
    except (FeedbackError, PermissionDenied) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(result.message)
    return 0


__all__ = ["ReviewResult", "register", "review_leads"]
