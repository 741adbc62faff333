"""Keeping the monthly rollups (metrics/rollups.py reads them): building, keeping them exact
through a write, folding and rebuilding them in the background.

- `refresh` rebuilds the stale groups (all with `force`) from their source tables; a build reads
  the data first and writes the summaries in one short transaction, so it never holds the
  store's write lock while it scans. Imports, the demo and `python cli.py rollups` call it.
- `Keeper` keeps fresh CRM rollups exact through a write transaction (the HubSpot sync, a
  HubSpot CSV import): what the changed rows contributed is subtracted and what they contribute
  now is added, in the write's own transaction; `settle` rebuilds what is stale or folds
  (`compact`) what a Keeper grew once the write ends.
- `refresh_soon` lets a long-running app rebuild stale rollups in the background once writes
  pause (after a definitions edit, or a write by another tool); `refresh_quietly` and
  `refresh_in_background` never fail the write they follow.

Region, product line, the SLA and the stages are applied when building, with the same rules
the base queries use.
"""
from __future__ import annotations

import datetime as dt
import pickle
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from sqlalchemy import Connection, Engine, delete, func, select, update

from store import schema as s
from store.db import get_meta, set_meta, shrink_wal, upsert, utcnow

from . import dimensions, nps, recurring, rollup_days, rollup_forecast, sql
from .definitions import load_definitions
from .registry import Ctx
from .rollups import (ACCOUNT_SLICES, CAMPAIGN_ROLES, GROUPS, INVOICE_DIMS, INVOICES, LEDGER, NAME, NPS, ROLES,
                      SOURCES, _campaigns_query, _contact_campaigns_query, _contacts_query, _deals_query,
                      _invoice_accounts_query, _invoice_dims_query, _invoice_month_query, _ledger_month_query,
                      RECENT_FROM, fingerprint, is_fresh, recent_from, recent_start, state)

_BATCH = 5_000
_lock = threading.Lock()

d, c = s.deals, s.contacts

# --- building ----------------------------------------------------------------------------------

def _today() -> dt.date:
    """The day a build counts as recent from (rollups.recent_from); tests pin it."""
    return utcnow().date()


def _recent_queries(ctx: Ctx, since: dt.date, where=(), sign: int = 1, deleted=c.c.is_deleted,
                    lines_as=None) -> list:
    """(table, query) pairs of the campaign contacts by day from `since` on (the funnel's are in
    rollup_days.build_queries)."""
    return [(s.rollup_recent_contact_campaigns,
             _contact_campaigns_query(ctx, role, [*where, sql.reached_at(ctx, sql.stage_of(ctx, role)) >= sql.day_start(since)],
                                      sign, deleted=deleted, by_day=True, lines_as=lines_as))
            for role in CAMPAIGN_ROLES]


def _recent_deal_queries(ctx: Ctx, since: dt.date, where=(), sign: int = 1) -> list:
    """(table, query) pairs of the deals and the deals by campaign by close day from `since` on."""
    where = [*where, d.c.close_date >= since]
    return [(s.rollup_recent_deals, _deals_query(ctx, where, sign, by_day=True)),
            (s.rollup_recent_deal_campaigns, _campaigns_query(ctx, where, sign, by_day=True))]


def _queries(ctx: Ctx, group: str, since: dt.date | None = None) -> list:
    """(table, query) pairs filling a group's rollups (the CRM group's recent days from `since`)."""
    if group == LEDGER:
        return [(s.rollup_ledger_months, _ledger_month_query(ctx)), (s.rollup_ledger_days, _ledger_month_query(ctx, grain="day"))]
    if group == NPS:
        return [(s.rollup_nps_months, nps.build_query(ctx))]
    if group == INVOICE_DIMS:
        return [(s.rollup_invoice_dims, _invoice_dims_query(ctx)),
                (s.rollup_invoice_dim_days, _invoice_dims_query(ctx, grain="day"))]
    if group == ACCOUNT_SLICES:
        return [(s.rollup_invoice_account_slices, _invoice_accounts_query(ctx, grain="day", sliced=True))]
    if group == INVOICES:
        return [(s.rollup_invoice_months, _invoice_month_query(ctx)),
                (s.rollup_invoice_accounts, _invoice_accounts_query(ctx)),
                (s.rollup_invoice_days, _invoice_month_query(ctx, grain="day")),
                (s.rollup_invoice_account_days, _invoice_accounts_query(ctx, grain="day"))]
    return ([(s.rollup_deals, _deals_query(ctx)), (s.rollup_deal_campaigns, _campaigns_query(ctx))]
            + [(s.rollup_contacts, _contacts_query(ctx, role)) for role in ROLES]
            + [(s.rollup_contact_days, _contacts_query(ctx, role, by_day=True)) for role in ROLES]
            + [(s.rollup_contact_campaigns, _contact_campaigns_query(ctx, role)) for role in CAMPAIGN_ROLES]
            + _recent_queries(ctx, since) + _recent_deal_queries(ctx, since)
            + rollup_days.build_queries(ctx, [], [], recent_from=since) + rollup_forecast.build_queries(ctx, []))


@dataclass(frozen=True)
class Built:
    rows: int
    seconds: float
    version: int


def refresh(engine: Engine, force: bool = False) -> dict[str, Built]:
    """Rebuild the stale rollup groups (all with `force`); returns what was built, by group.

    The data version is read before the data, so a write that lands during the build leaves the
    rollups marked stale (never fresh with data they lack). One builder at a time per process.
    """
    built = {}
    with _lock:
        for group in GROUPS:
            result = _refresh_group(engine, group, force)
            if result is not None:
                built[group] = result
        mrr = recurring.refresh(engine, force)  # the per-customer MRR summary (metrics/recurring.py)
        if mrr is not None:
            built[recurring.GROUP] = Built(mrr.rows, mrr.seconds, mrr.version)
    return built


def _refresh_group(engine: Engine, group: str, force: bool) -> Built | None:
    with tempfile.TemporaryFile() as spool:
        return _build_group(engine, group, force, spool)


def _build_group(engine: Engine, group: str, force: bool, spool) -> Built | None:
    t0 = time.perf_counter()
    with engine.connect() as conn:
        defs = load_definitions(conn)
        if not force and is_fresh(conn, defs, group):
            return None
        version = int(get_meta(conn, "data_version", "0"))
        ctx = Ctx(conn, defs)
        since = recent_from(_today()) if group == NAME else None
        if group == NAME:  # every contact's product lines read once, not by every contact query
            dimensions.stage_contact_lines(ctx)
        # The rows read go to a temporary file a batch at a time and are written back from it in
        # the write transaction: memory stays one batch, however big the summaries (the
        # day-resolution ones grow with the data), and the long read holds no write lock.
        counts: list[tuple] = []
        for table, query in _queries(ctx, group, since):
            n = 0
            result = conn.execute(query, execution_options={"stream_results": True, "yield_per": _BATCH})
            for part in result.partitions(_BATCH):
                pickle.dump([tuple(row) for row in part], spool, protocol=pickle.HIGHEST_PROTOCOL)
                n += len(part)
            counts.append((table, n))
        conn.rollback()
    total = sum(n for _, n in counts)
    spool.seek(0)
    with engine.begin() as conn:
        for table in GROUPS[group][1]:
            conn.execute(delete(table))
        for table, n in counts:
            names = [col.name for col in table.columns]
            while n > 0:
                rows = pickle.load(spool)  # our own file, written above
                n -= len(rows)
                conn.execute(table.insert(), [dict(zip(names, row)) for row in rows])
        if since is not None:
            set_meta(conn, RECENT_FROM, since.isoformat())
        seconds = time.perf_counter() - t0
        upsert(conn, s.rollup_state, [{"name": group, "built_version": version, "defs_fingerprint": fingerprint(defs),
                                       "built_at": utcnow(), "rows": total, "seconds": round(seconds, 3)}], ["name"])
    return Built(total, seconds, version)


# --- keeping them exact through a write (a sync, a HubSpot CSV import) ------------------------

class Keeper:
    """Keeps fresh CRM rollups exact through one write transaction, so a sync's pages do not send
    every reader back to the base tables.

        keeper = Keeper(conn)
        with keeper.around("deals", ids):          # the rows of `ids` are about to change
            upsert(conn, s.deals, rows, ["deal_id"])
        version = bump_data_version(conn, "deals")
        keeper.publish(version)                    # still exact at this version

    `around` subtracts what the rows contributed before the write and adds what they contribute
    after it (rows of opposite sign; `compact` and `refresh` fold them), in the CRM rollups and in
    the invoices by their deal's dimensions (rollup_invoice_dims, while that group is fresh too). A write the keeper cannot
    follow (line items when product lines come from line items) marks the rollups stale at once,
    in the same transaction. Rollups already stale are left alone (a full `refresh` follows).
    """

    def __init__(self, conn: Connection):
        """Make it at the start of the transaction, before any write or bump: it notes whether
        the rollups are fresh then."""
        self.conn = conn
        self.ctx = Ctx(conn, load_definitions(conn))
        self.active = is_fresh(conn, self.ctx.defs, NAME)
        self.since = recent_start(conn) if self.active else None  # the recent days' first
        # the invoices by their deal's dimensions are kept too, while both groups are fresh
        self.dims_active = self.active and is_fresh(conn, self.ctx.defs, INVOICE_DIMS)

    def _scope(self, table: str, ids: list) -> tuple[list | None, list | None] | None:
        """(deal conditions, contact conditions) of the rows a write to `table` can move; None when
        the keeper cannot follow it; ([], []) when it moves none."""
        defs = self.ctx.defs
        if table == "deals":
            return [d.c.deal_id.in_(ids)], None
        if table == "contacts":  # a contact's source and campaign are its deals' too
            return [d.c.contact_id.in_(ids)], [c.c.contact_id.in_(ids)]
        if table == "companies" and defs.get("dimensions.region_from") == "company":
            return [d.c.company_id.in_(ids)], None
        if table == "owners" and defs.get("dimensions.region_from") == "owner":
            return [d.c.owner_id.in_(ids)], None
        if table in ("line_items", "products") and defs.get("dimensions.product_line_from") == "line_items":
            return None
        return [], []

    @contextmanager
    def around(self, table: str, ids) -> Iterator[None]:
        """Around a write of the rows of `table` with these ids (None: rows unknown)."""
        if ids is None:  # unknown rows: fine for a table no rollup depends on, else stale
            scope = self._scope(table, []) if self.active else ([], [])
            if scope is None or scope[0] or scope[1]:
                self.stale()
            yield
            return
        ids = list(ids)
        scope = self._scope(table, ids) if self.active and ids else ([], [])
        if scope is None:
            self.stale()
            yield
            return
        deal_where, contact_where = scope
        for chunk in _chunks(ids, 500) if (deal_where or contact_where) else []:
            self._apply(table, chunk, -1)
        with self._deal_lines(table, ids):
            yield
        for chunk in _chunks(ids, 500) if (deal_where or contact_where) else []:
            self._apply(table, chunk, +1)

    @contextmanager
    def around_query(self, table: str, ids_query) -> Iterator[None]:
        """`around`, for the rows of `table` whose ids `ids_query` gives (a SELECT of one column,
        over rows the write leaves alone, e.g. a temporary table): one pass each way, however
        many rows (the rewound store of a frozen meeting snapshot, meeting/snapshots.py)."""
        scope = self._scope(table, ids_query) if self.active else ([], [])
        if scope is None:
            self.stale()
            yield
            return
        moves = bool(scope[0] or scope[1])
        if moves:
            self._apply(table, ids_query, -1)
        with self._deal_lines(table, ids_query):
            yield
        if moves:
            self._apply(table, ids_query, +1)

    @contextmanager
    def _deal_lines(self, table: str, ids) -> Iterator[None]:
        """Around a write of the deals `ids` (a list or a SELECT): the contact rollups' rows of the
        contacts whose product lines (deal_lines) the write changes, moved from their old lines
        to their new ones. Those contacts are the deals' primary contacts before the write and
        after it; a contact's lines before it are read then, or, for a contact the write gave
        one of these deals, after it without those deals. The common write (amounts, stages)
        changes no contact's lines and costs two lookups."""
        if table != "deals" or not self.active or (isinstance(ids, list) and not ids):
            yield
            return
        before = self._lines_of(self._contacts_of(ids))
        yield
        now = self._lines_of(sorted(set(before) | set(self._contacts_of(ids))))
        before.update(self._lines_of(sorted(set(now) - set(before)), without=ids))
        moved = {k: v for k, v in now.items() if before.get(k) != v}
        by_old: dict[str, list] = {}
        for contact_id in sorted(moved):
            by_old.setdefault(before[contact_id], []).append(contact_id)
        for old, contact_ids in by_old.items():
            self._contact_lines(contact_ids, -1, lines_as=old)
        self._contact_lines(sorted(moved), +1)

    def _contacts_of(self, ids) -> list:
        """The primary contacts of the deals `ids` (a list or a SELECT), now."""
        out: set = set()
        for chunk in (_chunks(ids, 5000) if isinstance(ids, list) else [ids]):
            out.update(self.conn.execute(select(d.c.contact_id).where(d.c.deal_id.in_(chunk), d.c.contact_id.isnot(None))
                                         .distinct()).scalars())
        return sorted(out)

    def _lines_of(self, contact_ids: list, without=None) -> dict:
        """{contact: its deal_lines now (without the deals `without`)} of the live contacts among these."""
        out: dict = {}
        lines = dimensions.contact_deal_lines(self.ctx, c, without)
        for chunk in _chunks(contact_ids, 5000):
            out.update(self.conn.execute(select(c.c.contact_id, lines).where(c.c.contact_id.in_(chunk))).all())
        return out

    def _contact_lines(self, contact_ids: list, sign: int, lines_as: str | None = None) -> None:
        """Every contact rollup's rows of these contacts, counted `sign` (with their product
        lines `lines_as` when given, else their own)."""
        for chunk in _chunks(contact_ids, 5000):
            self._run(self._contact_queries([c.c.contact_id.in_(chunk)], sign, lines_as))

    def _apply(self, table: str, ids: list, sign: int) -> None:
        deal_where, contact_where = self._scope(table, ids)
        queries = []
        if deal_where:
            queries += [(s.rollup_deals, _deals_query(self.ctx, deal_where, sign)),
                        (s.rollup_deal_campaigns, _campaigns_query(self.ctx, deal_where, sign))]
            if self.since is not None:
                queries += _recent_deal_queries(self.ctx, self.since, deal_where, sign)
        if contact_where:
            queries += self._contact_queries(contact_where, sign)
        queries += rollup_days.build_queries(self.ctx, deal_where or None, None, sign)
        queries += rollup_forecast.build_queries(self.ctx, deal_where or None, sign)
        invoices = self._invoice_scope(table, ids) if self.dims_active else None
        if invoices is not None:
            queries += [(table, _invoice_dims_query(self.ctx, lambda _col: [invoices], sign, grain=grain))
                        for table, grain in ((s.rollup_invoice_dims, "month"), (s.rollup_invoice_dim_days, "day"))]
        self._run(queries)

    def _run(self, queries: list) -> None:
        for target, query in queries:
            self.conn.execute(target.insert().from_select([col.name for col in target.columns], query))

    def _contact_queries(self, contact_where: list, sign: int, lines_as=None) -> list:
        """(table, query) pairs of every contact rollup's rows of the contacts `contact_where`
        selects, counted `sign` (their deal_lines `lines_as`, when given)."""
        # the contacts' deleted flag wrapped so that no index serves it: left indexable, SQLite
        # reads every contact through the funnel's covering index (which starts with it) instead
        # of looking up the few contacts of `ids` (0.1-0.7 s a query on a 100k-deal store)
        deleted, ctx, as_ = dimensions.broad(c.c.is_deleted), self.ctx, lines_as
        queries = [(s.rollup_contacts, _contacts_query(ctx, role, contact_where, sign, deleted=deleted,
                                                       lines_as=as_)) for role in ROLES]
        queries += [(s.rollup_contact_days, _contacts_query(ctx, role, contact_where, sign, deleted=deleted, by_day=True,
                                                            lines_as=as_)) for role in ROLES]
        queries += [(s.rollup_contact_campaigns, _contact_campaigns_query(ctx, role, contact_where, sign, deleted=deleted,
                                                                          lines_as=as_))
                    for role in CAMPAIGN_ROLES]
        if self.since is not None:
            queries += _recent_queries(ctx, self.since, contact_where, sign, deleted, as_)
        return queries + rollup_days.build_queries(ctx, None, contact_where, sign, self.since, deleted, as_)

    @staticmethod
    def _invoice_scope(table: str, ids: list):
        """The condition on the invoices whose deal's dimensions a write to `table` can move (a
        contact's write moves none: a deal's region, product line, owner, pipeline and source are
        its own, its company's or its owner's)."""
        inv, kd = s.invoices, s.deals.alias("kept_deals")
        if table == "deals":
            return inv.c.deal_id.in_(ids)
        if table in ("companies", "owners"):
            col = kd.c.company_id if table == "companies" else kd.c.owner_id
            return inv.c.deal_id.in_(select(kd.c.deal_id).where(col.in_(ids)))
        return None

    def _groups(self) -> list[str]:
        return [NAME, INVOICE_DIMS] if self.dims_active else [NAME]

    def stale(self) -> None:
        """The rollups no longer match the data: say so now, in this transaction."""
        self.conn.execute(update(s.rollup_state).where(s.rollup_state.c.name.in_(self._groups()))
                          .values(built_version=-1))
        self.active = self.dims_active = False

    def publish(self, version: int) -> None:
        """After this transaction's data-version bump: the rollups are exact at `version`."""
        if self.active:
            self.conn.execute(update(s.rollup_state).where(s.rollup_state.c.name.in_(self._groups()))
                              .values(built_version=version))


def _chunks(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def compact(engine: Engine, group: str = NAME) -> int:
    """Fold the rows a Keeper added (opposite signs for one key) into one row per key; returns
    the rows left. The sums read are the same before and after."""
    with _lock, engine.begin() as conn:
        total = 0
        for table in GROUPS[group][1]:
            values = [col for col in table.columns if col.name in _SUMMED]
            keys = [col for col in table.columns if col.name not in _SUMMED]
            rows = [dict(r) for r in conn.execute(
                select(*keys, *[func.sum(v).label(v.name) for v in values]).group_by(*keys)).mappings()]
            rows = [r for r in rows if any(r[v.name] for v in values)]  # a key whose rows cancel out is gone
            conn.execute(delete(table))
            for i in range(0, len(rows), _BATCH):
                conn.execute(table.insert(), rows[i:i + _BATCH])
            total += len(rows)
        conn.execute(update(s.rollup_state).where(s.rollup_state.c.name == group).values(rows=total))
    return total


_SUMMED = {"n", "amount_cents", "cycle_days_sum", "cycle_days_n", "reached_mql", "reached_sql",
           "reached_opportunity", "reached_customer", "followed_up_in_sla", "cents"}


RECENT_TABLES = (s.rollup_recent_funnel_days, s.rollup_recent_contact_campaigns, s.rollup_recent_deals,
                 s.rollup_recent_deal_campaigns)


def trim_recent(engine: Engine, today: dt.date | None = None) -> int:
    """Drop the recent days' rows older than a build today would keep (rollups.recent_from), so
    the rollup_recent_* tables hold about two months however long the rollups go without a rebuild
    (a Keeper adds every new day's rows); returns the rows dropped. The days they held are read
    from the contacts and deals again: slower, never different."""
    since = recent_from(today or _today())
    with _lock, engine.begin() as conn:
        start = recent_start(conn)
        if start is None or start >= since:
            return 0
        dropped = 0
        for table in RECENT_TABLES:
            dropped += conn.execute(delete(table).where(table.c.day < since.isoformat())).rowcount or 0
        set_meta(conn, RECENT_FROM, since.isoformat())
        conn.execute(update(s.rollup_state).where(s.rollup_state.c.name == NAME)
                     .values(rows=s.rollup_state.c.rows - dropped))
    return dropped


def settle(engine: Engine, log=None) -> dict[str, Built]:
    """After a sync or an import: rebuild what is stale, fold what a Keeper grew (once the rows
    reach twice what the last build or fold left), drop the recent days' rows a new month left
    behind (`trim_recent`)."""
    built = refresh_quietly(engine, log)
    if NAME not in built:
        try:
            trim_recent(engine)
        except Exception as exc:  # noqa: BLE001 - the write it follows has committed; do not fail it
            if log is not None:
                log.warning("recent rollup days not trimmed (%s: %s)", type(exc).__name__, exc)
    for group in (NAME, INVOICE_DIMS):  # the groups a Keeper grows
        if group in built:
            continue
        with engine.connect() as conn:
            st = state(conn, group)
            rows = sum(conn.execute(select(func.count()).select_from(t)).scalar_one() for t in GROUPS[group][1])
        if st and rows > 2 * max(st["rows"], 1000):
            compact(engine, group)
    return built


def refresh_quietly(engine: Engine, log=None) -> dict[str, Built]:
    """`refresh`, for callers whose own work is done: a failure is logged, never raised (the
    metrics then read the base tables, which is slower but exact). A rebuild is a big write: the
    write-ahead log is folded into the store and truncated after it."""
    try:
        built = refresh(engine)
        if built:
            shrink_wal(engine)
        return built
    except Exception as exc:  # noqa: BLE001 - the write it follows has committed; do not fail it
        if log is not None:
            log.warning("metric rollups not rebuilt (%s: %s); metrics read the base tables until "
                        "`python cli.py rollups` succeeds", type(exc).__name__, exc)
        return {}


def refresh_in_background(engine: Engine, log=None) -> bool:
    """Start a rebuild in a daemon thread unless one is running; True if started."""
    if _lock.locked():
        return False
    threading.Thread(target=refresh_quietly, args=(engine, log), name="rollups", daemon=True).start()
    return True


_checked: dict[str, int] = {}  # engine URL -> the data version last found fresh (or being rebuilt)
QUIET_SECONDS = 30  # a store still being written to (a sync in progress) is left alone


def refresh_soon(engine: Engine, log=None, now: dt.datetime | None = None) -> bool:
    """For a long-running app: once per data version, rebuild stale rollups in the background
    (after an edit made in the app, or a write by a process that did not rebuild them), once the
    store has had no write for QUIET_SECONDS (a sync moves the data version every few seconds
    and rebuilds them itself when it ends). Until a rebuild commits, the metrics read the base
    tables. True if a rebuild was started."""
    key = str(engine.url)
    with engine.connect() as conn:
        version = int(get_meta(conn, "data_version", "0"))
        if _checked.get(key) == version:
            return False
        defs = load_definitions(conn)
        stale = [g for g in GROUPS if not is_fresh(conn, defs, g)] + ([] if recurring.is_fresh(conn, defs)
                                                                     else [recurring.GROUP])
        changed_at = get_meta(conn, "data_changed_at")
    if not stale:
        _checked[key] = version
        return False
    now = now or utcnow()
    if changed_at and (now - dt.datetime.fromisoformat(changed_at)).total_seconds() < QUIET_SECONDS:
        return False  # still being written to: ask again on a later page run
    started = refresh_in_background(engine, log)
    if started:
        _checked[key] = version
    return started


__all__ = ["GROUPS", "NAME", "SOURCES", "Built", "Keeper", "QUIET_SECONDS", "compact", "refresh", "refresh_in_background",
           "refresh_quietly", "refresh_soon", "settle", "state", "trim_recent"]
