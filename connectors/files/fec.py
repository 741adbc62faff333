"""FEC (Fichier des Ecritures Comptables): the French legal general-ledger export.

Columns are read by header name (case-insensitive), never by position: the 18 standard ones,
extra ones ignored, and the Montant/Sens variant instead of Debit/Credit. Every line is kept
(metrics pick accounts later); an entry (JournalCode + EcritureNum) must balance.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from .detect import (DELIMITER_NAMES, FileFormatError, ReadOptions, decode_bytes, make_cents_parser,
                     split_lines, sniff_delimiter)
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
    revenue_hint: dict = field(default_factory=dict)


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


def parse_fec(data: bytes, file_name: str, options: ReadOptions | None = None,
              progress=None) -> FecFile:
    """Read and validate a FEC file. Never raises for bad content: problems go in the report."""
    options = options or ReadOptions()
    report = ImportReport("fec", file_name, partial_safe=True)
    out = FecFile(report, siren=siren_from_name(file_name))
    try:
        text, encoding = decode_bytes(data, options.encoding)
        lines = split_lines(text)
        if not lines or not lines[0].strip():
            raise FileFormatError("the file is empty" if not text.strip() else "the first line (header) is empty")
        sep = sniff_delimiter(lines[:20], options.delimiter or None)
    except FileFormatError as exc:
        report.add(0, "", "", str(exc))
        return out
    report.detected.update(encoding=encoding, delimiter=DELIMITER_NAMES.get(sep, sep))
    header = [h.strip() for h in lines[0].split(sep)]
    ncols = len(header)
    while header and not header[-1]:
        header.pop()  # a trailing separator at the end of every line
    idx = {h.lower(): i for i, h in enumerate(header) if h}
    has_dc = "debit" in idx and "credit" in idx
    has_ms = "montant" in idx and "sens" in idx
    missing = [c for c in _REQUIRED if c.lower() not in idx]
    if not (has_dc or has_ms):
        missing.append("Debit/Credit (or Montant/Sens)")
    if missing:
        report.add(1, ", ".join(missing), lines[0][:120],
                   "missing FEC column(s): the header must name " + ", ".join(missing))
        return out
    absent = [c for c in STANDARD_COLUMNS if c.lower() not in idx and c not in ("Debit", "Credit")]
    if absent:
        report.add(1, ", ".join(absent), "", "standard FEC column(s) absent; read as empty", "warning")
    extra = [h for h in header if h.lower() not in {c.lower() for c in STANDARD_COLUMNS} | {"montant", "sens"}]
    if extra:
        report.detected["extra columns (ignored)"] = ", ".join(extra)
    report.detected["amounts"] = "Debit/Credit" if has_dc else "Montant/Sens"

    decimal = options.decimal or ("," if _comma_decimal(lines[1:200], sep, idx, has_dc) else ".")
    report.detected["decimal"] = decimal
    cents = make_cents_parser(decimal, options.thousands or "")
    date = _iso_date_parser()
    get = {c: idx.get(c.lower()) for c in STANDARD_COLUMNS}
    i_jc, i_jl, i_en, i_ed = get["JournalCode"], get["JournalLib"], get["EcritureNum"], get["EcritureDate"]
    i_cn, i_cl, i_an, i_al = get["CompteNum"], get["CompteLib"], get["CompAuxNum"], get["CompAuxLib"]
    i_pr, i_pd, i_el, i_lt = get["PieceRef"], get["PieceDate"], get["EcritureLib"], get["EcritureLet"]
    i_dl, i_vd, i_md, i_dv = get["DateLet"], get["ValidDate"], get["Montantdevise"], get["Idevise"]
    if has_dc:
        i_d, i_c = idx["debit"], idx["credit"]
    else:
        i_m, i_s = idx["montant"], idx["sens"]

    add = report.add
    rows = out.rows
    balance: dict[tuple[str, str], int] = {}
    bad_entries: set[tuple[str, str]] = set()
    entry_first: dict[tuple[str, str], int] = {}
    n_read = 0
    min_date = max_date = None
    total = len(lines)
    for line_no in range(2, total + 1):
        line = lines[line_no - 1]
        if progress is not None and line_no % 100_000 == 0:
            progress(line_no / total, f"read {line_no:,} of {total:,} lines")
        if not line.strip():
            continue
        n_read += 1
        f = line.split(sep)
        if len(f) != ncols and not (len(f) == ncols - 1 and len(header) < ncols):
            add(line_no, "", line[:80], f"expected {ncols} fields separated by "
                f"{DELIMITER_NAMES.get(sep, sep)}, found {len(f)} (cut or merged line?)")
            continue
        jc = f[i_jc].strip()
        en = f[i_en].strip()
        key = (jc, en)
        if key not in entry_first:
            entry_first[key] = line_no
        ok = True
        if not jc:
            add(line_no, "JournalCode", "", "empty journal code")
            ok = False
        try:
            ed = date(f[i_ed].strip())
        except ValueError as exc:
            add(line_no, "EcritureDate", f[i_ed], f"unparseable date: {exc}")
            ed, ok = None, False
        cn = f[i_cn].strip()
        if not _valid_account(cn):
            add(line_no, "CompteNum", cn, "unknown account (PCG accounts are numeric, class 1 to 8)")
            ok = False
        try:
            if has_dc:
                ds, cs = f[i_d].strip(), f[i_c].strip()
                debit = cents(ds) if ds else 0
                credit = cents(cs) if cs else 0
            else:
                amount = cents(f[i_m])
                sens = f[i_s].strip().upper()
                if sens in ("D", "+1", "1"):
                    debit, credit = amount, 0
                elif sens in ("C", "-1"):
                    debit, credit = 0, amount
                else:
                    add(line_no, "Sens", sens, "Sens must be D or C (or +1 / -1)")
                    ok = False
        except ValueError as exc:
            add(line_no, "Debit/Credit" if has_dc else "Montant", _amount_text(f, has_dc, idx),
                f"unparseable amount: {exc}")
            ok = False
        opt = []
        for col, i in (("PieceDate", i_pd), ("DateLet", i_dl), ("ValidDate", i_vd)):
            v = f[i].strip() if i is not None else ""
            if v:
                try:
                    v = date(v)
                except ValueError as exc:
                    add(line_no, col, v, f"unparseable date: {exc}")
                    ok = False
            opt.append(v or None)
        md = None
        if i_md is not None:
            v = f[i_md].strip()
            if v:
                try:
                    md = cents(v)
                except ValueError as exc:
                    add(line_no, "Montantdevise", v, f"unparseable amount: {exc}")
                    ok = False
        if not ok:
            bad_entries.add(key)
            continue
        texts = [f[i].strip() if i is not None else "" for i in (i_jl, i_cl, i_an, i_al, i_pr, i_el, i_lt, i_dv)]
        for (name, limit), value in zip((("JournalLib", 255), ("CompteLib", 255), ("CompAuxNum", 64),
                                         ("CompAuxLib", 255), ("PieceRef", 128), ("EcritureLib", 255),
                                         ("EcritureLet", 32), ("Idevise", 3)), texts):
            if len(value) > limit:
                add(line_no, name, value[:40], f"longer than {limit} characters; cut", "warning")
        if len(jc) > 16 or len(en) > 64 or len(cn) > 32:
            add(line_no, "JournalCode/EcritureNum/CompteNum", f"{jc} {en} {cn}", "value too long")
            bad_entries.add(key)
            continue
        jl, cl, an, al, pr, el, lt, dv = texts
        balance[key] = balance.get(key, 0) + debit - credit
        if min_date is None or ed < min_date:
            min_date = ed
        if max_date is None or ed > max_date:
            max_date = ed
        rows.append((line_no, jc, jl[:255] or None, en, ed, cn, cl[:255] or None, an[:64] or None,
                     al[:255] or None, pr[:128] or None, opt[0], el[:255] or None, debit, credit,
                     lt[:32] or None, opt[1], opt[2], md, dv[:3] or None))

    unbalanced = {k: v for k, v in balance.items() if v != 0 and k not in bad_entries}
    for (jc, en), diff in list(unbalanced.items())[:1000]:
        report.add(entry_first[(jc, en)], "EcritureNum", f"{jc} {en}",
                   f"unbalanced entry: debit - credit = {diff / 100:.2f}")
    if len(unbalanced) > 1000:
        report.add(1, "EcritureNum", "", f"{len(unbalanced) - 1000:,} more unbalanced entries not listed")
    drop = bad_entries | set(unbalanced)
    if drop:
        # A valid-only import keeps whole entries: a half-kept entry would unbalance the ledger.
        kept = [r for r in rows if (r[1], r[3]) not in drop]
        out.rows = kept
        min_date = min((r[4] for r in kept), default=None)
        max_date = max((r[4] for r in kept), default=None)
    report.rows_read = n_read
    report.rows_accepted = len(out.rows)
    report.rows_rejected = n_read - len(out.rows)
    if n_read == 0:
        report.add(0, "", "", "the file has a header but no entry lines")
    if min_date:
        report.period = (dt.date.fromisoformat(min_date), dt.date.fromisoformat(max_date))
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
