"""Structured logs with levels, and no secret in any record.

`setup_logging()` (called by cli.py and app.py) installs one handler on the root logger:
NORTHSTAR_LOG_LEVEL (default INFO), NORTHSTAR_LOG_FORMAT=text|json (default text),
NORTHSTAR_LOG_FILE (default: stderr). The handler's RedactSecrets filter masks the HubSpot
token, the database password and the OIDC secrets in messages, arguments and tracebacks.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
import time

from store.secrets import SECRET_ENV_VARS, redact, secret_values

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RedactSecrets(logging.Filter):
    """Rewrite each record so that no configured secret survives into any output."""

    REFRESH_SECONDS = 5.0  # how soon a changed env var or secrets file is picked up

    def __init__(self, values: list[str] | None = None) -> None:
        super().__init__()
        self._fixed = values
        self._cached: list[str] = []
        self._cached_at = float("-inf")
        self._cached_env: tuple = ()

    def values(self) -> list[str]:
        if self._fixed is not None:
            return self._fixed
        now = time.monotonic()
        env = tuple(os.environ.get(v) for v in SECRET_ENV_VARS)
        if env != self._cached_env or now - self._cached_at > self.REFRESH_SECONDS:
            self._cached, self._cached_at, self._cached_env = secret_values(), now, env
        return self._cached

    def filter(self, record: logging.LogRecord) -> bool:
        values = self.values()
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: log it as written rather than lose the record
            message = f"{record.msg} {record.args}"
        record.msg, record.args = redact(message, values), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, values)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, values)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: at (UTC ISO), level, logger, message, and exc when raised."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"at": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds"),
                 "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time of each record (survives redirection)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def setup_logging(level: str | int | None = None, fmt: str | None = None,
                  stream=None) -> logging.Handler:
    """Install (or replace) Northstar's root handler; returns it. Safe to call more than once."""
    problems = []
    level = level or os.environ.get("NORTHSTAR_LOG_LEVEL", "INFO").upper()
    if isinstance(level, str) and level not in logging.getLevelNamesMapping():
        problems.append(f"NORTHSTAR_LOG_LEVEL={level!r} is not a level; using INFO")
        level = "INFO"
    fmt = (fmt or os.environ.get("NORTHSTAR_LOG_FORMAT", "text")).lower()
    if fmt not in ("text", "json"):
        problems.append(f"NORTHSTAR_LOG_FORMAT={fmt!r} is neither text nor json; using text")
        fmt = "text"
    path = os.environ.get("NORTHSTAR_LOG_FILE", "").strip()
    if stream is None and path:
        handler: logging.Handler = logging.FileHandler(path, encoding="utf-8")
    elif stream is not None:
        handler = logging.StreamHandler(stream)
    else:
        handler = _StderrHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(RedactSecrets())
    handler.set_name("northstar")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "northstar"]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level)
    for problem in problems:
        logging.getLogger(__name__).warning(problem)
    return handler
