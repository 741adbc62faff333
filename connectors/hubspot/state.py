"""Sync bookkeeping in the store: per-object cursors (sync_state) and runs (sync_runs).

State of one object type (row of sync_state, connector='hubspot'):
  phase       'backfill' while a full read is unfinished, then 'incremental'
  page_after  the list cursor after the last committed backfill page (None = from the start)
  cursor_at   incremental: the largest last-modified time committed (naive UTC, ms precision);
              during a backfill: the time it started, which becomes the cursor once it ends
Each page is written in the same transaction as its state, so a killed sync resumes from the
last committed page and never skips or doubles a record.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, desc, select

from store import schema as s
from store import upsert, utcnow

from .settings import CONNECTOR


@dataclass
class ObjectState:
    object_type: str
    phase: str = "idle"
    page_after: str | None = None
    cursor_at: dt.datetime | None = None


def read_state(conn: Connection, object_type: str) -> ObjectState:
    row = conn.execute(select(s.sync_state).where(
        s.sync_state.c.connector == CONNECTOR,
        s.sync_state.c.object_type == object_type)).mappings().first()
    if row is None:
        return ObjectState(object_type)
    return ObjectState(object_type, row["phase"], row["page_after"], row["cursor_at"])


def write_state(conn: Connection, state: ObjectState) -> None:
    upsert(conn, s.sync_state, [{
        "connector": CONNECTOR, "object_type": state.object_type, "phase": state.phase,
        "page_after": state.page_after, "cursor_at": state.cursor_at, "updated_at": utcnow(),
    }], ["connector", "object_type"])


def start_run(engine: Engine, mode: str) -> int:
    """Record a new run; earlier runs still marked running were killed: mark them so."""
    with engine.begin() as conn:
        conn.execute(s.sync_runs.update().where(
            s.sync_runs.c.connector == CONNECTOR, s.sync_runs.c.status == "running",
        ).values(status="interrupted", error="the sync process stopped before finishing"))
        return conn.execute(s.sync_runs.insert().values(
            connector=CONNECTOR, mode=mode, started_at=utcnow(), status="running",
            counts_json="{}")).inserted_primary_key[0]


def save_counts(conn: Connection, run_id: int, counts: dict[str, dict[str, int]]) -> None:
    conn.execute(s.sync_runs.update().where(s.sync_runs.c.run_id == run_id)
                 .values(counts_json=json.dumps(counts, sort_keys=True)))


def finish_run(engine: Engine, run_id: int, status: str, counts: dict,
               error: str | None = None) -> None:
    with engine.begin() as conn:
        conn.execute(s.sync_runs.update().where(s.sync_runs.c.run_id == run_id).values(
            finished_at=utcnow(), status=status, error=error,
            counts_json=json.dumps(counts, sort_keys=True)))


def last_runs(engine: Engine, limit: int = 10) -> list[dict]:
    """The latest HubSpot runs, newest first, counts decoded."""
    with engine.connect() as conn:
        rows = conn.execute(select(s.sync_runs).where(s.sync_runs.c.connector == CONNECTOR)
                            .order_by(desc(s.sync_runs.c.run_id)).limit(limit)).mappings().all()
    return [{**r, "counts": json.loads(r["counts_json"] or "{}")} for r in rows]
