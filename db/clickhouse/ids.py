"""Row ids where SQLite hands out INTEGER PRIMARY KEY values: unique across collectors without a shared counter."""

from __future__ import annotations

import itertools
import random
import time

_counter = itertools.count()


def new_id(now: float | None = None) -> int:
    """A unique, roughly time-ordered positive Int64 (milliseconds, a process counter, random bits), like session
    ids, so rows created by two processes (or hosts) at once never share an id."""
    ms = int((time.time() if now is None else now) * 1000)
    return (ms << 20) | ((next(_counter) & 0xFFF) << 8) | random.getrandbits(8)
