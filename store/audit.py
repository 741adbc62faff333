"""The audit trail: who changed what, when, with the value before and after.

`record_audit` writes one `audit_log` row on the caller's connection, so the row commits (or
rolls back) with the change it describes::

    with engine.begin() as conn:
        conn.execute(...)                       # the change
        record_audit(conn, user.actor, "definition.change", "funnel.mql_stage", old, new)
        bump_data_version(conn)

Actions in use: definition.change, definition.reset, decision.add, decision.update, import,
sync, settings.change, connector.change, demo.load, store.restore. Values under keys naming a
token, password or secret, and any configured secret value anywhere, are stored as "***".
"""
from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import decimal
import io
import json
from typing import Any

from sqlalchemy import Connection, Engine, desc, select

from . import schema as s
from .db import StoreError, utcnow
from .secrets import REDACTED, redact

_SECRET_WORDS = ("token", "password", "passwd", "secret", "api_key", "apikey", "authorization")


def _is_secret_key(key: Any) -> bool:
    k = str(key).lower()
    return any(w in k for w in _SECRET_WORDS)


def _plain(value: Any) -> Any:
    """`value` as JSON-ready data with secret-named fields masked."""
    if isinstance(value, dict):
        return {str(k): (REDACTED if _is_secret_key(k) and v not in (None, "") else _plain(v))
                for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [_plain(v) for v in items]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(_plain(value), sort_keys=True, ensure_ascii=False)


def _scrub(text: str | None) -> str | None:
    """Mask configured secret values (token, DB password) wherever they appear in the text."""
    return redact(text) if text else text


def record_audit(conn: Connection | Engine, actor: str, action: str, target: str,
                 before: Any, after: Any) -> None:
    """Append one audit row; on a Connection it joins the caller's transaction."""
    if not actor or not action:
        raise ValueError("an audit row needs an actor and an action")
    if len(action) > 64:
        raise ValueError(f"audit action {action[:70]!r} is longer than 64 characters")
    row = {"at": utcnow(), "actor": actor[:255], "action": action,
           "target": None if target is None else _scrub(str(target))[:255],
           "before_json": _scrub(_dump(before)), "after_json": _scrub(_dump(after))}
    if isinstance(conn, Engine):
        with conn.begin() as c:
            c.execute(s.audit_log.insert().values(**row))
    else:
        conn.execute(s.audit_log.insert().values(**row))


def _row(r) -> dict:
    d = dict(r)
    for col, key in (("before_json", "before"), ("after_json", "after")):
        raw = d.pop(col)
        d[key] = None if raw is None else json.loads(raw)
    return d


def list_audit(engine: Engine, limit: int | None = 500, action: str | None = None,
               actor: str | None = None, since: dt.datetime | None = None) -> list[dict]:
    """Audit rows, newest first: audit_id, at, actor, action, target, before, after (decoded)."""
    q = select(s.audit_log).order_by(desc(s.audit_log.c.at), desc(s.audit_log.c.audit_id))
    if action:
        q = q.where(s.audit_log.c.action == action)
    if actor:
        q = q.where(s.audit_log.c.actor == actor)
    if since:
        q = q.where(s.audit_log.c.at >= since)
    if limit:
        q = q.limit(limit)
    try:
        with engine.connect() as conn:
            return [_row(r) for r in conn.execute(q).mappings()]
    except Exception as exc:  # sqlalchemy errors: say what to do instead of a traceback
        raise StoreError(f"Cannot read the audit trail ({type(exc).__name__}). "
                         "Run `python cli.py db upgrade`, then `python cli.py doctor`.") from exc


AUDIT_COLUMNS = ["audit_id", "at", "actor", "action", "target", "before", "after"]


def audit_csv(engine: Engine, limit: int | None = None, **filters: Any) -> str:
    """The audit trail as CSV text (before/after as JSON), for the Data page's download button."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(AUDIT_COLUMNS)
    for r in list_audit(engine, limit=limit, **filters):
        writer.writerow([r["audit_id"], r["at"].isoformat(sep=" "), r["actor"], r["action"],
                         r["target"] or "", _dump(r["before"]) or "", _dump(r["after"]) or ""])
    return out.getvalue()


def audit_frame(engine: Engine, limit: int | None = 500, **filters: Any):
    """The audit trail as a pandas DataFrame (before/after as JSON text), for st.dataframe."""
    import pandas as pd
    rows = [{**r, "before": _dump(r["before"]), "after": _dump(r["after"])}
            for r in list_audit(engine, limit=limit, **filters)]
    return pd.DataFrame(rows, columns=AUDIT_COLUMNS)


__all__ = ["record_audit", "list_audit", "audit_csv", "audit_frame", "AUDIT_COLUMNS", "REDACTED"]
