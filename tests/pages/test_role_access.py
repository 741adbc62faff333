"""Who sees and may do what, on the real app (AppTest with a mocked st.user and an [auth] config).

viewer: every page, filters, exports and the audit trail; editor: also the shared definitions;
admin: also HubSpot sync and file imports. Hidden controls are refused on the server too.
"""
from __future__ import annotations

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

import auth
from store import StoreSettings, open_store, schema as s

from tests.pages.conftest import APP, PAGES, Q1

OIDC = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "k" * 40,
        "client_id": "northstar", "client_secret": "oidc-client-secret-value",
        "server_metadata_url": "https://idp.example/.well-known/openid-configuration"}
ROLES = {"cfo@acme.com": "admin", "lead@acme.com": "editor", "@acme.com": "viewer"}
USERS = {"viewer": "ann@acme.com", "editor": "lead@acme.com", "admin": "cfo@acme.com"}


@pytest.fixture
def hubspot_env(monkeypatch):
    """A token so the HubSpot panel offers Sync now (the host is unreachable: nothing is called)."""
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "pat-eu1-00000000-1111-2222-3333-444444444444")
    monkeypatch.setenv("HUBSPOT_API_HOST", "http://127.0.0.1:1")


def app_as(email: str | None, page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.secrets["auth"] = {**OIDC, "roles": ROLES}
    at.user = {"is_logged_in": email is not None,
               **({"email": email, "name": email, "email_verified": True} if email else {})}
    for k, v in Q1.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    if page:
        at.switch_page(page).run()
        assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest) -> str:
    return "\n".join(str(e.value) for kind in (at.info, at.caption, at.error, at.warning) for e in kind)


def keys(at: AppTest) -> set[str]:
    return {b.key for b in at.button if b.key}


def count(url: str, table) -> int:
    with open_store(StoreSettings(url, "t")).connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_roles_signed_out_sees_no_page(tiny_store):
    at = app_as(None)
    assert keys(at) == {"auth_login"}
    assert not at.metric


@pytest.mark.parametrize("role", ["viewer", "editor", "admin"])
def test_roles_every_role_sees_every_page(tiny_store, role):
    at = app_as(USERS[role])
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
    at.switch_page("pages/ceo.py").run()
    assert at.metric, "the CEO page shows its KPI tiles to every role"


@pytest.mark.parametrize("role, may_edit", [("viewer", False), ("editor", True), ("admin", True)])
def test_roles_definitions_edit_only_for_editor_and_admin(tiny_store, role, may_edit):
    at = app_as(USERS[role], "pages/definitions.py")
    assert ("defs_save" in keys(at)) is may_edit
    assert ("Only editors and admins can change these definitions." in texts(at)) is not may_edit


@pytest.mark.parametrize("role, may_sync", [("viewer", False), ("editor", False), ("admin", True)])
def test_roles_sync_and_imports_only_for_admin(tiny_store, hubspot_env, role, may_sync):
    at = app_as(USERS[role], "pages/data.py")
    assert ("hubspot_sync_now" in keys(at)) is may_sync
    shown = texts(at)
    assert ("Only admins can start a HubSpot sync." in shown) is not may_sync
    assert ("Only admins can import files." in shown) is not may_sync
    assert "Your role may not view the audit trail." not in shown  # every role reads the audit trail


def test_roles_viewer_forged_definition_save_is_refused(tiny_store, monkeypatch):
    """A client that shows the form anyway (can() forced True) still cannot save as a viewer."""
    at = app_as(USERS["viewer"], "pages/definitions.py")
    assert "defs_save" not in keys(at)
    monkeypatch.setattr(auth, "can", lambda user, action: True)
    at.run()
    assert "defs_save" in keys(at)
    at.number_input(key="defs_sla").set_value(99.0)
    at.button(key="defs_save").click().run()
    assert any("may not do definitions.edit" in e.value for e in at.error)
    assert count(tiny_store, s.definition_overrides) == 0
    assert count(tiny_store, s.audit_log) == 0


def test_roles_editor_definition_save_is_audited(tiny_store):
    at = app_as(USERS["editor"], "pages/definitions.py")
    at.number_input(key="defs_sla").set_value(99.0)
    at.button(key="defs_save").click().run()
    assert not at.exception
    with open_store(StoreSettings(tiny_store, "t")).connect() as conn:
        rows = conn.execute(select(s.audit_log.c.actor, s.audit_log.c.action, s.audit_log.c.target)).all()
    assert rows == [("lead@acme.com", "definition.change", "funnel.follow_up_sla_hours")]


def test_roles_editor_forged_sync_is_refused(tiny_store, hubspot_env, monkeypatch):
    at = app_as(USERS["editor"], "pages/data.py")
    monkeypatch.setattr(auth, "can", lambda user, action: True)
    at.run()
    at.button(key="hubspot_sync_now").click().run()
    assert not at.exception
    assert any("may not do sync.run" in e.value for e in at.error)
    assert count(tiny_store, s.sync_runs) == 0


@pytest.mark.parametrize("role, may_rebuild", [("viewer", False), ("admin", True)])
def test_roles_data_page_shows_summary_freshness_and_only_admin_rebuilds(tiny_store, monkeypatch, role,
                                                                        may_rebuild):
    from metrics import rollups_build
    monkeypatch.setattr(rollups_build, "QUIET_SECONDS", 10**9)  # no background rebuild during the test
    at = app_as(USERS[role], "pages/data.py")
    assert ("Monthly summaries: metric_rollups, invoice_rollups, ledger_rollups, invoice_dim_rollups, "
            "invoice_account_slices, nps_rollups out of date" in texts(at))
    assert ("data_rollups_rebuild" in keys(at)) is may_rebuild
    if may_rebuild:
        at.button(key="data_rollups_rebuild").click().run()
        assert not at.exception
        assert any(s.value.startswith("Rebuilt: metric_rollups") for s in at.success)
        at.run()
        assert "Monthly summaries: fresh" in texts(at)
        assert "data_rollups_rebuild" not in keys(at)
