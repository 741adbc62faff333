"""Where secrets come from (env vars win, then .streamlit/secrets.toml, read by store.config) and
the list to redact. The HubSpot token is looked up here and nowhere else.

Secrets never go into the store, logs, pages or exports: whatever prints or saves text that
could hold one passes it through `redact()`.
"""
from __future__ import annotations

import os
import re
from typing import Any, Mapping

from sqlalchemy.engine import make_url

from .config import read_secrets

REDACTED = "***"
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^/\s:@]*:)(?P<pw>[^@\s/]+)(?P<tail>@)", re.I)
_HUBSPOT_TOKEN = re.compile(r"\bpat-[a-z0-9]{2,4}-[0-9a-f]{8}-[0-9a-f-]{27,}\b", re.I)
HUBSPOT_TOKEN_ENV = "HUBSPOT_ACCESS_TOKEN"
HUBSPOT_SECTION = "hubspot"  # [hubspot] access_token in .streamlit/secrets.toml
HUBSPOT_HOST_ENV = "HUBSPOT_API_HOST"
HUBSPOT_DEFAULT_HOST = "https://api.hubapi.com"
TOKEN_ENV_VARS = (HUBSPOT_TOKEN_ENV,)
SECRET_ENV_VARS = TOKEN_ENV_VARS + ("PGPASSWORD", "NORTHSTAR_DB_URL")
MIN_SECRET_LEN = 4  # shorter values would redact ordinary words


def load_secrets() -> dict[str, Any]:
    """.streamlit/secrets.toml as a dict; {} when absent or unreadable (doctor reports which)."""
    return read_secrets()


def hubspot_token(secrets: Mapping[str, Any] | None = None) -> tuple[str | None, str]:
    """The HubSpot private-app token and the setting it came from (None when not configured)."""
    for var in TOKEN_ENV_VARS:
        if os.environ.get(var, "").strip():
            return os.environ[var].strip(), var
    secrets = load_secrets() if secrets is None else secrets
    token = str((secrets.get(HUBSPOT_SECTION) or {}).get("access_token") or "").strip()
    if token:
        return token, f"[{HUBSPOT_SECTION}] access_token in .streamlit/secrets.toml"
    return None, HUBSPOT_TOKEN_ENV


def hubspot_base_url(secrets: Mapping[str, Any] | None = None) -> str:
    """HubSpot API root: HUBSPOT_API_HOST (tests point it at a fake), else HubSpot's."""
    return os.environ.get(HUBSPOT_HOST_ENV, "").strip().rstrip("/") or HUBSPOT_DEFAULT_HOST


def _url_password(url: str | None) -> str | None:
    if not url:
        return None
    try:
        return make_url(url).password
    except Exception:  # an unparseable URL: the regex in redact() still masks its password
        return None


def secret_values(secrets: Mapping[str, Any] | None = None) -> list[str]:
    """Every configured secret value: HubSpot token, DB password, OIDC client/cookie secrets."""
    secrets = load_secrets() if secrets is None else secrets
    values: list[Any] = [os.environ.get(v) for v in TOKEN_ENV_VARS]
    values.append((secrets.get(HUBSPOT_SECTION) or {}).get("access_token"))
    values.append(os.environ.get("PGPASSWORD"))
    values.append(_url_password(os.environ.get("NORTHSTAR_DB_URL")))
    values.append(_url_password((secrets.get("northstar") or {}).get("db_url")))
    auth = secrets.get("auth") or {}
    values += [auth.get("client_secret"), auth.get("cookie_secret")]
    values += [v.get("client_secret") for v in auth.values() if isinstance(v, Mapping)]
    found = {str(v).strip() for v in values if v and len(str(v).strip()) >= MIN_SECRET_LEN}
    return sorted(found, key=len, reverse=True)  # longest first: a secret containing another


def redact(text: str, values: list[str] | None = None) -> str:
    """`text` with every secret value, URL password and HubSpot token replaced by ***."""
    if not text:
        return text
    for value in secret_values() if values is None else values:
        text = text.replace(value, REDACTED)
    text = _URL_PASSWORD.sub(lambda m: m["head"] + REDACTED + m["tail"]
                             if m["pw"] != REDACTED else m[0], text)
    return _HUBSPOT_TOKEN.sub(REDACTED, text)
