"""State a rollup keeps in memory between the flushes of one connection (the most recent few connections)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerConnection(Generic[T]):
    """One `make(conn)` per connection, for the most recent `keep` connections (a writer keeps one for its
    lifetime), newest first; thread-safe."""

    def __init__(self, make: Callable[[sqlite3.Connection], T], keep: int = 4) -> None:
        self.make, self.keep = make, keep
        self.entries: list[tuple[sqlite3.Connection, T]] = []
        self.lock = threading.Lock()

    def get(self, conn: sqlite3.Connection) -> T:
        """The state kept for `conn`, made when there is none."""
        with self.lock:
            state = next((s for c, s in self.entries if c is conn), None)
            if state is None:
                state = self.make(conn)
                self.entries.insert(0, (conn, state))
                del self.entries[self.keep :]
        return state
