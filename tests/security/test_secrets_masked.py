"""Issue #13, finding 9: credentials inside HUBSPOT_API_HOST, the store URL or any other URL, and
tokens, are masked wherever a setting or a message is shown (Data page for every role, `status`,
`doctor`, the audit trail), by one helper, `store.secrets.mask`, that every layer imports from
`store` (no upward import)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from streamlit.testing.v1 import AppTest

import cli
import ops.logs
import store
from ops import doctor
from store import StoreSettings, open_store, schema as s, utcnow
from store.audit import list_audit, record_audit
from store.secrets import mask
from tests.pages.conftest import APP, Q1, build_tiny_store
from tests.pages.test_secrets_pages import _all_text

ROOT = Path(__file__).resolve().parents[2]
HOST_PW, HOST_KEY = "hs-Pass-9917", "hk-secret-4242"
HOST = f"http://hsproxy:{HOST_PW}@127.0.0.1:1?hapikey={HOST_KEY}"  # unreachable: nothing is called
HOST_SHOWN = "http://hsproxy:***@127.0.0.1:1?hapikey=***"
TOKEN = "pat-eu1-00000000-1111-2222-3333-444444444444"
DB_PASSWORD = "pg-Pass-31-masked"
OIDC = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "k" * 40,
        "client_id": "northstar", "client_secret": "oidc-client-secret-value",
        "server_metadata_url": "https://idp.example/.well-known/openid-configuration"}
ROLES = {"cfo@acme.com": "admin", "lead@acme.com": "editor", "@acme.com": "viewer"}
USERS = {"viewer": "ann@acme.com", "editor": "lead@acme.com", "admin": "cfo@acme.com"}


@pytest.mark.parametrize("text, shown", [
    ("postgresql+psycopg://northstar:S3cret@db:5432/ns", "postgresql+psycopg://northstar:***@db:5432/ns"),
    ("postgresql://ns:pa/ss@db/ns", "postgresql://ns:***@db/ns"),  # SQLAlchemy takes a / in a password
    ("postgresql://postgres@127.0.0.1:5432/test", "postgresql://postgres@127.0.0.1:5432/test"),
    ("postgresql://db/ns?sslmode=require&password=qp-Secret", "postgresql://db/ns?sslmode=require&password=***"),
    ("https://user:pw-1@proxy.example:8443/api", "https://user:***@proxy.example:8443/api"),
    ("https://tok3n-abcdef@api.example.com/", "https://***@api.example.com/"),
    ("https://api.example.com/crm?hapikey=abc123&limit=10", "https://api.example.com/crm?hapikey=***&limit=10"),
    ("https://app.example/cb#access_token=xyz&state=1", "https://app.example/cb#access_token=***&state=1"),
    (f"token {TOKEN} in a message", "token *** in a message"),
    (f"cannot reach {HOST}: refused", f"cannot reach {HOST_SHOWN}: refused"),
    ("sqlite:////tmp/data/northstar.db", "sqlite:////tmp/data/northstar.db"),
    ("see https://api.hubapi.com/crm/v3 or mail ops@acme.com", "see https://api.hubapi.com/crm/v3 or mail ops@acme.com"),
])
def test_mask_hides_url_credentials_and_tokens(text, shown):
    assert mask(text) == shown
    assert mask(shown) == shown, "masking twice changes nothing"


def test_mask_hides_configured_secret_values(monkeypatch):
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "plain-token-value-77")
    assert mask("Bearer plain-token-value-77 refused") == "Bearer *** refused"
    assert mask(None) is None and mask(42) == 42


def test_one_helper_imported_by_every_layer():
    assert ops.logs.redact is mask
    assert store.mask is mask and store.mask_url is mask
    upward = re.compile(r"^\s*(from|import)\s+(ops|connectors|metrics|meeting|ui|pages|auth|demo)\b", re.M)
    for path in (ROOT / "store").glob("*.py"):
        assert not upward.search(path.read_text()), f"{path.name} imports from a layer above the store"
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import store.audit\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('ops', 'streamlit')))")
    out = subprocess.run([sys.executable, "-c", code, str(ROOT)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_audit_trail_masks_url_credentials(engine):
    record_audit(engine, "cfo@acme.com", "connector.change", f"hubspot {HOST}", {"host": HOST}, None)
    [row] = list_audit(engine)
    stored = json.dumps(row, default=str)
    assert HOST_PW not in stored and HOST_KEY not in stored
    assert row["target"] == f"hubspot {HOST_SHOWN}" and row["before"] == {"host": HOST_SHOWN}


@pytest.fixture
def masked_env(make_store_url, backend, monkeypatch):
    url = make_store_url(backend)
    if backend == "postgresql":  # the test server trusts local connections: the password is carried, unused
        url = make_url(url).set(password=DB_PASSWORD).render_as_string(hide_password=False)
    build_tiny_store(url)
    monkeypatch.setenv("NORTHSTAR_DB_URL", url)
    monkeypatch.setenv("NORTHSTAR_SEED_DEMO", "0")
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("HUBSPOT_API_HOST", HOST)
    return url


@pytest.mark.parametrize("role", ["viewer", "editor", "admin"])
def test_data_page_masks_the_hubspot_host_and_store_url_for_every_role(masked_env, backend, role):
    at = AppTest.from_file(APP, default_timeout=120)
    at.secrets["auth"] = {**OIDC, "roles": ROLES}
    at.user = {"is_logged_in": True, "email": USERS[role], "name": role, "email_verified": True}
    for k, v in Q1.items():
        at.query_params[k] = v
    at.run()
    at.switch_page("pages/data.py").run()
    assert not at.exception, [e.value for e in at.exception]
    text = _all_text(at._tree)
    for secret in (HOST_PW, HOST_KEY, TOKEN, DB_PASSWORD):
        assert secret not in text, f"{secret} shown to the {role}"
    assert any(HOST_SHOWN in c.value for c in at.caption), "the HubSpot host is shown, masked"
    if backend == "postgresql":
        assert any(":***@" in c.value and c.value.startswith("Store:") for c in at.caption)


def test_cli_status_and_doctor_mask_credentials(masked_env, backend, monkeypatch, capsys):
    url = masked_env
    if backend == "postgresql":
        url = f"{make_url(url).set(password=None).render_as_string(hide_password=False)}&password={DB_PASSWORD}"
        monkeypatch.setenv("NORTHSTAR_DB_URL", url)
    monkeypatch.setattr(doctor, "secrets_paths", lambda: [])
    engine = open_store(StoreSettings(url, "test"))
    with engine.begin() as conn:  # a failed sync whose error names the host, as a library might
        conn.execute(s.sync_runs.insert().values(connector="hubspot", mode="full", started_at=utcnow(),
                                                 status="failed", counts_json="{}",
                                                 error=f"HTTPConnectionPool(url={HOST}) refused"))
    out = []
    for argv in (["status"], ["status", "--json"], ["doctor", "--timeout", "0.5"], ["doctor", "--json"]):
        cli.main(argv)
        captured = capsys.readouterr()
        out.append(captured.out + captured.err)
    everything = "\n".join(out)
    for secret in (HOST_PW, HOST_KEY, TOKEN, DB_PASSWORD):
        assert secret not in everything, f"{secret} printed by the CLI"
    assert HOST_SHOWN in everything, "doctor names the host it could not reach, masked"
    status = json.loads(out[1])
    assert status["last_sync"]["error"] == f"HTTPConnectionPool(url={HOST_SHOWN}) refused"
    if backend == "postgresql":
        assert status["store"].endswith("&password=***")
