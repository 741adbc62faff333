"""The signed-in user of this Streamlit session (st.user, the [auth] secrets) and the login gate;
the rules themselves (roles, can, require) are in auth/."""
from __future__ import annotations

import os
from typing import Any, Mapping

import streamlit as st

import auth
from auth import LOCAL_ADMIN, AuthConfig, User, load_auth_config, user_from


def _secrets() -> Mapping[str, Any]:
    """The app's secrets (st.secrets: .streamlit/secrets.toml, or what a test sets); empty when
    there is no secrets file."""
    try:
        return st.secrets.to_dict()
    except Exception:  # no secrets.toml, or a malformed one: `cli.py doctor` reports which
        return {}


def auth_config() -> AuthConfig:
    """The current [auth] config (secrets + NORTHSTAR_AUTH_* env vars)."""
    return load_auth_config(_secrets(), os.environ)


def _st_user() -> Mapping[str, Any]:
    try:
        return st.user.to_dict()
    except Exception:  # outside a Streamlit session (tests without a script run)
        return {}


def current_user(config: AuthConfig | None = None) -> User:
    """The user of this session: the local admin when login is off, else from st.user."""
    config = config or auth_config()
    if not config.login_enabled:
        return LOCAL_ADMIN
    return user_from(_st_user(), config)


def can(user: User | None, action: str) -> bool:
    """auth.can for `user`, by default the session's."""
    return auth.can(current_user() if user is None else user, action)


def require(action: str, user: User | None = None) -> User:
    """auth.require for `user`, by default the session's: raises auth.PermissionDenied."""
    return auth.require(action, current_user() if user is None else user)


def login_gate(config: AuthConfig | None = None) -> User:
    """Called once per run by ui.shell.start(): show login when needed, stop unless allowed in.

    Without login, returns the local admin and says so in the sidebar. With login, a signed-out
    visitor sees a log-in button and nothing else; a signed-in user without a role is told whom to ask.
    """
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
