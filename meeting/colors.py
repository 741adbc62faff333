"""One colour per region, product line, source, stage and channel, the same on every page and in
the meeting pack (so it lives in meeting/, below ui/: both draw with it).

Known values get a fixed colour; any other value gets a colour chosen from its name (a stable
hash), so a new region keeps its colour across pages, runs and machines.
"""
from __future__ import annotations

import hashlib

PALETTE = (
    "#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#EECA3B",
    "#B279A2", "#FF9DA6", "#9D755D", "#BAB0AC", "#1F77B4", "#8C564B",
)
UNKNOWN = "#9E9E9E"  # "(none)" / missing values

FIXED: dict[str, dict[str, str]] = {
    "source": {  # HubSpot original sources
        "ORGANIC_SEARCH": "#54A24B", "PAID_SEARCH": "#4C78A8", "PAID_SOCIAL": "#B279A2",
        "SOCIAL_MEDIA": "#FF9DA6", "EMAIL_MARKETING": "#F58518", "DIRECT_TRAFFIC": "#72B7B2",
        "OTHER_CAMPAIGNS": "#EECA3B", "REFERRALS": "#9D755D", "OFFLINE": "#E45756",
    },
    "stage": {  # lifecycle stages, then the default deal pipeline
        "lead": "#BAB0AC", "marketingqualifiedlead": "#72B7B2", "salesqualifiedlead": "#4C78A8",
        "opportunity": "#F58518", "customer": "#54A24B",
        "appointmentscheduled": "#BAB0AC", "qualifiedtobuy": "#72B7B2",
        "presentationscheduled": "#4C78A8", "decisionmakerboughtin": "#B279A2",
        "contractsent": "#F58518", "closedwon": "#54A24B", "closedlost": "#E45756",
    },
    "forecast_category": {
        "commit": "#54A24B", "best_case": "#4C78A8", "pipeline": "#BAB0AC", "omit": "#E45756",
        "closed": "#1F77B4",
    },
    "series": {  # bridges and budget charts
        "booked": "#4C78A8", "invoiced": "#F58518", "ledger": "#54A24B",
        "budget": "#BAB0AC", "actual": "#4C78A8", "target": "#BAB0AC", "forecast": "#F58518",
        # MRR movements (metrics/recurring.py): gains green-blue, losses orange-red, the net dark
        "new_mrr": "#54A24B", "expansion_mrr": "#72B7B2", "reactivation_mrr": "#4C78A8",
        "contraction_mrr": "#F58518", "churned_mrr": "#E45756", "net_new_mrr": "#333333",
    },
}
DIMENSIONS = ("region", "product_line", "source", "stage", "channel", "owner", "team",
              "campaign", "forecast_category", "series")


_KNOWN: dict[str, list[str]] = {}  # dimension -> the store's values, sorted (see register)


def register(dimension: str, values) -> None:
    """Tell the colour map which values a dimension has in the store: they get distinct palette
    colours in sorted order (the same on every page, as all pages see the same store)."""
    _KNOWN[dimension] = sorted({str(v) for v in values if v not in (None, "")})


def color_for(dimension: str, value: object) -> str:
    """The colour of `value` on `dimension` (e.g. color_for('region', 'EMEA'))."""
    if value is None or str(value).strip() in ("", "(none)", "unknown", "None"):
        return UNKNOWN
    text = str(value)
    fixed = FIXED.get(dimension, {})
    for candidate in (text, text.upper(), text.lower()):
        if candidate in fixed:
            return fixed[candidate]
    known = _KNOWN.get(dimension, [])
    if text in known:
        return PALETTE[known.index(text) % len(PALETTE)]
    digest = hashlib.sha1(f"{dimension}:{text}".encode("utf-8")).digest()
    return PALETTE[digest[0] % len(PALETTE)]


def color_map(dimension: str, values) -> dict[str, str]:
    """{value: colour} for plotly's color_discrete_map."""
    return {str(v): color_for(dimension, v) for v in values}
