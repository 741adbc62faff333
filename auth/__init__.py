"""Who may see and change what: roles, users and server-side permission checks (no Streamlit;
the session's user and the login gate are in ui/session.py).

    from auth import can, require, PermissionDenied, User

Hide a control with `if can(user, "definitions.edit")` AND call `require("definitions.edit", user)`
in its handler. Actions and their least role are in `auth.roles.ACTIONS`.
"""
from .roles import ACTIONS, ROLES, AuthConfig, AuthConfigError, UnknownAction, load_auth_config
from .session import LOCAL_ADMIN, SIGNED_OUT, PermissionDenied, User, can, require, user_from

__all__ = ["ACTIONS", "ROLES", "AuthConfig", "AuthConfigError", "UnknownAction",
           "load_auth_config", "LOCAL_ADMIN", "SIGNED_OUT", "PermissionDenied", "User", "can",
           "require", "user_from"]
