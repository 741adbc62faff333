"""FEC reading: every shared file and its quirks, totals checked against figures worked out
independently (a separate awk/Decimal pass over the raw files, see the comments), and the
validation of broken ledgers."""
from __future__ import annotations

import datetime as dt

import pytest

from connectors.files.detect import ReadOptions
from connectors.files.fec import FecReader, parse_fec, siren_from_name
from connectors.files.importer import import_file
from fileimport_helpers import FEC_HEADER, SHARED_FEC, fec_line, ledger_totals, small_fec

# Independent figures per shared file, from a plain reader written for this purpose (split on
# the separator, strip, Decimal sums; awk gives the same line counts and debit totals):
# lines, total debit (= total credit), revenue = credit - debit on 70x (709 netted),
# S&M spend = debit - credit on 623x, first and last EcritureDate.
SHARED = {
    "0000000001FEC20220831.txt": (5422, 1018621981, 104993432, 42400, "2021-09-01", "2022-08-31"),
    "000000000FEC20231231.txt": (2102, 126535082, 16529793, 144900, "2021-01-01", "2023-06-30"),
    "111111111FEC20221231.TXT": (934, 22568223, 3647728, 4105, "2023-01-01", "2023-07-31"),
    "123456789FEC20500930.txt": (10756, 825808373, 121284390, 11950, "2022-04-01", "2023-04-30"),
}


@pytest.mark.parametrize("name", sorted(SHARED))
def test_parse_fec_shared_file_totals(name):
    lines, debit, revenue, spend, first, last = SHARED[name]
    fec = parse_fec((SHARED_FEC / name).read_bytes(), name)
    assert fec.report.errors == []
    assert fec.report.rows_read == lines and len(fec.rows) == lines
    # row layout: (line_no, journal, journal_lib, num, date, account, ..., debit, credit, ...)
    assert sum(r[12] for r in fec.rows) == debit == sum(r[13] for r in fec.rows)
    assert sum(r[13] - r[12] for r in fec.rows if r[5].startswith("70")) == revenue
    assert sum(r[12] - r[13] for r in fec.rows if r[5].startswith("623")) == spend
    assert fec.report.period == (dt.date.fromisoformat(first), dt.date.fromisoformat(last))


@pytest.mark.parametrize("name", sorted(SHARED))
def test_import_fec_shared_file_store_totals(engine, name):
    lines, debit, revenue, spend, *_ = SHARED[name]
    report = import_file(engine, "fec", (SHARED_FEC / name).read_bytes(), name, actor="test")
    assert report.status == "success", report.as_text()
    totals = ledger_totals(engine)
    assert totals == {"lines": lines, "revenue": revenue, "sm_spend": spend, "debit": debit, "credit": debit}


def test_parse_fec_bom_is_not_part_of_first_column():
    fec = parse_fec((SHARED_FEC / "0000000001FEC20220831.txt").read_bytes(), "0000000001FEC20220831.txt")
    assert fec.report.detected["encoding"] == "utf-8-sig"
    assert fec.rows[0][1] == "ANO" and fec.rows[0][5] == "101500"
    assert fec.rows[0][6] == "Capital souscrit appelé, versé"


def test_parse_fec_cr_cr_lf_lines_are_not_doubled():
    data = (SHARED_FEC / "123456789FEC20500930.txt").read_bytes()
    assert b"\r\r\n" in data
    fec = parse_fec(data, "123456789FEC20500930.txt")
    assert fec.rows[0][0] == 2 and fec.rows[1][0] == 3  # consecutive line numbers, no blank lines
    assert fec.rows[0][4] == "2022-04-01" and fec.rows[0][12] == 188831



@pytest.mark.parametrize("encoding, forced", [("utf-8", None), ("utf-8", "utf-8"), ("cp1252", None)])
def test_parse_fec_text_decoded_piece_by_piece_keeps_every_character(monkeypatch, encoding, forced):
    """The bytes are decoded a piece at a time, cut after a newline: with 7-byte pieces no cut
    splits a character, a CR CR LF ending or the BOM, and the line numbers run on."""
    real = FecReader._pieces
    monkeypatch.setattr(FecReader, "_pieces", lambda self, size=1 << 22, **kw: real(self, 7, **kw))
    lines = [FEC_HEADER, fec_line("VE", "1", "20240105", "706000", "0,00", "10,00", label="Café € été"),
             fec_line("VE", "1", "20240105", "411000", "10,00", "0,00", label="Crème")]
    bom = b"\xef\xbb\xbf" if encoding == "utf-8" else b""
    fec = parse_fec(bom + ("\r\r\n".join(lines) + "\r\r\n").encode(encoding), "123456789FEC20241231.txt",
                    ReadOptions(encoding=forced) if forced else None)
    assert fec.report.errors == []
    assert [(r[0], r[1], r[11], r[12], r[13]) for r in fec.rows] == [
        (2, "VE", "Café € été", 0, 1000), (3, "VE", "Crème", 1000, 0)]

def test_parse_fec_pipe_padded_latin1_file():
    name = "111111111FEC20221231.TXT"
    fec = parse_fec((SHARED_FEC / name).read_bytes(), name)
    d = fec.report.detected
    assert (d["delimiter"], d["encoding"]) == ("pipe", "iso-8859-15")
    first = fec.rows[0]
    assert first[1] == "VE" and first[5] == "70100000" and first[13] == 6960  # '0000000069,60'
    assert first[6] == "VENTE NECTAR DE FRAISE"  # padding stripped
    line_779 = next(r for r in fec.rows if r[0] == 779)
    assert line_779[11] == "CREATø MAQUETTE ETIQ"  # byte 0xF8 read as ISO-8859-15


def test_parse_fec_extra_columns_and_zero_ecriture_num():
    name = "000000000FEC20231231.txt"
    fec = parse_fec((SHARED_FEC / name).read_bytes(), name)
    assert "DateRglt" in fec.report.detected["extra columns (ignored)"]
    assert {r[3] for r in fec.rows} == {"0"}
    assert {r[1] for r in fec.rows} >= {"ac", "ve", "AD"}  # journal codes kept as written
    opening = [r for r in fec.rows if r[1] == "AD"]
    assert min(r[4] for r in opening) == "2021-01-01"  # A-nouveaux dated before the fiscal year


def test_siren_from_name():
    assert siren_from_name("123456789FEC20500930.txt") == "123456789"
    assert siren_from_name("0000000001FEC20220831.txt") == "0000000001"
    assert siren_from_name("ledger.txt") is None


def test_parse_fec_montant_sens_variant():
    text = ("JournalCode|EcritureNum|EcritureDate|CompteNum|CompteLib|Montant|Sens\n"
            "VE|1|20240301|706000|Ventes|1 000,50|C\n"
            "VE|1|20240301|411000|Clients|1000,50|D\n"
            "OD|2|20240302|623000|Pub|12.34|+1\n"
            "OD|2|20240302|512000|Banque|12.34|-1\n")
    fec = parse_fec(text.encode("cp1252"), "x.txt", ReadOptions(decimal=","))
    # '12.34' with a decimal comma forced is an error, so force the right one per file instead
    assert any("unexpected '.'" in p.reason for p in fec.report.errors)
    fec = parse_fec(text.replace("12.34", "12,34").encode("cp1252"), "x.txt")
    assert fec.report.errors == [] and fec.report.detected["amounts"] == "Montant/Sens"
    assert [(r[5], r[12], r[13]) for r in fec.rows] == [
        ("706000", 0, 100050), ("411000", 100050, 0), ("623000", 1234, 0), ("512000", 0, 1234)]
    assert any(p.severity == "warning" and "absent" in p.reason for p in fec.report.problems)


def _reasons(fec) -> list[tuple[int, str, str]]:
    return [(p.line, p.column, p.reason.split(":")[0]) for p in fec.report.errors]


def test_parse_fec_reports_each_problem_with_line_column_value():
    bad = [fec_line("VE", "3", "20241301", "706000", "0,00", "10,00"),  # line 7: month 13
           fec_line("VE", "3", "20240110", "411000", "10,00", "0,00"),
           fec_line("VE", "4", "20240111", "ABC", "5,00", "0,00"),  # line 9: account
           fec_line("VE", "4", "20240111", "706000", "0,00", "5,0x"),  # line 10: amount
           fec_line("VE", "5", "20240112", "411000", "7,00", "0,00"),  # line 11: unbalanced
           fec_line("VE", "5", "20240112", "706000", "0,00", "6,00"),
           "VE\tcut line"]  # line 13
    fec = parse_fec(small_fec(bad), "bad.txt")
    found = _reasons(fec)
    assert (7, "EcritureDate", "unparseable date") in found
    assert (9, "CompteNum", "unknown account (PCG accounts are numeric, class 1 to 8)") in found
    assert (10, "Debit/Credit", "unparseable amount") in found
    assert (11, "EcritureNum", "unbalanced entry") in found
    assert any(line == 13 and "expected 18 fields" in reason for line, _, reason in found)
    bad_date = next(p for p in fec.report.errors if p.line == 7)
    assert bad_date.value == "20241301" and bad_date.file == "bad.txt"
    # whole entries are dropped: entries 3, 4 and 5 are out, entries 1 and 2 stay
    assert sorted({r[3] for r in fec.rows}) == ["1", "2"]
    assert fec.report.rows_read == 12 and fec.report.rows_accepted == 5 and fec.report.rows_rejected == 7


@pytest.mark.parametrize("account", ["906000", "0123", "7A", "-706"])
def test_parse_fec_unknown_accounts(account):
    fec = parse_fec(small_fec([fec_line("OD", "9", "20240110", account, "1,00", "0,00"),
                               fec_line("OD", "9", "20240110", "512000", "0,00", "1,00")]), "x.txt")
    assert [p.column for p in fec.report.errors] == ["CompteNum"]


def test_parse_fec_missing_columns_is_fatal():
    fec = parse_fec(b"JournalCode\tEcritureDate\tDebit\tCredit\nVE\t20240101\t1,00\t0,00\n", "x.txt")
    assert fec.report.errors and "EcritureNum" in fec.report.errors[0].reason and fec.rows == []


@pytest.mark.parametrize("data", [b"", b"\n\n", FEC_HEADER.encode() + b"\r\n"])
def test_parse_fec_empty_files(data):
    fec = parse_fec(data, "empty.txt")
    assert fec.report.errors and fec.rows == [] and fec.report.fatal
