"""The Northstar store: one schema (`store.schema`), opened through `store.db.open_store`."""
from .config import StoreSettings, data_dir, resolve_store
from .db import (StoreError, bump_data_version, data_version, get_meta, is_demo, is_empty,
                 open_store, set_meta, table_counts, upgrade_store, upsert, utcnow)
from .secrets import mask
from . import schema

mask_url = mask  # the older name of the one masking helper (store.secrets.mask)

__all__ = ["StoreSettings", "data_dir", "mask", "mask_url", "resolve_store", "StoreError",
           "bump_data_version", "data_version", "get_meta", "is_demo", "is_empty", "open_store",
           "set_meta", "table_counts", "upgrade_store", "upsert", "utcnow", "schema"]
