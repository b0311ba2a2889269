"""What one writer flush writes, and writing it: one transaction of rows plus the flush hooks.

Kept apart from db/writer.py (the asyncio side) so the writer process imports only this, sqlite3 and the hooks.
"""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from db.records import EVENT_COLUMNS, SESSION_COLUMNS, FingerprintRecord

INSERT_EVENT = f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) VALUES ({', '.join('?' * len(EVENT_COLUMNS))})"
UPSERT_SESSION = (
    f"INSERT INTO sessions ({', '.join(SESSION_COLUMNS)}) VALUES ({', '.join('?' * len(SESSION_COLUMNS))}) "
    "ON CONFLICT(id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in SESSION_COLUMNS if c not in ("id", "started", "new_visitor"))
)
UPSERT_FINGERPRINT = """
INSERT INTO fingerprints (fingerprint, first_seen, last_seen, sessions, requests, max_score, flags, level, ua, bot_name)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(fingerprint) DO UPDATE SET
    last_seen = max(last_seen, excluded.last_seen),
    sessions = sessions + excluded.sessions,
    requests = requests + excluded.requests,
    max_score = max(max_score, excluded.max_score),
    flags = CASE WHEN excluded.flags != '[]' THEN excluded.flags ELSE flags END,
    level = excluded.level,
    ua = excluded.ua,
    bot_name = CASE WHEN excluded.bot_name != '' THEN excluded.bot_name ELSE bot_name END
"""
UPDATE_LEVEL_FINGERPRINT = "UPDATE fingerprints SET level = ? WHERE fingerprint = ?"
UPDATE_LEVEL_SESSIONS = "UPDATE sessions SET throttle_level = ? WHERE fingerprint = ? AND last_seen > ?"
UPSERT_DROPS = """
INSERT INTO throttle_drops (bucket, level, reason, count) VALUES (?, ?, ?, ?)
ON CONFLICT(bucket, level, reason) DO UPDATE SET count = count + excluded.count
"""


@dataclass(slots=True)
class Batch:
    """Everything one flush writes in one transaction."""

    events: list[tuple[object, ...]] = field(default_factory=list)
    sessions: dict[int, tuple[object, ...]] = field(default_factory=dict)
    fingerprints: dict[str, FingerprintRecord] = field(default_factory=dict)
    drops: Counter[tuple[int, str, str]] = field(default_factory=Counter)
    levels: dict[str, str] = field(default_factory=dict)
    """Throttle level changes of fingerprints that may no longer reach the pipeline (blocked clients)."""
    import_offset: tuple[int, int, int] | None = None
    """(import file id, byte offset, lines) committed with these rows: a log import resumes exactly here."""

    def __len__(self) -> int:
        return (
            len(self.events)
            + len(self.sessions)
            + len(self.fingerprints)
            + len(self.drops)
            + len(self.levels)
            + (self.import_offset is not None)
        )


FlushHook = Callable[[sqlite3.Connection, Batch], None]
"""Runs inside the flush transaction after the rows are written (rollups keep themselves current this way)."""


def write_batch(conn: sqlite3.Connection, batch: Batch, hooks: list[FlushHook]) -> None:
    """One transaction for the whole batch plus the flush hooks (on the writer thread or in the child process)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        if batch.events:
            conn.executemany(INSERT_EVENT, batch.events)
        if batch.sessions:
            conn.executemany(UPSERT_SESSION, batch.sessions.values())
        if batch.fingerprints:
            conn.executemany(
                UPSERT_FINGERPRINT,
                [
                    (f.fingerprint, f.seen, f.seen, f.new_sessions, f.requests, f.score, f.flags, f.level, f.ua,
                     f.bot_name)
                    for f in batch.fingerprints.values()
                ],
            )
        if batch.drops:
            conn.executemany(UPSERT_DROPS, [(*key, n) for key, n in batch.drops.items()])
        if batch.levels:
            conn.executemany(UPDATE_LEVEL_FINGERPRINT, [(lv, fp) for fp, lv in batch.levels.items()])
            since = time.time() - 86400
            conn.executemany(UPDATE_LEVEL_SESSIONS, [(lv, fp, since) for fp, lv in batch.levels.items()])
        for hook in hooks:
            hook(conn, batch)
        conn.execute("COMMIT")
    except BaseException:
        rollback(conn)
        raise


def rollback(conn: sqlite3.Connection) -> None:
    """Roll back whatever is still open, never masking the error that got us here: SQLite has often ended the
    transaction itself already (a failed COMMIT on a full disk), and a ROLLBACK then only says 'no transaction'."""
    if not conn.in_transaction:
        return
    try:
        conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass  # the connection is unusable; the caller re-raises the error that matters


def checkpoint_and_close(conn: sqlite3.Connection) -> None:
    """Fold the WAL back into the database file and close (a clean shutdown leaves no WAL behind)."""
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.Error:
        pass
    conn.close()
