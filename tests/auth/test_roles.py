"""auth.roles: the email/domain -> role config and what each role may do."""
from __future__ import annotations

import pytest

from auth import ACTIONS, AuthConfigError, UnknownAction, load_auth_config
from auth.roles import role_allows

OIDC = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "c" * 32,
        "client_id": "cid", "client_secret": "csecret",
        "server_metadata_url": "https://idp.example/.well-known/openid-configuration"}


def test_load_auth_config_without_auth_section_is_login_off():
    cfg = load_auth_config({}, env={})
    assert cfg.login_enabled is False
    assert cfg.rules == {}


def test_load_auth_config_roles_email_beats_domain_beats_default():
    cfg = load_auth_config({"auth": {**OIDC, "default_role": "viewer",
                                     "roles": {"CFO@acme.com": "admin", "@acme.com": "editor"}}}, env={})
    assert cfg.login_enabled is True
    assert cfg.role_for("cfo@ACME.com") == "admin"
    assert cfg.role_for("sales@acme.com") == "editor"
    assert cfg.role_for("guest@other.org") == "viewer"
    assert cfg.role_for("") == "viewer"


def test_load_auth_config_no_default_role_refuses_unknown_users():
    cfg = load_auth_config({"auth": {**OIDC, "roles": {"@acme.com": "viewer"}}}, env={})
    assert cfg.role_for("someone@evil.com") is None
    # a domain rule does not match a look-alike subdomain or suffix
    assert cfg.role_for("x@notacme.com") is None
    assert cfg.role_for("x@mail.acme.com") is None


def test_load_auth_config_env_vars_win_over_secrets():
    cfg = load_auth_config({"auth": {**OIDC, "roles": {"@acme.com": "viewer"}}},
                           env={"NORTHSTAR_AUTH_ROLES": "boss@acme.com=admin, @acme.com=editor",
                                "NORTHSTAR_AUTH_DEFAULT_ROLE": "viewer"})
    assert cfg.role_for("boss@acme.com") == "admin"
    assert cfg.role_for("ann@acme.com") == "editor"
    assert cfg.role_for("bob@x.io") == "viewer"


def test_load_auth_config_reports_every_problem_at_once():
    with pytest.raises(AuthConfigError) as err:
        load_auth_config({"auth": {**OIDC, "default_role": "owner",
                                   "roles": {"acme.com": "viewer", "a@b.com": "superuser"}}}, env={})
    msg = str(err.value)
    assert "'acme.com'" in msg and "'superuser'" in msg and "'owner'" in msg


def test_load_auth_config_half_configured_login_names_missing_keys():
    with pytest.raises(AuthConfigError, match="cookie_secret.*client_secret|client_secret"):
        load_auth_config({"auth": {"redirect_uri": "http://x/oauth2callback", "client_id": "c",
                                   "roles": {"@a.com": "viewer"}}}, env={})


def test_load_auth_config_login_without_any_role_is_refused():
    with pytest.raises(AuthConfigError, match="no user has a role"):
        load_auth_config({"auth": dict(OIDC)}, env={})


def test_load_auth_config_named_provider_section():
    auth = {"redirect_uri": OIDC["redirect_uri"], "cookie_secret": OIDC["cookie_secret"],
            "provider": "okta", "default_role": "viewer",
            "okta": {k: OIDC[k] for k in ("client_id", "client_secret", "server_metadata_url")}}
    cfg = load_auth_config({"auth": auth}, env={})
    assert cfg.login_enabled and cfg.provider == "okta"


def test_load_auth_config_env_rule_without_equals_is_an_error():
    with pytest.raises(AuthConfigError, match="no '='"):
        load_auth_config({}, env={"NORTHSTAR_AUTH_ROLES": "boss@acme.com:admin"})


# What each role may do, written out by hand from the issue (viewer: pages, filters, exports;
# editor: + definitions and decisions; admin: + connectors, imports, sync, settings). Issue #18:
# a lead's owner (any role) accepts or rejects their own leads; sales managers (editors) anyone's.
EXPECTED = {
    "viewer": {"pages.view", "filters.use", "exports.download", "audit.view", "leads.review"},
    "editor": {"pages.view", "filters.use", "exports.download", "audit.view", "leads.review",
               "definitions.edit", "decisions.edit", "snapshots.take", "leads.review_any"},
    "admin": set(ACTIONS),
}


@pytest.mark.parametrize("role", ["viewer", "editor", "admin"])
def test_role_allows_exactly_its_actions(role):
    allowed = {a for a in ACTIONS if role_allows(role, a)}
    assert allowed == EXPECTED[role]


def test_role_allows_nothing_without_a_role():
    assert not any(role_allows(None, a) for a in ACTIONS)
    assert not role_allows("root", "pages.view")


def test_role_allows_unknown_action_raises():
    with pytest.raises(UnknownAction, match="definitions.edit"):
        role_allows("admin", "definition.edit")
