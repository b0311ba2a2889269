"""Keyed hashes for cookieless visitor ids and fingerprints, with a secret salt per UTC day."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from hashlib import blake2b

from collector.errors import StorageUnavailable
from db.errors import STORE_ERRORS, storage_problem
from db.store import Store

MEMO_SIZE = 5_000
"""Clients whose ids are memoised (≈ 0.7 KB each, two memos): enough for the repeat requests of the visits
under way; the memo is cleared when full, recomputing is cheap (about a microsecond per hash)."""


def day_of(ts: float) -> str:
    """The UTC day (YYYY-MM-DD) a timestamp falls on."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def keyed_hash(salt: bytes, *parts: str) -> str:
    """A 16-hex-digit keyed BLAKE2 hash; without the salt nobody can recompute it."""
    h = blake2b(key=salt[:64], digest_size=8)
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()


def hash_key(digest: str) -> int | str:
    """A keyed hash as a number, for in-memory maps holding many of them (a 64-bit int takes about half the memory
    of its 16 hex digits, and none is lost); text that is not hex digits stays as it is."""
    try:
        return int(digest, 16)
    except ValueError:
        return digest


class SaltStore:
    """Caches the salts of the days in use; new days' salts are created in the store, shared by every collector."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._cache: dict[int, bytes] = {}
        self._ids: dict[tuple[int, str, str, str], tuple[str, str, str]] = {}
        self._fingerprints: dict[tuple[int, str, str], str] = {}

    def salt(self, ts: float) -> bytes:
        """The salt of the UTC day containing `ts`."""
        day_number = int(ts // 86400)
        salt = self._cache.get(day_number)
        if salt is None:
            try:
                salt = self._store.salt_for_day(day_of(ts))
            except STORE_ERRORS as exc:  # a day's first salt is a write: the disk may be full or locked
                raise StorageUnavailable(storage_problem(exc) or f"database error: {exc}") from None
            if len(self._cache) > 8:
                self._cache.clear()
            self._cache[day_number] = salt
        return salt

    def ids(self, ts: float, site: str, ip: str, ua: str) -> tuple[str, str, str]:
        """(visitor id today, visitor id with yesterday's salt, fingerprint) for one client (memoised per day)."""
        key = (int(ts // 86400), site, ip, ua)
        ids = self._ids.get(key)
        if ids is None:
            today = self.salt(ts)
            yesterday = self.salt(ts - 86400)
            ids = (keyed_hash(today, site, ip, ua), keyed_hash(yesterday, site, ip, ua), keyed_hash(today, ip, ua))
            if len(self._ids) >= MEMO_SIZE:
                self._ids.clear()
            self._ids[key] = ids
        return ids

    def fingerprint(self, ts: float, ip: str, ua: str) -> str:
        """The client's fingerprint for the day: keyed hash of IP and User-Agent, the same on every site."""
        key = (int(ts // 86400), ip, ua)
        fingerprint = self._fingerprints.get(key)
        if fingerprint is None:
            if len(self._fingerprints) >= MEMO_SIZE:
                self._fingerprints.clear()
            fingerprint = self._fingerprints[key] = keyed_hash(self.salt(ts), ip, ua)
        return fingerprint

    def prepare(self, now: float | None = None) -> None:
        """Create the salts of yesterday, today and tomorrow ahead of need, so requests only read them (a
        request that had to create one would wait on the write lock, or fail on a full disk)."""
        now = time.time() if now is None else now
        for ts in (now - 86400, now, now + 86400):
            self.salt(ts)

    def forget_old(self, now: float | None = None) -> int:
        """Drop salts older than yesterday (called hourly by a background task), and make tomorrow's."""
        now = time.time() if now is None else now
        try:
            self.prepare(now)
        except StorageUnavailable:
            pass  # tried again next hour; a request needing it then gets a clear 503
        self._cache = {k: v for k, v in self._cache.items() if k >= int(now // 86400) - 1}
        self._ids.clear()
        self._fingerprints.clear()
        return self._store.forget_salts_before(day_of(now - 86400))
