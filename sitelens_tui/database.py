"""The TUI's access to the store: one read handle shared by query workers, short-lived handles for writes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from db.store import Store, StoreUrl, open_store

T = TypeVar("T")


class Database:
    """Reads go through one read-only store handle guarded by a lock (workers never overlap on it); writes
    (throttle overrides, funnel definitions) open their own handle so they never wait behind a slow read."""

    def __init__(self, url: StoreUrl) -> None:
        self.url = url
        self._lock = threading.Lock()
        self._store: Store | None = None

    def _reader(self) -> Store:
        if self._store is None:
            self._store = open_store(self.url, readonly=True, create=False)
        return self._store

    def read(self, fn: Callable[[Store], T]) -> T:
        """Run `fn(store)` on the read handle (call from a thread worker, never the event loop)."""
        with self._lock:
            return fn(self._reader())

    def write(self, fn: Callable[[Store], T]) -> T:
        """Run `fn(store)` on a fresh handle, closed afterwards (rare user actions only)."""
        store = open_store(self.url)
        try:
            return fn(store)
        finally:
            store.close()

    def size_bytes(self) -> int:
        """What the store takes on disk, as the status bar shows it."""
        return self.read(lambda store: store.size_bytes())

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None
