"""The HubSpot token and the DB password never reach logs, CLI output, exports or the store file."""
from __future__ import annotations

import logging

import pytest

import cli
from ops import doctor
from store import StoreSettings, open_store
from store.audit import audit_csv, record_audit

TOKEN = "pat-eu1-9a8b7c6d-5e4f-3a2b-1c0d-ffeeddccbbaa"
PASSWORD = "pw-Zx81-never-show"


@pytest.fixture
def secret_setup(monkeypatch, tmp_path):
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    monkeypatch.setenv("HUBSPOT_API_HOST", "http://127.0.0.1:1")  # unreachable: the failure path logs
    url = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv("NORTHSTAR_DB_URL", url)
    monkeypatch.setattr(doctor, "secrets_paths", lambda: [])
    yield url, tmp_path
    root = logging.getLogger()
    for h in [h for h in root.handlers if h.get_name() == "northstar"]:
        root.removeHandler(h)


def _assert_clean(text: str, where: str) -> None:
    assert TOKEN not in text, f"HubSpot token found in {where}"
    assert PASSWORD not in text, f"DB password found in {where}"


def test_secrets_absent_from_cli_logs_exports_and_store(secret_setup, capsys):
    url, tmp = secret_setup
    engine = open_store(StoreSettings(url, "NORTHSTAR_DB_URL"))
    # a settings change whose before/after carry the secrets, as a careless caller might pass them
    record_audit(engine, "cfo@acme.com", "settings.change", "hubspot",
                 {"access_token": TOKEN, "db_password": PASSWORD}, {"access_token": TOKEN[::-1]})
    out = []
    for argv in (["-v", "doctor"], ["doctor", "--json", "--timeout", "0.5"], ["status"],
                 ["backup", "--to", str(tmp / "b.db")], ["restore", str(tmp / "b.db"), "--yes"]):
        cli.main(argv)
        captured = capsys.readouterr()
        out.append(captured.out + captured.err)
        logging.getLogger("northstar.test").error("token %s password %s", TOKEN, PASSWORD)
        out.append(capsys.readouterr().err)
    everything = "\n".join(out)
    assert "hubspot reachable" in everything  # the token was used, and failed to connect
    _assert_clean(everything, "CLI output and logs")
    _assert_clean(audit_csv(engine), "the audit export")
    engine.dispose()
    for f in tmp.rglob("*"):
        if f.is_file():
            _assert_clean(f.read_bytes().decode("latin-1"), f"file {f.relative_to(tmp)}")
    assert list(tmp.rglob("pre-restore-*.db")), "the restore kept a copy that was scanned too"
