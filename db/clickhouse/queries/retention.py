"""Retention on ClickHouse: a TTL on each raw table, set from `retention.raw_days`, and on each rollup table, set
from `retention.rollup_days` (0 keeps forever, for both).

The engine drops expired rows itself when it merges parts; changing the TTL does not rewrite existing parts
(`materialize_ttl_after_modify = 0`), so setting it at every collector start costs nothing when unchanged and
little when changed."""

from __future__ import annotations

import re

from db.clickhouse.client import ClickHouse

RAW_TTL_COLUMNS: dict[str, str] = {
    "events": "toDateTime(toUInt32(ts))",
    "sessions": "toDateTime(toUInt32(last_seen))",
    "fingerprint_news": "toDateTime(toUInt32(seen))",
    "throttle_drops": "toDateTime(toUInt32(bucket))",
    "fingerprint_reputation": "toDateTime(toUInt32(touched))",
    "fingerprint_ranks": "toDateTime(toUInt32(touched))",
    "fingerprint_signals": "toDateTime(toUInt32(last_seen))",
    "funnel_steps": "toDateTime(toUInt32(ts))",
}
"""Raw table -> the time its rows age from (the same columns SQLite's retention deletes by; the fingerprint tables
kept from `fingerprint_news` and `sessions` by the newest of the rows each row sums)."""
ROLLUP_TTL_COLUMNS: dict[str, str] = {
    "rollup_events": "toDateTime(bucket + grain)",
    "rollup_engaged": "toDateTime(bucket + grain)",
}
"""Rollup table -> the time its rows age from: the end of their bucket, as on SQLite (db/sqlite/retention.py)."""
_TTL_DAYS = re.compile(r"\bTTL\s+.*?\+\s*toIntervalDay\((\d+)\)")


def current_ttl(ch: ClickHouse, table: str) -> int:
    """The days a table keeps rows for (0: no TTL, kept forever)."""
    engine = str(
        ch.value("SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = ?", (table,))
        or ""
    )
    if " TTL " not in f" {engine} ":
        return 0
    match = _TTL_DAYS.search(engine)
    return int(match.group(1)) if match else -1  # a TTL we did not write: replaced


def set_ttl(ch: ClickHouse, columns: dict[str, str], days: int) -> list[str]:
    """Make each table of `columns` keep `days` days of rows by its time column (0: forever, no TTL); returns the
    tables changed."""
    if days < 0:
        raise ValueError("retention days must be 0 (keep forever) or more")
    changed = []
    for table, column in columns.items():
        if current_ttl(ch, table) == days:
            continue
        if days == 0:
            ch.command(f"ALTER TABLE {table} REMOVE TTL")
        else:
            ch.command(
                f"ALTER TABLE {table} MODIFY TTL {column} + toIntervalDay({int(days)})",
                settings={"materialize_ttl_after_modify": 0},
            )
        changed.append(table)
    return changed


def set_retention(ch: ClickHouse, raw_days: int, rollup_days: int) -> list[str]:
    """Make the raw tables keep `raw_days` days and the rollups `rollup_days` (0: forever); the tables changed."""
    return set_ttl(ch, RAW_TTL_COLUMNS, raw_days) + set_ttl(ch, ROLLUP_TTL_COLUMNS, rollup_days)
