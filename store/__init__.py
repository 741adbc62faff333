"""The Northstar store: one schema (`store.schema`), opened through `store.db.open_store`."""
from .config import StoreSettings, data_dir, mask_url, resolve_store
from .db import (StoreError, bump_data_version, data_version, get_meta, is_demo, is_empty,
                 open_store, set_meta, table_counts, upgrade_store, upsert, utcnow)
from . import schema

__all__ = ["StoreSettings", "data_dir", "mask_url", "resolve_store", "StoreError",
           "bump_data_version", "data_version", "get_meta", "is_demo", "is_empty", "open_store",
           "set_meta", "table_counts", "upgrade_store", "upsert", "utcnow", "schema"]
