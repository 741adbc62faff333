"""`cli.py import nps FILE`: survey answers read from a generic file and from HubSpot's feedback
submissions export, validated whole, linked to their contacts, idempotent, undoable; the NPS they
give, worked by hand, on SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select

from connectors.files.history import undo_import
from connectors.files.importer import import_file
from metrics import Filters, compute_many
from store import schema as s

FILES = Path(__file__).resolve().parents[2] / "fixtures" / "files"
NOV = Filters(dt.date(2026, 11, 1), dt.date(2026, 11, 30))
NOV_DEC = Filters(dt.date(2026, 11, 1), dt.date(2026, 12, 31))


def _crm(engine) -> None:
    """Two companies (France: Platform deal; DACH: Analytics deal) and four contacts; Eve is unknown."""
    t0 = dt.datetime(2026, 1, 5)
    with engine.begin() as conn:
        conn.execute(s.companies.insert(), [
            {"company_id": "co-fr", "name": "Acme", "region": "France", "origin": "demo"},
            {"company_id": "co-de", "name": "Globex", "region": "DACH", "origin": "demo"}])
        conn.execute(s.contacts.insert(), [
            {"contact_id": cid, "email": email, "company_id": co, "created_at": t0, "origin": "demo"}
            for cid, email, co in (("c-ana", "ana@acme.fr", "co-fr"), ("c-bob", "bob@globex.de", "co-de"),
                                   ("c-carl", "Carl@Globex.de", "co-de"), ("c-dora", "dora@acme.fr", "co-fr"))])
        conn.execute(s.deals.insert(), [
            {"deal_id": "d-fr", "pipeline_id": "default", "stage_id": "qualifiedtobuy", "created_at": t0,
             "company_id": "co-fr", "product_line": "Platform", "amount_cents": 100_00, "origin": "demo"},
            {"deal_id": "d-de", "pipeline_id": "default", "stage_id": "qualifiedtobuy", "created_at": t0,
             "company_id": "co-de", "product_line": "Analytics", "amount_cents": 100_00, "origin": "demo"}])


def _nps(engine, f: Filters) -> tuple:
    values = compute_many(engine, ["nps", "nps_responses"], f)
    return values["nps"].value, values["nps_responses"].value


def test_generic_file_gives_the_hand_worked_nps(engine):
    _crm(engine)
    data = (FILES / "nps_generic.csv").read_bytes()
    report = import_file(engine, "nps", data, "nps_generic.csv", actor="cmo@acme.com")
    assert report.status == "success", report.problems
    assert report.rows_accepted == 6 and report.period == (dt.date(2026, 11, 2), dt.date(2026, 12, 1))
    assert [p.reason for p in report.warnings] == [
        "1 answer(s) match no contact in the store (by contact id or email): they count in the company-wide NPS, "
        "not in region or product-line cuts"]
    with engine.connect() as conn:
        rows = conn.execute(select(s.nps_responses.c.email, s.nps_responses.c.contact_id, s.nps_responses.c.score)
                            .order_by(s.nps_responses.c.submitted_at)).all()
    # the email is matched without case (Carl@Globex.de), the contact id directly (c-bob)
    assert rows == [("ana@acme.fr", "c-ana", 10), (None, "c-bob", 9), ("carl@globex.de", "c-carl", 4),
                    ("dora@acme.fr", "c-dora", 7), ("eve@unknown.example", None, 10), ("ana@acme.fr", "c-ana", 7)]
    # November: 10, 9, 4, 7, 10 -> promoters 3, detractors 1 of 5: (3 - 1) / 5 = +40
    assert _nps(engine, NOV) == (40.0, 5)
    # November and December: one more passive (7) -> (3 - 1) / 6 = 33.3
    assert _nps(engine, NOV_DEC) == (33.3, 6)
    # through the contact's company: France (Ana 10, Dora 7) = +50; DACH (Bob 9, Carl 4) = 0; Eve in neither
    assert _nps(engine, Filters(NOV.start, NOV.end, regions=("France",))) == (50.0, 2)
    assert _nps(engine, Filters(NOV.start, NOV.end, regions=("DACH",))) == (0.0, 2)
    assert _nps(engine, Filters(NOV.start, NOV.end, product_lines=("Platform",))) == (50.0, 2)
    assert _nps(engine, Filters(NOV.start, NOV.end, product_lines=("Analytics",))) == (0.0, 2)
    owner_cut = compute_many(engine, ["nps"], Filters(NOV.start, NOV.end, owners=("o1",)))["nps"]
    assert owner_cut.value is None and "clear the owner filter" in owner_cut.reason
    with engine.connect() as conn:
        audit = conn.execute(select(s.audit_log.c.actor, s.audit_log.c.action, s.audit_log.c.target)).all()
    assert audit == [("cmo@acme.com", "import", "nps: nps_generic.csv")]


def test_same_file_twice_is_skipped_and_undo_takes_it_back(engine):
    _crm(engine)
    data = (FILES / "nps_generic.csv").read_bytes()
    first = import_file(engine, "nps", data, "nps_generic.csv")
    assert import_file(engine, "nps", data, "nps_generic.csv").status == "skipped"
    # a corrected file (Carl's 4 was a 9) replaces the same answer instead of adding one
    fixed = data.replace(b"2026-11-04 10:30,4", b"2026-11-04 10:30,9")
    second = import_file(engine, "nps", fixed, "nps_generic_fixed.csv")
    assert second.status == "success" and second.rows_replaced == 6
    # November: 10, 9, 9, 7, 10 -> (4 - 0) / 5 = +80
    assert _nps(engine, NOV) == (80.0, 5)
    undo_import(engine, second.import_id, "cmo@acme.com")
    assert _nps(engine, NOV) == (40.0, 5)
    undo_import(engine, first.import_id, "cmo@acme.com")
    values = compute_many(engine, ["nps", "nps_responses"], NOV)
    assert values["nps"].value is None and "no survey answers in the store yet" in values["nps"].reason


def test_hubspot_export_reads_without_a_mapping(engine):
    _crm(engine)
    data = (FILES / "nps_hubspot_export.csv").read_bytes()
    report = import_file(engine, "nps", data, "feedback-submissions.csv")
    assert report.status == "success", report.problems
    # Ana 9 (promoter), Carl 2 (detractor): (1 - 1) / 2 = 0
    assert _nps(engine, Filters(dt.date(2026, 11, 10), dt.date(2026, 11, 11))) == (0.0, 2)
    assert import_file(engine, "nps", data, "feedback-submissions.csv", mapping="hubspot").status == "success"


def test_a_bad_file_is_refused_whole_with_every_problem(engine):
    _crm(engine)
    data = ("email,contact id,submission date,rating\n"
            "ana@acme.fr,,2026-11-02,11\n"
            "bob@globex.de,,2026-11-02,7.5\n"
            ",,2026-11-02,8\n"
            "dora@acme.fr,,not a date,8\n"
            "carl@globex.de,,2026-11-03,9\n").encode()
    report = import_file(engine, "nps", data, "bad.csv")
    assert report.status == "rejected"
    assert sorted((p.line, p.reason.split(":")[0]) for p in report.errors) == [
        (2, "an NPS score is a whole number from 0 to 10"), (3, "an NPS score is a whole number from 0 to 10"),
        (4, "an answer needs the contact's email or HubSpot contact id"), (5, "unparseable date")]
    with engine.connect() as conn:
        assert conn.execute(select(s.nps_responses)).first() is None
