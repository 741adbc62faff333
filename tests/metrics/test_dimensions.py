"""The distinct values people filter on and break figures down by, read through index seeks."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from demo import generate_demo
from metrics import dimensions
from metrics.definitions import load_definitions
from store import schema as s


def test_index_seeks_give_every_distinct_value_of_every_filter_column(engine):
    generate_demo(engine, scale="small", as_of=dt.date(2026, 12, 5))
    with engine.connect() as conn:
        defs = load_definitions(conn)
        cols = [*dimensions.region_columns(defs), *dimensions.product_line_columns(defs), *dimensions.SOURCE_COLUMNS,
                *dimensions.TEAM_COLUMNS, s.deals.c.owner_id, s.contacts.c.owner_id]
        seeks = 0
        for col in cols:
            plain = {v for (v,) in conn.execute(select(col).distinct()) if v is not None}
            assert dimensions.indexed_distinct(conn, col) == plain, col
            seeks += dimensions._index_position(col) is not None
        assert seeks >= 4  # most of them lead (or follow a small column in) an index: no table scan
        assert dimensions.options(conn, defs)["regions"] == dimensions.distinct_values(
            conn, dimensions.region_columns(defs), lambda c, col: {v for (v,) in c.execute(select(col).distinct())})
