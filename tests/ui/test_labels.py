"""On-screen names of stored codes: HubSpot sources read as HubSpot names them; other values pass."""
from ui.labels import display


def test_display_source_codes_as_hubspot_names_them():
    assert display("source", "ORGANIC_SEARCH") == "Organic search"
    assert display("source", "OFFLINE") == "Offline sources"


def test_display_leaves_unknown_codes_and_other_dimensions_alone():
    assert display("source", "PARTNER_PORTAL") == "PARTNER_PORTAL"
    assert display("region", "PAID_SEARCH") == "PAID_SEARCH"
