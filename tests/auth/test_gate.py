"""login_gate and guarded controls in a Streamlit run (AppTest with a mocked st.user)."""
from __future__ import annotations

import textwrap

import pytest
from streamlit.testing.v1 import AppTest

OIDC = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "c" * 40,
        "client_id": "cid", "client_secret": "csecret-value",
        "server_metadata_url": "https://idp.example/.well-known/openid-configuration"}
ROLES = {"cfo@acme.com": "admin", "lead@acme.com": "editor", "@acme.com": "viewer"}

SCRIPT = textwrap.dedent('''
    import streamlit as st
    from auth import PermissionDenied
    from ui.session import can, login_gate, require

    user = login_gate()
    st.markdown(f"user={user.email} role={user.role}")
    if can(user, "definitions.edit"):
        if st.button("Save definition", key="save_definition"):
            require("definitions.edit")
            st.success("definition saved")
    if can(user, "sync.run"):
        st.button("Sync now", key="sync_now")
    # a forged request: a handler reached without the control (server-side refusal)
    if st.session_state.get("forge"):
        try:
            require("settings.edit")
            st.success("settings saved")
        except PermissionDenied as exc:
            st.error(str(exc))
''')


@pytest.fixture
def app(tmp_path):
    path = tmp_path / "gate_app.py"
    path.write_text(SCRIPT)

    def _make(email: str | None, login: bool = True) -> AppTest:
        at = AppTest.from_file(str(path), default_timeout=30)
        if login:
            at.secrets["auth"] = {**OIDC, "roles": ROLES}
        at.user = {"is_logged_in": email is not None,
                   **({"email": email, "name": email, "email_verified": True} if email else {})}
        return at
    return _make


def keys(at: AppTest) -> set[str]:
    return {b.key for b in at.button}


def test_gate_without_login_runs_as_local_admin(app):
    at = app("someone@else.com", login=False).run()
    assert not at.exception
    assert "user=local-admin role=admin" in at.markdown[0].value
    assert {"save_definition", "sync_now"} <= keys(at)
    assert any("single local admin" in c.value for c in at.sidebar.caption)


def test_gate_signed_out_sees_only_login(app):
    at = app(None).run()
    assert keys(at) == {"auth_login"}
    assert not at.markdown or all("user=" not in m.value for m in at.markdown)


@pytest.mark.parametrize("email, role, visible", [
    ("ann@acme.com", "viewer", set()),
    ("lead@acme.com", "editor", {"save_definition"}),
    ("cfo@acme.com", "admin", {"save_definition", "sync_now"}),
])
def test_gate_each_role_sees_its_controls(app, email, role, visible):
    at = app(email).run()
    assert not at.exception
    assert f"role={role}" in at.markdown[0].value
    assert keys(at) - {"auth_logout"} == visible


def test_gate_editor_action_runs(app):
    at = app("lead@acme.com").run()
    at.button(key="save_definition").click().run()
    assert [s.value for s in at.success] == ["definition saved"]


def test_gate_refuses_forged_admin_action_for_editor(app):
    at = app("lead@acme.com")
    at.session_state["forge"] = True
    at.run()
    assert not at.success
    assert "may not do settings.edit" in at.error[0].value


def test_gate_user_without_role_is_stopped(app):
    at = app("stranger@gmail.com").run()
    assert "has no Northstar role" in at.error[0].value
    assert keys(at) == {"auth_logout_norole"}


def test_gate_misconfigured_roles_serve_nothing(app):
    at = app("cfo@acme.com")
    at.secrets["auth"] = {**OIDC, "roles": {"@acme.com": "owner"}}
    at.run()
    assert "Login is misconfigured" in at.error[0].value
    assert not at.button
