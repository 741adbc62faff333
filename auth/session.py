"""The signed-in user of this Streamlit session, and the checks every control goes through."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any, Mapping

from .roles import AuthConfig, load_auth_config, role_allows

log = logging.getLogger(__name__)

LOCAL_ADMIN_EMAIL = "local-admin"


@dataclass(frozen=True)
class User:
    """Who is using the app: `role` is None for a signed-in user without a role (or signed out)."""
    email: str
    name: str
    role: str | None
    is_local_admin: bool = False

    @property
    def actor(self) -> str:
        """The name written in the audit trail."""
        return self.email or "anonymous"

    @property
    def label(self) -> str:
        if self.is_local_admin:
            return "local admin (login off)"
        return f"{self.name or self.email} ({self.role or 'no role'})"


LOCAL_ADMIN = User(LOCAL_ADMIN_EMAIL, "Local admin", "admin", is_local_admin=True)
SIGNED_OUT = User("", "", None)


class PermissionDenied(PermissionError):
    """A user asked for something their role may not do (refused on the server side)."""

    def __init__(self, user: User, action: str) -> None:
        from .roles import ACTIONS
        self.user, self.action = user, action
        needed = ACTIONS.get(action, "?")
        who = user.email or "a signed-out user"
        super().__init__(f"{who} ({user.role or 'no role'}) may not do {action}: it needs the "
                         f"{needed} role. Ask an admin to change [auth.roles] in secrets.")


def _secrets() -> Mapping[str, Any]:
    """st.secrets as a plain dict; empty when there is no secrets file (or no Streamlit)."""
    try:
        import streamlit as st
        return st.secrets.to_dict()
    except Exception:  # no secrets.toml, or a malformed one: `cli.py doctor` reports which
        return {}


def auth_config() -> AuthConfig:
    """The current [auth] config (secrets + NORTHSTAR_AUTH_* env vars)."""
    return load_auth_config(_secrets(), os.environ)


def _st_user() -> Mapping[str, Any]:
    try:
        import streamlit as st
        return st.user.to_dict()
    except Exception:  # outside a Streamlit session (CLI, tests without a script run)
        return {}


def current_user(config: AuthConfig | None = None) -> User:
    """The user of this session: the local admin when login is off, else from st.user."""
    config = config or auth_config()
    if not config.login_enabled:
        return LOCAL_ADMIN
    info = _st_user()
    if not info.get("is_logged_in"):
        return SIGNED_OUT
    email = str(info.get("email") or "").strip().lower()
    role = config.role_for(email)
    if not config.email_verified(info):  # an unverified address could be anyone's
        role = None
    return User(email=email, name=str(info.get("name") or email), role=role)


def can(user: User | None, action: str) -> bool:
    """True when `user` (default: the current one) may take `action` (see auth.roles.ACTIONS)."""
    user = current_user() if user is None else user
    return role_allows(user.role, action)


def require(action: str, user: User | None = None) -> User:
    """Refuse on the server side: raise PermissionDenied unless the user may take `action`."""
    user = current_user() if user is None else user
    if not role_allows(user.role, action):
        log.warning("refused %s to %s (role %s)", action, user.actor, user.role)
        raise PermissionDenied(user, action)
    return user


def login_gate(config: AuthConfig | None = None) -> User:
    """Called once by app.py before navigation: show login when needed, stop unless allowed in.

    Without login, returns the local admin and says so in the sidebar. With login, a signed-out
    visitor sees a log-in button and nothing else; a signed-in user without a role is told whom to ask.
    """
    import streamlit as st
    try:
        config = config or auth_config()
    except ValueError as exc:  # AuthConfigError: no page is served with a broken access config
        st.error(f"Login is misconfigured: {exc}. Run `python cli.py doctor` for details.")
        st.stop()
    user = current_user(config)
    if user.is_local_admin:
        st.sidebar.caption("Login is off: you are the single local admin. "
                           "Configure [auth] in secrets to let a team sign in.")
        return user
    if not user.email:
        st.title("Northstar")
        st.write("Sign in to see the revenue dashboard.")
        if st.button("Log in", key="auth_login", type="primary"):
            st.login(config.provider)
        st.stop()
    if user.role is None:
        st.error(f"{user.email} is signed in but has no Northstar role. "
                 "Ask an admin to add your email or domain to [auth.roles].")
        if st.button("Log out", key="auth_logout_norole"):
            st.logout()
        st.stop()
    with st.sidebar:
        st.caption(f"Signed in as {user.label}")
        if st.button("Log out", key="auth_logout"):
            st.logout()
    return user
