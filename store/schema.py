"""The one schema of the Northstar store (SQLAlchemy Core).

Every connector writes these tables and every metric reads them. Conventions:
`*_id` text keys (HubSpot ids are strings), `*_at` naive UTC datetimes, `*_date` dates,
money as integer `*_cents` beside a 3-letter `currency`, `is_*` booleans.
Records that can come from several places carry `origin` ('hubspot', 'csv', 'demo').
"""
from __future__ import annotations

from sqlalchemy import (
    BigInteger, Boolean, Column, Date, DateTime, Float, ForeignKey, Index, Integer,
    MetaData, String, Table, Text, UniqueConstraint, func,
)

SCHEMA_VERSION = 19

metadata = MetaData()


def _id(name: str, **kw) -> Column:
    return Column(name, String(64), **kw)


# --- bookkeeping -----------------------------------------------------------------------

schema_version = Table(
    "schema_version", metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", DateTime, nullable=False),
)

store_meta = Table(
    "store_meta", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

sync_runs = Table(
    "sync_runs", metadata,
    Column("run_id", Integer, primary_key=True, autoincrement=True),
    Column("connector", String(32), nullable=False),
    Column("mode", String(16), nullable=False),  # full | incremental
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime),
    Column("status", String(16), nullable=False),  # running | success | failed | interrupted
    Column("counts_json", Text, nullable=False, default="{}"),
    Column("error", Text),
)

sync_state = Table(
    "sync_state", metadata,
    Column("connector", String(32), primary_key=True),
    Column("object_type", String(32), primary_key=True),
    Column("cursor_at", DateTime),  # last committed last-modified time (incremental)
    Column("page_after", String(128)),  # paging cursor of an unfinished backfill
    Column("phase", String(16), nullable=False, default="idle"),  # idle | backfill | incremental
    Column("updated_at", DateTime, nullable=False),
)

import_runs = Table(
    "import_runs", metadata,
    Column("import_id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),  # fec | invoices | spend | budgets | hubspot-deals ...
    Column("file_name", String(255), nullable=False),
    Column("file_hash", String(64), nullable=False),
    Column("imported_by", String(255), nullable=False),
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime),
    Column("rows_accepted", Integer, nullable=False, default=0),
    Column("rows_rejected", Integer, nullable=False, default=0),
    Column("status", String(16), nullable=False),  # success | rejected | failed | skipped
    Column("period_start", Date),
    Column("period_end", Date),
    Column("error", Text),
    # how the file was read (mapping, encoding, delimiter... as canonical JSON): the already-imported
    # check keys on the hash AND these, so the same bytes read another way import again
    Column("read_options", Text),
    Column("company", String(64)),  # FEC: the SIREN, the name the user gave, or "file:<hash of its name>"
    Column("undone_at", DateTime),  # status "undone": its rows removed, what it replaced restored
    Column("undone_by", String(255)),
)

# Rows an import replaced, kept so that undoing it restores them: one JSON row each, with the
# import that had brought them (from_import_id; NULL for rows no import brought, e.g. demo data).
import_replaced = Table(
    "import_replaced", metadata,
    Column("replaced_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("import_id", Integer, ForeignKey("import_runs.import_id"), nullable=False),
    Column("table_name", String(32), nullable=False),
    Column("from_import_id", Integer),
    Column("row_json", Text, nullable=False),
    Index("ix_import_replaced_import", "import_id"),
    Index("ix_import_replaced_from", "from_import_id"),
)

# --- CRM -------------------------------------------------------------------------------

owners = Table(
    "owners", metadata,
    _id("owner_id", primary_key=True),
    Column("email", String(255)),
    Column("first_name", String(128)),
    Column("last_name", String(128)),
    _id("team_id"),
    Column("team_name", String(128)),
    Column("region", String(64)),
    Column("is_archived", Boolean, nullable=False, default=False),
    Column("updated_at", DateTime),
    Column("origin", String(16), nullable=False, default="hubspot"),
)

companies = Table(
    "companies", metadata,
    _id("company_id", primary_key=True),
    Column("name", String(255)),
    Column("domain", String(255)),
    Column("industry", String(128)),
    Column("country", String(64)),
    Column("region", String(64)),
    _id("owner_id"),
    Column("created_at", DateTime),
    Column("updated_at", DateTime),
    Column("is_deleted", Boolean, nullable=False, default=False),
    Column("origin", String(16), nullable=False, default="hubspot"),
)

contacts = Table(
    "contacts", metadata,
    _id("contact_id", primary_key=True),
    Column("email", String(255)),
    Column("first_name", String(128)),
    Column("last_name", String(128)),
    _id("company_id"),
    _id("owner_id"),
    Column("region", String(64)),
    Column("lifecycle_stage", String(32)),
    Column("lead_status", String(32)),
    Column("original_source", String(64)),
    Column("source_detail", String(255)),  # original source drill-down 1
    Column("campaign", String(255)),
    Column("created_at", DateTime),
    # timestamps of entering each lifecycle stage (hs_v2_date_entered_*); NULL = never
    Column("became_lead_at", DateTime),
    Column("became_mql_at", DateTime),
    Column("became_sql_at", DateTime),
    Column("became_opportunity_at", DateTime),
    Column("became_customer_at", DateTime),
    Column("first_sales_touch_at", DateTime),
    Column("disqualified_reason", String(128)),
    Column("updated_at", DateTime),
    Column("is_deleted", Boolean, nullable=False, default=False),
    Column("origin", String(16), nullable=False, default="hubspot"),
)

pipelines = Table(
    "pipelines", metadata,
    _id("pipeline_id", primary_key=True),
    Column("label", String(255), nullable=False),
    Column("display_order", Integer, nullable=False, default=0),
    Column("is_archived", Boolean, nullable=False, default=False),
)

pipeline_stages = Table(
    "pipeline_stages", metadata,
    _id("pipeline_id", primary_key=True),
    _id("stage_id", primary_key=True),
    Column("label", String(255), nullable=False),
    Column("display_order", Integer, nullable=False, default=0),
    Column("probability", Float, nullable=False, default=0.0),
    Column("is_closed", Boolean, nullable=False, default=False),
    Column("is_won", Boolean, nullable=False, default=False),
)

deals = Table(
    "deals", metadata,
    _id("deal_id", primary_key=True),
    Column("name", String(255)),
    Column("amount_cents", BigInteger),
    Column("currency", String(3), nullable=False, default="EUR"),
    _id("pipeline_id", nullable=False),
    _id("stage_id", nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("close_date", Date),
    _id("owner_id"),
    _id("company_id"),
    _id("contact_id"),  # primary associated contact (lead that sourced it)
    Column("product_line", String(64)),
    Column("region", String(64)),
    Column("deal_source", String(64)),
    Column("lost_reason", String(255)),
    Column("forecast_category", String(32)),
    Column("updated_at", DateTime),
    Column("is_deleted", Boolean, nullable=False, default=False),
    Column("origin", String(16), nullable=False, default="hubspot"),
    # HubSpot's deal type property `dealtype` (newbusiness, existingbusiness, or a portal's own
    # value); with the pipeline it decides the revenue type (metrics/definitions.yaml, revenue_types)
    Column("deal_type", String(64)),  # version 8
)

deal_stage_history = Table(
    "deal_stage_history", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    _id("deal_id", nullable=False),
    _id("stage_id", nullable=False),
    Column("entered_at", DateTime, nullable=False),
    Column("amount_cents", BigInteger),
    Column("close_date", Date),
    UniqueConstraint("deal_id", "stage_id", "entered_at", name="uq_deal_stage_history"),
)

deal_contacts = Table(
    "deal_contacts", metadata,
    _id("deal_id", primary_key=True),
    _id("contact_id", primary_key=True),
)

deal_companies = Table(
    "deal_companies", metadata,
    _id("deal_id", primary_key=True),
    _id("company_id", primary_key=True),
)

products = Table(
    "products", metadata,
    _id("product_id", primary_key=True),
    Column("name", String(255), nullable=False),
    Column("sku", String(64)),
    Column("product_line", String(64)),
    Column("price_cents", BigInteger),
    Column("currency", String(3), nullable=False, default="EUR"),
    Column("is_deleted", Boolean, nullable=False, default=False),
)

line_items = Table(
    "line_items", metadata,
    _id("line_item_id", primary_key=True),
    _id("deal_id"),
    _id("product_id"),
    Column("name", String(255)),
    Column("quantity", Float, nullable=False, default=1.0),
    Column("price_cents", BigInteger),
    Column("amount_cents", BigInteger),
    Column("currency", String(3), nullable=False, default="EUR"),
    # recurring billing (HubSpot recurringbillingfrequency, hs_recurring_billing_start_date,
    # hs_term_in_months): NULL frequency = a one-time line; amount_cents is then one billing period's
    Column("billing_frequency", String(32)),
    Column("billing_start_date", Date),
    Column("term_months", Integer),
    Column("updated_at", DateTime),
    Column("is_deleted", Boolean, nullable=False, default=False),
)

# --- marketing and finance -------------------------------------------------------------

marketing_spend = Table(
    "marketing_spend", metadata,
    Column("spend_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("spend_date", Date, nullable=False),
    Column("channel", String(64), nullable=False),
    Column("campaign", String(255)),
    Column("region", String(64)),
    Column("product_line", String(64)),
    Column("amount_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False, default="EUR"),
    Column("import_id", Integer, ForeignKey("import_runs.import_id")),
    Column("origin", String(16), nullable=False, default="csv"),
)

ledger_entries = Table(
    "ledger_entries", metadata,
    Column("entry_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("import_id", Integer, ForeignKey("import_runs.import_id")),
    Column("siren", String(16)),
    Column("line_no", Integer),
    Column("journal_code", String(16), nullable=False),
    Column("journal_lib", String(255)),
    Column("ecriture_num", String(64)),
    Column("ecriture_date", Date, nullable=False),
    Column("compte_num", String(32), nullable=False),
    Column("compte_lib", String(255)),
    Column("comp_aux_num", String(64)),
    Column("comp_aux_lib", String(255)),
    Column("piece_ref", String(128)),
    Column("piece_date", Date),
    Column("ecriture_lib", String(255)),
    Column("debit_cents", BigInteger, nullable=False, default=0),
    Column("credit_cents", BigInteger, nullable=False, default=0),
    Column("ecriture_let", String(32)),
    Column("date_let", Date),
    Column("valid_date", Date),
    Column("montant_devise_cents", BigInteger),
    Column("idevise", String(3)),
    Column("origin", String(16), nullable=False, default="csv"),
)

invoices = Table(
    "invoices", metadata,
    Column("invoice_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("invoice_number", String(64), nullable=False),
    Column("customer_name", String(255)),
    _id("company_id"),
    _id("deal_id"),
    Column("issue_date", Date, nullable=False),
    Column("due_date", Date),
    Column("paid_date", Date),
    Column("amount_excl_tax_cents", BigInteger, nullable=False),  # negative for credit notes
    Column("tax_cents", BigInteger, nullable=False, default=0),
    Column("currency", String(3), nullable=False, default="EUR"),
    Column("status", String(16), nullable=False),  # draft | open | paid | void | uncollectible
    Column("is_credit_note", Boolean, nullable=False, default=False),
    Column("import_id", Integer, ForeignKey("import_runs.import_id")),
    Column("origin", String(16), nullable=False, default="csv"),
    # the service period the amount pays for (version 14; both or neither): recurring revenue (MRR)
    Column("service_period_start", Date),
    Column("service_period_end", Date),
    UniqueConstraint("invoice_number", "origin", name="uq_invoice_number"),
)

budgets = Table(
    "budgets", metadata,
    Column("budget_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("month", Date, nullable=False),  # first day of the month
    Column("region", String(64), nullable=False, default=""),  # '' = all regions
    Column("product_line", String(64), nullable=False, default=""),  # '' = all product lines
    Column("metric", String(64), nullable=False),  # a metric id: target_revenue, mqls, marketing_spend ...
    Column("value", Float, nullable=False),  # in the metric's unit; money in cents
    Column("import_id", Integer, ForeignKey("import_runs.import_id")),
    # a quota line (version 9): the owner (owners.owner_id) or team (owners.team_name) it is set for;
    # '' on both for a company, region or product-line line (metrics/quotas.py reads the others)
    Column("owner_id", String(64), nullable=False, default="", server_default=""),
    Column("team", String(128), nullable=False, default="", server_default=""),
    UniqueConstraint("month", "region", "product_line", "owner_id", "team", "metric", name="uq_budget_line"),
)

# --- feedback ---------------------------------------------------------------------------

# Sales' verdict on each qualified lead: accepted, or rejected with a reason from the shared
# definitions (lead_feedback.rejection_reasons). One row per verdict given, never updated: the
# latest verdict of a contact (decided_at, then feedback_id) is the one that counts, the earlier
# ones are its history. hubspot_written_at: when the verdict was written back to the contact's
# HubSpot properties (NULL: not written, write-back off or refused; hubspot_error says why).
lead_feedback = Table(
    "lead_feedback", metadata,
    Column("feedback_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    _id("contact_id", nullable=False),
    Column("verdict", String(16), nullable=False),  # accepted | rejected
    Column("reason", String(64)),  # a rejection reason id; NULL when accepted
    Column("note", Text),
    Column("decided_by", String(255), nullable=False),
    Column("decided_at", DateTime, nullable=False),
    Column("hubspot_written_at", DateTime),
    Column("hubspot_error", Text),
)

# Survey answers (NPS: "how likely are you to recommend us", 0-10), from HubSpot's feedback
# submissions or an imported file. response_key identifies an answer within its origin (HubSpot:
# the submission id; a file: the contact key and the submission time), so a re-read or a
# re-import updates instead of counting twice. contact_id NULL: no stored contact matched.
nps_responses = Table(
    "nps_responses", metadata,
    Column("response_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("origin", String(16), nullable=False),  # hubspot | csv | demo
    Column("response_key", String(255), nullable=False),
    _id("contact_id"),
    Column("email", String(255)),
    Column("submitted_at", DateTime, nullable=False),
    Column("score", Integer, nullable=False),  # 0-10
    Column("import_id", Integer, ForeignKey("import_runs.import_id")),
    Column("is_deleted", Boolean, nullable=False, default=False),
    UniqueConstraint("origin", "response_key", name="uq_nps_response"),
)

# --- meeting ---------------------------------------------------------------------------

pipeline_snapshots = Table(
    "pipeline_snapshots", metadata,
    Column("snapshot_id", Integer, primary_key=True, autoincrement=True),
    Column("week_start", Date, nullable=False),
    Column("taken_at", DateTime, nullable=False),
    Column("kind", String(16), nullable=False, default="weekly"),  # weekly | on_demand
    Column("data_version", Integer),
)

snapshot_deals = Table(
    "snapshot_deals", metadata,
    Column("snapshot_id", Integer, ForeignKey("pipeline_snapshots.snapshot_id"), primary_key=True),
    _id("deal_id", primary_key=True),
    Column("name", String(255)),
    _id("pipeline_id"),
    _id("stage_id"),
    Column("amount_cents", BigInteger),
    Column("currency", String(3)),
    Column("close_date", Date),
    _id("owner_id"),
    Column("forecast_category", String(32)),
    Column("region", String(64)),
    Column("product_line", String(64)),
    Column("is_closed", Boolean, nullable=False, default=False),
    Column("is_won", Boolean, nullable=False, default=False),
)

snapshot_metrics = Table(
    "snapshot_metrics", metadata,
    Column("snapshot_id", Integer, ForeignKey("pipeline_snapshots.snapshot_id"), primary_key=True),
    Column("metric_id", String(64), primary_key=True),
    Column("cut_type", String(32), primary_key=True),  # total | region | product_line
    Column("cut_value", String(64), primary_key=True),  # '' for total
    Column("period_start", Date),
    Column("period_end", Date),
    Column("value", Float),  # NULL = not available
    Column("unit", String(16)),
    Column("note", Text),
)

meeting_decisions = Table(
    "meeting_decisions", metadata,
    Column("decision_id", Integer, primary_key=True, autoincrement=True),
    Column("week_start", Date, nullable=False),
    Column("text", Text, nullable=False),
    Column("owner", String(255), nullable=False),
    Column("due_date", Date),
    Column("metric_id", String(64)),
    Column("status", String(16), nullable=False, default="open"),  # open | done | dropped
    Column("created_at", DateTime, nullable=False),
    Column("created_by", String(255), nullable=False),
    Column("closed_at", DateTime),
    # what the decision should move (version 10): the metric's segment (region | product_line |
    # owner | source, and its value; NULL = whole company), the direction (up | down) and/or the
    # value it should reach by its due date
    Column("segment_type", String(16)),
    Column("segment_value", String(255)),
    Column("direction", String(8)),
    Column("target_value", Float),
)

decision_events = Table(
    "decision_events", metadata,
    Column("event_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("decision_id", Integer, ForeignKey("meeting_decisions.decision_id"), nullable=False),
    Column("week_start", Date, nullable=False),  # the meeting week the change was made in
    Column("at", DateTime, nullable=False),
    Column("actor", String(255), nullable=False),
    Column("action", String(16), nullable=False),  # add | update | close | reopen
    Column("before_json", Text),
    Column("after_json", Text),
)

# --- alerts and notifications (schema 11) ----------------------------------------------------

alerts = Table(
    "alerts", metadata,
    Column("alert_id", Integer, primary_key=True, autoincrement=True),
    Column("alert_key", String(255), nullable=False),  # rule:subject, e.g. burnt_leads:o1; one open row per key
    Column("rule", String(64), nullable=False),  # coverage_below | burnt_leads_above | forecast_drop | sync_failing
    Column("subject", String(255), nullable=False, default=""),  # the owner, connector... ('' for the company)
    Column("message", Text, nullable=False),
    Column("value", Float),  # the figure that fired it (coverage, burnt leads, % drop, failures in a row)
    Column("threshold", Float),
    Column("fired_at", DateTime, nullable=False),
    Column("last_seen_at", DateTime, nullable=False),  # the last evaluation that still found it
    Column("cleared_at", DateTime),  # NULL while it holds; set when an evaluation no longer finds it
    Column("delivery", Text),  # how sending it went (channels, attempts, errors; secrets masked)
    Index("ix_alerts_key_open", "alert_key", "cleared_at"),
)

notifications = Table(
    "notifications", metadata,
    Column("notification_id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),  # digest | alert
    Column("ref", String(255), nullable=False),  # the digest's week (2026-11-16) or the alert key
    Column("channel", String(16), nullable=False),  # email | slack | teams | webhook | files
    Column("target", String(255), nullable=False),  # recipients, or the webhook's host (never its URL)
    Column("sent_at", DateTime, nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("error", Text),  # masked
    Index("ix_notifications_kind_ref", "kind", "ref"),
)

# --- definitions and audit -------------------------------------------------------------

definition_overrides = Table(
    "definition_overrides", metadata,
    Column("key", String(128), primary_key=True),  # dotted path in definitions, e.g. funnel.mql_stage
    Column("value_json", Text, nullable=False),
    Column("changed_by", String(255), nullable=False),
    Column("changed_at", DateTime, nullable=False),
)

audit_log = Table(
    "audit_log", metadata,
    Column("audit_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("at", DateTime, nullable=False),
    Column("actor", String(255), nullable=False),
    Column("action", String(64), nullable=False),  # definition.change | decision.add | import | sync ...
    Column("target", String(255)),
    Column("before_json", Text),
    Column("after_json", Text),
)

# --- rollups: monthly summaries the metric layer reads instead of scanning the big tables -----
# Built by metrics/rollups.py from deals and contacts, with the shared definitions applied
# (region and product-line rules resolved); only used while fresh (see rollup_state).

rollup_state = Table(
    "rollup_state", metadata,
    Column("name", String(64), primary_key=True),
    Column("built_version", BigInteger, nullable=False),  # data_version the rollup was built from
    Column("defs_fingerprint", String(64), nullable=False),  # the definitions it applied
    Column("built_at", DateTime, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("seconds", Float, nullable=False),
)

def _by_day(name: str, monthly: Table) -> Table:
    """A summary shaped like `monthly` with the day ('YYYY-MM-DD') in place of its month."""
    return Table(name, metadata, Column("day", String(10), nullable=False),
                 *[col._copy() for col in list(monthly.columns)[1:]])


rollup_deals = Table(
    "rollup_deals", metadata,
    Column("month", String(7), nullable=False),  # of the close date, 'YYYY-MM'
    _id("pipeline_id"), _id("stage_id"), Column("currency", String(3)),
    Column("region", String(64)), Column("product_line", String(64)), Column("deal_source", String(64)),
    Column("effective_source", String(64)),  # deal source, else the primary contact's original source
    _id("owner_id"),
    Column("n", Integer, nullable=False),
    Column("amount_cents", BigInteger),
    Column("cycle_days_sum", Float), Column("cycle_days_n", Integer, nullable=False),
    Column("deal_type", String(64)),  # the deals' HubSpot dealtype (version 8)
)

rollup_deal_campaigns = Table(
    "rollup_deal_campaigns", metadata,
    Column("month", String(7), nullable=False),
    _id("pipeline_id"), _id("stage_id"), Column("currency", String(3)),
    Column("region", String(64)), Column("product_line", String(64)),
    Column("campaign", String(255), nullable=False),  # the primary contact's campaign
    Column("amount_cents", BigInteger),
    Column("n", Integer),  # deals (version 6; NULL in rows an older version built, rebuilt by the upgrade)
    Column("deal_type", String(64)),  # the deals' HubSpot dealtype (version 8)
)

rollup_invoice_months = Table(
    "rollup_invoice_months", metadata,
    # revenue invoices (not draft / void), credit notes negative: by issue month, excluding tax
    # (basis 'issued': invoiced revenue) and by paid month, tax included (basis 'paid': cash)
    Column("month", String(7), nullable=False),
    Column("basis", String(8), nullable=False),
    Column("currency", String(3)),
    Column("cents", BigInteger),
)

rollup_ledger_months = Table(
    "rollup_ledger_months", metadata,
    Column("month", String(7), nullable=False),  # of the ecriture date
    Column("compte_num", String(64), nullable=False),
    Column("debit_cents", BigInteger, nullable=False),
    Column("credit_cents", BigInteger, nullable=False),
    Column("n", Integer, nullable=False),  # ledger lines
)

# rollup_ledger_months by day (version 19): a period's edge days (metrics/rollups.py, ledger_rows)
rollup_ledger_days = _by_day("rollup_ledger_days", rollup_ledger_months)

rollup_invoice_accounts = Table(
    "rollup_invoice_accounts", metadata,
    # customers invoiced in `month` whose previous invoiced month was `prev_month` (NULL: none):
    # the customers invoiced in months m1..m2 are those rows with m1 <= month <= m2 and no
    # prev_month in the range, so a distinct count over any months is a sum.
    Column("month", String(7), nullable=False),
    Column("prev_month", String(7)),
    Column("n", Integer, nullable=False),
)

rollup_invoice_days = Table(
    "rollup_invoice_days", metadata,
    # rollup_invoice_months by day (version 15): the edge days of a period without a deal
    # dimension filter are read from it, not from the invoices
    Column("day", String(10), nullable=False),  # YYYY-MM-DD of the issue (basis 'issued') or paid date
    Column("basis", String(8), nullable=False),
    Column("currency", String(3)),
    Column("cents", BigInteger),
)

rollup_invoice_dims = Table(
    "rollup_invoice_dims", metadata,
    # rollup_invoice_months by the dimensions of the invoice's deal (version 15): region and product
    # line (by the definitions' rules), owner, pipeline and deal source; all NULL for an invoice
    # with no live deal (the "(none)" bucket of every dimension), so a dimension filter on the
    # Finance page reads a few rows per month, not the invoices
    Column("month", String(7), nullable=False),
    Column("basis", String(8), nullable=False),
    Column("currency", String(3)),
    Column("region", String(64)), Column("product_line", String(64)), _id("owner_id"), _id("pipeline_id"),
    Column("deal_source", String(64)),
    Column("cents", BigInteger),
)

rollup_invoice_dim_days = Table(
    "rollup_invoice_dim_days", metadata,
    # rollup_invoice_dims by day, by region and product line only (version 17): the edge days of a
    # period viewed for a region or a product line (a team lead's first view of the Finance page)
    # read a few rows a day, not the day's invoices joined to their deals
    Column("day", String(10), nullable=False),
    Column("basis", String(8), nullable=False),
    Column("currency", String(3)),
    Column("region", String(64)), Column("product_line", String(64)),
    Column("cents", BigInteger),
)

rollup_invoice_account_days = Table(
    "rollup_invoice_account_days", metadata,
    # rollup_invoice_accounts by day (version 15): customers invoiced on `day` whose previous
    # invoice day was `prev_day` (NULL: none), so the distinct customers invoiced over any days
    # d1..d2 (ARPA's trailing 12 months, which end on any day) are a sum; dim and value '' (every
    # invoice: rollup_invoice_account_slices holds the region and product line slices)
    Column("dim", String(16), nullable=False),
    Column("value", String(64), nullable=False),
    Column("day", String(10), nullable=False),
    Column("prev_day", String(10)),
    Column("n", Integer, nullable=False),
)

rollup_invoice_account_slices = Table(
    "rollup_invoice_account_slices", metadata,
    # rollup_invoice_account_days for one region or one product line of the invoice's deal
    # (version 15; dim 'region' / 'product_line', value '' for none or no live deal; the previous
    # day within the slice): ARPA under such a filter. A group of its own, which reads the deals
    Column("dim", String(16), nullable=False),
    Column("value", String(64), nullable=False),
    Column("day", String(10), nullable=False),
    Column("prev_day", String(10)),
    Column("n", Integer, nullable=False),
)

rollup_contacts = Table(
    "rollup_contacts", metadata,
    Column("month", String(7), nullable=False),  # when the contact reached `role` (any-stage)
    Column("role", String(16), nullable=False),  # lead | mql | sql | opportunity | customer
    Column("region", String(64)), _id("owner_id"), Column("source", String(64)),
    Column("n", Integer, nullable=False),
    Column("reached_mql", Integer, nullable=False), Column("reached_sql", Integer, nullable=False),
    Column("reached_opportunity", Integer, nullable=False), Column("reached_customer", Integer, nullable=False),
    Column("followed_up_in_sla", Integer, nullable=False),  # first sales touch within the SLA
    # the product lines of the contact's live deals (it is their primary contact), sorted or not,
    # comma-separated (a comma inside a name as \x1f), '' for none (version 19): a product-line
    # filter reads these rows instead of the contacts joined to their deals (metrics/rollups.py)
    Column("deal_lines", String(255)),
)

rollup_contact_campaigns = Table(
    "rollup_contact_campaigns", metadata,
    # contacts by the month they reached `role` (any-stage) x their campaign (the campaign table)
    Column("month", String(7), nullable=False),
    Column("role", String(16), nullable=False),  # lead | mql | customer
    Column("campaign", String(255), nullable=False),
    Column("region", String(64)), _id("owner_id"), Column("source", String(64)),
    Column("n", Integer, nullable=False),
    Column("deal_lines", String(255)),  # as rollup_contacts' (version 19)
)

rollup_deal_cycles = Table(
    "rollup_deal_cycles", metadata,
    # won deals by close month x pipeline, region, product line, deal source, owner x whole days
    # from creation to close (version 13): the sales cycle's median, exact to the day, is read
    # from the summed counts (metrics/rollup_days.py)
    Column("month", String(7), nullable=False),
    _id("pipeline_id"), Column("region", String(64)), Column("product_line", String(64)),
    Column("deal_source", String(64)), _id("owner_id"),
    Column("days", Integer),  # whole days (NULL: no creation date)
    Column("n", Integer, nullable=False),
)

rollup_funnel_days = Table(
    "rollup_funnel_days", metadata,
    # contacts by funnel view ('period': the month they reached `stage`; 'cohort': the month they
    # reached the first stage), mode ('any' | 'strict', metrics.details.funnel) and stage x region,
    # owner and original source x whole days from the previous stage (NULL for the first stage)
    # (version 13): the funnel's counts and median days between stages, exact to the day
    Column("month", String(7), nullable=False),
    Column("funnel_view", String(8), nullable=False), Column("funnel_mode", String(8), nullable=False),
    Column("stage", String(64), nullable=False),
    Column("region", String(64)), _id("owner_id"), Column("source", String(64)),
    Column("days", Integer),
    Column("n", Integer, nullable=False),
    Column("deal_lines", String(255)),  # as rollup_contacts' (version 19)
)

rollup_deal_forecast = Table(
    "rollup_deal_forecast", metadata,
    # deals by close month x pipeline, stage, currency, region, product line, deal source, owner x
    # HubSpot forecast category: count and amount (version 13; the Sales page's forecast table,
    # metrics/rollup_forecast.py)
    Column("month", String(7), nullable=False),
    _id("pipeline_id"), _id("stage_id"), Column("currency", String(3)),
    Column("region", String(64)), Column("product_line", String(64)), Column("deal_source", String(64)),
    _id("owner_id"), Column("forecast_category", String(64)),
    Column("n", Integer, nullable=False),
    Column("amount_cents", BigInteger),
)

rollup_contact_days = Table(
    "rollup_contact_days", metadata,
    # rollup_contacts by day (version 13): the edge days of a period (the month in progress, a
    # custom date) read from here instead of the contacts (metrics/rollups.py, contact_rows)
    Column("day", String(10), nullable=False),  # 'YYYY-MM-DD' when the contact reached `role` (any-stage)
    Column("role", String(16), nullable=False),
    Column("region", String(64)), _id("owner_id"), Column("source", String(64)),
    Column("n", Integer, nullable=False),
    Column("reached_mql", Integer, nullable=False), Column("reached_sql", Integer, nullable=False),
    Column("reached_opportunity", Integer, nullable=False), Column("reached_customer", Integer, nullable=False),
    Column("followed_up_in_sla", Integer, nullable=False),
    Column("deal_lines", String(255)),  # as rollup_contacts' (version 19)
)

rollup_recent_funnel_days = Table(
    "rollup_recent_funnel_days", metadata,
    # rollup_funnel_days by day, for the recent days only (version 16): the days from the first
    # day of the previous month on, as of the last build (store_meta 'rollup_recent_from'), so the
    # edge days of the default views (the month in progress) read no contact. Not every day:
    # by day the histogram is close to one row per contact and stage (metrics/rollup_days.py)
    Column("day", String(10), nullable=False),  # 'YYYY-MM-DD' (the view's date, as `month` there)
    Column("funnel_view", String(8), nullable=False), Column("funnel_mode", String(8), nullable=False),
    Column("stage", String(64), nullable=False),
    Column("region", String(64)), _id("owner_id"), Column("source", String(64)),
    Column("days", Integer),
    Column("n", Integer, nullable=False),
    Column("deal_lines", String(255)),  # as rollup_contacts' (version 19)
)

rollup_recent_contact_campaigns = Table(
    "rollup_recent_contact_campaigns", metadata,
    # rollup_contact_campaigns by day, for the same recent days (version 16): the campaign
    # table's edge days (metrics/rollups.py, contact_campaign_rows)
    Column("day", String(10), nullable=False),
    Column("role", String(16), nullable=False),  # lead | mql | customer
    Column("campaign", String(255), nullable=False),
    Column("region", String(64)), _id("owner_id"), Column("source", String(64)),
    Column("n", Integer, nullable=False),
    Column("deal_lines", String(255)),  # as rollup_contacts' (version 19)
)

# rollup_deals and rollup_deal_campaigns by close day, for the recent days (version 18): the deals
# closing in the edge days of the month in progress (and of a review week) read a few rows a day,
# not the day's deals with their primary contact's source (metrics/rollups.py, deal_rows)
rollup_recent_deals = _by_day("rollup_recent_deals", rollup_deals)
rollup_recent_deal_campaigns = _by_day("rollup_recent_deal_campaigns", rollup_deal_campaigns)

rollup_nps_months = Table(
    "rollup_nps_months", metadata,
    # NPS answers by submission month x the respondent's company's region x score (version 16;
    # metrics/nps.py): the NPS tiles' whole months with or without a region filter
    Column("month", String(7), nullable=False),
    Column("region", String(64)),  # NULL: no contact or company in the store, or no region
    Column("score", Integer, nullable=False),
    Column("n", Integer, nullable=False),
    # the product lines of the respondent's company's live deals (as rollup_contacts' deal_lines;
    # version 19): the NPS of a product line
    Column("deal_lines", String(255)),
)

rollup_mrr = Table(
    "rollup_mrr", metadata,
    # recurring revenue by month x customer x the region and product line of the invoice's deal
    # (version 14; metrics/recurring.py builds and reads it): one row per customer and month, not
    # per invoice line
    Column("month_idx", Integer, nullable=False),  # year * 12 + month - 1
    Column("customer", String(300), nullable=False),  # "c:" company id, else "n:" lower(trim(name))
    Column("customer_name", String(255)),
    Column("region", String(64)), Column("product_line", String(64)),
    Column("mrr", Float, nullable=False),  # reporting currency, major units
)

rollup_mrr_moves = Table(
    "rollup_mrr_moves", metadata,
    # the MRR movements and stock by month, built from rollup_mrr in the same refresh (version 14;
    # metrics/recurring.py): per slice (0 every customer's total, 1 by region, 2 by product line,
    # 3 by both; region / product line "" = none, or any at a level that does not split by it),
    # month and kind ("mrr": the month's stock; new, expansion, reactivation, contraction, churn:
    # the changes on the month's first day), the customers and the MRR (moved, positive)
    Column("slice", Integer, nullable=False),
    Column("region", String(64), nullable=False), Column("product_line", String(64), nullable=False),
    Column("month_idx", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    # churn rows: the month of the customer's previous churn in the slice (-1: none), so distinct
    # churned customers over months [lo, hi] are those with prev_churn < lo; -1 on the other kinds
    Column("prev_churn", Integer, nullable=False),
    Column("customers", Integer, nullable=False),
    Column("mrr", Float, nullable=False),
)

rollup_mrr_retention = Table(
    "rollup_mrr_retention", metadata,
    # NRR / GRR by starting month and months later (1 to 12), built with rollup_mrr_moves (version
    # 14; metrics/recurring.py): per slice (as rollup_mrr_moves), the customers with MRR in the
    # starting month and still in the later one: their MRR then, and the same capped at their start
    Column("slice", Integer, nullable=False),
    Column("region", String(64), nullable=False), Column("product_line", String(64), nullable=False),
    Column("month_idx", Integer, nullable=False),  # the starting month
    Column("months", Integer, nullable=False),  # the later month is month_idx + months
    Column("kept", Float, nullable=False),
    Column("kept_capped", Float, nullable=False),
)

rollup_mrr_cohorts = Table(
    "rollup_mrr_cohorts", metadata,
    # the cohort table (version 15; metrics/recurring.py): per slice (as rollup_mrr_moves), the
    # customers by their first month with MRR in the slice x months since: how many still have MRR
    # and their MRR then
    Column("slice", Integer, nullable=False),
    Column("region", String(64), nullable=False), Column("product_line", String(64), nullable=False),
    Column("first_idx", Integer, nullable=False),
    Column("months_since", Integer, nullable=False),
    Column("customers", Integer, nullable=False),
    Column("mrr", Float, nullable=False),
)

rollup_mrr_movers = Table(
    "rollup_mrr_movers", metadata,
    # the customers who churned or contracted (version 15; metrics/recurring.py), per slice (as
    # rollup_mrr_moves) and month, with their MRR the month before and this month: the Finance
    # page's and the meeting's list by name reads a period's rows through its index
    Column("slice", Integer, nullable=False),
    Column("region", String(64), nullable=False), Column("product_line", String(64), nullable=False),
    Column("month_idx", Integer, nullable=False),
    Column("customer", String(300), nullable=False),  # its name is read from rollup_mrr
    Column("kind", String(16), nullable=False),  # churn | contraction
    Column("mrr_before", Float, nullable=False),
    Column("mrr_after", Float, nullable=False),
)

# Indexes for the filters people use: period, region, product line, owner, stage.
Index("ix_deals_close_date", deals.c.close_date)
# covers the metrics' pass over the deals closing in a period (metrics/sales.py closed_stats):
# an index-only range scan instead of one table lookup per deal
Index("ix_deals_close_cover", deals.c.close_date, deals.c.is_deleted, deals.c.pipeline_id, deals.c.stage_id,
      deals.c.currency, deals.c.amount_cents, deals.c.created_at, deals.c.owner_id, deals.c.region,
      deals.c.product_line, deals.c.deal_source, deals.c.contact_id)
Index("ix_deals_created_at", deals.c.created_at)
Index("ix_deals_stage", deals.c.pipeline_id, deals.c.stage_id)
Index("ix_deals_owner", deals.c.owner_id)
# a contact's deals (the rollup Keeper re-counts them when a sync changes the contact)
Index("ix_deals_contact", deals.c.contact_id)
# the median sales cycle reads the won deals of a period: by stage, then close date
Index("ix_deals_stage_close", deals.c.pipeline_id, deals.c.stage_id, deals.c.close_date, deals.c.created_at,
      deals.c.is_deleted)
Index("ix_deals_region_pl", deals.c.region, deals.c.product_line)
Index("ix_deals_updated_at", deals.c.updated_at)
# the sources and campaigns people filter and split by, listed by index seeks (metrics.dimensions.
# indexed_distinct: milliseconds, not a read of every deal or contact; version 17)
Index("ix_deals_source", deals.c.deal_source)
# a company's deals (version 19): the NPS of a product line over a few days finds each answer's
# company's deals by it, and the rollups' Keeper the deals of a written company
Index("ix_deals_company", deals.c.company_id)
Index("ix_contacts_campaign", contacts.c.campaign)
Index("ix_contacts_created_at", contacts.c.created_at)
Index("ix_contacts_mql_at", contacts.c.became_mql_at)
# the funnel counts contacts entering each stage in a period (metrics/funnel.py)
Index("ix_contacts_lead_at", contacts.c.became_lead_at)
Index("ix_contacts_sql_at", contacts.c.became_sql_at)
Index("ix_contacts_opportunity_at", contacts.c.became_opportunity_at)
Index("ix_contacts_customer_at", contacts.c.became_customer_at)
# when a contact became MQL with the default stages (any-stage: its MQL date, else its next stage's),
# in order: the burnt-leads list reads one page of it (version 13)
Index("ix_contacts_mql_reached", func.coalesce(contacts.c.became_mql_at, contacts.c.became_sql_at,
                                               contacts.c.became_opportunity_at, contacts.c.became_customer_at),
      contacts.c.contact_id)
Index("ix_contacts_owner", contacts.c.owner_id)
Index("ix_contacts_region", contacts.c.region)
Index("ix_contacts_source", contacts.c.original_source)
Index("ix_contacts_updated_at", contacts.c.updated_at)
# covers the funnel's one pass over the period's contacts (metrics/funnel.py funnel_stats): an
# index-only scan instead of one table lookup per contact that entered some stage in the period
Index("ix_contacts_funnel_cover", contacts.c.is_deleted, contacts.c.became_lead_at, contacts.c.became_mql_at,
      contacts.c.became_sql_at, contacts.c.became_opportunity_at, contacts.c.became_customer_at,
      contacts.c.first_sales_touch_at, contacts.c.region, contacts.c.owner_id, contacts.c.original_source)
Index("ix_companies_updated_at", companies.c.updated_at)
Index("ix_dsh_deal", deal_stage_history.c.deal_id, deal_stage_history.c.entered_at)
Index("ix_line_items_deal", line_items.c.deal_id)
Index("ix_spend_date", marketing_spend.c.spend_date, marketing_spend.c.channel)
Index("ix_ledger_import", ledger_entries.c.import_id)
Index("ix_invoices_issue_date", invoices.c.issue_date)
Index("ix_invoices_deal", invoices.c.deal_id)
# cover the finance metrics' passes (metrics/finance.py): invoices by issue date (invoiced revenue,
# ARPA's customers) and by paid date (cash), the ledger by date and account: index-only range scans
Index("ix_invoices_issue_cover", invoices.c.issue_date, invoices.c.status, invoices.c.is_credit_note,
      invoices.c.currency, invoices.c.amount_excl_tax_cents, invoices.c.deal_id, invoices.c.company_id,
      invoices.c.customer_name)
Index("ix_invoices_paid_cover", invoices.c.paid_date, invoices.c.status, invoices.c.is_credit_note,
      invoices.c.currency, invoices.c.amount_excl_tax_cents, invoices.c.tax_cents, invoices.c.deal_id)
Index("ix_ledger_cover", ledger_entries.c.ecriture_date, ledger_entries.c.compte_num,
      ledger_entries.c.debit_cents, ledger_entries.c.credit_cents)
# (ix_ledger_date_account, on ecriture_date and compte_num, was dropped in version 5: ix_ledger_cover
# starts with the same two columns and serves the same searches; one index less to rebuild after
# a big FEC import and to write on every ledger line)
Index("ix_budgets_month", budgets.c.month, budgets.c.metric)
Index("ix_import_runs_hash", import_runs.c.kind, import_runs.c.file_hash)
Index("ix_snapshots_week", pipeline_snapshots.c.week_start)
Index("ix_decision_events_decision", decision_events.c.decision_id, decision_events.c.at)
Index("ix_audit_at", audit_log.c.at)
Index("ix_rollup_deals_month", rollup_deals.c.month)
Index("ix_rollup_deal_campaigns_month", rollup_deal_campaigns.c.month)
Index("ix_rollup_contacts_month", rollup_contacts.c.month, rollup_contacts.c.role)
Index("ix_rollup_contact_campaigns_month", rollup_contact_campaigns.c.month, rollup_contact_campaigns.c.role)
Index("ix_rollup_invoice_months_month", rollup_invoice_months.c.month, rollup_invoice_months.c.basis)
Index("ix_rollup_ledger_months_month", rollup_ledger_months.c.month, rollup_ledger_months.c.compte_num)
Index("ix_rollup_deal_cycles_month", rollup_deal_cycles.c.month)
Index("ix_rollup_contact_days_day", rollup_contact_days.c.day, rollup_contact_days.c.role)
Index("ix_rollup_deal_forecast_month", rollup_deal_forecast.c.month)
Index("ix_rollup_funnel_days_month", rollup_funnel_days.c.funnel_view, rollup_funnel_days.c.funnel_mode, rollup_funnel_days.c.month)
Index("ix_rollup_recent_funnel_days_day", rollup_recent_funnel_days.c.funnel_view,
      rollup_recent_funnel_days.c.funnel_mode, rollup_recent_funnel_days.c.day)
Index("ix_rollup_recent_contact_campaigns_day", rollup_recent_contact_campaigns.c.day,
      rollup_recent_contact_campaigns.c.role)
Index("ix_rollup_recent_deals_day", rollup_recent_deals.c.day)
Index("ix_rollup_ledger_days_day", rollup_ledger_days.c.day, rollup_ledger_days.c.compte_num)
Index("ix_rollup_recent_deal_campaigns_day", rollup_recent_deal_campaigns.c.day)
Index("ix_rollup_invoice_accounts_month", rollup_invoice_accounts.c.month, rollup_invoice_accounts.c.prev_month)
Index("ix_rollup_nps_months_month", rollup_nps_months.c.month, rollup_nps_months.c.region)
Index("ix_lead_feedback_contact", lead_feedback.c.contact_id, lead_feedback.c.decided_at)
# the period's answers read from the index alone (version 16; was ix_nps_submitted, on the first two)
Index("ix_nps_cover", nps_responses.c.submitted_at, nps_responses.c.score, nps_responses.c.is_deleted,
      nps_responses.c.contact_id)

Index("ix_rollup_mrr_month", rollup_mrr.c.month_idx, rollup_mrr.c.customer)
# a customer's months (the first month with MRR tells a new customer from a reactivated one)
Index("ix_rollup_mrr_customer", rollup_mrr.c.customer, rollup_mrr.c.month_idx)
Index("ix_rollup_mrr_moves", rollup_mrr_moves.c.slice, rollup_mrr_moves.c.region, rollup_mrr_moves.c.product_line,
      rollup_mrr_moves.c.month_idx)
Index("ix_rollup_invoice_days_day", rollup_invoice_days.c.day, rollup_invoice_days.c.basis)
Index("ix_rollup_invoice_dims_month", rollup_invoice_dims.c.month, rollup_invoice_dims.c.basis)
Index("ix_rollup_invoice_dim_days_day", rollup_invoice_dim_days.c.day, rollup_invoice_dim_days.c.basis)
Index("ix_rollup_invoice_account_slices_day", rollup_invoice_account_slices.c.dim, rollup_invoice_account_slices.c.value,
      rollup_invoice_account_slices.c.day, rollup_invoice_account_slices.c.prev_day)
Index("ix_rollup_invoice_account_days_day", rollup_invoice_account_days.c.dim, rollup_invoice_account_days.c.value,
      rollup_invoice_account_days.c.day, rollup_invoice_account_days.c.prev_day)
Index("ix_rollup_mrr_cohorts", rollup_mrr_cohorts.c.slice, rollup_mrr_cohorts.c.region,
      rollup_mrr_cohorts.c.product_line, rollup_mrr_cohorts.c.first_idx)
Index("ix_rollup_mrr_movers", rollup_mrr_movers.c.slice, rollup_mrr_movers.c.region,
      rollup_mrr_movers.c.product_line, rollup_mrr_movers.c.month_idx)
Index("ix_rollup_mrr_retention", rollup_mrr_retention.c.slice, rollup_mrr_retention.c.region,
      rollup_mrr_retention.c.product_line, rollup_mrr_retention.c.month_idx, rollup_mrr_retention.c.months)
Index("ix_invoices_service_period", invoices.c.service_period_start, invoices.c.service_period_end)
