"""Deterministic demo data: a believable B2B SaaS company (CRM, marketing, finance) in the store.

`generate_demo(engine, scale, seed, as_of)` fills an empty store; the same seed, as_of and scale
always give the same rows. `seed_demo_if_empty(engine)` does it only for a store without data (the
app's first start, through `upkeep.seed_demo_if_empty`).
"""
from store.config import PROJECT_DIR

from .loader import DEFAULT_SEED, SCALES, DemoError, StoreNotEmpty, generate_demo, seed_demo_if_empty

# The 1M-deal store written once by `benchmarks/demo_bench.py --scale 1M`; other benchmarks read it.
BENCH_STORE_PATH = PROJECT_DIR / "data" / "bench" / "northstar-1M.db"

__all__ = ["BENCH_STORE_PATH", "DEFAULT_SEED", "SCALES", "DemoError", "StoreNotEmpty",
           "generate_demo", "seed_demo_if_empty"]
