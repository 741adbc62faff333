"""A generated HubSpot account: owners, pipelines, products, companies, contacts, deals, line
items and their associations, as the fake server holds them (property values are strings).

`generate_account(size...)` is deterministic for a seed and an anchor time. `Account` also
offers the edits a test makes between syncs (update, create, archive), which move the record's
last-modified time the way HubSpot does.
"""
from __future__ import annotations

import datetime as dt
import random
import threading
import time
from dataclasses import dataclass, field

EPOCH = dt.datetime(1970, 1, 1)
DAY_MS = 86_400_000

MODIFIED = {"contacts": "lastmodifieddate", "companies": "hs_lastmodifieddate",
            "deals": "hs_lastmodifieddate", "line_items": "hs_lastmodifieddate",
            "products": "hs_lastmodifieddate", "feedback_submissions": "hs_lastmodifieddate"}
TYPE_IDS = {"0-1": "contacts", "0-2": "companies", "0-3": "deals", "0-7": "products",
            "0-8": "line_items", "0-19": "feedback_submissions"}
LIFECYCLE = ["subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead",
             "opportunity", "customer"]
SOURCES = ["ORGANIC_SEARCH", "PAID_SEARCH", "EMAIL_MARKETING", "SOCIAL_MEDIA", "REFERRALS",
           "OTHER_CAMPAIGNS", "DIRECT_TRAFFIC", "OFFLINE", "PAID_SOCIAL", "AI_REFERRALS"]
REGIONS = ["EMEA", "North America", "APAC"]
PRODUCT_LINES = ["Platform", "Analytics", "Services"]
CURRENCIES = ["EUR", "USD", "GBP"]
FORECAST = ["PIPELINE", "BEST_CASE", "COMMIT", "CLOSED", "OMIT"]
STAGES = [  # id, label, probability, isClosed (HubSpot's default deal pipeline)
    ("appointmentscheduled", "Appointment Scheduled", "0.2", "false"),
    ("qualifiedtobuy", "Qualified To Buy", "0.4", "false"),
    ("presentationscheduled", "Presentation Scheduled", "0.6", "false"),
    ("decisionmakerboughtin", "Decision Maker Bought-In", "0.8", "false"),
    ("contractsent", "Contract Sent", "0.9", "false"),
    ("closedwon", "Closed Won", "1.0", "true"),
    ("closedlost", "Closed Lost", "0.0", "true"),
]
PARTNER_STAGES = [
    ("p_sourced", "Partner Sourced", "0.1", "false"),
    ("p_negotiation", "Negotiation", "0.5", "false"),
    ("p_won", "Won", "1.0", "true"),
    ("p_lost", "Lost", "0.0", "true"),
]
# HUBSPOT_DEFINED association typeIds (from -> to)
TYPE_DEAL_CONTACT, TYPE_CONTACT_DEAL = 3, 4
TYPE_DEAL_COMPANY_PRIMARY, TYPE_DEAL_COMPANY, TYPE_COMPANY_DEAL = 5, 341, 342
TYPE_DEAL_LINE_ITEM, TYPE_LINE_ITEM_DEAL = 19, 20


def iso(ms: int) -> str:
    """Epoch ms -> HubSpot's '2026-02-25T16:26:25.880Z'."""
    t = EPOCH + dt.timedelta(milliseconds=ms)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Record:
    id: str
    props: dict[str, str | None]
    created_ms: int
    updated_ms: int
    archived: bool = False
    archived_ms: int | None = None
    history: dict[str, list[tuple[str | None, int]]] = field(default_factory=dict)  # oldest first


@dataclass
class Owner:
    id: str
    email: str
    first_name: str
    last_name: str
    user_id: int
    team: tuple[str, str] | None  # (id, name)
    created_ms: int
    updated_ms: int
    archived: bool = False


@dataclass
class Account:
    owners: list[Owner]
    pipelines: list[dict]
    objects: dict[str, dict[str, Record]]
    deal_contacts: set[tuple[str, str]]
    deal_companies: dict[tuple[str, str], bool]  # (deal, company) -> primary
    line_item_deal: dict[str, str]  # line item -> deal
    next_id: int
    lock: threading.RLock = field(default_factory=threading.RLock)
    _sorted: dict[str, list[Record]] = field(default_factory=dict, repr=False)

    # --- reads used by the server and by tests ---------------------------------------

    def live(self, obj: str) -> list[Record]:
        return [r for r in self.objects[obj].values() if not r.archived]

    def deal_associations(self, deal_id: str, to: str) -> dict[str, list[int]]:
        """{to id: [typeIds]} of one deal."""
        if to == "contacts":
            return {c: [TYPE_DEAL_CONTACT] for d, c in self.deal_contacts if d == deal_id}
        if to == "companies":
            return {c: ([TYPE_DEAL_COMPANY_PRIMARY, TYPE_DEAL_COMPANY] if primary
                        else [TYPE_DEAL_COMPANY])
                    for (d, c), primary in self.deal_companies.items() if d == deal_id}
        return {li: [TYPE_DEAL_LINE_ITEM] for li, d in self.line_item_deal.items() if d == deal_id}

    def sorted_records(self, obj: str) -> list[Record]:
        """Every record of `obj` (live and archived) by numeric id (cached until a create)."""
        if obj not in self._sorted:
            self._sorted[obj] = sorted(self.objects[obj].values(), key=lambda r: int(r.id))
        return self._sorted[obj]

    def association_index(self, src: str, to: str) -> dict[str, dict[str, list[int]]]:
        """{from id: {to id: [typeIds]}} for every record of `src`, built in one pass."""
        index: dict[str, dict[str, list[int]]] = {}
        if src == "deals" and to == "contacts":
            for d, c in self.deal_contacts:
                index.setdefault(d, {})[c] = [TYPE_DEAL_CONTACT]
        elif src == "deals" and to == "companies":
            for (d, c), primary in self.deal_companies.items():
                index.setdefault(d, {})[c] = ([TYPE_DEAL_COMPANY_PRIMARY, TYPE_DEAL_COMPANY]
                                              if primary else [TYPE_DEAL_COMPANY])
        elif src == "deals" and to == "line_items":
            for li, d in self.line_item_deal.items():
                index.setdefault(d, {})[li] = [TYPE_DEAL_LINE_ITEM]
        elif to == "deals" and src in ("contacts", "companies", "line_items"):
            pairs = {"contacts": ((c, d, TYPE_CONTACT_DEAL) for d, c in self.deal_contacts),
                     "companies": ((c, d, TYPE_COMPANY_DEAL) for d, c in self.deal_companies),
                     "line_items": ((li, d, TYPE_LINE_ITEM_DEAL)
                                    for li, d in self.line_item_deal.items())}[src]
            for a, d, tid in pairs:
                index.setdefault(a, {})[d] = [tid]
        return index

    def associations(self, src: str, to: str, src_id: str) -> dict[str, list[int]]:
        if src == "deals":
            return self.deal_associations(src_id, to)
        if to != "deals":
            return {}
        if src == "contacts":
            return {d: [TYPE_CONTACT_DEAL] for d, c in self.deal_contacts if c == src_id}
        if src == "companies":
            return {d: [TYPE_COMPANY_DEAL] for (d, c) in self.deal_companies if c == src_id}
        if src == "line_items":
            d = self.line_item_deal.get(src_id)
            return {d: [TYPE_LINE_ITEM_DEAL]} if d else {}
        return {}

    # --- edits (what happens in HubSpot between or during syncs) ----------------------

    def _touch(self, obj: str, rec: Record, at: int | None = None) -> None:
        rec.updated_ms = max(at or now_ms(), rec.updated_ms + 1)
        rec.props[MODIFIED[obj]] = iso(rec.updated_ms)

    def update(self, obj: str, rec_id: str, at: int | None = None, **props: str | None) -> Record:
        with self.lock:
            rec = self.objects[obj][rec_id]
            at = at or now_ms()
            for k, v in props.items():
                rec.props[k] = v
                if k in rec.history:
                    rec.history[k].append((v, at))
            self._touch(obj, rec, at)
            return rec

    def create(self, obj: str, props: dict[str, str | None], at: int | None = None) -> Record:
        with self.lock:
            rid = str(self.next_id)
            self.next_id += 1
            at = at or now_ms()
            rec = Record(rid, {**props, "hs_object_id": rid, "createdate": iso(at)}, at, at)
            if obj == "deals":
                rec.history = {k: [(props.get(k), at)] for k in ("dealstage", "amount", "closedate")}
            self._touch(obj, rec, at)
            self.objects[obj][rid] = rec
            self._sorted.pop(obj, None)
            return rec

    def archive(self, obj: str, rec_id: str, at: int | None = None) -> None:
        with self.lock:
            rec = self.objects[obj][rec_id]
            rec.archived, rec.archived_ms = True, at or now_ms()
            self._touch(obj, rec, at)

    def restore(self, obj: str, rec_id: str, at: int | None = None) -> None:
        """Bring an archived record back (HubSpot keeps them restorable for 90 days)."""
        with self.lock:
            rec = self.objects[obj][rec_id]
            rec.archived, rec.archived_ms = False, None
            self._touch(obj, rec, at)

    def add_feedback(self, contact_id: str | None, score: int, at: int, survey_type: str = "NPS",
                     email: str | None = None) -> Record:
        """A survey answer (a feedback submission) from a contact, submitted at `at` (epoch ms)."""
        contact = self.objects["contacts"].get(contact_id or "")
        rec = self.create("feedback_submissions", {
            "hs_contact_id": contact_id, "hs_survey_type": survey_type, "hs_value": str(score),
            "hs_survey_name": f"{survey_type} survey", "hs_survey_channel": "EMAIL",
            "hs_contact_email_rollup": email or (contact.props.get("email") if contact else None),
            "hs_response_group": ("PROMOTER" if score >= 9 else "DETRACTOR" if score <= 6 else "PASSIVE")
            if survey_type == "NPS" else None}, at)
        rec.props["createdate"] = iso(at)
        rec.props["hs_createdate"] = iso(at)
        return rec

    def link_line_item(self, line_item_id: str, deal_id: str | None) -> None:
        """Attach a line item to a deal (None detaches); both records count as modified."""
        with self.lock:
            old = self.line_item_deal.pop(line_item_id, None)
            if deal_id:
                self.line_item_deal[line_item_id] = deal_id
            self._touch("line_items", self.objects["line_items"][line_item_id])
            for d in {old, deal_id} - {None}:
                self._touch("deals", self.objects["deals"][d])

    def link_contact(self, deal_id: str, contact_id: str) -> None:
        with self.lock:
            self.deal_contacts.add((deal_id, contact_id))
            self._touch("deals", self.objects["deals"][deal_id])


def _recurring(n: int, close_ms: int) -> dict:
    """The recurring billing of the account's n-th line item, drawn without rng (the rest of the
    account stays as it was): a one-time line, monthly with no term (auto-renewing), annual for
    12 months from a start date, quarterly for 6 months from the deal's close date."""
    kind = n % 4
    if kind == 0:
        return {}
    if kind == 1:
        return {"recurringbillingfrequency": "monthly"}
    if kind == 2:
        return {"recurringbillingfrequency": "annually", "hs_term_in_months": "12",
                "hs_recurring_billing_start_date": iso(close_ms + 7 * DAY_MS)[:10]}
    return {"recurringbillingfrequency": "quarterly", "hs_term_in_months": "6"}


def generate_account(seed: int = 7, *, owners: int = 8, companies: int = 40, contacts: int = 120,
                     deals: int = 60, products: int = 6, max_line_items: int = 3,
                     archived_fraction: float = 0.05, same_ms_contacts: int = 0,
                     anchor_ms: int | None = None) -> Account:
    """A deterministic account; every record was last modified before `anchor_ms` - 1 day.

    `same_ms_contacts` contacts share one last-modified millisecond (a bulk import).
    """
    rng = random.Random(seed)
    anchor = (anchor_ms or now_ms()) - DAY_MS
    start = anchor - 540 * DAY_MS
    ids = iter(range(1001, 10**9))

    def when(lo: int = start, hi: int = anchor) -> int:
        return rng.randint(lo, hi)

    teams = [(str(900 + i), region) for i, region in enumerate(REGIONS)]
    owner_list = []
    for i in range(owners):
        t0 = when()
        owner_list.append(Owner(str(next(ids)), f"owner{i}@example.com", f"Owner{i}", f"Sales{i}",
                                50_000 + i, teams[i % len(teams)] if i % 5 != 4 else None,
                                t0, when(t0), archived=(i == owners - 1 and owners > 2)))
    owner_ids = [o.id for o in owner_list if not o.archived]
    pipelines = [
        {"id": "default", "label": "Sales Pipeline", "displayOrder": 0, "stages": STAGES},
        {"id": "partners", "label": "Partner Pipeline", "displayOrder": 1, "stages": PARTNER_STAGES},
    ]
    objects: dict[str, dict[str, Record]] = {k: {} for k in MODIFIED}

    def make(obj: str, props: dict, created: int | None = None) -> Record:
        rid = str(next(ids))
        created = created or when()
        updated = when(created)
        rec = Record(rid, {**props, "hs_object_id": rid, "createdate": iso(created),
                           MODIFIED[obj]: iso(updated)}, created, updated)
        objects[obj][rid] = rec
        return rec

    def maybe(value: str | None, p: float = 0.85) -> str | None:
        return value if rng.random() < p else None

    for i in range(products):
        make("products", {"name": f"Product {i}", "hs_sku": f"SKU-{i:03d}",
                          "product_line": PRODUCT_LINES[i % len(PRODUCT_LINES)],
                          "price": f"{rng.randint(100, 50_000) / 4:.2f}"})
    for i in range(companies):
        make("companies", {"name": f"Company {i}", "domain": f"company{i}.example",
                           "industry": maybe(rng.choice(["SOFTWARE", "RETAIL", "BANKING"])),
                           "country": maybe(rng.choice(["France", "Germany", "USA", "Japan"])),
                           "region": maybe(rng.choice(REGIONS)),
                           "hubspot_owner_id": maybe(rng.choice(owner_ids))})
    company_ids = list(objects["companies"])
    bulk_ms = when()
    for i in range(contacts):
        created = when()
        stage_idx = rng.randrange(len(LIFECYCLE))
        props = {"email": f"contact{i}@example.org", "firstname": f"First{i}",
                 "lastname": maybe(f"Last{i}"), "associatedcompanyid": maybe(rng.choice(company_ids)),
                 "hubspot_owner_id": maybe(rng.choice(owner_ids)), "region": maybe(rng.choice(REGIONS)),
                 "lifecyclestage": LIFECYCLE[stage_idx], "hs_lead_status": maybe(rng.choice(
                     ["NEW", "OPEN", "IN_PROGRESS", "UNQUALIFIED"]), 0.6),
                 "hs_analytics_source": rng.choice(SOURCES),
                 "hs_analytics_source_data_1": maybe(rng.choice(["google", "linkedin", "newsletter"])),
                 "hs_analytics_source_data_2": maybe(f"campaign-{rng.randint(1, 9)}", 0.5),
                 "disqualification_reason": maybe("No budget", 0.1)}
        t = created
        for stage in LIFECYCLE[1:stage_idx + 1]:
            t += rng.randint(0, 20 * DAY_MS)
            # newer portals fill hs_v2_date_entered_*, older records only the legacy property
            key = (f"hs_v2_date_entered_{stage}" if rng.random() < 0.8
                   else f"hs_lifecyclestage_{stage}_date")
            props[key] = iso(t)
        if stage_idx >= 2 and rng.random() < 0.7:
            key = "hs_sa_first_engagement_date" if rng.random() < 0.6 else "notes_last_contacted"
            props[key] = iso(t + rng.randint(0, 5 * DAY_MS))
        rec = make("contacts", props, created)
        if i < same_ms_contacts:
            rec.updated_ms = bulk_ms
            rec.props["lastmodifieddate"] = iso(bulk_ms)
    contact_ids = list(objects["contacts"])
    product_recs = list(objects["products"].values())
    deal_contacts: set[tuple[str, str]] = set()
    deal_companies: dict[tuple[str, str], bool] = {}
    line_item_deal: dict[str, str] = {}
    for i in range(deals):
        pipe = pipelines[0] if rng.random() < 0.8 else pipelines[1]
        stages = pipe["stages"]
        final = rng.randrange(len(stages))
        created = when(start, anchor - 150 * DAY_MS)  # leaves room for its stage history
        t, history = created, {"dealstage": [], "amount": [], "closedate": []}
        amount = f"{rng.randint(1_000, 200_000)}" + rng.choice(["", ".5", ".25", ".99"])
        close = created + rng.randint(10, 120) * DAY_MS
        history["amount"].append((amount, t))
        history["closedate"].append((iso(close), t))
        for idx in range(final + 1):
            if stages[idx][3] == "true" and idx != final:
                continue
            history["dealstage"].append((stages[idx][0], t))
            t += rng.randint(1, 15) * DAY_MS
            if rng.random() < 0.3:
                amount = f"{rng.randint(1_000, 200_000)}"
                history["amount"].append((amount, t - DAY_MS // 2))
            if rng.random() < 0.2:
                close = close + rng.randint(5, 30) * DAY_MS
                history["closedate"].append((iso(close), t - DAY_MS // 3))
        t = min(t, anchor - 1)
        stage = stages[final]
        rec = make("deals", {
            "dealname": f"Deal {i}", "amount": amount,
            "deal_currency_code": maybe(rng.choice(CURRENCIES), 0.9),
            "pipeline": pipe["id"], "dealstage": stage[0], "closedate": iso(close),
            "hubspot_owner_id": maybe(rng.choice(owner_ids)), "region": maybe(rng.choice(REGIONS)),
            "product_line": maybe(rng.choice(PRODUCT_LINES)),
            "hs_analytics_source": maybe(rng.choice(SOURCES)),
            "closed_lost_reason": "Price" if stage[2] == "0.0" else None,
            "hs_forecast_category": rng.choice(FORECAST),
            # HubSpot's deal type, without drawing from rng (the other fields stay as they were)
            "dealtype": "existingbusiness" if i % 4 == 0 else "newbusiness"}, created)
        rec.history = history
        rec.updated_ms = max(rec.updated_ms, max(ts for vals in history.values() for _, ts in vals))
        rec.updated_ms = min(rec.updated_ms, anchor)
        rec.props["hs_lastmodifieddate"] = iso(rec.updated_ms)
        for c in rng.sample(contact_ids, k=min(len(contact_ids), rng.randint(0, 3))):
            deal_contacts.add((rec.id, c))
        chosen = rng.sample(company_ids, k=min(len(company_ids), rng.randint(0, 2)))
        for n, c in enumerate(chosen):
            deal_companies[(rec.id, c)] = n == 0 and rng.random() < 0.8
        for _ in range(rng.randint(0, max_line_items)):
            prod = rng.choice(product_recs)
            qty = rng.choice(["1", "2", "5", "1.5"])
            price = prod.props["price"]
            li = make("line_items", {
                "name": prod.props["name"], "hs_product_id": prod.id, "quantity": qty,
                "price": price, "amount": f"{float(qty) * float(price):.2f}",
                "hs_line_item_currency_code": rec.props["deal_currency_code"],
                **_recurring(len(line_item_deal), close)}, created)
            line_item_deal[li.id] = rec.id
    account = Account(owner_list, pipelines, objects, deal_contacts, deal_companies,
                      line_item_deal, next(ids))
    for obj, recs in objects.items():  # a few records deleted in HubSpot before any sync
        for rec in list(recs.values()):
            if rng.random() < archived_fraction:
                rec.archived, rec.archived_ms = True, when(rec.updated_ms, anchor)
    return account
