"""Column mappings: which header label feeds which store field, and how values convert.

A mapping is pure data (a preset, or a YAML/JSON file given with --mapping):

    preset: stripe            # start from a ready preset (optional)
    columns: {invoice_number: "Number", issue_date: "Date (UTC)"}
    options: {date_format: "%d/%m/%Y", decimal: ",", thousands: " ", encoding: cp1252}
    constants: {currency: EUR, channel: google_ads}
    values: {status: {"Réglée": paid}}   # value maps per field
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .detect import (FileFormatError, RawTable, ReadOptions, detect_date_format, detect_number_format,
                     make_cents_parser, make_datetime_parser, make_number_parser, normalise_delimiter,
                     read_table)
from .report import ImportReport


@dataclass(frozen=True)
class Field:
    """A store field a file column can feed. kind: text | date | datetime | cents | number | bool."""
    name: str
    kind: str = "text"
    required: bool = False
    labels: tuple[str, ...] = ()  # header labels recognised without a mapping; 'prefix*' matches a prefix
    max_len: int = 255


@dataclass
class Mapping:
    """A resolved mapping: preset defaults overlaid with the user's choices."""
    preset: str = "generic"
    columns: dict[str, str] = field(default_factory=dict)
    options: dict = field(default_factory=dict)
    constants: dict = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    user_columns: tuple[str, ...] = ()  # fields the user mapped (a missing column is an error)

    def read_options(self) -> ReadOptions:
        o = self.options
        return ReadOptions(encoding=o.get("encoding"), delimiter=normalise_delimiter(o.get("delimiter")),
                           decimal=o.get("decimal"), thousands=o.get("thousands"),
                           date_format=o.get("date_format"), month_first=bool(o.get("month_first", False)),
                           sheet=o.get("sheet"))


def norm_label(label: str) -> str:
    """Header labels compared without case, stars (Xero), quotes or repeated spaces."""
    return re.sub(r"\s+", " ", label.replace("*", "").replace('"', "").strip().lower())


def with_options(spec: str | dict | None, presets: dict[str, dict], options: dict) -> str | dict | None:
    """`spec` (preset name, mapping file or dict) with reading options forced on top of it."""
    options = {k: v for k, v in options.items() if v not in (None, "")}
    if not options:
        return spec
    if spec is None or spec == "":
        base: dict = {}
    elif isinstance(spec, dict):
        base = dict(spec)
    elif spec in presets:
        base = {"preset": spec}
    else:
        base = _read_mapping_file(spec)
    base["options"] = {**(base.get("options") or {}), **options}
    return base


def _read_mapping_file(spec: str) -> dict:
    path = Path(spec)
    if not path.is_file():
        raise FileFormatError(f"--mapping {spec!r} is neither a preset nor a mapping file")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml
            data = yaml.safe_load(text) or {}
    except Exception as exc:  # yaml/json syntax errors all mean "fix the mapping file"
        raise FileFormatError(f"mapping file {spec} is not valid YAML/JSON: {exc}") from None
    if not isinstance(data, dict):
        raise FileFormatError(f"mapping file {spec} must hold an object with columns/options/constants/values")
    return data


def load_mapping(spec: str | dict | None, presets: dict[str, dict]) -> Mapping:
    """A Mapping from a preset name, a YAML/JSON file path, or a dict; None = generic."""
    if spec is None or spec == "":
        spec = {}
    if isinstance(spec, str):
        if spec in presets:
            spec = {"preset": spec}
        elif not Path(spec).is_file():
            raise FileFormatError(f"--mapping {spec!r} is neither a preset ({', '.join(sorted(presets))}) "
                                  "nor a mapping file")
        else:
            spec = _read_mapping_file(spec)
    if not isinstance(spec, dict):
        raise FileFormatError("a mapping must be a YAML/JSON object with columns/options/constants/values")
    unknown = set(spec) - {"preset", "columns", "options", "constants", "values"}
    if unknown:
        raise FileFormatError(f"unknown mapping key(s) {sorted(unknown)}: use preset, columns, options, "
                              "constants, values")
    name = spec.get("preset", "generic")
    if name not in presets:
        raise FileFormatError(f"unknown preset {name!r}; choose one of {', '.join(sorted(presets))}")
    base = presets[name]
    m = Mapping(preset=name, columns=dict(base.get("columns", {})), options=dict(base.get("options", {})),
                constants=dict(base.get("constants", {})),
                values={k: dict(v) for k, v in base.get("values", {}).items()})
    for key in ("columns", "options", "constants"):
        extra = spec.get(key) or {}
        if not isinstance(extra, dict):
            raise FileFormatError(f"mapping {key} must be an object of name: value")
        getattr(m, key).update({str(k): v for k, v in extra.items()})
    m.user_columns = tuple(str(k) for k in (spec.get("columns") or {}))
    for fname, vmap in (spec.get("values") or {}).items():
        m.values.setdefault(fname, {}).update({str(k): str(v) for k, v in (vmap or {}).items()})
    return m


def _match(header_norm: list[str], label: str) -> int | None:
    n = norm_label(label)
    if n.endswith("*") or label.endswith("*"):
        n = norm_label(label.rstrip("*"))
        for i, h in enumerate(header_norm):
            if h.startswith(n):
                return i
        return None
    return header_norm.index(n) if n in header_norm else None


def resolve_columns(header: list[str], fields: list[Field], mapping: Mapping) -> tuple[dict[str, int], list[str]]:
    """Field -> column index; plus the problems (required fields without a column)."""
    hn = [norm_label(h) for h in header]
    user_columns = set(mapping.user_columns)
    found: dict[str, int] = {}
    problems = []
    for f in fields:
        wanted = mapping.columns.get(f.name)
        if wanted:
            i = _match(hn, wanted)
            if i is None:
                if f.required or f.name in user_columns:
                    problems.append(f"mapping says {f.name} is column {wanted!r}, which is not in the header")
                continue
            found[f.name] = i
            continue
        for label in f.labels:
            i = _match(hn, label)
            if i is not None:
                found[f.name] = i
                break
        else:
            if f.required and f.name not in mapping.constants:
                problems.append(f"no column for {f.name} (looked for {', '.join(repr(x) for x in f.labels[:4])}); "
                                f"map it with columns: {{{f.name}: \"<your header>\"}}")
    return found, problems


def find_header(table: RawTable, fields: list[Field], mapping: Mapping, scan: int = 10) -> tuple[dict[str, int], list[str]]:
    """Resolve the columns, looking past title lines (ad platforms write a report title first)."""
    cols, problems = resolve_columns(table.header, fields, mapping)
    if not problems:
        return cols, problems
    for k, (line_no, cells) in enumerate(table.rows[:scan]):
        c2, p2 = resolve_columns(cells, fields, mapping)
        if not p2:
            table.header = cells
            del table.rows[:k + 1]
            table.detected["header line"] = str(line_no)
            return c2, p2
    return cols, problems


@dataclass
class Converters:
    date: Callable
    datetime: Callable
    cents: Callable
    number: Callable


def make_converters(table: RawTable, fields: list[Field], cols: dict[str, int], options: ReadOptions) -> Converters:
    """Parsers for dates and amounts, sniffed from the sample values unless forced."""
    def sample(kinds):
        out = []
        for f in fields:
            if f.kind in kinds and f.name in cols:
                i = cols[f.name]
                out.extend(c[i] for _, c in table.rows[:500] if i < len(c) and c[i])
        return out
    date_fmt = options.date_format or detect_date_format(sample({"date", "datetime"}), options.month_first)
    if table.detected.get("format") == "xlsx":
        decimal, thousands = options.decimal or ".", options.thousands or ""
    else:
        d, t = detect_number_format(sample({"cents", "number"}))
        decimal = options.decimal or d
        thousands = options.thousands if options.thousands is not None else t
    if thousands == decimal:
        thousands = ""
    table.detected.update(date_format=date_fmt or "none found", decimal=decimal, thousands=thousands or "none")
    parse_dt = make_datetime_parser(date_fmt)
    return Converters(date=lambda s: parse_dt(s).date(), datetime=parse_dt,
                      cents=make_cents_parser(decimal, thousands), number=make_number_parser(decimal, thousands))


_TRUE = {"1", "true", "yes", "y", "oui", "x", "vrai"}
_FALSE = {"0", "false", "no", "n", "non", "", "faux"}


def convert_rows(table: RawTable, fields: list[Field], cols: dict[str, int], conv: Converters,
                 mapping: Mapping, report: ImportReport) -> list[tuple[int, dict]]:
    """Each row as {field: typed value}; rows with a bad cell are reported and left out."""
    out = []
    header = table.header
    for line_no, cells in table.rows:
        rec: dict = {}
        ok = True
        for f in fields:
            i = cols.get(f.name)
            if i is None:
                raw = mapping.constants.get(f.name)
                raw = "" if raw is None else str(raw)
                label = f"(constant {f.name})"
            else:
                raw = cells[i] if i < len(cells) else ""
                label = header[i]
            vmap = mapping.values.get(f.name)
            if vmap and raw in vmap:
                raw = vmap[raw]
            if raw == "":
                if f.required:
                    report.add(line_no, label, "", f"{f.name} is required")
                    ok = False
                rec[f.name] = None
                continue
            try:
                if f.kind == "date":
                    rec[f.name] = conv.date(raw)
                elif f.kind == "datetime":
                    rec[f.name] = conv.datetime(raw)
                elif f.kind == "cents":
                    rec[f.name] = conv.cents(raw)
                elif f.kind == "number":
                    rec[f.name] = conv.number(raw)
                elif f.kind == "bool":
                    low = raw.strip().lower()
                    if low not in _TRUE | _FALSE:
                        raise ValueError("expected yes/no, true/false or 1/0")
                    rec[f.name] = low in _TRUE
                else:
                    if len(raw) > f.max_len:
                        raise ValueError(f"longer than {f.max_len} characters")
                    rec[f.name] = raw
            except ValueError as exc:
                what = {"date": "date", "datetime": "date", "cents": "amount", "number": "number"}.get(f.kind, "value")
                report.add(line_no, label, raw, f"unparseable {what}: {exc}")
                ok = False
        if ok:
            out.append((line_no, rec))
    return out


def read_mapped(data: bytes, file_name: str, kind: str, fields: list[Field],
                mapping: Mapping) -> tuple[ImportReport, RawTable | None, list[tuple[int, dict]]]:
    """Read a CSV/XLSX file through a mapping: the report, the raw table and the typed rows."""
    report = ImportReport(kind, file_name)
    report.detected["preset"] = mapping.preset
    try:
        table = read_table(data, file_name, mapping.read_options())
    except FileFormatError as exc:
        report.add(0, "", "", str(exc))
        return report, None, []
    cols, problems = find_header(table, fields, mapping)
    report.detected.update(table.detected)
    if problems:
        for p in problems:
            report.add(1, "", "", p)
        report.rows_read = report.rows_rejected = len(table.rows)
        return report, table, []
    conv = make_converters(table, fields, cols, mapping.read_options())
    report.detected.update(table.detected)
    report.detected["columns"] = ", ".join(f"{f.name}<-{table.header[cols[f.name]]!r}"
                                          for f in fields if f.name in cols)
    unused = [h for i, h in enumerate(table.header) if h and i not in set(cols.values())]
    if unused:
        report.detected["columns not imported"] = ", ".join(unused[:30]) + (" ..." if len(unused) > 30 else "")
    records = convert_rows(table, fields, cols, conv, mapping, report)
    report.rows_read = len(table.rows)
    return report, table, records
