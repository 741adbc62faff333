"""File imports: FEC ledgers, invoices, marketing spend, budgets and HubSpot CSV exports.

`importer.read_file` parses and validates a file without touching the store;
`importer.import_file` writes it in one transaction (idempotent by content hash and reading
options; replacing only what the file supersedes, or its period when asked); `history` lists
imports, and undoes one.
"""
