"""How big the database is and how many rows each main table holds (for /healthz and `sitelens check`)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from db.rollups import ROLLUP_TABLES

COUNTED_TABLES = ("events", "sessions", "fingerprints", "anomalies", *ROLLUP_TABLES)


@dataclass(slots=True, frozen=True)
class StorageStats:
    """Database file sizes in bytes and row counts per table."""

    size_bytes: int
    wal_bytes: int
    rows: dict[str, int] = field(default_factory=dict)
    oldest_event: float | None = None


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
