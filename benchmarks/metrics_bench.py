#!/usr/bin/env python3
"""Metric layer speed: each page's full metric set (metrics.pages.PAGE_METRICS), cold and warm,
against the same figures computed by DuckDB over the same tables in the same run.

    .venv/bin/python benchmarks/metrics_bench.py                      # data/bench/northstar-1M.db
    .venv/bin/python benchmarks/metrics_bench.py --db /tmp/medium.db  # any SQLite store
    .venv/bin/python benchmarks/metrics_bench.py --url postgresql+psycopg://postgres@127.0.0.1/big  # PostgreSQL

The metrics read the monthly rollups (metrics/rollups.py) for whole months; the bench first
rebuilds them if they are stale and prints how long that took (a sync or an import pays it once
per change). It also times each page set on the base tables alone (rollups off), for reference.

cold: the first `compute_many` of the page after opening the store (fresh process, so nothing
of ours is cached; the OS file cache is whatever it is). warm: the median of 5 more runs. The
DuckDB reference copies the tables it needs into an in-memory DuckDB first (not timed), then
times the reference queries of each page (cold = first, warm = median of 5). Prints the ratio
ours / DuckDB and the peak RSS of this process. Targets (issue 4): warm <= 100 ms per page
set, no slower than DuckDB, peak <= 1 GB.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_DB = ROOT / "data" / "bench" / "northstar-1M.db"
AS_OF = dt.date(2026, 11, 23)  # the benchmark store's as-of date (benchmarks/demo_bench.py)
WARM_RUNS = 5

# The reference: the aggregates each page's metrics need, written directly for DuckDB.
# Stage sets and probabilities are resolved in Python from the same definitions and passed in.
_CLOSED = """SELECT count(*) FILTER (WHERE won), count(*) FILTER (WHERE lost),
  sum(amount) FILTER (WHERE won), avg(days) FILTER (WHERE won), median(days) FILTER (WHERE won)
FROM (SELECT {won} AS won, {lost} AS lost, {amount} AS amount,
             date_diff('second', created_at, CAST(close_date AS TIMESTAMP)) / 86400.0 AS days
      FROM deals WHERE NOT is_deleted AND close_date BETWEEN $start AND $end)"""
_OPEN = """SELECT count(*), sum({amount}), sum({amount} * {prob}) FROM deals
WHERE NOT is_deleted AND NOT ({won}) AND NOT ({lost}) AND close_date BETWEEN $start AND $end"""
_MKT = """SELECT sum({amount}) FROM deals d LEFT JOIN contacts c ON c.contact_id = d.contact_id
WHERE NOT d.is_deleted AND {won_d} AND d.close_date BETWEEN $start AND $end
  AND coalesce(nullif(d.deal_source, ''), c.original_source) IN ({mkt})"""
_FUNNEL = """SELECT {counts} FROM contacts WHERE NOT is_deleted"""
_FOLLOW = """SELECT count(*), count(*) FILTER (WHERE first_sales_touch_at IS NOT NULL
   AND date_diff('second', m, first_sales_touch_at) / 3600.0 <= {sla})
FROM (SELECT *, coalesce(became_mql_at, became_sql_at, became_opportunity_at, became_customer_at) AS m
      FROM contacts WHERE NOT is_deleted)
WHERE m >= CAST($start AS TIMESTAMP) AND m < CAST($end AS TIMESTAMP) + INTERVAL 1 DAY
  AND m <= CAST($now AS TIMESTAMP) - INTERVAL {sla} HOUR"""
_SPEND = """SELECT sum({amount}) FROM marketing_spend WHERE spend_date BETWEEN $start AND $end"""
_CAMPAIGN = """SELECT s.campaign, s.spend, coalesce(r.revenue, 0) FROM
 (SELECT campaign, sum({spend_amount}) AS spend FROM marketing_spend
  WHERE spend_date BETWEEN $start AND $end AND coalesce(campaign, '') <> '' GROUP BY campaign) s
 LEFT JOIN (SELECT c.campaign, sum({amount}) AS revenue FROM deals d JOIN contacts c ON c.contact_id = d.contact_id
  WHERE NOT d.is_deleted AND {won_d} AND d.close_date BETWEEN $start AND $end GROUP BY c.campaign) r
 ON r.campaign = s.campaign"""
_BUDGET = """SELECT sum(value) FROM budgets WHERE metric = 'target_revenue' AND region = '' AND product_line = ''
 AND month BETWEEN date_trunc('month', CAST($start AS DATE)) AND $end"""
_INVOICES = """SELECT sum(CASE WHEN is_credit_note THEN -abs(amount_excl_tax_cents) ELSE amount_excl_tax_cents END)
 FROM invoices WHERE issue_date BETWEEN $start AND $end AND status NOT IN ('draft', 'void')"""
_CASH = """SELECT sum(amount_excl_tax_cents + tax_cents) FROM invoices WHERE paid_date BETWEEN $start AND $end"""
_LEDGER = """SELECT sum(credit_cents - debit_cents) FILTER (WHERE compte_num LIKE '70%'),
 sum(debit_cents - credit_cents) FILTER (WHERE compte_num LIKE '623%')
 FROM ledger_entries WHERE ecriture_date BETWEEN $start AND $end"""

PAGE_QUERIES = {
    "ceo": ("closed", "open", "mkt", "funnel", "spend", "budget", "invoices", "cash", "ledger"),
    "marketing": ("funnel", "spend", "mkt", "closed", "campaign", "follow"),
    "sales": ("closed", "open", "budget", "funnel", "follow"),
    "finance": ("invoices", "cash", "ledger", "closed", "spend", "funnel", "budget"),
}
TABLE_COLUMNS = {
    "deals": "deal_id, amount_cents, currency, pipeline_id, stage_id, created_at, close_date, owner_id, contact_id, "
             "product_line, region, deal_source, is_deleted",
    "contacts": "contact_id, region, owner_id, original_source, campaign, became_lead_at, became_mql_at, "
                "became_sql_at, became_opportunity_at, became_customer_at, first_sales_touch_at, is_deleted",
    "marketing_spend": "spend_date, channel, campaign, region, product_line, amount_cents, currency",
    "budgets": "month, region, product_line, metric, value",
    "invoices": "issue_date, paid_date, amount_excl_tax_cents, tax_cents, status, is_credit_note, deal_id",
    "ledger_entries": "ecriture_date, compte_num, debit_cents, credit_cents",
}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn) -> tuple[float, list[float]]:
    """(cold seconds, warm seconds x WARM_RUNS)."""
    t0 = time.perf_counter()
    fn()
    cold = time.perf_counter() - t0
    warm = []
    for _ in range(WARM_RUNS):
        t0 = time.perf_counter()
        fn()
        warm.append(time.perf_counter() - t0)
    return cold, warm


def load_duckdb(engine):
    """Copy the tables the reference reads from the store (SQLite or PostgreSQL) into an in-memory DuckDB."""
    import duckdb
    import pandas as pd
    from sqlalchemy import text
    duck = duckdb.connect()
    src = engine.connect()
    dates = {"created_at", "close_date", "became_lead_at", "became_mql_at", "became_sql_at", "became_opportunity_at",
             "became_customer_at", "first_sales_touch_at", "spend_date", "month", "issue_date", "paid_date",
             "ecriture_date"}
    for table, cols in TABLE_COLUMNS.items():
        names = [c.strip() for c in cols.split(",")]
        first = True
        for df in pd.read_sql_query(text(f"SELECT {cols} FROM {table}"), src, chunksize=250_000):  # bounded memory
            for col in names:
                if col in dates:
                    df[col] = pd.to_datetime(df[col], errors="coerce", format="mixed")
                if col.startswith("is_"):
                    df[col] = df[col].astype(bool)
            duck.register("df_in", df)
            duck.execute(f"CREATE TABLE {table} AS SELECT * FROM df_in" if first else f"INSERT INTO {table} SELECT * FROM df_in")
            duck.unregister("df_in")
            first = False
        if first:
            raise SystemExit(f"error: table {table} is empty; the DuckDB reference needs a demo store "
                             "(python cli.py demo --scale medium)")
    src.close()
    return duck


def missing_indexes(engine) -> list:
    """Indexes store/schema.py declares on the tables the metrics read that the store does not have."""
    from store import schema as s
    # by name from the catalog: reflection skips expression indexes (ix_contacts_mql_reached)
    query = ("SELECT name FROM sqlite_master WHERE type = 'index'" if engine.dialect.name == "sqlite" else
             "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")
    with engine.connect() as conn:
        have = {name for (name,) in conn.exec_driver_sql(query)}
    out = []
    for name in ("deals", "contacts", "marketing_spend", "invoices", "ledger_entries", "budgets"):
        out += [ix for ix in s.metadata.tables[name].indexes if ix.name not in have]
    return out


def reference_queries(defs, rules) -> dict[str, str]:
    """The DuckDB SQL of each reference aggregate, with the definitions' rules written in."""
    def stage_in(sets: dict, prefix: str = "") -> str:
        parts = [f"({prefix}pipeline_id = '{p}' AND {prefix}stage_id IN ({', '.join(repr(x) for x in sorted(st))}))"
                 for p, st in sorted(sets.items()) if st]
        return "(" + (" OR ".join(parts) or "false") + ")"

    def amount(prefix: str = "", col: str = "amount_cents") -> str:
        cases = " ".join(f"WHEN '{cur}' THEN {rate}" for cur, rate in sorted(defs.fx.items()))
        return f"({prefix}{col} * CASE upper({prefix}currency) {cases} ELSE NULL END / 100.0)"

    prob = "CASE " + " ".join(f"WHEN pipeline_id = '{p}' AND stage_id = '{st}' THEN {v}"
                              for (p, st), v in sorted(rules.probability.items())) + " ELSE 0.0 END"
    cols = ["became_lead_at", "became_mql_at", "became_sql_at", "became_opportunity_at", "became_customer_at"]
    counts = []
    for i in range(len(cols)):
        at = f"coalesce({', '.join(cols[i:])})" if i < len(cols) - 1 else cols[i]
        counts.append(f"count(*) FILTER (WHERE {at} >= CAST($start AS TIMESTAMP) "
                      f"AND {at} < CAST($end AS TIMESTAMP) + INTERVAL 1 DAY)")
    mkt = ", ".join(f"'{x}'" for x in defs.marketing_sources)
    won, lost = stage_in(rules.won), stage_in(rules.lost)
    return {
        "closed": _CLOSED.format(won=won, lost=lost, amount=amount()),
        "open": _OPEN.format(won=won, lost=lost, amount=amount(), prob=prob),
        "mkt": _MKT.format(won_d=stage_in(rules.won, "d."), amount=amount("d."), mkt=mkt),
        "funnel": _FUNNEL.format(counts=", ".join(counts)),
        "follow": _FOLLOW.format(sla=int(defs.follow_up_sla_hours)),
        "spend": _SPEND.format(amount=amount()),
        "campaign": _CAMPAIGN.format(spend_amount=amount(), amount=amount("d."), won_d=stage_in(rules.won, "d.")),
        "budget": _BUDGET, "invoices": _INVOICES, "cash": _CASH, "ledger": _LEDGER,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, default=DEFAULT_DB, help="SQLite store to read (default: the 1M demo store)")
    ap.add_argument("--url", help="any store URL instead of --db, e.g. postgresql+psycopg://postgres@127.0.0.1/big1m")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--skip-base", action="store_true",
                    help="skip timing the page sets on the base tables alone (on the 1M store the recurring-revenue "
                         "figures from the invoices take minutes per run)")
    ap.add_argument("--ensure-indexes", action="store_true",
                    help="first create the indexes store/schema.py declares that the store lacks (a store made "
                         "by an older Northstar), and report how long that took")
    args = ap.parse_args()
    if not args.url and not args.db.exists():
        print(f"error: {args.db} does not exist; make it with `python cli.py demo --scale 1M` "
              "(benchmarks/demo_bench.py --scale 1M) or pass --db", file=sys.stderr)
        return 2

    from metrics import Filters, compute_many
    from metrics.definitions import load_definitions
    from metrics.pages import PAGE_METRICS
    from metrics.periods import fiscal_quarter
    from metrics.registry import Ctx
    from metrics.sql import stage_rules
    from store import StoreSettings, open_store

    engine = open_store(StoreSettings(args.url or f"sqlite:///{args.db}", "benchmark store"), upgrade=False)
    missing = missing_indexes(engine)
    if missing and args.ensure_indexes:
        t0 = time.perf_counter()
        with engine.begin() as conn:
            for ix in missing:
                ix.create(conn, checkfirst=True)
        print(f"created {len(missing)} missing indexes ({', '.join(ix.name for ix in missing)}) "
              f"in {time.perf_counter() - t0:.1f} s")
    elif missing:
        print(f"warning: the store lacks {', '.join(ix.name for ix in missing)}; numbers will be slower "
              "(rerun with --ensure-indexes)")
    with engine.connect() as conn:
        defs = load_definitions(conn)
        rules = stage_rules(Ctx(conn, defs))
        counts = {t: conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar() for t in ("deals", "contacts")}
    _, start, end = fiscal_quarter(AS_OF, defs.fiscal_year_start_month)  # the whole quarter, as always measured
    filters = Filters(start, end)
    print(f"store {engine.dialect.name} {engine.url.database}: {counts['deals']:,} deals, {counts['contacts']:,} contacts; "
          f"period {start} to {end}")
    from metrics import rollups_build as rollups
    t0 = time.perf_counter()
    built = rollups.refresh(engine)
    if built:
        print(f"rollups were stale; rebuilt in {time.perf_counter() - t0:.1f} s: "
              + ", ".join(f"{g} {b.rows:,} rows {b.seconds:.1f} s" for g, b in built.items()))
    else:
        with engine.connect() as conn:
            states = [rollups.state(conn, g) for g in rollups.GROUPS]
        print("rollups fresh (built in " + ", ".join(f"{st['name']} {st['seconds']:.1f} s, {st['rows']:,} rows"
                                                    for st in states if st) + ")")

    ours = {}
    for page, ids in PAGE_METRICS.items():
        cold, warm = timed(lambda ids=ids: compute_many(engine, ids, filters))
        ours[page] = (cold, statistics.median(warm))
    rss_ours = peak_rss_mb()

    def base_only(ids):
        """The same page set with the rollups switched off: every figure from the base tables."""
        with engine.connect() as conn, conn.begin():
            ctx = Ctx(conn, load_definitions(conn))
            ctx.cache["use_rollups"] = False
            return {mid: ctx.value(mid, filters) for mid in ids}
    base = ({} if args.skip_base else
            {page: statistics.median(timed(lambda ids=ids: base_only(ids))[1][:3]) for page, ids in PAGE_METRICS.items()})

    t0 = time.perf_counter()
    duck = load_duckdb(engine)
    load_s = time.perf_counter() - t0
    queries = reference_queries(defs, rules)
    params = {"start": start, "end": end, "now": dt.datetime.combine(AS_OF, dt.time())}

    def run_reference(names):
        for name in names:
            sql = queries[name]
            duck.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql}).fetchall()
    ref = {}
    for page, names in PAGE_QUERIES.items():
        cold, warm = timed(lambda names=names: run_reference(names))
        ref[page] = (cold, statistics.median(warm))

    won_ours = compute_many(engine, ["won_revenue"], filters)["won_revenue"].value
    closed = duck.execute(queries["closed"], {"start": start, "end": end}).fetchone()
    won_ref = round(float(closed[2] or 0.0), 2)
    rows = []
    print(f"\n{'page':<10} {'metrics':>7} {'cold ms':>9} {'warm ms':>9} {'duck cold':>10} {'duck warm':>10} "
          f"{'warm ratio':>10} {'base ms':>9}")
    for page, ids in PAGE_METRICS.items():
        (oc, ow), (dc, dw) = ours[page], ref[page]
        ratio = ow / dw if dw else float("inf")
        met = ow <= 0.1 and ratio <= 1.0
        rows.append({"page": page, "metrics": len(ids), "cold_ms": oc * 1000, "warm_ms": ow * 1000,
                     "duckdb_cold_ms": dc * 1000, "duckdb_warm_ms": dw * 1000, "warm_ratio": ratio,
                     "base_tables_warm_ms": base[page] * 1000 if page in base else None, "target_met": met})
        base_ms = f"{base[page] * 1000:>9.1f}" if page in base else f"{'-':>9}"
        print(f"{page:<10} {len(ids):>7} {oc * 1000:>9.1f} {ow * 1000:>9.1f} {dc * 1000:>10.1f} {dw * 1000:>10.1f} "
              f"{ratio:>9.2f}x {base_ms}")
    print("\ntarget (warm <= 100 ms and no slower than DuckDB) met for: "
          + (", ".join(r["page"] for r in rows if r["target_met"]) or "no page")
          + "; base ms = the page set with the rollups off")
    print(f"\nwon_revenue check: ours {won_ours:,.2f} / DuckDB {won_ref:,.2f}")
    print(f"DuckDB table copy (not timed above): {load_s:.1f} s")
    print(f"peak RSS: {rss_ours:.0f} MB after our runs, {peak_rss_mb():.0f} MB with the DuckDB copy")
    if args.json:
        print(json.dumps({"rows": rows, "peak_rss_mb_ours": rss_ours, "peak_rss_mb_total": peak_rss_mb()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
