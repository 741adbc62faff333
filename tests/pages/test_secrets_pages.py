"""No page renders the HubSpot token or the database password (every element of every page)."""
from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url
from streamlit.testing.v1 import AppTest

from tests.pages.conftest import APP, PAGES, Q1, build_tiny_store

TOKEN = "pat-eu1-1234abcd-5678-90ef-abcd-1234567890ab"
PASSWORD = "pg-Pass-77-never-render"


def _all_text(node) -> str:
    """Every field of every element under `node` (protobuf text), labels and help included."""
    parts = []
    proto = getattr(node, "proto", None)
    if proto is not None:
        parts.append(str(proto))
    for child in getattr(node, "children", {}).values():
        parts.append(_all_text(child))
    return "\n".join(parts)


@pytest.fixture
def store_with_password(backend, make_store_url, monkeypatch):
    url = make_store_url(backend)
    if backend == "postgresql":  # the test server trusts local connections: the password is carried, unused
        url = make_url(url).set(password=PASSWORD).render_as_string(hide_password=False)
    build_tiny_store(url)
    monkeypatch.setenv("NORTHSTAR_DB_URL", url)
    monkeypatch.setenv("NORTHSTAR_SEED_DEMO", "0")
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("HUBSPOT_API_HOST", "http://127.0.0.1:1")
    return url


def test_pages_never_render_token_or_password(store_with_password, backend):
    at = AppTest.from_file(APP, default_timeout=120)
    for k, v in Q1.items():
        at.query_params[k] = v
    at.run()
    seen = []
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, [e.message for e in at.exception])
        text = _all_text(at._tree)
        assert len(text) > 200, f"{page} rendered almost nothing; the scan would prove nothing"
        seen.append(page)
        assert TOKEN not in text, f"HubSpot token rendered on {page}"
        assert PASSWORD not in text, f"DB password rendered on {page}"
        if page == "pages/data.py" and backend == "postgresql":
            assert ":***@" in text, "the Data page shows the store URL, password masked"
    assert seen == PAGES
