"""Configuration: where the store lives (NORTHSTAR_DB_URL, then the secrets file, then a SQLite
file), and the one reader of `.streamlit/secrets.toml` (store.secrets looks secrets up in it)."""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class StoreSettings:
    url: str
    source: str  # which setting the URL came from, to name it in error messages


def data_dir() -> Path:
    """The folder for the default SQLite store, backups and logs (NORTHSTAR_DATA_DIR)."""
    return Path(os.environ.get("NORTHSTAR_DATA_DIR") or PROJECT_DIR / "data")


def secrets_files() -> list[Path]:
    """Where Streamlit looks for secrets by default, in order (a later file's keys win)."""
    return [Path.home() / ".streamlit" / "secrets.toml", Path.cwd() / ".streamlit" / "secrets.toml"]


def toml_secrets(files: list[Path] | None = None) -> dict:
    """The secrets files read as TOML and merged; {} when none exists or one is malformed."""
    out: dict = {}
    for path in secrets_files() if files is None else files:
        if not path.is_file():
            continue
        try:
            out.update(tomllib.loads(path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return {}
    return out


def read_secrets() -> dict:
    """The secrets as a dict, read from the files Streamlit reads (`secrets_files()`) with
    tomllib, in the app as in the CLI, a sync or an import: nothing here imports Streamlit
    (about half a second per command). {} when there is none or a file is malformed (the
    doctor reports which)."""
    return toml_secrets()


def _secret_url() -> str | None:
    """db_url from .streamlit/secrets.toml ([northstar] db_url)."""
    return (read_secrets().get("northstar") or {}).get("db_url")


def resolve_store() -> StoreSettings:
    """The store URL and the name of the setting it came from. The env var wins."""
    env = os.environ.get("NORTHSTAR_DB_URL", "").strip()
    if env:
        return StoreSettings(env, "NORTHSTAR_DB_URL")
    secret = _secret_url()
    if secret:
        return StoreSettings(secret, "[northstar] db_url in .streamlit/secrets.toml")
    path = data_dir() / "northstar.db"
    return StoreSettings(f"sqlite:///{path}", "NORTHSTAR_DATA_DIR (default SQLite store)")
