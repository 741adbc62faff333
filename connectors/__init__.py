"""Connectors: HubSpot (API) and finance/CRM files, each writing the store through store/."""
