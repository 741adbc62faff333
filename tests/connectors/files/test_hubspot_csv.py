"""HubSpot CSV exports: the rows they give equal the rows the API sync gives for the same records.

An account of the fake HubSpot is synced through the API connector into one store, and
exported here as HubSpot's CSV export writes it (column labels, stage and pipeline labels, owner
names, enumeration labels) into another store; deals, contacts, companies and the deal
associations must then be identical, except `origin`.
"""
from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from connectors.files.hubspot_csv import lifecycle_value, source_value, upper_value
from connectors.files.importer import import_file, read_file
from connectors.hubspot.sync import sync_hubspot
from fake_hubspot import FakeHubSpot, generate_account
from store import StoreSettings, open_store, upsert
from store import schema as s
from fileimport_helpers import FIXTURES

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hubspot"))
from hubspot_testkit import client_for  # noqa: E402

SOURCE_LABELS = {"OFFLINE": "Offline Sources", "SOCIAL_MEDIA": "Organic Social", "AI_REFERRALS": "AI Referrals"}
LIFECYCLE_LABELS = {"subscriber": "Subscriber", "lead": "Lead", "marketingqualifiedlead": "Marketing Qualified Lead",
                    "salesqualifiedlead": "Sales Qualified Lead", "opportunity": "Opportunity", "customer": "Customer"}

DEAL_TYPE_LABELS = {"newbusiness": "New Business", "existingbusiness": "Existing Business"}


def _label(enum: str | None) -> str:
    """HubSpot's display label of an enumeration value: 'BEST_CASE' -> 'Best Case'."""
    return "" if enum is None else SOURCE_LABELS.get(enum, enum.replace("_", " ").title())


def _when(iso: str | None) -> str:
    """'2026-02-25T16:26:25.880Z' as the export writes it (kept to the millisecond here)."""
    return "" if not iso else iso.replace("T", " ").rstrip("Z")


def _csv(header: list[str], rows: list[list]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows([["" if v is None else v for v in r] for r in rows])
    return buf.getvalue().encode("utf-8")


def export_csvs(acct) -> dict[str, bytes]:
    """The account's live records as HubSpot's 'Export' writes them (labels, not internal values)."""
    owner = {o.id: f"{o.first_name} {o.last_name}" for o in acct.owners}
    pipe = {p["id"]: p["label"] for p in acct.pipelines}
    stage = {(p["id"], sid): label for p in acct.pipelines for sid, label, *_ in p["stages"]}
    out = {}
    comp = [[r.id, p.get("name"), p.get("domain"), _label(p.get("industry")), p.get("country"), p.get("region"),
             owner.get(p.get("hubspot_owner_id")), _when(p.get("createdate")), _when(p.get("hs_lastmodifieddate"))]
            for r in acct.live("companies") for p in [r.props]]
    out["companies"] = _csv(["Record ID", "Company name", "Company Domain Name", "Industry", "Country/Region",
                             "Region", "Company owner", "Create Date", "Last Modified Date"], comp)
    stages = ["lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer"]
    became = {"lead": "Became a Lead Date", "marketingqualifiedlead": "Became a Marketing Qualified Lead Date",
              "salesqualifiedlead": "Became a Sales Qualified Lead Date", "opportunity": "Became an Opportunity Date",
              "customer": "Became a Customer Date"}
    header = ["Record ID", "Email", "First Name", "Last Name", "Associated Company ID", "Contact owner", "Region",
              "Lifecycle Stage", "Lead Status", "Original Source", "Original Source Drill-Down 1",
              "Original Source Drill-Down 2", "Create Date", "Last Modified Date", "Date of first engagement",
              "Last Contacted", "Disqualification Reason"]
    header += [f'Date entered "{LIFECYCLE_LABELS[st]} (Lifecycle Stage Pipeline)"' for st in stages]
    header += [became[st] for st in stages]
    cont = []
    for r in acct.live("contacts"):
        p = r.props
        cont.append([r.id, p.get("email"), p.get("firstname"), p.get("lastname"), p.get("associatedcompanyid"),
                     owner.get(p.get("hubspot_owner_id")), p.get("region"), LIFECYCLE_LABELS[p["lifecyclestage"]],
                     _label(p.get("hs_lead_status")), _label(p.get("hs_analytics_source")),
                     p.get("hs_analytics_source_data_1"), p.get("hs_analytics_source_data_2"),
                     _when(p.get("createdate")), _when(p.get("lastmodifieddate")),
                     _when(p.get("hs_sa_first_engagement_date")), _when(p.get("notes_last_contacted")),
                     p.get("disqualification_reason")]
                    + [_when(p.get(f"hs_v2_date_entered_{st}")) for st in stages]
                    + [_when(p.get(f"hs_lifecyclestage_{st}_date")) for st in stages])
    out["contacts"] = _csv(header, cont)
    deals = []
    for r in acct.live("deals"):
        p = r.props
        companies = sorted(c for (d, c) in acct.deal_companies if d == r.id)
        primary = [c for (d, c), is_primary in acct.deal_companies.items() if d == r.id and is_primary]
        contacts = sorted(c for d, c in acct.deal_contacts if d == r.id)
        deals.append([r.id, p.get("dealname"), p.get("amount"), p.get("deal_currency_code"), pipe[p["pipeline"]],
                      stage[(p["pipeline"], p["dealstage"])], _when(p.get("createdate")), _when(p.get("closedate")),
                      owner.get(p.get("hubspot_owner_id")), p.get("region"), p.get("product_line"),
                      _label(p.get("hs_analytics_source")), p.get("closed_lost_reason"),
                      _label(p.get("hs_forecast_category")), _when(p.get("hs_lastmodifieddate")),
                      ";".join(primary), ";".join(companies), ";".join(contacts), DEAL_TYPE_LABELS.get(p.get("dealtype"))])
    out["deals"] = _csv(["Record ID", "Deal Name", "Amount", "Currency", "Pipeline", "Deal Stage", "Create Date",
                         "Close Date", "Deal owner", "Region", "Product Line", "Original Source Type",
                         "Closed Lost Reason", "Forecast category", "Last Modified Date",
                         "Associated Company IDs (Primary)", "Associated Company IDs", "Associated Contact IDs",
                         "Deal Type"],
                        deals)
    return out


def _table(engine, table, drop=("origin",)) -> set[tuple]:
    cols = [c for c in table.c if c.name not in drop]
    with engine.connect() as conn:
        return set(conn.execute(select(*cols)).all())


def test_hubspot_csv_exports_give_the_same_rows_as_the_api_sync(make_store_url, backend):
    acct = generate_account(seed=11, owners=4, companies=12, contacts=30, deals=20, products=3)
    api = open_store(StoreSettings(make_store_url(backend), "api store"))
    with FakeHubSpot(acct, window_s=1.0, rate_limit=100) as fake:
        assert sync_hubspot(api, client_for(fake)).status == "success"
    by_csv = open_store(StoreSettings(make_store_url(backend), "csv store"))
    with api.connect() as src, by_csv.begin() as dst:  # owners and pipelines come from a sync
        for t in (s.owners, s.pipelines, s.pipeline_stages):
            upsert(dst, t, [dict(r) for r in src.execute(select(t)).mappings()], [c.name for c in t.primary_key])
    files = export_csvs(acct)
    for obj in ("companies", "contacts", "deals"):
        report = import_file(by_csv, f"hubspot-{obj}", files[obj], f"hubspot-{obj}.csv", actor="test")
        assert report.status == "success" and report.ok, report.as_text()
        assert report.rows_accepted == len(acct.live(obj))
    for t in (s.companies, s.contacts, s.deals, s.deal_contacts, s.deal_companies):
        assert _table(by_csv, t) == _table(api, t), t.name
    with by_csv.connect() as conn:
        assert set(conn.execute(select(s.deals.c.origin)).scalars()) == {"csv"}


def test_hubspot_deals_fixture_by_hand(engine):
    with engine.begin() as conn:
        upsert(conn, s.owners, [{"owner_id": "11", "email": "jane@x.test", "first_name": "Jane",
                                 "last_name": "Doe"}], ["owner_id"])
    report = import_file(engine, "hubspot-deals", (FIXTURES / "hubspot_deals.csv").read_bytes(), "deals.csv")
    assert report.status == "success"
    assert [(p.line, p.value) for p in report.warnings] == [(3, "John Roe")]  # unknown owner, kept
    cols = ["deal_id", "name", "amount_cents", "currency", "pipeline_id", "stage_id", "owner_id", "company_id",
            "contact_id", "region", "product_line", "deal_source", "origin"]
    with engine.connect() as conn:
        got = [tuple(r) for r in conn.execute(select(*[s.deals.c[c] for c in cols]).order_by(s.deals.c.deal_id))]
        stages = dict(conn.execute(select(s.pipeline_stages.c.stage_id, s.pipeline_stages.c.is_won)).all())
    assert got == [("101", "Acme renewal", 1200050, "EUR", "default", "closedwon", "11", "501", "601", "EMEA",
                    "Platform", "PAID_SEARCH", "csv"),
                   ("102", "Globex pilot", None, "EUR", "default", "contractsent", None, None, None, "NA",
                    "Services", "ORGANIC_SEARCH", "csv")]
    assert stages["closedwon"] is True or stages["closedwon"] == 1  # default pipeline created


def test_hubspot_unmapped_stage_and_value_map(engine):
    data = b"Record ID,Deal Name,Deal Stage,Create Date\n7,X,Signed,2024-01-01 10:00\n8,Y,Closed Lost,2024-01-02\n"
    report = read_file("hubspot-deals", data, "d.csv", engine=engine).report
    assert [(p.line, p.column, p.value) for p in report.errors] == [(2, "Deal Stage", "Signed")]
    assert "unmapped stage" in report.errors[0].reason
    parsed = read_file("hubspot-deals", data, "d.csv", engine=engine,
                       mapping={"values": {"dealstage": {"Signed": "closedwon"}}})
    assert parsed.report.ok and [r["stage_id"] for r in parsed.rows] == ["closedwon", "closedlost"]


def test_hubspot_contacts_and_companies_fixtures(engine):
    for obj in ("companies", "contacts"):
        r = import_file(engine, f"hubspot-{obj}", (FIXTURES / f"hubspot_{obj}.csv").read_bytes(), f"{obj}.csv")
        assert r.status == "success", r.as_text()
    with engine.connect() as conn:
        ann = conn.execute(select(s.contacts).where(s.contacts.c.contact_id == "601")).mappings().one()
        acme = conn.execute(select(s.companies).where(s.companies.c.company_id == "501")).mappings().one()
    assert (ann["lifecycle_stage"], ann["lead_status"], ann["original_source"], ann["company_id"]) == \
        ("marketingqualifiedlead", "IN_PROGRESS", "PAID_SOCIAL", "501")
    assert str(ann["became_mql_at"]) == "2024-01-20 12:00:00" and str(ann["became_lead_at"]) == "2024-01-05 08:00:00"
    assert str(ann["first_sales_touch_at"]) == "2024-01-21 09:15:00"
    assert (acme["industry"], acme["country"], acme["origin"]) == ("COMPUTER_SOFTWARE", "France", "csv")


@pytest.mark.parametrize("label, value", [("Paid Search", "PAID_SEARCH"), ("Offline Sources", "OFFLINE"),
                                          ("Organic Social", "SOCIAL_MEDIA"), ("DIRECT_TRAFFIC", "DIRECT_TRAFFIC")])
def test_source_value(label, value):
    assert source_value(label) == value


def test_label_conversions():
    assert lifecycle_value("Sales Qualified Lead") == "salesqualifiedlead"
    assert upper_value("Attempted to Contact") == "ATTEMPTED_TO_CONTACT"


def test_hubspot_export_time_zone_to_utc(engine):
    data = b"Record ID,Deal Name,Deal Stage,Create Date,Close Date\n7,X,Closed Won,2024-07-01 10:30,2024-07-31\n"
    parsed = read_file("hubspot-deals", data, "d.csv", engine=engine, mapping={"options": {"timezone": "Europe/Paris"}})
    row = parsed.rows[0]
    assert str(row["created_at"]) == "2024-07-01 08:30:00"  # CEST is UTC+2
    assert str(row["close_date"]) == "2024-07-31"  # a date alone is not shifted
