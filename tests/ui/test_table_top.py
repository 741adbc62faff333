"""ui.tables.table(top=N): a long list shows its first N rows and says so; the downloads keep all."""
from __future__ import annotations

from streamlit.testing.v1 import AppTest


def _script(rows: int, top: int | None) -> None:
    import types

    import pandas as pd

    from ui.labels import Labels
    from ui.tables import table
    df = pd.DataFrame({"name": [f"Customer {i}" for i in range(rows)], "change": [-float(i) for i in range(rows)]})
    fs = types.SimpleNamespace(locale="en", currency="EUR", cents=False)
    table(df, fs, key="t", name="movers", money=("change",), labels=Labels(), top=top)


def _run(rows: int, top: int | None) -> AppTest:
    at = AppTest.from_function(_script, kwargs={"rows": rows, "top": top}, default_timeout=60)
    at.run()
    assert not at.exception
    return at


def test_a_long_list_shows_its_first_rows_and_says_so():
    at = _run(1200, 500)
    assert len(at.dataframe[0].value) == 500
    assert at.dataframe[0].value.iloc[0, 0] == "Customer 0"
    assert "The first 500 of 1,200 rows" in at.caption[0].value


def test_a_short_list_is_shown_whole_without_a_caption():
    at = _run(120, 500)
    assert len(at.dataframe[0].value) == 120
    assert not at.caption
