"""Issue #17: the budget import takes `owner` (the HubSpot owner's email or owner id) and `team`
columns, so a quota is a budget line per owner or team and month. Unknown owners and teams,
an owner outside the team named beside it, and a quota line narrowed to a region are row errors
naming the line; a quota line sits beside the company's line of the same month and metric, and
re-importing a rep's line replaces only that line."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from connectors.files import history
from connectors.files.importer import import_file, read_file
from store import schema as s

OWNERS = [
    {"owner_id": "101", "email": "alice@acme.test", "first_name": "Alice", "last_name": "Martin",
     "team_name": "Enterprise", "origin": "hubspot"},
    {"owner_id": "102", "email": "Bob@Acme.test", "first_name": "Bob", "last_name": "Stone",
     "team_name": "Mid-Market", "origin": "hubspot"},
]


def _owners(engine) -> None:
    with engine.begin() as conn:
        conn.execute(s.owners.insert(), OWNERS)


def _lines(engine) -> list[tuple]:
    b = s.budgets
    with engine.connect() as conn:
        return conn.execute(select(b.c.month, b.c.region, b.c.owner_id, b.c.team, b.c.metric, b.c.value)
                            .order_by(b.c.month, b.c.owner_id, b.c.team, b.c.region)).all()


def test_quota_lines_by_email_id_and_team_are_stored_beside_the_company_line(engine):
    _owners(engine)
    data = (b"month,region,owner,team,metric,value\n"
            b"2024-01,,,,target_revenue,1000\n"
            b"2024-01,,alice@ACME.test,,target_revenue,300\n"   # email, any case
            b"2024-01,,102,Mid-Market,target_revenue,200\n"      # owner id, with the owner's own team
            b"2024-01,,,enterprise,target_revenue,450\n")       # team, any case
    report = import_file(engine, "budgets", data, "quotas.csv")
    assert report.ok, [(p.line, p.reason) for p in report.errors]
    jan = dt.date(2024, 1, 1)
    assert _lines(engine) == [(jan, "", "", "", "target_revenue", 100000.0),
                              (jan, "", "", "Enterprise", "target_revenue", 45000.0),
                              (jan, "", "101", "", "target_revenue", 30000.0),
                              (jan, "", "102", "", "target_revenue", 20000.0)]
    again = import_file(engine, "budgets", b"month,owner,metric,value\n2024-01,alice@acme.test,target_revenue,350\n",
                        "alice.csv")
    assert again.rows_replaced == 1  # Alice's line only: Bob's, the team's and the company's stay
    assert [r[-1] for r in _lines(engine)] == [100000.0, 45000.0, 35000.0, 20000.0]
    history.undo_import(engine, again.import_id, "test")
    assert [r[-1] for r in _lines(engine)] == [100000.0, 45000.0, 30000.0, 20000.0]


def test_unknown_owner_or_team_and_misplaced_quota_lines_are_row_errors(engine):
    _owners(engine)
    data = (b"month,region,owner,team,metric,value\n"
            b"2024-01,,carol@acme.test,,target_revenue,1\n"
            b"2024-01,,,Partners,target_revenue,1\n"
            b"2024-01,,alice@acme.test,Mid-Market,target_revenue,1\n"
            b"2024-01,France,alice@acme.test,,target_revenue,1\n"
            b"2024-01,,101,,target_revenue,2\n"
            b"2024-01,,alice@acme.test,,target_revenue,3\n")
    report = read_file("budgets", data, "q.csv", engine=engine).report
    got = [(p.line, p.column, p.value, p.reason) for p in report.errors]
    assert got[:4] == [
        (2, "owner", "carol@acme.test",
         "unknown owner: give the HubSpot owner's email or owner id (the store knows 2 owners)"),
        (3, "team", "Partners", "unknown team (the store's HubSpot teams: Enterprise, Mid-Market)"),
        (4, "team", "Mid-Market", "owner alice@acme.test is not in team Mid-Market (HubSpot puts them in "
                                  "Enterprise): fix the team or leave it empty"),
        (5, "owner", "alice@acme.test", "a quota line is set for an owner or a team over every region and "
                                        "product line: leave region and product line empty on it")]
    # Alice by id and by email on two lines is one owner twice: neither line is taken
    assert [(p.line, p.reason.split(" (")[0]) for p in report.errors[4:]] == [
        (6, "duplicate budget line"), (7, "duplicate budget line")]
    assert report.rows_accepted == 0


def test_quota_lines_need_owners_in_the_store(engine):
    report = read_file("budgets", b"month,owner,metric,value\n2024-01,alice@acme.test,target_revenue,1\n",
                       "q.csv", engine=engine).report
    assert [(p.line, p.reason) for p in report.errors] == [
        (2, "unknown owner: give the HubSpot owner's email or owner id (the store knows no owner yet "
            "(sync HubSpot first))")]
