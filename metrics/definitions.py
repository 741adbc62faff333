"""The shared definitions: metrics/definitions.yaml, plus the edits stored in the store.

`load_definitions(conn)` returns the effective definitions (file defaults with stored
overrides applied). Every problem in the file or an override is reported at once.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Connection, select

from store import schema as s

DEFINITIONS_FILE = Path(__file__).with_name("definitions.yaml")

LOCALES = ("en-US", "fr-FR")
BASES = ("booked", "invoiced")
REGION_SOURCES = ("deal", "company", "owner")
PRODUCT_LINE_SOURCES = ("deal", "line_items")
RECURRING_SOURCES = ("auto", "invoices", "line_items")  # recurring.source: where MRR comes from
REVENUE_TYPES = ("new_business", "expansion", "renewal")
COUNTED_BY = ("north_star", "marketing_sourced_revenue", "campaign_roi", "win_rate")
PAST_DUE_RULES = ("count_in_current_period", "exclude")
DEFAULT_REJECTION_REASONS = {"not_a_fit": "Not a fit", "no_budget": "No budget", "no_project": "No project",
                             "bad_contact_data": "Bad contact data", "duplicate": "Duplicate", "other": "Other"}


# Top-level sections no metric reads: editing them changes no number (the rollups stay fresh).
NOT_IN_NUMBERS = ("alerts",)

# alerts.<key>: each a threshold (null turns its rule off), its check and what it expects
ALERT_RULES = (
    ("coverage_below", lambda v: float(v) >= 0, "a coverage multiple like 2.0"),
    ("burnt_leads_above", lambda v: int(v) == v and v >= 0, "a whole number of leads like 5"),
    ("burnt_leads_days", lambda v: int(v) == v and 1 <= v <= 366, "a number of days like 7"),
    ("forecast_drop_pct", lambda v: 0 < float(v) <= 100, "a percentage like 10"),
    ("sync_failures", lambda v: int(v) == v and v >= 1, "a number of failed runs in a row like 2"),
)


class DefinitionsError(ValueError):
    """The definitions file or an override is invalid; `problems` lists every issue."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("Invalid shared definitions:\n- " + "\n- ".join(problems))


@dataclass(frozen=True)
class Definitions:
    """Effective shared definitions. `raw` is the nested mapping; properties name the common ones."""
    raw: dict

    def get(self, dotted: str) -> Any:
        node: Any = self.raw
        for part in dotted.split("."):
            node = node[part]
        return node

    @property
    def reporting_currency(self) -> str:
        return self.raw["currency"]["reporting"]

    @property
    def fx(self) -> dict[str, float]:
        return {k.upper(): float(v) for k, v in self.raw["currency"]["fx_to_reporting"].items()}

    @property
    def locale(self) -> str:
        return self.raw["locale"]

    @property
    def fiscal_year_start_month(self) -> int:
        return int(self.raw["calendar"]["fiscal_year_start_month"])

    @property
    def north_star_basis(self) -> str:
        return self.raw["north_star"]["basis"]

    @property
    def funnel_stages(self) -> list[str]:
        return list(self.raw["funnel"]["stages"])

    @property
    def marketing_sources(self) -> list[str]:
        return list(self.raw["funnel"]["marketing_sourced_sources"])

    @property
    def follow_up_sla_hours(self) -> float:
        return float(self.raw["funnel"]["follow_up_sla_hours"])

    def counted_types(self, figure: str) -> tuple[str, ...]:
        """The revenue types `figure` counts (revenue_types.counted_by; every type if not listed)."""
        listed = ((self.raw.get("revenue_types") or {}).get("counted_by") or {}).get(figure)
        return tuple(t for t in REVENUE_TYPES if t in listed) if listed else REVENUE_TYPES

    def alert_threshold(self, key: str) -> float | None:
        """alerts.<key> (ALERT_RULES), None when the rule is off or the section absent."""
        value = (self.raw.get("alerts") or {}).get(key)
        return None if value is None else float(value)

    @property
    def rejection_reasons(self) -> dict[str, str]:
        """Rejection reason id -> label (lead_feedback.rejection_reasons), in the file's order."""
        listed = (self.raw.get("lead_feedback") or {}).get("rejection_reasons") or DEFAULT_REJECTION_REASONS
        return {str(k): str(v) for k, v in listed.items()}

    @property
    def lead_value_window_months(self) -> int:
        return int((self.raw.get("lead_feedback") or {}).get("value_window_months") or 12)

    @property
    def past_due_rule(self) -> str:
        return str((self.raw.get("pipeline") or {}).get("past_due") or "count_in_current_period")


def validate(raw: dict) -> list[str]:
    """Every problem with a definitions mapping, each naming the key, the bad value and a good one."""
    problems: list[str] = []

    def need(path: str, check, hint: str) -> None:
        try:
            value = Definitions(raw).get(path)
        except (KeyError, TypeError):
            problems.append(f"{path}: missing (expected {hint})")
            return
        try:
            ok = check(value)
        except Exception:
            ok = False
        if not ok:
            problems.append(f"{path}: {value!r} is not valid (expected {hint})")

    need("currency.reporting", lambda v: isinstance(v, str) and len(v) == 3 and v.isupper(), "a currency code like 'EUR'")
    need("currency.fx_to_reporting", lambda v: isinstance(v, dict) and all(float(x) > 0 for x in v.values()),
         "a mapping like {EUR: 1.0, USD: 0.92}")
    if not problems:
        fx = raw["currency"]["fx_to_reporting"]
        if raw["currency"]["reporting"] not in fx:
            problems.append(f"currency.fx_to_reporting: has no rate for the reporting currency "
                            f"{raw['currency']['reporting']!r} (add {raw['currency']['reporting']}: 1.0)")
    need("locale", lambda v: v in LOCALES, " or ".join(LOCALES))
    need("calendar.fiscal_year_start_month", lambda v: isinstance(v, int) and 1 <= v <= 12, "a month number 1-12")
    need("calendar.week_start", lambda v: v == "monday", "'monday'")
    need("north_star.basis", lambda v: v in BASES, " or ".join(BASES))
    need("funnel.stages", lambda v: isinstance(v, list) and len(v) >= 2, "a list of lifecycle stages")
    need("funnel.mql_stage", lambda v: v in raw["funnel"]["stages"], "one of funnel.stages")
    need("funnel.sql_stage", lambda v: v in raw["funnel"]["stages"], "one of funnel.stages")
    need("funnel.marketing_sourced_sources", lambda v: isinstance(v, list), "a list of original sources")
    need("funnel.follow_up_sla_hours", lambda v: float(v) > 0, "a positive number of hours, e.g. 48")
    need("pipelines", lambda v: isinstance(v, dict) and len(v) >= 1, "at least one pipeline")
    for pid, p in (raw.get("pipelines") or {}).items():
        need(f"pipelines.{pid}.won_stages", lambda v: isinstance(v, list) and len(v) >= 1, "a list of stage ids")
        need(f"pipelines.{pid}.lost_stages", lambda v: isinstance(v, list), "a list of stage ids")
        for stage, prob in ((p or {}).get("probabilities") or {}).items():
            need(f"pipelines.{pid}.probabilities.{stage}", lambda v: 0.0 <= float(v) <= 1.0, "a probability between 0 and 1")
    need("dimensions.region_from", lambda v: v in REGION_SOURCES, " or ".join(REGION_SOURCES))
    need("dimensions.product_line_from", lambda v: v in PRODUCT_LINE_SOURCES, " or ".join(PRODUCT_LINE_SOURCES))
    if "recurring" in raw:
        need("recurring.source", lambda v: v in RECURRING_SOURCES, " or ".join(RECURRING_SOURCES))
    if "revenue_types" in raw:
        for key in ("renewal_pipelines", "renewal_deal_types", "expansion_deal_types"):
            need(f"revenue_types.{key}", lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
                 "a list of ids, e.g. [renewals] (or [] for none)")
        for fig in COUNTED_BY:
            need(f"revenue_types.counted_by.{fig}",
                 lambda v: isinstance(v, list) and len(v) >= 1 and set(v) <= set(REVENUE_TYPES),
                 "a list of one or more of " + ", ".join(REVENUE_TYPES))
    if "pipeline" in raw:
        need("pipeline.past_due", lambda v: v in PAST_DUE_RULES, " or ".join(PAST_DUE_RULES))
    if "lead_feedback" in raw:
        need("lead_feedback.rejection_reasons",
             lambda v: isinstance(v, dict) and len(v) >= 1 and all(
                 isinstance(k, str) and k.isidentifier() and k.islower() and isinstance(x, str) and x.strip()
                 for k, x in v.items()),
             "a mapping of lower-case reason ids to labels, e.g. {not_a_fit: Not a fit, other: Other}")
        need("lead_feedback.value_window_months", lambda v: isinstance(v, int) and 1 <= v <= 60,
             "a number of months between 1 and 60, e.g. 12")
    need("unit_economics.gross_margin", lambda v: 0 < float(v) <= 1, "a fraction between 0 and 1, e.g. 0.78")
    need("unit_economics.monthly_churn_rate", lambda v: 0 < float(v) < 1, "a monthly fraction, e.g. 0.015")
    for key in ("revenue_account_prefixes", "revenue_contra_prefixes", "sm_spend_account_prefixes"):
        need(f"ledger.{key}", lambda v: isinstance(v, list) and all(str(x).isdigit() for x in v),
             "a list of account-number prefixes like ['70']")
    need("ledger.include_imported_spend", lambda v: isinstance(v, bool), "true or false")
    if "alerts" in raw:
        for key, check, hint in ALERT_RULES:
            need(f"alerts.{key}", lambda v, check=check: v is None or (not isinstance(v, bool) and check(v)),
                 f"{hint}, or null to turn the rule off")
    return problems


_PARSED: dict[Path, tuple[tuple[int, int], dict]] = {}  # path -> ((mtime_ns, size), parsed mapping)


def _parsed_file(path: Path) -> dict:
    """The parsed file, parsed again only when its mtime or size changes (the caller must not mutate it)."""
    st = path.stat()
    stamp = (st.st_mtime_ns, st.st_size)
    hit = _PARSED.get(path)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise DefinitionsError([f"{path.name}: not valid YAML ({exc})"]) from None
    if not isinstance(raw, dict):
        raise DefinitionsError([f"{path.name}: expected a mapping at the top level"])
    _PARSED[path] = (stamp, raw)
    return raw


def load_file(path: Path = DEFINITIONS_FILE) -> dict:
    """The definitions file as a fresh mapping (yours to change)."""
    return copy.deepcopy(_parsed_file(path))


def set_dotted(raw: dict, dotted: str, value: Any) -> None:
    node = raw
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def stored_overrides(conn: Connection) -> dict[str, Any]:
    rows = conn.execute(select(s.definition_overrides.c.key, s.definition_overrides.c.value_json)).all()
    return {k: json.loads(v) for k, v in rows}


def load_definitions(conn: Connection | None = None, path: Path = DEFINITIONS_FILE) -> Definitions:
    """File defaults with the store's overrides applied; raises DefinitionsError listing every problem."""
    raw = copy.deepcopy(_parsed_file(path))
    if conn is not None:
        for key, value in stored_overrides(conn).items():
            set_dotted(raw, key, value)
    problems = validate(raw)
    if problems:
        raise DefinitionsError(problems)
    return Definitions(raw)
