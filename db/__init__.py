"""Storage: the SQLite schema, migrations, the batching writer, every SQL query and the rollups."""
