"""Who may see and change what: login (optional), roles, and server-side permission checks.

    from auth import current_user, can, require, PermissionDenied, login_gate, User

Hide a control with `if can(user, "definitions.edit")` AND call `require("definitions.edit")`
in its handler. Actions and their least role are in `auth.roles.ACTIONS`.
"""
from .roles import ACTIONS, ROLES, AuthConfig, AuthConfigError, UnknownAction, load_auth_config
from .session import (LOCAL_ADMIN, PermissionDenied, User, auth_config, can, current_user,
                      login_gate, require)

__all__ = ["ACTIONS", "ROLES", "AuthConfig", "AuthConfigError", "UnknownAction",
           "load_auth_config", "LOCAL_ADMIN", "PermissionDenied", "User", "auth_config", "can",
           "current_user", "login_gate", "require"]
