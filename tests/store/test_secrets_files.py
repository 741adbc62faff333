"""Secrets outside the app: the CLI, syncs and imports read .streamlit/secrets.toml themselves,
with the same result as Streamlit and without importing it (half a second per command)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from store.config import toml_secrets

ROOT = Path(__file__).resolve().parents[2]


def test_secrets_files_merge_with_the_project_file_winning(tmp_path):
    home, project = tmp_path / "home.toml", tmp_path / "project.toml"
    home.write_text('[hubspot]\naccess_token = "from-home"\n[northstar]\ndb_url = "sqlite:///home.db"\n')
    project.write_text('[northstar]\ndb_url = "sqlite:///project.db"\n')
    merged = toml_secrets([home, project, tmp_path / "absent.toml"])
    assert merged == {"hubspot": {"access_token": "from-home"}, "northstar": {"db_url": "sqlite:///project.db"}}


def test_a_malformed_secrets_file_reads_as_no_secrets(tmp_path):
    bad = tmp_path / "secrets.toml"
    bad.write_text("[northstar\ndb_url = ")
    assert toml_secrets([bad]) == {}


def test_a_command_finds_the_secrets_without_importing_streamlit(tmp_path):
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text(
        '[northstar]\ndb_url = "sqlite:///from-secrets.db"\n[hubspot]\naccess_token = "pat-na1-secret-value"\n')
    code = ("import sys; sys.path.insert(0, sys.argv[1])\n"
            "from store.config import resolve_store\n"
            "from store.secrets import redact\n"
            "s = resolve_store()\n"
            "print(s.url, '|', s.source, '|', redact('token pat-na1-secret-value'), '|', 'streamlit' in sys.modules)\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "nohome")}
    out = subprocess.run([sys.executable, "-c", code, str(ROOT)], cwd=tmp_path, env=env, capture_output=True,
                         text=True, check=True).stdout.strip()
    url, source, redacted, imported = [p.strip() for p in out.split("|")]
    assert url == "sqlite:///from-secrets.db" and "secrets.toml" in source
    assert "secret-value" not in redacted
    assert imported == "False"
