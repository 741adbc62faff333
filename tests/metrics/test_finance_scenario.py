"""A tiny hand-built finance world (January 2025, a little of December and February), shared by
tests/metrics/test_finance_metrics.py and test_finance_details.py. Every expected figure in those
tests is worked out from the rows below (fixed rates: USD 0.92, GBP 1.17 to EUR).

Deals (won in January unless said; product line Platform except D2, Services):      Invoices (net of tax, EUR unless said):
  D1 France  900.00 EUR  won 8 Jan          INV-1    10 Jan  1000.00  D1  paid 20 Jan, tax 200
  D2 N.Am.   500.00 USD  won 14 Jan (=460)  INV-2    15 Jan   500 USD D2  open          (=460)
  D3 France 1200.00 EUR  won 20 Jan         CN-1     25 Jan  -100.00  D1  credit note, paid 28 Jan, tax -20
  D4 DACH    300.00 EUR  won 22 Jan         CN-2     26 Jan   +50.00  D2  credit note exported positive
  D5 France  300.00 EUR  won 20 Dec 2024    INV-3    12 Jan   700.00  D1  draft (never counts)
  D6 France  600.00 EUR  won 28 Dec 2024    INV-4    13 Jan   800.00  D3  void (never counts)
  D7 France 5000.00 EUR  open (contract)    INV-5    30 Dec   300.00  D5  paid 5 Jan, tax 60
                                            INV-8     6 Jan   600.00  D6  open
                                            INV-6     3 Feb   300.00  D4  open

Ledger (January only; February is not in the ledger yet):
  706100 C 1000 INV-1 | 706100 C 460 lib "Facture INV-2 Acme" | 709000 D 100 CN-1 | 706100 C 600 INV-8
  706100 C 250 X-9 (12 Jan) reversed by 706100 D 250 X-9 (13 Jan) | 708000 C 30 MISC (no invoice)
  411000 / 445710 / 512000 lines (not revenue) | 623100 D 300, 623100 C 20 (S&M 280) | 624100 D 99
Imported spend: Jan Google Ads 300 EUR France (inside the ledger's month: not added to S&M),
  Feb Google Ads 150 EUR France, Feb LinkedIn Ads 100 USD North America (=92).
Contacts: K1, K2 became customers in January; K3 in February; K1..K3 MQL in January.
"""
from __future__ import annotations

import datetime as dt
import json

from store import bump_data_version, schema as s
from store.db import utcnow

D = dt.date
JAN = (D(2025, 1, 1), D(2025, 1, 31))
FEB = (D(2025, 2, 1), D(2025, 2, 28))


def deal(deal_id, amount_cents, close, region, stage="closedwon", currency="EUR", **kw):
    return {"deal_id": deal_id, "name": f"Deal {deal_id}", "amount_cents": amount_cents, "currency": currency,
            "pipeline_id": "default", "stage_id": stage, "created_at": dt.datetime(2024, 10, 1),
            "close_date": close, "region": region, "product_line": kw.pop("product_line", "Platform"),
            "owner_id": kw.pop("owner_id", "o1"), "company_id": f"C{deal_id[1:]}", **kw}


def invoice(number, issue, cents, deal_id, status="open", currency="EUR", tax=0, paid=None, credit=False,
            company=None):
    return {"invoice_number": number, "issue_date": issue, "amount_excl_tax_cents": cents, "tax_cents": tax,
            "currency": currency, "status": status, "paid_date": paid, "is_credit_note": credit,
            "deal_id": deal_id, "company_id": company or (f"C{deal_id[1:]}" if deal_id else None),
            "customer_name": f"Customer {deal_id or number}", "origin": "csv"}


def line(day, account, debit=0, credit=0, ref="", lib=""):
    return {"journal_code": "VE", "ecriture_date": day, "compte_num": account, "debit_cents": debit,
            "credit_cents": credit, "piece_ref": ref, "ecriture_lib": lib, "origin": "csv"}


def spend(day, channel, cents, region, currency="EUR"):
    return {"spend_date": day, "channel": channel, "amount_cents": cents, "currency": currency,
            "region": region, "product_line": "Platform", "campaign": f"{channel} | {region}", "origin": "csv"}


def contact(cid, mql_at=None, customer_at=None, region="France"):
    return {"contact_id": cid, "email": f"{cid}@example.com", "region": region, "lifecycle_stage": "customer",
            "original_source": "PAID_SEARCH", "created_at": dt.datetime(2024, 12, 1),
            "became_lead_at": dt.datetime(2024, 12, 1), "became_mql_at": mql_at,
            "became_customer_at": customer_at}


DEALS = [
    deal("D1", 90000, D(2025, 1, 8), "France"),
    deal("D2", 50000, D(2025, 1, 14), "North America", currency="USD", product_line="Services"),
    deal("D3", 120000, D(2025, 1, 20), "France"),
    deal("D4", 30000, D(2025, 1, 22), "DACH"),
    deal("D5", 30000, D(2024, 12, 20), "France"),
    deal("D6", 60000, D(2024, 12, 28), "France"),
    deal("D7", 500000, D(2025, 1, 30), "France", stage="contractsent"),
]
INVOICES = [
    invoice("INV-1", D(2025, 1, 10), 100000, "D1", status="paid", tax=20000, paid=D(2025, 1, 20)),
    invoice("INV-2", D(2025, 1, 15), 50000, "D2", currency="USD"),
    invoice("CN-1", D(2025, 1, 25), -10000, "D1", status="paid", tax=-2000, paid=D(2025, 1, 28), credit=True),
    invoice("CN-2", D(2025, 1, 26), 5000, "D2", credit=True),
    invoice("INV-3", D(2025, 1, 12), 70000, "D1", status="draft"),
    invoice("INV-4", D(2025, 1, 13), 80000, "D3", status="void"),
    invoice("INV-5", D(2024, 12, 30), 30000, "D5", status="paid", tax=6000, paid=D(2025, 1, 5)),
    invoice("INV-8", D(2025, 1, 6), 60000, "D6"),
    invoice("INV-6", D(2025, 2, 3), 30000, "D4"),
]
LEDGER = [
    line(D(2025, 1, 10), "706100", credit=100000, ref="INV-1", lib="Facture client"),
    line(D(2025, 1, 10), "445710", credit=20000, ref="INV-1", lib="Facture client"),
    line(D(2025, 1, 10), "411000", debit=120000, ref="INV-1", lib="Facture client"),
    line(D(2025, 1, 15), "706100", credit=46000, lib="Facture INV-2 Acme"),
    line(D(2025, 1, 15), "411000", debit=46000, lib="Facture INV-2 Acme"),
    line(D(2025, 1, 25), "709000", debit=10000, ref="CN-1", lib="Avoir"),
    line(D(2025, 1, 25), "445710", debit=2000, ref="CN-1", lib="Avoir"),
    line(D(2025, 1, 25), "411000", credit=12000, ref="CN-1", lib="Avoir"),
    line(D(2025, 1, 6), "706100", credit=60000, ref="INV-8", lib="Facture"),
    line(D(2025, 1, 6), "411000", debit=60000, ref="INV-8", lib="Facture"),
    line(D(2025, 1, 12), "706100", credit=25000, ref="X-9", lib="Erreur de saisie"),
    line(D(2025, 1, 12), "411000", debit=25000, ref="X-9", lib="Erreur de saisie"),
    line(D(2025, 1, 13), "706100", debit=25000, ref="X-9", lib="Erreur de saisie"),
    line(D(2025, 1, 13), "411000", credit=25000, ref="X-9", lib="Erreur de saisie"),
    line(D(2025, 1, 20), "708000", credit=3000, ref="MISC", lib="Refacturation frais"),
    line(D(2025, 1, 20), "512000", debit=3000, ref="MISC", lib="Refacturation frais"),
    line(D(2025, 1, 20), "512000", debit=120000, ref="BQ-1", lib="Reglement INV-1"),
    line(D(2025, 1, 20), "411000", credit=120000, ref="BQ-1", lib="Reglement INV-1"),
    line(D(2025, 1, 31), "623100", debit=30000, ref="GADS-01", lib="Publicite Google Ads"),
    line(D(2025, 1, 31), "401000", credit=30000, ref="GADS-01", lib="Publicite Google Ads"),
    line(D(2025, 1, 31), "623100", credit=2000, ref="GADS-02", lib="Avoir Google Ads"),
    line(D(2025, 1, 31), "401000", debit=2000, ref="GADS-02", lib="Avoir Google Ads"),
    line(D(2025, 1, 31), "624100", debit=9900, ref="TR-1", lib="Transport"),
    line(D(2025, 1, 31), "401000", credit=9900, ref="TR-1", lib="Transport"),
]
SPEND = [
    spend(D(2025, 1, 6), "Google Ads", 30000, "France"),
    spend(D(2025, 2, 3), "Google Ads", 15000, "France"),
    spend(D(2025, 2, 10), "LinkedIn Ads", 10000, "North America", currency="USD"),
]
CONTACTS = [
    contact("K1", mql_at=dt.datetime(2025, 1, 3), customer_at=dt.datetime(2025, 1, 9)),
    contact("K2", mql_at=dt.datetime(2025, 1, 4), customer_at=dt.datetime(2025, 1, 21)),
    contact("K3", mql_at=dt.datetime(2025, 1, 5), customer_at=dt.datetime(2025, 2, 2)),
]
STAGES = [
    {"pipeline_id": "default", "stage_id": sid, "label": sid, "display_order": i, "probability": p,
     "is_closed": closed, "is_won": won}
    for i, (sid, p, closed, won) in enumerate((("contractsent", 0.9, False, False), ("closedwon", 1.0, True, True),
                                                ("closedlost", 0.0, True, False)))
]


def insert(engine, table, rows) -> None:
    with engine.begin() as conn:
        if rows:
            conn.execute(table.insert(), rows)
            bump_data_version(conn, table.name)


def set_definition(engine, key: str, value) -> None:
    """A stored definition edit, as the Definitions page would leave it."""
    with engine.begin() as conn:
        conn.execute(s.definition_overrides.insert().values(
            key=key, value_json=json.dumps(value), changed_by="test", changed_at=utcnow()))


def build_world(engine, ledger: bool = True, spend_rows: bool = True) -> None:
    insert(engine, s.pipelines, [{"pipeline_id": "default", "label": "Sales Pipeline"}])
    insert(engine, s.pipeline_stages, STAGES)
    insert(engine, s.owners, [{"owner_id": "o1", "first_name": "Ana", "team_name": "EMEA", "region": "France"}])
    insert(engine, s.deals, DEALS)
    insert(engine, s.invoices, INVOICES)
    insert(engine, s.contacts, CONTACTS)
    if ledger:
        insert(engine, s.ledger_entries, LEDGER)
    if spend_rows:
        insert(engine, s.marketing_spend, SPEND)
