"""The import panel in AppTest: preview and report first, nothing written until Import."""
from __future__ import annotations

from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from store import StoreSettings, open_store
from store import schema as s
from fileimport_helpers import FIXTURES, SHARED_FEC, fec_line, small_fec


def _panel(url: str) -> None:
    from ui.import_panel import render_import_panel
    from store import StoreSettings, open_store
    render_import_panel(open_store(StoreSettings(url, "ui test store")), "tester")


def _app(url: str) -> AppTest:
    at = AppTest.from_function(_panel, args=(url,), default_timeout=60)
    return at.run()


def _count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def _frame(at: AppTest, column: str):
    return next(d.value for d in at.dataframe if column in d.value.columns)


def _from_path(at: AppTest, path) -> AppTest:
    """Upload the file at `path` (the page takes uploads only)."""
    return at.file_uploader(key="imp_upload").set_value((path.name, path.read_bytes(), "text/plain")).run()


def test_panel_fec_preview_then_import(make_store_url):
    url = make_store_url("sqlite")
    engine = open_store(StoreSettings(url, "check"))
    at = _from_path(_app(url), SHARED_FEC / "111111111FEC20221231.TXT")
    assert not at.exception
    assert [m.value for m in at.metric][:3] == ["934", "934", "0"]
    assert at.success[0].value.startswith("The file is valid")
    assert _count(engine, s.ledger_entries) == 0  # preview only
    at.button(key="imp_go").click().run()
    assert not at.exception and _count(engine, s.ledger_entries) == 934
    assert "imported 934 rows" in at.success[-1].value


def test_panel_rejects_then_offers_valid_rows(make_store_url, tmp_path):
    url = make_store_url("sqlite")
    engine = open_store(StoreSettings(url, "check"))
    bad = tmp_path / "123456789FEC20241231.txt"
    bad.write_bytes(small_fec([fec_line("VE", "9", "20240131", "706000", "0,00", "1,00")]))
    at = _from_path(_app(url), bad)
    assert "unbalanced entry" in _frame(at, "reason")["reason"].iloc[0]
    assert at.button(key="imp_go").disabled and not at.button(key="imp_partial").disabled
    at.button(key="imp_partial").click().run()
    assert _count(engine, s.ledger_entries) == 5


def test_panel_invoice_preset_and_mapping(make_store_url):
    url = make_store_url("sqlite")
    engine = open_store(StoreSettings(url, "check"))
    at = _app(url)
    at.selectbox(key="imp_kind").set_value("invoices").run()
    at.selectbox(key="imp_preset_invoices").set_value("stripe").run()
    at = _from_path(at, FIXTURES / "invoices_stripe.csv")
    assert not at.exception and len(_frame(at, "invoice_number")) == 3
    at.button(key="imp_go").click().run()
    assert _count(engine, s.invoices) == 3


def test_panel_header_only_file_is_never_shown_valid(make_store_url, tmp_path):
    url = make_store_url("sqlite")
    empty = tmp_path / "invoices.csv"
    empty.write_bytes(b"invoice number,issue date,amount excl tax\n")
    at = _app(url)
    at.selectbox(key="imp_kind").set_value("invoices").run()
    at = _from_path(at, empty)
    assert not at.exception and not at.success
    assert "no data rows" in _frame(at, "reason")["reason"].iloc[0]
    assert at.error[0].value.startswith("1 problem(s).") and at.button(key="imp_go").disabled


def test_panel_replace_checkbox_and_undo_from_the_history(make_store_url, tmp_path):
    url = make_store_url("sqlite")
    engine = open_store(StoreSettings(url, "check"))
    a, b = tmp_path / "inv_A.csv", tmp_path / "inv_A_fixed.csv"
    a.write_bytes(b"invoice number,issue date,amount excl tax\nA-1,2024-01-05,10.00\nA-2,2024-01-20,20.00\n")
    b.write_bytes(b"invoice number,issue date,amount excl tax\nA-3,2024-01-05,30.00\nA-4,2024-01-20,40.00\n")
    at = _app(url)
    assert at.caption[-1].value == "No import yet."
    at.selectbox(key="imp_kind").set_value("invoices").run()
    at = _from_path(at, a)
    at.button(key="imp_go").click().run()
    at = _from_path(at, b)
    at.checkbox(key="imp_replace").check().run()
    at.button(key="imp_go").click().run()
    assert not at.exception
    assert "replacing 2 rows (asked to replace" in at.success[-1].value and _count(engine, s.invoices) == 2
    history = _frame(at, "replaced")
    assert list(history["import"]) == [2, 1] and list(history["replaced"]) == [2, 0]
    at.selectbox(key="imp_undo_pick").set_value(1).run()
    at.button(key="imp_undo").click().run()  # #2 replaced rows of #1: undo #2 first
    assert "had rows replaced by import #2: undo that first" in at.error[-1].value
    at.selectbox(key="imp_undo_pick").set_value(2).run()
    at.button(key="imp_undo").click().run()
    assert not at.exception
    assert "undid import #2 (inv_A_fixed.csv): removed 2 rows, restored 2 rows" in at.success[-1].value
    with engine.connect() as conn:
        assert sorted(conn.execute(select(s.invoices.c.invoice_number)).scalars()) == ["A-1", "A-2"]
    assert list(_frame(at, "replaced")["status"]) == ["undone", "success"]


def test_panel_reads_uploads_only_never_a_server_path(make_store_url):
    """Issue #13, finding 3: the page once took any server path (a secrets file's first line showed
    in the mapping lists). Now there is no path input at all, only the uploader."""
    at = _app(make_store_url("sqlite"))
    assert not at.exception
    assert [w.key for w in at.text_input if "path" in (w.key or "") or "path" in w.label.lower()] == []
    assert not [r for r in at.radio if "server" in " ".join(map(str, r.options)).lower()]
    assert [u.key for u in at.file_uploader] == ["imp_upload"]
