"""Property-based: random corruption of valid files never crashes, never leaves a partial import,
and always yields a readable report."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import func, select

from connectors.files.importer import import_file
from store import StoreSettings, data_version, open_store
from store import schema as s
from fileimport_helpers import FIXTURES, small_fec

VALID = {
    "fec": (small_fec(), "123456789FEC20241231.txt", None),
    "invoices": ((FIXTURES / "invoices_generic_fr.csv").read_bytes(), "inv.csv", None),
    "spend": ((FIXTURES / "spend_generic.csv").read_bytes(), "spend.csv", None),
    "budgets": ((FIXTURES / "budgets.csv").read_bytes(), "budgets.csv", None),
    "hubspot-deals": ((FIXTURES / "hubspot_deals.csv").read_bytes(), "deals.csv", None),
}
TABLES = {"fec": s.ledger_entries, "invoices": s.invoices, "spend": s.marketing_spend, "budgets": s.budgets,
          "hubspot-deals": s.deals}


@st.composite
def corrupted(draw, data: bytes) -> bytes:
    lines = data.split(b"\n")
    kind = draw(st.sampled_from(["cut", "drop_line", "dup_line", "garbage", "swap_columns", "encoding",
                                 "huge_number", "empty", "bytes_only", "stack"]))
    if kind == "cut":
        return data[:draw(st.integers(0, len(data)))]
    if kind == "drop_line":
        i = draw(st.integers(0, len(lines) - 1))
        return b"\n".join(lines[:i] + lines[i + 1:])
    if kind == "dup_line":
        i = draw(st.integers(0, len(lines) - 1))
        return b"\n".join(lines[:i + 1] + lines[i:])
    if kind == "garbage":
        at = draw(st.integers(0, len(data)))
        return data[:at] + draw(st.binary(min_size=1, max_size=40)) + data[at:]
    if kind == "swap_columns":
        sep = b"\t" if b"\t" in lines[0] else (b";" if b";" in lines[0] else b",")
        out = []
        cells0 = lines[0].split(sep)
        a, b = draw(st.integers(0, len(cells0) - 1)), draw(st.integers(0, len(cells0) - 1))
        for k, line in enumerate(lines):
            cells = line.split(sep)
            if k == 0 or draw(st.booleans()):  # the header, and some lines, swapped
                if max(a, b) < len(cells):
                    cells[a], cells[b] = cells[b], cells[a]
            out.append(sep.join(cells))
        return b"\n".join(out)
    if kind == "encoding":
        text = data.decode("utf-8", errors="replace")
        return text.encode(draw(st.sampled_from(["utf-16", "utf-32", "cp1252", "latin-1", "utf-8-sig"])),
                           errors="replace")
    if kind == "huge_number":
        digits = draw(st.text("0123456789", min_size=14, max_size=400))
        target = draw(st.sampled_from([b"1000,00", b"300,00", b"1 200,00", b"150000", b"500.00", b"12000.50"]))
        return data.replace(target, digits.encode() + draw(st.sampled_from([b"", b",5", b".99", b"e308"])), 1)
    if kind == "empty":
        return draw(st.sampled_from([b"", b"\n", b"\r\n\r\n", b"\xef\xbb\xbf"]))
    if kind == "bytes_only":
        return draw(st.binary(max_size=300))
    return draw(corrupted(draw(corrupted(data))))


def _count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def _check(engine, kind: str, data: bytes, name: str) -> None:
    table = TABLES[kind]
    before_rows, before_version = _count(engine, table), data_version(engine)
    report = import_file(engine, kind, data, name, actor="fuzz")  # must not raise
    text = report.as_text()
    assert isinstance(text, str) and name in text and report.status in text
    assert report.status in ("success", "rejected", "skipped", "failed")
    for p in report.problems:
        assert p.file == name and p.reason and p.line >= 0
    if report.status != "success":
        assert _count(engine, table) == before_rows and data_version(engine) == before_version
        assert report.errors or report.status == "skipped" or "no row" in report.message
    else:
        assert report.ok and report.rows_accepted > 0
        if kind == "fec":
            t = s.ledger_entries
            with engine.connect() as conn:
                n, d, c = conn.execute(select(func.count(), func.sum(t.c.debit_cents), func.sum(t.c.credit_cents))
                                       .where(t.c.import_id == report.import_id)).one()
            assert n == report.rows_accepted and d == c  # all of it, and balanced
        elif "import_id" in table.c:
            with engine.connect() as conn:
                n = conn.execute(select(func.count()).select_from(table)
                                 .where(table.c.import_id == report.import_id)).scalar_one()
            assert n == report.rows_accepted


SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                           HealthCheck.too_slow])


def _engine(make_store_url):
    return open_store(StoreSettings(make_store_url("sqlite"), "fuzz store"))


@SETTINGS
@given(data=st.data())
def test_corrupted_fec_never_crashes_nor_half_imports(make_store_url, data):
    engine = _engine(make_store_url)
    valid, name, _ = VALID["fec"]
    _check(engine, "fec", data.draw(corrupted(valid)), name)


@SETTINGS
@given(data=st.data(), kind=st.sampled_from(["invoices", "spend", "budgets", "hubspot-deals"]))
def test_corrupted_exports_never_crash_nor_half_import(make_store_url, data, kind):
    engine = _engine(make_store_url)
    valid, name, _ = VALID[kind]
    _check(engine, kind, data.draw(corrupted(valid)), name)
