"""AppTest harness: run app.py against a temp SQLite store given by NORTHSTAR_DB_URL.

`tiny_store` is built by hand (two regions, five deals) so tests can work out expected numbers
on paper; `demo_store_url` is the small demo store, seeded once per test session.
"""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from store import StoreSettings, bump_data_version, open_store, schema as s, upsert

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
PAGES = ["pages/ceo.py", "pages/marketing.py", "pages/sales.py", "pages/finance.py",
         "pages/definitions.py", "pages/data.py"]

# The tiny store's period: Q1 2026, given as custom dates in the URL.
Q1 = {"period": "custom", "from": "2026-01-01", "to": "2026-03-31"}


def build_tiny_store(url: str) -> None:
    """Two owners in two regions; in Q1 2026: won 1,000.00 EUR (France) and 500.00 EUR (UK),
    lost 300.00 EUR (France), one open 2,000.00 EUR deal; won 800.00 EUR (France) in Dec 2025."""
    engine = open_store(StoreSettings(url, "test"))
    created = dt.datetime(2025, 11, 1, 9, 0)
    with engine.begin() as conn:
        upsert(conn, s.pipelines, [{"pipeline_id": "default", "label": "Sales Pipeline", "display_order": 0,
                                    "is_archived": False}], ["pipeline_id"])
        upsert(conn, s.pipeline_stages, [
            {"pipeline_id": "default", "stage_id": sid, "label": label, "display_order": i, "probability": p,
             "is_closed": closed, "is_won": won}
            for i, (sid, label, p, closed, won) in enumerate([
                ("appointmentscheduled", "Appointment scheduled", 0.2, False, False),
                ("closedwon", "Closed won", 1.0, True, True),
                ("closedlost", "Closed lost", 0.0, True, False)])], ["pipeline_id", "stage_id"])
        upsert(conn, s.owners, [
            {"owner_id": "o1", "email": "alice@example.com", "first_name": "Alice", "last_name": "Martin",
             "team_id": "t1", "team_name": "Team France", "region": "France", "is_archived": False,
             "origin": "csv"},
            {"owner_id": "o2", "email": "bob@example.com", "first_name": "Bob", "last_name": "Smith",
             "team_id": "t2", "team_name": "Team UK", "region": "UK", "is_archived": False, "origin": "csv"},
        ], ["owner_id"])

        def deal(did, region, owner, stage, cents, close):
            return {"deal_id": did, "name": f"Deal {did}", "amount_cents": cents, "currency": "EUR",
                    "pipeline_id": "default", "stage_id": stage, "created_at": created, "close_date": close,
                    "owner_id": owner, "product_line": "Core", "region": region, "deal_source": "PAID_SEARCH",
                    "is_deleted": False, "origin": "csv", "updated_at": created}
        upsert(conn, s.deals, [
            deal("d1", "France", "o1", "closedwon", 100_000, dt.date(2026, 2, 10)),
            deal("d2", "UK", "o2", "closedwon", 50_000, dt.date(2026, 3, 5)),
            deal("d3", "France", "o1", "closedlost", 30_000, dt.date(2026, 2, 20)),
            deal("d4", "France", "o1", "appointmentscheduled", 200_000, dt.date(2026, 4, 30)),
            deal("d5", "France", "o1", "closedwon", 80_000, dt.date(2025, 12, 15)),
        ], ["deal_id"])
        bump_data_version(conn)


@pytest.fixture
def app_env(monkeypatch):
    """Point the app at a store URL and keep it from seeding demo data."""
    def _use(url: str) -> None:
        monkeypatch.setenv("NORTHSTAR_DB_URL", url)
        monkeypatch.setenv("NORTHSTAR_SEED_DEMO", "0")
    return _use


@pytest.fixture
def empty_store(tmp_path, app_env) -> str:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    open_store(StoreSettings(url, "test"))
    app_env(url)
    return url


@pytest.fixture
def tiny_store(make_store_url, backend, app_env) -> str:
    """The hand-built store, on SQLite and (with NORTHSTAR_TEST_PG_URL) on PostgreSQL."""
    url = make_store_url(backend)
    build_tiny_store(url)
    app_env(url)
    return url


@pytest.fixture(scope="session")
def _demo_store_file(tmp_path_factory) -> Path:
    from upkeep import seed_demo_if_empty
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    seed_demo_if_empty(open_store(StoreSettings(f"sqlite:///{path}", "test")))
    return path


@pytest.fixture
def demo_store(_demo_store_file, tmp_path, app_env) -> str:
    """A private copy of the small demo store (tests may edit it)."""
    path = tmp_path / "demo.db"
    shutil.copy(_demo_store_file, path)
    url = f"sqlite:///{path}"
    app_env(url)
    return url


def run_app(page: str | None = None, query: dict | None = None, at: AppTest | None = None) -> AppTest:
    """Run app.py (optionally with query params), then switch to `page`; fail on any exception."""
    if at is None:
        at = AppTest.from_file(APP, default_timeout=120)
        for k, v in (query or {}).items():
            at.query_params[k] = v
        at.run()
        assert not at.exception, [e.value for e in at.exception]
    if page:
        at.switch_page(page)
        at.run()
        assert not at.exception, [e.value for e in at.exception]
    return at


def tiles(at: AppTest) -> dict[str, str]:
    """KPI tiles shown on the current page: label (without the owner suffix) -> displayed value."""
    return {m.label.split(" · ")[0]: m.value for m in at.metric}


def tile_deltas(at: AppTest) -> dict[str, str | None]:
    return {m.label.split(" · ")[0]: m.delta for m in at.metric}


def norm(text: str) -> str:
    """Displayed numbers with any kind of space made plain (fr-FR uses narrow no-break spaces)."""
    return "".join(" " if ch in "\u00a0\u202f\u2009" else ch for ch in str(text))


def build_plan_store(url: str):
    """The tiny store plus what a quarter in progress needs (tests/metrics/test_plan_end.py works it
    out by hand): open d6 1,000.00 closing 25 Mar 2026 and d7 400.00 closing 1 Feb 2026 (both
    appointmentscheduled, o1, France, Core), and revenue targets of 3,000.00, 3,000.00 and
    3,100.00 for January to March 2026. Returns the opened store."""
    build_tiny_store(url)
    engine = open_store(StoreSettings(url, "test"))
    created = dt.datetime(2025, 11, 1, 9, 0)
    with engine.begin() as conn:
        upsert(conn, s.deals, [
            {"deal_id": did, "name": f"Deal {did}", "amount_cents": cents, "currency": "EUR",
             "pipeline_id": "default", "stage_id": "appointmentscheduled", "created_at": created,
             "close_date": close, "owner_id": "o1", "product_line": "Core", "region": "France",
             "deal_source": "PAID_SEARCH", "is_deleted": False, "origin": "csv", "updated_at": created}
            for did, cents, close in (("d6", 100_000, dt.date(2026, 3, 25)), ("d7", 40_000, dt.date(2026, 2, 1)))],
            ["deal_id"])
        conn.execute(s.budgets.insert(), [
            {"month": dt.date(2026, m, 1), "region": "", "product_line": "", "metric": "target_revenue",
             "value": cents} for m, cents in ((1, 300_000), (2, 300_000), (3, 310_000))])
    return engine
