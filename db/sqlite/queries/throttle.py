"""SQLite: throttle overrides (set, clear, list) and fingerprint reputation reads for the CLI, TUI and collector."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

import aiosqlite

from db.queries.throttle import (
    _FP_COLUMNS,
    _OVERRIDE_COLUMNS,
    FingerprintRow,
    OverrideError,
    OverrideRow,
    _fingerprint,
    _override,
    checked_override,
    normalise_target,
)


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """One write transaction whether the connection is in autocommit mode (ours) or not."""
    if conn.isolation_level is None and not conn.in_transaction:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    else:
        with conn:
            yield


def set_override(
    conn: sqlite3.Connection,
    kind: str,
    target: str,
    level: str,
    reason: str,
    expires: float | None,
    *,
    now: float | None = None,
) -> int:
    """Store an override (replacing an active one on the same target) and return its id."""
    now = time.time() if now is None else now
    target, level, reason = checked_override(kind, target, level, reason, expires, now)
    with _transaction(conn):
        conn.execute(
            "UPDATE throttle_overrides SET cleared = ? WHERE kind = ? AND target = ? AND cleared IS NULL",
            (now, kind, target),
        )
        cur = conn.execute(
            "INSERT INTO throttle_overrides (kind, target, level, reason, created, expires) VALUES (?, ?, ?, ?, ?, ?)",
            (kind, target, level, reason, now, expires),
        )
    return int(cur.lastrowid or 0)


def clear_override(conn: sqlite3.Connection, id_or_target: int | str, *, now: float | None = None) -> int:
    """Clear active overrides by id (an int) or target (any str, digits too); returns how many."""
    now = time.time() if now is None else now
    if isinstance(id_or_target, int):
        sql = "UPDATE throttle_overrides SET cleared = ? WHERE id = ? AND cleared IS NULL"
        params: tuple[object, ...] = (now, int(id_or_target))
    else:
        target = id_or_target.strip()
        # The same spelling the override was stored under (e.g. an IPv6 address typed in long form).
        for kind in ("ip", "cidr"):
            try:
                target = normalise_target(kind, target)
                break
            except OverrideError:
                continue
        sql = "UPDATE throttle_overrides SET cleared = ? WHERE target = ? AND cleared IS NULL"
        params = (now, target)
    with _transaction(conn):
        cur = conn.execute(sql, params)
    return cur.rowcount


def active_overrides(conn: sqlite3.Connection, now: float | None = None) -> list[OverrideRow]:
    """Overrides neither cleared nor expired at `now`, oldest first (later ones win on the same target)."""
    now = time.time() if now is None else now
    rows = conn.execute(
        f"SELECT {_OVERRIDE_COLUMNS} FROM throttle_overrides "
        "WHERE cleared IS NULL AND (expires IS NULL OR expires > ?) ORDER BY id",
        (now,),
    ).fetchall()
    return [_override(r) for r in rows]


def recent_overrides(conn: sqlite3.Connection, limit: int = 100) -> list[OverrideRow]:
    """The latest overrides whatever their state, newest first (history for the TUI and `list --all`)."""
    rows = conn.execute(
        f"SELECT {_OVERRIDE_COLUMNS} FROM throttle_overrides ORDER BY id DESC LIMIT ?", (limit,)
    ).fetchall()
    return [_override(r) for r in rows]


def get_fingerprint(conn: sqlite3.Connection, fingerprint: str) -> FingerprintRow | None:
    """The stored reputation of one fingerprint."""
    row = conn.execute(f"SELECT {_FP_COLUMNS} FROM fingerprints WHERE fingerprint = ?", (fingerprint,)).fetchone()
    return None if row is None else _fingerprint(row)


def top_fingerprints(
    conn: sqlite3.Connection, *, since: float = 0.0, min_score: int = 0, limit: int = 50
) -> list[FingerprintRow]:
    """Fingerprints seen since `since`, worst first (highest max score, then most requests)."""
    rows = conn.execute(
        f"SELECT {_FP_COLUMNS} FROM fingerprints WHERE last_seen >= ? AND max_score >= ? "
        "ORDER BY max_score DESC, requests DESC LIMIT ?",
        (since, min_score, limit),
    ).fetchall()
    return [_fingerprint(r) for r in rows]


def drops_since(conn: sqlite3.Connection, since: float) -> list[tuple[str, str, int]]:
    """Throttle refusals since `since` per (level, reason), most first."""
    rows = conn.execute(
        "SELECT level, reason, sum(count) AS n FROM throttle_drops WHERE bucket >= ? "
        "GROUP BY level, reason ORDER BY n DESC",
        (int(since // 60 * 60),),
    ).fetchall()
    return [(str(r[0]), str(r[1]), int(r[2])) for r in rows]


async def active_overrides_async(conn: aiosqlite.Connection, now: float | None = None) -> list[OverrideRow]:
    """`active_overrides` on an aiosqlite connection (the collector's reload task)."""
    now = time.time() if now is None else now
    async with conn.execute(
        f"SELECT {_OVERRIDE_COLUMNS} FROM throttle_overrides "
        "WHERE cleared IS NULL AND (expires IS NULL OR expires > ?) ORDER BY id",
        (now,),
    ) as cur:
        rows = await cur.fetchall()
    return [_override(r) for r in rows]
