"""What the HubSpot connector reads and where it goes: pure data, plus the one dimension rule.

Object names are the CRM v3 path names. Property lists are what we ask HubSpot for; the
mapping from property to store column lives in `sync.py` beside the upserts.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from store.secrets import HUBSPOT_DEFAULT_HOST as DEFAULT_API_HOST, HUBSPOT_TOKEN_ENV as TOKEN_ENV  # noqa: F401

RATE_LIMIT_ENV = "HUBSPOT_RATE_LIMIT"  # requests per 10 s the app may use (100 or 190)
TIMEZONE_ENV = "HUBSPOT_TIMEZONE"  # the account's time zone, to say when the daily limit resets

DEFAULT_RATE_LIMIT = 100  # Free/Starter; Professional and Enterprise allow 190
RATE_WINDOW_S = 10.0  # HubSpot's TEN_SECONDLY_ROLLING window
SEARCH_RATE_PER_S = 5  # search requests per second per account
HEADROOM = 0.03  # stay this fraction below the account's limit
SEARCH_WINDOW_MARGIN = 0.1  # 5 searches per 1.1 s: a 1 s window has little room for jitter
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 30.0

LIST_PAGE_SIZE = 100  # list endpoints' maximum
HISTORY_PAGE_SIZE = 50  # list or batch read with propertiesWithHistory
SEARCH_PAGE_SIZE = 200
SEARCH_RESULT_CAP = 10_000  # one search returns at most this many results (400 past them);
# a window of changes holding more is split into narrower windows (sync._read_window)
ASSOCIATION_BATCH = 1_000  # v4 batch read inputs per request
COMMIT_BATCH = 500  # backfill records per transaction (deals: ASSOCIATION_BATCH)
LOOKBACK_MS = 5 * 60 * 1000  # re-read this much before the cursor: search indexing lags

CONNECTOR = "hubspot"

# Sync order: owners and pipelines first (deals point at them), deals last (their
# associations fill line_items.deal_id).
OBJECTS = ("owners", "pipelines", "products", "companies", "contacts", "line_items", "deals",
           "feedback_submissions")
CRM_OBJECTS = ("products", "companies", "contacts", "line_items", "deals")
# Objects an incremental run re-lists whole while the store holds less than one list page
# of them: one request instead of a search and an archived list (sync._relist_small).
RELISTED_OBJECTS = ("products", "companies", "contacts")

# The last-modified property search filters and sorts on.
MODIFIED_PROPERTY = {
    "contacts": "lastmodifieddate",
    "companies": "hs_lastmodifieddate",
    "deals": "hs_lastmodifieddate",
    "line_items": "hs_lastmodifieddate",
    "products": "hs_lastmodifieddate",
}

# Contact lifecycle stages (HubSpot internal values) behind each became_*_at column.
LIFECYCLE_COLUMNS = {
    "became_lead_at": "lead",
    "became_mql_at": "marketingqualifiedlead",
    "became_sql_at": "salesqualifiedlead",
    "became_opportunity_at": "opportunity",
    "became_customer_at": "customer",
}

# Custom properties (create them in HubSpot if the portal does not have them yet).
REGION_PROPERTY = "region"
PRODUCT_LINE_PROPERTY = "product_line"
DISQUALIFIED_REASON_PROPERTY = "disqualification_reason"

# A line item's recurring billing (the recurring-revenue source when no invoice has a service
# period, metrics/recurring.py): how often it bills (HubSpot's internal values below), the day
# billing starts (else the deal's close date) and the term in months (none: auto-renewing).
# `amount` is what one billing period bills (price x quantity less the discount).
RECURRING_PROPERTIES = ("recurringbillingfrequency", "hs_recurring_billing_start_date", "hs_term_in_months")
BILLING_FREQUENCIES = ("weekly", "biweekly", "monthly", "quarterly", "per_six_months", "annually",
                       "per_two_years", "per_three_years", "per_four_years", "per_five_years")

PROPERTIES = {
    "contacts": [
        "email", "firstname", "lastname", "associatedcompanyid", "hubspot_owner_id",
        REGION_PROPERTY, "lifecyclestage", "hs_lead_status", "hs_analytics_source",
        "hs_analytics_source_data_1", "hs_analytics_source_data_2", "createdate",
        "lastmodifieddate", "hs_sa_first_engagement_date", "notes_last_contacted",
        DISQUALIFIED_REASON_PROPERTY,
        *[f"hs_v2_date_entered_{st}" for st in LIFECYCLE_COLUMNS.values()],
        *[f"hs_lifecyclestage_{st}_date" for st in LIFECYCLE_COLUMNS.values()],
    ],
    "companies": [
        "name", "domain", "industry", "country", REGION_PROPERTY, "hubspot_owner_id",
        "createdate", "hs_lastmodifieddate",
    ],
    "deals": [
        "dealname", "amount", "deal_currency_code", "pipeline", "dealstage", "createdate",
        "closedate", "hubspot_owner_id", REGION_PROPERTY, PRODUCT_LINE_PROPERTY,
        "hs_analytics_source", "closed_lost_reason", "hs_forecast_category",
        "hs_lastmodifieddate", "dealtype",
    ],
    "products": ["name", "hs_sku", PRODUCT_LINE_PROPERTY, "price", "hs_lastmodifieddate"],
    "line_items": [
        "name", "hs_product_id", "quantity", "price", "amount", "hs_line_item_currency_code",
        "hs_lastmodifieddate", *RECURRING_PROPERTIES,
    ],
}

# Survey answers (NPS): feedback submissions, read whole each run when the token has the scope
# (without it the sync skips them and says so). Only NPS surveys count; the score is hs_value.
FEEDBACK_OBJECT = "feedback_submissions"
FEEDBACK_SCOPE = "crm.objects.feedback_submissions.read"
FEEDBACK_PROPERTIES = ["hs_contact_id", "hs_contact_email_rollup", "hs_survey_type", "hs_value",
                       "hs_createdate", "hs_submission_timestamp"]
NPS_SURVEY_TYPE = "NPS"

# Writing sales' verdict on a lead back to its HubSpot contact (off unless this is 1/true; the
# token also needs the contacts write scope, and the portal the two custom contact properties).
WRITE_BACK_ENV = "HUBSPOT_WRITE_LEAD_FEEDBACK"
CONTACTS_WRITE_SCOPE = "crm.objects.contacts.write"
VERDICT_PROPERTY = "northstar_lead_verdict"  # accepted | rejected
REJECTION_REASON_PROPERTY = "northstar_rejection_reason"  # a reason id of the shared definitions, or ""
WRITE_BATCH = 100  # contacts per batch update

# Deal properties whose history we read, for the stage waterfall.
DEAL_HISTORY_PROPERTIES = ["dealstage", "amount", "closedate"]

# Deal associations read with the v4 batch API: target object -> store table.
DEAL_ASSOCIATIONS = ("contacts", "companies", "line_items")
PRIMARY_DEAL_COMPANY_TYPE_ID = 5  # HUBSPOT_DEFINED deal -> company, primary

DEFINITIONS_FILE = Path(__file__).resolve().parents[2] / "metrics" / "definitions.yaml"


def _definitions() -> dict:
    try:
        return yaml.safe_load(DEFINITIONS_FILE.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return {}


def reporting_currency() -> str:
    """The currency of amounts HubSpot sends without a currency code (shared definitions)."""
    return str(_definitions().get("currency", {}).get("reporting") or "EUR")


def dimensions(object_type: str, properties: dict) -> dict:
    """Region and product line of one record, by the shared definitions.

    Deals, contacts and companies carry them in the `region` / `product_line` properties;
    an owner's region is the name of the owner's (first) team. When the definitions take a
    deal's region from its company or owner, or its product line from its line items, the
    metric layer joins those; the connector stores each record's own value.
    """
    if object_type == "owners":
        return {"region": properties.get("team_name")}
    out = {}
    if object_type in ("deals", "contacts", "companies"):
        out["region"] = properties.get(REGION_PROPERTY) or None
    if object_type in ("deals", "products"):
        out["product_line"] = properties.get(PRODUCT_LINE_PROPERTY) or None
    return out


# HubSpot's default deal pipeline as a new portal has it: (pipeline id, label, stages), each stage
# (stage id, label, probability, is_closed, is_won). Used where no pipeline was synced yet.
DEFAULT_PIPELINE = ("default", "Sales Pipeline", (
    ("appointmentscheduled", "Appointment Scheduled", 0.2, False, False),
    ("qualifiedtobuy", "Qualified To Buy", 0.4, False, False),
    ("presentationscheduled", "Presentation Scheduled", 0.6, False, False),
    ("decisionmakerboughtin", "Decision Maker Bought-In", 0.8, False, False),
    ("contractsent", "Contract Sent", 0.9, False, False),
    ("closedwon", "Closed Won", 1.0, True, True),
    ("closedlost", "Closed Lost", 0.0, True, False),
))
