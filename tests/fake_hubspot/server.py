"""A fake HubSpot on 127.0.0.1 serving an `Account` with HubSpot's paths, paging and errors.

    fake = FakeHubSpot(generate_account(), token="pat-test").start()
    HubSpot(access_token="pat-test", host=fake.url)   # the SDK, pointed at the fake
    ...
    fake.stop()

What it serves (HubSpot's public API reference):
  GET  /crm/v3/objects/{type}                 after/limit paging (max 100, 50 with history),
                                               properties, propertiesWithHistory, archived
  GET  /crm/v3/objects/{type}/{id}
  POST /crm/v3/objects/{type}/batch/read      max 100 inputs (50 with history); 207 for missing ids
  POST /crm/v3/objects/{type}/search          filters (all operators), one sort, limit <= 200
                                               (more is a 400), offset `after`, 400 past 10,000
                                               (`result_cap`; tests lower it), logged in `searches`
  GET  /crm/v3/owners (and /owners/)          GET /crm/v3/pipelines/deals
  GET  /crm/v3/properties/{type}              definitions, enumeration options
  POST /crm/v4/associations/{from}/{to}/batch/read   max 1,000 inputs, per-input paging
  POST /crm/v3/objects/contacts/batch/update  max 100 inputs; a property the portal lacks is a 400
{type} is contacts, companies, deals, products, line_items, feedback_submissions or 0-1, 0-2, 0-3,
0-7, 0-8, 0-19.

Scopes: `scopes=None` grants everything; a set names the private app's scopes, and a request
needing another one gets HubSpot's 403 MISSING_SCOPES (`required_scope` says which).

Limits: a rolling window of `rate_limit` non-search requests per `window_s` (429
TEN_SECONDLY_ROLLING with X-HubSpot-RateLimit-* headers), `search_per_s` searches per
window_s/10, and an optional `daily_limit` (429 DAILY). Faults (`Faults`): a fraction of
requests answered with 429, 500/502/503, a response slower than the client's timeout, a
dropped connection, a truncated JSON body or a body cut short; plus scripted faults for the
next requests, and records changed, created or deleted every N requests.
"""
from __future__ import annotations

import bisect
import json
import random
import socket
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from .account import (MODIFIED, TYPE_IDS, Account, Record, iso, now_ms)

LIST_MAX, HISTORY_MAX, SEARCH_MAX, RESULT_CAP = 100, 50, 200, 10_000
BATCH_MAX, ASSOC_BATCH_MAX = 100, 1_000
DEFAULT_PROPS = {"contacts": ["firstname", "lastname", "email"], "companies": ["name", "domain"],
                 "deals": ["dealname", "amount", "closedate", "pipeline", "dealstage"],
                 "products": ["name", "price"], "line_items": ["name", "quantity", "price"],
                 "feedback_submissions": ["hs_createdate", "hs_lastmodifieddate", "hs_object_id"]}
# Contact properties a portal has for Northstar's write-back once an admin created them (the fake
# portal has them unless a test removes them from `FakeHubSpot.writable_contact_properties`).
WRITABLE_CONTACT_PROPERTIES = {"northstar_lead_verdict", "northstar_rejection_reason", "firstname", "lastname",
                               "email", "region", "hs_lead_status"}
NUMERIC = {"hs_object_id", "amount", "price", "quantity", "hs_term_in_months"}
FAULT_KINDS = ("429", "500", "502", "503", "slow", "drop", "truncate", "cut")


@dataclass
class Faults:
    """Which faults to inject. `rate` is the fraction of requests that get one of `kinds`."""
    rate: float = 0.0
    kinds: tuple[str, ...] = FAULT_KINDS
    slow_s: float = 1.0  # how long a "slow" response waits before answering
    seed: int = 1
    mutate_every: int = 0  # every N requests, change, create or archive a record (0 = never)
    scripted: deque = field(default_factory=deque)  # faults for the next requests, in order


def is_datetime_prop(name: str) -> bool:
    return name in ("createdate", "closedate", "lastmodifieddate", "hs_lastmodifieddate",
                    "notes_last_contacted") or name.startswith(("hs_v2_date_", "hs_lifecyclestage_")) \
        or name.endswith("_date")


def _ms_of(value: str) -> int | None:
    if value is None:
        return None
    if value.isdigit():
        return int(value)
    import datetime as dt
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return int(t.timestamp() * 1000)


def _typed(name: str, value):
    """A property value as HubSpot compares it: datetimes by epoch ms, numbers numerically."""
    if value is None:
        return None
    if is_datetime_prop(name):
        return _ms_of(str(value))
    if name in NUMERIC:
        try:
            return float(value)
        except ValueError:
            return None
    return str(value).lower()


def _matches(rec: Record, f: dict) -> bool:
    name, op = f.get("propertyName"), f.get("operator")
    have = _typed(name, rec.props.get(name))
    if op == "HAS_PROPERTY":
        return have is not None
    if op == "NOT_HAS_PROPERTY":
        return have is None
    if op in ("IN", "NOT_IN"):
        wanted = {_typed(name, v) for v in f.get("values") or []}
        return (have in wanted) == (op == "IN")
    want = _typed(name, f.get("value"))
    if op == "NEQ":
        return have != want
    if have is None or want is None:
        return False
    if op == "EQ":
        return have == want
    if op == "BETWEEN":
        return want <= have <= _typed(name, f.get("highValue"))
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        return (str(want).strip("*") in str(have)) == (op == "CONTAINS_TOKEN")
    try:
        return {"LT": have < want, "LTE": have <= want, "GT": have > want, "GTE": have >= want}[op]
    except (KeyError, TypeError):
        raise _HttpError(400, "VALIDATION_ERROR", f"Unsupported operator {op!r} for {name}")


class _HttpError(Exception):
    def __init__(self, status: int, category: str, message: str, extra: dict | None = None):
        super().__init__(message)
        self.status, self.category, self.message, self.extra = status, category, message, extra or {}


def _bool(values: list[str] | None, default: bool = False) -> bool:
    return values[-1].lower() == "true" if values else default


def _list_param(q: dict, name: str) -> list[str]:
    out = []
    for v in q.get(name, []):
        out.extend(x for x in v.split(",") if x)
    return out


class FakeHubSpot:
    """The server, its account, its limits and faults. `requests` counts every request."""

    def __init__(self, account: Account, token: str = "pat-na1-fake-token", *,
                 rate_limit: int = 100, window_s: float = 10.0, search_per_s: int = 5,
                 daily_limit: int | None = None, faults: Faults | None = None,
                 assoc_page: int = 500, latency_s: float = 0.0, result_cap: int = RESULT_CAP,
                 scopes: set[str] | None = None):
        self.account, self.token = account, token
        self.rate_limit, self.window_s, self.search_per_s = rate_limit, window_s, search_per_s
        self.daily_limit, self.faults = daily_limit, faults or Faults()
        self.assoc_page, self.latency_s = assoc_page, latency_s
        self.result_cap = result_cap  # results one search reaches (HubSpot: 10,000); tests lower it
        self.scopes = None if scopes is None else set(scopes)  # None: every scope granted
        self.writable_contact_properties = set(WRITABLE_CONTACT_PROPERTIES)
        self.updates: list[tuple[str, dict]] = []  # (contact id, properties) written by batch updates
        self.requests = 0
        self.statuses: dict[int, int] = {}
        self.mutations: list[tuple[str, str, str]] = []  # (action, object, id)
        self.log: list[tuple[str, str, int]] = []  # (method, path, status)
        self.searches: list[dict] = []  # answered searches: object, filters, sort, after, total
        self._window: deque[float] = deque()
        self._search_window: deque[float] = deque()
        self._daily = 0
        self._lock = threading.Lock()
        self._rng = random.Random(self.faults.seed)
        self._httpd: ThreadingHTTPServer | None = None

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> "FakeHubSpot":
        fake = self

        class Handler(_Handler):
            server_fake = fake
        self._httpd = _Server(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> "FakeHubSpot":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- limits, faults, mutations -----------------------------------------------------

    def _limit_headers(self, remaining: int) -> dict[str, str]:
        h = {"X-HubSpot-RateLimit-Max": str(self.rate_limit),
             "X-HubSpot-RateLimit-Remaining": str(max(0, remaining)),
             "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(self.window_s * 1000)),
             "X-HubSpot-RateLimit-Secondly": str(max(1, self.rate_limit // 10)),
             "X-HubSpot-RateLimit-Secondly-Remaining": str(max(0, remaining // 10))}
        if self.daily_limit is not None:
            h["X-HubSpot-RateLimit-Daily"] = str(self.daily_limit)
            h["X-HubSpot-RateLimit-Daily-Remaining"] = str(max(0, self.daily_limit - self._daily))
        return h

    def _admit(self, search: bool) -> tuple[str | None, dict[str, str]]:
        """(429 policy or None, rate-limit headers) for a new request."""
        with self._lock:
            now = time.monotonic()
            if self.daily_limit is not None and self._daily >= self.daily_limit:
                return "DAILY", self._limit_headers(0)
            window, limit, span = ((self._search_window, self.search_per_s, self.window_s / 10)
                                   if search else (self._window, self.rate_limit, self.window_s))
            while window and window[0] <= now - span:
                window.popleft()
            if len(window) >= limit:
                return "TEN_SECONDLY_ROLLING" if not search else "SECONDLY", \
                    ({} if search else self._limit_headers(0))
            window.append(now)
            self._daily += 1
            return None, ({} if search else self._limit_headers(limit - len(window)))

    def _pick_fault(self) -> str | None:
        with self._lock:
            if self.faults.scripted:
                return self.faults.scripted.popleft()
            if self.faults.rate and self._rng.random() < self.faults.rate:
                return self._rng.choice(self.faults.kinds)
        return None

    def _maybe_mutate(self) -> None:
        every = self.faults.mutate_every
        if not every or self.requests % every:
            return
        with self._lock:
            acct, rng = self.account, self._rng
            obj = rng.choice(["contacts", "companies", "deals", "line_items"])
            live = acct.live(obj)
            if not live:
                return
            action = rng.choice(["update", "update", "archive", "create"])
            rec = rng.choice(live)
            if action == "update":
                field_name = {"contacts": "firstname", "companies": "name", "deals": "dealname",
                              "line_items": "name"}[obj]
                acct.update(obj, rec.id, **{field_name: f"changed-{self.requests}"})
            elif action == "archive":
                acct.archive(obj, rec.id)
            else:
                props = {k: v for k, v in rec.props.items()
                         if k not in ("hs_object_id", "createdate", MODIFIED[obj])}
                rec = acct.create(obj, props)
                if obj == "deals":
                    rec.history = {k: [(rec.props.get(k), rec.created_ms)]
                                   for k in ("dealstage", "amount", "closedate")}
            self.mutations.append((action, obj, rec.id))

    # --- serialisation -----------------------------------------------------------------

    def record_json(self, obj: str, rec: Record, props: list[str] | None,
                    history: list[str] | None = None, search: bool = False) -> dict:
        names = list(props) if props else list(DEFAULT_PROPS[obj])
        if search or not props:
            names += ["createdate", MODIFIED[obj], "hs_object_id"]
        out = {"id": rec.id, "properties": {n: rec.props.get(n) for n in dict.fromkeys(names)},
               "createdAt": iso(rec.created_ms), "updatedAt": iso(rec.updated_ms),
               "archived": rec.archived,
               "url": f"https://app.hubspot.com/contacts/1/record/{obj}/{rec.id}"}
        if rec.archived:
            out["archivedAt"] = iso(rec.archived_ms or rec.updated_ms)
        if history:
            out["propertiesWithHistory"] = {n: self._history(rec, n) for n in history}
        return out

    @staticmethod
    def _history(rec: Record, name: str) -> list[dict]:
        values = rec.history.get(name)
        if values is None:
            values = [(rec.props.get(name), rec.created_ms)] if rec.props.get(name) is not None else []
        return [{"value": v, "timestamp": iso(ts), "sourceType": "CRM_UI", "sourceId": "userId:1",
                 "updatedByUserId": 1} for v, ts in reversed(values)]

    # --- endpoints ---------------------------------------------------------------------

    def list_objects(self, obj: str, q: dict) -> dict:
        history = _list_param(q, "propertiesWithHistory")
        limit = min(int((q.get("limit") or ["10"])[-1]), HISTORY_MAX if history else LIST_MAX)
        archived = _bool(q.get("archived"))
        after = int((q.get("after") or ["0"])[-1] or 0)
        with self.account.lock:
            ordered = self.account.sorted_records(obj)
            recs, nxt = [], None
            for r in ordered[bisect.bisect_left(ordered, after, key=lambda r: int(r.id)):]:
                if r.archived != archived:
                    continue
                if len(recs) == limit:
                    nxt = r.id
                    break
                recs.append(r)
            body = {"results": [self.record_json(obj, r, _list_param(q, "properties"), history)
                                for r in recs]}
        if nxt is not None:
            body["paging"] = {"next": {"after": nxt,
                                       "link": f"{self.url}/crm/v3/objects/{obj}?after={nxt}"}}
        return body

    def get_object(self, obj: str, rec_id: str, q: dict) -> dict:
        rec = self.account.objects[obj].get(rec_id)
        if rec is None or rec.archived != _bool(q.get("archived")):
            raise _HttpError(404, "OBJECT_NOT_FOUND", f"Object not found.  objectId are usually "
                             f"numeric.")
        return self.record_json(obj, rec, _list_param(q, "properties"),
                                _list_param(q, "propertiesWithHistory"))

    def batch_read(self, obj: str, q: dict, body: dict) -> tuple[int, dict]:
        inputs = [str(i.get("id")) for i in body.get("inputs") or []]
        history = body.get("propertiesWithHistory") or []
        cap = HISTORY_MAX if history else BATCH_MAX
        if len(inputs) > cap:
            msg = ("The maximum number of inputs supported in a batch request for property "
                   f"histories is {HISTORY_MAX}" if history else f"Too many inputs; at most {cap}")
            raise _HttpError(400, "VALIDATION_ERROR", msg)
        archived = _bool(q.get("archived"))
        started = iso(now_ms())
        found, missing = [], []
        with self.account.lock:
            for rid in dict.fromkeys(inputs):
                rec = self.account.objects[obj].get(rid)
                if rec is None or rec.archived != archived:
                    missing.append(rid)
                else:
                    found.append(self.record_json(obj, rec, body.get("properties"), history))
        out = {"status": "COMPLETE", "results": found, "startedAt": started,
               "completedAt": iso(now_ms())}
        if missing:
            out["numErrors"] = 1
            out["errors"] = [{"status": "error", "category": "OBJECT_NOT_FOUND",
                              "message": "Could not get some records.",
                              "context": {"ids": missing}, "errors": [], "links": {}}]
            return 207, out
        return 200, out

    def batch_update(self, obj: str, body: dict) -> tuple[int, dict]:
        """Update records' properties; unknown properties refuse the whole batch (HubSpot's 400)."""
        inputs = body.get("inputs") or []
        if len(inputs) > BATCH_MAX:
            raise _HttpError(400, "VALIDATION_ERROR", f"Too many inputs; at most {BATCH_MAX}")
        unknown = sorted({k for i in inputs for k in (i.get("properties") or {})} - self.writable_contact_properties)
        if unknown:
            raise _HttpError(400, "VALIDATION_ERROR", "Property values were not valid: " + ", ".join(
                f'Property "{k}" does not exist' for k in unknown),
                {"errors": [{"message": f'Property "{k}" does not exist', "code": "PROPERTY_DOESNT_EXIST",
                             "context": {"propertyName": [k]}} for k in unknown]})
        started = iso(now_ms())
        done, missing = [], []
        with self.account.lock:
            for i in inputs:
                rid, props = str(i.get("id")), {k: (None if v is None else str(v))
                                                 for k, v in (i.get("properties") or {}).items()}
                rec = self.account.objects[obj].get(rid)
                if rec is None or rec.archived:
                    missing.append(rid)
                    continue
                self.account.update(obj, rid, **props)
                self.updates.append((rid, props))
                done.append(self.record_json(obj, rec, sorted(props)))
        out = {"status": "COMPLETE", "results": done, "startedAt": started, "completedAt": iso(now_ms())}
        if missing:
            out["numErrors"] = 1
            out["errors"] = [{"status": "error", "category": "OBJECT_NOT_FOUND", "message": "Could not update "
                              "some records.", "context": {"ids": missing}, "errors": [], "links": {}}]
            return 207, out
        return 200, out

    def required_scope(self, method: str, segs: list[str]) -> str | None:
        """The scope a request needs (None: none checked)."""
        if segs[:3] == ["crm", "v3", "objects"] and len(segs) >= 4:
            obj = TYPE_IDS.get(segs[3], segs[3])
            if method == "POST" and segs[4:] == ["batch", "update"]:
                return f"crm.objects.{obj}.write"
            return "e-commerce" if obj == "products" else f"crm.objects.{obj}.read"
        if segs[:3] == ["crm", "v3", "owners"]:
            return "crm.objects.owners.read"
        if segs[:3] == ["crm", "v3", "pipelines"]:
            return "crm.objects.deals.read"
        if segs[:3] in (["crm", "v3", "properties"], ["crm", "v4", "associations"]) and len(segs) >= 4:
            obj = TYPE_IDS.get(segs[3], segs[3])
            return "e-commerce" if obj == "products" else f"crm.objects.{obj}.read"
        return None

    def search(self, obj: str, body: dict) -> dict:
        limit = int(body.get("limit") or 10)
        if limit > SEARCH_MAX:
            raise _HttpError(400, "VALIDATION_ERROR",
                             f"limit must be at most {SEARCH_MAX} (got {limit})")
        groups = body.get("filterGroups") or []
        if len(groups) > 5 or sum(len(g.get("filters") or []) for g in groups) > 25 or \
                any(len(g.get("filters") or []) > 10 for g in groups):
            raise _HttpError(400, "VALIDATION_ERROR", "Too many filters: at most 5 groups, "
                             "10 filters per group and 25 in total")
        offset = int(body.get("after") or 0)
        if offset >= self.result_cap:
            raise _HttpError(400, "VALIDATION_ERROR",
                             f"Paging past {self.result_cap} results is not supported; narrow "
                             "the search with filters.")
        sorts = body.get("sorts") or []
        with self.account.lock:
            recs = [r for r in self.account.objects[obj].values() if not r.archived and
                    (not groups or any(all(_matches(r, f) for f in g.get("filters") or [])
                                       for g in groups))]
            if sorts:
                s0 = sorts[0] if isinstance(sorts[0], dict) else {"propertyName": str(sorts[0])}
                name = s0.get("propertyName")
                desc = str(s0.get("direction", "ASCENDING")).upper() == "DESCENDING"
                present = [r for r in recs if _typed(name, r.props.get(name)) is not None]
                absent = [r for r in recs if _typed(name, r.props.get(name)) is None]
                present.sort(key=lambda r: (_typed(name, r.props.get(name)), int(r.id)),
                             reverse=desc)
                recs = present + absent
            else:
                recs.sort(key=lambda r: int(r.id))
            total = len(recs)
            page = recs[offset:offset + limit]
            out = {"total": total,
                   "results": [self.record_json(obj, r, body.get("properties"), search=True)
                               for r in page]}
        if offset + limit < total:
            out["paging"] = {"next": {"after": str(offset + limit)}}
        with self._lock:
            self.searches.append({"object": obj, "filters": [
                {k: f.get(k) for k in ("propertyName", "operator", "value")}
                for g in groups for f in g.get("filters") or []],
                "sort": (sorts[0].get("propertyName") if sorts and isinstance(sorts[0], dict)
                         else None), "after": body.get("after"), "total": total})
        return out

    def owners(self, q: dict) -> dict:
        limit = min(int((q.get("limit") or ["100"])[-1]), 500)
        archived = _bool(q.get("archived"))
        after = int((q.get("after") or ["0"])[-1] or 0)
        recs = sorted((o for o in self.account.owners if o.archived == archived
                       and int(o.id) >= after), key=lambda o: int(o.id))
        results = []
        for o in recs[:limit]:
            results.append({
                "id": o.id, "email": o.email, "firstName": o.first_name, "lastName": o.last_name,
                "userId": o.user_id, "userIdIncludingInactive": o.user_id, "type": "PERSON",
                "teams": [{"id": o.team[0], "name": o.team[1], "primary": True}] if o.team else [],
                "createdAt": iso(o.created_ms), "updatedAt": iso(o.updated_ms),
                "archived": o.archived})
        out = {"results": results}
        if len(recs) > limit:
            out["paging"] = {"next": {"after": recs[limit].id,
                                      "link": f"{self.url}/crm/v3/owners/?after={recs[limit].id}"}}
        return out

    def pipelines(self) -> dict:
        epoch = "1970-01-01T00:00:00Z"
        return {"results": [{
            "id": p["id"], "label": p["label"], "displayOrder": p["displayOrder"],
            "archived": False, "createdAt": epoch, "updatedAt": epoch,
            "stages": [{"id": sid, "label": label, "displayOrder": n, "archived": False,
                        "createdAt": epoch, "updatedAt": epoch,
                        "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
                        "metadata": {"probability": prob, "isClosed": closed}}
                       for n, (sid, label, prob, closed) in enumerate(p["stages"])]}
            for p in self.account.pipelines]}

    def properties(self, obj: str) -> dict:
        """Property definitions of the properties the account uses (enumerations with options)."""
        from .account import LIFECYCLE, SOURCES
        options = {"lifecyclestage": LIFECYCLE, "hs_analytics_source": SOURCES}
        names = sorted({n for r in self.account.objects[obj].values() for n in r.props})
        results = []
        for n in names:
            kind = ("datetime" if is_datetime_prop(n) else "number" if n in NUMERIC
                    else "enumeration" if n in options else "string")
            results.append({
                "name": n, "label": n.replace("_", " ").capitalize(), "type": kind,
                "fieldType": {"datetime": "date", "number": "number",
                              "enumeration": "select"}.get(kind, "text"),
                "groupName": f"{obj[:-1]}information", "description": "",
                "options": [{"label": v.title(), "value": v, "hidden": False, "displayOrder": i}
                            for i, v in enumerate(options.get(n, []))],
                "hubspotDefined": n not in ("region", "product_line", "disqualification_reason"),
                "calculated": False, "hasUniqueValue": n == "hs_object_id", "hidden": False,
                "formField": False, "displayOrder": -1})
        return {"results": results}

    def associations(self, src: str, to: str, body: dict) -> tuple[int, dict]:
        inputs = body.get("inputs") or []
        if len(inputs) > ASSOC_BATCH_MAX:
            raise _HttpError(400, "VALIDATION_ERROR",
                             f"Batch read supports at most {ASSOC_BATCH_MAX} inputs")
        started = iso(now_ms())
        results, empty = [], []
        with self.account.lock:
            index = self.account.association_index(src, to)
            for item in inputs:
                rid, offset = str(item.get("id")), int(item.get("after") or 0)
                found = index.get(rid, {})
                if not found:
                    empty.append(rid)
                    continue
                ids = sorted(found, key=int)
                page = ids[offset:offset + self.assoc_page]
                entry = {"from": {"id": rid}, "to": [
                    {"toObjectId": int(t), "associationTypes": [
                        {"category": "HUBSPOT_DEFINED", "typeId": tid,
                         "label": "Primary" if tid == 5 else None} for tid in found[t]]}
                    for t in page]}
                if offset + self.assoc_page < len(ids):
                    entry["paging"] = {"next": {"after": str(offset + self.assoc_page),
                                                "link": None}}
                results.append(entry)
        out = {"status": "COMPLETE", "results": results, "startedAt": started,
               "completedAt": iso(now_ms())}
        if empty:
            out["numErrors"] = len(empty)
            out["errors"] = [{"status": "error", "category": "OBJECT_NOT_FOUND",
                              "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                              "message": f"No {to} is associated with {src} {rid}.",
                              "context": {"fromObjectId": [rid]}, "errors": [], "links": {}}
                             for rid in empty]
            return 207, out
        return 200, out


class _Server(ThreadingHTTPServer):
    # socketserver listens with a backlog of 5: a client opening a dozen connections at once
    # (one pool per SDK API) had SYNs dropped and retried a second later, which HubSpot's
    # servers do not do
    request_queue_size = 128


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_fake: FakeHubSpot

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _send(self, status: int, body: dict | None, headers: dict[str, str] | None = None,
              raw: bytes | None = None, declared_len: int | None = None) -> None:
        data = raw if raw is not None else json.dumps(body).encode()
        self._note(status)
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(declared_len if declared_len is not None else len(data)))
        self.send_header("X-HubSpot-Correlation-Id", str(uuid.uuid4()))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            self.close_connection = True

    def _note(self, status: int) -> None:
        """Count the answer before it leaves, so a client that has it sees it counted."""
        fake = self.server_fake
        with fake._lock:
            fake.statuses[status] = fake.statuses.get(status, 0) + 1
            fake.log.append((self.command, urlsplit(self.path).path, status))

    def _error(self, status: int, category: str, message: str, headers=None, extra=None) -> None:
        body = {"status": "error", "message": message, "correlationId": str(uuid.uuid4()),
                "category": category, **(extra or {})}
        self._send(status, body, headers)

    def _handle(self, method: str) -> None:
        fake = self.server_fake
        parts = urlsplit(self.path)
        q = parse_qs(parts.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length) if length else b""
        with fake._lock:
            fake.requests += 1
        segs = [p for p in parts.path.split("/") if p]
        search = method == "POST" and segs[-1:] == ["search"]
        try:
            if self.headers.get("Authorization") != f"Bearer {fake.token}":
                self._error(401, "INVALID_AUTHENTICATION",
                            "Authentication credentials not found. This API supports OAuth 2.0 "
                            "authentication.")
                return
            needed = fake.required_scope(method, segs)
            if fake.scopes is not None and needed is not None and needed not in fake.scopes:
                self._error(403, "MISSING_SCOPES", "This app hasn't been granted all required scopes to make this "
                            "call. Read more about required scopes here: https://developers.hubspot.com/scopes.",
                            extra={"errors": [{"message": "One or more of the following scopes are required.",
                                               "context": {"requiredGranularScopes": [needed]}}]})
                return
            policy, limit_headers = fake._admit(search)
            if policy:
                msg = ("You have reached your daily limit." if policy == "DAILY" else
                       f"You have reached your {policy.lower()} limit.")
                self._error(429, "RATE_LIMITS", msg, limit_headers,
                            {"errorType": "RATE_LIMIT", "policyName": policy,
                             "requestId": str(uuid.uuid4())})
                return
            fault = fake._pick_fault()
            if fault == "429":
                self._error(429, "RATE_LIMITS", "You have reached your ten_secondly_rolling limit.",
                            fake._limit_headers(0), {"errorType": "RATE_LIMIT",
                                                     "policyName": "TEN_SECONDLY_ROLLING"})
                return
            if fault == "DAILY":
                self._error(429, "RATE_LIMITS", "You have reached your daily limit.",
                            fake._limit_headers(0), {"errorType": "RATE_LIMIT",
                                                     "policyName": "DAILY"})
                return
            if fault in ("500", "502", "503"):
                self._error(int(fault), "INTERNAL_ERROR", "internal error")
                return
            if fault == "drop":
                self._note(0)
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if fault == "slow":
                time.sleep(fake.faults.slow_s)
            if fake.latency_s:
                time.sleep(fake.latency_s)
            body = json.loads(raw_body) if raw_body else {}
            status, out = self._route(method, segs, q, body)
            fake._maybe_mutate()
            data = json.dumps(out).encode()
            if fault == "truncate":  # a complete HTTP response whose JSON is cut short
                self._send(status, None, limit_headers, raw=data[: len(data) // 2])
            elif fault == "cut":  # the connection closes before the declared length arrives
                self.close_connection = True
                self._send(status, None, limit_headers, raw=data[: len(data) // 2],
                           declared_len=len(data))
            else:
                self._send(status, None, limit_headers, raw=data)
        except _HttpError as exc:
            self._error(exc.status, exc.category, exc.message, extra=exc.extra)

    def _route(self, method: str, segs: list[str], q: dict, body: dict) -> tuple[int, dict]:
        fake = self.server_fake
        if segs[:2] == ["crm", "v3"] and len(segs) >= 4 and segs[2] == "objects":
            obj = TYPE_IDS.get(segs[3], segs[3])
            if obj not in MODIFIED:
                raise _HttpError(400, "VALIDATION_ERROR", f"Unable to infer object type from: {segs[3]}")
            rest = segs[4:]
            if method == "GET" and not rest:
                return 200, fake.list_objects(obj, q)
            if method == "GET" and len(rest) == 1:
                return 200, fake.get_object(obj, rest[0], q)
            if method == "POST" and rest == ["search"]:
                return 200, fake.search(obj, body)
            if method == "POST" and rest == ["batch", "read"]:
                return fake.batch_read(obj, q, body)
            if method == "POST" and rest == ["batch", "update"] and obj == "contacts":
                return fake.batch_update(obj, body)
        if segs[:3] == ["crm", "v3", "properties"] and len(segs) == 4 and method == "GET":
            obj = TYPE_IDS.get(segs[3], segs[3])
            if obj not in MODIFIED:
                raise _HttpError(400, "VALIDATION_ERROR", f"Unable to infer object type from: {segs[3]}")
            return 200, fake.properties(obj)
        if segs[:3] == ["crm", "v3", "owners"] and method == "GET" and len(segs) == 3:
            return 200, fake.owners(q)
        if segs[:3] == ["crm", "v3", "pipelines"] and segs[3:] == ["deals"] and method == "GET":
            return 200, fake.pipelines()
        if segs[:3] == ["crm", "v4", "associations"] and segs[5:] == ["batch", "read"] \
                and method == "POST":
            src, to = (TYPE_IDS.get(x, x) for x in segs[3:5])
            return fake.associations(src, to, body)
        raise _HttpError(404, "OBJECT_NOT_FOUND", f"No route for {method} /{'/'.join(segs)}")
