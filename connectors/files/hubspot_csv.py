"""HubSpot CSV exports (deals, contacts, companies) for teams that import by hand.

Each CSV row is turned back into the HubSpot record the API would have returned (property
internal names and internal values: stage label -> stage id through the store's pipelines,
owner name -> owner id, "Marketing Qualified Lead" -> marketingqualifiedlead), then converted by
the API connector's own row functions, so both paths give the same store rows (origin 'csv').
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, Engine, select

from connectors.hubspot import settings as hs_settings
from connectors.hubspot.sync import company_row, contact_row, deal_row
from store import schema as s
from store.db import upsert

from .mapping import Field, Mapping, norm_label, read_mapped
from .report import Parsed

_ASSOC = 10_000
_STAGE_TITLES = {"lead": "Lead", "marketingqualifiedlead": "Marketing Qualified Lead",
                 "salesqualifiedlead": "Sales Qualified Lead", "opportunity": "Opportunity",
                 "customer": "Customer"}
_BECAME = {"lead": "became a lead date", "marketingqualifiedlead": "became a marketing qualified lead date",
           "salesqualifiedlead": "became a sales qualified lead date",
           "opportunity": "became an opportunity date", "customer": "became a customer date"}

FIELDS: dict[str, list[Field]] = {
    "deals": [
        Field("id", "text", True, ("record id", "deal id", "hs_object_id"), 64),
        Field("dealname", "text", False, ("deal name",)),
        Field("amount", "cents", False, ("amount",)),
        Field("deal_currency_code", "text", False, ("currency", "deal currency code"), 3),
        Field("pipeline", "text", False, ("pipeline",)),
        Field("dealstage", "text", True, ("deal stage", "stage")),
        Field("createdate", "datetime", True, ("create date", "created date")),
        Field("closedate", "datetime", False, ("close date",)),
        Field("hubspot_owner_id", "text", False, ("deal owner", "owner")),
        Field(hs_settings.REGION_PROPERTY, "text", False, ("region",)),
        Field(hs_settings.PRODUCT_LINE_PROPERTY, "text", False, ("product line",)),
        Field("hs_analytics_source", "text", False, ("original source type", "original traffic source",
                                                     "original source", "deal source")),
        Field("closed_lost_reason", "text", False, ("closed lost reason",)),
        Field("hs_forecast_category", "text", False, ("forecast category",)),
        Field("dealtype", "text", False, ("deal type",)),
        Field("hs_lastmodifieddate", "datetime", False, ("last modified date",)),
        Field("companies_primary", "text", False, ("associated company ids (primary)",
                                                   "associated company id (primary)"), _ASSOC),
        Field("companies", "text", False, ("associated company ids", "associated company id"), _ASSOC),
        Field("contacts", "text", False, ("associated contact ids", "associated contact id"), _ASSOC),
    ],
    "contacts": [
        Field("id", "text", True, ("record id", "contact id", "hs_object_id"), 64),
        Field("email", "text", False, ("email",)),
        Field("firstname", "text", False, ("first name",)),
        Field("lastname", "text", False, ("last name",)),
        Field("associatedcompanyid", "text", False, ("associated company ids (primary)", "primary associated company id",
                                                     "associated company id", "associated company ids"), _ASSOC),
        Field("hubspot_owner_id", "text", False, ("contact owner", "owner")),
        Field(hs_settings.REGION_PROPERTY, "text", False, ("region",)),
        Field("lifecyclestage", "text", False, ("lifecycle stage",)),
        Field("hs_lead_status", "text", False, ("lead status",)),
        Field("hs_analytics_source", "text", False, ("original source", "original traffic source")),
        Field("hs_analytics_source_data_1", "text", False, ("original source drill-down 1",)),
        Field("hs_analytics_source_data_2", "text", False, ("original source drill-down 2",)),
        Field("createdate", "datetime", False, ("create date", "created date")),
        Field("lastmodifieddate", "datetime", False, ("last modified date",)),
        Field("hs_sa_first_engagement_date", "datetime", False, ("date of first engagement",)),
        Field("notes_last_contacted", "datetime", False, ("last contacted",)),
        Field(hs_settings.DISQUALIFIED_REASON_PROPERTY, "text", False, ("disqualification reason",)),
        *[Field(f"hs_v2_date_entered_{st}", "datetime", False,
                (f"date entered {_STAGE_TITLES[st].lower()} (lifecycle stage pipeline)",))
          for st in hs_settings.LIFECYCLE_COLUMNS.values()],
        *[Field(f"hs_lifecyclestage_{st}_date", "datetime", False, (_BECAME[st],))
          for st in hs_settings.LIFECYCLE_COLUMNS.values()],
    ],
    "companies": [
        Field("id", "text", True, ("record id", "company id", "hs_object_id"), 64),
        Field("name", "text", False, ("company name", "name")),
        Field("domain", "text", False, ("company domain name", "domain")),
        Field("industry", "text", False, ("industry",)),
        Field("country", "text", False, ("country/region", "country")),
        Field(hs_settings.REGION_PROPERTY, "text", False, ("region",)),
        Field("hubspot_owner_id", "text", False, ("company owner", "owner")),
        Field("createdate", "datetime", False, ("create date", "created date")),
        Field("hs_lastmodifieddate", "datetime", False, ("last modified date",)),
    ],
}

_SOURCE_LABELS = {"offline sources": "OFFLINE", "organic social": "SOCIAL_MEDIA", "social media": "SOCIAL_MEDIA"}


def upper_value(label: str) -> str:
    """'Paid Search' -> 'PAID_SEARCH' (HubSpot's internal enumeration values)."""
    return re.sub(r"[^A-Z0-9]+", "_", label.strip().upper()).strip("_")


def lifecycle_value(label: str) -> str:
    """'Marketing Qualified Lead' -> 'marketingqualifiedlead'."""
    return re.sub(r"[^a-z0-9]", "", label.lower())


def source_value(label: str) -> str:
    return _SOURCE_LABELS.get(label.strip().lower()) or upper_value(label)


class _Lookups:
    """Owners and pipelines known to the store, to turn export labels into ids."""

    def __init__(self, engine: Engine | None):
        self.owners: dict[str, str] = {}
        self.pipelines: dict[str, str] = {}
        self.stages: dict[tuple[str, str], str] = {}
        self.default_pipeline_needed = False
        rows_o, rows_p, rows_s = [], [], []
        if engine is not None:
            with engine.connect() as conn:
                rows_o = conn.execute(select(s.owners.c.owner_id, s.owners.c.email, s.owners.c.first_name,
                                             s.owners.c.last_name)).all()
                rows_p = conn.execute(select(s.pipelines.c.pipeline_id, s.pipelines.c.label)).all()
                rows_s = conn.execute(select(s.pipeline_stages.c.pipeline_id, s.pipeline_stages.c.stage_id,
                                             s.pipeline_stages.c.label)).all()
        for oid, email, first, last in rows_o:
            self.owners[oid.lower()] = oid
            if email:
                self.owners[email.lower()] = oid
            name = " ".join(x for x in (first, last) if x).strip().lower()
            if name:
                self.owners.setdefault(name, oid)
        if not rows_p:
            self.default_pipeline_needed = True
            pid, label, stages = hs_settings.DEFAULT_PIPELINE
            rows_p = [(pid, label)]
            rows_s = [(pid, sid, slabel) for sid, slabel, *_ in stages]
        for pid, label in rows_p:
            self.pipelines[pid.lower()] = pid
            self.pipelines[label.strip().lower()] = pid
        for pid, sid, label in rows_s:
            self.stages[(pid, sid.lower())] = sid
            self.stages[(pid, label.strip().lower())] = sid

    def owner(self, value: str) -> str | None:
        v = value.strip().lower()
        hit = self.owners.get(v)
        if hit is None and "(" in v:  # "Jane Doe (jane@x.com)"
            hit = self.owners.get(v.split("(")[0].strip()) or self.owners.get(v.split("(")[1].rstrip(")").strip())
        return hit


def _ids(value: str | None) -> list[str]:
    return [x.strip() for x in re.split(r"[;,]", value or "") if x.strip()]


def _id_key(value: str) -> tuple[int, str]:
    return (int(value), value) if value.isdigit() else (1 << 62, value)


def _amount_text(cents: int) -> str:
    return str(Decimal(cents) / 100)


def read_hubspot(obj: str, data: bytes, file_name: str, mapping: Mapping, engine: Engine | None) -> Parsed:
    """Parse a HubSpot export of deals, contacts or companies into store rows."""
    kind = f"hubspot-{obj}"
    fields = FIELDS[obj]
    report, table, records = read_mapped(data, file_name, kind, fields, mapping)
    tz_name = mapping.options.get("timezone")
    try:
        tz = ZoneInfo(tz_name) if tz_name else None
    except (ZoneInfoNotFoundError, ValueError):
        report.add(0, "options.timezone", tz_name, "unknown time zone (use e.g. Europe/Paris)")
        return Parsed(report)
    lookups = _Lookups(engine)
    currency = hs_settings.reporting_currency()
    kinds = {f.name: f.kind for f in fields}
    rows, seen = [], {}
    unknown_owners: dict[str, int] = {}
    for line_no, rec in records:
        props: dict[str, str] = {}
        ok = True
        for name, value in rec.items():
            if value is None or name in ("id", "companies", "companies_primary", "contacts"):
                continue
            k = kinds[name]
            if k == "datetime":
                if tz is not None and (value.hour, value.minute, value.second) != (0, 0, 0):
                    value = value.replace(tzinfo=tz).astimezone(dt.timezone.utc).replace(tzinfo=None)
                props[name] = value.isoformat()
            elif k == "cents":
                props[name] = _amount_text(value)
            else:
                props[name] = value.strip()
        if props.get("hubspot_owner_id"):
            owner = lookups.owner(props["hubspot_owner_id"])
            if owner is None:
                unknown_owners.setdefault(props["hubspot_owner_id"], line_no)
            props["hubspot_owner_id"] = owner or ""
        if "lifecyclestage" in props:
            props["lifecyclestage"] = lifecycle_value(props["lifecyclestage"])
        if "hs_lead_status" in props:
            props["hs_lead_status"] = upper_value(props["hs_lead_status"])
        if "hs_analytics_source" in props:
            props["hs_analytics_source"] = source_value(props["hs_analytics_source"])
        if obj == "companies" and "industry" in props:
            props["industry"] = upper_value(props["industry"])
        if obj == "deals":
            if "hs_forecast_category" in props:
                props["hs_forecast_category"] = upper_value(props["hs_forecast_category"])
            if props.get("dealtype"):  # an export's label ("Existing Business") -> HubSpot's value
                props["dealtype"] = "".join(props["dealtype"].lower().split())
            ok = _resolve_stage(props, lookups, line_no, report)
        if obj == "contacts" and props.get("associatedcompanyid"):
            props["associatedcompanyid"] = _ids(props["associatedcompanyid"])[0]
        if not ok:
            continue
        record = SimpleNamespace(id=rec["id"], properties=props, created_at=None, updated_at=None)
        row = {"deals": lambda r: deal_row(r, currency), "contacts": contact_row,
               "companies": company_row}[obj](record)
        row["origin"] = "csv"
        assoc = None
        if obj == "deals":
            primary = sorted(_ids(rec.get("companies_primary")), key=_id_key)
            companies = sorted(set(_ids(rec.get("companies"))) | set(primary), key=_id_key)
            contacts = sorted(set(_ids(rec.get("contacts"))), key=_id_key)
            ordered = primary or companies
            row["company_id"] = ordered[0] if ordered else None
            row["contact_id"] = contacts[0] if contacts else None
            assoc = (companies, contacts)
        seen.setdefault(row[f"{obj[:-1] if obj != 'companies' else 'company'}_id"], []).append(line_no)
        rows.append((line_no, row, assoc))
    for owner, line_no in unknown_owners.items():
        report.add(line_no, "owner", owner, "unknown owner: imported without an owner (sync owners from "
                   "HubSpot first, or fix the name)", "warning")
    dupes = {k: v for k, v in seen.items() if len(v) > 1}
    for key, lines in dupes.items():
        for ln in lines:
            report.add(ln, "Record ID", key, f"duplicate record id (lines {', '.join(map(str, lines))})")
    id_col = {"deals": "deal_id", "contacts": "contact_id", "companies": "company_id"}[obj]
    final = [(r, a) for _, r, a in rows if r[id_col] not in dupes]
    report.rows_accepted = len(final)
    report.rows_rejected = len({p.line for p in report.errors if p.line > 1})
    assoc_labels = {label for f in fields if f.name in ("companies", "contacts", "companies_primary")
                    for label in f.labels}
    has_assoc = obj == "deals" and table is not None and any(norm_label(h) in assoc_labels for h in table.header)
    return Parsed(report, [r for r, _ in final],
                  {"object": obj, "id_col": id_col, "assoc": [a for _, a in final] if has_assoc else None,
                   "default_pipeline": lookups.default_pipeline_needed and obj == "deals"})


def _resolve_stage(props: dict, lookups: _Lookups, line_no: int, report) -> bool:
    """Pipeline and stage labels -> ids; False (reported) when the stage is unknown."""
    label = props.get("pipeline", "")
    if label:
        pid = lookups.pipelines.get(label.lower())
        if pid is None:
            report.add(line_no, "Pipeline", label, "unknown pipeline (sync pipelines from HubSpot, or map it "
                       "under values: pipeline:)")
            return False
    else:
        ids = sorted(set(lookups.pipelines.values()))
        pid = ids[0] if len(ids) == 1 else "default"
    stage = lookups.stages.get((pid, props.get("dealstage", "").lower()))
    if stage is None:
        report.add(line_no, "Deal Stage", props.get("dealstage"), "unmapped stage: not a stage of pipeline "
                   f"{pid!r} (sync pipelines from HubSpot, or map it under values: dealstage:)")
        return False
    props["pipeline"], props["dealstage"] = pid, stage
    return True


def write_hubspot(conn: Connection, parsed: Parsed, import_id: int) -> int:
    """Upsert the records (origin 'csv'); deals also get their company/contact associations."""
    obj, id_col = parsed.scope["object"], parsed.scope["id_col"]
    if parsed.scope.get("default_pipeline"):
        pid, label, stages = hs_settings.DEFAULT_PIPELINE
        upsert(conn, s.pipelines, [{"pipeline_id": pid, "label": label, "display_order": 0,
                                    "is_archived": False}], ["pipeline_id"])
        upsert(conn, s.pipeline_stages, [
            {"pipeline_id": pid, "stage_id": sid, "label": sl, "display_order": i, "probability": p,
             "is_closed": closed, "is_won": won} for i, (sid, sl, p, closed, won) in enumerate(stages)],
            ["pipeline_id", "stage_id"])
    upsert(conn, s.metadata.tables[obj], parsed.rows, [id_col])
    assoc = parsed.scope.get("assoc")
    if obj == "deals" and assoc is not None:
        ids = [r["deal_id"] for r in parsed.rows]
        for i in range(0, len(ids), 500):
            for t in (s.deal_contacts, s.deal_companies):
                conn.execute(t.delete().where(t.c.deal_id.in_(ids[i:i + 500])))
        dco = [{"deal_id": r["deal_id"], "company_id": c} for r, (cos, _) in zip(parsed.rows, assoc) for c in cos]
        dc = [{"deal_id": r["deal_id"], "contact_id": c} for r, (_, cts) in zip(parsed.rows, assoc) for c in cts]
        if dco:
            conn.execute(s.deal_companies.insert(), dco)
        if dc:
            conn.execute(s.deal_contacts.insert(), dc)
    return 0
