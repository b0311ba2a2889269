"""Opening SQLite connections with the pragmas SiteLens relies on (WAL, busy timeout, bounded WAL)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from db.errors import DatabaseError
from db.sqlite.migrate import migrate

__all__ = ["DatabaseError", "connect", "connect_async", "ping", "snapshot", "cache_pragmas"]

if TYPE_CHECKING:
    import aiosqlite

PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=5000",
    "PRAGMA temp_store=MEMORY",
    "PRAGMA cache_size=-16000",
    "PRAGMA journal_size_limit=67108864",
)


@contextmanager
def snapshot(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Run several reads on one consistent snapshot (a read transaction), e.g. sessions and their latest events."""
    conn.execute("BEGIN")
    try:
        yield conn
    finally:
        conn.execute("COMMIT")


def cache_pragmas(kib: int) -> tuple[str, ...]:
    """The pragma that caps a connection's page cache at `kib` KiB (for `connect(pragmas=...)`)."""
    return (f"PRAGMA cache_size=-{int(kib)}",)


def _apply_pragmas(conn: sqlite3.Connection) -> None:
    for pragma in PRAGMAS:
        conn.execute(pragma)


def connect(
    path: str | Path, *, readonly: bool = False, create: bool = True, pragmas: tuple[str, ...] = ()
) -> sqlite3.Connection:
    """A synchronous connection (CLI commands, tests, worker threads); migrates unless read-only.

    `pragmas` run after the standard ones (a log import's writer keeps a smaller page cache)."""
    path = Path(path)
    if not create and not path.exists():
        raise DatabaseError(f"database not found: {path}")
    try:
        if readonly:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=5000")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            _apply_pragmas(conn)
            for pragma in pragmas:
                conn.execute(pragma)
            migrate(conn)
    except (sqlite3.Error, OSError) as exc:
        raise DatabaseError(f"cannot open database {path}: {exc}") from None
    conn.row_factory = sqlite3.Row
    return conn


async def connect_async(path: str | Path, *, readonly: bool = False) -> aiosqlite.Connection:
    """An asyncio connection on its own thread (collector readers and the writer)."""
    import aiosqlite  # here, not at the top: the writer process never needs it (nor asyncio's weight)

    path = Path(path)
    try:
        if readonly:
            conn = await aiosqlite.connect(f"file:{path}?mode=ro", uri=True)
            await conn.execute("PRAGMA busy_timeout=5000")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = await aiosqlite.connect(path, isolation_level=None)
            for pragma in PRAGMAS:
                await conn.execute(pragma)
            await conn._execute(migrate, conn._conn)  # type: ignore[attr-defined]  # runs on the connection's thread
    except (sqlite3.Error, OSError) as exc:
        raise DatabaseError(f"cannot open database {path}: {exc}") from None
    conn.row_factory = sqlite3.Row
    return conn


async def ping(conn: aiosqlite.Connection) -> None:
    """A round trip through the database (health checks); raises when it cannot answer."""
    async with conn.execute("SELECT 1") as cur:
        await cur.fetchone()
