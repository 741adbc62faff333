"""What a CFO sees in a role page's tables (#15): no "None", "nan" or "NaT", stage and lifecycle
names instead of stored ids, owner names instead of owner ids, amounts without cents from €1,000."""
from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest
from sqlalchemy import select

from store import StoreSettings, open_store, schema as s
from tests.pages.conftest import run_app

RAW = {"None", "nan", "NaN", "NaT", "<NA>"}


def _shown(df_element) -> pd.DataFrame:
    """The cells as st.dataframe draws them: the Styler's display values where there are any."""
    styler = df_element.proto.arrow_data.styler
    if styler.display_values:
        return pa.ipc.open_stream(styler.display_values).read_all().to_pandas()
    return df_element.value


def _stage_ids(url: str) -> set[str]:
    engine = open_store(StoreSettings(url, "test"))
    with engine.connect() as conn:
        return {r.stage_id for r in conn.execute(select(s.pipeline_stages.c.stage_id))}


@pytest.mark.slow
def test_sales_page_tables_show_no_none_and_no_raw_stage_ids(demo_store):
    at = run_app("pages/sales.py", {"period": "last_12_months"})
    at.selectbox(key="sales_drill_metric").select("open_pipeline").run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.dataframe) >= 2, "the burnt leads and the deals behind the open pipeline"
    ids = _stage_ids(demo_store) | {"marketingqualifiedlead", "salesqualifiedlead"}
    deals = None
    for element in at.dataframe:
        raw, shown = element.value, _shown(element)
        cells = {str(v) for v in shown.to_numpy().ravel()} | {str(v) for v in raw.select_dtypes(["object", "string"]).to_numpy().ravel()}
        assert not cells & RAW, (list(raw.columns), cells & RAW)
        assert not cells & ids, f"raw stage ids on screen: {cells & ids}"
        assert "owner_id" not in raw.columns and "stage_id" not in raw.columns
        if raw.isna().to_numpy().any():  # missing numbers and dates: the table's placeholder, not "None"
            assert element.proto.placeholder == "—"
        if "stage" in raw.columns:
            deals = shown
    assert deals is not None, "the deals table has a stage column"
    assert "Decision Maker Bought-In" in set(deals["stage"])
    money = [v for v in deals["amount"] if v != "—"]
    assert money and all(v.startswith("€") for v in money)
    assert not [v for v in money if float(v.strip("€-").replace(",", "")) >= 1000 and "." in v], money


@pytest.mark.slow
def test_drill_down_tells_same_name_owners_apart(demo_store):
    engine = open_store(StoreSettings(demo_store, "test"))
    with engine.connect() as conn:
        rows = conn.execute(select(s.owners.c.first_name, s.owners.c.last_name)).all()
    names = [f"{a} {b}" for a, b in rows]
    twins = {n for n in names if names.count(n) > 1}
    assert twins, "the demo store has two owners with the same name (Inès Thomas)"
    at = run_app("pages/sales.py", {"period": "last_12_months"})
    at.selectbox(key="sales_drill_metric").select("open_pipeline").run()
    owners = {str(v) for el in at.dataframe if "owner" in el.value.columns for v in el.value["owner"]}
    assert owners, "the deals behind the open pipeline name their owners"
    assert not owners & twins, "a shared name is shown without its team"
    assert any(o.startswith(tuple(twins)) and o.endswith(")") for o in owners), sorted(owners)


def _money_cells(at) -> set[str]:
    return {str(v) for element in at.dataframe for v in _shown(element).to_numpy().ravel()
            if str(v).startswith("€")}


def test_tables_show_cents_from_1000_only_when_the_user_asks(tiny_store):
    """#15: "tables full but no cents above €1,000 unless the user asks": the sidebar's "Cents in
    tables" (in the link as cents=1). On the tiny store Alice Martin won 1,000.00 in Q1."""
    q1 = {"period": "custom", "from": "2026-01-01", "to": "2026-03-31"}
    at = run_app("pages/sales.py", q1)
    at.selectbox(key="sales_drill_metric").select("forecast").run()  # the deals behind it: d1 1,000.00 won
    assert "€1,000" in _money_cells(at) and "€1,000.00" not in _money_cells(at)
    at = run_app("pages/sales.py", {**q1, "cents": "1"})
    at.selectbox(key="sales_drill_metric").select("forecast").run()
    assert at.toggle(key="f_cents").value is True
    assert "€1,000.00" in _money_cells(at)
    at.toggle(key="f_cents").set_value(False).run()
    assert "cents" not in at.query_params and "€1,000" in _money_cells(at)
