"""FEC (Fichier des Ecritures Comptables): the French legal general-ledger export.

Columns are read by header name (case-insensitive), never by position: the 18 standard ones,
extra ones ignored, and the Montant/Sens variant instead of Debit/Credit. Every line is kept
(metrics pick accounts later); an entry (JournalCode + EcritureNum) must balance.
"""
from __future__ import annotations

import codecs
import datetime as dt
import json
import marshal
import os
import pickle
import re
import struct
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .detect import (DELIMITER_NAMES, FileFormatError, Limits, ReadOptions, check_line_lengths, decode_bytes,
                     make_cents_parser, split_lines, sniff_delimiter)
from .report import ImportReport

STANDARD_COLUMNS = ("JournalCode", "JournalLib", "EcritureNum", "EcritureDate", "CompteNum",
                    "CompteLib", "CompAuxNum", "CompAuxLib", "PieceRef", "PieceDate", "EcritureLib",
                    "Debit", "Credit", "EcritureLet", "DateLet", "ValidDate", "Montantdevise", "Idevise")
_REQUIRED = ("JournalCode", "EcritureNum", "EcritureDate", "CompteNum")

# Store columns written for each line, in insert order (import_id, siren and origin are constants).
ROW_COLUMNS = ("line_no", "journal_code", "journal_lib", "ecriture_num", "ecriture_date", "compte_num",
               "compte_lib", "comp_aux_num", "comp_aux_lib", "piece_ref", "piece_date", "ecriture_lib",
               "debit_cents", "credit_cents", "ecriture_let", "date_let", "valid_date",
               "montant_devise_cents", "idevise")
_FILE_NAME = re.compile(r"^(\d{9,14})FEC(\d{8})", re.IGNORECASE)


@dataclass
class FecFile:
    """A parsed FEC: valid rows (tuples in ROW_COLUMNS order) and what was found."""
    report: ImportReport
    rows: list[tuple] = field(default_factory=list)
    siren: str | None = None


def siren_from_name(file_name: str) -> str | None:
    """The SIREN in `<SIREN>FEC<closing date>.txt`, the name the tax office requires."""
    m = _FILE_NAME.match(file_name.rsplit("/", 1)[-1])
    return m.group(1) if m else None


def _iso_date_parser():
    """'YYYYMMDD' (or 'YYYY-MM-DD', 'DD/MM/YYYY') -> 'YYYY-MM-DD', checked and cached."""
    cache: dict[str, str] = {}

    def parse(s: str) -> str:
        hit = cache.get(s)
        if hit is not None:
            return hit
        if len(s) == 8 and s.isdigit() and s.isascii():
            d = dt.date(int(s[:4]), int(s[4:6]), int(s[6:]))
        elif len(s) == 10 and s[4] == "-":
            d = dt.date.fromisoformat(s)
        elif len(s) == 10 and s[2] == "/" and s[5] == "/":
            d = dt.date(int(s[6:]), int(s[3:5]), int(s[:2]))
        else:
            raise ValueError("not a date (expected YYYYMMDD)")
        if not 1900 <= d.year <= 2200:
            raise ValueError("date out of range (1900-2200)")
        iso = d.isoformat()
        cache[s] = iso
        return iso

    return parse


def _valid_account(compte: str) -> bool:
    """PCG accounts are numeric and start with a class digit 1-8."""
    return compte.isdigit() and compte.isascii() and "1" <= compte[0] <= "8"


def _line_chunks(text: str, size: int = 1 << 22):
    """The text in pieces of whole lines (about `size` characters), to split a few MB at a time."""
    start, n = 0, len(text)
    while start < n:
        end = text.find("\n", min(start + size, n - 1))
        end = n if end == -1 else end + 1
        yield text[start:end]
        start = end


class FecReader:
    """A FEC read in batches of row tuples, with its report filled as lines go by.

    `batches()` can run more than once: a second pass with `skip` leaves out whole entries
    (JournalCode, EcritureNum) found bad in the first, so a valid-only import stays balanced.
    Memory holds the file's bytes (the caller's), one piece of decoded text and one batch, never
    the whole ledger as rows; text in other encodings than UTF-8 and the 8-bit ones is held whole.
    """

    fast_path = True  # clean UTF-8 pieces read column by column (False: line by line only)

    def __init__(self, data: bytes, file_name: str, options: ReadOptions | None = None):
        self.options = options or ReadOptions()
        self.report = ImportReport("fec", file_name, partial_safe=True)
        self.siren = siren_from_name(file_name)
        self.text = ""  # the whole text, when it cannot be decoded piece by piece
        self._bytes: tuple[bytes, int, str, str] | None = None  # data, text start, codec, errors
        self.ok_header = False
        self.bad_entries: set[tuple[str, str]] = set()
        self.period: tuple[dt.date, dt.date] | None = None
        self.rows_yielded = 0
        self.columnar_rows = 0  # rows read by the column-by-column path (the rest line by line)
        self._passes = 0
        report = self.report
        try:
            check_line_lengths(data, Limits.from_env().max_line_bytes)
            text, encoding = decode_bytes(data, self.options.encoding)
            if text.startswith("\ufeff"):
                text = text[1:]
            first_end = text.find("\n")
            head = split_lines(text[:65536] if first_end < 65536 else text[:first_end + 1])
            if not text or text.isspace():  # (no stripped copy of a big text)
                raise FileFormatError("the file is empty")
            if not head or not head[0].strip():
                raise FileFormatError("the first line (header) is empty")
            sep = sniff_delimiter(head[:20], self.options.delimiter or None)
        except FileFormatError as exc:
            report.add(0, "", "", str(exc))
            return
        report.detected.update(encoding=encoding, delimiter=DELIMITER_NAMES.get(sep, sep))
        header = [h.strip() for h in head[0].split(sep)]
        self.ncols = len(header)
        while header and not header[-1]:
            header.pop()  # a trailing separator at the end of every line
        self.header = header
        idx = {h.lower(): i for i, h in enumerate(header) if h}
        self.has_dc = "debit" in idx and "credit" in idx
        has_ms = "montant" in idx and "sens" in idx
        missing = [c for c in _REQUIRED if c.lower() not in idx]
        if not (self.has_dc or has_ms):
            missing.append("Debit/Credit (or Montant/Sens)")
        if missing:
            report.add(1, ", ".join(missing), head[0][:120],
                       "missing FEC column(s): the header must name " + ", ".join(missing))
            return
        absent = [c for c in STANDARD_COLUMNS if c.lower() not in idx and c not in ("Debit", "Credit")]
        if absent:
            report.add(1, ", ".join(absent), "", "standard FEC column(s) absent; read as empty", "warning")
        known = {c.lower() for c in STANDARD_COLUMNS} | {"montant", "sens"}
        extra = [h for h in header if h.lower() not in known]
        if extra:
            report.detected["extra columns (ignored)"] = ", ".join(extra)
        report.detected["amounts"] = "Debit/Credit" if self.has_dc else "Montant/Sens"
        self.decimal = self.options.decimal or ("," if _comma_decimal(head[1:200], sep, idx, self.has_dc) else ".")
        report.detected["decimal"] = self.decimal
        self.sep, self.idx, self.ok_header = sep, idx, True
        self._keep_text(data, text, encoding)

    def _keep_text(self, data: bytes, text: str, encoding: str) -> None:
        """Keep a way to read `text` again: pieces of `data` decoded as they are read when the
        encoding allows cutting the bytes at any newline (UTF-8, 8-bit), else the text itself."""
        try:
            codec = codecs.lookup("utf-8" if encoding == "utf-8-sig" else encoding).name
        except LookupError:
            codec = ""
        if codec == "utf-8":  # the text starts after the BOMs that were stripped
            start = 0
            while data.startswith(codecs.BOM_UTF8, start):
                start += 3
            left = 0
            while text.startswith("\ufeff", left):
                left += 1
            self._bytes = (data, start - 3 * left, codec, "strict")
        elif codec in ("cp1252", "iso8859-15", "latin-1", "iso8859-1"):
            self._bytes = (data, 0, codec, "strict" if self.options.encoding else "replace")
        else:
            self.text = text

    def _pieces(self, size: int = 1 << 22, raw: bool = False, first: int | None = None):
        """The text in pieces of whole lines (about `size` bytes or characters; with `first`, the
        first one about `first` and each next one four times bigger up to `size`); with `raw`, the
        undecoded bytes of each piece (only when the text is read from the bytes)."""
        if self._bytes is None:
            yield from _line_chunks(self.text, size)
            return
        data, start, codec, errors = self._bytes
        n = len(data)
        step = first or size
        while start < n:
            end = data.find(b"\n", min(start + step, n - 1))
            end = n if end == -1 else end + 1
            yield data[start:end] if raw else data[start:end].decode(codec, errors)
            start, step = end, min(step * 4, size)

    def batches(self, batch_rows: int = 50_000, skip: set | frozenset = frozenset(), progress=None,
                first_batch_rows: int | None = None):
        """Lists of valid row tuples (ROW_COLUMNS order); problems are reported on the first pass
        only. With `first_batch_rows`, the first list comes as soon as that many rows are read
        and each next one is four times bigger up to `batch_rows` (a writer waiting for them
        starts sooner)."""
        if not self.ok_header:
            return
        self._passes += 1
        first_pass = self._passes == 1
        report, sep, idx, has_dc, ncols = self.report, self.sep, self.idx, self.has_dc, self.ncols
        add = report.add if first_pass else (lambda *a, **k: None)
        cents = make_cents_parser(self.decimal, self.options.thousands or "")
        date = _iso_date_parser()
        accounts: dict[str, str] = {}
        get = {c: idx.get(c.lower()) for c in STANDARD_COLUMNS}
        i_jc, i_jl, i_en, i_ed = get["JournalCode"], get["JournalLib"], get["EcritureNum"], get["EcritureDate"]
        i_cn, i_cl, i_an, i_al = get["CompteNum"], get["CompteLib"], get["CompAuxNum"], get["CompAuxLib"]
        i_pr, i_pd, i_el, i_lt = get["PieceRef"], get["PieceDate"], get["EcritureLib"], get["EcritureLet"]
        i_dl, i_vd, i_md, i_dv = get["DateLet"], get["ValidDate"], get["Montantdevise"], get["Idevise"]
        i_d, i_c = (idx["debit"], idx["credit"]) if has_dc else (idx["montant"], idx["sens"])
        text_cols = [(name, i, limit) for name, i, limit in (
            ("JournalLib", i_jl, 255), ("CompteLib", i_cl, 255), ("CompAuxNum", i_an, 64),
            ("CompAuxLib", i_al, 255), ("PieceRef", i_pr, 128), ("EcritureLib", i_el, 255),
            ("EcritureLet", i_lt, 32), ("Idevise", i_dv, 3))]
        balance: dict[tuple[str, str], int] = {}
        entry_first: dict[tuple[str, str], int] = {}
        # an entry repeated verbatim repeats its first line: each entry's first line (its hash) is
        # kept, entries where it comes again are candidates, checked exactly once the pass ends
        first_hash: dict[tuple[str, str], int] = {}
        fget = first_hash.get
        candidates: set[tuple[str, str]] = set()
        bad: set = set()
        skip_set = frozenset(skip) if not first_pass else frozenset()
        batch: list[tuple] = []
        n_read = 0
        min_date = max_date = None
        total = max(len(self._bytes[0]) - self._bytes[1] if self._bytes else len(self.text), 1)
        done_chars = 0
        line_no = 1
        header_pending = True
        # a missing optional column reads the empty field appended to every line
        col = [ncols if i is None else i for i in (i_pd, i_dl, i_vd, i_md)]
        i_pd, i_dl, i_vd, i_md = col
        text_idx = [ncols if i is None else i for _, i, _ in text_cols]
        dcache: dict[str, str] = {"": None}
        dget = dcache.get
        ccache: dict[str, int] = {}
        cget = ccache.get
        thousands = bool(self.options.thousands)
        fast_comma = "" if thousands else self.decimal  # "" never equals a character: no fast path

        def opt_date(raw: str):
            v = dget(raw, False)
            if v is not False:
                return v
            v = raw.strip()
            v = date(v) if v else None  # ValueError: reported by the caller
            dcache[raw] = v
            return v

        def amount(raw: str) -> int:
            v = cget(raw)
            if v is not None:
                return v
            if not thousands and len(raw) > 3 and raw[-3] == fast_comma:
                whole, frac = raw[:-3], raw[-2:]
                if whole.isdigit() and frac.isdigit() and whole.isascii() and frac.isascii() and len(whole) < 14:
                    return int(whole) * 100 + int(frac)
            v = cents(raw) if raw and not raw.isspace() else 0
            if len(ccache) < 100_000:
                ccache[raw] = v
            return v

        # padded files (fixed-width exports) need every text stripped; most files need none
        sample = split_lines(next(self._pieces(200_000), ""))[1:500]
        padded = any(v != v.strip() for line in sample for v in line.split(sep))
        columnar = None
        if (self.fast_path and not skip_set and has_dc and not padded and not thousands and self._bytes
                and self._bytes[2:] == ("utf-8", "strict")):
            columnar = _columnar_reader(self, date)

        def take(rows: list[tuple], entries: list[tuple], lo: str, hi: str, lines_of):
            nonlocal n_read, min_date, max_date
            # the entries' first lines and balances, the period: as the line-by-line path does
            for key, first, diff, first_text, repeats in entries:
                if key not in entry_first:
                    entry_first[key] = first
                    first_hash[key] = hash(first_text)
                    if repeats:  # a line of the entry comes twice in this piece
                        candidates.add(key)
                elif repeats or fget(key) in map(hash, lines_of(key)):  # continued from an earlier piece
                    candidates.add(key)
                balance[key] = bget(key, 0) + diff
            if min_date is None or lo < min_date:
                min_date = lo
            if max_date is None or hi > max_date:
                max_date = hi
            n_read += len(rows)

        bget = balance.get
        limit = min(first_batch_rows or batch_rows, batch_rows)  # rows in the next batch
        # a first piece of about 110 bytes per wanted row (a typical FEC line), so it comes soon
        first_piece = 110 * first_batch_rows if first_batch_rows and first_batch_rows < batch_rows else None
        for piece in self._pieces(raw=columnar is not None, first=first_piece):
            if columnar is not None:
                found = columnar(piece, header_pending, line_no + 1)
                done_chars += len(piece)
                if found is not None:  # every line of the piece well formed and valid
                    rows = found[0]
                    self.columnar_rows += len(rows)
                    take(*found)
                    line_no += len(rows)
                    header_pending = False
                    batch.extend(rows)
                    while len(batch) >= limit:
                        out, batch = batch[:limit], batch[limit:]
                        self.rows_yielded += len(out)
                        limit = min(limit * 4, batch_rows)
                        yield out
                    if progress is not None:
                        progress(min(done_chars / total, 1.0), f"read {line_no:,} lines")
                    continue
                piece = piece.decode("utf-8")  # read line by line: finds and reports what is wrong
            else:
                done_chars += len(piece)
            lines = split_lines(piece)
            if header_pending:
                lines, header_pending = lines[1:], False
            for line in lines:
                line_no += 1
                if not line or line.isspace():
                    continue
                n_read += 1
                f = line.split(sep)
                nf = len(f)
                if nf != ncols and not (nf == ncols - 1 and len(self.header) < ncols):
                    add(line_no, "", line[:80], f"expected {ncols} fields separated by "
                        f"{DELIMITER_NAMES.get(sep, sep)}, found {nf} (cut or merged line?)")
                    continue
                if nf < ncols:
                    f.append("")
                f.append("")
                jc = f[i_jc].strip()
                en = f[i_en].strip()
                key = (jc, en)
                if skip_set and key in skip_set:
                    continue
                if key not in entry_first:
                    entry_first[key] = line_no
                ok = True
                if not jc:
                    add(line_no, "JournalCode", "", "empty journal code")
                    ok = False
                raw = f[i_ed]
                ed = dget(raw)
                if ed is None:
                    try:
                        ed = dcache[raw] = date(raw.strip())
                    except ValueError as exc:
                        add(line_no, "EcritureDate", raw, f"unparseable date: {exc}")
                        ok = False
                cn = f[i_cn]
                valid = accounts.get(cn)
                if valid is None:
                    stripped = cn.strip()
                    valid = accounts[cn] = stripped if _valid_account(stripped) and len(stripped) <= 32 else ""
                if not valid:
                    add(line_no, "CompteNum", cn.strip(), "unknown account (PCG accounts are numeric, class 1 to 8)")
                    ok = False
                cn = valid
                try:
                    if has_dc:  # inline: 'digits<decimal>dd' (ASCII, < 14 digits before) -> int of the digits
                        raw = f[i_d]
                        if len(raw) > 3 and raw[-3] == fast_comma and (d := raw[:-3] + raw[-2:]).isdigit() \
                                and d.isascii() and len(d) < 16:
                            debit = int(d)
                        else:
                            debit = amount(raw)
                        raw = f[i_c]
                        if len(raw) > 3 and raw[-3] == fast_comma and (d := raw[:-3] + raw[-2:]).isdigit() \
                                and d.isascii() and len(d) < 16:
                            credit = int(d)
                        else:
                            credit = amount(raw)
                    else:
                        value = cents(f[i_d])
                        sens = f[i_c].strip().upper()
                        if sens in ("D", "+1", "1"):
                            debit, credit = value, 0
                        elif sens in ("C", "-1"):
                            debit, credit = 0, value
                        else:
                            add(line_no, "Sens", sens, "Sens must be D or C (or +1 / -1)")
                            ok = False
                except ValueError as exc:
                    add(line_no, "Debit/Credit" if has_dc else "Montant", _amount_text(f, has_dc, idx),
                        f"unparseable amount: {exc}")
                    ok = False
                try:
                    pdate, dlet, vdate = dget(f[i_pd], False), dget(f[i_dl], False), dget(f[i_vd], False)
                    if pdate is False or dlet is False or vdate is False:  # a value not seen yet
                        pdate = opt_date(f[i_pd])
                        dlet = opt_date(f[i_dl])
                        vdate = opt_date(f[i_vd])
                except ValueError as exc:
                    for name, i in (("PieceDate", i_pd), ("DateLet", i_dl), ("ValidDate", i_vd)):
                        try:
                            opt_date(f[i])
                        except ValueError:
                            add(line_no, name, f[i].strip(), f"unparseable date: {exc}")
                    ok = False
                md = f[i_md]
                if md:
                    try:
                        md = cents(md) if not md.isspace() else None
                    except ValueError as exc:
                        add(line_no, "Montantdevise", md.strip(), f"unparseable amount: {exc}")
                        ok = False
                else:
                    md = None
                if len(jc) > 16 or len(en) > 64:
                    add(line_no, "JournalCode/EcritureNum", f"{jc} {en}", "value too long")
                    ok = False
                if not ok:
                    bad.add(key)
                    continue
                texts = [f[i].strip() or None for i in text_idx] if padded else [f[i] or None for i in text_idx]
                if len(line) > 120 or (texts[7] and len(texts[7]) > 3) or (texts[6] and len(texts[6]) > 32):
                    for k, (name, _i, limit) in enumerate(text_cols):
                        v = texts[k]
                        if v and len(v) > limit:
                            add(line_no, name, v[:40], f"longer than {limit} characters; cut", "warning")
                            texts[k] = v[:limit]
                jl, cl, an, al, pr, el, lt, dv = texts
                balance[key] = balance.get(key, 0) + debit - credit
                h = fget(key)
                if h is None:
                    first_hash[key] = hash(line)
                elif h == hash(line):
                    candidates.add(key)
                if min_date is None or ed < min_date:
                    min_date = ed
                if max_date is None or ed > max_date:
                    max_date = ed
                batch.append((line_no, jc, jl, en, ed, cn, cl, an, al, pr, pdate, el, debit, credit,
                              lt, dlet, vdate, md, dv))
                if len(batch) >= limit:
                    self.rows_yielded += len(batch)
                    limit = min(limit * 4, batch_rows)
                    yield batch
                    batch = []
            if progress is not None:
                progress(min(done_chars / total, 1.0), f"read {line_no:,} lines")
        if batch:
            self.rows_yielded += len(batch)
            yield batch
        if first_pass:
            # an entry whose lines are the same lines twice (or more) over, a block pasted again: refused
            del first_hash
            candidates -= bad
            if candidates:
                for key, lines in sorted(self._entry_lines(candidates).items(), key=lambda kv: kv[1][0][0]):
                    copies = _copies(lines)
                    if copies < 2:
                        continue
                    size = len(lines) // copies
                    report.add(lines[0][0], "EcritureNum", f"{key[0]} {key[1]}",
                               f"duplicate entry: its {size} line(s) (lines {_line_list([n for n, _ in lines[:size]])})"
                               f" are repeated verbatim {copies - 1} more time(s) (lines "
                               f"{_line_list([n for n, _ in lines[size:]])}); it would count {copies} times")
                    bad.add(key)
            unbalanced = {k: v for k, v in balance.items() if v != 0 and k not in bad}
            for (jc, en), diff in list(unbalanced.items())[:1000]:
                report.add(entry_first[(jc, en)], "EcritureNum", f"{jc} {en}",
                           f"unbalanced entry: debit - credit = {diff / 100:.2f}")
            if len(unbalanced) > 1000:
                report.add(1, "EcritureNum", "", f"{len(unbalanced) - 1000:,} more unbalanced entries not listed")
            self.bad_entries = bad | set(unbalanced)
            report.rows_read = n_read
            if n_read == 0:
                report.add(0, "", "", "the file has a header but no entry lines")
        if min_date:
            self.period = (dt.date.fromisoformat(min_date), dt.date.fromisoformat(max_date))


    def _entry_lines(self, keys: set) -> dict[tuple[str, str], list[tuple[int, str]]]:
        """The lines (number, text) of the given entries (JournalCode, EcritureNum), read again."""
        out: dict[tuple[str, str], list[tuple[int, str]]] = {k: [] for k in keys}
        i_jc, i_en, sep = self.idx["journalcode"], self.idx["ecriturenum"], self.sep
        line_no = 0
        for piece in self._pieces():
            for line in split_lines(piece):
                line_no += 1
                if line_no == 1 or not line or line.isspace():
                    continue
                f = line.split(sep)
                if len(f) > max(i_jc, i_en):
                    hit = out.get((f[i_jc].strip(), f[i_en].strip()))
                    if hit is not None:
                        hit.append((line_no, line))
        return out


def _copies(lines: list[tuple[int, str]]) -> int:
    """How many times over an entry's lines repeat one block (the same lines, in any order): the
    largest c >= 2 such that its c consecutive parts hold the same lines; 1 when none."""
    texts = [text for _, text in lines]
    n = len(texts)
    for c in range(n, 1, -1):
        if n % c:
            continue
        size = n // c
        first = Counter(texts[:size])
        if all(Counter(texts[i:i + size]) == first for i in range(size, n, size)):
            return c
    return 1


def _line_list(lines: list[int]) -> str:
    """'2-4' for consecutive lines, else '2, 7, 9' (at most 20 listed)."""
    if lines and lines[-1] - lines[0] == len(lines) - 1 and len(lines) > 2:
        return f"{lines[0]}-{lines[-1]}"
    return ", ".join(map(str, lines[:20])) + (" ..." if len(lines) > 20 else "")


def _columnar_reader(reader: FecReader, date):
    """For a UTF-8 file read from its bytes: a function reading a piece of whole lines with
    pyarrow's CSV reader and checking it column by column (each distinct date, account and
    journal code once, amounts and lengths by vectorised kernels), returning the piece's row
    tuples exactly as the line-by-line path would, or None when any line is not of the plain,
    valid shape checked here (the line-by-line path then reads that piece and reports). None
    when pyarrow is not installed."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.csv as pcsv
    except ImportError:
        return None
    ncols, idx, sep, dec = reader.ncols, reader.idx, reader.sep, reader.decimal
    names = [f"c{i}" for i in range(ncols)]
    parse_options = pcsv.ParseOptions(delimiter=sep, quote_char=False, double_quote=False, escape_char=False,
                                      newlines_in_values=False, ignore_empty_lines=False)
    convert_options = pcsv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=False,
                                          quoted_strings_can_be_null=False, check_utf8=True)
    get = {c: idx.get(c.lower()) for c in STANDARD_COLUMNS}
    number = f"[0-9]{{1,13}}{re.escape(dec)}[0-9]{{2}}"
    amount_re, plain_number = f"^(?:{number})?$", re.compile(number)
    code = "[0-9A-Za-z_./-]"  # journal codes and entry numbers: nothing strip() would change
    texts = (("JournalLib", 255), ("CompteLib", 255), ("CompAuxNum", 64), ("CompAuxLib", 255), ("PieceRef", 128),
             ("EcritureLib", 255), ("EcritureLet", 32), ("Idevise", 3))
    accounts: dict[str, str] = {}
    nget = {"": None}.get

    class Unfit(Exception):
        pass

    def account(v: str) -> str:
        if not (_valid_account(v) and len(v) <= 32):
            raise Unfit
        return v

    def optional_date(v: str):
        return date(v) if v else None

    def optional_amount(v: str):
        if not v:
            return None
        if not plain_number.fullmatch(v):
            raise Unfit
        return int(v.replace(dec, ""))

    def read(raw: bytes, header: bool, first_no: int) -> list[tuple] | None:
        try:
            table = pcsv.read_csv(pa.py_buffer(raw), read_options=pcsv.ReadOptions(
                column_names=names, skip_rows=1 if header else 0, block_size=len(raw) + 1, use_threads=False),
                parse_options=parse_options, convert_options=convert_options)
        except (pa.ArrowException, ValueError):
            return None  # a line with another number of fields, bad UTF-8...
        n = table.num_rows
        if not n:
            return None
        cols = {}
        for name, i in get.items():
            cols[name] = table.column(i).combine_chunks() if i is not None else None

        def matches(column, pattern: str) -> bool:
            return pc.all(pc.match_substring_regex(column, pattern)).as_py() is True

        def by_value(column, convert) -> list:
            """The column's values converted once per distinct value (shared objects)."""
            if column is None:
                return [convert("")] * n
            encoded = pc.dictionary_encode(column)
            values = [convert(v) for v in encoded.dictionary.to_pylist()]
            return list(map(values.__getitem__, encoded.indices.to_pylist()))

        try:
            if not (matches(cols["JournalCode"], f"^{code}{{1,16}}$")
                    and matches(cols["EcritureNum"], f"^{code}{{0,64}}$")
                    and matches(cols["Debit"], amount_re) and matches(cols["Credit"], amount_re)):
                return None
            out_texts = []
            for name, limit in texts:
                column = cols[name]
                if column is None:
                    out_texts.append([None] * n)
                    continue
                if (pc.max(pc.utf8_length(column)).as_py() or 0) > limit:
                    return None  # the line-by-line path cuts it and warns
                if name in ("PieceRef", "EcritureLib"):  # mostly one value per entry
                    values = column.to_pylist()
                    out_texts.append(list(map(nget, values, values)))  # '' -> None
                else:  # a few values repeated: converted once each
                    out_texts.append(by_value(column, lambda v: v or None))
            jl, cl, an, al, pr, el, lt, dv = out_texts
            jcs = by_value(cols["JournalCode"], str)
            ens = cols["EcritureNum"].to_pylist()
            eds = by_value(cols["EcritureDate"], date)
            cns = by_value(cols["CompteNum"], lambda v: accounts.get(v) or accounts.setdefault(v, account(v)))
            pds = by_value(cols["PieceDate"], optional_date)
            dls = by_value(cols["DateLet"], optional_date)
            vds = by_value(cols["ValidDate"], optional_date)
            mds = by_value(cols["Montantdevise"], optional_amount)
        except (Unfit, ValueError):
            return None
        money = []
        for name in ("Debit", "Credit"):
            digits = pc.replace_substring(cols[name], pattern=dec, replacement="")
            digits = pc.if_else(pc.equal(digits, ""), "0", digits)  # an empty amount is 0
            money.append(pc.cast(digits, pa.int64()))
        debits, credits = money
        # each entry's first line and debit - credit in this piece, summed by arrow
        line_nos = pa.array(range(first_no, first_no + n), pa.int64())
        # each line's text (as the line-by-line path sees it): an entry repeated verbatim repeats lines
        whole = pa.array([raw], pa.binary()).cast(pa.string())
        line_texts = pc.list_flatten(pc.split_pattern(whole, "\n") if b"\r" not in raw
                                     else pc.split_pattern_regex(whole, "\r\n|\r|\n")).slice(1 if header else 0, n)
        keyed = pa.table({"jc": cols["JournalCode"], "en": cols["EcritureNum"], "line": line_nos,
                          "diff": pc.subtract(debits, credits), "text": line_texts})
        by_entry = keyed.group_by(["jc", "en"], use_threads=False).aggregate(
            [("line", "min"), ("diff", "sum"), ("text", "first"), ("text", "count_distinct"), ("text", "count")])
        repeats = pc.less(by_entry.column("text_count_distinct"), by_entry.column("text_count")).to_pylist()
        entries = list(zip(zip(by_entry.column("jc").to_pylist(), by_entry.column("en").to_pylist()),
                           by_entry.column("line_min").to_pylist(), by_entry.column("diff_sum").to_pylist(),
                           by_entry.column("text_first").to_pylist(), repeats))
        entries.sort(key=lambda e: e[1])  # in the order the entries first appear, as line by line
        isos = set(eds)
        rows = list(zip(range(first_no, first_no + n), jcs, jl, ens, eds, cns, cl, an, al, pr, pds, el,
                        debits.to_pylist(), credits.to_pylist(), lt, dls, vds, mds, dv))
        def lines_of(key: tuple[str, str]) -> list[str]:
            """The piece's lines of one entry (an entry continued from an earlier piece)."""
            mask = pc.and_(pc.equal(keyed.column("jc"), key[0]), pc.equal(keyed.column("en"), key[1]))
            return keyed.column("text").filter(mask).to_pylist()

        return rows, entries, min(isos), max(isos), lines_of

    return read


def parse_fec(data: bytes, file_name: str, options: ReadOptions | None = None,
              progress=None) -> FecFile:
    """Read and validate a whole FEC into memory (previews, small files, tests). Never raises for
    bad content: problems go in the report; rows of bad or unbalanced entries are left out."""
    reader = FecReader(data, file_name, options)
    out = FecFile(reader.report, siren=reader.siren)
    rows = [r for batch in reader.batches(progress=progress) for r in batch]
    if reader.bad_entries:
        rows = [r for r in rows if (r[1], r[3]) not in reader.bad_entries]
    out.rows = rows
    report = reader.report
    report.rows_accepted = len(rows)
    report.rows_rejected = report.rows_read - len(rows)
    if rows:
        report.period = (dt.date.fromisoformat(min(r[4] for r in rows)),
                         dt.date.fromisoformat(max(r[4] for r in rows)))
    return out


def _amount_text(f: list[str], has_dc: bool, idx: dict) -> str:
    if has_dc:
        return f"{f[idx['debit']].strip()} / {f[idx['credit']].strip()}"
    return f[idx["montant"]].strip()


def _comma_decimal(lines: list[str], sep: str, idx: dict, has_dc: bool) -> bool:
    """True when the amounts are written with a decimal comma (the FEC norm)."""
    cols = [idx["debit"], idx["credit"]] if has_dc else [idx["montant"]]
    for line in lines:
        f = line.split(sep)
        for i in cols:
            if i < len(f):
                v = f[i].strip()
                if "," in v:
                    return True
                if "." in v:
                    return False
    return True


# --- a second process for big files -----------------------------------------------------------

PARALLEL_MIN_BYTES = 8 << 20  # below this, starting a process costs more than it saves
_PROJECT_DIR = Path(__file__).resolve().parents[2]


class ParallelUnavailable(RuntimeError):
    """The parsing process could not run; read in-process instead (nothing was yielded)."""


_HEAD = struct.Struct("<cQ")  # message kind ('R' rows, 'D' done, 'E' error) and payload length


def write_message(out, kind: str, payload) -> None:
    """One framed message from the parsing process: rows as marshal (plain tuples of str, int
    and None), the final report or an error as pickle."""
    data = marshal.dumps(payload) if kind == "rows" else pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(_HEAD.pack({"rows": b"R", "done": b"D", "error": b"E"}[kind], len(data)))
    out.write(data)


def read_message(stream) -> tuple[str, object]:
    """The next message written by `write_message`; EOFError when the stream ends early."""
    head = stream.read(_HEAD.size)
    if len(head) < _HEAD.size:
        raise EOFError("the parsing process ended without a final message")
    kind, size = _HEAD.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the parsing process ended in the middle of a message")
    if kind == b"R":
        return "rows", marshal.loads(data)
    if kind in (b"D", b"E"):
        return ("done" if kind == b"D" else "error"), pickle.loads(data)
    raise ValueError(f"unknown message from the parsing process: {kind!r}")


def _widen(pipe, size: int = 1 << 20) -> None:
    """A 1 MB pipe buffer instead of 64 kB where the system allows it (Linux): the file and the
    batches cross in 16 times fewer steps (a 100 MB file: 0.2 s -> 0.05 s on its way in)."""
    try:
        import fcntl
        fcntl.fcntl(pipe.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), size)
    except (ImportError, OSError, ValueError):
        pass


class ParsingProcess:
    """A second process parsing a big FEC (`python -m connectors.files.fec_worker`) while this one
    writes, so that parsing and writing overlap on two cores. Start it as early as possible: its
    interpreter and imports then overlap the caller's own checks (hash, header, import record).
    The file's bytes reach it on its stdin, written by a thread (no temporary file); batches come
    back as framed messages on its stdout, and the pipe's back-pressure keeps memory bounded.
    `close()` always: it stops the process if the import ends early."""

    def __init__(self, data: bytes, file_name: str, options: ReadOptions | None = None,
                 batch_rows: int = 50_000, first_batch_rows: int = 2_000):
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(_PROJECT_DIR),
                                                                        os.environ.get("PYTHONPATH")])))
        cmd = [sys.executable, "-m", "connectors.files.fec_worker", "-", file_name, str(batch_rows),
               json.dumps(asdict(options or ReadOptions())), str(first_batch_rows)]
        self.used = False
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL, cwd=_PROJECT_DIR, env=env)
        except OSError as exc:
            self.proc, self.error = None, str(exc)
        self.lines = max(data.count(b"\n"), 1)  # for progress, counted while the process starts
        if self.proc is None:
            return
        for pipe in (self.proc.stdin, self.proc.stdout):
            _widen(pipe)
        self._feeder = threading.Thread(target=self._feed, args=(data,), name="fec-feed", daemon=True)
        self._feeder.start()

    def _feed(self, data: bytes) -> None:
        stdin = self.proc.stdin
        try:
            stdin.write(data)  # in the kernel's pipe-sized steps, the GIL released for each
        except OSError:  # the process ended or was stopped: its stdout says why
            pass
        finally:
            try:
                stdin.close()
            except OSError:
                pass

    def batches(self, reader: FecReader, progress=None):
        """Like `reader.batches()` (first pass), from the process; updates `reader` with its report.
        ParallelUnavailable before any row was yielded when the process cannot do it."""
        if self.proc is None:
            raise ParallelUnavailable(self.error)
        if self.used:
            raise ParallelUnavailable("the parsing process has already been read")
        self.used = True
        done = 0
        while True:
            try:
                kind, payload = read_message(self.proc.stdout)
            except (EOFError, ValueError, pickle.UnpicklingError) as exc:
                if done:
                    raise RuntimeError("the parsing process stopped before the end of the file") from None
                raise ParallelUnavailable(f"no answer from the parsing process ({type(exc).__name__})") from None
            if kind == "error":
                if done:
                    raise RuntimeError(f"the parsing process failed: {payload}")
                raise ParallelUnavailable(payload)
            if kind == "done":
                report, reader.bad_entries, reader.period, reader.rows_yielded = payload
                mine = reader.report
                mine.problems[:] = report.problems
                mine.detected.update(report.detected)
                mine.rows_read = report.rows_read
                reader._passes = 1
                return
            done += len(payload)
            if progress is not None:
                progress(min(done / self.lines, 1.0), f"read {done:,} lines")
            yield payload

    def close(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._feeder.join()
        self.proc.stdout.close()
