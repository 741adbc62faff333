"""The column-by-column reading of clean UTF-8 pieces (pyarrow) must give exactly what the
line-by-line reading gives: the same rows, problems, period and bad entries, for the shared files
and for many generated files with the quirks the line-by-line path handles (pieces with one of
them are read line by line)."""
from __future__ import annotations

import random

import pytest

from connectors.files.detect import ReadOptions
from connectors.files.fec import FecReader
from fileimport_helpers import FEC_HEADER, SHARED_FEC

NAME = "123456789FEC20241231.txt"


def _read(data: bytes, fast: bool, monkeypatch, piece: int | None = None, options=None):
    monkeypatch.setattr(FecReader, "fast_path", fast)
    if piece:
        real = FecReader._pieces
        monkeypatch.setattr(FecReader, "_pieces", lambda self, size=1 << 22, **kw: real(self, piece, **kw))
    reader = FecReader(data, NAME, options)
    rows = [r for batch in reader.batches(batch_rows=7) for r in batch]
    monkeypatch.undo()
    return (rows, [p.as_text() for p in reader.report.problems], reader.period, reader.bad_entries,
            reader.report.rows_read), reader.columnar_rows


@pytest.mark.parametrize("name", sorted(p.name for p in SHARED_FEC.glob("*FEC*")))
def test_columnar_reading_equals_line_by_line_on_shared_files(monkeypatch, name):
    data = (SHARED_FEC / name).read_bytes()
    fast, _ = _read(data, True, monkeypatch)
    slow, none = _read(data, False, monkeypatch)
    assert none == 0 and fast == slow


def _line(rng: random.Random, n: int, quirk: str | None) -> list[str]:
    day = f"2024{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    amount = f"{rng.randint(0, 99999)},{rng.randint(0, 99):02d}"
    f = ["VE", "Ventes", str(n), day, rng.choice(["706000", "445710", "411000", "623100"]), "Libellé é",
         "", "", f"F{n}", day if rng.random() < 0.7 else "", f"Facture {n}", amount, "0,00", "", "", day,
         "", ""]
    if rng.random() < 0.1:
        f[16], f[17] = f"{rng.randint(1, 999)},{rng.randint(0, 99):02d}", "USD"
    if rng.random() < 0.1:
        f[13], f[14] = "AB", day
    if quirk == "spaces":
        f[rng.choice([0, 2, 3, 4, 5, 9, 11, 15, 16])] = " " + f[rng.choice([0, 2, 3, 4])] + " "
    elif quirk == "bad_date":
        f[rng.choice([3, 9, 14, 15])] = rng.choice(["20240230", "2024-02-01", "01/02/2024", "2024", "x", "   "])
    elif quirk == "bad_account":
        f[4] = rng.choice(["", "ABC", "906000", "7060000000000000000000000000000000000", "70 6000"])
    elif quirk == "amount":
        f[rng.choice([11, 12, 16])] = rng.choice(["", " ", "12", "1 234,56", "-5,00", "3,456", "1.234,56", "12,5",
                                                  "99999999999999,99", "(4,00)", "€ 7,00", "0,00 "])
    elif quirk == "long":
        f[rng.choice([1, 5, 6, 7, 8, 10, 13, 17])] = "x" * rng.choice([4, 33, 65, 129, 256])
    elif quirk == "journal":
        f[0] = rng.choice(["", "v e", "ve", "JOURNAL_TOO_LONG_17", "é"])
    elif quirk == "num":
        f[2] = rng.choice(["", "0", "A 1", "n°1", "x" * 65, "1/2-3.4_5"])
    elif quirk == "fields":
        f = f[:rng.randint(1, 17)] if rng.random() < 0.5 else f + ["extra"]
    return f


def _generated(seed: int) -> tuple[bytes, ReadOptions | None]:
    rng = random.Random(seed)
    sep = rng.choice(["\t", "\t", "|"])
    ending = rng.choice(["\r\n", "\n", "\r\r\n", "\r"])
    quirks = [None] * 12 + ["spaces", "bad_date", "bad_account", "amount", "long", "journal", "num", "fields",
                            "blank", "unbalanced"]
    lines = [FEC_HEADER.replace("\t", sep)]
    for n in range(1, rng.randint(2, 40)):
        quirk = rng.choice(quirks) if rng.random() < 0.25 else None
        if quirk == "blank":
            lines.append(rng.choice(["", "   "]))
            continue
        first = _line(rng, n, quirk)
        other = _line(rng, n, None)
        if len(first) > 12:  # the balancing line of the entry
            other[3], other[4], other[11], other[12] = first[3], "411000", first[12], first[11]
        if quirk == "unbalanced":
            other[12] = "1,00"
        lines += [sep.join(first), sep.join(other)]
    text = ending.join(lines) + (ending if rng.random() < 0.8 else "")
    bom = "\ufeff" if rng.random() < 0.2 else ""
    return (bom + text).encode("utf-8"), None


def test_columnar_reading_equals_line_by_line_on_generated_files(monkeypatch):
    used = 0
    for seed in range(400):
        data, options = _generated(seed)
        piece = random.Random(seed).choice([None, 64, 300, 2000])
        fast, columnar = _read(data, True, monkeypatch, piece, options)
        slow, none = _read(data, False, monkeypatch, piece, options)
        assert none == 0
        assert fast == slow, f"seed {seed}"
        used += columnar
    assert used > 1000  # the clean pieces were read column by column


def test_columnar_reading_is_used_for_a_clean_file_and_a_decimal_point_one(monkeypatch):
    lines = [FEC_HEADER] + [f"AC\tAchats\t{n}\t20240105\t623100\tPub\t\t\tP{n}\t\tPub {n}\t{n}.50\t0.00\t\t\t\t\t"
                            if n % 2 else f"AC\tAchats\t{n - 1}\t20240105\t401000\tFourn\t\t\tP{n}\t\tPub {n}\t0.00\t"
                            f"{n - 1}.50\t\t\t\t\t" for n in range(1, 201)]
    data = ("\n".join(lines) + "\n").encode()
    fast, columnar = _read(data, True, monkeypatch)
    slow, _ = _read(data, False, monkeypatch)
    assert columnar == 200 and fast == slow and fast[1] == []
    assert fast[0][0][12] == 150 and fast[0][1][13] == 150
