"""The HubSpot panel of the Data page: last runs, "Sync now" in a background thread with a
progress bar and ETA per object, and a clear error with the next step when a sync fails.

The sync runs in a process-wide thread (one per store), so every session sees the same
progress and readers are never blocked: each page is its own short transaction.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

import upkeep
from auth import PermissionDenied
from connectors.hubspot import settings as cfg
from connectors.hubspot.client import DailyLimitReached, HubSpotClient, HubSpotConfigError, HubSpotError, load_settings
from connectors.hubspot.state import last_runs
from connectors.hubspot.sync import Progress, sync_hubspot
from store import mask

from .session import can, require


@dataclass
class SyncJob:
    """A sync started from the UI; the thread writes, the page reads."""
    full: bool
    actor: str = "local admin"  # who pressed Sync now, for the audit trail
    started: float = field(default_factory=time.monotonic)
    progress: dict[str, Progress] = field(default_factory=dict)
    error: str | None = None
    next_step: str | None = None
    finished: bool = False
    thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


_JOBS: dict[str, SyncJob] = {}
_JOBS_LOCK = threading.Lock()


def _run_job(engine: Engine, job: SyncJob) -> None:
    def on_progress(p: Progress) -> None:
        job.progress[p.object_type] = p
    try:
        sync_hubspot(engine, HubSpotClient(load_settings()), full=job.full, progress=on_progress,
                     actor=job.actor)
        upkeep.after_sync(engine)
    except DailyLimitReached as exc:
        job.error, job.next_step = str(exc), "Nothing is lost: run the sync again after the reset."
    except HubSpotConfigError as exc:
        job.error, job.next_step = str(exc), "Add the token, then press Sync now again."
    except HubSpotError as exc:
        job.error, job.next_step = str(exc), "Fix the cause above, then press Sync now again."
        upkeep.after_sync_failed(engine)  # the alert on a sync failing twice
    except Exception as exc:  # shown to the user without internals; details in the server log
        job.error = f"The sync stopped on an unexpected {type(exc).__name__}."
        job.next_step = "Check the server log, then press Sync now again: it resumes where it stopped."
        raise
    finally:
        job.finished = True


def start_sync(engine: Engine, full: bool = False, actor: str = "local admin") -> SyncJob:
    """Start a background sync for this store unless one is already running."""
    key = str(engine.url)
    with _JOBS_LOCK:
        job = _JOBS.get(key)
        if job is not None and job.running:
            return job
        job = SyncJob(full=full, actor=actor)
        job.thread = threading.Thread(target=_run_job, args=(engine, job), daemon=True,
                                      name="hubspot-sync")
        _JOBS[key] = job
        job.thread.start()
    return job


def current_job(engine: Engine) -> SyncJob | None:
    return _JOBS.get(str(engine.url))


def _may_sync() -> bool:
    return can(None, "sync.run")


def _runs_frame(engine: Engine) -> pd.DataFrame:
    rows = []
    for r in last_runs(engine, 10):
        written = sum(c.get("written", 0) for c in r["counts"].values())
        deleted = sum(c.get("deleted", 0) for c in r["counts"].values())
        rows.append({"started (UTC)": r["started_at"], "finished (UTC)": r["finished_at"],
                     "mode": r["mode"], "status": r["status"], "records written": written,
                     "marked deleted": deleted, "error": mask(r["error"] or "")})
    return pd.DataFrame(rows)


def _show_progress(job: SyncJob) -> None:
    for obj in cfg.OBJECTS:
        p = job.progress.get(obj)
        if p is None:
            st.progress(0.0, text=f"{obj}: waiting")
            continue
        total = f" of {p.total:,}" if p.total and p.phase != "done" else ""
        eta = f", about {p.eta_s:,.0f} s left" if p.eta_s and p.phase != "done" else ""
        st.progress(p.fraction, text=f"{obj}: {p.done:,}{total} ({p.phase}{eta})")


def render_sync_panel(engine: Engine) -> None:
    """The HubSpot tab: configuration status, Sync now with progress, last runs."""
    st.subheader("HubSpot sync")
    try:
        settings = load_settings()
    except HubSpotConfigError as exc:
        st.warning(mask(f"{exc} Then reload this page."))
        settings = None
    if settings is not None:
        st.caption(f"API {mask(settings.host)}, at most {settings.rate_limit} requests per 10 s. "
                   "Incremental by default; a full sync re-reads everything.")
    job = current_job(engine)
    if settings is not None and _may_sync():
        left, right = st.columns([1, 3])
        full = right.checkbox("Full sync (re-read every record)", key="hubspot_full_sync")
        busy = job is not None and job.running
        if left.button("Sync now", key="hubspot_sync_now", disabled=busy, type="primary"):
            try:
                user = require("sync.run")  # refused on the server too, not only hidden
                job = start_sync(engine, full=full, actor=user.actor)
            except PermissionDenied as exc:
                st.error(str(exc))
    elif settings is not None:
        st.info("Only admins can start a HubSpot sync.")

    was_running = job is not None and job.running

    @st.fragment(run_every=1.0 if was_running else None)
    def live() -> None:
        current = current_job(engine)
        if was_running and current is not None and current.finished:
            st.rerun()  # the whole panel again: stops the polling, shows the outcome
        if current is not None and (current.running or not current.finished):
            st.write(f"Sync running for {time.monotonic() - current.started:,.0f} s")
            _show_progress(current)
        elif current is not None and current.error:
            st.error(mask(f"{current.error}\n\n{current.next_step}"))
        elif current is not None:
            st.success("Sync finished.")
        runs = _runs_frame(engine)
        if runs.empty:
            st.info("No HubSpot sync yet. Set the token (see README, 'HubSpot'), then press Sync now.")
        else:
            st.dataframe(runs, hide_index=True, width="stretch")
    live()
