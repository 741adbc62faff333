"""Issue #13, finding 5: small files that would take the machine are refused (or read within
bounds) with a message naming the limit and how to raise it. Every hostile file is built here."""
from __future__ import annotations

import csv
import io
import zipfile

import pytest

from connectors.files.detect import FileFormatError, Limits, check_line_lengths, read_table, ReadOptions
from connectors.files.importer import import_file, read_file

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    '</Types>')
_RELS = ('<?xml version="1.0" encoding="UTF-8"?>'
         '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
         '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
         'officeDocument" Target="xl/workbook.xml"/></Relationships>')
_WORKBOOK = ('<?xml version="1.0" encoding="UTF-8"?>'
             '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
             'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
             '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>')
_WORKBOOK_RELS = ('<?xml version="1.0" encoding="UTF-8"?>'
                  '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                  '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                  'relationships/worksheet" Target="worksheets/sheet1.xml"/>'
                  '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                  'relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>')


def _cell(ref: str, value) -> str:
    if isinstance(value, (int, float)):
        return f'<c r="{ref}"><v>{value}</v></c>'
    return f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>'


def _xlsx(rows: list[list], dimension: str | None = None, shared_strings: str = "",
          extra_sheet_xml: str = "") -> bytes:
    """A minimal workbook: one sheet of inline cells, written with zipfile."""
    cols = "ABCDEFGHIJ"
    body = "".join(f'<row r="{i}">' + "".join(_cell(f"{cols[j]}{i}", v) for j, v in enumerate(r)) + "</row>"
                   for i, r in enumerate(rows, start=1))
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    sheet = ('<?xml version="1.0" encoding="UTF-8"?>'
             '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
             f"{dim}<sheetData>{body}{extra_sheet_xml}</sheetData></worksheet>")
    strings = ('<?xml version="1.0" encoding="UTF-8"?>'
               '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
               f"{shared_strings}</sst>")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in (("[Content_Types].xml", _CONTENT_TYPES), ("_rels/.rels", _RELS),
                           ("xl/workbook.xml", _WORKBOOK), ("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS),
                           ("xl/worksheets/sheet1.xml", sheet), ("xl/sharedStrings.xml", strings)):
            zf.writestr(name, text)
    return out.getvalue()


INVOICE_ROWS = [["invoice number", "issue date", "amount excl tax"], ["A-1", "2024-01-05", 10], ["A-2", "2024-01-06", 20]]


def test_xlsx_huge_dimension_is_not_padded():
    data = _xlsx(INVOICE_ROWS, dimension="A1:XFD1048576")
    assert len(data) < 5000  # the 4.9 KB workbook
    table = read_table(data, "inv.xlsx", ReadOptions())
    assert table.header == ["invoice number", "issue date", "amount excl tax"]
    assert [len(cells) for _, cells in table.rows] == [3, 3]  # not 16,384 cells per row
    parsed = read_file("invoices", data, "inv.xlsx")
    assert parsed.report.ok and len(parsed.rows) == 2


def test_xlsx_zip_bomb_refused_from_declared_sizes(monkeypatch):
    monkeypatch.setenv("NORTHSTAR_IMPORT_MAX_XLSX_BYTES", str(1 << 20))
    bomb = "<row/>" * 400_000  # 2.4 MB of XML that deflates to a few kB
    data = _xlsx(INVOICE_ROWS, extra_sheet_xml=bomb)
    assert len(data) < 50_000
    with pytest.raises(FileFormatError) as exc:
        read_table(data, "bomb.xlsx", ReadOptions())
    assert "the workbook unzips to" in str(exc.value) and "NORTHSTAR_IMPORT_MAX_XLSX_BYTES" in str(exc.value)


def test_xlsx_huge_shared_strings_refused(monkeypatch):
    monkeypatch.setenv("NORTHSTAR_IMPORT_MAX_XLSX_STRINGS_BYTES", str(1 << 20))
    strings = "".join(f"<si><t>{i:08d}{'x' * 40}</t></si>" for i in range(40_000))  # about 2.4 MB
    report = read_file("invoices", _xlsx(INVOICE_ROWS, shared_strings=strings), "strings.xlsx").report
    assert report.fatal and "shared strings unzip to" in report.errors[0].reason
    assert "NORTHSTAR_IMPORT_MAX_XLSX_STRINGS_BYTES" in report.errors[0].reason


def test_xlsx_rows_columns_and_cells_are_bounded(monkeypatch):
    monkeypatch.setenv("NORTHSTAR_IMPORT_MAX_ROWS", "1")
    with pytest.raises(FileFormatError, match="more than 1 rows.*NORTHSTAR_IMPORT_MAX_ROWS"):
        read_table(_xlsx(INVOICE_ROWS), "inv.xlsx", ReadOptions())
    monkeypatch.delenv("NORTHSTAR_IMPORT_MAX_ROWS")
    monkeypatch.setenv("NORTHSTAR_IMPORT_MAX_COLUMNS", "2")
    with pytest.raises(FileFormatError, match="row 1 has a value in column 3.*NORTHSTAR_IMPORT_MAX_COLUMNS"):
        read_table(_xlsx(INVOICE_ROWS), "inv.xlsx", ReadOptions())
    monkeypatch.delenv("NORTHSTAR_IMPORT_MAX_COLUMNS")
    monkeypatch.setenv("NORTHSTAR_IMPORT_MAX_FIELD_CHARS", "50")
    with pytest.raises(FileFormatError, match="row 2 has a cell of 60 characters.*NORTHSTAR_IMPORT_MAX_FIELD_CHARS"):
        read_table(_xlsx([INVOICE_ROWS[0], ["A" * 60, "2024-01-05", 1]]), "inv.xlsx", ReadOptions())


def test_single_line_csv_refused_before_decoding(engine):
    data = b"invoice number,issue date,amount excl tax\n" + b"x" * (3 << 20)  # one 3 MB line, no newline
    report = import_file(engine, "invoices", data, "one_line.csv")
    assert report.status == "rejected"
    assert report.errors[0].reason.startswith("line 2 is 3,145,728 bytes long, over the limit of 1,048,576 bytes")
    assert "NORTHSTAR_IMPORT_MAX_LINE_BYTES" in report.errors[0].reason
    fec = import_file(engine, "fec", b"JournalCode\t" + b"y" * (3 << 20), "123456789FEC20241231.txt")
    assert fec.status == "rejected" and "NORTHSTAR_IMPORT_MAX_LINE_BYTES" in fec.errors[0].reason


@pytest.mark.parametrize("length, refused", [(99, False), (100, False), (101, True), (150, True), (250, True)])
def test_line_length_check_finds_every_line_over_the_limit(length, refused):
    data = b"a,b\n" * 5 + b"z" * length + b"\n" + b"c,d\n" * 5
    if refused:
        with pytest.raises(FileFormatError, match=f"line 6 is {length} bytes long"):
            check_line_lengths(data, 100)
    else:
        check_line_lengths(data, 100)


def test_csv_fields_columns_and_rows_are_bounded(monkeypatch):
    monkeypatch.setenv("NORTHSTAR_IMPORT_MAX_FIELD_CHARS", "20")
    limit_before = csv.field_size_limit()
    with pytest.raises(FileFormatError, match="line 2 has a field of 30 characters.*NORTHSTAR_IMPORT_MAX_FIELD_CHARS"):
        read_table(b'a,b\n"' + b"q" * 30 + b'",1\n', "f.csv", ReadOptions())
    # the csv module's limit is process-wide: a low import limit never lowers it for other readers
    assert csv.field_size_limit() == limit_before
    assert len(next(csv.reader(io.StringIO("x" * 1000)))[0]) == 1000
    monkeypatch.setenv("NORTHSTAR_IMPORT_MAX_COLUMNS", "3")
    with pytest.raises(FileFormatError, match="line 1 has 4 fields"):
        read_table(b"a,b,c,d\n1,2,3,4\n", "f.csv", ReadOptions())
    monkeypatch.setenv("NORTHSTAR_IMPORT_MAX_ROWS", "2")
    with pytest.raises(FileFormatError, match="more than 2 rows"):
        read_table(b"a\n1\n2\n3\n", "f.csv", ReadOptions())
    monkeypatch.setenv("NORTHSTAR_IMPORT_MAX_ROWS", "lots")
    with pytest.raises(FileFormatError, match="NORTHSTAR_IMPORT_MAX_ROWS='lots' is not a whole number"):
        Limits.from_env()
