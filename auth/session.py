"""Users and the checks every control goes through, without Streamlit: who a signed-in identity
is (`user_from`), what a user may do (`can`), and the server-side refusal (`require`). The
Streamlit session's user and the login gate are in ui/session.py."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Mapping

from .roles import ACTIONS, AuthConfig, role_allows

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
        self.user, self.action = user, action
        needed = ACTIONS.get(action, "?")
        who = user.email or "a signed-out user"
        super().__init__(f"{who} ({user.role or 'no role'}) may not do {action}: it needs the "
                         f"{needed} role. Ask an admin to change [auth.roles] in secrets.")


def user_from(info: Mapping[str, Any], config: AuthConfig) -> User:
    """The user an identity provider's claims (st.user's fields) stand for: the local admin when
    login is off, signed out without `is_logged_in`, no role for an unverified address."""
    if not config.login_enabled:
        return LOCAL_ADMIN
    if not info.get("is_logged_in"):
        return SIGNED_OUT
    email = str(info.get("email") or "").strip().lower()
    role = config.role_for(email)
    if not config.email_verified(info):  # an unverified address could be anyone's
        role = None
    return User(email=email, name=str(info.get("name") or email), role=role)


def can(user: User, action: str) -> bool:
    """True when `user` may take `action` (see auth.roles.ACTIONS)."""
    return role_allows(user.role, action)


def require(action: str, user: User) -> User:
    """Refuse on the server side: raise PermissionDenied unless `user` may take `action`."""
    if not role_allows(user.role, action):
        log.warning("refused %s to %s (role %s)", action, user.actor, user.role)
        raise PermissionDenied(user, action)
    return user
