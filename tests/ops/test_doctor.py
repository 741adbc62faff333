"""ops.doctor: each misconfiguration it claims to catch gives a fail/warn that names the fix."""
from __future__ import annotations

import json
import os
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from ops import doctor
from ops.doctor import check_channels, run_doctor
from store import StoreSettings, open_store, utcnow
from store import db as store_db
from store import schema as s

TOKEN = "pat-eu1-0f0e0d0c-1111-2222-3333-444455556666"
ALL_SCOPES = list(doctor.REQUIRED_SCOPES + doctor.RECOMMENDED_SCOPES)


def by_name(checks, name):
    found = [c for c in checks if c.name == name]
    assert found, f"no check named {name!r} in {[c.name for c in checks]}"
    return found[0]


@pytest.fixture
def store_env(monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'doc.db'}"
    monkeypatch.setenv("NORTHSTAR_DB_URL", url)
    return url


@pytest.fixture
def fake_hubspot(monkeypatch):
    """A local stand-in for HubSpot's token-info endpoint; `answer` sets status and scopes."""
    answer = {"status": 200, "scopes": ALL_SCOPES, "seen": []}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            answer["seen"].append((self.path, body))
            ok = body.get("tokenKey") == TOKEN and answer["status"] == 200
            payload = {"hubId": 4242, "scopes": answer["scopes"]} if ok else {"message": "invalid"}
            self.send_response(200 if ok else answer["status"] if answer["status"] != 200 else 401)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps(payload).encode())

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("HUBSPOT_API_HOST", f"http://127.0.0.1:{server.server_port}")
    yield answer
    server.shutdown()
    server.server_close()


def test_doctor_all_good(store_env, fake_hubspot, monkeypatch):
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", TOKEN)
    open_store(StoreSettings(store_env, "t"))
    checks = run_doctor(paths=[])
    assert [c for c in checks if c.status != "ok"] == []
    assert by_name(checks, "hubspot reachable").detail.endswith("portal 4242")
    assert fake_hubspot["seen"][0][0] == "/oauth/v2/private-apps/get/access-token-info"


def test_doctor_catches_invalid_secrets_toml(store_env, tmp_path):
    bad = tmp_path / "secrets.toml"
    bad.write_text('[hubspot\naccess_token = "x"\n')
    c = by_name(run_doctor(paths=[bad]), "secrets file")
    assert c.status == "fail" and "not valid TOML" in c.detail


def test_doctor_warns_on_world_readable_secrets(store_env, tmp_path):
    path = tmp_path / "secrets.toml"
    path.write_text('[northstar]\n')
    os.chmod(path, 0o644)
    c = by_name(run_doctor(paths=[path]), "secrets file")
    assert c.status == "warn" and "chmod 600" in c.fix


def test_doctor_catches_bad_roles_and_half_login(store_env, tmp_path):
    path = tmp_path / "secrets.toml"
    path.write_text('[auth]\nredirect_uri = "http://localhost:8501/oauth2callback"\n'
                    '[auth.roles]\n"@acme.com" = "boss"\n')
    os.chmod(path, 0o600)
    c = by_name(run_doctor(paths=[path]), "login and roles")
    assert c.status == "fail"
    assert "'boss'" in c.detail and "cookie_secret" in c.detail


def test_doctor_warns_on_short_cookie_secret(store_env, tmp_path):
    path = tmp_path / "secrets.toml"
    path.write_text('[auth]\nredirect_uri = "http://localhost:8501/oauth2callback"\ncookie_secret = "short"\n'
                    'client_id = "c"\nclient_secret = "clientsecretvalue"\n'
                    'server_metadata_url = "https://idp.example/.well-known/openid-configuration"\n'
                    'default_role = "viewer"\n')
    os.chmod(path, 0o600)
    checks = run_doctor(paths=[path])
    assert by_name(checks, "login and roles").status == "ok"
    assert by_name(checks, "login cookie").status == "warn"


def test_doctor_catches_bad_log_settings(store_env, monkeypatch):
    monkeypatch.setenv("NORTHSTAR_LOG_FORMAT", "xml")
    assert by_name(run_doctor(paths=[]), "logging").status == "fail"


def test_doctor_catches_unusable_data_dir(store_env, monkeypatch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("NORTHSTAR_DATA_DIR", str(blocker / "data"))
    assert by_name(run_doctor(paths=[]), "data folder").status == "fail"


def test_doctor_catches_unreachable_store(monkeypatch):
    monkeypatch.setenv("NORTHSTAR_DB_URL", "postgresql+psycopg://ns:pw-9f8e7d@127.0.0.1:1/northstar")
    checks = run_doctor(paths=[])
    c = by_name(checks, "store reachable")
    assert c.status == "fail" and "NORTHSTAR_DB_URL" in c.fix
    assert all("pw-9f8e7d" not in (x.detail + x.fix) for x in checks)


def test_doctor_catches_malformed_store_url(monkeypatch):
    monkeypatch.setenv("NORTHSTAR_DB_URL", "not a url")
    assert by_name(run_doctor(paths=[]), "store reachable").status == "fail"


def test_doctor_schema_older_newer_and_empty(store_env):
    url = store_env
    path = url.removeprefix("sqlite:///")
    sqlite3.connect(path).close()  # an empty database file
    assert by_name(run_doctor(paths=[]), "schema version").status == "warn"
    engine = open_store(StoreSettings(url, "t"))
    with engine.begin() as conn:
        conn.execute(s.schema_version.delete().where(s.schema_version.c.version == s.SCHEMA_VERSION))
    c = by_name(run_doctor(paths=[]), "schema version")
    assert c.status == "fail" and "db upgrade" in c.fix
    with engine.begin() as conn:
        conn.execute(s.schema_version.insert().values(version=s.SCHEMA_VERSION + 5, applied_at=utcnow()))
    assert "newer" in by_name(run_doctor(paths=[]), "schema version").detail


def test_doctor_warns_when_sqlite_not_in_wal(store_env, monkeypatch):
    url = store_env
    open_store(StoreSettings(url, "t"))
    store_db._ENGINES.pop(url).dispose()
    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    conn.execute("PRAGMA journal_mode=DELETE")  # as another tool might have left it
    conn.close()
    monkeypatch.setattr(store_db, "_sqlite_pragmas", lambda *a: None)  # keep it that way
    c = by_name(run_doctor(paths=[]), "store mode")
    store_db._ENGINES.pop(url).dispose()
    assert c.status == "warn" and "delete" in c.detail.lower()


def test_doctor_catches_secret_stored_in_store(store_env, monkeypatch):
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", TOKEN)
    engine = open_store(StoreSettings(store_env, "t"))
    with engine.begin() as conn:
        conn.execute(s.sync_runs.insert().values(connector="hubspot", mode="full", started_at=utcnow(),
                                                 status="failed", error=f"401 for token {TOKEN}"))
    checks = run_doctor(paths=[], hubspot_timeout=0.5)
    c = by_name(checks, "secrets not in store")
    assert c.status == "fail" and "sync_runs.error" in c.detail
    assert all(TOKEN not in (x.detail + x.fix) for x in checks)


def test_doctor_warns_without_hubspot_token(store_env):
    c = by_name(run_doctor(paths=[]), "hubspot token")
    assert c.status == "warn" and "HUBSPOT_ACCESS_TOKEN" in c.fix


def test_doctor_catches_unreachable_hubspot(store_env, monkeypatch):
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("HUBSPOT_API_HOST", "http://127.0.0.1:1")
    c = by_name(run_doctor(paths=[], hubspot_timeout=1), "hubspot reachable")
    assert c.status == "fail" and "cannot reach" in c.detail


def test_doctor_catches_rejected_token(store_env, fake_hubspot, monkeypatch):
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "pat-eu1-00000000-dead-beef-0000-000000000000")
    c = by_name(run_doctor(paths=[]), "hubspot reachable")
    assert c.status == "fail" and "rejected" in c.detail and "HUBSPOT_ACCESS_TOKEN" in c.fix


def test_doctor_catches_missing_scopes(store_env, fake_hubspot, monkeypatch):
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", TOKEN)
    fake_hubspot["scopes"] = ["crm.objects.contacts.read", "crm.objects.companies.read"]
    c = by_name(run_doctor(paths=[]), "hubspot scopes")
    assert c.status == "fail"
    assert "crm.objects.deals.read" in c.detail and "crm.objects.owners.read" in c.detail
    assert "crm.objects.contacts.read" not in c.detail
    fake_hubspot["scopes"] = list(doctor.REQUIRED_SCOPES)
    assert by_name(run_doctor(paths=[]), "hubspot scopes").status == "warn"


def test_cli_doctor_exit_code_and_json(store_env, monkeypatch, capsys):
    import cli
    monkeypatch.setattr(doctor, "secrets_paths", lambda: [])
    assert cli.main(["doctor", "--json"]) == 0
    names = [c["name"] for c in json.loads(capsys.readouterr().out)]
    assert "schema version" in names and "hubspot token" in names
    monkeypatch.setenv("NORTHSTAR_LOG_LEVEL", "LOUD")
    assert cli.main(["doctor"]) == 1
    assert "FAIL logging" in capsys.readouterr().out


def test_doctor_catches_missing_authlib_when_login_is_on(store_env, tmp_path, monkeypatch):
    import sys
    path = tmp_path / "secrets.toml"
    path.write_text('[auth]\nredirect_uri = "http://localhost:8501/oauth2callback"\n'
                    f'cookie_secret = "{"x" * 40}"\nclient_id = "c"\nclient_secret = "clientsecretvalue"\n'
                    'server_metadata_url = "https://idp.example/.well-known/openid-configuration"\n'
                    '[auth.roles]\n"@acme.com" = "viewer"\n')
    os.chmod(path, 0o600)
    monkeypatch.setitem(sys.modules, "authlib", None)  # as if Authlib were not installed
    c = by_name(run_doctor(paths=[path]), "login library")
    assert c.status == "fail" and "requirements.txt" in c.fix


def test_doctor_checks_the_digest_channels_without_showing_secrets(monkeypatch):
    assert [c.status for c in check_channels()] == ["ok"]  # nothing configured: nothing to check
    monkeypatch.setenv("NORTHSTAR_DIGEST_TO", "ceo@acme.example")
    monkeypatch.setenv("NORTHSTAR_DIGEST_WEBHOOKS", "ftp://nope")
    got = {c.name: c for c in check_channels()}
    assert got["digest email"].status == "fail" and "NORTHSTAR_SMTP_URL is not" in got["digest email"].detail
    assert got["digest webhook"].status == "fail" and got["digest link"].status == "warn"
    monkeypatch.setenv("NORTHSTAR_SMTP_URL", "smtp://u:Zz-secret-99@mail.acme.example:587")
    monkeypatch.setenv("NORTHSTAR_MAIL_FROM", "ns@acme.example")
    monkeypatch.setenv("NORTHSTAR_DIGEST_WEBHOOKS", "https://hooks.slack.com/services/T1/B2/hookSecret77")
    monkeypatch.setenv("NORTHSTAR_BASE_URL", "https://ns.acme.example")
    checks = check_channels()
    assert all(c.status == "ok" for c in checks), checks
    assert "Zz-secret-99" not in str(checks) and "hookSecret77" not in str(checks)
