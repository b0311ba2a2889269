"""The Server/API view: endpoints with latency percentiles and error rates, failed logins, external API costs.

The records and rules every engine shares; the SQL is in db/sqlite/queries and db/clickhouse/queries.

Server-side events are stored with type api_request (method, path = endpoint, status, latency_ms), auth
(name = action, success, user_id) and external_call (name = service, latency_ms, cost_usd, success).

Endpoint and external-call percentiles are exact (nearest rank over the raw latencies) for spans up to two days
or with dimension filters. Longer spans read the daily latency histograms (`rollup_latency`, `rollup_external`)
for whole days and put the raw latencies of the uneven ends into the same buckets; a percentile is then the
midpoint of the bucket holding that rank, within about 2 % of the exact value (db/rules.py LATENCY_STEPS).
Request counts, error rates and failed logins stay exact; costs are summed in billionths of a dollar.

Users (`user_id` sent with server-side events) are read from raw rows through the covering partial index
`events_users`, whatever the span: requests are api_request events, cost the summed cost_usd of external_call
events, and a user is active on a UTC day with any server-side event but a failed auth that day.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from db.queries.common import Filters, Span, split_days
from db.rules import DAY, latency_of_bucket

SERVER_TYPES_SQL = "(type = 'api_request' OR type = 'auth' OR type = 'external_call')"
"""Repeated in every query so SQLite uses the partial index on server-side events (an OR, not an IN list: see
db/sqlite/migrations/0008_server_indexes_or.sql)."""
EXACT_LATENCY_MAX_S = 2 * DAY
"""Spans up to this long get exact percentiles from raw rows; longer ones use the latency histograms."""
Histograms = dict[tuple[str, str], tuple[dict[int, int], list[int]]]
"""(method, endpoint) -> (latency bucket -> requests, [5xx answers])."""


@dataclass(slots=True, frozen=True)
class EndpointRow:
    """One endpoint: traffic, latency percentiles (ms) and the percent of 5xx answers."""

    method: str
    endpoint: str
    requests: int
    p50: float
    p95: float
    p99: float
    error_rate: float


@dataclass(slots=True, frozen=True)
class LoginRow:
    """Failed logins from one source (IP when stored, else fingerprint, else country)."""

    source: str
    failures: int


@dataclass(slots=True, frozen=True)
class CostRow:
    """Calls to one external service, what they cost and how slow they were (p95 ms)."""

    service: str
    calls: int
    cost_usd: float
    p95: float


@dataclass(slots=True, frozen=True)
class UserRow:
    """One user of the API: requests, 5xx answers, external calls made for them and what those cost."""

    user_id: str
    requests: int
    errors: int
    calls: int
    cost_usd: float
    days_active: int


USERS_SQL = f"{SERVER_TYPES_SQL} AND user_id != ''"
"""The partial index `events_users` condition, written out so SQLite uses it."""
ACTIVE_SQL = "NOT (type = 'auth' AND success = 0)"
"""What makes a user active: any server-side event but a failed login (a guess at someone else's account)."""


def _rank(q: float, n: int) -> int:
    """The 1-based nearest rank of percentile `q` among `n` values."""
    return max(1, math.ceil(q / 100.0 * n))


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (0 for none)."""
    if not sorted_values:
        return 0.0
    return float(sorted_values[_rank(q, len(sorted_values)) - 1])


def _long(span: Span, filters: Filters, rollups: bool | None) -> bool:
    """Whether a question is answered from the daily rollups (plus raw ends) rather than raw rows alone."""
    return (not filters.dims and span.seconds > EXACT_LATENCY_MAX_S) if rollups is None else rollups


def _raw_and_daily(
    span: Span, filters: Filters, rollups: bool, raw: Callable[[Span], None], daily: Callable[[Span], None]
) -> None:
    """Feed the whole span to `raw`, or (rollups without dimension filters) its uneven ends to `raw` and its
    whole days to `daily`."""
    if not rollups or filters.dims:
        raw(span)
        return
    pieces = split_days(span)
    for part in pieces.raw:
        raw(part)
    for part in pieces.daily:
        daily(part)


def histogram_percentile(counts: dict[int, int], q: float) -> float:
    """Nearest-rank percentile of a latency histogram: the midpoint of the bucket holding that rank (ms)."""
    total = sum(counts.values())
    if not total:
        return 0.0
    rank = _rank(q, total)
    seen = 0
    for b in sorted(counts):
        seen += counts[b]
        if seen >= rank:
            return round(latency_of_bucket(b), 2)
    return round(latency_of_bucket(max(counts)), 2)


def _from_histogram(method: str, path: str, counts: dict[int, int], errors: list[int]) -> EndpointRow:
    n = sum(counts.values())
    return EndpointRow(
        method,
        path,
        n,
        histogram_percentile(counts, 50),
        histogram_percentile(counts, 95),
        histogram_percentile(counts, 99),
        round(100.0 * errors[0] / n, 2) if n else 0.0,
    )
