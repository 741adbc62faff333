"""`cli.py doctor`: check configuration, store, HubSpot and secrets; say what to fix.

Each check returns ok / warn / fail with a one-line detail and, when not ok, the fix. Output
passes through `store.secrets.redact`, so a token or password never reaches the terminal.
"""
from __future__ import annotations

import json
import logging
import os
import stat
import tomllib
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from sqlalchemy import String, Text, select, text

from auth import AuthConfigError, load_auth_config
from meeting import channels
from store import StoreError, data_dir, mask, open_store, resolve_store
from store import schema as s
from store.config import PROJECT_DIR
from store.db import schema_version

from store.secrets import hubspot_base_url, hubspot_token, redact, secret_values

log = logging.getLogger(__name__)

# Scopes the HubSpot sync reads with; missing ones make the sync fail or come back partial.
REQUIRED_SCOPES = ("crm.objects.deals.read", "crm.objects.contacts.read",
                   "crm.objects.companies.read", "crm.objects.owners.read")
RECOMMENDED_SCOPES = ("crm.objects.line_items.read", "e-commerce")


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | warn | fail
    detail: str
    fix: str = ""


def _ok(name: str, detail: str) -> Check:
    return Check(name, "ok", detail)


def secrets_paths() -> list[Path]:
    """Where Streamlit looks for secrets.toml: ~/.streamlit, then the project's .streamlit."""
    return [Path.home() / ".streamlit" / "secrets.toml", PROJECT_DIR / ".streamlit" / "secrets.toml"]


def check_secrets_file(paths: list[Path]) -> tuple[list[Check], dict[str, Any]]:
    checks, merged = [], {}
    found = [p for p in paths if p.is_file()]
    if not found:
        return [_ok("secrets file", "none (settings from env vars; login off)")], {}
    for path in found:
        try:
            merged.update(tomllib.loads(path.read_text(encoding="utf-8")))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            checks.append(Check("secrets file", "fail", f"{path} is not valid TOML ({exc})",
                                f"fix the line named above in {path}; see .streamlit/secrets.toml.example"))
            continue
        mode = path.stat().st_mode
        if mode & (stat.S_IRGRP | stat.S_IROTH):
            checks.append(Check("secrets file", "warn", f"{path} is readable by other users",
                                f"chmod 600 {path}"))
        else:
            checks.append(_ok("secrets file", str(path)))
    return checks, merged


def check_auth(secrets: Mapping[str, Any]) -> list[Check]:
    try:
        cfg = load_auth_config(secrets, os.environ)
    except AuthConfigError as exc:
        return [Check("login and roles", "fail", str(exc),
                      "edit [auth] / [auth.roles] in .streamlit/secrets.toml (or NORTHSTAR_AUTH_ROLES)")]
    if not cfg.login_enabled:
        return [_ok("login and roles", "login off: the app runs as a single local admin")]
    verified = ("email_verified required" if cfg.email_verified_claim
                else "email_verified not sent by the provider (email_verified_claim = false)")
    checks = [_ok("login and roles", f"login on; {len(cfg.rules)} role rule(s); "
                                     f"others: {cfg.default_role or 'refused'}; {verified}")]
    try:
        import authlib  # noqa: F401  (st.login needs it)
    except ImportError:
        checks.append(Check("login library", "fail", "Authlib is not installed; st.login cannot work",
                            ".venv/bin/pip install -r requirements.txt"))
    if len(str((secrets.get("auth") or {}).get("cookie_secret", ""))) < 32:
        checks.append(Check("login cookie", "warn", "[auth] cookie_secret is shorter than 32 characters",
                            "set it to a long random string: python -c 'import secrets; print(secrets.token_hex(32))'"))
    return checks


def check_logging() -> list[Check]:
    level = os.environ.get("NORTHSTAR_LOG_LEVEL", "INFO").upper()
    fmt = os.environ.get("NORTHSTAR_LOG_FORMAT", "text").lower()
    problems = []
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        problems.append(f"NORTHSTAR_LOG_LEVEL={level!r} is not a level")
    if fmt not in ("text", "json"):
        problems.append(f"NORTHSTAR_LOG_FORMAT={fmt!r} is neither text nor json")
    if problems:
        return [Check("logging", "fail", "; ".join(problems),
                      "use NORTHSTAR_LOG_LEVEL=DEBUG|INFO|WARNING|ERROR and NORTHSTAR_LOG_FORMAT=text|json")]
    return [_ok("logging", f"{level}, {fmt}")]


def check_store() -> list[Check]:
    checks = []
    settings = resolve_store()
    where = f"{mask(settings.url)} (from {settings.source})"
    try:
        engine = open_store(settings, upgrade=False)
    except StoreError as exc:
        return [Check("store reachable", "fail", str(exc), f"fix {settings.source}")]
    checks.append(_ok("store reachable", where))
    version = schema_version(engine)
    if version == s.SCHEMA_VERSION:
        checks.append(_ok("schema version", f"{version} (current)"))
    elif version == 0:
        checks.append(Check("schema version", "warn", "the store is empty (no tables yet)",
                            "python cli.py db upgrade, then load data (python cli.py demo, sync or import)"))
        return checks
    elif version < s.SCHEMA_VERSION:
        checks.append(Check("schema version", "fail", f"{version}, older than this Northstar ({s.SCHEMA_VERSION})",
                            "python cli.py db upgrade (after python cli.py backup)"))
    else:
        checks.append(Check("schema version", "fail", f"{version}, newer than this Northstar ({s.SCHEMA_VERSION})",
                            "upgrade Northstar, or point NORTHSTAR_DB_URL at a store of this version"))
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            mode = conn.execute(text("PRAGMA journal_mode")).scalar()
        if str(mode).lower() != "wal":
            checks.append(Check("store mode", "warn", f"SQLite journal mode is {mode}; readers may wait for syncs",
                                "open the store once with Northstar (it sets WAL), and keep it on a local disk"))
        else:
            checks.append(_ok("store mode", "SQLite WAL: one app instance; use PostgreSQL for several"))
    else:
        checks.append(_ok("store mode", f"{engine.dialect.name}: several app instances may share it"))
    checks += check_no_secret_in_store(engine)
    return checks


# Tables where a careless write could leave a secret (settings, errors, audit values).
_SECRET_PRONE_TABLES = ("store_meta", "audit_log", "sync_runs", "sync_state", "import_runs",
                        "definition_overrides", "meeting_decisions")


def check_no_secret_in_store(engine, values: list[str] | None = None) -> list[Check]:
    """Fail when a configured secret value sits in a text column of a settings/log-like table."""
    values = secret_values() if values is None else values
    if not values:
        return [_ok("secrets not in store", "no secret configured to look for")]
    hits = []
    with engine.connect() as conn:
        for table in (s.metadata.tables[name] for name in _SECRET_PRONE_TABLES):
            if not engine.dialect.has_table(conn, table.name):
                continue
            cols = [c for c in table.columns if isinstance(c.type, (String, Text))]
            for col in cols:
                for value in values:
                    q = select(col).where(col.contains(value, autoescape=True)).limit(1)
                    if conn.execute(q).first() is not None:
                        hits.append(f"{table.name}.{col.name}")
    if hits:
        return [Check("secrets not in store", "fail", "a secret value is stored in " + ", ".join(sorted(set(hits))),
                      "rotate that secret (new HubSpot token / DB password), then clear the rows named")]
    return [_ok("secrets not in store", f"checked {len(values)} secret value(s)")]


def _http_json(url: str, token: str | None, body: dict | None, timeout: float) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        try:
            payload = json.loads(exc.read() or b"null")
        except ValueError:
            payload = None
        return exc.code, payload


def check_hubspot(secrets: Mapping[str, Any], timeout: float = 5.0) -> list[Check]:
    token, source = hubspot_token(secrets)
    if not token:
        return [Check("hubspot token", "warn", "no HubSpot token: sync is off (demo data and imports still work)",
                      "create a private app with read scopes on deals, contacts, companies, owners and set "
                      "HUBSPOT_ACCESS_TOKEN (or [hubspot] access_token in secrets)")]
    checks = [_ok("hubspot token", f"set by {source}")]
    base = hubspot_base_url(secrets)
    try:
        status, payload = _http_json(f"{base}/oauth/v2/private-apps/get/access-token-info",
                                     None, {"tokenKey": token}, timeout)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return checks + [Check("hubspot reachable", "fail", f"cannot reach {base}: {reason}",
                               "check the network, proxy (HTTPS_PROXY) or HUBSPOT_API_HOST")]
    if status in (400, 401, 403, 404):
        return checks + [Check("hubspot reachable", "fail", f"HubSpot rejected the token (HTTP {status})",
                               f"create a new private-app token and update {source}")]
    if status != 200 or not isinstance(payload, dict):
        return checks + [Check("hubspot reachable", "fail", f"unexpected answer from {base} (HTTP {status})",
                               "retry later; see https://status.hubspot.com")]
    checks.append(_ok("hubspot reachable", f"{base}, portal {payload.get('hubId', '?')}"))
    scopes = set(payload.get("scopes") or [])
    missing = [sc for sc in REQUIRED_SCOPES if sc not in scopes]
    optional = [sc for sc in RECOMMENDED_SCOPES if sc not in scopes]
    if missing:
        checks.append(Check("hubspot scopes", "fail", "token lacks " + ", ".join(missing),
                            "add these read scopes to the private app in HubSpot, then copy the new token"))
    elif optional:
        checks.append(Check("hubspot scopes", "warn", "token lacks " + ", ".join(optional)
                            + " (line items and products will not sync)",
                            "add these scopes to the private app if you sell by product"))
    else:
        checks.append(_ok("hubspot scopes", f"{len(scopes)} scopes, all needed ones present"))
    return checks


def check_channels() -> list[Check]:
    """The digest's and alerts' channels, read as they would be sent (nothing is sent)."""
    digest, alert = channels.targets_for("digest"), channels.targets_for("alert")
    if not (digest.configured or alert.configured or digest.to or alert.to):
        return [_ok("digest and alerts", "not sent anywhere (no recipients or webhooks configured)")]
    checks = []
    if digest.to or alert.to:
        problems = []
        try:
            if not digest.smtp_url:
                problems.append("recipients are set but NORTHSTAR_SMTP_URL is not")
            else:
                channels.smtp_settings(digest.smtp_url)
        except channels.ChannelError as exc:
            problems.append(str(exc))
        if not digest.mail_from or "@" not in digest.mail_from:
            problems.append("NORTHSTAR_MAIL_FROM is not an address")
        checks.append(Check("digest email", "fail", "; ".join(problems), "set NORTHSTAR_SMTP_URL (smtp://user:password@"
                            "host:587) and NORTHSTAR_MAIL_FROM") if problems else
                      _ok("digest email", f"{len(set(digest.to + alert.to))} recipient(s) through "
                          f"{channels.smtp_settings(digest.smtp_url).host}"))
    for url in dict.fromkeys(digest.webhooks + alert.webhooks):
        try:
            channels.webhook_kind(url)
            checks.append(_ok("digest webhook", channels.webhook_label(url)))
        except channels.ChannelError as exc:
            checks.append(Check("digest webhook", "fail", str(exc), "fix NORTHSTAR_DIGEST_WEBHOOKS / NORTHSTAR_ALERT_WEBHOOKS"))
    if not channels.base_url():
        checks.append(Check("digest link", "warn", "NORTHSTAR_BASE_URL is not set: the digest has no link to the meeting page",
                            "set NORTHSTAR_BASE_URL=https://northstar.example.com"))
    return checks


def check_data_dir() -> list[Check]:
    folder = data_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return [Check("data folder", "fail", f"cannot create {folder} ({exc.strerror})",
                      "set NORTHSTAR_DATA_DIR to a writable folder")]
    if not os.access(folder, os.W_OK):
        return [Check("data folder", "fail", f"{folder} is not writable", "set NORTHSTAR_DATA_DIR to a writable folder")]
    return [_ok("data folder", f"{folder} (store file, backups)")]


def run_doctor(paths: list[Path] | None = None, hubspot_timeout: float = 5.0) -> list[Check]:
    """Every check, in the order a person would fix them."""
    checks, secrets = check_secrets_file(secrets_paths() if paths is None else paths)
    steps: list[Callable[[], list[Check]]] = [
        lambda: check_auth(secrets), check_logging, check_data_dir, check_store,
        lambda: check_hubspot(secrets, hubspot_timeout), check_channels]
    for step in steps:
        try:
            checks += step()
        except Exception as exc:  # one broken check must not hide the others
            log.debug("doctor check failed", exc_info=True)
            checks.append(Check(getattr(step, "__name__", "check"), "fail",
                                f"the check itself failed: {type(exc).__name__}: {exc}",
                                "run with -v and report it"))
    values = secret_values(secrets)
    return [Check(c.name, c.status, redact(c.detail, values), redact(c.fix, values)) for c in checks]


def format_report(checks: list[Check]) -> str:
    mark = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}
    lines = []
    for c in checks:
        lines.append(f"{mark[c.status]} {c.name:<22} {c.detail}")
        if c.fix:
            lines.append(f"     {'':<22} fix: {c.fix}")
    fails = sum(c.status == "fail" for c in checks)
    warns = sum(c.status == "warn" for c in checks)
    lines.append(f"{fails} problem(s), {warns} warning(s)" if fails or warns else "all good")
    return "\n".join(lines)


def report_json(checks: list[Check]) -> str:
    return json.dumps([asdict(c) for c in checks], indent=2)
