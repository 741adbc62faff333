"""Ready mappings for the common exports (pure data: column labels, options, constants).

Labels are matched without case; 'Prefix*' matches a header starting with Prefix (ad platforms
put the currency in the header, e.g. "Amount spent (EUR)").
"""
from __future__ import annotations

INVOICE_PRESETS: dict[str, dict] = {
    "generic": {},
    # Stripe Dashboard > Invoices > Export (amounts in currency units, lowercase ISO currency;
    # metadata keys appear as "<key> (metadata)").
    "stripe": {
        "columns": {"invoice_number": "Number", "customer_name": "Customer Name",
                    "issue_date": "Date (UTC)", "due_date": "Due Date (UTC)", "paid_date": "Paid At (UTC)",
                    "amount_excl_tax": "Subtotal", "tax": "Tax", "currency": "Currency", "status": "Status",
                    "deal_id": "hubspot_deal_id (metadata)", "company_id": "hubspot_company_id (metadata)",
                    "service_period_start": "Period Start (UTC)", "service_period_end": "Period End (UTC)"},
        "options": {"decimal": ".", "thousands": ""},
        "constants": {"origin": "stripe"},
    },
    # Stripe invoice line items (one row per line, each with its service period): the lines of an
    # invoice with the same period are summed; other periods of the same invoice are kept apart.
    "stripe-lines": {
        "columns": {"invoice_number": "Invoice Number", "customer_name": "Customer Name",
                    "issue_date": "Invoice Date (UTC)", "amount_excl_tax": "Amount", "currency": "Currency",
                    "status": "Invoice Status", "paid_date": "Invoice Paid At (UTC)",
                    "deal_id": "hubspot_deal_id (metadata)", "company_id": "hubspot_company_id (metadata)",
                    "service_period_start": "Period Start (UTC)", "service_period_end": "Period End (UTC)"},
        "options": {"decimal": ".", "thousands": "", "group_lines": "service_period"},
        "constants": {"origin": "stripe"},
    },
    # QuickBooks Online > Reports > Invoice List (US dates, "Credit Memo" transactions).
    "quickbooks": {
        "columns": {"invoice_number": "No.", "customer_name": "Customer", "issue_date": "Date",
                    "due_date": "Due date", "amount_excl_tax": "Amount before tax", "tax": "Tax amount",
                    "status": "Status", "credit_note": "Transaction type", "currency": "Currency"},
        "options": {"month_first": True},
        "constants": {"origin": "quickbooks"},
        "values": {"status": {"Deposited": "paid", "Overdue": "open", "Partial": "open",
                              "Voided": "void", "Closed": "paid"}},
    },
    # Xero > Sales > Invoices > Export: one line per invoice line; lines of one invoice are summed.
    "xero": {
        "columns": {"invoice_number": "InvoiceNumber", "customer_name": "ContactName",
                    "issue_date": "InvoiceDate", "due_date": "DueDate", "amount_excl_tax": "LineAmount",
                    "tax": "TaxAmount", "currency": "Currency", "status": "Status", "credit_note": "Type"},
        "options": {"group_lines": True},
        "constants": {"origin": "xero"},
        "values": {"status": {"AUTHORISED": "open", "SUBMITTED": "draft", "DELETED": "void",
                              "VOIDED": "void", "PAID": "paid", "DRAFT": "draft"}},
    },
}

SPEND_PRESETS: dict[str, dict] = {
    "generic": {},
    # Google Ads > Reports > Campaign report by day (two title lines before the header).
    "google-ads": {
        "columns": {"spend_date": "Day", "campaign": "Campaign", "amount": "Cost", "currency": "Currency code"},
        "constants": {"channel": "google_ads", "origin": "google-ads"},
    },
    # Meta Ads Manager > Reports > Export table, daily breakdown.
    "meta-ads": {
        "columns": {"spend_date": "Reporting starts", "campaign": "Campaign name",
                    "amount": "Amount spent*", "currency": "Currency"},
        "constants": {"channel": "meta_ads", "origin": "meta-ads"},
    },
    # LinkedIn Campaign Manager > Campaign performance export, daily.
    "linkedin-ads": {
        "columns": {"spend_date": "Start Date (in UTC)", "campaign": "Campaign Name",
                    "amount": "Total Spent", "currency": "Currency"},
        "constants": {"channel": "linkedin_ads", "origin": "linkedin-ads"},
    },
    # Meta Robyn MMM input: one row per week, one `<channel>_S` spend column per channel.
    "robyn-weekly": {
        "options": {"wide": True, "date_column": "DATE", "spend_suffix": "_S"},
        "constants": {"origin": "robyn"},
    },
}

BUDGET_PRESETS: dict[str, dict] = {"generic": {}}

# NPS answers: the generic labels (connectors/files/nps.py) also read HubSpot's feedback
# submissions export; `hubspot` names its columns explicitly.
NPS_PRESETS: dict[str, dict] = {
    "generic": {},
    "hubspot": {"columns": {"contact_id": "Contact ID", "email": "Email", "submitted_at": "Submission date",
                            "score": "Rating"}},
}

HUBSPOT_PRESETS: dict[str, dict] = {"generic": {}}
