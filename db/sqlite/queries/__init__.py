"""SQLite: every statistics query, one module per view (the records they return are in db/queries)."""
