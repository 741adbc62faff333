"""Where the store lives: NORTHSTAR_DB_URL, then Streamlit secrets, then a SQLite file."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

PROJECT_DIR = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class StoreSettings:
    url: str
    source: str  # which setting the URL came from, to name it in error messages


def data_dir() -> Path:
    """The folder for the default SQLite store, backups and logs (NORTHSTAR_DATA_DIR)."""
    return Path(os.environ.get("NORTHSTAR_DATA_DIR") or PROJECT_DIR / "data")


def _secret_url() -> str | None:
    """db_url from .streamlit/secrets.toml ([northstar] db_url), if Streamlit has one."""
    try:
        import streamlit as st
        from streamlit.runtime.secrets import secrets_singleton
        if not secrets_singleton.load_if_toml_exists():
            return None
        return st.secrets.get("northstar", {}).get("db_url")
    except Exception:  # no streamlit, no secrets file, or a malformed one: fall through
        return None


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


def mask_url(url: str) -> str:
    """The URL with any password replaced by ***, safe to print or show."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable URL>"
