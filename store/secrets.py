"""Masking secrets wherever text is shown, logged, exported or stored: `mask(text)`.

Every page, command and log line that shows a setting or a message that could hold one passes it
through `mask`: the store URL, HUBSPOT_API_HOST, error messages, audit values, doctor's report.
It replaces with ***

- every configured secret value (the HubSpot token, the database password from NORTHSTAR_DB_URL,
  [northstar] db_url or PGPASSWORD, the OIDC client and cookie secrets), wherever it appears;
- the credentials inside any URL: the password of `scheme://user:password@host` (the user name
  stays), and the whole user part of an http(s)/ws(s) URL without a password
  (`https://TOKEN@host`), where it can only be a credential;
- the value of a URL query or fragment parameter named like a secret (`?hapikey=...`,
  `&access_token=...`, `?password=...`, `&sig=...`);
- anything shaped like a HubSpot private-app token (`pat-na1-...`).

It lives in `store`, the lowest layer, so the store itself (the audit trail, its error messages)
and every layer above it (connectors, ops, ui, pages, the CLI) use the same function without
importing upward (the log handler in `ops.logs` uses it as `redact`). The HubSpot token and API
host are looked up here and nowhere else (`hubspot_token`, `hubspot_base_url`).
"""
from __future__ import annotations

import os
import re
from typing import Any, Mapping

from sqlalchemy.engine import make_url

from .config import read_secrets

REDACTED = "***"
HUBSPOT_TOKEN_ENV = "HUBSPOT_ACCESS_TOKEN"
HUBSPOT_SECTION = "hubspot"  # [hubspot] access_token in .streamlit/secrets.toml
HUBSPOT_HOST_ENV = "HUBSPOT_API_HOST"
HUBSPOT_DEFAULT_HOST = "https://api.hubapi.com"
TOKEN_ENV_VARS = (HUBSPOT_TOKEN_ENV,)
SECRET_ENV_VARS = TOKEN_ENV_VARS + ("PGPASSWORD", "NORTHSTAR_DB_URL")
MIN_SECRET_LEN = 4  # shorter values would mask ordinary words

# scheme://user:password@ or scheme://user@ ; a password may hold "/" (SQLAlchemy accepts it),
# never "@" or a space.
_URL_USERINFO = re.compile(
    r"(?P<scheme>\b[a-z][a-z0-9+.-]*://)(?P<user>[^\s:/?#@]*)(?::(?P<pw>[^\s@]*))?@", re.I)
_USER_IS_CREDENTIAL = ("http", "https", "ws", "wss")
_SECRET_PARAM = re.compile(
    r"(?P<key>[?&;#][^=&#\s]*?(?:token|key|secret|password|passwd|pwd|signature|sig|auth|credential)"
    r"[^=&#\s]*=)(?P<value>[^&#\s'\"<>()\[\],;]+)", re.I)
_HUBSPOT_TOKEN = re.compile(r"\bpat-[a-z0-9]{2,4}-[0-9a-f]{8}-[0-9a-f-]{27,}\b", re.I)


def load_secrets() -> dict[str, Any]:
    """.streamlit/secrets.toml as a dict; {} when absent or unreadable (doctor reports which)."""
    return read_secrets()


def hubspot_token(secrets: Mapping[str, Any] | None = None) -> tuple[str | None, str]:
    """The HubSpot private-app token and the setting it came from (None when not configured).
    The one place the token is looked up."""
    for var in TOKEN_ENV_VARS:
        if os.environ.get(var, "").strip():
            return os.environ[var].strip(), var
    secrets = load_secrets() if secrets is None else secrets
    token = str((secrets.get(HUBSPOT_SECTION) or {}).get("access_token") or "").strip()
    if token:
        return token, f"[{HUBSPOT_SECTION}] access_token in .streamlit/secrets.toml"
    return None, HUBSPOT_TOKEN_ENV


def hubspot_base_url(secrets: Mapping[str, Any] | None = None) -> str:
    """HubSpot API root: HUBSPOT_API_HOST (tests point it at a fake), else HubSpot's. It may carry
    credentials (a proxy's user:password@): show it only through `mask`."""
    return os.environ.get(HUBSPOT_HOST_ENV, "").strip().rstrip("/") or HUBSPOT_DEFAULT_HOST


def _url_password(url: str | None) -> str | None:
    if not url:
        return None
    try:
        return make_url(url).password
    except Exception:  # an unparseable URL: the URL pattern in mask() still hides its password
        return None


def secret_values(secrets: Mapping[str, Any] | None = None) -> list[str]:
    """Every configured secret value: HubSpot token, DB password, OIDC client/cookie secrets."""
    secrets = read_secrets() if secrets is None else secrets
    values: list[Any] = [os.environ.get(v) for v in TOKEN_ENV_VARS]
    values.append((secrets.get(HUBSPOT_SECTION) or {}).get("access_token"))
    values.append(os.environ.get("PGPASSWORD"))
    values.append(_url_password(os.environ.get("NORTHSTAR_DB_URL")))
    values.append(_url_password((secrets.get("northstar") or {}).get("db_url")))
    values += notification_secrets(secrets)
    auth = secrets.get("auth") or {}
    values += [auth.get("client_secret"), auth.get("cookie_secret")]
    values += [v.get("client_secret") for v in auth.values() if isinstance(v, Mapping)]
    found = {str(v).strip() for v in values if v and len(str(v).strip()) >= MIN_SECRET_LEN}
    return sorted(found, key=len, reverse=True)  # longest first: a secret containing another


# The digest's and alerts' channels (meeting.channels): the SMTP password and each webhook URL
# (the URL is the credential), from env vars or [northstar] in secrets.toml.
SMTP_URL_ENV = "NORTHSTAR_SMTP_URL"
WEBHOOK_ENV_VARS = ("NORTHSTAR_DIGEST_WEBHOOKS", "NORTHSTAR_ALERT_WEBHOOKS")


def notification_secrets(secrets: Mapping[str, Any] | None = None) -> list[str]:
    """The SMTP password and every configured webhook URL (with its path, the secret part)."""
    secrets = read_secrets() if secrets is None else secrets
    section = secrets.get("northstar") or {}
    out = [_url_password(os.environ.get(SMTP_URL_ENV)), _url_password(section.get("smtp_url"))]
    hooks: list[str] = []
    for var, key in zip(WEBHOOK_ENV_VARS, ("digest_webhooks", "alert_webhooks")):
        for raw in (os.environ.get(var), section.get(key)):
            items = raw if isinstance(raw, (list, tuple)) else str(raw or "").replace(";", ",").replace("\n", ",").split(",")
            hooks += [str(h).strip() for h in items if str(h).strip()]
    for hook in hooks:
        out.append(hook)
        bare = hook.split("+", 1)[1] if hook.lower().startswith(("slack+", "teams+")) else hook
        out.append(bare)
        path = bare.split("://", 1)[-1].partition("/")[2]
        if len(path) >= 8:  # /services/T000/B000/XXXX: the part that lets anyone post
            out.append("/" + path)
    return [v for v in out if v]


def _userinfo(m: re.Match) -> str:
    scheme, user, pw = m["scheme"], m["user"], m["pw"]
    if pw is not None:
        return f"{scheme}{user}:{REDACTED}@"
    if user and user != REDACTED and scheme[:-3].lower() in _USER_IS_CREDENTIAL:
        return f"{scheme}{REDACTED}@"
    return m[0]


def _param(m: re.Match) -> str:
    value = m["value"]
    tail = value[len(value.rstrip(".:!?")):]  # a sentence's punctuation after the URL stays
    return m["key"] + REDACTED + tail


def mask(text: Any, values: list[str] | None = None) -> Any:
    """`text` with every secret in it replaced by *** (see the module's docstring for what counts).

    `values`: the configured secret values to hide (default: `secret_values()`, read now); the
    log handler passes a cached list. Anything but a non-empty string is returned unchanged.
    """
    if not text or not isinstance(text, str):
        return text
    for value in secret_values() if values is None else values:
        text = text.replace(value, REDACTED)
    text = _URL_USERINFO.sub(_userinfo, text)
    text = _SECRET_PARAM.sub(_param, text)
    return _HUBSPOT_TOKEN.sub(REDACTED, text)


redact = mask  # the name the log handler and older callers use: the same function

__all__ = ["mask", "redact", "secret_values", "load_secrets", "hubspot_token", "hubspot_base_url",
           "REDACTED", "notification_secrets", "SMTP_URL_ENV", "WEBHOOK_ENV_VARS", "TOKEN_ENV_VARS", "SECRET_ENV_VARS", "MIN_SECRET_LEN", "HUBSPOT_TOKEN_ENV",
           "HUBSPOT_SECTION", "HUBSPOT_HOST_ENV", "HUBSPOT_DEFAULT_HOST"]
