"""HubSpot -> store: backfill, incremental windows, deletions, one run at a time.

(Records become rows in `mapping.py`; requests, budget and retries live in `client.py`.)

Per CRM object (products, companies, contacts, line_items, deals):
  backfill     list pages (`after` paging, 100 a page; deals 50 with stage history), committed
               by batches of pages (COMMIT_BATCH records; deals with their associations, 1,000)
               with the `page_after` of the last page in the same transaction; a stopped
               backfill resumes from that cursor.
  incremental  search on the last-modified property (hs_lastmodifieddate; lastmodifieddate for
               contacts) in the window [cursor - LOOKBACK_MS, now], sorted ascending, 200 a
               page: the common case is one query. A window whose `total` passes
               SEARCH_RESULT_CAP (HubSpot answers 400 past 10,000 results) is halved until
               each part fits, and a millisecond holding more than that is read by
               hs_object_id; each window is paged with `after`, in ascending order. Pages are
               written (up to COMMIT_BATCH records at once) with the cursor (their last
               modified time) in one transaction, so a stopped run resumes from the cursor
               minus the lookback, with no gap and no duplicate row. A page whose `total` differs from its window's first page (a
               record modified meanwhile left the window, shifting the offsets) is re-read
               from the cursor. See `_read_window`.
  deletions    archived records (list with archived=true, read while the changes are) are
               marked is_deleted once the changes are written. Products, companies and
               contacts that fit on one list page are re-listed whole instead (one request
               instead of a search and an archived list; unlisted rows are deleted).
Owners and pipelines are small and read whole on every run. An incremental run syncs the
objects in parallel threads (it waits on HubSpot, not on the CPU; writes take turns); a
backfill goes in order, because deals' associations fill line_items.deal_id.
"""
from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Sequence

from sqlalchemy import Connection, Engine, bindparam, select

from store import bump_data_version, observers, schema as s, upsert
from store.audit import record_audit

from . import settings as cfg
from . import state as st
from .client import DailyLimitReached, HubSpotAuthError, HubSpotClient, HubSpotError
from .mapping import (Page, Record, _fit, _float, _props, company_row, contact_row, deal_row,
                      from_ms, line_item_row, parse_datetime, product_row, read_page,
                      stage_history_rows, to_ms)

log = logging.getLogger(__name__)


def _fetch(client: HubSpotClient, fn: Callable[..., Any], *args: Any, what: str,
           search: bool = False, **kwargs: Any) -> Page:
    return read_page(client.call(fn, *args, raw=True, search=search, what=what, **kwargs))


# --- progress ----------------------------------------------------------------------------

@dataclass
class Progress:
    """Where one object's sync stands; `total` and `eta_s` are None when unknown."""
    object_type: str
    phase: str  # backfill | incremental | done
    done: int
    total: int | None
    eta_s: float | None

    @property
    def fraction(self) -> float:
        if self.phase == "done":
            return 1.0
        if not self.total:
            return 0.0
        return min(1.0, self.done / self.total)


ProgressFn = Callable[[Progress], None]


@dataclass
class SyncResult:
    run_id: int
    status: str  # success | failed | interrupted
    counts: dict[str, dict[str, int]]
    error: str | None = None
    notes: list[str] = field(default_factory=list)  # what a successful run skipped, and why


@dataclass
class _Ctx:
    engine: Engine
    client: HubSpotClient
    run_id: int
    full: bool
    started: dt.datetime
    currency: str
    progress: ProgressFn
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what the run skipped, and why
    unbumped: bool = False  # rows committed since data_version last moved
    bumped_at: float = float("-inf")  # time.monotonic() of the last data_version bump

    def count(self, obj: str, key: str, n: int) -> None:
        self.counts.setdefault(obj, {"fetched": 0, "written": 0, "deleted": 0})
        self.counts[obj][key] = self.counts[obj].get(key, 0) + n


class _Tracker:
    def __init__(self, ctx: _Ctx, obj: str, phase: str, total: int | None):
        self.ctx, self.obj, self.phase, self.total = ctx, obj, phase, total
        self.done, self.t0 = 0, time.monotonic()

    def add(self, n: int) -> None:
        self.done += n
        eta = None
        if self.total and self.done:
            rate = self.done / max(time.monotonic() - self.t0, 1e-6)
            eta = max(0.0, (self.total - self.done) / rate)
        self.ctx.progress(Progress(self.obj, self.phase, self.done, self.total, eta))


# --- writing -----------------------------------------------------------------------------

_ID_COL = {"companies": "company_id", "contacts": "contact_id", "deals": "deal_id",
           "products": "product_id", "line_items": "line_item_id"}


def _table(obj: str):
    return s.nps_responses if obj == cfg.FEEDBACK_OBJECT else s.metadata.tables[obj]


def _chunks(items: Sequence, n: int) -> Iterable[Sequence]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


# Objects sync in parallel threads during incremental runs; their writes take turns, so that
# no two transactions lock line_items in turn.
_WRITE_LOCK = threading.Lock()
# Every bump makes every open dashboard recompute, so a sync moves data_version at most once per
# BUMP_EVERY_S while it writes pages, then once more when an object (and the run) ends.
BUMP_EVERY_S = 10.0


# The tables a sync writes, named in each data-version bump: the finance rollups (invoices,
# ledger) stay fresh through a sync, and the CRM rollups are kept exact by whoever watches the
# writes (store.observers: the metric rollups' Keeper, once `upkeep.install()` registered it).
SYNC_TABLES = ("deals", "contacts", "companies", "owners", "line_items", "products", "pipelines",
               "pipeline_stages", "deal_stage_history", "deal_contacts", "deal_companies", "nps_responses")


def _bump(conn: Connection, watch: observers.Watch) -> None:
    """The bump, and the write's observers (watching since the start of the transaction) told."""
    watch.publish(bump_data_version(conn, *SYNC_TABLES))


def _wrote(ctx: _Ctx, conn: Connection, watch: observers.Watch) -> None:
    """Rows were written in this transaction: bump data_version now, or leave it to the next
    bump if one happened less than BUMP_EVERY_S ago. Call under _WRITE_LOCK."""
    now = time.monotonic()
    if now - ctx.bumped_at >= BUMP_EVERY_S:
        _bump(conn, watch)
        ctx.unbumped, ctx.bumped_at = False, now
    else:
        ctx.unbumped = True


def _flush_bump(ctx: _Ctx) -> None:
    """Make every committed row visible to the dashboards' caches (one bump if any is pending)."""
    with _WRITE_LOCK:
        if not ctx.unbumped:
            return
        with ctx.engine.begin() as conn:
            watch = observers.watch(conn)
            _bump(conn, watch)
        ctx.unbumped, ctx.bumped_at = False, time.monotonic()


def _flush_quietly(ctx: _Ctx) -> None:
    """_flush_bump on the way out of a failed run: the pages it committed show; a store that
    fails here too is logged, not raised over the run's own error."""
    try:
        _flush_bump(ctx)
    except Exception as exc:  # noqa: BLE001
        log.warning("could not publish the rows this sync committed (%s); the next write will",
                    type(exc).__name__)


def _commit(ctx: _Ctx, obj: str, write: Callable[[Connection], int],
            state: st.ObjectState) -> None:
    """One transaction: the rows, the object's new state, the run's counts, data_version (see _wrote)."""
    with _WRITE_LOCK, ctx.engine.begin() as conn:
        watch = observers.watch(conn)
        with watch.around(_table(obj).name, getattr(write, "ids", None)):
            written = write(conn)
        st.write_state(conn, state)
        ctx.count(obj, "written", written)
        st.save_counts(conn, ctx.run_id, ctx.counts)
        if written:
            _wrote(ctx, conn, watch)


def _write_simple(ctx: _Ctx, obj: str, records: list) -> Callable[[Connection], int]:
    mapper = {"companies": company_row, "contacts": contact_row,
              "products": lambda r: product_row(r, ctx.currency),
              "line_items": lambda r: line_item_row(r, ctx.currency)}[obj]
    rows = [mapper(r) for r in records]
    return _with_ids(lambda conn: upsert(conn, _table(obj), rows, [_ID_COL[obj]]),
                     [row[_ID_COL[obj]] for row in rows])


def _with_ids(write: Callable[[Connection], int], ids: list[str]) -> Callable[[Connection], int]:
    """`write`, labelled with the ids of the rows it changes (the write's observers follow them)."""
    write.ids = ids  # type: ignore[attr-defined]
    return write


def _set_line_item_deals(conn: Connection, pairs: list[tuple[str, str | None]]) -> None:
    if pairs:
        conn.execute(s.line_items.update().where(s.line_items.c.line_item_id == bindparam("lid"))
                     .values(deal_id=bindparam("did")),
                     [{"lid": lid, "did": did} for lid, did in pairs])


def deal_associations(client: HubSpotClient,
                      ids: Sequence[str]) -> dict[str, dict[str, dict[str, set[int]]]]:
    """{contacts|companies|line_items: {deal id: {to id: {typeIds}}}}, the three read at once."""
    with ThreadPoolExecutor(len(cfg.DEAL_ASSOCIATIONS), "hubspot-assoc") as pool:
        found = pool.map(lambda to: fetch_associations(client, "deals", to, ids),
                         cfg.DEAL_ASSOCIATIONS)
        return dict(zip(cfg.DEAL_ASSOCIATIONS, found))


def _write_deals(ctx: _Ctx, records: list, assoc: dict | None = None) -> Callable[[Connection], int]:
    """Deals with their stage history and contact/company/line-item associations (read here
    unless `assoc`, from deal_associations, is given)."""
    records = list({str(r.id): r for r in records}.values())  # one row per deal
    ids = [str(r.id) for r in records]
    if assoc is None:
        assoc = deal_associations(ctx.client, ids)
    else:  # read for the ids searched: keep the deals read (one archived meanwhile is not)
        wanted = set(ids)
        assoc = {to: {d: m for d, m in links.items() if d in wanted} for to, links in assoc.items()}
    rows, history = [], []
    for rec in records:
        row = deal_row(rec, ctx.currency)
        companies = assoc["companies"].get(row["deal_id"], {})
        primary = sorted(c for c, types in companies.items()
                         if cfg.PRIMARY_DEAL_COMPANY_TYPE_ID in types)
        ordered = primary or sorted(companies, key=_id_key)
        row["company_id"] = ordered[0] if ordered else None
        contacts = sorted(assoc["contacts"].get(row["deal_id"], {}), key=_id_key)
        row["contact_id"] = contacts[0] if contacts else None
        rows.append(row)
        history.extend(stage_history_rows(rec))

    def write(conn: Connection) -> int:
        upsert(conn, s.deals, rows, ["deal_id"])
        for chunk in _chunks(ids, 500):
            for t in (s.deal_stage_history, s.deal_contacts, s.deal_companies):
                conn.execute(t.delete().where(t.c.deal_id.in_(chunk)))
            conn.execute(s.line_items.update().where(s.line_items.c.deal_id.in_(chunk))
                         .values(deal_id=None))
        if history:
            conn.execute(s.deal_stage_history.insert(), history)
        dc = [{"deal_id": d, "contact_id": c} for d, m in assoc["contacts"].items() for c in m]
        dco = [{"deal_id": d, "company_id": c} for d, m in assoc["companies"].items() for c in m]
        if dc:
            conn.execute(s.deal_contacts.insert(), dc)
        if dco:
            conn.execute(s.deal_companies.insert(), dco)
        _set_line_item_deals(conn, [(li, d) for d, m in assoc["line_items"].items() for li in m])
        return len(rows)
    return _with_ids(write, ids)


def _id_key(value: str) -> tuple[int, str]:
    return (int(value), value) if value.isdigit() else (1 << 62, value)


# --- reading -----------------------------------------------------------------------------

def fetch_associations(client: HubSpotClient, from_type: str, to_type: str,
                       ids: Sequence[str]) -> dict[str, dict[str, set[int]]]:
    """{from id: {to id: {association typeIds}}} via the v4 batch read, following paging.

    The JSON is read directly: a batch of 1,000 deals holds thousands of small objects, and
    building SDK models for them took a fifth of the client's time (the fake server's tests
    check these answers against the SDK's models).
    """
    out: dict[str, dict[str, set[int]]] = {i: {} for i in ids}
    for chunk in _chunks(list(ids), cfg.ASSOCIATION_BATCH):
        pending = [{"id": i} for i in chunk]
        while pending:
            resp = client.call(client.associations_api.get_page, from_type, to_type,
                               {"inputs": pending}, raw=True,
                               what=f"{from_type}->{to_type} associations")
            pending = []
            for item in resp["results"]:
                src = str(item["from"]["id"])
                for target in item.get("to") or []:
                    types = {a.get("typeId") for a in target.get("associationTypes") or []}
                    out.setdefault(src, {}).setdefault(str(target["toObjectId"]), set()).update(types)
                after = ((item.get("paging") or {}).get("next") or {}).get("after")
                if after:
                    pending.append({"id": src, "after": after})
    return out


def _search_total(ctx: _Ctx, obj: str) -> int | None:
    api = ctx.client.objects[obj].search_api
    return _fetch(ctx.client, api.do_search, {"limit": 1, "properties": ["hs_object_id"]},
                  search=True, what=f"{obj} count").total


def _backfill(ctx: _Ctx, obj: str, state: st.ObjectState) -> None:
    if state.phase != "backfill":  # a new backfill; an unfinished one resumes at page_after
        state = st.ObjectState(obj, "backfill", None, ctx.started)
        with ctx.engine.begin() as conn:
            st.write_state(conn, state)
    api = ctx.client.objects[obj].basic_api
    deals = obj == "deals"
    limit = cfg.HISTORY_PAGE_SIZE if deals else cfg.LIST_PAGE_SIZE
    batch_size = cfg.ASSOCIATION_BATCH if deals else cfg.COMMIT_BATCH
    tracker = _Tracker(ctx, obj, "backfill", _search_total(ctx, obj))
    buffer: list = []

    def fetch(after: str | None) -> Any:
        kwargs = {"limit": limit, "properties": cfg.PROPERTIES[obj], "archived": False}
        if after:
            kwargs["after"] = after
        if deals:
            kwargs["properties_with_history"] = cfg.DEAL_HISTORY_PROPERTIES
        return _fetch(ctx.client, api.get_page, what=f"{obj} page", **kwargs)

    for page, after in prefetched_pages(fetch, state.page_after):
        buffer.extend(page.results)
        ctx.count(obj, "fetched", len(page.results))
        if after is None or len(buffer) >= batch_size:
            write = _write_deals(ctx, buffer) if deals else _write_simple(ctx, obj, buffer)
            state = st.ObjectState(obj, "backfill" if after else "incremental", after,
                                   state.cursor_at)
            _commit(ctx, obj, write, state)
            tracker.add(len(buffer))
            buffer = []


def prefetched_pages(fetch: Callable[[str | None], Page],
                     after: str | None) -> Iterator[tuple[Page, str | None]]:
    """(page, cursor after it) in order, fetching the next page while the caller writes.

    A list's next cursor comes with each page, so one thread walks the chain ahead by at most
    two pages; an error there is raised here, in order, after the pages before it.
    """
    pages: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()

    def put(item: Any) -> None:
        while not stop.is_set():
            try:
                pages.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def walk() -> None:
        cursor = after
        try:
            while not stop.is_set():
                page = fetch(cursor)
                cursor = page.after
                put((page, cursor))
                if cursor is None:
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            put(exc)

    threading.Thread(target=walk, daemon=True, name="hubspot-prefetch").start()
    try:
        while True:
            item = pages.get()
            if isinstance(item, BaseException):
                raise item
            yield item
            if item[1] is None:
                return
    finally:
        stop.set()


def _search_page(ctx: _Ctx, obj: str, filters: list[dict], sort_by: str,
                 after: str | None = None) -> Page:
    api = ctx.client.objects[obj].search_api
    # deals are read again by id with their history (read_deals): the search only names them
    props = [cfg.MODIFIED_PROPERTY[obj]] if obj == "deals" else cfg.PROPERTIES[obj]
    body = {"filterGroups": [{"filters": filters}],
            "sorts": [{"propertyName": sort_by, "direction": "ASCENDING"}],
            "properties": props, "limit": cfg.SEARCH_PAGE_SIZE}
    if after is not None:
        body["after"] = after
    return _fetch(ctx.client, api.do_search, body, search=True, what=f"{obj} search")


def _modified_ms(obj: str, rec: Any) -> int:
    value = parse_datetime(_props(rec).get(cfg.MODIFIED_PROPERTY[obj])) or \
        parse_datetime(rec.updated_at)
    return to_ms(value)


def _apply_changes(ctx: _Ctx, obj: str, records: list, state: st.ObjectState,
                   cursor_ms: int) -> st.ObjectState:
    """Write one page of changed records and move the cursor to `cursor_ms`, atomically."""
    if obj == "deals":
        ids = [str(r.id) for r in records]
        with ThreadPoolExecutor(2, "hubspot-deal-page") as pool:  # history and links at once
            full = pool.submit(read_deals, ctx.client, ids)
            links = pool.submit(deal_associations, ctx.client, ids)
            write = _write_deals(ctx, full.result(), links.result())
    else:
        base = _write_simple(ctx, obj, records)
        if obj == "line_items":
            ids = [str(r.id) for r in records]
            links = fetch_associations(ctx.client, "line_items", "deals", ids)
            pairs = [(li, min(d, key=_id_key) if d else None) for li, d in links.items()]

            def write(conn: Connection, base=base, pairs=pairs) -> int:
                n = base(conn)
                _set_line_item_deals(conn, pairs)
                return n
            write = _with_ids(write, base.ids)
        else:
            write = base
    cursor = from_ms(cursor_ms)
    if state.cursor_at is not None and state.cursor_at > cursor:
        cursor = state.cursor_at
    new_state = st.ObjectState(obj, "incremental", None, cursor)
    _commit(ctx, obj, write, new_state)
    return new_state


def read_deals(client: HubSpotClient, ids: Sequence[str]) -> list[Record]:
    """Deals by id with their property history (batch read, 50 a request)."""
    api = client.objects["deals"].batch_api

    def read(chunk: Sequence[str]) -> list[Record]:
        body = {"inputs": [{"id": i} for i in chunk], "properties": cfg.PROPERTIES["deals"],
                "propertiesWithHistory": cfg.DEAL_HISTORY_PROPERTIES}
        return _fetch(client, api.read, body, archived=False, what="deals batch read").results
    with ThreadPoolExecutor(4, "hubspot-deals-read") as pool:  # the budget still paces them
        return [r for part in pool.map(read, list(_chunks(list(ids), cfg.HISTORY_PAGE_SIZE)))
                for r in part]


class _Changes:
    """One object's incremental read: commits pages in ascending last-modified order.

    `top` is the largest last-modified time committed and `seen` the ids committed at `top`
    (a query starting at `top` returns them again; they are skipped, not written twice).
    """

    def __init__(self, ctx: _Ctx, obj: str, state: st.ObjectState, now_ms: int):
        self.ctx, self.obj, self.state = ctx, obj, state
        self.prop = cfg.MODIFIED_PROPERTY[obj]
        # records modified after `fence` may still enter the search index while this run
        # pages; the next run reads them again (its window starts LOOKBACK_MS before its cursor)
        self.fence = now_ms - cfg.LOOKBACK_MS
        self.top: int | None = None
        self.seen: set[str] = set()
        self.tracker: _Tracker | None = None

    def search(self, lo: int, hi: int, after: str | None = None) -> Page:
        page = _search_page(self.ctx, self.obj, [
            {"propertyName": self.prop, "operator": "GTE", "value": str(lo)},
            {"propertyName": self.prop, "operator": "LT", "value": str(hi)}], self.prop, after)
        if self.tracker is None:
            self.tracker = _Tracker(self.ctx, self.obj, "incremental", page.total)
        return page

    def commit(self, records: list, at_ms: int | None = None) -> None:
        """Write `records` (ascending) and move the cursor to the last one's time (or `at_ms`)."""
        fresh = [r for r in records
                 if not (_modified_ms(self.obj, r) == self.top and str(r.id) in self.seen)]
        if not fresh:
            return
        top = at_ms if at_ms is not None else max(_modified_ms(self.obj, r) for r in fresh)
        self.ctx.count(self.obj, "fetched", len(fresh))
        self.state = _apply_changes(self.ctx, self.obj, fresh, self.state, top)
        if self.tracker is not None:
            self.tracker.add(len(fresh))
        if top != self.top:
            self.top, self.seen = top, set()
        self.seen |= {str(r.id) for r in fresh if _modified_ms(self.obj, r) == top}


def _incremental(ctx: _Ctx, obj: str, state: st.ObjectState) -> None:
    """Every record modified from the cursor minus LOOKBACK_MS until now, in one window of
    searches, split into narrower windows where a window holds more than HubSpot returns."""
    lo = max(0, to_ms(state.cursor_at) - cfg.LOOKBACK_MS)
    hi = to_ms(dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)) + 1
    _read_window(_Changes(ctx, obj, state, hi), lo, hi)


def _read_window(run: _Changes, lo: int, hi: int) -> None:
    """Commit every record with lo <= last-modified < hi, ascending, page by page.

    The first page's `total` decides: at most SEARCH_RESULT_CAP results are paged through
    with `after`; more, and [lo, hi) is halved (from its first record's time on) and each
    half read in turn, down to a single millisecond, which is read by hs_object_id. While a
    window is paged, a record modified meanwhile leaves it and the offsets behind it shift:
    a page whose `total` differs from the first page's is not used, and the rest of the
    window is read again from the last committed time. A record can also enter a window late
    (search indexing lags), which a `total` does not show when one leaves too; that only
    happens after `run.fence`, so a window of several pages is paged in two parts, before and
    after the fence: what such a shift could skip after it, the next run reads again.
    """
    page = run.search(lo, hi)
    total = page.total or 0
    if total > cfg.SEARCH_RESULT_CAP and page.results:
        first = _modified_ms(run.obj, page.results[0])  # nothing in the window before it
        crowded = len(page.results) >= cfg.SEARCH_PAGE_SIZE and \
            _modified_ms(run.obj, page.results[-1]) == first
        log.info("hubspot %s: %d changed in [%d, %d), more than one search returns; "
                 "splitting the window", run.obj, total, lo, hi)
        if hi - first <= 1:
            _drain_millisecond(run, first)
        elif crowded:  # a page of one millisecond: that millisecond alone, then the rest
            _read_window(run, first, first + 1)
            _read_window(run, first + 1, hi)
        else:
            mid = first + (hi - first) // 2
            _read_window(run, first, mid)
            _read_window(run, mid, hi)
        return
    if page.after is not None and lo < run.fence < hi and \
            _modified_ms(run.obj, page.results[0]) < run.fence:
        _read_window(run, lo, run.fence)  # more than a page, on both sides of the fence
        _read_window(run, run.fence, hi)
        return
    # the next page is asked for while the current ones are written (its `after` is known);
    # pages already here are written together, up to COMMIT_BATCH records a transaction
    ahead = _in_background(run.search, lo, hi, page.after) if page.after is not None else None
    buffer = list(page.results)
    while ahead is not None:
        nxt = ahead.result()
        if nxt.total != page.total:  # the window changed under the offsets: re-anchor
            log.info("hubspot %s: changes moved while paging a window; reading it again "
                     "from the last committed time", run.obj)
            run.commit(buffer)
            if run.top is not None and run.top > lo:
                _read_window(run, run.top, hi)
            else:  # no progress past `lo` (pages of one millisecond): that one by id first
                _drain_millisecond(run, lo)
                _read_window(run, lo + 1, hi)
            return
        ahead = _in_background(run.search, lo, hi, nxt.after) if nxt.after is not None else None
        if len(buffer) + len(nxt.results) > cfg.COMMIT_BATCH:
            run.commit(buffer)
            buffer = []
        buffer.extend(nxt.results)
        page = nxt
    run.commit(buffer)


def _drain_millisecond(run: _Changes, ms: int) -> None:
    """Every record modified in millisecond `ms` (more than one search returns), by
    hs_object_id; the cursor stays at `ms` until they are all committed."""
    last_id = 0
    while True:
        page = _search_page(run.ctx, run.obj, [
            {"propertyName": run.prop, "operator": "EQ", "value": str(ms)},
            {"propertyName": "hs_object_id", "operator": "GT", "value": str(last_id)}],
            "hs_object_id")
        if not page.results:
            return
        run.commit(page.results, at_ms=ms)
        last_id = max(int(r.id) for r in page.results)
        if len(page.results) < cfg.SEARCH_PAGE_SIZE:
            return


# --- deletions ---------------------------------------------------------------------------

def _read_archived(ctx: _Ctx, obj: str) -> dict[str, dt.datetime | None]:
    """{id: when HubSpot archived it} for every record the archived list holds.

    The list comes by id, not by archive time, so it is read to its end every run."""
    api = ctx.client.objects[obj].basic_api
    out: dict[str, dt.datetime | None] = {}
    after = None
    while True:
        kwargs = {"limit": cfg.LIST_PAGE_SIZE, "archived": True,
                  "properties": [cfg.MODIFIED_PROPERTY[obj]]}
        if after:
            kwargs["after"] = after
        body = ctx.client.call(api.get_page, raw=True, what=f"archived {obj} page", **kwargs)
        for r in body["results"]:
            out[str(r["id"])] = parse_datetime(r.get("archivedAt") or r.get("updatedAt"))
        after = ((body.get("paging") or {}).get("next") or {}).get("after")
        if not after:
            return out


def _mark_deleted(ctx: _Ctx, obj: str, gone: dict[str, dt.datetime | None],
                  extra: Callable[[Connection, observers.Watch], None] | None = None) -> None:
    """Records HubSpot no longer holds become is_deleted (never left as live ghosts).

    `gone` maps an id to when it left HubSpot (None: unknown). A stored row modified after
    that (the record was restored) stays. `extra(conn, watch)` runs in the same transaction. The
    rows are looked up first: when none is still live (the usual run), nothing is written."""
    table, key = _table(obj), _ID_COL[obj]
    has_updated = "updated_at" in table.c
    cols = [table.c[key]] + ([table.c.updated_at] if has_updated else [])
    ids: list[str] = []
    with ctx.engine.connect() as conn:
        for chunk in _chunks(list(gone), 500):
            live = conn.execute(select(*cols).where(table.c[key].in_(chunk),
                                                    table.c.is_deleted.is_(False))).all()
            ids += [row[0] for row in live
                    if not (has_updated and row[1] is not None and gone[row[0]] is not None
                            and row[1] > gone[row[0]])]
    if not ids and extra is None:
        return
    with _WRITE_LOCK, ctx.engine.begin() as conn:
        watch = observers.watch(conn)
        n = 0
        extra_ids = getattr(extra, "ids", None) if extra is not None else []
        with watch.around(table.name, None if extra_ids is None else ids + extra_ids):
            for chunk in _chunks(ids, 500):
                n += conn.execute(table.update().where(table.c[key].in_(chunk),
                                                       table.c.is_deleted.is_(False))
                                  .values(is_deleted=True)).rowcount
                if obj == "deals":  # a deleted deal keeps its row, not its links and history
                    for t in (s.deal_stage_history, s.deal_contacts, s.deal_companies):
                        conn.execute(t.delete().where(t.c.deal_id.in_(chunk)))
                    conn.execute(s.line_items.update().where(s.line_items.c.deal_id.in_(chunk))
                                 .values(deal_id=None))
            if extra is not None:
                extra(conn, watch)
        ctx.count(obj, "deleted", n)
        st.save_counts(conn, ctx.run_id, ctx.counts)
        if n:
            _wrote(ctx, conn, watch)


def _relist_small(ctx: _Ctx, obj: str, state: st.ObjectState) -> bool:
    """An incremental run of an object that fits on one list page: one list request instead
    of a search and an archived list. The listed records are every live one, so the store's
    live rows not listed are deleted; the changed ones (modified since the cursor minus the
    lookback, what a search would return) are written. False, having written nothing, when
    the object has grown past one page (the caller then searches)."""
    table, key = _table(obj), _ID_COL[obj]
    with ctx.engine.connect() as conn:
        stored = conn.execute(select(table.c[key], table.c.is_deleted)
                              .limit(cfg.LIST_PAGE_SIZE)).all()
    if len(stored) >= cfg.LIST_PAGE_SIZE:
        return False
    page = _fetch(ctx.client, ctx.client.objects[obj].basic_api.get_page, what=f"{obj} page",
                  limit=cfg.LIST_PAGE_SIZE, properties=cfg.PROPERTIES[obj], archived=False)
    if page.after is not None:
        return False
    lo = max(0, to_ms(state.cursor_at) - cfg.LOOKBACK_MS)
    changed = [r for r in page.results if _modified_ms(obj, r) >= lo]
    listed = {str(r.id) for r in page.results}
    gone = {i: None for i, deleted in stored if not deleted and i not in listed}
    ctx.count(obj, "fetched", len(changed))
    cursor = max([state.cursor_at] + [from_ms(_modified_ms(obj, r)) for r in changed])
    new_state = st.ObjectState(obj, "incremental", None, cursor)
    write = _write_simple(ctx, obj, changed)

    def extra(conn: Connection, watch: observers.Watch) -> None:
        n = write(conn)
        ctx.count(obj, "written", n)
        st.write_state(conn, new_state)
        if n:
            _wrote(ctx, conn, watch)
    _mark_deleted(ctx, obj, gone, _with_ids(extra, write.ids))
    return True


def _sync_crm_object(ctx: _Ctx, obj: str) -> None:
    with ctx.engine.connect() as conn:
        state = st.read_state(conn, obj)
    if ctx.full or state.phase != "incremental" or state.cursor_at is None:
        _backfill(ctx, obj, state)
        _mark_deleted(ctx, obj, _read_archived(ctx, obj))
        return
    if obj in cfg.RELISTED_OBJECTS and _relist_small(ctx, obj, state):
        return
    # the archived list is read while the changes are: it waits on the ten-secondly budget,
    # the changes mostly on the search one. Marks go in after the changes, and a row
    # modified after its archiving (a restored record) keeps living.
    archived = _in_background(_read_archived, ctx, obj)
    _incremental(ctx, obj, state)
    _mark_deleted(ctx, obj, archived.result())


def _in_background(fn: Callable[..., Any], *args: Any) -> Future:
    """fn(*args) on a daemon thread (read-only work a failed run may leave behind)."""
    future: Future = Future()

    def run() -> None:
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # handed to whoever asks for the result
            future.set_exception(exc)
    threading.Thread(target=run, daemon=True, name="hubspot-background").start()
    return future


def _sync_owners(ctx: _Ctx) -> None:
    rows = []
    for archived in (False, True):
        after = None
        while True:
            kwargs = {"limit": cfg.LIST_PAGE_SIZE, "archived": archived}
            if after:
                kwargs["after"] = after
            page = ctx.client.call(ctx.client.owners_api.get_page, what="owners page", **kwargs)
            for o in page.results:
                team = (o.teams or [None])[0]
                row = {"owner_id": str(o.id), "email": o.email, "first_name": o.first_name,
                       "last_name": o.last_name, "team_id": str(team.id) if team else None,
                       "team_name": team.name if team else None, "is_archived": bool(archived),
                       "updated_at": parse_datetime(o.updated_at), "origin": cfg.CONNECTOR}
                row.update(cfg.dimensions("owners", row))
                rows.append(_fit(s.owners, row))
            nxt = getattr(page.paging, "next", None) if page.paging else None
            if nxt is None:
                break
            after = nxt.after
    ctx.count("owners", "fetched", len(rows))
    _commit(ctx, "owners", lambda conn: upsert(conn, s.owners, rows, ["owner_id"]),
            st.ObjectState("owners", "incremental", None, ctx.started))


def _sync_pipelines(ctx: _Ctx) -> None:
    resp = ctx.client.call(ctx.client.pipelines_api.get_all, "deals", what="deal pipelines")
    pipes, stages = [], []
    for p in resp.results:
        pipes.append(_fit(s.pipelines, {"pipeline_id": str(p.id), "label": p.label or str(p.id),
                                        "display_order": p.display_order or 0,
                                        "is_archived": bool(p.archived)}))
        for stg in p.stages or []:
            meta = stg.metadata or {}
            probability = _float(meta.get("probability"), 0.0)
            closed = str(meta.get("isClosed", "")).lower() == "true"
            stages.append(_fit(s.pipeline_stages, {
                "pipeline_id": str(p.id), "stage_id": str(stg.id), "label": stg.label or str(stg.id),
                "display_order": stg.display_order or 0, "probability": probability,
                "is_closed": closed, "is_won": closed and probability == 1.0}))
    ctx.count("pipelines", "fetched", len(pipes))

    def write(conn: Connection) -> int:
        ids = [p["pipeline_id"] for p in pipes]
        gone = s.pipelines.update().values(is_archived=True)
        conn.execute(gone.where(s.pipelines.c.pipeline_id.not_in(ids)) if ids else gone)
        upsert(conn, s.pipelines, pipes, ["pipeline_id"])
        upsert(conn, s.pipeline_stages, stages, ["pipeline_id", "stage_id"])
        return len(pipes) + len(stages)
    _commit(ctx, "pipelines", write, st.ObjectState("pipelines", "incremental", None, ctx.started))


def _sync_feedback(ctx: _Ctx) -> None:
    """NPS answers: every feedback submission of an NPS survey, read whole (a few per customer),
    upserted into nps_responses by submission id; stored HubSpot answers no longer listed are
    marked deleted. Without the scope HubSpot answers 403: the run notes that it skipped NPS and
    why, and goes on."""
    obj, rows, after = cfg.FEEDBACK_OBJECT, [], None
    try:
        while True:
            kwargs = {"limit": cfg.LIST_PAGE_SIZE, "properties": cfg.FEEDBACK_PROPERTIES, "archived": False}
            if after:
                kwargs["after"] = after
            page = _fetch(ctx.client, ctx.client.feedback_api.get_page, what="feedback submissions page", **kwargs)
            ctx.count(obj, "fetched", len(page.results))
            for rec in page.results:
                row = _nps_row(rec)
                if row is not None:
                    rows.append(row)
            if not page.after:
                break
            after = page.after
    except HubSpotAuthError as exc:
        if exc.status != 403:
            raise
        note = (f"NPS skipped: the HubSpot token lacks the {cfg.FEEDBACK_SCOPE} scope, so feedback submissions "
                "(survey answers) were not read. Grant it in the private app to read NPS from HubSpot, or import "
                "the answers with `cli.py import nps FILE`.")
        log.warning(note)
        ctx.notes.append(note)
        ctx.count(obj, "skipped", 1)
        return

    def write(conn: Connection) -> int:
        t = s.nps_responses
        ids = {r["response_key"] for r in rows}
        stored = set(conn.execute(select(t.c.response_key).where(t.c.origin == cfg.CONNECTOR, ~t.c.is_deleted))
                     .scalars())
        gone = sorted(stored - ids)
        for chunk in _chunks(gone, 500):
            conn.execute(t.update().where(t.c.origin == cfg.CONNECTOR, t.c.response_key.in_(list(chunk)))
                         .values(is_deleted=True))
        ctx.count(obj, "deleted", len(gone))
        upsert(conn, t, rows, ["origin", "response_key"])
        return len(rows)
    _commit(ctx, obj, write, st.ObjectState(obj, "incremental", None, ctx.started))


def _nps_row(rec: Record) -> dict | None:
    """A feedback submission as an nps_responses row; None for another survey type or no 0-10 score."""
    p = rec.properties
    if str(p.get("hs_survey_type") or "").upper() != cfg.NPS_SURVEY_TYPE:
        return None
    score = _float(p.get("hs_value"), None)
    if score is None or score != int(score) or not 0 <= score <= 10:
        return None
    at = parse_datetime(p.get("hs_submission_timestamp") or p.get("hs_createdate") or rec.created_at)
    if at is None:
        return None
    email = (p.get("hs_contact_email_rollup") or "").strip().lower() or None
    return {"origin": cfg.CONNECTOR, "response_key": rec.id, "contact_id": (p.get("hs_contact_id") or None),
            "email": email and email[:255], "submitted_at": at, "score": int(score), "is_deleted": False}


# --- the run -----------------------------------------------------------------------------

_RUN_LOCK = threading.Lock()


class SyncAlreadyRunning(HubSpotError):
    """Another sync is running in this process."""


def parse_objects(text: str | None) -> list[str]:
    """'deals,contacts' -> the named objects in sync order; None/'' -> all."""
    if not text:
        return list(cfg.OBJECTS)
    wanted = [w.strip() for w in text.split(",") if w.strip()]
    unknown = [w for w in wanted if w not in cfg.OBJECTS]
    if unknown:
        raise HubSpotError(f"Unknown object(s) {', '.join(unknown)}; choose from "
                           f"{', '.join(cfg.OBJECTS)}.")
    return [o for o in cfg.OBJECTS if o in wanted]


def sync_hubspot(engine: Engine, client: HubSpotClient, *, objects: Sequence[str] | None = None,
                 full: bool = False, progress: ProgressFn | None = None,
                 actor: str = "local admin") -> SyncResult:
    """One sync run over `objects` (all by default); recorded in sync_runs and, with `actor`,
    in the audit trail once it ends (whatever the outcome).

    Raises the client's named errors (after recording them on the run) so callers can show
    the message; a DailyLimitReached run is recorded as 'interrupted'. What follows a
    successful run (the metric rollups settled, this week's meeting snapshot) is the caller's:
    `upkeep.after_sync`.
    """
    if not _RUN_LOCK.acquire(blocking=False):
        raise SyncAlreadyRunning("A HubSpot sync is already running; wait for it to finish.")
    before = st.last_runs(engine, 1)
    try:
        return _run(engine, client, list(objects or cfg.OBJECTS), full, progress)
    finally:
        _RUN_LOCK.release()
        _audit_run(engine, actor, before[0]["run_id"] if before else 0)


def _audit_run(engine: Engine, actor: str, previous_run_id: int) -> None:
    """One audit row for the run this call made (none if it failed before starting one)."""
    runs = st.last_runs(engine, 1)
    if not runs or runs[0]["run_id"] <= previous_run_id:
        return
    run = runs[0]
    record_audit(engine, actor, "sync", "hubspot", None,
                 {"run_id": run["run_id"], "mode": run["mode"], "status": run["status"],
                  "counts": run["counts"], "error": run["error"]})


def _run_parallel(fn: Callable[[str], None], objects: list[str]) -> None:
    """fn(obj) for every object in its own thread; the first error is raised once all end."""
    errors: list[BaseException] = []

    def guarded(obj: str) -> None:
        try:
            fn(obj)
        except BaseException as exc:  # handed to the caller's thread
            errors.append(exc)
    threads = [threading.Thread(target=guarded, args=(o,), name=f"hubspot-{o}", daemon=True)
               for o in objects]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        daily = [e for e in errors if isinstance(e, DailyLimitReached)]
        raise (daily or errors)[0]


def _run(engine: Engine, client: HubSpotClient, objects: list[str], full: bool,
         progress: ProgressFn | None) -> SyncResult:
    with engine.connect() as conn:
        needs_backfill = any(st.read_state(conn, o).phase != "incremental"
                             for o in objects if o in cfg.CRM_OBJECTS)
    mode = "full" if full or needs_backfill else "incremental"
    run_id = st.start_run(engine, mode)
    ctx = _Ctx(engine, client, run_id, full, dt.datetime.now(dt.timezone.utc).replace(tzinfo=None),
               cfg.reporting_currency(), progress or (lambda p: None))
    for obj in objects:  # every key exists before any thread writes counts
        ctx.count(obj, "fetched", 0)

    def one(obj: str) -> None:
        if obj == "owners":
            _sync_owners(ctx)
        elif obj == "pipelines":
            _sync_pipelines(ctx)
        elif obj == cfg.FEEDBACK_OBJECT:
            _sync_feedback(ctx)
        else:
            _sync_crm_object(ctx, obj)
        _flush_bump(ctx)
        ctx.progress(Progress(obj, "done", ctx.counts[obj]["fetched"],
                              ctx.counts[obj]["fetched"], 0.0))
        log.info("hubspot %s: %s", obj, ctx.counts[obj])

    current = None
    try:
        if mode == "incremental":  # independent and latency-bound: all objects at once
            current = ", ".join(objects)
            _run_parallel(one, objects)
        else:  # a backfill keeps the order: deals' associations link the line items
            for obj in objects:
                current = obj
                one(obj)
    except DailyLimitReached as exc:
        _flush_quietly(ctx)
        st.finish_run(engine, run_id, "interrupted", ctx.counts, str(exc))
        raise
    except HubSpotError as exc:
        _flush_quietly(ctx)
        st.finish_run(engine, run_id, "failed", ctx.counts, f"{current}: {exc}")
        raise
    except BaseException as exc:
        reason = "stopped by the user" if isinstance(exc, KeyboardInterrupt) else \
            f"unexpected {type(exc).__name__} while syncing {current}"
        _flush_quietly(ctx)
        st.finish_run(engine, run_id, "interrupted" if isinstance(exc, KeyboardInterrupt)
                      else "failed", ctx.counts, reason)
        raise
    _flush_bump(ctx)
    st.finish_run(engine, run_id, "success", ctx.counts, "; ".join(ctx.notes) or None)
    return SyncResult(run_id, "success", ctx.counts, notes=list(ctx.notes))
