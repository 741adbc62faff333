"""CRM rows of the demo: owners, pipelines and products once; companies, contacts and deals per block.

A block is a fixed slice of the company (300 contacts, 100 deals, 150 companies) drawn from its own
random stream, so the data does not depend on how many rows are written per batch. Rows are
tuples in the order of `COLUMNS[table]`, with datetimes and dates already in text form.

The company sold before its three years of CRM history: a few customers per block were imported
from the previous CRM (customers before the timeline starts, no campaign) and renew every year,
so the customer base is more than the customers won in the last three years (which keeps ARPA,
CAC payback and LTV/CAC those of a real company, not of one that started from nothing).
"""
from __future__ import annotations

import datetime as dt
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate
from random import Random

from . import world as w
from .timeline import DAY, Timeline, add_months, ds, quarter_end, ts

BLOCK_CONTACTS = 300
BLOCK_DEALS = 100
BLOCK_COMPANIES = 150
COMPANY_SKEW = 0.3  # contacts per company fall off as 1 / rank ** COMPANY_SKEW
ONBOARDING_RATE = 0.3  # Platform deals that come with an onboarding package
LEGACY_CUSTOMERS = 14  # per block: customers from before the timeline, imported, renewing yearly
LEGACY_PRICE = 0.4  # their older packages cost this share of today's deal sizes
# Where the imported customers originally came from: mostly sales-led (referrals, events, outbound).
LEGACY_SOURCES = (("REFERRALS", 0.3), ("OFFLINE", 0.3), ("DIRECT_TRAFFIC", 0.15), ("ORGANIC_SEARCH", 0.15),
                  ("PAID_SEARCH", 0.1))

COLUMNS = {
    "owners": ("owner_id", "email", "first_name", "last_name", "team_id", "team_name", "region",
               "is_archived", "updated_at", "origin"),
    "pipelines": ("pipeline_id", "label", "display_order", "is_archived"),
    "pipeline_stages": ("pipeline_id", "stage_id", "label", "display_order", "probability",
                        "is_closed", "is_won"),
    "products": ("product_id", "name", "sku", "product_line", "price_cents", "currency", "is_deleted"),
    "companies": ("company_id", "name", "domain", "industry", "country", "region", "owner_id",
                  "created_at", "updated_at", "is_deleted", "origin"),
    "contacts": ("contact_id", "email", "first_name", "last_name", "company_id", "owner_id", "region",
                 "lifecycle_stage", "lead_status", "original_source", "source_detail", "campaign",
                 "created_at", "became_lead_at", "became_mql_at", "became_sql_at",
                 "became_opportunity_at", "became_customer_at", "first_sales_touch_at",
                 "disqualified_reason", "updated_at", "is_deleted", "origin"),
    "deals": ("deal_id", "name", "amount_cents", "currency", "pipeline_id", "stage_id", "created_at",
              "close_date", "owner_id", "company_id", "contact_id", "product_line", "region",
              "deal_source", "lost_reason", "forecast_category", "updated_at", "is_deleted", "origin",
              "deal_type"),
    "deal_stage_history": ("deal_id", "stage_id", "entered_at", "amount_cents", "close_date"),
    "deal_contacts": ("deal_id", "contact_id"),
    "deal_companies": ("deal_id", "company_id"),
    "line_items": ("line_item_id", "deal_id", "product_id", "name", "quantity", "price_cents",
                   "amount_cents", "currency", "updated_at", "is_deleted"),
}

_SOURCE_KEYS = tuple(w.SOURCES)
_SOURCE_CUM = list(accumulate(v[0] for v in w.SOURCES.values()))
_REGION_CUM = list(accumulate(w.REGION_WEIGHTS))
_PL_CUM = list(accumulate(w.PRODUCT_LINE_WEIGHTS))
_LOST_CUM = list(accumulate(p for _, p in w.LOST_REASONS))
_LEGACY_CUM = list(accumulate(p for _, p in LEGACY_SOURCES))
_PRODUCTS_BY_LINE = {pl: [p for p in w.PRODUCTS if p[3] == pl] for pl in w.PRODUCT_LINES}
_POOR_SOURCES = {"PAID_SOCIAL", "OTHER_CAMPAIGNS", "SOCIAL_MEDIA"}
_RECURRING = {"Platform", "Analytics"}
_MIN = dt.timedelta(minutes=1)
_HOUR = dt.timedelta(hours=1)


def _pick(cum: list[float], rng: Random) -> int:
    return min(bisect_right(cum, rng.random() * cum[-1]), len(cum) - 1)


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower().replace("'", "")


def _days(x: float) -> dt.timedelta:
    return dt.timedelta(seconds=int(x * 86400))


# --- static rows ---------------------------------------------------------------------

@dataclass(frozen=True)
class Owner:
    owner_id: str
    team: str
    role: str
    region: str
    active_from: dt.date
    active_to: dt.date | None


def build_owners(tl: Timeline) -> list[Owner]:
    """The sales team: ~24 seats, one who left mid-period (archived) and two later hires."""
    owners: list[Owner] = []
    left = add_months(tl.start, 18)
    n = 0
    for team_id, team, regions, role in w.TEAMS:
        for seat, region in enumerate(regions):
            n += 1
            start, end = tl.start - DAY * 400, None
            if team == "Mid-Market EMEA" and seat == 1:
                end = left  # left the company; still owns old deals
            if team == "North America" and seat == 5:
                start = add_months(tl.start, 15)
            owners.append(Owner(str(41_000_000 + 7_919 * n), team, role, region, start, end))
            if end is not None:  # the replacement hire
                n += 1
                owners.append(Owner(str(41_000_000 + 7_919 * n), team, role, region, left, None))
    return owners


def owner_rows(owners: list[Owner], tl: Timeline) -> list[tuple]:
    team_ids = {t[1]: t[0] for t in w.TEAMS}
    rows = []
    for k, o in enumerate(owners):
        first = w.FIRST_NAMES[o.region][(k * 5) % len(w.FIRST_NAMES[o.region])]
        last = w.LAST_NAMES[o.region][(k * 3 + 1) % len(w.LAST_NAMES[o.region])]
        updated = dt.datetime.combine(o.active_to or max(o.active_from, tl.start), dt.time(9))
        rows.append((o.owner_id, f"{_ascii(first)}.{_ascii(last)}@northstar-demo.example", first, last,
                     team_ids[o.team], o.team, o.region, int(o.active_to is not None), ts(updated), "demo"))
    return rows


def pipeline_rows() -> tuple[list[tuple], list[tuple]]:
    pipes, stages = [], []
    for order, (pid, label, stage_list) in enumerate(w.PIPELINES):
        pipes.append((pid, label, order, 0))
        for s_order, (sid, s_label, prob, closed, won) in enumerate(stage_list):
            stages.append((pid, sid, s_label, s_order, prob, int(closed), int(won)))
    return pipes, stages


def product_rows() -> list[tuple]:
    return [(pid, name, sku, pl, int(price * 100), "EUR", 0) for pid, name, sku, pl, price, _ in w.PRODUCTS]


# --- per block -------------------------------------------------------------------------

@dataclass
class Company:
    company_id: str
    name: str
    domain: str
    region: str
    row_fields: tuple
    created: dt.datetime | None = None


@dataclass
class Contact:
    contact_id: str
    company: Company
    region: str
    source: str
    win_mult: float
    created: dt.datetime
    stages: list  # became_lead, mql, sql, opportunity (datetime or None)
    touch: dt.datetime | None
    late_touch: bool
    subscriber_only: bool
    customer_at: dt.datetime | None = None
    imported: bool = False  # a customer from before the timeline, imported from the previous CRM


@dataclass
class Deal:
    """What finance and renewals need to know about a deal once it is generated."""
    deal_id: str
    contact: Contact
    pipeline: str
    product_line: str
    currency: str
    amount_cents: int
    created: dt.datetime
    close_date: dt.date
    closed_at: dt.datetime | None  # when it closed; None while open
    won: bool
    owner_id: str


class BlockContext:
    """Everything a block needs that is the same for all blocks."""

    def __init__(self, tl: Timeline, owners: list[Owner]):
        self.tl = tl
        self.owners: dict[tuple[str, str], list[Owner]] = {}
        for o in owners:
            self.owners.setdefault((o.role, o.region), []).append(o)

    def owner(self, rng: Random, roles: tuple[str, ...], region: str, when: dt.datetime) -> str:
        day = when.date()
        for role in roles:
            pool = [o for o in self.owners.get((role, region), ())
                    if o.active_from <= day and (o.active_to is None or day < o.active_to - DAY * 120)]
            if pool:
                return rng.choice(pool).owner_id
        raise ValueError(f"no owner for roles {roles} in {region}")


def _companies(rng: Random, block: int) -> list[Company]:
    out = []
    for j in range(BLOCK_COMPANIES):
        region = w.REGIONS[_pick(_REGION_CUM, rng)]
        countries = w.REGION_COUNTRIES[region]
        country = countries[_pick(list(accumulate(p for _, p in countries)), rng)][0]
        stem, tail = rng.choice(w.COMPANY_STEMS), rng.choice(w.COMPANY_TAILS)
        suffix = rng.choice(w.COMPANY_SUFFIX[region])
        name = f"{stem} {tail} {suffix}".strip()
        domain = f"{_ascii(stem)}{_ascii(tail)}{block % 97}{j}.example"
        out.append(Company(str(10_000_000 + block * BLOCK_COMPANIES + j), name, domain, region,
                           (rng.choice(w.INDUSTRIES), country)))
    return out


def _contact(rng: Random, ctx: BlockContext, cid: str, company: Company) -> Contact:
    tl, now = ctx.tl, ctx.tl.now
    region = company.region
    source = _SOURCE_KEYS[_pick(_SOURCE_CUM, rng)]
    _, p_mql, p_sql, p_opp, win_mult = w.SOURCES[source]
    created = tl.moment(rng)
    lead = mql = sql = opp = touch = None
    late = subscriber_only = False
    if source in ("EMAIL_MARKETING", "ORGANIC_SEARCH", "SOCIAL_MEDIA") and rng.random() < 0.3:
        lead = created + _days(rng.expovariate(1 / 40)) + _MIN  # newsletter subscriber first
        if rng.random() < 0.4:
            lead, subscriber_only = None, True
    else:
        lead = created
    if lead is not None:
        if source in ("OFFLINE", "REFERRALS") and rng.random() < 0.15:
            # created by sales: straight from lead to opportunity (no MQL, no SQL)
            touch = lead + _MIN * rng.randrange(5, 240)
            opp = touch + _HOUR * rng.randrange(1, 72)
        elif rng.random() < p_mql:
            q = lead + _days(rng.expovariate(1 / 10)) + _MIN * 5
            if rng.random() < 0.1:  # a demo request accepted by sales at once: MQL skipped
                touch = max(lead, q - _MIN * rng.randrange(10, 600))
                sql = q
            else:
                mql = q
                never, late_share = w.FOLLOW_UP[region]
                if source == "PAID_SOCIAL":
                    never, late_share = never * 1.8, late_share * 1.3
                u = rng.random()
                if u < never:
                    touch = None
                elif u < never + late_share:
                    touch, late = q + _HOUR * 49 + _days(rng.uniform(0, 20)), True
                else:
                    touch = q + _MIN * rng.randrange(5, 47 * 60)
                if touch is not None and rng.random() < p_sql * (0.7 if late else 1.0):
                    sql = touch + _days(rng.expovariate(1 / 4)) + _HOUR
                elif touch is None and rng.random() < 0.12:
                    sql = q + _days(rng.expovariate(1 / 3)) + _HOUR  # lead scoring, nobody called
            if sql is not None and touch is not None and rng.random() < p_opp:
                opp = sql + _days(rng.expovariate(1 / 6)) + _HOUR
                if mql is not None and rng.random() < 0.12:
                    sql = None  # MQL straight to opportunity: SQL skipped
    stages = [lead, mql, sql, opp]
    for i, at in enumerate(stages):  # nothing at or after now
        if at is not None and at >= now:
            stages[i:] = [None] * (4 - i)
            break
    if touch is not None and touch >= now:
        touch = None
    if stages[3] is not None and touch is None:
        stages[3] = None
    return Contact(cid, company, region, source, win_mult, created, stages, touch, late, subscriber_only)


def _finish_contact(rng: Random, ctx: BlockContext, c: Contact, emails: set) -> tuple:
    now = ctx.tl.now
    lead, mql, sql, opp = c.stages
    reached = [at for at in (lead, mql, sql, opp, c.customer_at) if at is not None]
    if c.customer_at is not None:
        stage, status = "customer", None
    elif opp is not None:
        stage, status = "opportunity", "OPEN_DEAL"
    elif not reached:
        stage, status = "subscriber", None
    else:
        stage = ("lead", "marketingqualifiedlead", "salesqualifiedlead")[
            max(i for i, at in enumerate((lead, mql, sql)) if at is not None)]
        status = "IN_PROGRESS" if c.touch else "NEW"
    reason = None
    if stage in ("lead", "marketingqualifiedlead", "salesqualifiedlead") and (now - reached[-1]).days > 45:
        u = rng.random()
        if u < 0.55:
            status = "UNQUALIFIED"
            reason = ("No budget" if c.source in _POOR_SOURCES and rng.random() < 0.4
                      else rng.choice(w.DISQUALIFIED_REASONS))
        elif u < 0.7:
            status = "BAD_TIMING"
        else:
            status = "ATTEMPTED_TO_CONTACT" if c.touch else "NEW"
    first = rng.choice(w.FIRST_NAMES[c.region])
    last = rng.choice(w.LAST_NAMES[c.region])
    email = f"{_ascii(first)}.{_ascii(last)}@{c.company.domain}"
    n = 2
    while email in emails:
        email = f"{_ascii(first)}.{_ascii(last)}{n}@{c.company.domain}"
        n += 1
    emails.add(email)
    detail = rng.choice(w.SOURCE_DETAIL[c.source])
    campaign = None
    channels = None if c.imported else w.SOURCE_CHANNELS.get(c.source)
    if channels and rng.random() < 0.9:
        ch = rng.choice(channels)
        campaign = w.campaign_name(ch, rng.choice(w.CHANNELS[ch][1]), c.region)
    owner = None if stage == "subscriber" else ctx.owner(rng, ("sdr", "na"), c.region, c.created)
    updated = max([c.created] + reached + ([c.touch] if c.touch else []))
    return (c.contact_id, email, first, last, c.company.company_id, owner, c.region, stage, status,
            c.source, detail, campaign, ts(c.created), ts(lead), ts(mql), ts(sql), ts(opp),
            ts(c.customer_at), ts(c.touch), reason, ts(updated), 0, "demo")


def _amount_cents(rng: Random, ctx: BlockContext, pl: str, region: str, created: dt.datetime) -> int:
    years = (created.date() - ctx.tl.start).days / 365.25
    eur = (w.DEAL_SIZE_EUR[pl] * rng.lognormvariate(0, 0.55) * (1 + 0.06 * years)
           * (1.2 if region == "North America" else 1.0))
    local = eur / w.FX_TO_EUR[w.REGION_CURRENCY[region]]
    return max(1000, round(local / 100) * 100) * 100


def _rescale(amount: int, factor: float) -> int:
    return max(1000, round(amount * factor / 10000) * 100) * 100


class DealFactory:
    """Builds one deal with its stage history, line items and associations."""

    def __init__(self, rng: Random, ctx: BlockContext, block: int, out: dict[str, list]):
        self.rng, self.ctx, self.block, self.out = rng, ctx, block, out
        self.count = 0
        self.items = 0

    def make(self, c: Contact, pipeline: str, pl: str, created: dt.datetime, amount: int,
             win_prob: float, close: dt.date | None = None, owner: str | None = None,
             label: str = "", deal_type: str = "newbusiness") -> Deal:
        rng, tl = self.rng, self.ctx.tl
        now, as_of = tl.now, tl.as_of
        deal_id = str(5_000_000_000 + self.block * BLOCK_DEALS + self.count)
        self.count += 1
        currency = w.REGION_CURRENCY[c.region]
        big = amount * w.FX_TO_EUR[currency] > 6_000_000
        if close is None:
            cycle = w.CYCLE_DAYS[pl] * rng.lognormvariate(0, 0.45) * (1.3 if big else 1.0)
            close = created.date() + DAY * max(3, int(cycle))
            qe = quarter_end(close)
            if (qe - close).days <= 40 and rng.random() < 0.45:  # pulled in to hit the quarter
                close = max(created.date(), qe - DAY * rng.randrange(0, 8))
        won = rng.random() < min(0.92, win_prob)
        closed_at = None
        if close < as_of and not ((as_of - close).days <= 75 and rng.random() < 0.12):
            closed_at = max(created + _MIN * 5,
                            dt.datetime.combine(close, dt.time()) + _MIN * rng.randrange(9 * 60, 19 * 60))
            if closed_at >= now:
                closed_at = None
            else:
                close = closed_at.date()
        opens = w.OPEN_STAGES[pipeline]
        start = 1 if pipeline == "default" and rng.random() < 0.1 else 0
        if closed_at is not None:
            last = len(opens) - 1 if won else rng.randrange(start, len(opens))
            path = [opens[start]] + [s for s in opens[start + 1:last + 1] if rng.random() < 0.8]
            path.append(w.WON_STAGE[pipeline] if won else w.LOST_STAGE[pipeline])
            end = closed_at
        else:
            close_dt = dt.datetime.combine(close, dt.time(12))
            if now - created < DAY or close_dt <= created:
                frac = 0.0  # just created: still in its first stage
            else:
                frac = 1.0 if close_dt <= now else (now - created) / (close_dt - created)
            target = min(len(opens) - 1, start + int(frac * (len(opens) - start)))
            if close < as_of and now - created >= DAY:  # overdue: stuck somewhere past its first stage
                target = rng.randrange(min(start + 1, len(opens) - 1), len(opens))
            path = [opens[start]] + [s for s in opens[start + 1:target] if rng.random() < 0.8]
            if target > start:
                path.append(opens[target])
            end = min(now - _MIN, close_dt)
        span = max(len(path), int((end - created).total_seconds()))
        offsets = sorted(rng.randrange(1, span) for _ in range(len(path) - 1))
        if closed_at is not None and offsets:
            offsets[-1] = int((closed_at - created).total_seconds())
        entered = [created]
        for off in offsets:
            entered.append(max(created + dt.timedelta(seconds=off), entered[-1] + dt.timedelta(seconds=1)))
        # amount changes and close-date push-outs, as of each stage change
        amount0, change_at, close0, push_at = amount, len(path), close, len(path)
        if len(path) > 1 and rng.random() < 0.3:
            amount0, change_at = _rescale(amount, rng.uniform(0.6, 1.4)), rng.randrange(1, len(path))
        if len(path) > 1 and rng.random() < 0.3:
            close0 = max(created.date(), close - DAY * rng.randrange(14, 61))
            push_at = rng.randrange(1, len(path))
        hist = self.out["deal_stage_history"]
        for k, (stage, at) in enumerate(zip(path, entered)):
            hist.append((deal_id, stage, ts(at), amount0 if k < change_at else amount,
                         ds(close0 if k < push_at else close)))
        stage = path[-1]
        if closed_at is None:
            forecast, lost_reason = w.FORECAST_BY_STAGE[stage], None
        elif won:
            forecast, lost_reason = "CLOSED", None
        else:
            forecast = "OMIT"
            lost_reason = ("Bad fit / poor lead" if c.source in _POOR_SOURCES and rng.random() < 0.3
                           else w.LOST_REASONS[_pick(_LOST_CUM, rng)][0])
        if owner is None:
            roles = (("partner",) if c.source == "REFERRALS" else ()) + (("enterprise",) if big else ()) + ("ae", "na")
            owner = self.ctx.owner(rng, roles, c.region, created)
        name = f"{c.company.name} - {pl}{label}"
        self.out["deals"].append((
            deal_id, name, amount, currency, pipeline, stage, ts(created), ds(close), owner,
            c.company.company_id, c.contact_id, pl, c.region, c.source, lost_reason, forecast,
            ts(entered[-1]), 0, "demo", deal_type))
        self.out["deal_contacts"].append((deal_id, c.contact_id))
        self.out["deal_companies"].append((deal_id, c.company.company_id))
        self._line_items(deal_id, pl, amount, currency, entered[-1])
        return Deal(deal_id, c, pipeline, pl, currency, amount, created, close,
                    closed_at, closed_at is not None and won, owner)

    def _line_items(self, deal_id: str, pl: str, amount: int, currency: str, at: dt.datetime) -> None:
        rng = self.rng
        products = _PRODUCTS_BY_LINE[pl]
        chosen = [products[0]] + [p for p in products[1:] if rng.random() < 0.5]
        weights = [3.0] + [rng.uniform(0.5, 1.5) for _ in chosen[1:]]
        parts = [int(amount * wt / sum(weights)) for wt in weights]
        lines = []
        for prod, part in zip(chosen, parts):
            qty = rng.randrange(2, 41) if prod[5] else 1
            price = part // qty
            lines.append([prod, qty, price, price * qty])
        lines[0][2] += amount - sum(line[3] for line in lines)  # the first line is never per-seat
        lines[0][3] = lines[0][2]
        for prod, qty, price, total in lines:
            self.out["line_items"].append((
                str(8_000_000_000 + self.block * 1000 + self.items), deal_id, prod[0], prod[1],
                float(qty), price, total, currency, ts(at), 0))
            self.items += 1


def _imported_customers(rng: Random, ctx: BlockContext, contacts: list[Contact]) -> list[Contact]:
    """Turn LEGACY_CUSTOMERS unqualified contacts, one per company with no opportunity, into
    customers imported from the previous CRM: created and won before the timeline starts."""
    start = ctx.tl.start
    busy = {c.company.company_id for c in contacts if any(at is not None for at in c.stages[1:])}
    by_company: dict[str, Contact] = {}
    for c in contacts:
        if c.company.company_id not in busy and c.company.company_id not in by_company:
            by_company[c.company.company_id] = c
    chosen = rng.sample(sorted(by_company.values(), key=lambda c: c.contact_id),
                        min(LEGACY_CUSTOMERS, len(by_company)))
    for c in chosen:
        created = dt.datetime.combine(start - DAY * rng.randrange(30, 390), dt.time(9)) + _MIN * rng.randrange(0, 480)
        c.source, c.created, c.imported = LEGACY_SOURCES[_pick(_LEGACY_CUM, rng)][0], created, True
        c.win_mult = w.SOURCES[c.source][4]
        c.stages = [created, None, None, None]
        c.touch, c.late_touch, c.subscriber_only = created + _HOUR * rng.randrange(1, 48), False, False
        c.customer_at = created + DAY * rng.randrange(10, 25)
    return chosen


class ImportedRenewals:
    """Yearly renewals of the imported customers' subscriptions until one churns.

    `first` books every customer's first renewal (before the other renewals, so each imported
    customer has a deal); `rest` continues the chains while the block has deals left.
    """

    def __init__(self, rng: Random, factory: "DealFactory", imported: list[Contact]):
        self.rng, self.factory, self.chains = rng, factory, []
        start = factory.ctx.tl.start
        for c in imported:
            pl = "Platform" if rng.random() < 0.6 else "Analytics"
            amount = _rescale(_amount_cents(rng, factory.ctx, pl, c.region, c.created), LEGACY_PRICE)
            self.chains.append([c, pl, start + DAY * rng.randrange(80, 445), amount])

    def _renew(self, chain: list, deals: list[Deal]) -> bool:
        """Book the chain's next renewal; True if it was won and the chain goes on."""
        c, pl, anniversary, amount = chain
        created = dt.datetime.combine(anniversary - DAY * 75, dt.time(9)) + _MIN * self.rng.randrange(0, 480)
        if created >= self.factory.ctx.tl.now:
            return False
        d = self.factory.make(c, "renewals", pl, created, amount, 0.88, close=anniversary,
                              label=f" renewal {anniversary.year}", deal_type="existingbusiness")
        deals.append(d)
        chain[2], chain[3] = anniversary + DAY * 365, _rescale(amount, self.rng.uniform(0.95, 1.15))
        return d.won

    def first(self, deals: list[Deal]) -> None:
        self.chains = [chain for chain in self.chains if len(deals) < BLOCK_DEALS and self._renew(chain, deals)]

    def rest(self, deals: list[Deal]) -> None:
        for chain in self.chains:
            while len(deals) < BLOCK_DEALS and self._renew(chain, deals):
                pass


def generate_block(ctx: BlockContext, seed: int, block: int) -> tuple[dict[str, list], list[Deal], list[Contact]]:
    """Companies, contacts and exactly BLOCK_DEALS deals (with history, items, links) of one block."""
    rng = Random(f"northstar-demo:{seed}:crm:{block}")
    tl = ctx.tl
    out: dict[str, list] = {name: [] for name in ("companies", "contacts", "deals", "deal_stage_history",
                                                   "deal_contacts", "deal_companies", "line_items")}
    companies = _companies(rng, block)
    company_cum = list(accumulate(1 / (j + 1) ** COMPANY_SKEW for j in range(BLOCK_COMPANIES)))
    contacts = [_contact(rng, ctx, str(100_000_000 + block * BLOCK_CONTACTS + i), companies[_pick(company_cum, rng)])
                for i in range(BLOCK_CONTACTS)]
    opps = [c for c in contacts if c.stages[3] is not None]
    room = BLOCK_DEALS - LEGACY_CUSTOMERS  # keep exactly BLOCK_DEALS deals: the latest opportunities wait
    if len(opps) > room:
        for c in sorted(opps, key=lambda c: c.stages[3])[room:]:
            c.stages[3] = None
        opps = [c for c in contacts if c.stages[3] is not None]
    if not opps:  # vanishingly rare; a block still needs someone to sell to
        c = next(c for c in contacts if c.stages[0] is not None)
        c.touch = c.touch or c.stages[0] + _HOUR
        c.stages[3] = max(c.stages[0], c.touch) + _HOUR
        opps = [c]
    imported = _imported_customers(rng, ctx, contacts)
    factory = DealFactory(rng, ctx, block, out)
    deals: list[Deal] = []
    for c in opps:
        pl = w.PRODUCT_LINES[_pick(_PL_CUM, rng)]
        p_win = w.BASE_WIN_RATE[pl] * c.win_mult * (0.75 if c.late_touch else 1.0) * (
            0.9 if c.region == "North America" else 1.0)
        deals.append(factory.make(c, "default", pl, c.stages[3], _amount_cents(rng, ctx, pl, c.region, c.stages[3]), p_win))
    legacy = ImportedRenewals(rng, factory, imported)
    legacy.first(deals)
    for d in list(deals):  # onboarding sold with the platform
        if (len(deals) < BLOCK_DEALS and d.pipeline == "default" and d.product_line == "Platform"
                and rng.random() < ONBOARDING_RATE):
            created = d.created + DAY * rng.randrange(0, 21)
            if created < tl.now - _HOUR:
                deals.append(factory.make(d.contact, "default", "Services", created,
                                          _amount_cents(rng, ctx, "Services", d.contact.region, created),
                                          0.55 if d.won else 0.2, label=" onboarding"))
    queue = [d for d in deals if d.won and d.pipeline == "default" and d.product_line in _RECURRING]
    while queue and len(deals) < BLOCK_DEALS:  # renewals, a year after each recurring win
        prev = queue.pop(0)
        anniversary = prev.close_date + DAY * 365
        created = dt.datetime.combine(anniversary - DAY * 75, dt.time(9)) + _MIN * rng.randrange(0, 480)
        if created >= tl.now:
            continue
        churn = 0.14 * (1.5 if prev.contact.source in _POOR_SOURCES else 1.0)
        owner = prev.owner_id if rng.random() < 0.8 else None
        d = factory.make(prev.contact, "renewals", prev.product_line, created,
                         _rescale(prev.amount_cents, rng.uniform(0.95, 1.15)), 1 - churn,
                         close=anniversary, owner=owner, label=f" renewal {anniversary.year}",
                         deal_type="existingbusiness")
        deals.append(d)
        if d.won:
            queue.append(d)
    legacy.rest(deals)
    first_win: dict[str, Deal] = {}
    for d in deals:
        if d.won and d.pipeline == "default" and (d.contact.contact_id not in first_win
                                                  or d.closed_at < first_win[d.contact.contact_id].closed_at):
            first_win[d.contact.contact_id] = d
    accounts = sorted(first_win.values(), key=lambda d: d.deal_id)
    while len(deals) < BLOCK_DEALS:  # land and expand: another product line for a customer
        if accounts:
            won = rng.choice(accounts)
            c, base, label, boost = won.contact, won.closed_at, " expansion", 1.3
        else:  # no customer in this block yet: a second try with an earlier opportunity
            c = rng.choice(opps)
            base, label, boost = c.stages[3], " second try", 1.0
        created = base + DAY * rng.randrange(30, 500)
        if created >= tl.now - _HOUR:
            created = base + (tl.now - _HOUR - base) * rng.uniform(0.1, 0.95)
        created = created.replace(microsecond=0)
        pl = w.PRODUCT_LINES[_pick(_PL_CUM, rng)]
        p_win = w.BASE_WIN_RATE[pl] * c.win_mult * boost
        deals.append(factory.make(c, "default", pl, created, _amount_cents(rng, ctx, pl, c.region, created),
                                  p_win, label=label,
                                  deal_type="existingbusiness" if accounts else "newbusiness"))
    for d in deals:
        if d.won and d.pipeline == "default" and (d.contact.customer_at is None or d.closed_at < d.contact.customer_at):
            d.contact.customer_at = d.closed_at
    emails: set[str] = set()
    out["contacts"] = [_finish_contact(rng, ctx, c, emails) for c in contacts]
    for c in contacts:
        if c.company.created is None or c.created < c.company.created:
            c.company.created = c.created
    for co in companies:
        created = co.created or tl.moment(rng)
        owner = ctx.owner(rng, ("ae", "na"), co.region, created)
        out["companies"].append((co.company_id, co.name, co.domain, co.row_fields[0], co.row_fields[1],
                                 co.region, owner, ts(created), ts(created), 0, "demo"))
    return out, deals, contacts
