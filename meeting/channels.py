"""Where the Monday digest and the alerts go: email through SMTP, and Slack or Microsoft Teams
incoming webhooks. One `Message` carries every rendering (subject, plain text, HTML, Slack Block
Kit blocks, Teams message card); `deliver(message, targets)` sends it to each channel with retries
and returns one `Delivery` per channel, never raising: a failure is reported, not thrown.

Settings (env var first, then `[northstar]` in .streamlit/secrets.toml, read by store.config):

    NORTHSTAR_SMTP_URL        smtp://user:password@host:587 (STARTTLS whenever the server offers it),
                              smtps://user:password@host:465 (implicit TLS), smtp://relay:25 (no login)
    NORTHSTAR_MAIL_FROM       the sender address
    NORTHSTAR_DIGEST_TO       digest recipients, comma-separated
    NORTHSTAR_DIGEST_WEBHOOKS digest webhooks, comma-separated; a URL on hooks.slack.com is Slack, one on
                              *.webhook.office.com / outlook.office.com / *.logic.azure.com is Teams;
                              prefix `slack+` or `teams+` to say which (slack+https://chat.example/hook)
    NORTHSTAR_ALERT_TO, NORTHSTAR_ALERT_WEBHOOKS   the same for alerts (default: the digest's)
    NORTHSTAR_BASE_URL        the app's address, for links (https://northstar.acme.com)

The SMTP password and the webhook URLs are secrets (store.secrets lists them for `mask`): a
Delivery names a webhook by its kind and host only, and every error text is masked.
"""
from __future__ import annotations

import json
import logging
import os
import smtplib
import socket
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Callable
from urllib.parse import unquote, urlsplit

from store.config import read_secrets
from store.secrets import mask

log = logging.getLogger("northstar.channels")

SECTION = "northstar"  # [northstar] smtp_url, mail_from, digest_to, ... in secrets.toml
SETTINGS = {"smtp_url": "NORTHSTAR_SMTP_URL", "mail_from": "NORTHSTAR_MAIL_FROM",
            "digest_to": "NORTHSTAR_DIGEST_TO", "digest_webhooks": "NORTHSTAR_DIGEST_WEBHOOKS",
            "alert_to": "NORTHSTAR_ALERT_TO", "alert_webhooks": "NORTHSTAR_ALERT_WEBHOOKS",
            "base_url": "NORTHSTAR_BASE_URL"}
SLACK_HOSTS = ("hooks.slack.com",)
TEAMS_HOSTS = (".webhook.office.com", "outlook.office.com", ".logic.azure.com", "webhook.office.com")
ATTEMPTS = 3
TIMEOUT_S = 20.0


class ChannelError(ValueError):
    """A channel setting is malformed; the message names the setting and what to write."""


@dataclass
class Message:
    subject: str
    text: str
    html: str
    slack: dict  # {"text": fallback, "blocks": [...]}
    teams: dict  # a MessageCard


@dataclass
class Delivery:
    channel: str  # email | slack | teams | files
    target: str  # recipients, "slack webhook at hooks.slack.com", a folder
    ok: bool
    attempts: int
    error: str | None = None

    def line(self) -> str:
        how = "sent" if self.ok else f"FAILED after {self.attempts} attempt(s): {self.error}"
        where = self.target if self.target.startswith(("slack ", "teams ", "webhook")) else f"{self.channel} to {self.target}"
        return f"{where}: {how}"


@dataclass
class Targets:
    smtp_url: str | None = None
    mail_from: str | None = None
    to: list[str] = field(default_factory=list)
    webhooks: list[str] = field(default_factory=list)

    @property
    def configured(self) -> bool:
        return bool((self.smtp_url and self.to) or self.webhooks)


def setting(key: str, secrets: dict | None = None) -> str | None:
    """One setting of SETTINGS: its env var, else [northstar] <key> in secrets.toml."""
    env = os.environ.get(SETTINGS[key], "").strip()
    if env:
        return env
    secrets = read_secrets() if secrets is None else secrets
    value = (secrets.get(SECTION) or {}).get(key)
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value).strip() if value else None


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").replace("\n", ",").replace(";", ",").split(",") if v.strip()]


def targets_for(kind: str, to: list[str] | None = None, webhooks: list[str] | None = None) -> Targets:
    """The channels a digest (`kind` digest) or an alert (`alert`) goes to: the given recipients and
    webhooks, else the configured ones (alerts fall back to the digest's)."""
    secrets = read_secrets()
    smtp_url, mail_from = setting("smtp_url", secrets), setting("mail_from", secrets)
    if to is None:
        to = _split(setting(f"{kind}_to", secrets)) or (_split(setting("digest_to", secrets)) if kind == "alert" else [])
    if webhooks is None:
        webhooks = (_split(setting(f"{kind}_webhooks", secrets))
                    or (_split(setting("digest_webhooks", secrets)) if kind == "alert" else []))
    return Targets(smtp_url, mail_from, list(to), list(webhooks))


def base_url() -> str | None:
    url = setting("base_url")
    return url.rstrip("/") if url else None


# --- webhooks --------------------------------------------------------------------------

def webhook_kind(url: str) -> tuple[str, str]:
    """(slack | teams, the URL to post to) for a configured webhook (see the module docstring)."""
    forced = next((prefix[:-1] for prefix in ("slack+", "teams+") if url.lower().startswith(prefix)), None)
    real = url[len(forced) + 1:] if forced else url
    parts = urlsplit(real)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ChannelError("A webhook must be an http(s) URL like https://hooks.slack.com/services/... "
                           "(check NORTHSTAR_DIGEST_WEBHOOKS / NORTHSTAR_ALERT_WEBHOOKS or --webhook).")
    if forced:
        return forced, real
    host = parts.hostname.lower()
    if any(host == h.lstrip(".") or host.endswith(h) for h in TEAMS_HOSTS):
        return "teams", url
    return "slack", url  # Slack, and the many chat tools that accept Slack's format


def webhook_label(url: str) -> str:
    """What may be shown of a webhook: its kind and host (the URL itself is the secret)."""
    try:
        kind, real = webhook_kind(url)
    except ChannelError:
        return "webhook (malformed URL)"
    return f"{kind} webhook at {urlsplit(real).hostname}"


def _hide(text: str, secrets: list[str]) -> str:
    for value in secrets:
        if value:
            text = text.replace(value, "***")
    return mask(text)


def _retrying(send: Callable[[], None], permanent: Callable[[Exception], bool], attempts: int,
              delay: float) -> tuple[int, Exception | None]:
    """Call `send` up to `attempts` times (waits `delay`, then twice that...); (attempts used, last error)."""
    error: Exception | None = None
    for n in range(1, attempts + 1):
        try:
            send()
            return n, None
        except Exception as exc:  # noqa: BLE001 - every failure is reported, none raised
            error = exc
            if permanent(exc) or n == attempts:
                return n, error
            time.sleep(delay * (2 ** (n - 1)))
    return attempts, error


def _http_permanent(exc: Exception) -> bool:
    return isinstance(exc, urllib.error.HTTPError) and 400 <= exc.code < 500 and exc.code not in (408, 429)


def _describe(exc: Exception) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return f"cannot reach the webhook ({exc.reason})"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return f"the SMTP server refused the login ({exc.smtp_code}); check the user and password in NORTHSTAR_SMTP_URL"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "the SMTP server refused the recipients " + ", ".join(exc.recipients)
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"the SMTP server answered {exc.smtp_code} {exc.smtp_error.decode('utf-8', 'replace')}"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timed out"
    if isinstance(exc, OSError):
        return f"cannot reach the server ({exc.strerror or exc})"
    return f"{type(exc).__name__}: {exc}"


def post_webhook(url: str, message: Message, attempts: int = ATTEMPTS, delay: float = 1.0,
                 timeout: float = TIMEOUT_S) -> Delivery:
    """POST the message's Slack blocks or Teams card to one incoming webhook, with retries."""
    label = webhook_label(url)
    try:
        kind, real = webhook_kind(url)
    except ChannelError as exc:
        return Delivery("webhook", label, False, 0, str(exc))
    body = json.dumps(message.slack if kind == "slack" else message.teams).encode("utf-8")

    def send() -> None:
        req = urllib.request.Request(real, data=body, method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8",
                                              "User-Agent": "northstar-digest"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - http(s) only (webhook_kind)
            resp.read()

    used, error = _retrying(send, _http_permanent, attempts, delay)
    why = None if error is None else _hide(_describe(error), [real, url, urlsplit(real).path])
    if error is not None:
        log.warning("%s: %s", label, why)
    return Delivery(kind, label, error is None, used, why)


# --- email -----------------------------------------------------------------------------

@dataclass
class SmtpSettings:
    scheme: str
    host: str
    port: int
    user: str | None
    password: str | None


def smtp_settings(url: str) -> SmtpSettings:
    """NORTHSTAR_SMTP_URL parsed; ChannelError saying what to write when it is not a smtp(s) URL."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ChannelError("NORTHSTAR_SMTP_URL must look like smtp://user:password@host:587 (STARTTLS when offered), "
                           "smtps://user:password@host:465 (TLS) or smtp://relay:25 (a local relay).")
    try:
        port = parts.port or (465 if parts.scheme == "smtps" else 25)
    except ValueError:
        raise ChannelError("NORTHSTAR_SMTP_URL has a port that is not a number (e.g. smtp://host:587).") from None
    return SmtpSettings(parts.scheme, parts.hostname, port, unquote(parts.username) if parts.username else None,
                        unquote(parts.password) if parts.password else None)


def email_message(message: Message, sender: str, to: list[str]) -> EmailMessage:
    """The message as a multipart/alternative email: plain text, then HTML."""
    msg = EmailMessage()
    msg["Subject"] = message.subject
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    msg.set_content(message.text)
    msg.add_alternative(message.html, subtype="html")
    return msg


def _smtp_permanent(exc: Exception) -> bool:
    if isinstance(exc, (smtplib.SMTPAuthenticationError, smtplib.SMTPRecipientsRefused,
                        smtplib.SMTPSenderRefused, smtplib.SMTPNotSupportedError, ssl.SSLCertVerificationError)):
        return True
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500


def send_email(smtp_url: str | None, sender: str | None, to: list[str], message: Message,
               attempts: int = ATTEMPTS, delay: float = 1.0, timeout: float = TIMEOUT_S,
               tls_context: ssl.SSLContext | None = None) -> Delivery:
    """Send the message by SMTP to `to`, with retries: smtps:// in TLS from the start, smtp:// with
    STARTTLS whenever the server offers it (a login only after it, if the server offers it)."""
    target = ", ".join(to)
    if not smtp_url:
        return Delivery("email", target, False, 0, "no SMTP server: set NORTHSTAR_SMTP_URL (smtp://user:password@host:587)")
    if not sender:
        return Delivery("email", target, False, 0, "no sender: set NORTHSTAR_MAIL_FROM (e.g. northstar@acme.com)")
    try:
        cfg = smtp_settings(smtp_url)
    except ChannelError as exc:
        return Delivery("email", target, False, 0, str(exc))
    context = tls_context or ssl.create_default_context()
    email = email_message(message, sender, to)

    def send() -> None:
        if cfg.scheme == "smtps":
            server: smtplib.SMTP = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=timeout, context=context)
        else:
            server = smtplib.SMTP(cfg.host, cfg.port, timeout=timeout)
        try:
            server.ehlo()
            if cfg.scheme == "smtp" and server.has_extn("starttls"):
                server.starttls(context=context)
                server.ehlo()
            if cfg.user and cfg.password:
                server.login(cfg.user, cfg.password)
            server.send_message(email, from_addr=sender, to_addrs=to)
        finally:
            try:
                server.quit()
            except (smtplib.SMTPException, OSError):
                server.close()

    used, error = _retrying(send, _smtp_permanent, attempts, delay)
    why = None if error is None else _hide(_describe(error), [cfg.password or "", smtp_url])
    if error is not None:
        log.warning("email to %s: %s", target, why)
    return Delivery("email", target, error is None, used, why)


def deliver(message: Message, targets: Targets, attempts: int = ATTEMPTS, delay: float = 1.0) -> list[Delivery]:
    """Send to every configured channel: email when there are recipients, each webhook."""
    out = []
    if targets.to:
        out.append(send_email(targets.smtp_url, targets.mail_from, targets.to, message, attempts=attempts, delay=delay))
    for url in targets.webhooks:
        out.append(post_webhook(url, message, attempts=attempts, delay=delay))
    return out


# --- rendering helpers shared by the digest and the alerts -------------------------------

def slack_escape(text: Any) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def teams_escape(text: Any) -> str:
    """Teams message cards read Markdown: escape what would turn a name into markup."""
    out = str(text).replace("\\", "\\\\")
    for ch in "*_[]<>#`":
        out = out.replace(ch, "\\" + ch)
    return out


__all__ = ["Message", "Delivery", "Targets", "ChannelError", "targets_for", "base_url", "setting", "deliver",
           "send_email", "post_webhook", "webhook_kind", "webhook_label", "smtp_settings", "email_message",
           "slack_escape", "teams_escape", "SETTINGS"]
