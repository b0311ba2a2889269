"""SQLite: writing one flush's batch, one transaction of rows plus the flush hooks.

Kept apart from db/writer.py (the asyncio side) so the writer process imports only this, sqlite3 and the hooks.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from db.batch import Batch
from db.records import EVENT_COLUMNS, SESSION_COLUMNS
from db.sqlite.connection import connect

_SESSION_ID = EVENT_COLUMNS.index("session_id")
_EVENT_IS_BOT = EVENT_COLUMNS.index("is_bot")
_SESSION_IS_BOT = SESSION_COLUMNS.index("is_bot")
_CHUNK = 900

FlushHook = Callable[[sqlite3.Connection, Batch], None]
"""Runs inside the flush transaction after the rows are written (rollups keep themselves current this way)."""

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


def write_batch(conn: sqlite3.Connection, batch: Batch, hooks: list[FlushHook]) -> None:
    """One transaction for the whole batch plus the flush hooks (on the writer thread or in the child process)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        batch.remarked = []
        if batch.sessions:
            mark_bot_sessions(conn, batch)
        if batch.events:
            conn.executemany(INSERT_EVENT, batch.events)
        if batch.sessions:
            conn.executemany(UPSERT_SESSION, batch.sessions.values())
        if batch.fingerprints:
            conn.executemany(
                UPSERT_FINGERPRINT,
                [
                    (
                        f.fingerprint,
                        f.seen,
                        f.seen,
                        f.new_sessions,
                        f.requests,
                        f.score,
                        f.flags,
                        f.level,
                        f.ua,
                        f.bot_name,
                    )
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


def mark_bot_sessions(conn: sqlite3.Connection, batch: Batch) -> None:
    """Keep every event of a bot session a bot's: a session's events count as human only while the session
    does (the rule every store follows, so human counts never include a bot's early hits).

    Run before the batch's rows are written: sessions of the batch that are bots now but were not before (or
    are new) have their stored events re-marked (ids kept in `batch.remarked`) and the batch's own events marked
    before they are inserted."""
    bots = [sid for sid, row in batch.sessions.items() if row[_SESSION_IS_BOT]]
    if not bots:
        return
    already: set[int] = set()
    for i in range(0, len(bots), _CHUNK):
        chunk = bots[i : i + _CHUNK]
        marks = ",".join("?" * len(chunk))
        already.update(
            r[0] for r in conn.execute(f"SELECT id FROM sessions WHERE id IN ({marks}) AND is_bot = 1", chunk)
        )
    flipped = [sid for sid in bots if sid not in already]
    for i in range(0, len(flipped), _CHUNK):
        chunk = flipped[i : i + _CHUNK]
        marks = ",".join("?" * len(chunk))
        batch.remarked.extend(
            r[0]
            for r in conn.execute(
                f"UPDATE events SET is_bot = 1 WHERE session_id IN ({marks}) AND is_bot = 0 RETURNING id", chunk
            )
        )
    if not flipped:  # (the pipeline marks every event after a verdict itself: only a flip's earlier hits remain)
        return
    flipped_set = set(flipped)
    events = batch.events
    for i, row in enumerate(events):
        if not row[_EVENT_IS_BOT] and row[_SESSION_ID] in flipped_set:
            events[i] = (*row[:_EVENT_IS_BOT], 1, *row[_EVENT_IS_BOT + 1 :])


def checkpoint_and_close(conn: sqlite3.Connection) -> None:
    """Fold the WAL back into the database file and close (a clean shutdown leaves no WAL behind)."""
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.Error:
        pass
    conn.close()


class SqliteSink:
    """Flushes written through one connection of this process: the writer's thread (imports, tests) or the
    writer process (db/sqlite/writer_process.py)."""

    pid: int | None = None
    spooled_events = 0

    def __init__(self, path: Path, pragmas: tuple[str, ...], hooks: list[FlushHook]) -> None:
        self.conn = connect(path, pragmas=pragmas)
        """The connection flushes write through."""
        self._hooks = hooks

    def write(self, batch: Batch) -> None:
        write_batch(self.conn, batch, self._hooks)

    def drain(self) -> bool:
        return True  # no spool: a batch is in the file or still queued in the writer

    def keep(self, batch: Batch) -> None:
        self.write(batch)  # SQLite has no other place: the file is where a batch survives

    def close(self) -> None:
        checkpoint_and_close(self.conn)
