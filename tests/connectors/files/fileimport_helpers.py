"""Shared helpers for the file-import tests: paths, a small valid FEC, store sums."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from store import schema as s

ROOT = Path(__file__).resolve().parents[3]
SHARED_FEC = ROOT / "tests" / "data" / "fec"
SHARED_SPEND = ROOT / "tests" / "data" / "marketing_spend"
FIXTURES = ROOT / "tests" / "fixtures" / "files"

FEC_HEADER = ("JournalCode\tJournalLib\tEcritureNum\tEcritureDate\tCompteNum\tCompteLib\tCompAuxNum\t"
              "CompAuxLib\tPieceRef\tPieceDate\tEcritureLib\tDebit\tCredit\tEcritureLet\tDateLet\t"
              "ValidDate\tMontantdevise\tIdevise")


def fec_line(journal: str, num: str, date: str, account: str, debit: str, credit: str,
             label: str = "Facture") -> str:
    return (f"{journal}\tJournal {journal}\t{num}\t{date}\t{account}\tCompte {account}\t\t\t"
            f"P{num}\t{date}\t{label}\t{debit}\t{credit}\t\t\t{date}\t\t")


def small_fec(extra: list[str] | None = None, sale: str = "1000,00") -> bytes:
    """Two balanced entries in January 2024: a 1,000.00 sale (+20% VAT) and a 300.00 ad spend."""
    net = int(sale.replace(",", "")) // 100
    vat = f"{net // 5},00"
    ttc = f"{net + net // 5},00"
    lines = [FEC_HEADER,
             fec_line("VE", "1", "20240105", "706000", "0,00", sale),
             fec_line("VE", "1", "20240105", "445710", "0,00", vat),
             fec_line("VE", "1", "20240105", "411000", ttc, "0,00"),
             fec_line("AC", "2", "20240120", "623100", "300,00", "0,00"),
             fec_line("AC", "2", "20240120", "401000", "0,00", "300,00")]
    return ("\r\n".join(lines + (extra or [])) + "\r\n").encode("utf-8")


def ledger_totals(engine, siren: str | None = None) -> dict:
    """Line count, revenue (credit - debit on 70x) and 623x spend (debit - credit), in cents."""
    t = s.ledger_entries
    where = [t.c.siren == siren] if siren else []
    with engine.connect() as conn:
        def total(expr, prefix):
            return conn.execute(select(func.coalesce(func.sum(expr), 0))
                                .where(t.c.compte_num.like(prefix + "%"), *where)).scalar_one()
        return {
            "lines": conn.execute(select(func.count()).select_from(t).where(*where)).scalar_one(),
            "revenue": total(t.c.credit_cents - t.c.debit_cents, "70"),
            "sm_spend": total(t.c.debit_cents - t.c.credit_cents, "623"),
            "debit": conn.execute(select(func.coalesce(func.sum(t.c.debit_cents), 0)).where(*where)).scalar_one(),
            "credit": conn.execute(select(func.coalesce(func.sum(t.c.credit_cents), 0)).where(*where)).scalar_one(),
        }


def count_rows(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()
