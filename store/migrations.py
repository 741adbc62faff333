"""Schema versions and the path from any older store to the current one.

Each migration takes a connection inside the upgrade transaction and brings the store from
version N-1 to N. Version 1 is the first released schema; later versions only add.
A store made by an older Northstar therefore opens and upgrades in place.
"""
from __future__ import annotations

import hashlib
import warnings
from typing import Callable

from sqlalchemy import Connection, MetaData, Table, UniqueConstraint, func, inspect, select
from sqlalchemy.schema import CreateIndex

from . import schema as s

# Objects that did not exist in version 1, by the version that added them.
_ADDED_TABLES = {"definition_overrides": 2, "audit_log": 2, "decision_events": 3, "rollup_state": 4,
                 "rollup_deals": 4, "rollup_deal_campaigns": 4, "rollup_contacts": 4,
                 "rollup_invoice_months": 4, "rollup_invoice_accounts": 4, "rollup_ledger_months": 4,
                 "rollup_contact_campaigns": 6, "import_replaced": 7,
                 "alerts": 11, "notifications": 11, "lead_feedback": 12, "nps_responses": 12,
                 "rollup_deal_cycles": 13, "rollup_funnel_days": 13,
                 "rollup_deal_forecast": 13, "rollup_contact_days": 13,
                 "rollup_mrr": 14, "rollup_mrr_moves": 14,
                 "rollup_mrr_retention": 14, "rollup_invoice_days": 15, "rollup_invoice_dims": 15,
                 "rollup_invoice_account_slices": 15, "rollup_invoice_account_days": 15,
                 "rollup_mrr_cohorts": 15, "rollup_mrr_movers": 15,
                 "rollup_recent_funnel_days": 16, "rollup_recent_contact_campaigns": 16,
                 "rollup_nps_months": 16, "rollup_invoice_dim_days": 17,
                 "rollup_recent_deals": 18, "rollup_recent_deal_campaigns": 18, "rollup_ledger_days": 19}
_ADDED_COLUMNS = {("contacts", "disqualified_reason"): 2, ("rollup_deal_campaigns", "n"): 6,
                  ("import_runs", "read_options"): 7, ("import_runs", "company"): 7,
                  ("import_runs", "undone_at"): 7, ("import_runs", "undone_by"): 7,
                  ("deals", "deal_type"): 8, ("rollup_deals", "deal_type"): 8,
                  ("rollup_deal_campaigns", "deal_type"): 8, ("budgets", "owner_id"): 9, ("budgets", "team"): 9,
                  ("meeting_decisions", "segment_type"): 10, ("meeting_decisions", "segment_value"): 10,
                  ("meeting_decisions", "direction"): 10, ("meeting_decisions", "target_value"): 10,
                  ("invoices", "service_period_start"): 14, ("invoices", "service_period_end"): 14,
                  ("line_items", "billing_frequency"): 14, ("line_items", "billing_start_date"): 14,
                  ("line_items", "term_months"): 14, ("rollup_contacts", "deal_lines"): 19,
                  ("rollup_contact_days", "deal_lines"): 19, ("rollup_contact_campaigns", "deal_lines"): 19,
                  ("rollup_funnel_days", "deal_lines"): 19, ("rollup_recent_funnel_days", "deal_lines"): 19,
                  ("rollup_recent_contact_campaigns", "deal_lines"): 19, ("rollup_nps_months", "deal_lines"): 19}
# Unique constraints whose columns changed: name -> (the columns before, the version that changed them).
_CHANGED_UNIQUES = {"uq_budget_line": (("month", "region", "product_line", "metric"), 9)}
# Indexes an older version declared and a later one dropped, by the version that dropped them.
_DROPPED_INDEXES = {"ix_ledger_date_account": 5, "ix_nps_submitted": 16}


def _table_as_of(table: Table, version: int, md: MetaData) -> Table:
    """A copy of `table` without the columns added after `version`."""
    cols = [c._copy() for c in table.columns
            if _ADDED_COLUMNS.get((table.name, c.name), 1) <= version]
    names = {c.name for c in cols}
    uniques = []
    for uc in table.constraints:
        if not isinstance(uc, UniqueConstraint):
            continue
        keys = [c.name for c in uc.columns]
        before, changed = _CHANGED_UNIQUES.get(uc.name, ((), 0))
        if version < changed:
            keys = list(before)
        if set(keys) <= names:
            uniques.append(UniqueConstraint(*keys, name=uc.name))
    return Table(table.name, md, *cols, *uniques)


def _create_tables(conn: Connection, version: int, only_new: bool) -> None:
    md = MetaData()
    wanted = [t for t in s.metadata.sorted_tables
              if (_ADDED_TABLES.get(t.name, 1) == version if only_new
                  else _ADDED_TABLES.get(t.name, 1) <= version)]
    # copy referenced tables first so foreign keys resolve inside `md`
    for t in s.metadata.sorted_tables:
        _table_as_of(t, version, md)
    for t in wanted:
        md.tables[t.name].create(conn, checkfirst=True)
        for ix in t.indexes:
            if all(_ADDED_COLUMNS.get((t.name, c.name), 1) <= version for c in ix.columns):
                conn.execute(CreateIndex(ix, if_not_exists=True))


def _stale(conn: Connection, *groups: str) -> None:
    """Mark rollup groups stale (the next refresh builds them), in a store that has them."""
    if inspect(conn).has_table("rollup_state"):
        conn.execute(s.rollup_state.update().where(s.rollup_state.c.name.in_(groups)).values(built_version=-1))


def _v1(conn: Connection) -> None:
    _create_tables(conn, 1, only_new=False)


def _add_new_columns(conn: Connection, version: int) -> None:
    for (table_name, col_name), added in _ADDED_COLUMNS.items():
        if added != version or not inspect(conn).has_table(table_name):
            continue
        existing = {c["name"] for c in inspect(conn).get_columns(table_name)}
        if col_name not in existing:
            col = s.metadata.tables[table_name].c[col_name]
            type_sql = col.type.compile(dialect=conn.dialect)
            conn.exec_driver_sql(f"ALTER TABLE {table_name} ADD COLUMN {col_name} {type_sql}")


def _v2(conn: Connection) -> None:
    """Definition edits and the audit trail; disqualification reason on contacts."""
    _create_tables(conn, 2, only_new=True)
    _add_new_columns(conn, 2)


def _ensure_declared_indexes(conn: Connection) -> None:
    """Create every index the schema declares that the store lacks (indexes added for speed)."""
    insp = inspect(conn)
    for t in s.metadata.sorted_tables:
        if not insp.has_table(t.name):
            continue
        with warnings.catch_warnings():  # reflection skips an index on an expression, saying so
            warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index")
            existing = {ix["name"] for ix in insp.get_indexes(t.name)}
        columns = {c["name"] for c in insp.get_columns(t.name)}
        for ix in t.indexes:  # an index on a column a later version adds waits for that version
            if ix.name not in existing and {c.name for c in ix.columns} <= columns:
                # IF NOT EXISTS: SQLite does not reflect an index on an expression (ix_contacts_mql_reached)
                conn.execute(CreateIndex(ix, if_not_exists=True))


def _v3(conn: Connection) -> None:
    """Meeting decision history (decision_events); the metric layer's covering indexes on older stores."""
    _create_tables(conn, 3, only_new=True)
    _add_new_columns(conn, 3)
    _ensure_declared_indexes(conn)


def _v4(conn: Connection) -> None:
    """The metric layer's monthly rollups (empty until built: metrics fall back to the base tables)."""
    _create_tables(conn, 4, only_new=True)
    _ensure_declared_indexes(conn)


def _drop_indexes(conn: Connection, version: int) -> None:
    for name, dropped in _DROPPED_INDEXES.items():
        if dropped == version:
            conn.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")


def _v5(conn: Connection) -> None:
    """ix_ledger_date_account dropped: ix_ledger_cover begins with the same columns; a contact's
    deals indexed (ix_deals_contact)."""
    _drop_indexes(conn, 5)
    _ensure_declared_indexes(conn)


def _v6(conn: Connection) -> None:
    """The campaign table's rollups: contacts by campaign (rollup_contact_campaigns) and the deal
    count by campaign (rollup_deal_campaigns.n). The CRM rollups are marked stale: the next
    refresh (the app's, the CLI's, a sync's) builds them with the new figures."""
    _create_tables(conn, 6, only_new=True)
    _add_new_columns(conn, 6)
    _ensure_declared_indexes(conn)
    _stale(conn, "metric_rollups")


def _v7(conn: Connection) -> None:
    """Imports that can be undone and never delete rows of another company: how each import read
    its file and the company identity of each FEC (import_runs.read_options, company, undone_at,
    undone_by), and the rows an import replaced (import_replaced). Earlier FEC imports get the
    identity a new import of the same file would get: the SIREN of their rows, else one derived
    from the file's name."""
    _create_tables(conn, 7, only_new=True)
    _add_new_columns(conn, 7)
    _ensure_declared_indexes(conn)
    runs, ledger = s.import_runs, s.ledger_entries
    sirens = dict(conn.execute(select(ledger.c.import_id, func.max(ledger.c.siren))
                               .where(ledger.c.import_id.is_not(None)).group_by(ledger.c.import_id)).all())
    for import_id, file_name in conn.execute(select(runs.c.import_id, runs.c.file_name)
                                             .where(runs.c.kind == "fec")).all():
        conn.execute(runs.update().where(runs.c.import_id == import_id).values(
            company=sirens.get(import_id) or company_from_name(file_name)))


def _v8(conn: Connection) -> None:
    """Revenue by type: the deals' HubSpot deal type (deals.deal_type, NULL until the next sync or
    CSV import reads `dealtype`) and the same in the deal rollups. The CRM rollups are marked
    stale: the next refresh builds them with the deal type."""
    _add_new_columns(conn, 8)
    _stale(conn, "metric_rollups")


def _v9(conn: Connection) -> None:
    """Quotas: a budget line may be set for an owner or a team (budgets.owner_id, budgets.team, ''
    on every earlier line), and a budget line is unique per month, region, product line, owner,
    team and metric (uq_budget_line gains owner_id and team). PostgreSQL changes the constraint in
    place; SQLite, which cannot drop a table constraint, copies the table into its new form."""
    if not inspect(conn).has_table("budgets"):
        return
    existing = {c["name"] for c in inspect(conn).get_columns("budgets")}
    if conn.dialect.name == "postgresql":
        for name, size in (("owner_id", 64), ("team", 128)):
            if name not in existing:
                conn.exec_driver_sql(f"ALTER TABLE budgets ADD COLUMN {name} VARCHAR({size}) NOT NULL DEFAULT ''")
        conn.exec_driver_sql("ALTER TABLE budgets DROP CONSTRAINT IF EXISTS uq_budget_line")
        conn.exec_driver_sql("ALTER TABLE budgets ADD CONSTRAINT uq_budget_line UNIQUE "
                             "(month, region, product_line, owner_id, team, metric)")
        return
    kept = [c for c in ("budget_id", "month", "region", "product_line", "metric", "value", "import_id",
                        "owner_id", "team") if c in existing]
    for ix in s.budgets.indexes:
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {ix.name}")
    conn.exec_driver_sql("ALTER TABLE budgets RENAME TO budgets_before_v9")
    s.budgets.create(conn)
    conn.exec_driver_sql(f"INSERT INTO budgets ({', '.join(kept)}) SELECT {', '.join(kept)} FROM budgets_before_v9")
    conn.exec_driver_sql("DROP TABLE budgets_before_v9")


def _v10(conn: Connection) -> None:
    """Decisions followed to their outcome: a decision names the segment of its metric, the
    direction and/or the value it should reach by its due date (meeting_decisions)."""
    _add_new_columns(conn, 10)


def _v11(conn: Connection) -> None:
    """Alerts (each fires once until it clears) and the log of digests and alerts sent."""
    _create_tables(conn, 11, only_new=True)


def _v12(conn: Connection) -> None:
    """Sales feedback on leads (lead_feedback: accepted or rejected with a reason, who and when,
    every verdict kept) and NPS survey answers (nps_responses, from HubSpot or a file)."""
    _create_tables(conn, 12, only_new=True)
    _ensure_declared_indexes(conn)


def _v13(conn: Connection) -> None:
    """Day-resolution histograms for the medians that do not add up (issue #16): won deals by
    whole days of sales cycle (rollup_deal_cycles) and contacts by whole days between funnel
    stages (rollup_funnel_days); deals by forecast category (rollup_deal_forecast); the contact
    rollup by day for the edge days of a period (rollup_contact_days). The CRM
    rollups are marked stale: the next refresh builds them."""
    _create_tables(conn, 13, only_new=True)
    _ensure_declared_indexes(conn)
    _stale(conn, "metric_rollups")


def _v14(conn: Connection) -> None:
    """Recurring revenue: the invoices' service period (invoices.service_period_start, _end; NULL
    on the invoices imported before, which re-importing the export with its period columns fills),
    the line items' recurring billing (line_items.billing_frequency, billing_start_date,
    term_months; NULL until the next HubSpot sync writes them), the per-customer monthly MRR
    summary (rollup_mrr) with its per-month movements and retention (rollup_mrr_moves,
    rollup_mrr_retention), built by the next refresh. The HubSpot line items are marked for a
    backfill, so the next sync re-reads them with their recurring billing properties."""
    _create_tables(conn, 14, only_new=True)
    _add_new_columns(conn, 14)
    _ensure_declared_indexes(conn)
    if inspect(conn).has_table("sync_state"):
        conn.execute(s.sync_state.update().where(s.sync_state.c.connector == "hubspot",
                                                 s.sync_state.c.object_type == "line_items")
                     .values(phase="idle", page_after=None, cursor_at=None))


def _v15(conn: Connection) -> None:
    """Summaries so that the Finance page reads no invoice and no per-customer MRR on a cold
    view (issues #16, #17): the invoice rollups by day (rollup_invoice_days, rollup_invoice_account_days:
    the edge days of a period, ARPA's trailing 12 months ending on any day), the MRR cohort table
    (rollup_mrr_cohorts) and the churned and contracted customers (rollup_mrr_movers). The invoice
    rollups and the MRR summary are marked stale: the next refresh builds them, and the invoice
    rollup by the deal's dimensions (rollup_invoice_dims) and ARPA's customers by region and by
    product line (rollup_invoice_account_slices), two groups of their own."""
    _create_tables(conn, 15, only_new=True)
    _ensure_declared_indexes(conn)
    _stale(conn, "invoice_rollups", "mrr_summary")


def _v16(conn: Connection) -> None:
    """The edge days of the Marketing page's cold view (issue #16): the funnel histogram and the
    contacts by campaign by day, for the recent days (rollup_recent_funnel_days,
    rollup_recent_contact_campaigns). The CRM rollups are marked stale: the next refresh builds
    them, and the NPS answers by month (rollup_nps_months, a group of its own). The NPS answers'
    index covers the NPS counts (ix_nps_cover replaces ix_nps_submitted)."""
    _create_tables(conn, 16, only_new=True)
    _drop_indexes(conn, 16)
    _ensure_declared_indexes(conn)
    _stale(conn, "metric_rollups")


def _v17(conn: Connection) -> None:
    """The Finance page's edge days for a region or a product line (issue #16): the invoices by day
    and by their deal's region and product line (rollup_invoice_dim_days). The invoice rollup by the
    deal's dimensions is marked stale: the next refresh builds both. The deals' source and the
    contacts' campaign get an index (the breakdowns' segments by index seeks)."""
    _create_tables(conn, 17, only_new=True)
    _ensure_declared_indexes(conn)
    _stale(conn, "invoice_dim_rollups")


def _v18(conn: Connection) -> None:
    """The deals' edge days (issue #16): the deals and the deals by campaign by close day, for the
    recent days (rollup_recent_deals, rollup_recent_deal_campaigns). The CRM rollups are marked
    stale: the next refresh builds them."""
    _create_tables(conn, 18, only_new=True)
    _ensure_declared_indexes(conn)
    _stale(conn, "metric_rollups")


def _v19(conn: Connection) -> None:
    """Product-line filters on the contacts' figures (issue #16): every contact rollup (by month,
    by day, by campaign, the funnel histograms) carries the product lines of each contact's deals
    (deal_lines), and the NPS answers by month their respondent's company's; the deals get an
    index on their company; the ledger by day (rollup_ledger_days: a period's edge days). These
    groups are marked stale: the next refresh builds them."""
    _create_tables(conn, 19, only_new=True)
    _add_new_columns(conn, 19)
    _ensure_declared_indexes(conn)
    _stale(conn, "metric_rollups", "nps_rollups", "ledger_rollups")


def company_from_name(file_name: str) -> str:
    """The identity of a FEC whose name carries no SIREN and whose importer named no company:
    a hash of its file name (a corrected file of the same name is the same company)."""
    base = file_name.replace("\\", "/").rsplit("/", 1)[-1].strip().lower()
    return "file:" + hashlib.sha256(base.encode("utf-8")).hexdigest()[:16]


MIGRATIONS: dict[int, Callable[[Connection], None]] = {1: _v1, 2: _v2, 3: _v3, 4: _v4, 5: _v5, 6: _v6, 7: _v7, 8: _v8, 9: _v9, 10: _v10, 11: _v11, 12: _v12, 13: _v13, 14: _v14,
                                                 15: _v15, 16: _v16, 17: _v17, 18: _v18, 19: _v19}
assert max(MIGRATIONS) == s.SCHEMA_VERSION, "every schema version needs a migration"
