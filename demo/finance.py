"""Finance rows of the demo: invoices and their FEC postings per block; spend, purchases, budgets and quotas once.

Platform and Analytics deals are subscriptions: a won deal's amount is a year of service from its
close date (a renewal, closed on the anniversary, continues it; its new amount is an upgrade or a
downgrade; a renewal lost is a churn; a customer won back later is a reactivation), billed
annually, quarterly or monthly, each invoice carrying the service period it pays for (a credit
note the period of the invoice it refunds). Services are one-off projects, invoiced with no
service period.

The ledger is kept consistent with the invoices except for a few deliberate gaps (an invoice
never posted, a posting with no invoice, an amount that differs, a won deal never invoiced) so
that reconciliation has something real to find. Block 0 always holds one of each.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from random import Random

from . import world as w
from .crm import _RECURRING as RECURRING_LINES, Deal, Owner
from .timeline import DAY, MONTH_SEASON, Timeline, add_months, ds, month_start

COLUMNS = {
    "invoices": ("invoice_number", "customer_name", "company_id", "deal_id", "issue_date", "due_date",
                 "paid_date", "amount_excl_tax_cents", "tax_cents", "currency", "status",
                 "is_credit_note", "origin", "service_period_start", "service_period_end"),
    "ledger_entries": ("siren", "line_no", "journal_code", "journal_lib", "ecriture_num", "ecriture_date",
                       "compte_num", "compte_lib", "comp_aux_num", "comp_aux_lib", "piece_ref", "piece_date",
                       "ecriture_lib", "debit_cents", "credit_cents", "ecriture_let", "date_let",
                       "valid_date", "montant_devise_cents", "idevise", "origin"),
    "marketing_spend": ("spend_date", "channel", "campaign", "region", "product_line", "amount_cents",
                        "currency", "origin"),
    "budgets": ("month", "region", "product_line", "metric", "value", "owner_id", "team"),
}
JOURNALS = {"VE": "Ventes", "BQ": "Banque", "AC": "Achats"}
GAP_RATE = 0.003  # per invoice: not posted; posted with a wrong amount
NEVER_INVOICED_RATE = 0.015
MONTHLY_BILLING_RATE = 0.3  # subscriptions billed monthly (the others annually, big ones quarterly)
TERM_DAYS = 365
ORPHAN_RATE = 0.03  # per block: a sales posting with no invoice behind it


class Totals:
    """Monthly actuals gathered while generating, from which the budgets are set."""

    def __init__(self) -> None:
        self.won: dict[tuple, int] = defaultdict(int)  # (month, region, product line) -> EUR cents
        self.mqls: dict[tuple, int] = defaultdict(int)  # (month, region) -> count
        self.spend: dict[tuple, int] = defaultdict(int)  # (month, region) -> EUR cents
        self.won_by_owner: dict[tuple, int] = defaultdict(int)  # (month, owner id) -> EUR cents

    def merge(self, part: "Totals") -> None:
        for mine, theirs in ((self.won, part.won), (self.mqls, part.mqls), (self.spend, part.spend),
                             (self.won_by_owner, part.won_by_owner)):
            for key, value in theirs.items():
                mine[key] += value


def block_totals(deals: list[Deal], contacts) -> Totals:
    """One block's contribution to the monthly actuals."""
    part = Totals()
    for d in deals:
        if d.won:
            part.won[(month_start(d.close_date), d.contact.region, d.product_line)] += to_eur(
                d.amount_cents, d.currency)
            part.won_by_owner[(month_start(d.close_date), d.owner_id)] += to_eur(d.amount_cents, d.currency)
    for c in contacts:
        if c.stages[1] is not None:
            part.mqls[(month_start(c.stages[1].date()), c.region)] += 1
    return part


def to_eur(cents: int, currency: str) -> int:
    return round(cents * w.FX_TO_EUR[currency])


class Ledger:
    """Numbered, balanced FEC entries (one ecriture_num per entry)."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.rows: list[tuple] = []
        self.count = 0

    def post(self, journal: str, day: dt.date, piece: str, label: str, lines: list[tuple]) -> None:
        """lines: (account, aux number, aux label, debit cents, credit cents, foreign cents, currency)."""
        assert sum(ln[3] for ln in lines) == sum(ln[4] for ln in lines), "unbalanced entry"
        self.count += 1
        num = f"{journal}{self.prefix}{self.count:04d}"
        for k, (account, aux, aux_lib, debit, credit, dev, cur) in enumerate(lines, 1):
            self.rows.append((w.SELLER_SIREN, k, journal, JOURNALS[journal], num, ds(day), account,
                              w.ACCOUNTS.get(account) or _purchase_label(account), aux, aux_lib, piece,
                              ds(day), label, debit, credit, None, None, ds(day), dev, cur, "demo"))


def _purchase_label(account: str) -> str:
    return next(v[4] for v in w.CHANNELS.values() if v[3] == account)


def _sale_lines(d: Deal, ht_e: int, tva_e: int, ht: int, tax: int, sign: int, revenue_account: str) -> list[tuple]:
    """Invoice (sign 1) or credit note (sign -1) lines: customer, revenue, VAT."""
    foreign = d.currency != "EUR"
    aux, aux_lib = f"C{d.contact.company.company_id}", d.contact.company.name
    ttc_e = ht_e + tva_e
    cust = (ttc_e, 0) if sign > 0 else (0, ttc_e)
    rev = (0, ht_e) if sign > 0 else (ht_e, 0)
    lines = [("411000", aux, aux_lib, *cust, (ht + tax) if foreign else None, d.currency if foreign else None),
             (revenue_account, None, None, *rev, ht if foreign else None, d.currency if foreign else None)]
    if tva_e:
        lines.append(("445710", None, None, *((0, tva_e) if sign > 0 else (tva_e, 0)), None, None))
    return lines


def generate_finance_block(tl: Timeline, seed: int, block: int, deals: list[Deal]) -> dict[str, list]:
    """Invoices for the block's won deals, with their sales, payment and refund postings."""
    rng = Random(f"northstar-demo:{seed}:finance:{block}")
    as_of = tl.as_of
    invoices: list[tuple] = []
    ledger = Ledger(f"{block:05d}")
    forced = {"never_invoiced", "unposted", "mismatch", "orphan"} if block == 0 else set()
    n = 0
    for d in deals:
        if not d.won:
            continue
        if "never_invoiced" in forced or rng.random() < NEVER_INVOICED_RATE:
            forced.discard("never_invoiced")
            continue
        eur = to_eur(d.amount_cents, d.currency)
        parts = 1
        if d.product_line == "Platform" and eur > 4_000_000 and rng.random() < 0.35:
            parts = 4
        elif d.product_line == "Services" and eur > 1_000_000 and rng.random() < 0.3:
            parts = 2
        subscription = d.product_line in RECURRING_LINES
        if subscription and parts == 1 and Random(f"northstar-demo:{seed}:billing:{d.deal_id}").random() < MONTHLY_BILLING_RATE:
            parts = 12
        # a renewal is billed within days of its anniversary (the customer's service goes on); a
        # new deal some days to weeks after it closes
        first = d.close_date + DAY * (rng.randrange(2, 36) if d.pipeline != "renewals" else 1 + rng.randrange(2, 36) % 5)
        vat = w.VAT_RATE[d.contact.region]
        for k in range(parts):
            period = None
            if subscription:  # the k-th of `parts` equal slices of the year from the close date
                period = (d.close_date + DAY * round(TERM_DAYS * k / parts),
                          d.close_date + DAY * round(TERM_DAYS * (k + 1) / parts))
            if parts == 12:  # monthly: billed on the first days of its month of service
                issue = max(period[0], d.close_date + DAY) + DAY * (k % 3)
            else:
                issue = first if k == 0 else add_months(first, 3 * k if parts == 4 else k) + DAY * (first.day - 1)
            if issue >= as_of:
                break
            ht = d.amount_cents // parts + (d.amount_cents % parts if k == parts - 1 else 0)
            tax = round(ht * vat)
            n += 1
            number = f"F{issue.year}-{block:05d}{n:03d}"
            due = issue + DAY * (45 if d.contact.region == "North America" else 30)
            u = rng.random()
            paid = None
            if u < 0.9:
                paid = issue + DAY * rng.randrange(5, 61)
            elif u < 0.985:
                paid = issue + DAY * rng.randrange(60, 151)
            if paid is not None and paid >= as_of:
                paid = None
            service = (ds(period[0]), ds(period[1])) if period else (None, None)
            invoices.append((number, d.contact.company.name, d.contact.company.company_id, d.deal_id,
                             ds(issue), ds(due), ds(paid), ht, tax, d.currency,
                             "paid" if paid else "open", 0, "demo", *service))
            ht_e, tva_e = to_eur(ht, d.currency), to_eur(tax, d.currency)
            revenue = w.REVENUE_ACCOUNT[d.product_line]
            if "unposted" in forced or rng.random() < GAP_RATE:
                forced.discard("unposted")
            else:
                posted = ht_e
                if ("mismatch" in forced and n > 1) or rng.random() < GAP_RATE:
                    forced.discard("mismatch")
                    posted = ht_e + rng.choice((-1, 1)) * max(100, round(ht_e * rng.uniform(0.01, 0.1)))
                ledger.post("VE", issue, number, f"Facture {number} {d.contact.company.name}"[:255],
                            _sale_lines(d, posted, tva_e, ht, tax, 1, revenue))
            if paid is None:
                continue
            aux = f"C{d.contact.company.company_id}"
            ttc_e = ht_e + tva_e
            ledger.post("BQ", paid, number, f"Reglement {number}",
                        [("512000", None, None, ttc_e, 0, None, None),
                         ("411000", aux, d.contact.company.name, 0, ttc_e, None, None)])
            if rng.random() < 0.03:  # a credit note after payment, refunded
                cn_day = paid + DAY * rng.randrange(5, 61)
                if cn_day >= as_of:
                    continue
                cn_ht = ht if rng.random() < 0.4 else round(ht * rng.uniform(0.1, 0.3))
                cn_tax = round(cn_ht * vat)
                n += 1
                cn_number = f"AV{cn_day.year}-{block:05d}{n:03d}"
                refund = cn_day + DAY * rng.randrange(3, 16)
                refunded = refund < as_of
                invoices.append((cn_number, d.contact.company.name, d.contact.company.company_id, d.deal_id,
                                 ds(cn_day), ds(cn_day), ds(refund) if refunded else None, -cn_ht, -cn_tax,
                                 d.currency, "paid" if refunded else "open", 1, "demo", *service))
                cn_e, cn_tva_e = to_eur(cn_ht, d.currency), to_eur(cn_tax, d.currency)
                account = "709000" if rng.random() < 0.5 else revenue
                ledger.post("VE", cn_day, cn_number, f"Avoir {cn_number} {d.contact.company.name}"[:255],
                            _sale_lines(d, cn_e, cn_tva_e, cn_ht, cn_tax, -1, account))
                if refunded:
                    ledger.post("BQ", refund, cn_number, f"Remboursement {cn_number}",
                                [("411000", aux, d.contact.company.name, cn_e + cn_tva_e, 0, None, None),
                                 ("512000", None, None, 0, cn_e + cn_tva_e, None, None)])
    if "orphan" in forced or rng.random() < ORPHAN_RATE:
        day = tl.days[rng.randrange(len(tl.days))]
        amount = rng.randrange(20, 300) * 10_000
        ledger.post("VE", day, f"FM-{block:05d}", "Facture manuelle prestation",
                    [("411000", "CDIVERS", "Clients divers", amount, 0, None, None),
                     ("706300", None, None, 0, amount, None, None)])
    return {"invoices": invoices, "ledger_entries": ledger.rows}


def _channel_contact_shares() -> dict[str, float]:
    """Share of all contacts that each channel's campaigns bring in."""
    shares: dict[str, float] = defaultdict(float)
    for source, channels in w.SOURCE_CHANNELS.items():
        for ch in channels:
            shares[ch] += w.SOURCES[source][0] * 0.9 / len(channels)
    return shares


def generate_spend(tl: Timeline, seed: int, n_contacts: int, totals: Totals) -> dict[str, list]:
    """Weekly spend per campaign (cost per contact x expected contacts) and its monthly AC postings."""
    rng = Random(f"northstar-demo:{seed}:spend")
    shares = _channel_contact_shares()
    region_cost = {"France": 1.0, "DACH": 1.05, "UK & Ireland": 1.1, "North America": 1.25}
    rows, by_month_channel = [], defaultdict(int)
    monday = tl.start - DAY * tl.start.weekday()
    while monday < tl.as_of:
        first, end = max(monday, tl.start), min(monday + DAY * 7, tl.as_of)
        week_share = tl.share(first, end)
        for channel, (_, themes, cpl, _, _) in w.CHANNELS.items():
            lumpy = (2.2 if first.month in (3, 6, 10) else 0.6) if channel == "Events" else 1.0
            for theme in themes:
                for region, r_weight in zip(w.REGIONS, w.REGION_WEIGHTS):
                    contacts = n_contacts * shares[channel] / len(themes) * r_weight * week_share
                    cents = round(contacts * cpl * 100 * region_cost[region] * lumpy * rng.uniform(0.85, 1.15))
                    if cents <= 0:
                        continue
                    rows.append((ds(first), channel, w.campaign_name(channel, theme, region), region, None,
                                 cents, "EUR", "demo"))
                    by_month_channel[(month_start(first), channel)] += cents
                    totals.spend[(month_start(first), region)] += cents
        monday += DAY * 7
    ledger = Ledger("")
    for (month, channel), cents in sorted(by_month_channel.items()):
        month_end = add_months(month, 1) - DAY
        if month_end >= tl.as_of:  # the supplier invoices of the current month are not booked yet
            continue
        account = w.CHANNELS[channel][3]
        piece = f"ACH-{month:%Y%m}-{w.CHANNELS[channel][0]}"
        ledger.post("AC", month_end, piece, f"{channel} {month:%m/%Y}",
                    [(account, None, None, cents, 0, None, None),
                     ("401000", f"F{w.CHANNELS[channel][0]}", channel, 0, cents, None, None)])
    return {"marketing_spend": rows, "ledger_entries": ledger.rows}


def generate_budgets(tl: Timeline, seed: int, totals: Totals) -> list[tuple]:
    """Monthly targets through the end of the current fiscal year.

    Each month's plan is the same months a year earlier (averaged over three months) grown by
    the year's target growth; thin months fall back to a season-shaped yearly average. The first
    year, with no history to plan from, is planned close to what happened.
    """
    rng = Random(f"northstar-demo:{seed}:budgets")
    last_full = month_start(tl.as_of)
    months = tl.months(through=dt.date(tl.as_of.year, 12, 1))
    mean_season = sum(MONTH_SEASON.values()) / 12

    def planned(series: dict, key: tuple, month: dt.date, growth: float, quarter_shape: bool) -> float:
        def average(window):
            window = [m for m in window if tl.start <= m < last_full]
            return sum(series.get((m, *key), 0) for m in window) / len(window) if window else 0.0
        shape = MONTH_SEASON[month.month] / mean_season
        if quarter_shape:
            shape *= 1.3 if month.month % 3 == 0 else 0.85
        base = average(add_months(month, k) for k in (-13, -12, -11))
        if not base:  # a thin month last year: plan from the whole year before instead
            base = average(add_months(month, -k) for k in range(6, 18)) * shape
        if not base:  # the first year had no history: its plan was close to what happened
            base, growth = series.get((month, *key), 0) or average(add_months(tl.start, k) for k in range(12)), 1.0
        return base * growth * rng.uniform(0.92, 1.08)

    rows = []
    for month in months:
        for region in w.REGIONS:
            for pl in w.PRODUCT_LINES:
                value = planned(totals.won, (region, pl), month, 1.4, True)
                rows.append((ds(month), region, pl, "target_revenue", float(round(value / 100_000) * 100_000), "", ""))
            mqls = planned(totals.mqls, (region,), month, 1.3, False)
            rows.append((ds(month), region, "", "mqls", float(round(mqls)), "", ""))
            spend = planned(totals.spend, (region,), month, 1.25, False)
            rows.append((ds(month), region, "", "marketing_spend", float(round(spend / 10_000) * 10_000), "", ""))
    return rows


CLOSING_ROLES = ("ae", "enterprise", "na", "partner")  # the seats that own deals (SDRs hand over)
OVER_ASSIGNMENT = 1.1  # the reps' quotas add up to 110 % of their region's target, as sales leaders do


def generate_quotas(tl: Timeline, owners: list[Owner], budgets: list[tuple], totals: Totals) -> list[tuple]:
    """Monthly revenue quotas (budget lines of target_revenue with an owner or a team), for the
    months the budgets plan.

    Each month, a region's revenue target (its product lines' target_revenue lines) is split among
    the reps who close deals there and are on board that month, by their share of the region's won
    revenue over the 12 months before (a rep with no history yet, a new hire, gets the average
    share), then over-assigned by 10 %: a rep's quota line. A team's line is its members' quotas
    before the over-assignment, so the teams' quotas add up to the company target each month."""
    target: dict[tuple, float] = defaultdict(float)
    for month, region, _pl, metric, value, _o, _t in budgets:
        if metric == "target_revenue":
            target[(month, region)] += value
    rows = []
    for (month_iso, region), region_target in sorted(target.items()):
        month = dt.date.fromisoformat(month_iso)
        reps = [o for o in owners if o.region == region and o.role in CLOSING_ROLES
                and o.active_from < add_months(month, 1) and (o.active_to is None or o.active_to > month)]
        if not reps:
            continue
        history = {o.owner_id: sum(totals.won_by_owner.get((add_months(month, -k), o.owner_id), 0)
                                   for k in range(1, 13)) for o in reps}
        known = [v for v in history.values() if v > 0]
        fallback = sum(known) / len(known) if known else 1.0
        weights = {oid: v if v > 0 else fallback for oid, v in history.items()}
        total = sum(weights.values())
        team_share: dict[str, float] = defaultdict(float)
        for o in reps:
            share = region_target * weights[o.owner_id] / total
            team_share[o.team] += share
            rows.append((month_iso, "", "", "target_revenue",
                         float(round(share * OVER_ASSIGNMENT / 10_000) * 10_000), o.owner_id, ""))
        for team, share in sorted(team_share.items()):
            rows.append((month_iso, "", "", "target_revenue", share, "", team))
    # a team selling in several regions has one line a month: its regions' shares added up
    merged: dict[tuple, float] = defaultdict(float)
    for month_iso, _r, _p, metric, value, oid, team in rows:
        merged[(month_iso, oid, team)] += value
    return [(m, "", "", "target_revenue", float(round(v / 10_000) * 10_000) if team else v, oid, team)
            for (m, oid, team), v in sorted(merged.items())]
