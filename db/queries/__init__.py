"""The records the views read, shared by every engine: one module per view (the SQL is in each engine's package)."""
