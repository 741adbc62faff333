"""Issue #13, finding 7: a role needs the identity provider's `email_verified` claim to be exactly
true (boolean True or the string "true"); "false", other strings, or a missing claim give no role,
unless `[auth] email_verified_claim = false` says the provider never sends the claim."""
from __future__ import annotations

import pytest

import ui.session as session
from auth import AuthConfigError, load_auth_config
from ui.session import current_user

OIDC = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "c" * 32,
        "client_id": "cid", "client_secret": "csecret",
        "server_metadata_url": "https://idp.example/.well-known/openid-configuration"}
RULES = {"cfo@acme.com": "admin", "@acme.com": "viewer"}
MISSING = object()


def _config(env=None, **auth):
    return load_auth_config({"auth": {**OIDC, "roles": RULES, **auth}}, env=env or {})


def _role(monkeypatch, config, verified=MISSING):
    info = {"is_logged_in": True, "email": "cfo@acme.com", "name": "CFO"}
    if verified is not MISSING:
        info["email_verified"] = verified
    monkeypatch.setattr(session, "_st_user", lambda: dict(info))
    return current_user(config).role


@pytest.mark.parametrize("claim", [True, "true", "TRUE", " True "])
def test_login_verified_claim_gives_the_role(monkeypatch, claim):
    assert _role(monkeypatch, _config(), claim) == "admin"


@pytest.mark.parametrize("claim", [False, "false", "False", "0", "1", "yes", "", None, 1, 0, [], {}])
def test_login_any_other_claim_gives_no_role(monkeypatch, claim):
    assert _role(monkeypatch, _config(), claim) is None


def test_login_missing_claim_gives_no_role_by_default(monkeypatch):
    assert _config().email_verified_claim is True
    assert _role(monkeypatch, _config()) is None


@pytest.mark.parametrize("setting", [False, "false", "FALSE"])
def test_login_setting_says_the_provider_sends_no_claim(monkeypatch, setting):
    config = _config(email_verified_claim=setting)
    assert config.email_verified_claim is False
    assert _role(monkeypatch, config) == "admin", "a missing claim is accepted only with the setting"
    assert _role(monkeypatch, config, "false") is None, "a claim that is sent still counts"
    assert _role(monkeypatch, config, False) is None
    assert _role(monkeypatch, config, True) == "admin"


def test_login_setting_from_the_environment(monkeypatch):
    config = _config(env={"NORTHSTAR_AUTH_EMAIL_VERIFIED_CLAIM": "false"})
    assert config.email_verified_claim is False and _role(monkeypatch, config) == "admin"
    config = _config(env={"NORTHSTAR_AUTH_EMAIL_VERIFIED_CLAIM": "true"}, email_verified_claim=False)
    assert config.email_verified_claim is True and _role(monkeypatch, config) is None


@pytest.mark.parametrize("bad", ["no", 0, "sometimes"])
def test_login_setting_must_be_true_or_false(bad):
    with pytest.raises(AuthConfigError, match="email_verified_claim"):
        _config(email_verified_claim=bad)
