"""ui.session: the current user, can() and server-side require()."""
from __future__ import annotations

import pytest

import ui.session as session
from auth import LOCAL_ADMIN, PermissionDenied, User, load_auth_config
from ui.session import can, current_user, require

OIDC = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "c" * 32,
        "client_id": "cid", "client_secret": "csecret",
        "server_metadata_url": "https://idp.example/.well-known/openid-configuration"}
CFG = load_auth_config({"auth": {**OIDC, "roles": {"cfo@acme.com": "admin", "@acme.com": "viewer",
                                                   "lead@acme.com": "editor"}}}, env={})


@pytest.fixture
def st_user(monkeypatch):
    """Set what st.user returns for this test."""
    def _set(info: dict) -> None:  # a provider that verified the address, unless the test says otherwise
        monkeypatch.setattr(session, "_st_user", lambda: {"email_verified": True, **info})
    return _set


def test_current_user_without_login_is_local_admin(monkeypatch):
    monkeypatch.setattr(session, "_secrets", lambda: {})
    user = current_user()
    assert user == LOCAL_ADMIN and user.is_local_admin and user.role == "admin"
    assert can(user, "settings.edit")


def test_current_user_from_st_user(st_user):
    st_user({"is_logged_in": True, "email": "Lead@Acme.com", "name": "Lea"})
    user = current_user(CFG)
    assert user == User("lead@acme.com", "Lea", "editor")


def test_current_user_signed_out_has_no_role(st_user):
    st_user({"is_logged_in": False})
    user = current_user(CFG)
    assert user.role is None and not can(user, "pages.view")


def test_current_user_unverified_email_gets_no_role(st_user):
    st_user({"is_logged_in": True, "email": "cfo@acme.com", "email_verified": False})
    assert current_user(CFG).role is None


def test_current_user_uses_secrets_and_env(monkeypatch, st_user):
    monkeypatch.setattr(session, "_secrets", lambda: {"auth": {**OIDC, "default_role": "viewer"}})
    monkeypatch.setenv("NORTHSTAR_AUTH_ROLES", "ops@acme.com=admin")
    st_user({"is_logged_in": True, "email": "ops@acme.com"})
    assert current_user().role == "admin"


def test_require_refuses_viewer_on_server_side(st_user):
    st_user({"is_logged_in": True, "email": "analyst@acme.com"})
    user = current_user(CFG)
    with pytest.raises(PermissionDenied) as err:
        require("definitions.edit", user)
    assert err.value.action == "definitions.edit"
    assert "analyst@acme.com" in str(err.value) and "editor role" in str(err.value)


def test_require_returns_the_user_when_allowed():
    editor = User("lead@acme.com", "Lea", "editor")
    assert require("decisions.edit", editor) is editor
    with pytest.raises(PermissionDenied):
        require("sync.run", editor)


def test_require_reads_current_user_when_none_given(monkeypatch, st_user):
    monkeypatch.setattr(session, "auth_config", lambda: CFG)
    st_user({"is_logged_in": True, "email": "x@acme.com"})
    with pytest.raises(PermissionDenied):
        require("imports.run")
    st_user({"is_logged_in": True, "email": "cfo@acme.com"})
    assert require("imports.run").email == "cfo@acme.com"
