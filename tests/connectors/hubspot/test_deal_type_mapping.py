"""HubSpot's deal type (`dealtype`) reaches deals.deal_type: it is among the deal properties the
sync asks for, a synced record keeps it, and an empty one is stored as NULL (new business)."""
from __future__ import annotations

from connectors.hubspot import settings as cfg
from connectors.hubspot.mapping import Record, deal_row


def _record(props: dict) -> Record:
    base = {"dealname": "Acme", "amount": "1200.50", "pipeline": "default", "dealstage": "closedwon",
            "createdate": "2026-01-05T10:00:00Z", "closedate": "2026-02-01T00:00:00Z"}
    return Record("42", {**base, **props}, "2026-01-05T10:00:00Z", "2026-02-01T00:00:00Z", {})


def test_deal_type_mapping_reads_dealtype():
    assert "dealtype" in cfg.PROPERTIES["deals"]
    assert deal_row(_record({"dealtype": "existingbusiness"}), "EUR")["deal_type"] == "existingbusiness"
    assert deal_row(_record({"dealtype": "newbusiness"}), "EUR")["deal_type"] == "newbusiness"
    assert deal_row(_record({"dealtype": ""}), "EUR")["deal_type"] is None
    assert deal_row(_record({}), "EUR")["deal_type"] is None
