"""File imports: FEC ledgers, invoices, marketing spend, budgets and HubSpot CSV exports.

`importer.read_file` parses and validates a file without touching the store;
`importer.import_file` writes it in one transaction (idempotent by content hash, replacing the
period it covers).
"""
