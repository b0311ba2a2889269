"""SQLite: how big the database is and how many rows each main table holds (for /healthz and `sitelens check`)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from db.queries.storage import COUNTED_TABLES, StorageStats


def storage_stats(conn: sqlite3.Connection, path: str | Path) -> StorageStats:
    """Sizes from the files, counts from the tables (count(*) reads an index: run it off the event loop)."""
    path = Path(path)
    size = path.stat().st_size if path.exists() else 0
    wal = Path(f"{path}-wal")
    rows = {table: int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]) for table in COUNTED_TABLES}
    oldest = conn.execute("SELECT min(ts) FROM events").fetchone()[0]
    return StorageStats(
        size, wal.stat().st_size if wal.exists() else 0, rows, None if oldest is None else float(oldest)
    )
