"""The demo company as pure data: regions, teams, sources, campaigns, products, pipelines.

Nothing here draws random numbers; `demo.generator` combines these tables with seeded streams.
Rates are per-source or per-region behaviour that makes the dashboards tell a story
(referrals convert best, paid social worst, North America follows up MQLs late).
"""
from __future__ import annotations

from connectors.hubspot.settings import DEFAULT_PIPELINE

REGIONS = ("France", "DACH", "UK & Ireland", "North America")
REGION_WEIGHTS = (0.34, 0.24, 0.16, 0.26)
REGION_CODES = {"France": "FR", "DACH": "DACH", "UK & Ireland": "UKI", "North America": "NA"}
REGION_CURRENCY = {"France": "EUR", "DACH": "EUR", "UK & Ireland": "GBP", "North America": "USD"}
REGION_COUNTRIES = {
    "France": (("France", 0.9), ("Belgium", 0.1)),
    "DACH": (("Germany", 0.7), ("Austria", 0.12), ("Switzerland", 0.18)),
    "UK & Ireland": (("United Kingdom", 0.85), ("Ireland", 0.15)),
    "North America": (("United States", 0.85), ("Canada", 0.15)),
}
# Fixed rates used to post foreign-currency invoices in the EUR ledger (as in definitions.yaml).
FX_TO_EUR = {"EUR": 1.0, "USD": 0.92, "GBP": 1.17}
# VAT the French seller charges: French customers only (EU B2B reverse charge, exports exempt).
VAT_RATE = {"France": 0.20, "DACH": 0.0, "UK & Ireland": 0.0, "North America": 0.0}

PRODUCT_LINES = ("Platform", "Analytics", "Services")

# HubSpot `hs_analytics_source` values with how well each converts:
# (share of contacts, P(MQL), P(SQL | MQL), P(opportunity | SQL), win-rate multiplier).
SOURCES = {
    "ORGANIC_SEARCH": (0.20, 0.42, 0.55, 0.70, 1.00),
    "PAID_SEARCH": (0.16, 0.45, 0.45, 0.62, 0.90),
    "PAID_SOCIAL": (0.13, 0.38, 0.32, 0.50, 0.75),
    "SOCIAL_MEDIA": (0.06, 0.30, 0.35, 0.55, 0.80),
    "EMAIL_MARKETING": (0.10, 0.40, 0.45, 0.60, 0.90),
    "REFERRALS": (0.08, 0.75, 0.80, 0.85, 1.45),
    "DIRECT_TRAFFIC": (0.11, 0.50, 0.55, 0.70, 1.05),
    "OFFLINE": (0.10, 0.55, 0.60, 0.72, 1.10),
    "OTHER_CAMPAIGNS": (0.06, 0.32, 0.35, 0.50, 0.75),
}
SOURCE_DETAIL = {
    "ORGANIC_SEARCH": ("google", "bing", "duckduckgo"),
    "PAID_SEARCH": ("google ads", "bing ads"),
    "PAID_SOCIAL": ("linkedin", "facebook", "instagram"),
    "SOCIAL_MEDIA": ("linkedin", "twitter", "youtube"),
    "EMAIL_MARKETING": ("newsletter", "nurture sequence"),
    "REFERRALS": ("partner referral", "customer referral"),
    "DIRECT_TRAFFIC": ("direct",),
    "OFFLINE": ("trade show", "outbound prospecting", "import"),
    "OTHER_CAMPAIGNS": ("webinar", "partner co-marketing"),
}
# Which paid/owned channel (marketing_spend.channel) brings a source's contacts.
SOURCE_CHANNELS = {
    "PAID_SEARCH": ("Google Ads",),
    "PAID_SOCIAL": ("LinkedIn Ads", "Meta Ads"),
    "OFFLINE": ("Events",),
    "ORGANIC_SEARCH": ("Content & SEO",),
    "EMAIL_MARKETING": ("Email",),
    "OTHER_CAMPAIGNS": ("Events", "Content & SEO"),
}
# Channel -> (short code, campaign themes, cost per contact in EUR, 623xxx account, label).
# Costs are programme spend (media, events, content, tools) per contact the channel brings: all
# channels together cost about a fifth of bookings. Paid social is dear for the poor leads it
# brings (its campaigns lose money); email and content are cheap for what they bring.
CHANNELS = {
    "Google Ads": ("GADS", ("Brand", "Generic", "Competitor"), 1280.0, "623100", "Publicite Google Ads"),
    "LinkedIn Ads": ("LI", ("ABM Enterprise", "Lead Gen"), 2750.0, "623200", "Publicite LinkedIn"),
    "Meta Ads": ("META", ("Retargeting",), 1430.0, "623300", "Publicite Meta"),
    "Events": ("EVT", ("Trade Shows", "Roadshow"), 2380.0, "623400", "Foires et salons"),
    "Content & SEO": ("SEO", ("Content Hub",), 680.0, "623500", "Contenus et referencement"),
    "Email": ("EMAIL", ("Nurture",), 400.0, "623600", "Campagnes emailing"),
}


def campaign_name(channel: str, theme: str, region: str) -> str:
    """The one spelling of a campaign, shared by contacts.campaign and marketing_spend.campaign."""
    return f"{CHANNELS[channel][0]} | {theme} | {REGION_CODES[region]}"


LIFECYCLE = ("subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer")
DISQUALIFIED_REASONS = ("No budget", "Not the decision maker", "Student or job seeker", "Competitor",
                        "Outside our market", "No response after 5 attempts", "Duplicate")
# Share of qualified leads never touched by sales, and of touched ones touched after the SLA.
FOLLOW_UP = {"France": (0.06, 0.12), "DACH": (0.05, 0.10), "UK & Ireland": (0.08, 0.15),
             "North America": (0.16, 0.25)}

# (team id, team name, region per seat, role). Seats are owners; ids come from the generator.
TEAMS = (
    ("101", "Inbound EMEA", ("France", "France", "France", "DACH", "DACH", "UK & Ireland"), "sdr"),
    ("102", "Mid-Market EMEA", ("France", "France", "DACH", "DACH", "UK & Ireland"), "ae"),
    ("103", "Enterprise", ("France", "DACH", "UK & Ireland", "North America"), "enterprise"),
    ("104", "North America", ("North America",) * 6, "na"),
    ("105", "Partners", ("France", "DACH", "North America"), "partner"),
)
FIRST_NAMES = {
    "France": ("Camille", "Julien", "Claire", "Thomas", "Léa", "Nicolas", "Sophie", "Antoine", "Manon",
               "Hugo", "Chloé", "Mathieu", "Élodie", "Pierre", "Inès", "Romain"),
    "DACH": ("Lukas", "Anna", "Jonas", "Laura", "Felix", "Lena", "Maximilian", "Sarah", "Tobias",
             "Julia", "Florian", "Katharina", "Stefan", "Miriam"),
    "UK & Ireland": ("Oliver", "Amelia", "Harry", "Isla", "George", "Emily", "Jack", "Sophie",
                     "Liam", "Aoife", "Charlotte", "James", "Niamh", "Thomas"),
    "North America": ("Emma", "Noah", "Olivia", "Liam", "Ava", "Ethan", "Mia", "Lucas", "Harper",
                      "Mason", "Evelyn", "Logan", "Abigail", "Jackson", "Madison"),
}
LAST_NAMES = {
    "France": ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand",
               "Leroy", "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "Fournier"),
    "DACH": ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
             "Hoffmann", "Schulz", "Koch", "Huber", "Gruber", "Keller"),
    "UK & Ireland": ("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Murphy", "Kelly",
                     "Davies", "Evans", "O'Brien", "Walsh", "Roberts", "Walker"),
    "North America": ("Johnson", "Miller", "Davis", "Rodriguez", "Anderson", "Jackson", "White",
                      "Harris", "Clark", "Lewis", "Young", "Allen", "King", "Scott", "Green"),
}
COMPANY_STEMS = ("Nova", "Alto", "Vertex", "Lumen", "Orbit", "Kappa", "Helio", "Strato", "Nimbus",
                 "Quanta", "Fjord", "Atlas", "Pixel", "Sigma", "Boréal", "Cobalt", "Delta", "Ember",
                 "Forge", "Granit", "Harbor", "Iris", "Jade", "Krona", "Lynx", "Mistral", "Nordic",
                 "Opal", "Pulse", "Quartz", "Rivière", "Solis", "Tandem", "Umbra", "Vega", "Wave")
COMPANY_TAILS = ("Logistics", "Health", "Retail", "Software", "Energy", "Finance", "Foods",
                 "Mobility", "Systems", "Labs", "Industries", "Media", "Analytics", "Works")
COMPANY_SUFFIX = {"France": ("SAS", "SA", ""), "DACH": ("GmbH", "AG", ""),
                  "UK & Ireland": ("Ltd", "plc", ""), "North America": ("Inc.", "LLC", "")}
INDUSTRIES = ("Software", "Retail", "Manufacturing", "Financial Services", "Healthcare",
              "Logistics", "Media", "Energy", "Education", "Professional Services")

# (product id, name, sku, product line, list price EUR, seat-priced?)
PRODUCTS = (
    ("1001", "Platform Core (annual)", "PLT-CORE", "Platform", 24000.0, False),
    ("1002", "Platform Seats (annual, per seat)", "PLT-SEAT", "Platform", 480.0, True),
    ("1003", "Platform Premium Support", "PLT-SUP", "Platform", 6000.0, False),
    ("2001", "Analytics Pro (annual)", "ANA-PRO", "Analytics", 12000.0, False),
    ("2002", "Analytics Connectors Pack", "ANA-CON", "Analytics", 3600.0, False),
    ("3001", "Onboarding Package", "SRV-ONB", "Services", 8000.0, False),
    ("3002", "Training Day", "SRV-TRN", "Services", 1500.0, True),
    ("3003", "Custom Integration", "SRV-INT", "Services", 15000.0, False),
)
# Median deal size (EUR) and sales cycle (days) per product line.
DEAL_SIZE_EUR = {"Platform": 38000.0, "Analytics": 15000.0, "Services": 9000.0}
CYCLE_DAYS = {"Platform": 75, "Analytics": 48, "Services": 30}
BASE_WIN_RATE = {"Platform": 0.27, "Analytics": 0.33, "Services": 0.42}
PRODUCT_LINE_WEIGHTS = (0.5, 0.3, 0.2)
LOST_REASONS = (("Price", 0.24), ("Competitor", 0.22), ("No decision", 0.26),
                ("Bad fit / poor lead", 0.14), ("Timing", 0.14))

# HubSpot's default deal pipeline, plus a renewals pipeline:
# (stage id, label, probability, is_closed, is_won).
PIPELINES = (
    DEFAULT_PIPELINE,
    ("renewals", "Renewals", (
        ("renewalupcoming", "Renewal Upcoming", 0.7, False, False),
        ("renewalnegotiation", "In Negotiation", 0.85, False, False),
        ("renewalwon", "Renewed", 1.0, True, True),
        ("renewalchurned", "Churned", 0.0, True, False),
    )),
)
OPEN_STAGES = {"default": ("appointmentscheduled", "qualifiedtobuy", "presentationscheduled",
                           "decisionmakerboughtin", "contractsent"),
               "renewals": ("renewalupcoming", "renewalnegotiation")}
WON_STAGE = {"default": "closedwon", "renewals": "renewalwon"}
LOST_STAGE = {"default": "closedlost", "renewals": "renewalchurned"}
# HubSpot forecast categories for open stages.
FORECAST_BY_STAGE = {"appointmentscheduled": "PIPELINE", "qualifiedtobuy": "PIPELINE",
                     "presentationscheduled": "BEST_CASE", "decisionmakerboughtin": "BEST_CASE",
                     "contractsent": "COMMIT", "renewalupcoming": "BEST_CASE",
                     "renewalnegotiation": "COMMIT"}

# French chart of accounts used by the demo ledger (FEC).
ACCOUNTS = {
    "411000": "Clients", "445710": "TVA collectee", "512000": "Banque",
    "706100": "Abonnements Platform", "706200": "Abonnements Analytics",
    "706300": "Prestations de services", "709000": "Rabais remises ristournes accordes",
    "401000": "Fournisseurs",
}
REVENUE_ACCOUNT = {"Platform": "706100", "Analytics": "706200", "Services": "706300"}
SELLER_SIREN = "852741963"
