"""The TUI's access to the database: one read connection shared by query workers, short write connections."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from db.connection import connect

T = TypeVar("T")


class Database:
    """Reads go through one read-only connection guarded by a lock (workers never overlap on it); writes
    (throttle overrides, funnel definitions) open their own connection so they never wait behind a slow read."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _reader(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = connect(self.path, readonly=True, create=False)
        return self._conn

    def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn(conn)` on the read connection (call from a thread worker, never the event loop)."""
        with self._lock:
            return fn(self._reader())

    def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn(conn)` on a fresh write connection, closed afterwards (rare user actions only)."""
        conn = connect(self.path)
        try:
            return fn(conn)
        finally:
            conn.close()

    def size_bytes(self) -> int:
        """Database file plus its write-ahead log, as the status bar shows it."""
        total = 0
        for suffix in ("", "-wal"):
            try:
                total += Path(f"{self.path}{suffix}").stat().st_size
            except OSError:
                pass
        return total

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
