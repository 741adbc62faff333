"""Sniffing how a file is written: encoding, delimiter, decimal and thousands separators, dates.

Every guess can be forced through `ReadOptions`. Parsers built here are cached per distinct
string, because ledgers and exports repeat the same dates and amounts many times.
"""
from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import os
import re
import zipfile
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Callable

MAX_ABS_CENTS = 10 ** 15  # ten thousand billion in any currency: beyond is a corrupted value
DELIMITERS = ("\t", ";", ",", "|")
DELIMITER_NAMES = {"\t": "tab", ";": "semicolon", ",": "comma", "|": "pipe"}
_NAMED_DELIMITERS = {"tab": "\t", "\\t": "\t", "semicolon": ";", "comma": ",", "pipe": "|"}

# Date formats tried in this order; day-first before month-first unless the caller says so.
DATE_FORMATS = ("%Y-%m-%d", "%Y%m%d", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%Y/%m/%d", "%d-%m-%Y",
                "%d %b %Y", "%b %d, %Y", "%d/%m/%y", "%m/%d/%y")
_TIME_SUFFIXES = (" %H:%M:%S", " %H:%M", "T%H:%M:%S", "T%H:%M:%SZ", "T%H:%M:%S.%fZ", "")


class FileFormatError(ValueError):
    """The file cannot be read as a table at all; the message says what to force or fix."""


@dataclass(frozen=True)
class ReadOptions:
    """How to read a file; None = detect."""
    encoding: str | None = None
    delimiter: str | None = None
    decimal: str | None = None
    thousands: str | None = None
    date_format: str | None = None
    month_first: bool = False  # prefer 01/02/2024 = January 2nd when both readings parse
    sheet: str | None = None  # XLSX sheet name (default: the first)

    def with_defaults(self, **kw) -> "ReadOptions":
        """Fill the options that are still None (forced values win)."""
        return replace(self, **{k: v for k, v in kw.items() if getattr(self, k) is None})


def normalise_delimiter(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    value = _NAMED_DELIMITERS.get(value.lower(), value)
    if len(value) != 1:
        raise FileFormatError(f"delimiter must be one character or tab/semicolon/comma/pipe, got {value!r}")
    return value


# --- limits ------------------------------------------------------------------------------
# A small hostile or broken file must not take minutes or gigabytes: a workbook whose <dimension>
# claims 16,384 columns, a zip that inflates to gigabytes, a shared-strings table read whole into
# memory, a CSV of one 50 MB line. The defaults are generous for real exports; a file beyond one
# is refused with a message naming the limit and the environment variable that raises it.

# name -> (environment variable, default, what it bounds)
SETTINGS = {
    "max_rows": ("NORTHSTAR_IMPORT_MAX_ROWS", 2_000_000, "rows of a CSV or XLSX file (not FEC ledgers, read in a stream)"),
    "max_columns": ("NORTHSTAR_IMPORT_MAX_COLUMNS", 1_000, "columns of a CSV or XLSX row"),
    "max_line_bytes": ("NORTHSTAR_IMPORT_MAX_LINE_BYTES", 1 << 20, "bytes of one line of a CSV or FEC file"),
    "max_field_chars": ("NORTHSTAR_IMPORT_MAX_FIELD_CHARS", 100_000, "characters of one CSV field or XLSX cell"),
    "max_xlsx_bytes": ("NORTHSTAR_IMPORT_MAX_XLSX_BYTES", 1 << 30,
                       "bytes of an XLSX workbook once unzipped (all its parts, as the zip declares them)"),
    "max_xlsx_strings_bytes": ("NORTHSTAR_IMPORT_MAX_XLSX_STRINGS_BYTES", 200 << 20,
                               "bytes of an XLSX shared-strings table once unzipped (read whole into memory)"),
}


@dataclass(frozen=True)
class Limits:
    max_rows: int
    max_columns: int
    max_line_bytes: int
    max_field_chars: int
    max_xlsx_bytes: int
    max_xlsx_strings_bytes: int

    @classmethod
    def from_env(cls) -> "Limits":
        values = {}
        for name, (var, default, _what) in SETTINGS.items():
            raw = os.environ.get(var, "").strip().replace("_", "")
            if not raw:
                values[name] = default
                continue
            try:
                values[name] = int(raw)
            except ValueError:
                raise FileFormatError(f"{var}={raw!r} is not a whole number (default {default:,})") from None
            if values[name] < 1:
                raise FileFormatError(f"{var} must be at least 1 (default {default:,})")
        return cls(**values)


def over(name: str, found: str, limit: int) -> FileFormatError:
    """'<found>, over the limit of N <what> (set VAR to raise it)'."""
    var, _default, what = SETTINGS[name]
    return FileFormatError(f"{found}, over the limit of {limit:,} {what}; set {var} to raise it if the file "
                           "is genuine")


def check_line_lengths(data: bytes, limit: int) -> None:
    """Refuse a file holding a line longer than `limit` bytes, naming that line; without reading it
    line by line: a stretch of limit/2 bytes with no newline is looked for at every multiple of
    limit/2 (any line of `limit` bytes or more holds one), and only such a stretch is measured."""
    step = max(limit // 2, 1)
    n = len(data)
    for start in range(0, n, step):
        end = min(start + step, n)
        if end - start < step or data.find(b"\n", start, end) != -1:
            continue
        line_start = data.rfind(b"\n", 0, start) + 1
        line_end = data.find(b"\n", end)
        line_end = n if line_end == -1 else line_end
        if line_end - line_start > limit:
            line = data.count(b"\n", 0, line_start) + 1
            raise over("max_line_bytes", f"line {line} is {line_end - line_start:,} bytes long", limit)


# --- encoding ----------------------------------------------------------------------------

# A well-formed multi-byte UTF-8 sequence (two to four bytes, no overlong forms or surrogates).
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
                             rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}"
                             rb"|[\xf1-\xf3][\x80-\xbf]{3}|\xf4[\x80-\x8f][\x80-\xbf]{2}")


def _bad_byte(data: bytes, exc: UnicodeDecodeError, encoding: str, offset: int = 0) -> FileFormatError:
    """'line 12, byte offset 345: 0xe9 is not valid utf-8' (offsets from the start of the file)."""
    pos = offset + exc.start
    line = data.count(b"\n", 0, pos) + 1
    return FileFormatError(
        f"the file is not valid {encoding}: line {line}, byte offset {pos} (byte {data[pos]:#04x}); "
        "nothing was read. Fix that byte, or force the file's real encoding (--encoding cp1252, "
        "iso-8859-15, latin-1 ...) if the whole file is written in it")


def decode_bytes(data: bytes, forced: str | None = None) -> tuple[str, str]:
    """The text and the encoding used. Forced: that encoding, strictly. Detected: UTF-16 with its
    BOM; UTF-8 (BOM or not); a file that is not valid UTF-8 but holds no well-formed multi-byte
    UTF-8 sequence either is single-byte text: Windows-1252 or ISO-8859-15. A file that holds
    UTF-8 sequences and also bytes invalid in UTF-8 (UTF-8 with a damaged byte) is refused with
    the line and byte offset of the first bad byte: reading it whole as another encoding would
    garble every accented letter without a word."""
    if forced:
        try:
            text = data.decode(forced)
        except LookupError:
            raise FileFormatError(f"unknown encoding {forced!r} (try utf-8, cp1252 or iso-8859-15)") from None
        except UnicodeDecodeError as exc:
            raise _bad_byte(data, exc, forced) from None
        return text.lstrip("\ufeff"), forced
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise _bad_byte(data, exc, "utf-16") from None
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:  # a BOM says UTF-8: a bad byte is damage, not another encoding
            raise _bad_byte(data, exc, "utf-8", 3) from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        if _UTF8_MULTIBYTE.search(data):
            raise _bad_byte(data, exc, "utf-8") from None
    # 0x80-0x9F are printable in Windows-1252 (€, quotes, dashes) and control codes in ISO-8859-15
    if re.search(rb"[\x80-\x9f]", data):
        return data.decode("cp1252", errors="replace"), "cp1252"
    return data.decode("iso-8859-15"), "iso-8859-15"


def split_lines(text: str) -> list[str]:
    """Lines without their endings; CR CR LF, CR LF and lone CR all end one line."""
    if "\r" in text:
        text = text.replace("\r\r\n", "\n").replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def sniff_delimiter(lines: list[str], forced: str | None = None) -> str:
    """The separator that splits the header and the next lines into the same number of fields."""
    forced = normalise_delimiter(forced)
    if forced:
        return forced
    sample = [ln for ln in lines[:50] if ln.strip()]
    if not sample:
        raise FileFormatError("the file is empty")
    best, best_score = None, (0, 0)
    for d in DELIMITERS:
        counts = [ln.count(d) for ln in sample]
        nonzero = [c for c in counts if c]
        if not nonzero:
            continue
        # the count most lines share (title lines above the header do not vote against it)
        mode = max(set(nonzero), key=lambda c: (nonzero.count(c), c))
        score = (nonzero.count(mode), mode)
        if score > best_score:
            best, best_score = d, score
    if best is None:
        return ","  # one column: any delimiter reads it the same way
    return best


# --- numbers -----------------------------------------------------------------------------

_CURRENCY_MARKS = str.maketrans("", "", "€$£ \u00a0\u202f'")


def detect_number_format(values: list[str]) -> tuple[str, str]:
    """(decimal, thousands) separators that read every sample value as a number."""
    comma_decimal = dot_decimal = 0
    for v in values[:2000]:
        v = v.strip().translate(_CURRENCY_MARKS)
        if not v:
            continue
        if re.fullmatch(r"[-+(]?\d{1,3}(\.\d{3})+(,\d+)?\)?-?", v) or re.fullmatch(r"[-+(]?\d*,\d{1,2}\)?-?", v):
            comma_decimal += 1
        elif re.fullmatch(r"[-+(]?\d{1,3}(,\d{3})+(\.\d+)?\)?-?", v) or re.fullmatch(r"[-+(]?\d*\.\d+\)?-?", v):
            dot_decimal += 1
    if comma_decimal > dot_decimal:
        return ",", "."
    return ".", ","


def make_cents_parser(decimal: str = ".", thousands: str = "") -> Callable[[str], int]:
    """A function turning '1 234,56' (with the given separators) into 123456 cents.

    Raises ValueError with a readable reason. Accepts signs before or after, accounting
    parentheses, currency marks and spaces; more than 2 decimals are rounded half-up.
    """
    cache: dict[str, int] = {}
    other = "," if decimal == "." else "."

    def parse(raw: str) -> int:
        hit = cache.get(raw)
        if hit is not None:
            return hit
        # fast path: plain 'digits<decimal>dd', the usual shape of ledger and export amounts
        if len(raw) > 3 and raw[-3] == decimal and raw.isascii():
            whole, frac = raw[:-3], raw[-2:]
            if whole.isdigit() and frac.isdigit() and len(whole) < 14:
                return int(whole) * 100 + int(frac)
        s = raw.strip().translate(_CURRENCY_MARKS)
        if not s:
            raise ValueError("empty amount")
        neg = False
        if s[0] == "(" and s[-1] == ")":
            neg, s = True, s[1:-1]
        if s[:1] in "+-":
            neg, s = neg ^ (s[0] == "-"), s[1:]
        elif s[-1:] in "+-":
            neg, s = neg ^ (s[-1] == "-"), s[:-1]
        if thousands:
            s = s.replace(thousands, "")
        if other in s:
            raise ValueError(f"unexpected {other!r} in an amount written with {decimal!r} as decimal separator")
        whole, _, frac = s.partition(decimal)
        if not (whole or frac) or not (whole + frac).isascii() or not (whole + frac).isdigit():
            raise ValueError("not a number")
        if len(frac) <= 2:
            cents = int(whole or "0") * 100 + int((frac + "00")[:2])
        else:
            try:
                cents = int((Decimal(f"{whole or '0'}.{frac}") * 100).quantize(Decimal(1), ROUND_HALF_UP))
            except InvalidOperation:
                raise ValueError("not a number") from None
        if cents >= MAX_ABS_CENTS:
            raise ValueError("amount too large (over 10^13)")
        cents = -cents if neg else cents
        if len(cache) < 200_000:
            cache[raw] = cents
        return cents

    return parse


def make_number_parser(decimal: str = ".", thousands: str = "") -> Callable[[str], float]:
    """Like make_cents_parser, for unit-less numbers (counts, ratios), any number of decimals."""
    def parse(raw: str) -> float:
        s = raw.strip().translate(_CURRENCY_MARKS)
        if thousands:
            s = s.replace(thousands, "")
        if decimal != ".":
            if "." in s:
                raise ValueError(f"unexpected '.' in a number written with {decimal!r} as decimal separator")
            s = s.replace(decimal, ".")
        if not re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d{1,3})?", s):
            raise ValueError("not a number")
        value = float(s)
        if abs(value) >= MAX_ABS_CENTS:
            raise ValueError("number too large")
        return value
    return parse


# --- dates -------------------------------------------------------------------------------

def _strptime_date(value: str, fmt: str) -> dt.date:
    return dt.datetime.strptime(value, fmt).date()


def detect_date_format(values: list[str], month_first: bool = False) -> str | None:
    """The first format that reads every non-empty sample (with or without a time part)."""
    sample = [v.strip() for v in values[:500] if v and v.strip()]
    if not sample:
        return None
    order = list(DATE_FORMATS)
    if month_first:
        for a, b in (("%d/%m/%Y", "%m/%d/%Y"), ("%d/%m/%y", "%m/%d/%y")):
            ia, ib = order.index(a), order.index(b)
            order[ia], order[ib] = order[ib], order[ia]
    best, best_ok = None, 0
    for base in order:
        for suffix in _TIME_SUFFIXES:
            fmt = base + suffix
            ok = 0
            for v in sample:
                try:
                    dt.datetime.strptime(v, fmt)
                    ok += 1
                except ValueError:
                    pass
            if ok == len(sample):
                return fmt
            if ok > best_ok:
                best, best_ok = fmt, ok
    return best


def make_datetime_parser(fmt: str | None) -> Callable[[str], dt.datetime]:
    """A cached parser for one format; also reads ISO 8601 (with offset, turned to naive UTC)."""
    cache: dict[str, dt.datetime] = {}

    def parse(raw: str) -> dt.datetime:
        hit = cache.get(raw)
        if hit is not None:
            return hit
        s = raw.strip()
        if not s:
            raise ValueError("empty date")
        value = None
        if fmt == "%Y%m%d" and len(s) == 8 and s.isdigit() and s.isascii():
            value = dt.datetime(int(s[:4]), int(s[4:6]), int(s[6:]))  # ValueError if impossible
        elif fmt:
            try:
                value = dt.datetime.strptime(s, fmt)
            except ValueError:
                value = None
        if value is None:
            try:
                value = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
            except ValueError:
                raise ValueError(f"not a date in the format {fmt or 'YYYY-MM-DD'}") from None
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        if not 1900 <= value.year <= 2200:
            raise ValueError("date out of range (1900-2200)")
        if len(cache) < 100_000:
            cache[raw] = value
        return value

    return parse


def make_date_parser(fmt: str | None) -> Callable[[str], dt.date]:
    parse_dt = make_datetime_parser(fmt)
    return lambda raw: parse_dt(raw).date()


# --- tables (CSV and XLSX) ----------------------------------------------------------------

@dataclass
class RawTable:
    """A file read as text cells: header labels and (line number, cells) rows."""
    header: list[str]
    rows: list[tuple[int, list[str]]]
    detected: dict[str, str]


def is_xlsx(data: bytes, file_name: str = "") -> bool:
    return data[:4] == b"PK\x03\x04" or file_name.lower().endswith((".xlsx", ".xlsm"))


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ") if (value.hour, value.minute, value.second) != (0, 0, 0) \
            else value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value) if not value.is_integer() else str(int(value))
    return str(value)


def check_xlsx(data: bytes, limits: Limits) -> None:
    """Refuse, before reading it, a workbook whose parts unzip to more than the limits allow: all
    parts by the sizes the zip declares, and the shared-strings table (read whole into memory) by
    inflating it here with a cap, so that a size the zip lies about does not get past either."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            total = sum(i.file_size for i in infos)
            if total > limits.max_xlsx_bytes:
                raise over("max_xlsx_bytes", f"the workbook unzips to {total:,} bytes", limits.max_xlsx_bytes)
            cap = limits.max_xlsx_strings_bytes
            for info in infos:
                if not info.filename.lower().endswith("sharedstrings.xml"):
                    continue
                if info.file_size > cap:
                    raise over("max_xlsx_strings_bytes", f"its shared strings unzip to {info.file_size:,} bytes", cap)
                with zf.open(info) as part:
                    size = 0
                    while chunk := part.read(1 << 20):
                        size += len(chunk)
                        if size > cap:
                            raise over("max_xlsx_strings_bytes", "its shared strings unzip to more than the zip "
                                       "declares", cap)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, NotImplementedError) as exc:
        if isinstance(exc, FileFormatError):
            raise
        raise FileFormatError(f"not a readable XLSX workbook ({type(exc).__name__})") from None


def read_xlsx(data: bytes, sheet: str | None = None) -> RawTable:
    """The first (or the named) sheet, streamed (openpyxl read-only) within the limits: its rows
    as found, never padded to the size its <dimension> claims."""
    from openpyxl import load_workbook
    limits = Limits.from_env()
    check_xlsx(data, limits)
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # zip, xml or openpyxl errors: all mean "not a readable workbook"
        raise FileFormatError(f"not a readable XLSX workbook ({type(exc).__name__})") from None
    try:
        if sheet and sheet not in wb.sheetnames:
            raise FileFormatError(f"no sheet named {sheet!r} (sheets: {', '.join(wb.sheetnames)})")
        ws = wb[sheet] if sheet else wb.worksheets[0]
        ws.reset_dimensions()  # a <dimension> of A1:XFD1048576 would pad every row to 16,384 cells
        header: list[str] | None = None
        rows: list[tuple[int, list[str]]] = []
        for n, values in enumerate(ws.iter_rows(values_only=True), start=1):
            if n > limits.max_rows + 1:
                raise over("max_rows", f"sheet {ws.title!r} has more than {limits.max_rows:,} rows", limits.max_rows)
            width = len(values)
            while width and values[width - 1] is None:
                width -= 1
            if width > limits.max_columns:
                raise over("max_columns", f"row {n} has a value in column {width:,}", limits.max_columns)
            cells = [_cell_text(v).strip() for v in values[:width]]
            if cells and max(map(len, cells)) > limits.max_field_chars:
                raise over("max_field_chars", f"row {n} has a cell of {max(map(len, cells)):,} characters",
                           limits.max_field_chars)
            if header is None:
                if any(cells):
                    header = cells
                continue
            if any(cells):
                rows.append((n, cells))
    finally:
        wb.close()
    if header is None:
        raise FileFormatError("the workbook's first sheet is empty")
    while header and not header[-1]:
        header.pop()
    return RawTable(header, rows, {"format": "xlsx", "sheet": ws.title, "decimal": ".", "thousands": ""})


def read_table(data: bytes, file_name: str, options: ReadOptions) -> RawTable:
    """A CSV (any delimiter, quoted or not) or XLSX file as a header plus text rows, within the limits."""
    if not data.strip():
        raise FileFormatError("the file is empty")
    if is_xlsx(data, file_name):
        return read_xlsx(data, options.sheet)
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileFormatError("this looks like a binary file, not a CSV or XLSX export")
    limits = Limits.from_env()
    check_line_lengths(data, limits.max_line_bytes)
    text, encoding = decode_bytes(data, options.encoding)
    lines = split_lines(text)
    del text
    delimiter = sniff_delimiter(lines, options.delimiter)
    # The csv module's own per-field limit is process-wide: only ever raise it (to the configured
    # limit), never lower it under other readers; the configured limit is checked on each row below.
    if csv.field_size_limit() < limits.max_field_chars:
        csv.field_size_limit(limits.max_field_chars)
    reader = csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter, strict=False)
    del lines
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    line_no = 0
    try:
        for cells in reader:
            start = line_no + 1
            line_no = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(cells) > limits.max_columns:
                raise over("max_columns", f"line {start} has {len(cells):,} fields", limits.max_columns)
            if max(map(len, cells)) > limits.max_field_chars:
                raise over("max_field_chars", f"line {start} has a field of {max(map(len, cells)):,} characters",
                           limits.max_field_chars)
            cells = [c.strip() for c in cells]
            if header is None:
                header = cells
                continue
            if len(rows) >= limits.max_rows:
                raise over("max_rows", f"the file has more than {limits.max_rows:,} rows", limits.max_rows)
            rows.append((start, cells))
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise over("max_field_chars", f"line {line_no + 1} has a longer field", limits.max_field_chars) from None
        raise FileFormatError(f"line {line_no + 1}: {exc}") from None
    if header is None:
        raise FileFormatError("the file has no header line")
    while header and not header[-1]:
        header.pop()
    return RawTable(header, rows, {"format": "csv", "encoding": encoding,
                                   "delimiter": DELIMITER_NAMES.get(delimiter, delimiter)})
