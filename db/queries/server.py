"""The Server/API view: endpoints with latency percentiles and error rates, failed logins, external API costs.

Server-side events are stored with type api_request (method, path = endpoint, status, latency_ms), auth
(name = action, success, user_id) and external_call (name = service, latency_ms, cost_usd, success).
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from db.queries.common import Filters, Span, event_where

SERVER_TYPES_SQL = "type IN ('api_request', 'auth', 'external_call')"
"""Repeated in every query so SQLite uses the partial index on server-side events."""
ERROR_STATUS = 500
"""Responses with this status or above count as errors."""


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


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (0 for none)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(q / 100.0 * len(sorted_values)))
    return float(sorted_values[rank - 1])


def _server_filters(filters: Filters) -> Filters:
    """Server-side events are not bot-scored: look at all of them."""
    return Filters(filters.site, filters.dims, "all")


def endpoints(conn: sqlite3.Connection, span: Span, filters: Filters, limit: int = 20) -> list[EndpointRow]:
    """Busiest endpoints with p50/p95/p99 latency and error rate."""
    where, params = event_where(span, _server_filters(filters))
    groups: dict[tuple[str, str], tuple[list[float], list[int]]] = {}
    for method, path, latency, status in conn.execute(
        f"SELECT method, path, latency_ms, status FROM events WHERE {where} AND {SERVER_TYPES_SQL} "
        "AND type = 'api_request' ORDER BY latency_ms",
        params,
    ):
        lat, errors = groups.setdefault((str(method), str(path)), ([], [0]))
        lat.append(float(latency))
        if int(status) >= ERROR_STATUS:
            errors[0] += 1
    rows = [
        EndpointRow(
            method,
            path,
            len(lat),
            percentile(lat, 50),
            percentile(lat, 95),
            percentile(lat, 99),
            round(100.0 * err[0] / len(lat), 2),
        )
        for (method, path), (lat, err) in groups.items()
    ]
    rows.sort(key=lambda r: (-r.requests, r.endpoint, r.method))
    return rows[:limit]


def failed_logins(conn: sqlite3.Connection, span: Span, filters: Filters, limit: int = 20) -> list[LoginRow]:
    """Sources with the most failed auth events."""
    where, params = event_where(span, _server_filters(filters))
    rows = conn.execute(
        "SELECT CASE WHEN ip != '' THEN ip WHEN fingerprint != '' THEN fingerprint "
        "WHEN country != '' THEN country ELSE 'unknown' END AS source, count(*) AS n "
        f"FROM events WHERE {where} AND {SERVER_TYPES_SQL} AND type = 'auth' AND success = 0 "
        "GROUP BY source ORDER BY n DESC, source LIMIT ?",
        (*params, limit),
    ).fetchall()
    return [LoginRow(str(r[0]), int(r[1])) for r in rows]


def external_costs(conn: sqlite3.Connection, span: Span, filters: Filters) -> list[CostRow]:
    """External API calls per service with their total cost and p95 latency, most expensive first."""
    where, params = event_where(span, _server_filters(filters))
    groups: dict[str, tuple[list[float], list[float]]] = {}
    for name, latency, cost in conn.execute(
        f"SELECT name, latency_ms, cost_usd FROM events WHERE {where} AND {SERVER_TYPES_SQL} "
        "AND type = 'external_call' ORDER BY latency_ms",
        params,
    ):
        lat, total = groups.setdefault(str(name), ([], [0.0]))
        lat.append(float(latency))
        total[0] += float(cost)
    rows = [
        CostRow(name, len(lat), round(total[0], 6), percentile(lat, 95))
        for name, (lat, total) in groups.items()
    ]
    rows.sort(key=lambda r: (-r.cost_usd, -r.calls, r.service))
    return rows
