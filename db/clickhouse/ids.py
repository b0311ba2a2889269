"""New row ids for ClickHouse control tables, where SQLite hands out INTEGER PRIMARY KEY values."""

from __future__ import annotations

import itertools
import random
import time

_counter = itertools.count()


def new_id(now: float | None = None) -> int:
    """A unique, time-ordered Int64 (milliseconds, a counter, random bits) that other hosts won't collide with."""
    now = time.time() if now is None else now
    return (int(now * 1000) << 20) | ((next(_counter) & 0xFFF) << 8) | random.getrandbits(8)
