"""Shared fixtures: a fresh store per test, on SQLite and (when NORTHSTAR_TEST_PG_URL is set)
on PostgreSQL, each PostgreSQL test in its own throw-away schema so runs never collide."""
from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from store import StoreSettings, open_store  # noqa: E402
from store import db as store_db  # noqa: E402
from tests.store_templates import Templates  # noqa: E402

PG_URL = os.environ.get("NORTHSTAR_TEST_PG_URL", "").strip()
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path, monkeypatch):
    """No test reads the developer's own store, token or secrets."""
    monkeypatch.setenv("NORTHSTAR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("NORTHSTAR_DB_URL", raising=False)
    monkeypatch.delenv("HUBSPOT_ACCESS_TOKEN", raising=False)
    yield


def _pg_schema_url(schema: str) -> str:
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture
def make_store_url(tmp_path):
    """Factory: a URL to a fresh, empty store on the named backend."""
    created: list[str] = []

    def _make(backend: str = "sqlite") -> str:
        if backend == "sqlite":
            return f"sqlite:///{tmp_path / f'store-{uuid.uuid4().hex[:8]}.db'}"
        schema = f"ns_test_{uuid.uuid4().hex[:12]}"
        admin = create_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        created.append(schema)
        return _pg_schema_url(schema)

    yield _make
    for url, engine in list(store_db._ENGINES.items()):
        if "sqlite" in url or any(sch in url for sch in created):
            engine.dispose()
            store_db._ENGINES.pop(url, None)
    if created:
        admin = create_engine(PG_URL)
        with admin.begin() as conn:
            for schema in created:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def store_url(make_store_url, backend) -> str:
    """A fresh empty store URL, once per backend."""
    return make_store_url(backend)


@pytest.fixture(scope="session")
def store_templates(tmp_path_factory):
    """Stores built once per worker and copied into a test's own (tests/store_templates.py)."""
    templates = Templates(tmp_path_factory.mktemp("templates"), PG_URL, _pg_schema_url)
    yield templates
    templates.drop()


def _migrated(engine) -> None:
    """The empty store as open_store leaves it (nothing more)."""


@pytest.fixture
def engine(store_url, backend, store_templates):
    """A fresh, upgraded, empty store, once per backend (a copy of one migrated once per worker)."""
    store_templates.fill(backend, store_url, "empty", _migrated)
    return open_store(StoreSettings(store_url, "test store"))
