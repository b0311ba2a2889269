"""The counting rules every engine follows: what a pageview, a bounce, a session's duration, an API error and a
failed login's source are, and the time buckets, in Python and as SQL. SQLite's rollups and raw queries and
ClickHouse's queries all use these, so both engines give the same numbers."""

from __future__ import annotations

import math

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
