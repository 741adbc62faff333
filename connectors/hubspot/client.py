"""Talking to HubSpot: the SDK built with host, token and timeout, a request budget, retries.

Every request goes through `HubSpotClient.call`, which waits for the budget, sets an explicit
timeout, retries what is worth retrying (429 TEN_SECONDLY_ROLLING, 5xx, timeouts, dropped
connections, cut-short bodies) with jittered exponential backoff, and turns everything else
into one of the named exceptions below. No message built here contains the token.
"""
from __future__ import annotations

import datetime as dt
import http.client
import json
import logging
import os
import random
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import urllib3
from hubspot import HubSpot

from store.secrets import HUBSPOT_SECTION, hubspot_base_url, hubspot_token

from . import settings as cfg

log = logging.getLogger(__name__)


def _sdk_version() -> str:
    from importlib import metadata
    try:
        return metadata.version("hubspot-api-client")
    except metadata.PackageNotFoundError:
        return "unknown"


# Read once, at import. The SDK's own factory looks the version up in the package metadata for
# every API it builds, which walks sys.path; Streamlit inserts and removes the script's folder
# there on every rerun, so a sync thread starting during a rerun could miss site-packages and
# fail with PackageNotFoundError.
SDK_USER_AGENT = f"hubspot-api-client-python; {_sdk_version()}"


def _api_factory(api_client_package: Any, api_name: str, config: dict[str, Any]) -> Any:
    """The SDK's default API factory (hubspot/discovery/discovery_base.py) without the lookup."""
    configuration = api_client_package.Configuration()
    for key, value in config.items():
        if key == "retry":
            configuration.retries = value
        else:
            setattr(configuration, key, value)
    api_client = api_client_package.ApiClient(configuration=configuration)
    api_client.user_agent = SDK_USER_AGENT
    return getattr(api_client_package, api_name)(api_client=api_client)


class HubSpotError(RuntimeError):
    """A HubSpot sync problem; the message says what to do and never holds the token."""


class HubSpotConfigError(HubSpotError):
    """No token, or a setting that cannot be used."""


class HubSpotAuthError(HubSpotError):
    """HubSpot refused the token (401) or a scope is missing (403: `status`, `scopes` it named)."""

    def __init__(self, message: str, status: int | None = None, scopes: tuple[str, ...] = ()):
        super().__init__(message)
        self.status, self.scopes = status, scopes


class HubSpotRequestError(HubSpotError):
    """HubSpot rejected a request (4xx other than 401/403/429)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class HubSpotUnavailable(HubSpotError):
    """HubSpot kept failing (5xx, timeouts, dropped connections) after every retry."""


class DailyLimitReached(HubSpotError):
    """The account's daily API allowance is used up; `resets_at` is naive UTC."""

    def __init__(self, message: str, resets_at: dt.datetime):
        super().__init__(message)
        self.resets_at = resets_at


# --- settings ----------------------------------------------------------------------------

@dataclass(frozen=True)
class ClientSettings:
    """Where and how fast to call HubSpot. `token` is never printed (repr hides it)."""
    token: str = field(repr=False)
    host: str = cfg.DEFAULT_API_HOST
    rate_limit: int = cfg.DEFAULT_RATE_LIMIT  # requests per window the app may send
    window_s: float = cfg.RATE_WINDOW_S  # tests shorten it; HubSpot's is 10 s
    search_per_s: int = cfg.SEARCH_RATE_PER_S
    headroom: float = cfg.HEADROOM
    timeout: tuple[float, float] = (cfg.CONNECT_TIMEOUT_S, cfg.READ_TIMEOUT_S)
    attempts: int = 8
    backoff_s: float = 0.5  # first retry delay; doubles each attempt, full jitter
    max_backoff_s: float = 30.0
    timezone: str = "UTC"  # the account's time zone, for the daily reset


def load_settings(**overrides: Any) -> ClientSettings:
    """Settings from the environment (and the secrets file for the token: store.secrets)."""
    token = hubspot_token()[0] or ""
    if not token and "token" not in overrides:
        raise HubSpotConfigError(
            f"No HubSpot access token. Set {cfg.TOKEN_ENV}, or access_token under "
            f"[{HUBSPOT_SECTION}] in .streamlit/secrets.toml (see README, 'HubSpot').")
    raw_limit = os.environ.get(cfg.RATE_LIMIT_ENV, "").strip()
    try:
        limit = int(raw_limit) if raw_limit else cfg.DEFAULT_RATE_LIMIT
        if limit < 1:
            raise ValueError
    except ValueError:
        raise HubSpotConfigError(f"{cfg.RATE_LIMIT_ENV} must be a whole number of requests per "
                                 f"10 s, such as 100 or 190 (got {raw_limit!r}).") from None
    tz = os.environ.get(cfg.TIMEZONE_ENV, "").strip() or "UTC"
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise HubSpotConfigError(f"{cfg.TIMEZONE_ENV} must be a time zone name such as "
                                 f"Europe/Paris (got {tz!r}).") from None
    values: dict[str, Any] = {
        "token": token,
        "host": hubspot_base_url(),
        "rate_limit": limit,
        "timezone": tz,
    }
    values.update(overrides)
    return ClientSettings(**values)


# --- request budget ----------------------------------------------------------------------

class RollingBudget:
    """At most `max_requests` starts in any `window_s` seconds, shared by threads.

    HubSpot counts a rolling window, so this keeps the start times of the last requests
    instead of a refilling bucket (a bucket of size B refilling at r lets B + r*W through
    in one window, twice the limit at worst).
    """

    def __init__(self, max_requests: int, window_s: float,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.max_requests = max(1, max_requests)
        self.window_s = window_s
        self._clock, self._sleep = clock, sleep
        self._starts: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Wait for room, take it; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                while self._starts and self._starts[0] <= now - self.window_s:
                    self._starts.popleft()
                if len(self._starts) < self.max_requests:
                    self._starts.append(now)
                    return waited
                wait = self._starts[0] + self.window_s - now
            self._sleep(wait)
            waited += wait


# --- error classification ----------------------------------------------------------------

_TRANSIENT = (urllib3.exceptions.HTTPError, http.client.HTTPException, ConnectionError,
              socket.timeout, TimeoutError)


class _Retry(Exception):
    """Internal: this attempt failed in a way worth retrying."""

    def __init__(self, reason: str, delay: float | None = None):
        super().__init__(reason)
        self.reason, self.delay = reason, delay


def _scrub(text: str, token: str) -> str:
    return text.replace(token, "***") if token else text


def _body_json(exc: Exception) -> dict:
    body = getattr(exc, "body", None)
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        data = json.loads(body) if body else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _header(exc: Exception, name: str) -> str | None:
    headers = getattr(exc, "headers", None) or {}
    try:
        return headers.get(name)
    except AttributeError:
        return None


def next_midnight(now_utc: dt.datetime, timezone: str) -> dt.datetime:
    """The next midnight in `timezone`, as naive UTC (when HubSpot's daily limit resets)."""
    tz = ZoneInfo(timezone)
    local = now_utc.replace(tzinfo=dt.timezone.utc).astimezone(tz)
    midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), tzinfo=tz)
    return midnight.astimezone(dt.timezone.utc).replace(tzinfo=None)


def _parse_iso_datetime(text: str) -> dt.datetime:
    """The SDK's datetime deserialiser, without dateutil's generic parser.

    HubSpot sends ISO-8601 ('2026-02-25T16:26:25.880Z'); `fromisoformat` reads that about
    fifty times faster, and dateutil (what the SDK uses) remains the fallback.
    """
    try:
        return dt.datetime.fromisoformat(text)
    except (TypeError, ValueError):
        from dateutil.parser import parse
        return parse(text)


# --- the client --------------------------------------------------------------------------

class HubSpotClient:
    """The SDK APIs, built once, and `call` to use them within budget and with retries."""

    def __init__(self, settings: ClientSettings, *, sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None):
        self.settings = settings
        budget = max(1, round(settings.rate_limit * (1 - settings.headroom)))
        self.budget = RollingBudget(budget, settings.window_s, sleep=sleep)
        search_window = settings.window_s / 10.0 * (1 + cfg.SEARCH_WINDOW_MARGIN)
        search_budget = max(1, round(settings.search_per_s * (1 - settings.headroom)))
        self.search_budget = RollingBudget(search_budget, search_window, sleep=sleep)
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.requests = 0
        self.retries = 0
        self._count_lock = threading.Lock()
        # retry=False: urllib3 must not retry on its own (it would skip POSTs and hide 429s).
        sdk = HubSpot(access_token=settings.token, host=settings.host, retry=False,
                      api_factory=_api_factory)
        crm = sdk.crm
        # Each SDK attribute access builds a new ApiClient (and connection pool): build once.
        self.objects = {name: SimpleNamespace(basic_api=getattr(crm, name).basic_api,
                                              search_api=getattr(crm, name).search_api,
                                              batch_api=getattr(crm, name).batch_api)
                        for name in cfg.CRM_OBJECTS}
        self.owners_api = crm.owners.owners_api
        self.pipelines_api = crm.pipelines.pipelines_api
        self.associations_api = crm.associations.v4.batch_api
        self.feedback_api = crm.objects.feedback_submissions.basic_api  # NPS survey answers
        apis = [a for ns in self.objects.values() for a in vars(ns).values()]
        for api in apis + [self.owners_api, self.pipelines_api, self.associations_api, self.feedback_api]:
            api.api_client._ApiClient__deserialize_datetime = _parse_iso_datetime

    def call(self, fn: Callable[..., Any], *args: Any, search: bool = False,
             what: str = "request", raw: bool = False, **kwargs: Any) -> Any:
        """Run one SDK call within budget, retrying transient failures.

        raw=True returns the decoded JSON body (a dict) instead of SDK models: the sync reads
        CRM records and association batches that way (see `sync.read_page`); a body that is
        not JSON with a `results` list is retried like any transient failure.
        """
        if raw:
            kwargs["_preload_content"] = False
        s = self.settings
        last = "no attempt made"
        for attempt in range(s.attempts):
            # search has its own per-second limit and is exempt from the ten-secondly one
            (self.search_budget if search else self.budget).acquire()
            with self._count_lock:
                self.requests += 1
            try:
                result = fn(*args, _request_timeout=s.timeout, **kwargs)
                if raw:
                    try:
                        result = json.loads(result.data)
                    except ValueError:
                        result = None
                    if not isinstance(result, dict) or not isinstance(result.get("results"), list):
                        raise _Retry("an incomplete or malformed response body")
                elif hasattr(result, "results") and not isinstance(result.results, list):
                    raise _Retry("an incomplete or malformed response body")
                return result
            except _Retry as exc:
                last, delay = exc.reason, exc.delay
            except _TRANSIENT as exc:
                last, delay = f"a network error ({type(exc).__name__})", None
            except Exception as exc:  # the SDK's per-package ApiException classes
                status = getattr(exc, "status", None)
                if status is None:
                    raise
                last, delay = self._classify(exc, int(status), what)
            if attempt + 1 == s.attempts:  # no retry follows: say so, count none
                log.info("HubSpot %s failed (%s); giving up after %d attempts", what, last, s.attempts)
                break
            with self._count_lock:
                self.retries += 1
            if delay is None:
                delay = self._rng.uniform(0, min(s.max_backoff_s, s.backoff_s * 2 ** attempt))
            log.info("HubSpot %s failed (%s); retry %d/%d in %.2fs",
                     what, last, attempt + 1, s.attempts - 1, delay)
            self._sleep(delay)
        raise HubSpotUnavailable(
            f"HubSpot did not answer the {what} after {s.attempts} attempts (last: {last}). "
            "Check https://status.hubspot.com and your network, then run the sync again: it "
            "resumes from the last saved page.")

    def _classify(self, exc: Exception, status: int, what: str) -> tuple[str, float | None]:
        """(reason, delay) for a retryable HTTP status; raises a named error otherwise."""
        s = self.settings
        body = _body_json(exc)
        message = _scrub(str(body.get("message") or getattr(exc, "reason", "") or ""), s.token)
        if status == 429:
            policy = str(body.get("policyName") or "").upper()
            if policy == "DAILY":
                resets = next_midnight(dt.datetime.now(dt.timezone.utc).replace(tzinfo=None),
                                       s.timezone)
                raise DailyLimitReached(
                    f"HubSpot's daily API limit for this account is used up. The sync stopped "
                    f"cleanly after saving every finished page; the limit resets at midnight "
                    f"{s.timezone} ({resets:%Y-%m-%d %H:%M} UTC). Run the sync again after that "
                    f"(set {cfg.TIMEZONE_ENV} if the account is not on UTC).", resets)
            retry_after = _header(exc, "Retry-After")
            delay = None
            if retry_after:
                try:
                    delay = float(retry_after)
                except ValueError:
                    delay = None
            return f"rate limited ({policy or 'no policy named'})", delay
        if status >= 500 or status == 0:
            return f"HTTP {status}", None
        if status in (401, 403):
            hint = ("the token is invalid or revoked: create a new one in the private app"
                    if status == 401 else
                    "the private app lacks a read scope: grant the CRM read scopes listed in "
                    "the README")
            scopes = tuple(str(x) for e in body.get("errors") or [] if isinstance(e, dict)
                           for x in ((e.get("context") or {}).get("requiredGranularScopes") or []))
            raise HubSpotAuthError(f"HubSpot refused the {what} (HTTP {status}): {hint}. "
                                   f"Then update {cfg.TOKEN_ENV}.", status, scopes)
        raise HubSpotRequestError(
            f"HubSpot rejected the {what} (HTTP {status}: {message or 'no message'}).", status)
