"""SQLite: export streams and the scheduled-export ledger."""
