"""How big the database is and how many rows each main table holds (for /healthz and `sitelens check`).

The records and rules every engine shares; the SQL is in db/sqlite/queries and db/clickhouse/queries.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from db.sqlite.rollups import ROLLUP_TABLES

COUNTED_TABLES = ("events", "sessions", "fingerprints", "anomalies", *ROLLUP_TABLES)


@dataclass(slots=True, frozen=True)
class StorageStats:
    """Database file sizes in bytes and row counts per table."""

    size_bytes: int
    wal_bytes: int
    rows: dict[str, int] = field(default_factory=dict)
    oldest_event: float | None = None
