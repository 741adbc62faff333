"""ops.logs / store.secrets: structured logs with levels, and no secret in any record."""
from __future__ import annotations

import io
import json
import logging

import pytest

from ops.logs import RedactSecrets, setup_logging
from store.secrets import redact, secret_values

TOKEN = "pat-eu1-0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
PASSWORD = "Zq8-very-secret"


@pytest.fixture
def secrets_env(monkeypatch):
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("NORTHSTAR_DB_URL", f"postgresql+psycopg://ns:{PASSWORD}@db.internal/ns")


@pytest.fixture
def captured():
    """Northstar's root handler writing into a buffer; removed afterwards."""
    buf = io.StringIO()
    root = logging.getLogger()
    old_level = root.level
    handlers = []

    def _setup(**kw):
        handlers.append(setup_logging(stream=buf, **kw))
        return buf
    yield _setup
    for h in handlers:
        root.removeHandler(h)
    root.setLevel(old_level)


def test_secret_values_lists_token_and_db_password(secrets_env):
    values = secret_values({"auth": {"client_secret": "oidc-client-secret", "cookie_secret": "cookie-xyz"}})
    assert set(values) == {TOKEN, PASSWORD, "oidc-client-secret", "cookie-xyz"}


def test_redact_masks_values_url_passwords_and_token_shapes():
    text = f"url postgresql://u:{PASSWORD}@h/db token {TOKEN} other pat-na1-11111111-2222-3333-4444-555555555555"
    out = redact(text, values=[])
    assert PASSWORD not in out and TOKEN not in out and "pat-na1" not in out
    assert "postgresql://u:***@h/db" in out
    assert redact("nothing secret here", values=[TOKEN]) == "nothing secret here"


def test_logs_redact_message_args_and_traceback(secrets_env, captured):
    buf = captured(fmt="text", level="DEBUG")
    log = logging.getLogger("northstar.test")
    log.info("calling HubSpot with %s", TOKEN)
    log.debug("store %s", f"postgresql://ns:{PASSWORD}@db.internal/ns")
    try:
        raise RuntimeError(f"401 Unauthorized for Bearer {TOKEN}")
    except RuntimeError:
        log.exception("sync failed")
    out = buf.getvalue()
    assert TOKEN not in out and PASSWORD not in out
    assert "calling HubSpot with ***" in out and "RuntimeError: 401 Unauthorized for Bearer ***" in out
    assert " DEBUG northstar.test: store postgresql://ns:***@db.internal/ns" in out


def test_logs_json_lines_with_levels(secrets_env, captured):
    buf = captured(fmt="json", level="INFO")
    logging.getLogger("northstar.sync").warning("rate limited, retry in %d s (token %s)", 3, TOKEN)
    logging.getLogger("northstar.sync").debug("not shown at INFO")
    lines = [json.loads(line) for line in buf.getvalue().splitlines()]
    assert len(lines) == 1
    entry = lines[0]
    assert entry["level"] == "WARNING" and entry["logger"] == "northstar.sync"
    assert entry["message"] == "rate limited, retry in 3 s (token ***)"


def test_redact_filter_picks_up_a_token_set_after_setup(captured, monkeypatch):
    buf = captured(fmt="text")
    logging.getLogger("x").warning("first line")
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "abcd-new-token-value")
    logging.getLogger("x").warning("now %s", "abcd-new-token-value")
    assert "abcd-new-token-value" not in buf.getvalue()


def test_setup_logging_replaces_its_own_handler(captured):
    captured()
    captured()
    assert sum(h.get_name() == "northstar" for h in logging.getLogger().handlers) == 1


def test_redact_filter_with_fixed_values():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "a %s b", ("s3cr3t-value",), None)
    RedactSecrets(["s3cr3t-value"]).filter(record)
    assert record.getMessage() == "a *** b"


def test_setup_logging_follows_sys_stderr(monkeypatch):
    """A handler made while stderr was redirected must not write to a closed stream later."""
    root = logging.getLogger()
    first = io.StringIO()
    monkeypatch.setattr("sys.stderr", first)
    handler = setup_logging(fmt="text")
    try:
        first.close()
        second = io.StringIO()
        monkeypatch.setattr("sys.stderr", second)
        logging.getLogger("x").warning("after the redirect")
        assert "after the redirect" in second.getvalue()
    finally:
        root.removeHandler(handler)
