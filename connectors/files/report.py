"""The validation report: every problem with file, line, column, value and reason."""
from __future__ import annotations

from dataclasses import dataclass, field

MAX_LISTED = 50  # problems printed in full; the rest are counted by reason


@dataclass(frozen=True)
class Problem:
    """One thing wrong in the file. `line` is 1-based (the header is line 1); 0 = whole file."""
    file: str
    line: int
    column: str
    value: str
    reason: str
    severity: str = "error"  # error: the row is rejected | warning: imported, worth a look

    def as_text(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        col = f" [{self.column}]" if self.column else ""
        val = f" {self.value[:60]!r}" if self.value else ""
        return f"{where}{col}{val}: {self.reason}"


@dataclass
class ImportReport:
    """What reading (and possibly importing) one file found and did."""
    kind: str
    file_name: str
    file_hash: str = ""
    rows_read: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    problems: list[Problem] = field(default_factory=list)
    detected: dict[str, str] = field(default_factory=dict)  # encoding, delimiter, decimal, dates...
    partial_safe: bool = True  # importing only the valid rows keeps the data consistent
    period: tuple | None = None  # (first date, last date) the file covers
    status: str = "validated"  # validated | success | rejected | skipped | failed
    import_id: int | None = None
    rows_replaced: int = 0
    replaced_from: dict = field(default_factory=dict)  # {import that had brought them (None: none): rows}
    replace_rule: str = ""  # why they were replaced
    read_options: str | None = None  # how the file was read (canonical JSON), part of the already-imported key
    company: str | None = None  # FEC: the company identity its rows belong to
    message: str = ""

    def add(self, line: int, column: str, value, reason: str, severity: str = "error") -> None:
        self.problems.append(Problem(self.file_name, line, column, "" if value is None else str(value),
                                     reason, severity))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def fatal(self) -> bool:
        """True when the file could not be read at all (nothing to import, even partially)."""
        return any(p.line == 0 and p.severity == "error" for p in self.problems)

    @property
    def ok(self) -> bool:
        return not self.errors

    def choices(self) -> str:
        """What the user can do next, in one sentence."""
        if self.ok:
            return "The file is valid and can be imported."
        if self.fatal or self.rows_accepted == 0:
            return "Fix the file (or force the encoding/delimiter/mapping) and import it again."
        if self.partial_safe:
            return (f"Fix the file and import it again, or import the {self.rows_accepted:,} valid rows "
                    f"only (--valid-only / 'Import valid rows only'); the {self.rows_rejected:,} rejected "
                    "rows are left out.")
        return ("Fix the file and import it again: importing only part of it would leave "
                "inconsistent data, so it is not offered.")

    def summary(self) -> str:
        return (f"{self.kind} {self.file_name}: {self.rows_read:,} rows read, {self.rows_accepted:,} "
                f"accepted, {self.rows_rejected:,} rejected, {len(self.errors):,} errors, "
                f"{len(self.warnings):,} warnings — {self.status}")

    def as_text(self, limit: int = MAX_LISTED) -> str:
        lines = [self.summary()]
        if self.message:
            lines.append(self.message)
        if self.detected:
            lines.append("detected: " + ", ".join(f"{k}={v}" for k, v in self.detected.items()))
        for p in self.problems[:limit]:
            lines.append(f"  {p.severity}: {p.as_text()}")
        if len(self.problems) > limit:
            rest: dict[str, int] = {}
            for p in self.problems[limit:]:
                key = p.reason.split(" (")[0]
                rest[key] = rest.get(key, 0) + 1
            lines.append(f"  ... and {len(self.problems) - limit:,} more:")
            lines.extend(f"    {n:,} x {reason}" for reason, n in sorted(rest.items(), key=lambda kv: -kv[1]))
        if self.status in ("validated", "rejected"):
            lines.append(self.choices())
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {
            "kind": self.kind, "file_name": self.file_name, "file_hash": self.file_hash,
            "status": self.status, "rows_read": self.rows_read, "rows_accepted": self.rows_accepted,
            "rows_rejected": self.rows_rejected, "rows_replaced": self.rows_replaced,
            "replaced_from_imports": {("none" if k is None else str(k)): n for k, n in self.replaced_from.items()},
            "replace_rule": self.replace_rule, "company": self.company,
            "import_id": self.import_id, "partial_safe": self.partial_safe,
            "period": [str(d) for d in self.period] if self.period else None,
            "detected": self.detected, "message": self.message,
            "problems": [p.__dict__ for p in self.problems],
        }


@dataclass
class Parsed:
    """A file read and validated: the report, the valid rows, and what a re-import replaces."""
    report: ImportReport
    rows: list = field(default_factory=list)
    scope: dict = field(default_factory=dict)
