"""How big the ClickHouse database is and how many rows each main table holds (for /healthz and `sitelens check`)."""

from __future__ import annotations

from db.clickhouse.client import ClickHouse
from db.queries.storage import StorageStats

__all__ = ["COUNTED", "StorageStats", "storage_stats"]

COUNTED = {
    "events": "SELECT count() FROM events",
    "sessions": "SELECT count() FROM sessions FINAL",
    "fingerprints": "SELECT uniqExact(fingerprint) FROM fingerprint_news",
    "anomalies": "SELECT count() FROM anomalies FINAL",
}
"""What each counted table's row count means on SQLite (one row per event, session, fingerprint, anomaly),
asked of the ClickHouse tables holding them. There are no rollup tables on ClickHouse."""


def storage_stats(ch: ClickHouse) -> StorageStats:
    """Bytes on disk of the database's active parts (compressed, as stored) and the logical row counts."""
    size = ch.value(
        "SELECT sum(bytes_on_disk) FROM system.parts WHERE database = currentDatabase() AND active"
    )
    rows = {table: int(ch.value(sql) or 0) for table, sql in COUNTED.items()}
    oldest = ch.value("SELECT if(count() = 0, NULL, min(ts)) FROM events")
    return StorageStats(int(size or 0), 0, rows, None if oldest is None else float(oldest))
