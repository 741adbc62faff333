"""Who may do what: three roles, a closed list of actions, and the email/domain -> role config.

Config, from `.streamlit/secrets.toml` (env vars win)::

    [auth]                      # Streamlit's own OIDC settings (st.login) live here too
    default_role = "viewer"     # role of a signed-in user no rule matches; omit to refuse them
    [auth.roles]                # or: roles = {"cfo@acme.com" = "admin", "@acme.com" = "viewer"}
    "cfo@acme.com" = "admin"
    "@acme.com" = "viewer"

Env vars: NORTHSTAR_AUTH_ROLES="cfo@acme.com=admin,@acme.com=viewer", NORTHSTAR_AUTH_DEFAULT_ROLE,
NORTHSTAR_AUTH_EMAIL_VERIFIED_CLAIM. An exact email beats a domain rule; a rule beats the default role.

A signed-in user gets a role only when the provider says the address is verified: the OIDC claim
`email_verified` is exactly true (boolean true or the string "true", any case). A missing claim
means unverified, unless `email_verified_claim = false` in [auth] says the provider never sends it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Mapping

ROLES = ("viewer", "editor", "admin")  # each role may do everything the previous one may

# The closed list of actions, by the least role allowed to take them.
ACTIONS: dict[str, str] = {
    "pages.view": "viewer",
    "filters.use": "viewer",
    "exports.download": "viewer",
    "audit.view": "viewer",
    "leads.review": "viewer",  # accept or reject the qualified leads one owns (commands/feedback.py)
    "definitions.edit": "editor",
    "decisions.edit": "editor",
    "snapshots.take": "editor",
    "leads.review_any": "editor",  # accept or reject anyone's leads (sales managers)
    "connectors.edit": "admin",
    "imports.run": "admin",
    "sync.run": "admin",
    "settings.edit": "admin",
    "demo.load": "admin",
    "backup.run": "admin",
}

# Keys of [auth] that Streamlit reads for st.login; any of them means login is being set up.
_OIDC_KEYS = ("redirect_uri", "cookie_secret", "client_id", "client_secret", "server_metadata_url")
_NORTHSTAR_KEYS = ("roles", "default_role", "provider", "email_verified_claim")


class AuthConfigError(ValueError):
    """The [auth] config is wrong; the message lists every problem and a correct example."""


class UnknownAction(ValueError):
    """A permission check named an action that is not in auth.roles.ACTIONS (a typo in code)."""


@dataclass(frozen=True)
class AuthConfig:
    """Login on/off, the email/domain -> role rules, and the role of everyone else."""
    login_enabled: bool = False
    rules: Mapping[str, str] = field(default_factory=dict)  # lower-case "a@b.com" or "@b.com"
    default_role: str | None = None
    provider: str | None = None  # a named [auth.<provider>] section, None = the default one
    email_verified_claim: bool = True  # the provider sends `email_verified`; a missing one is "no"

    def email_verified(self, claims: Mapping[str, Any]) -> bool:
        """True when the sign-in claims prove the address: `email_verified` is True or "true" (any
        case); any other value is "no", and so is a missing claim unless email_verified_claim is off."""
        if "email_verified" not in claims:
            return not self.email_verified_claim
        value = claims["email_verified"]
        return value is True or (isinstance(value, str) and value.strip().lower() == "true")

    def role_for(self, email: str | None) -> str | None:
        """The role of a signed-in email: exact rule, then its domain, then default_role."""
        email = (email or "").strip().lower()
        if not email or "@" not in email:
            return self.default_role
        if email in self.rules:
            return self.rules[email]
        domain = "@" + email.rsplit("@", 1)[1]
        return self.rules.get(domain, self.default_role)


def role_allows(role: str | None, action: str) -> bool:
    """True when `role` may take `action`; raises UnknownAction for an action not in ACTIONS."""
    if action not in ACTIONS:
        raise UnknownAction(f"unknown action {action!r}; expected one of: {', '.join(ACTIONS)}")
    if role not in ROLES:
        return False
    return ROLES.index(role) >= ROLES.index(ACTIONS[action])


def _parse_env_rules(text: str) -> dict[str, str]:
    rules = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        who, sep, role = part.partition("=")
        if not sep:
            raise AuthConfigError(f"NORTHSTAR_AUTH_ROLES entry {part!r} has no '='; "
                                  "expected e.g. cfo@acme.com=admin,@acme.com=viewer")
        rules[who.strip()] = role.strip()
    return rules


def _flag(value: Any) -> bool | None:
    """A true/false setting given as a TOML boolean or the text true/false; None for anything else."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, str) else None
    return {"true": True, "false": False}.get(text)


def _login_configured(auth: Mapping[str, Any], provider: str | None) -> list[str]:
    """The missing st.login settings (empty list = complete), or None-equivalent when unused."""
    missing = [k for k in ("redirect_uri", "cookie_secret") if not auth.get(k)]
    section = auth.get(provider) if provider else auth
    if not isinstance(section, Mapping):
        missing.append(f"[auth.{provider}] section")
    else:
        missing += [k for k in ("client_id", "client_secret", "server_metadata_url")
                    if not section.get(k)]
    return missing


def load_auth_config(secrets: Mapping[str, Any] | None = None,
                     env: Mapping[str, str] | None = None) -> AuthConfig:
    """Read [auth] from `secrets` and NORTHSTAR_AUTH_* from `env`; raise AuthConfigError listing all issues."""
    env = os.environ if env is None else env
    auth = dict((secrets or {}).get("auth") or {})
    problems: list[str] = []

    raw_rules = auth.get("roles") or {}
    if not isinstance(raw_rules, Mapping):
        problems.append(f"[auth] roles must be a table of email/domain = role, got {raw_rules!r}")
        raw_rules = {}
    if env.get("NORTHSTAR_AUTH_ROLES", "").strip():
        raw_rules = _parse_env_rules(env["NORTHSTAR_AUTH_ROLES"])
    rules: dict[str, str] = {}
    for who, role in raw_rules.items():
        key = str(who).strip().lower()
        if "@" not in key or key.endswith("@") or key.count("@") > 1:
            problems.append(f"role rule {who!r} is neither an email nor a domain; "
                            "write 'cfo@acme.com' or '@acme.com'")
        elif role not in ROLES:
            problems.append(f"role {role!r} for {who!r} is not a role; use one of {', '.join(ROLES)}")
        else:
            rules[key] = role

    default_role = env.get("NORTHSTAR_AUTH_DEFAULT_ROLE", "").strip() or auth.get("default_role") or None
    if default_role is not None and default_role not in ROLES:
        problems.append(f"default_role {default_role!r} is not a role; use one of {', '.join(ROLES)} "
                        "or leave it out to refuse unknown users")
        default_role = None

    claim = env.get("NORTHSTAR_AUTH_EMAIL_VERIFIED_CLAIM", "").strip() or auth.get("email_verified_claim", True)
    email_verified_claim = _flag(claim)
    if email_verified_claim is None:
        problems.append(f"email_verified_claim {claim!r} is neither true nor false; leave it out (the provider "
                        "sends email_verified) or set it to false when the provider never sends that claim")
        email_verified_claim = True

    provider = auth.get("provider") or None
    login_enabled = False
    if any(k in auth for k in _OIDC_KEYS) or provider:
        missing = _login_configured(auth, provider)
        if missing:
            problems.append("login is half configured: [auth] lacks " + ", ".join(missing)
                            + " (see Streamlit's st.login docs), or remove those keys to run without login")
        else:
            login_enabled = True
    if login_enabled and not rules and default_role is None:
        problems.append("login is on but no user has a role: add [auth.roles] "
                        "(e.g. \"@acme.com\" = \"viewer\") or default_role")
    if problems:
        raise AuthConfigError("; ".join(problems))
    return AuthConfig(login_enabled=login_enabled, rules=rules, default_role=default_role,
                      provider=provider, email_verified_claim=email_verified_claim)
