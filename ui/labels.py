"""How stored codes read on screen: HubSpot's original-source values as HubSpot's own UI names them.
Only the display changes; filters, drill-downs and the URL keep the stored value."""
from __future__ import annotations

SOURCE_LABELS = {
    "ORGANIC_SEARCH": "Organic search", "PAID_SEARCH": "Paid search", "PAID_SOCIAL": "Paid social",
    "SOCIAL_MEDIA": "Organic social", "EMAIL_MARKETING": "Email marketing", "REFERRALS": "Referrals",
    "DIRECT_TRAFFIC": "Direct traffic", "OFFLINE": "Offline sources", "OTHER_CAMPAIGNS": "Other campaigns",
    "AI_REFERRALS": "AI referrals",
}
SOURCE_COLUMNS = ("source", "original_source", "deal_source")


def display(dimension: str, value) -> str:
    """The on-screen name of a segment value (unchanged for dimensions without labels)."""
    text = str(value)
    return SOURCE_LABELS.get(text, text) if dimension == "source" else text
