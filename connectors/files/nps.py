"""NPS survey answers: who answered (the contact's email or HubSpot contact id), when, and the 0-10 score.

Reads HubSpot's feedback submissions export and any generic file with those columns; header
labels such as "Email", "Contact ID", "Submitted at" / "Submission date", "Score" / "Rating" are
recognised without a mapping. One row is one answer: the same contact answering at the same time
is the same answer, so a corrected file replaces it instead of counting it twice. Each answer is
linked to the stored contact with that HubSpot id, else that email (case ignored); an answer that
matches no contact is kept (it counts in the company-wide NPS, not in region or product-line cuts).
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, Engine, and_, func, select

from store import schema as s

from . import history
from .mapping import Field, Mapping, read_mapped
from .report import Parsed

FIELDS = [
    Field("contact_id", "text", False, ("contact id", "hubspot contact id", "contact record id", "record id (contact)",
                                        "hs_contact_id", "contact_id", "associated contact id", "contact"), 64),
    Field("email", "text", False, ("email", "e-mail", "email address", "contact email", "contact: email",
                                   "hs_contact_email_rollup", "courriel"), 255),
    Field("submitted_at", "datetime", True, ("submitted at", "submission date", "submitted on", "submitted",
                                             "submission timestamp", "created at", "create date", "date",
                                             "date de soumission")),
    Field("score", "number", True, ("score", "rating", "nps score", "nps", "response value", "hs_value", "value",
                                    "note")),
]
ORIGIN = "csv"


def response_key(contact_id: str | None, email: str | None, submitted_at) -> str:
    """An answer's identity in its file: who answered and when (to the second)."""
    who = f"contact:{contact_id}" if contact_id else f"email:{(email or '').strip().lower()}"
    return f"{who}|{submitted_at:%Y-%m-%dT%H:%M:%S}"[:255]


def read_nps(data: bytes, file_name: str, mapping: Mapping, engine: Engine | None = None) -> Parsed:
    """Parse and validate survey answers: a whole score from 0 to 10, a submission date, and an
    email or a contact id on every row; two rows of one answer (same contact, same time) are both
    refused (which one is right is unknown)."""
    report, _table, records = read_mapped(data, file_name, "nps", FIELDS, mapping)
    rows, seen = [], {}
    for line_no, r in records:
        contact_id = (r.get("contact_id") or "").strip() or None
        email = (r.get("email") or "").strip().lower() or None
        if not contact_id and not email:
            report.add(line_no, "email", "", "an answer needs the contact's email or HubSpot contact id")
            continue
        if email and ("@" not in email or " " in email):
            report.add(line_no, "email", r["email"], "not an email address (expected name@company.com)")
            continue
        score = r["score"]
        if score != int(score) or not 0 <= score <= 10:
            report.add(line_no, "score", r["score"], "an NPS score is a whole number from 0 to 10")
            continue
        key = response_key(contact_id, email, r["submitted_at"])
        seen.setdefault(key, []).append(line_no)
        rows.append({"origin": ORIGIN, "response_key": key, "contact_id": contact_id, "email": email,
                     "submitted_at": r["submitted_at"], "score": int(score), "is_deleted": False})
    for key, lines in seen.items():
        if len(lines) > 1:
            for ln in lines:
                report.add(ln, "submitted_at", key.split("|", 1)[1], "the same contact answered at the same time on "
                           f"lines {', '.join(map(str, lines))}; which answer is right is unknown")
    rows = [r for r in rows if len(seen[r["response_key"]]) == 1]
    if rows and engine is not None:
        unmatched = len(rows) - len(_match_contacts(engine, rows))
        if unmatched:
            report.add(0, "email", "", f"{unmatched} answer(s) match no contact in the store (by contact id or "
                       "email): they count in the company-wide NPS, not in region or product-line cuts", "warning")
    report.rows_accepted = len(rows)
    report.rows_rejected = len({p.line for p in report.errors if p.line > 1})
    if rows:
        report.period = (min(r["submitted_at"] for r in rows).date(), max(r["submitted_at"] for r in rows).date())
    return Parsed(report, rows, {})


def _match_contacts(conn_or_engine, rows: list[dict]) -> dict[str, str]:
    """{response_key: stored contact id} for the answers whose contact id or email the store knows."""
    c = s.contacts
    ids = sorted({r["contact_id"] for r in rows if r["contact_id"]})
    emails = sorted({r["email"] for r in rows if r["email"]})

    def run(conn) -> tuple[set, dict]:
        known, by_email = set(), {}
        for i in range(0, len(ids), 500):
            known |= set(conn.execute(select(c.c.contact_id).where(c.c.contact_id.in_(ids[i:i + 500]),
                                                                   ~c.c.is_deleted)).scalars())
        for i in range(0, len(emails), 500):
            for cid, email in conn.execute(select(c.c.contact_id, func.lower(c.c.email))
                                           .where(func.lower(c.c.email).in_(emails[i:i + 500]), ~c.c.is_deleted)
                                           .order_by(c.c.contact_id)).all():
                by_email.setdefault(email, cid)
        return known, by_email

    if isinstance(conn_or_engine, Engine):
        with conn_or_engine.connect() as conn:
            known, by_email = run(conn)
    else:
        known, by_email = run(conn_or_engine)
    out = {}
    for r in rows:
        cid = r["contact_id"] if r["contact_id"] in known else by_email.get(r["email"] or "")
        if cid:
            out[r["response_key"]] = cid
    return out


def write_nps(conn: Connection, parsed: Parsed, import_id: int, replace: bool = False) -> tuple[dict, str]:
    """Insert the file's answers, each linked to its stored contact. An earlier file answer of the
    same contact at the same time is replaced; with `replace`, so is every file answer of the
    period. ({import that had brought the replaced rows: count}, the rule applied)."""
    t = s.nps_responses
    start, end = parsed.report.period
    scope = and_(t.c.origin == ORIGIN, t.c.submitted_at >= dt.datetime.combine(start, dt.time()),
                 t.c.submitted_at < dt.datetime.combine(end + dt.timedelta(days=1), dt.time()))
    if replace:
        rule = f"asked to replace: the survey answers from files from {start} to {end}"
        replaced = history.replace_rows(conn, t, scope, import_id)
    else:
        rule = "same contact and submission time"
        keys = {r["response_key"] for r in parsed.rows}
        replaced = history.replace_rows(conn, t, t.c.response_key.in_(sorted(keys)) if len(keys) <= 500 else scope,
                                        import_id, keep=lambda row: row["origin"] == ORIGIN and row["response_key"] in keys)
    matched = _match_contacts(conn, parsed.rows)
    rows = [dict(r, contact_id=matched.get(r["response_key"]), import_id=import_id) for r in parsed.rows]
    for i in range(0, len(rows), 5000):
        conn.execute(t.insert(), rows[i:i + 5000])
    return replaced, rule
