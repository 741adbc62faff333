"""Issue #13 (imports) and #15: an import never deletes rows it did not bring unless asked, can be
undone, reads text honestly, and closes the validation gaps; on SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select

from connectors.files import fec, history
from connectors.files.detect import FileFormatError, decode_bytes
from connectors.files.importer import import_file, read_file
import cli
from metrics import REGISTRY
from store import data_version, schema as s
from fileimport_helpers import FEC_HEADER, SHARED_FEC, fec_line, ledger_totals, small_fec


def _ledger(engine) -> list[tuple]:
    t = s.ledger_entries
    with engine.connect() as conn:
        return conn.execute(select(t.c.import_id, t.c.siren, t.c.ecriture_num, t.c.compte_num, t.c.credit_cents)
                            .order_by(t.c.import_id, t.c.line_no)).all()


def _invoices(engine) -> list[tuple]:
    t = s.invoices
    with engine.connect() as conn:
        return conn.execute(select(t.c.invoice_number, t.c.import_id, t.c.amount_excl_tax_cents)
                            .order_by(t.c.invoice_number)).all()


def _run(engine, import_id: int) -> dict:
    with engine.connect() as conn:
        return dict(conn.execute(select(s.import_runs).where(s.import_runs.c.import_id == import_id)).mappings().one())


def _audit(engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(s.audit_log).order_by(s.audit_log.c.audit_id)).mappings()]


# --- finding 1: an import deletes rows that another file brought ----------------------------

def test_fec_files_without_siren_of_two_companies_both_stay(engine):
    a = import_file(engine, "fec", small_fec(sale="1000,00"), "ledger_companyA.txt")
    b = import_file(engine, "fec", small_fec(sale="50,00"), "ledger_companyB.txt")
    assert (a.status, b.status) == ("success", "success")
    assert b.rows_replaced == 0 and "replacing" not in b.message
    assert ledger_totals(engine)["lines"] == 10 and ledger_totals(engine)["revenue"] == 100000 + 5000
    # each file has a company identity, never NULL, and they differ
    assert _run(engine, a.import_id)["company"].startswith("file:")
    assert _run(engine, a.import_id)["company"] != _run(engine, b.import_id)["company"]


def test_fec_without_siren_replaces_only_when_asked(engine):
    import_file(engine, "fec", small_fec(sale="1000,00"), "ledger.txt", company="Acme SAS")
    import_file(engine, "fec", small_fec(sale="50,00"), "other.txt", company="Other SARL")
    fixed = import_file(engine, "fec", small_fec(sale="1200,00"), "ledger-fixed.txt", company="Acme SAS",
                        replace=True)
    assert fixed.status == "success" and fixed.rows_replaced == 5 and fixed.replaced_from == {1: 5}
    assert "5 from import #1 (ledger.txt)" in fixed.message and "Acme SAS" in fixed.replace_rule
    assert ledger_totals(engine)["revenue"] == 120000 + 5000  # Other SARL untouched
    after = json.loads(_audit(engine)[-1]["after_json"])
    assert after["replaced_from_imports"] == {"1": 5} and after["company"] == "Acme SAS"


def test_fec_with_siren_still_replaces_its_own_period(engine):
    import_file(engine, "fec", small_fec(sale="1000,00"), "123456789FEC20241231.txt")
    import_file(engine, "fec", small_fec(sale="50,00"), "ledger_companyB.txt")
    fixed = import_file(engine, "fec", small_fec(sale="1200,00"), "123456789FEC20241231.txt")
    assert fixed.rows_replaced == 5 and fixed.replaced_from == {1: 5} and fixed.replace_rule == "same SIREN and period"
    assert ledger_totals(engine, "123456789")["revenue"] == 120000
    assert ledger_totals(engine)["revenue"] == 120000 + 5000  # the file without a SIREN stays


INV_A = b"invoice number,issue date,amount excl tax\nA-1,2024-01-05,10.00\nA-2,2024-01-20,20.00\nA-3,2024-01-31,30.00\n"
INV_B = b"invoice number,issue date,amount excl tax\nB-1,2024-01-10,40.00\nB-2,2024-01-25,50.00\n"


def test_invoices_of_another_file_in_the_same_dates_stay(engine):
    import_file(engine, "invoices", INV_A, "inv_A.csv")
    b = import_file(engine, "invoices", INV_B, "inv_B.csv")
    assert b.status == "success" and b.rows_replaced == 0
    assert [r[0] for r in _invoices(engine)] == ["A-1", "A-2", "A-3", "B-1", "B-2"]


def test_undo_removes_the_rows_and_restores_what_was_replaced(engine):
    first = import_file(engine, "invoices", INV_A, "inv_A.csv")
    fixed = b"invoice number,issue date,amount excl tax\nA-2,2024-01-05,25.00\nA-4,2024-01-31,5.00\n"
    second = import_file(engine, "invoices", fixed, "inv_A_fixed.csv", replace=True)
    assert second.replaced_from == {first.import_id: 3}
    assert _invoices(engine) == [("A-2", second.import_id, 2500), ("A-4", second.import_id, 500)]
    refused = pytest.raises(history.UndoError, history.undo_import, engine, first.import_id, "bob")
    assert f"#{second.import_id}" in str(refused.value)  # undo the later import first
    version = data_version(engine)
    done = history.undo_import(engine, second.import_id, "bob")
    assert (done["rows_removed"], done["rows_restored"]) == (2, 3)
    assert _invoices(engine) == [("A-1", 1, 1000), ("A-2", 1, 2000), ("A-3", 1, 3000)]
    assert data_version(engine) == version + 1
    run = _run(engine, second.import_id)
    assert run["status"] == "undone" and run["undone_by"] == "bob"
    audit = _audit(engine)[-1]
    assert (audit["actor"], audit["action"]) == ("bob", "import.undo")
    assert json.loads(audit["after_json"])["rows_restored"] == 3
    with pytest.raises(history.UndoError, match="undone already"):
        history.undo_import(engine, second.import_id, "bob")
    # after the undo the file can be imported again (it is no longer "already imported")
    assert import_file(engine, "invoices", fixed, "inv_A_fixed.csv").status == "success"
    # and new rows get fresh ids after the restored ones (PostgreSQL's sequence moved on)
    assert import_file(engine, "invoices", INV_B, "inv_B.csv").status == "success"


def test_undo_fec_restores_the_replaced_ledger(engine):
    import_file(engine, "fec", small_fec(sale="1000,00"), "123456789FEC20241231.txt")
    before = _ledger(engine)
    fixed = import_file(engine, "fec", small_fec(sale="1200,00"), "123456789FEC20241231.txt")
    assert ledger_totals(engine)["revenue"] == 120000
    history.undo_import(engine, fixed.import_id, "alice")
    assert _ledger(engine) == before and ledger_totals(engine)["revenue"] == 100000
    listed = {r["import_id"]: r for r in history.list_imports(engine)}
    assert listed[fixed.import_id]["status"] == "undone" and not listed[fixed.import_id]["undoable"]
    assert listed[1]["undoable"]


def test_undo_refuses_what_it_cannot_take_back(engine):
    rejected = import_file(engine, "invoices", b"invoice number,issue date,amount excl tax\nX,2024-13-01,1\n",
                           "bad.csv")
    with pytest.raises(history.UndoError, match="rejected"):
        history.undo_import(engine, rejected.import_id, "bob")
    with pytest.raises(history.UndoError, match="no import #99"):
        history.undo_import(engine, 99, "bob")


def test_budgets_and_spend_keep_other_keys_unless_asked(engine):
    import_file(engine, "budgets", b"month,region,metric,value\n2024-01,,target_revenue,100\n"
                                   b"2024-02,,target_revenue,200\n", "b1.csv")
    second = import_file(engine, "budgets", b"month,region,metric,value\n2024-02,,target_revenue,250\n", "b2.csv")
    assert second.rows_replaced == 1
    with engine.connect() as conn:
        assert conn.execute(select(s.budgets.c.month, s.budgets.c.value).order_by(s.budgets.c.month)).all() == [
            (dt.date(2024, 1, 1), 10000.0), (dt.date(2024, 2, 1), 25000.0)]
    spend = b"date,channel,campaign,amount\n2024-01-01,google,Brand,10\n2024-01-02,google,Generic,20\n"
    import_file(engine, "spend", spend, "s1.csv")
    again = import_file(engine, "spend", b"date,channel,campaign,amount\n2024-01-02,google,Brand,5\n", "s2.csv")
    assert again.rows_replaced == 0  # another campaign on a day inside the first file's range
    assert ledger_totals(engine)["lines"] == 0
    with engine.connect() as conn:
        assert sorted(conn.execute(select(s.marketing_spend.c.campaign, s.marketing_spend.c.amount_cents)).all()) \
            == [("Brand", 500), ("Brand", 1000), ("Generic", 2000)]


# --- finding 4: silently garbled text ---------------------------------------------------------

def test_utf8_file_with_one_bad_byte_is_refused_with_its_position():
    data = "JournalCode;Lib\nVE;TVA déductible\nVE;caf\xe9\n".encode("utf-8").replace(b"caf\xc3\xa9", b"caf\xe9")
    with pytest.raises(FileFormatError) as exc:
        decode_bytes(data)
    offset = data.index(b"caf\xe9") + 3
    assert f"line 3, byte offset {offset}" in str(exc.value) and "0xe9" in str(exc.value)
    assert decode_bytes(data, "latin-1")[0].endswith("caf\xe9\n")  # forcing still reads it


def test_fec_utf8_with_bad_byte_is_rejected_not_garbled(engine):
    data = small_fec().replace(b"Facture", "Facturé".encode("utf-8"), 1)
    data = data.replace(b"Facture", b"Factur\xe9", 1)  # one damaged byte further down
    report = import_file(engine, "fec", data, "123456789FEC20241231.txt")
    assert report.status == "rejected" and ledger_totals(engine)["lines"] == 0
    assert "not valid utf-8: line 3" in report.errors[0].reason


def test_single_byte_files_are_still_read(engine):
    text, encoding = decode_bytes("Compte;Libellé\n706;Ventes à l'export\n".encode("cp1252"))
    assert encoding in ("cp1252", "iso-8859-15") and "Libellé" in text
    data = (SHARED_FEC / "111111111FEC20221231.TXT").read_bytes()  # pipe FEC, 0xF8 bytes, no UTF-8 at all
    assert import_file(engine, "fec", data, "111111111FEC20221231.TXT").status == "success"


def test_same_file_with_other_reading_options_imports_again(engine):
    data = "invoice number;customer;issue date;amount excl tax\nA-1;Crème;2024-01-05;10,00\n".encode("utf-8")
    first = import_file(engine, "invoices", data, "i.csv")
    again = import_file(engine, "invoices", data, "i.csv")
    assert again.status == "skipped"
    forced = import_file(engine, "invoices", data, "i.csv", mapping={"options": {"encoding": "cp1252"}})
    assert forced.status == "success" and forced.replaced_from == {first.import_id: 1}
    assert _invoices(engine) == [("A-1", forced.import_id, 1000)]  # replaced, not doubled


# --- finding 10: validation gaps ----------------------------------------------------------------

def test_utf16_fec_with_bom_is_detected_and_imported(engine):
    data = small_fec().decode("utf-8").encode("utf-16")  # with its BOM
    report = import_file(engine, "fec", data, "123456789FEC20241231.txt")
    assert report.status == "success" and report.detected["encoding"] == "utf-16"
    assert ledger_totals(engine)["revenue"] == 100000


@pytest.mark.parametrize("kind, data", [
    ("invoices", b"invoice number,issue date,amount excl tax\n"),
    ("budgets", b"month,metric,value\n"),
    ("fec", (FEC_HEADER + "\r\n").encode()),
])
def test_header_only_file_is_rejected_never_valid(engine, kind, data):
    parsed = read_file(kind, data, "123456789FEC20241231.txt" if kind == "fec" else "h.csv")
    assert not parsed.report.ok and parsed.report.fatal
    assert parsed.report.errors[0].reason in ("the file has a header but no entry lines",
                                               "the file holds no data rows (a header only?); nothing to import")
    report = import_file(engine, kind, data, "123456789FEC20241231.txt" if kind == "fec" else "h.csv")
    assert report.status == "rejected" and not report.ok


@pytest.mark.parametrize("fast_path", [True, False], ids=["columnar", "line-by-line"])
def test_fec_entry_repeated_verbatim_is_refused(engine, monkeypatch, fast_path):
    monkeypatch.setattr(fec.FecReader, "fast_path", fast_path)
    entry = [fec_line("VE", "9", "20240110", "706000", "0,00", "10,00"),
             fec_line("VE", "9", "20240110", "411000", "10,00", "0,00")]
    report = import_file(engine, "fec", small_fec(entry + entry), "123456789FEC20241231.txt")
    assert report.status == "rejected" and ledger_totals(engine)["lines"] == 0
    dup = [p for p in report.errors if p.reason.startswith("duplicate entry")]
    assert len(dup) == 1 and dup[0].line == 7 and dup[0].value == "VE 9"
    assert "lines 7, 8" in dup[0].reason and "lines 9, 10" in dup[0].reason
    # two equal lines inside one entry, not a repeated entry, stay valid
    ok = [fec_line("VE", "9", "20240110", "706000", "0,00", "10,00"),
          fec_line("VE", "9", "20240110", "706000", "0,00", "10,00"),
          fec_line("VE", "9", "20240110", "411000", "20,00", "0,00")]
    good = import_file(engine, "fec", small_fec(ok), "123456789FEC20241231.txt")
    assert good.status == "success"
    with engine.connect() as conn:
        lines = conn.execute(select(s.ledger_entries.c.line_no)).scalars().all()
    assert sorted(lines) == [2, 3, 4, 5, 6, 7, 8, 9]


def test_budget_impossible_day_is_a_row_error():
    report = read_file("budgets", b"month,metric,value\n2024-02-31,target_revenue,5\n2024-02-29,target_revenue,6\n",
                       "b.csv").report
    assert [(p.line, p.column) for p in report.errors] == [(2, "month")] and report.rows_accepted == 1


def test_generic_invoice_preset_reads_snake_case_headers():
    parsed = read_file("invoices", b"invoice_number,customer_name,issue_date,amount_excl_tax\n"
                                   b"A-1,Acme,2024-01-05,10.00\n", "i.csv")
    assert parsed.report.ok, parsed.report.as_text()
    assert (parsed.rows[0]["customer_name"], parsed.rows[0]["issue_date"]) == ("Acme", dt.date(2024, 1, 5))


# --- issue 15: unknown budget metric or region ---------------------------------------------------

def test_budget_unknown_metric_and_region_are_row_errors(engine):
    with engine.begin() as conn:
        conn.execute(s.deals.insert().values(deal_id="d1", name="x", pipeline_id="default", stage_id="s",
                                             region="EMEA", created_at=dt.datetime(2024, 1, 1),
                                             updated_at=dt.datetime(2024, 1, 1), origin="hubspot"))
    data = (b"month,region,metric,value\n2024-01,EMEA,target_revenu,5\n2024-01,Narnia,target_revenue,5\n"
            b"2024-01,EMEA,target_revenue,5\n")
    report = read_file("budgets", data, "b.csv", engine=engine, metric_ids=REGISTRY.keys()).report
    got = [(p.line, p.column, p.reason) for p in report.errors]
    assert got == [(2, "metric", "unknown metric id (did you mean target_revenue?)"),
                   (3, "region", "unknown region (the store knows EMEA)")]
    assert report.rows_accepted == 1


def test_budget_metric_ids_unchecked_without_a_catalog_say_so(engine):
    """Connectors do not read the metric layer: a caller that gives no catalog gets a warning."""
    report = read_file("budgets", b"month,metric,value\n2024-01,target_revenu,5\n", "b.csv").report
    assert report.ok and report.rows_accepted == 1
    assert [p.reason for p in report.problems if p.column == "metric"] == [
        "no metric catalog given: metric ids not checked"]


def test_cli_budget_import_checks_metric_ids_against_the_catalog(tmp_path, capsys):
    path = tmp_path / "budget.csv"
    path.write_bytes(b"month,metric,value\n2024-01,target_revenu,5\n")
    assert cli.main(["import", "budgets", str(path)]) == 1
    assert "unknown metric id (did you mean target_revenue?)" in capsys.readouterr().out


@pytest.mark.parametrize("fast_path", [True, False], ids=["columnar", "line-by-line"])
def test_fec_entry_repeated_far_away_or_thrice_is_refused(monkeypatch, fast_path):
    monkeypatch.setattr(fec.FecReader, "fast_path", fast_path)
    entry = [fec_line("VE", "1", "20240105", "706000", "0,00", "1000,00"),  # small_fec's first entry, again
             fec_line("VE", "1", "20240105", "445710", "0,00", "200,00"),
             fec_line("VE", "1", "20240105", "411000", "1200,00", "0,00")]
    filler = [fec_line("AC", str(n), "20240120", "623100" if k == 0 else "401000",
                       "3,00" if k == 0 else "0,00", "0,00" if k == 0 else "3,00")
              for n in range(2, 25_002) for k in (0, 1)]  # 50,000 lines, about 5 MB: several pieces
    third = [fec_line("VE", "7", "20240106", "706000", "0,00", "5,00"),
             fec_line("VE", "7", "20240106", "411000", "5,00", "0,00")]
    reader = fec.FecReader(small_fec(filler + entry + third * 3), "123456789FEC20241231.txt")
    for _batch in reader.batches():
        pass
    assert reader.columnar_rows if fast_path else not reader.columnar_rows
    dup = {p.value: p for p in reader.report.errors if p.reason.startswith("duplicate entry")}
    assert set(dup) == {"VE 1", "VE 7"} and len(reader.report.errors) == 2
    assert dup["VE 1"].line == 2 and "(lines 2-4) are repeated verbatim 1 more time(s) (lines 50007-50009)" \
        in dup["VE 1"].reason
    assert "it would count 3 times" in dup["VE 7"].reason
    assert {("VE", "1"), ("VE", "7")} <= reader.bad_entries
