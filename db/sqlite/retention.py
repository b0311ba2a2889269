"""Retention: raw rows older than `retention.raw_days` (and rollups older than `rollup_days`, when set) are
deleted in small batches, each its own short transaction, so ingestion never waits long."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from db.rules import DAY
from db.sqlite.batch import rollback
from db.sqlite.export.runs import lower_cursor
from db.sqlite.rollups import lower_rolled_up_mark
from db.store import EXPIRE_BATCH_ROWS as BATCH_ROWS

# table -> (expression of a row's time, columns identifying a row): deleted oldest first.
RAW_TABLES: dict[str, tuple[str, str]] = {
    "events": ("ts", "id"),
    "sessions": ("last_seen", "id"),
    "throttle_drops": ("bucket", "bucket, level, reason"),
    "fingerprints": ("last_seen", "rowid"),
}
# Rollup rows go once their whole bucket is older than the cut-off.
ROLLUP_TABLES: dict[str, tuple[str, str]] = {
    "rollup_traffic": ("hour + 3600", "site, hour, is_bot"),
    "rollup_pages": ("bucket + grain", "grain, site, bucket, is_bot, path"),
    "rollup_events": ("bucket + grain", "grain, site, bucket, is_bot, name"),
    "rollup_dims": ("bucket + grain", "grain, site, dim, bucket, is_bot, value"),
    "rollup_props": ("day + 86400", "site, name, day, is_bot, props"),
    "rollup_latency": ("day + 86400", "site, day, method, path, ms_bucket"),
    "rollup_auth": ("day + 86400", "site, day, source"),
    "rollup_external": ("day + 86400", "site, day, service, ms_bucket"),
    "rollup_requests": ("day + 86400", "site, day, is_bot, status, path"),
    "rollup_engaged": ("day + 86400", "site, is_bot, path, day, ms_bucket"),
}


@dataclass(slots=True, frozen=True)
class Cutoffs:
    """Rows older than these times are due for deletion (None: keep forever)."""

    raw: float | None
    rollups: float | None


def cutoffs(now: float, raw_days: int, rollup_days: int) -> Cutoffs:
    """Cut-off times for the configured retention (0 days means keep forever)."""
    return Cutoffs(
        raw=now - raw_days * DAY if raw_days > 0 else None,
        rollups=now - rollup_days * DAY if rollup_days > 0 else None,
    )


def events_deleted(conn: sqlite3.Connection) -> None:
    """In the transaction that deleted events: the export cursor and the rolled-up mark step back to the highest
    id left, so events that get the ids of deleted ones (SQLite reuses max(id) + 1) are exported and rolled up."""
    lower_cursor(conn)
    lower_rolled_up_mark(conn)


def _in_transaction(conn: sqlite3.Connection, sql: str, params: tuple[object, ...], table: str) -> int:
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN IMMEDIATE")
    try:
        n = conn.execute(sql, params).rowcount
        if table == "events" and n > 0:
            events_deleted(conn)
        if own:
            conn.execute("COMMIT")
    except BaseException:
        if own:
            rollback(conn)
        raise
    return max(n, 0)


def _delete_batch(conn: sqlite3.Connection, table: str, spec: tuple[str, str], cutoff: float, limit: int) -> int:
    when, key = spec
    target = f"({key})" if "," in key else key
    return _in_transaction(
        conn,
        f"DELETE FROM {table} WHERE {target} IN (SELECT {key} FROM {table} WHERE {when} <= ? LIMIT ?)",
        (cutoff, limit),
        table,
    )


def delete_raw_batch(conn: sqlite3.Connection, table: str, cutoff: float, limit: int = BATCH_ROWS) -> int:
    """Delete up to `limit` rows of a raw table older than `cutoff` in one transaction; returns how many."""
    return _delete_batch(conn, table, RAW_TABLES[table], cutoff, limit)


def delete_rollup_batch(conn: sqlite3.Connection, table: str, cutoff: float, limit: int = BATCH_ROWS) -> int:
    """Delete up to `limit` rollup rows whose bucket ended by `cutoff`."""
    return _delete_batch(conn, table, ROLLUP_TABLES[table], cutoff, limit)


def purge(
    conn: sqlite3.Connection, now: float, raw_days: int, rollup_days: int, limit: int = BATCH_ROWS
) -> dict[str, int]:
    """Delete everything due, batch after batch (for the CLI and tests; the collector spreads batches out)."""
    due = cutoffs(now, raw_days, rollup_days)
    deleted: dict[str, int] = {}
    if due.raw is not None:
        for table in RAW_TABLES:
            while (n := delete_raw_batch(conn, table, due.raw, limit)) > 0:
                deleted[table] = deleted.get(table, 0) + n
    if due.rollups is not None:
        for table in ROLLUP_TABLES:
            while (n := delete_rollup_batch(conn, table, due.rollups, limit)) > 0:
                deleted[table] = deleted.get(table, 0) + n
    return deleted
