"""The counting rules every engine follows: what a pageview, a bounce, a session's duration, an API error and a
failed login's source are, and the time buckets, in Python and as SQL. SQLite's rollups and raw queries and
ClickHouse's queries all use these, so both engines give the same numbers."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping

HOUR = 3600
DAY = 86400
PAGE_TYPES = ("pageview", "request")
"""Event types counted as pageviews (tracker pageviews and imported access-log hits)."""
SESSION_DIMS = (
    "entry_path",
    "exit_path",
    "referrer",
    "ref_source",
    "ref_medium",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "country",
    "browser",
    "os",
    "device",
    "screen",
    "bot_name",
    "os_version",
)
"""Session attributes rolled up into `rollup_dims` (same order as the columns of `rollup_pending_sessions`)."""
ERROR_STATUS = 500
"""API responses with this status or above count as errors."""
LATENCY_STEPS = 16
"""Latency histogram buckets per doubling of (1 + ms): a bucket's midpoint is within 2.2 % of any value in it."""
MAX_LATENCY_BUCKET = 32 * LATENCY_STEPS
"""Anything slower than about 4 * 10^9 ms shares the last bucket."""
DURATION_MS_SQL = "max(0, CAST(({a}last_seen - {a}started) * 1000 + 0.5 AS INTEGER))"
"""`duration_of` in SQL (format with the table alias), so raw sums equal rolled-up ones exactly."""
BOUNCE_SQL = "({a}pageviews + {a}requests <= 1 AND {a}events = 0)"
"""`is_bounce` in SQL."""


def bucket(ts: float, grain: int) -> int:
    """Start of the UTC hour or day containing `ts` (whole seconds first, exactly like `bucket_sql`)."""
    return int(ts) // grain * grain


def bucket_sql(column: str, grain: int) -> str:
    """`bucket` in SQL: integer arithmetic only, so SQL and Python never disagree at a boundary."""
    return f"(CAST({column} AS INTEGER) / {int(grain)} * {int(grain)})"


def is_bounce(pageviews: int, requests: int, events: int) -> bool:
    """A session with at most one page hit and no custom event."""
    return pageviews + requests <= 1 and events == 0


def latency_bucket(ms: float) -> int:
    """Histogram bucket of a latency: LATENCY_STEPS buckets per doubling of 1 + ms (bad values go to 0)."""
    if not ms > 0.0:  # also NaN
        return 0
    if ms >= 2.0**32:
        return MAX_LATENCY_BUCKET
    return min(int(math.log2(1.0 + ms) * LATENCY_STEPS), MAX_LATENCY_BUCKET)


def login_source(ip: str, fingerprint: str, country: str) -> str:
    """Who a failed login is counted against: the IP when stored, else the fingerprint, else the country."""
    return ip or fingerprint or country or "unknown"


LOGIN_SOURCE_SQL = (
    "CASE WHEN ip != '' THEN ip WHEN fingerprint != '' THEN fingerprint WHEN country != '' THEN country "
    "ELSE 'unknown' END"
)
"""`login_source` in SQL."""


def nano_usd(cost: float) -> int:
    """A cost in billionths of a dollar (non-finite or absurd values count as 0)."""
    if not -1e9 < cost < 1e9:  # also NaN
        return 0
    return round(cost * 1e9)


def latency_of_bucket(b: int) -> float:
    """The value a histogram bucket stands for: its geometric midpoint (in 1 + ms), in ms."""
    return 2.0 ** ((b + 0.5) / LATENCY_STEPS) - 1.0


def duration_of(started: float, last_seen: float) -> int:
    """A session's length in whole milliseconds (integers add up exactly in any order)."""
    return max(0, int((last_seen - started) * 1000 + 0.5))


ENGAGED_STEPS = 16
"""Engaged-time histogram buckets per doubling: a bucket's midpoint is within 2.2 % of any time in it."""
ENGAGED_EDGES_MS: tuple[int, ...] = tuple(sorted({max(1, round(2.0 ** (i / ENGAGED_STEPS))) for i in range(28 * 16)}))
"""Lower edges (ms) of the engaged-time buckets 1, 2, ...: every millisecond up to 29, then 16 per doubling up to
about 71 hours; bucket 0 holds nothing engaged (0 ms). Integers, so every engine buckets a time identically."""
VIEW_REPORTS_S = DAY
"""Over spans longer than a day, a page view's engaged time is the sum of the reports sent within this long after
its page hit (a report belongs to the latest earlier page hit of its session and path)."""


def engaged_bucket(ms: int) -> int:
    """Histogram bucket of a view's engaged milliseconds: how many lower edges it reaches."""
    return bisect_right(ENGAGED_EDGES_MS, ms)


def engaged_bucket_sql(column: str) -> str:
    """`engaged_bucket` in ClickHouse SQL (the edges are this module's integers, nothing bound)."""
    return f"arrayCount(e -> e <= {column}, [{', '.join(map(str, ENGAGED_EDGES_MS))}])"


def engaged_of_bucket(b: int) -> float:
    """The milliseconds a bucket stands for: the middle of the whole milliseconds it holds (its edge for the
    first and the last)."""
    if b <= 0:
        return 0.0
    if b >= len(ENGAGED_EDGES_MS):
        return float(ENGAGED_EDGES_MS[-1])
    return (ENGAGED_EDGES_MS[b - 1] + ENGAGED_EDGES_MS[b] - 1) / 2.0


def histogram_median(counts: Mapping[int, int]) -> float | None:
    """Median of a histogram of views per bucket, as statistics.median takes it (the mean of the low and high
    middle values), each value its bucket's midpoint; None when empty. Every engine's long-span median."""
    n = sum(counts.values())
    if n <= 0:
        return None
    low, high = (n - 1) // 2, n // 2
    values: list[float] = []
    seen = 0
    for b in sorted(counts):
        seen += counts[b]
        while len(values) < 2 and seen > (low, high)[len(values)]:
            values.append(engaged_of_bucket(b))
    return (values[0] + values[1]) / 2.0
