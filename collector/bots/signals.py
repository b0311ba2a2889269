"""Per-session behaviour accumulator: the running measurements the 7 behavioural bot signals are read from."""

from __future__ import annotations

import re
from collections import deque
from functools import lru_cache

INTERVAL_WINDOW = 64
"""Inter-request intervals kept for the timing statistics (the most recent ones)."""
MAX_DISTINCT_PATHS = 4096
"""Distinct paths remembered per session; past this the coverage signal has long fired anyway."""

_TRAILING_NUMBER_RE = re.compile(r"^(.*?)(\d{1,9})(/?)$")
_NATURAL_SPLIT_RE = re.compile(r"(\d{1,9})")


@lru_cache(maxsize=16384)
def natural_key(path: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key ordering paths as a person would (`/page/9` before `/page/10`)."""
    parts = _NATURAL_SPLIT_RE.split(path[:256])
    return tuple((1, int(p)) if i % 2 else (0, p) for i, p in enumerate(parts) if p)


def _ends_in_digit(path: str) -> bool:
    """Whether a path ends in a digit, before an optional "/": without one `_TRAILING_NUMBER_RE` cannot match,
    and most paths have none, so this check spares the regex its backtracking."""
    if path[-1:] == "\n":  # `$` also matches before a final newline
        path = path[:-1]
    if path[-1:] == "/":
        path = path[:-1]
    return path[-1:].isdigit()


def is_sequential_step(prev: str, path: str) -> bool:
    """Whether going from `prev` to `path` is a systematic walk: next number, or next in sorted order."""
    a = _TRAILING_NUMBER_RE.match(prev) if _ends_in_digit(prev) else None
    b = _TRAILING_NUMBER_RE.match(path) if a is not None and _ends_in_digit(path) else None
    if a and b and a.group(1) == b.group(1):
        return 0 < int(b.group(2)) - int(a.group(2)) <= 2
    return natural_key(path) > natural_key(prev)


class Behaviour:
    """What one session has done so far, kept in O(1) memory per request and O(1) work per observation."""

    __slots__ = (
        "requests",
        "first_ts",
        "last_ts",
        "_paths",
        "_prev_path",
        "steps",
        "sequential_steps",
        "_intervals",
        "_sum",
        "_sumsq",
    )

    def __init__(self) -> None:
        self.requests = 0
        self.first_ts = 0.0
        self.last_ts = 0.0
        self._paths: set[str] = set()
        self._prev_path = ""
        self.steps = 0
        """Moves between two different paths."""
        self.sequential_steps = 0
        """... of which looked systematic (see `is_sequential_step`)."""
        self._intervals: deque[float] | None = None
        """Created with the second request: most sessions have one, and an empty window costs 760 bytes."""
        self._sum = 0.0
        self._sumsq = 0.0

    def observe(self, ts: float, path: str) -> None:
        """Record one request of the session at server time `ts` for `path`."""
        if self.requests == 0:
            self.first_ts = ts
        else:
            interval = ts - self.last_ts
            if interval < 0.0:  # (conditionals, not max(): this runs on every hit)
                interval = 0.0
            intervals = self._intervals
            if intervals is None:
                intervals = self._intervals = deque(maxlen=INTERVAL_WINDOW)
            elif len(intervals) == INTERVAL_WINDOW:
                old = intervals[0]
                self._sum -= old
                self._sumsq -= old * old
            intervals.append(interval)
            self._sum += interval
            self._sumsq += interval * interval
        if ts > self.last_ts:
            self.last_ts = ts
        self.requests += 1
        if len(self._paths) < MAX_DISTINCT_PATHS:
            self._paths.add(path)
        if self._prev_path and path != self._prev_path:
            self.steps += 1
            if is_sequential_step(self._prev_path, path):
                self.sequential_steps += 1
        if path:
            self._prev_path = path

    @property
    def distinct_pages(self) -> int:
        """Different paths requested (capped at MAX_DISTINCT_PATHS)."""
        return len(self._paths)

    @property
    def interval_count(self) -> int:
        """Inter-request intervals in the timing window."""
        return len(self._intervals) if self._intervals is not None else 0

    @property
    def timing_variance(self) -> float:
        """Variance of the recent inter-request intervals relative to their mean squared (0 = metronome).

        Normalised (squared coefficient of variation) so a steady 10 s rhythm is as regular as a steady
        0.5 s one; raw variance in s² would call a fast jittery bot regular and a slow steady one not.
        """
        n = self.interval_count
        if n == 0:
            return 0.0
        mean = self._sum / n
        if mean <= 1e-9:
            return 0.0
        var = max(0.0, self._sumsq / n - mean * mean)
        return var / (mean * mean)

    @property
    def duration_s(self) -> float:
        """Seconds between the first and the last request."""
        return self.last_ts - self.first_ts

    @property
    def sequential_fraction(self) -> float:
        """Share of path changes that looked systematic."""
        return self.sequential_steps / self.steps if self.steps else 0.0
