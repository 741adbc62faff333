"""Where secrets come from (env vars win, then .streamlit/secrets.toml) and the list to redact.

Secrets never go into the store, logs, pages or exports: whatever prints or saves text that
could hold one passes it through `redact()`, which is `store.secrets.mask`: one function, in the
lowest layer, that the store, the connectors, the pages and the commands all use.
"""
from __future__ import annotations

import os
from typing import Any, Mapping

from store.config import read_secrets
from store.secrets import (MIN_SECRET_LEN, REDACTED, SECRET_ENV_VARS, TOKEN_ENV_VARS, mask,
                           redact, secret_values)

__all__ = ["load_secrets", "hubspot_token", "hubspot_base_url", "secret_values", "redact", "mask",
           "REDACTED", "TOKEN_ENV_VARS", "SECRET_ENV_VARS", "MIN_SECRET_LEN"]


def load_secrets() -> dict[str, Any]:
    """.streamlit/secrets.toml as a dict; {} when absent or unreadable (doctor reports which)."""
    return read_secrets()


def hubspot_token(secrets: Mapping[str, Any] | None = None) -> tuple[str | None, str]:
    """The HubSpot private-app token and the setting it came from (None when not configured)."""
    for var in TOKEN_ENV_VARS:
        if os.environ.get(var, "").strip():
            return os.environ[var].strip(), var
    secrets = load_secrets() if secrets is None else secrets
    token = (secrets.get("hubspot") or {}).get("access_token")
    if token:
        return str(token).strip(), "[hubspot] access_token in .streamlit/secrets.toml"
    return None, "HUBSPOT_ACCESS_TOKEN"


def hubspot_base_url(secrets: Mapping[str, Any] | None = None) -> str:
    """HubSpot API root: HUBSPOT_API_HOST, as the connector reads it (tests point it at a fake).
    It may carry credentials (a proxy's user:password@): show it only through `mask`."""
    return os.environ.get("HUBSPOT_API_HOST", "").strip().rstrip("/") or "https://api.hubapi.com"
