"""The store: schema creation on every backend, upgrades from older versions, bad settings."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import create_engine, inspect, select

from store import StoreError, StoreSettings, open_store, schema, upsert
from store.db import bump_data_version, data_version, schema_version, upgrade_store
from store.migrations import MIGRATIONS, _v1


def test_store_schema_created_on_every_backend(engine):
    names = set(inspect(engine).get_table_names())
    assert set(schema.metadata.tables) <= names
    assert schema_version(engine) == schema.SCHEMA_VERSION


def test_store_upgrades_v1_store_keeping_its_rows(store_url):
    raw = create_engine(store_url)
    with raw.begin() as conn:
        _v1(conn)
        schema.schema_version.create(conn, checkfirst=True)
        conn.execute(schema.schema_version.insert().values(version=1, applied_at=dt.datetime(2024, 1, 1)))
        conn.execute(schema.contacts.insert().values(contact_id="c1", email="a@example.com"))
    cols = {c["name"] for c in inspect(raw).get_columns("contacts")}
    assert "disqualified_reason" not in cols
    assert not inspect(raw).has_table("audit_log")
    raw.dispose()

    engine = open_store(StoreSettings(store_url, "test"))
    assert schema_version(engine) == schema.SCHEMA_VERSION
    assert inspect(engine).has_table("audit_log")
    with engine.connect() as conn:
        row = conn.execute(select(schema.contacts)).mappings().one()
    assert row["email"] == "a@example.com" and row["disqualified_reason"] is None
    assert upgrade_store(engine) == []  # idempotent


def test_store_upsert_updates_existing_rows(engine):
    with engine.begin() as conn:
        upsert(conn, schema.owners, [{"owner_id": "1", "email": "a@x.io", "origin": "demo"}], ["owner_id"])
        upsert(conn, schema.owners, [{"owner_id": "1", "email": "b@x.io", "origin": "demo"},
                                     {"owner_id": "2", "email": "c@x.io", "origin": "demo"}], ["owner_id"])
        rows = conn.execute(select(schema.owners.c.owner_id, schema.owners.c.email)
                            .order_by(schema.owners.c.owner_id)).all()
    assert rows == [("1", "b@x.io"), ("2", "c@x.io")]


def test_store_data_version_increments(engine):
    assert data_version(engine) == 0
    with engine.begin() as conn:
        bump_data_version(conn)
        bump_data_version(conn)
    assert data_version(engine) == 2


def test_store_sqlite_uses_wal_and_foreign_keys(make_store_url):
    engine = open_store(StoreSettings(make_store_url("sqlite"), "test"))
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_store_unreachable_url_names_the_setting():
    with pytest.raises(StoreError) as err:
        open_store(StoreSettings("postgresql+psycopg://u:secretpw@127.0.0.1:1/x", "NORTHSTAR_DB_URL"))
    assert "NORTHSTAR_DB_URL" in str(err.value) and "secretpw" not in str(err.value)


def test_store_malformed_url_names_the_setting():
    with pytest.raises(StoreError, match="NORTHSTAR_DB_URL"):
        open_store(StoreSettings("not a url", "NORTHSTAR_DB_URL"))


def test_store_unwritable_data_dir_names_the_setting(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="NORTHSTAR_DATA_DIR"):
        open_store(StoreSettings(f"sqlite:///{blocker}/sub/northstar.db", "NORTHSTAR_DATA_DIR"))


def test_store_newer_schema_is_refused(engine):
    with engine.begin() as conn:
        conn.execute(schema.schema_version.insert().values(version=99, applied_at=dt.datetime(2030, 1, 1)))
    with pytest.raises(StoreError, match="newer"):
        upgrade_store(engine)


def test_store_env_var_wins_over_default(monkeypatch, tmp_path):
    from store import resolve_store
    monkeypatch.setenv("NORTHSTAR_DB_URL", f"sqlite:///{tmp_path}/x.db")
    assert resolve_store().source == "NORTHSTAR_DB_URL"
    monkeypatch.delenv("NORTHSTAR_DB_URL")
    assert resolve_store().url.endswith("northstar.db")


def test_store_upgrades_v2_store_with_missing_table_and_indexes(store_url):
    """A store made at version 2 (before the decision history, the metric indexes and the rollups)
    upgrades to the current version."""
    from store.migrations import _v2
    raw = create_engine(store_url)
    with raw.begin() as conn:
        _v1(conn)
        _v2(conn)
        schema.schema_version.create(conn, checkfirst=True)
        for v in (1, 2):
            conn.execute(schema.schema_version.insert().values(version=v, applied_at=dt.datetime(2025, 1, 1)))
        for ix in schema.contacts.indexes:  # as if these indexes had not been declared yet
            ix.drop(conn)
    assert not inspect(raw).has_table("decision_events")
    raw.dispose()

    engine = open_store(StoreSettings(store_url, "test"))
    assert schema_version(engine) == schema.SCHEMA_VERSION
    for table in ("decision_events", "rollup_state", "rollup_deals", "rollup_deal_campaigns", "rollup_contacts",
                  "rollup_contact_campaigns"):
        assert inspect(engine).has_table(table)
    names = {ix["name"] for ix in inspect(engine).get_indexes("contacts")}
    if engine.dialect.name == "sqlite":  # SQLite's reflection skips an index on an expression
        with engine.connect() as conn:
            names |= set(conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'contacts'").scalars())
    assert {ix.name for ix in schema.contacts.indexes} <= names


def _old_store(store_url: str, version: int, built: tuple[str, ...], check=lambda conn: None) -> None:
    """A store at schema `version` (migrations 1..version, stamped) whose rollup groups `built`
    are recorded as built; `check(conn)` runs on it before it is stamped (what it lacks)."""
    raw = create_engine(store_url)
    with raw.begin() as conn:
        for v in range(1, version + 1):
            MIGRATIONS[v](conn)
        check(conn)
        schema.schema_version.create(conn, checkfirst=True)
        for v in range(1, version + 1):
            conn.execute(schema.schema_version.insert().values(version=v, applied_at=dt.datetime(2025, 1, 1)))
        conn.execute(schema.rollup_state.insert(), [
            {"name": name, "built_version": 7, "defs_fingerprint": "x", "built_at": dt.datetime(2025, 1, 1),
             "rows": 1, "seconds": 0.1} for name in built])
    raw.dispose()


def _lacks(*tables):
    def check(conn) -> None:
        for name in tables:  # version 1 creates every table the schema declares at 1
            assert not inspect(conn).has_table(name)
    return check


def test_store_upgrade_to_v13_adds_the_cold_view_summaries_and_marks_the_crm_rollups_stale(store_url):
    """A version-8 store with built rollups: version 13 adds the histograms, the forecast summary,
    the contact rollup by day and the burnt-leads index; the CRM rollups are rebuilt before they
    are read, the others stay fresh."""
    new_tables = ("rollup_deal_cycles", "rollup_funnel_days", "rollup_deal_forecast", "rollup_contact_days")
    _old_store(store_url, 8, ("metric_rollups", "invoice_rollups"), _lacks(*new_tables))

    engine = open_store(StoreSettings(store_url, "test"))
    assert schema_version(engine) == schema.SCHEMA_VERSION >= 13
    for name in new_tables:
        assert inspect(engine).has_table(name)
    with engine.connect() as conn:
        built = dict(conn.execute(select(schema.rollup_state.c.name, schema.rollup_state.c.built_version)).all())
        if engine.dialect.name == "sqlite":
            assert conn.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'ix_contacts_mql_reached'").first()
    assert built["metric_rollups"] == -1  # (version 15 marks the invoice rollups stale too: its own test)


def test_store_upgrade_to_v16_adds_the_recent_day_summaries_and_marks_the_crm_rollups_stale(store_url):
    """A version-15 store with built rollups: version 16 adds the funnel histogram and the contacts
    by campaign by day for the recent days, the NPS answers by month, and a covering index for the
    NPS counts instead of ix_nps_submitted; the CRM rollups are rebuilt before they are read (and
    then say from which day they hold the recent days), the others stay fresh."""
    from store.db import get_meta
    new_tables = ("rollup_recent_funnel_days", "rollup_recent_contact_campaigns", "rollup_nps_months")

    def as_version_15(conn) -> None:
        _lacks(*new_tables)(conn)
        conn.exec_driver_sql("DROP INDEX ix_nps_cover")  # the NPS answers' index as version 12 made it
        conn.exec_driver_sql("CREATE INDEX ix_nps_submitted ON nps_responses (submitted_at, score)")

    _old_store(store_url, 15, ("metric_rollups", "invoice_rollups"), as_version_15)

    engine = open_store(StoreSettings(store_url, "test"))
    assert schema_version(engine) == schema.SCHEMA_VERSION >= 16
    for name in new_tables:
        assert inspect(engine).has_table(name)
    names = {ix["name"] for ix in inspect(engine).get_indexes("rollup_recent_funnel_days")}
    assert "ix_rollup_recent_funnel_days_day" in names
    names = {ix["name"] for ix in inspect(engine).get_indexes("nps_responses")}
    assert "ix_nps_cover" in names and "ix_nps_submitted" not in names
    with engine.connect() as conn:
        built = dict(conn.execute(select(schema.rollup_state.c.name, schema.rollup_state.c.built_version)).all())
        assert get_meta(conn, "rollup_recent_from") is None  # not built yet: the contacts are read
    assert built == {"metric_rollups": -1, "invoice_rollups": 7}
    from metrics import rollups_build
    rollups_build.refresh(engine)
    with engine.connect() as conn:
        assert get_meta(conn, "rollup_recent_from") is not None


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
def test_store_upgrade_to_v17_adds_the_invoices_by_day_and_region_and_rebuilds_their_group(store_url):
    """A version-16 store with built rollups: version 17 adds rollup_invoice_dim_days (and its day
    index); the invoice rollup by the deal's dimensions is rebuilt before it is read, the others
    stay fresh."""
    _old_store(store_url, 16, ("invoice_rollups", "invoice_dim_rollups"), _lacks("rollup_invoice_dim_days"))

    engine = open_store(StoreSettings(store_url, "test"))
    assert schema_version(engine) == schema.SCHEMA_VERSION >= 17
    assert "ix_rollup_invoice_dim_days_day" in {ix["name"] for ix in inspect(engine).get_indexes("rollup_invoice_dim_days")}
    assert "ix_deals_source" in {ix["name"] for ix in inspect(engine).get_indexes("deals")}
    assert "ix_contacts_campaign" in {ix["name"] for ix in inspect(engine).get_indexes("contacts")}
    with engine.connect() as conn:
        built = dict(conn.execute(select(schema.rollup_state.c.name, schema.rollup_state.c.built_version)).all())
    assert built == {"invoice_rollups": 7, "invoice_dim_rollups": -1}


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
def test_store_upgrade_to_v18_adds_the_recent_deal_days_and_rebuilds_the_crm_rollups(store_url):
    """A version-17 store with built rollups: version 18 adds rollup_recent_deals and
    rollup_recent_deal_campaigns (and their day indexes); the CRM rollups are rebuilt before they
    are read, the invoice rollups stay fresh."""
    new_tables = ("rollup_recent_deals", "rollup_recent_deal_campaigns")
    _old_store(store_url, 17, ("metric_rollups", "invoice_rollups"), _lacks(*new_tables))

    engine = open_store(StoreSettings(store_url, "test"))
    assert schema_version(engine) == schema.SCHEMA_VERSION >= 18
    for name in new_tables:
        assert f"ix_{name}_day" in {ix["name"] for ix in inspect(engine).get_indexes(name)}
    with engine.connect() as conn:
        built = dict(conn.execute(select(schema.rollup_state.c.name, schema.rollup_state.c.built_version)).all())
    assert built == {"metric_rollups": -1, "invoice_rollups": 7}


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
def test_store_upgrade_to_v19_adds_the_contacts_product_lines_and_rebuilds_the_crm_rollups(store_url):
    """A version-18 store with built rollups: version 19 adds deal_lines to every contact rollup,
    the ledger by day and the deals' company index; the CRM rollups are rebuilt before they are read, the others stay fresh."""
    tables = ("rollup_contacts", "rollup_contact_days", "rollup_contact_campaigns", "rollup_recent_contact_campaigns",
              "rollup_funnel_days", "rollup_recent_funnel_days")

    def without_lines(conn) -> None:
        for name in tables:
            assert "deal_lines" not in {col["name"] for col in inspect(conn).get_columns(name)}

    _old_store(store_url, 18, ("metric_rollups", "invoice_rollups"), without_lines)

    engine = open_store(StoreSettings(store_url, "test"))
    assert schema_version(engine) == schema.SCHEMA_VERSION >= 19
    assert "ix_rollup_ledger_days_day" in {ix["name"] for ix in inspect(engine).get_indexes("rollup_ledger_days")}
    assert "ix_deals_company" in {ix["name"] for ix in inspect(engine).get_indexes("deals")}
    for name in tables:
        assert "deal_lines" in {col["name"] for col in inspect(engine).get_columns(name)}
    with engine.connect() as conn:
        built = dict(conn.execute(select(schema.rollup_state.c.name, schema.rollup_state.c.built_version)).all())
    assert built == {"metric_rollups": -1, "invoice_rollups": 7}


def test_store_upgrade_to_v6_adds_the_campaign_rollups_and_marks_the_crm_rollups_stale(store_url):
    """A version-5 store with built rollups: version 6 adds rollup_contact_campaigns and the deal
    count of rollup_deal_campaigns, and the CRM rollups must be rebuilt before they are read."""
    from store.migrations import MIGRATIONS
    raw = create_engine(store_url)
    with raw.begin() as conn:
        for v in range(1, 6):
            MIGRATIONS[v](conn)
        schema.schema_version.create(conn, checkfirst=True)
        for v in range(1, 6):
            conn.execute(schema.schema_version.insert().values(version=v, applied_at=dt.datetime(2025, 1, 1)))
        conn.execute(schema.rollup_state.insert(), [
            {"name": name, "built_version": 7, "defs_fingerprint": "x", "built_at": dt.datetime(2025, 1, 1),
             "rows": 1, "seconds": 0.1} for name in ("metric_rollups", "ledger_rollups")])
    assert "n" not in {c["name"] for c in inspect(raw).get_columns("rollup_deal_campaigns")}
    assert not inspect(raw).has_table("rollup_contact_campaigns")
    raw.dispose()

    engine = open_store(StoreSettings(store_url, "test"))
    assert schema_version(engine) == schema.SCHEMA_VERSION  # 6 and every later version
    assert inspect(engine).has_table("rollup_contact_campaigns")
    assert "n" in {c["name"] for c in inspect(engine).get_columns("rollup_deal_campaigns")}
    with engine.connect() as conn:
        built = dict(conn.execute(select(schema.rollup_state.c.name, schema.rollup_state.c.built_version)).all())
    assert built == {"metric_rollups": -1, "ledger_rollups": -1}  # the ledger's by version 19 (its days)
