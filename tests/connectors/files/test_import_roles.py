"""The import panel refuses a non-admin on the server even if the panel is shown; an admin's
import is audited under their name."""
from __future__ import annotations

from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from fileimport_helpers import SHARED_FEC
from store import StoreSettings, open_store
from store import schema as s
from store.audit import list_audit

OIDC = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "k" * 40,
        "client_id": "northstar", "client_secret": "oidc-client-secret-value",
        "server_metadata_url": "https://idp.example/.well-known/openid-configuration"}


def _panel(url: str) -> None:
    from ui.session import current_user
    from ui.import_panel import render_import_panel
    from store import StoreSettings, open_store
    render_import_panel(open_store(StoreSettings(url, "ui test store")), current_user().actor)


def _load_fec(url: str, email: str) -> AppTest:
    at = AppTest.from_function(_panel, args=(url,), default_timeout=60)
    at.secrets["auth"] = {**OIDC, "roles": {"cfo@acme.com": "admin", "@acme.com": "viewer"}}
    at.user = {"is_logged_in": True, "email": email, "name": email, "email_verified": True}
    at.run()
    path = SHARED_FEC / "111111111FEC20221231.TXT"
    return at.file_uploader(key="imp_upload").set_value((path.name, path.read_bytes(), "text/plain")).run()


def _count(url: str) -> int:
    with open_store(StoreSettings(url, "check")).connect() as conn:
        return conn.execute(select(func.count()).select_from(s.ledger_entries)).scalar_one()


def test_import_by_viewer_is_refused_on_the_server(make_store_url):
    url = make_store_url("sqlite")
    at = _load_fec(url, "ann@acme.com")
    at.button(key="imp_go").click().run()
    assert not at.exception
    assert any("may not do imports.run" in e.value for e in at.error)
    assert _count(url) == 0
    assert list_audit(open_store(StoreSettings(url, "check"))) == []


def test_import_by_admin_is_written_and_audited(make_store_url):
    url = make_store_url("sqlite")
    at = _load_fec(url, "cfo@acme.com")
    at.button(key="imp_go").click().run()
    assert not at.exception
    assert _count(url) == 934
    rows = list_audit(open_store(StoreSettings(url, "check")), action="import")
    assert [r["actor"] for r in rows] == ["cfo@acme.com"]


def test_undo_by_viewer_is_refused_on_the_server(make_store_url):
    url = make_store_url("sqlite")
    admin = _load_fec(url, "cfo@acme.com")
    admin.button(key="imp_go").click().run()
    assert _count(url) == 934
    viewer = _load_fec(url, "ann@acme.com")
    viewer.button(key="imp_undo").click().run()
    assert not viewer.exception
    assert any("may not do imports.run" in e.value for e in viewer.error)
    assert _count(url) == 934
    assert [r["action"] for r in list_audit(open_store(StoreSettings(url, "check")))] == ["import"]
