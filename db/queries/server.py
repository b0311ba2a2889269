"""The Server/API view: endpoints with latency percentiles and error rates, failed logins, external API costs.

Server-side events are stored with type api_request (method, path = endpoint, status, latency_ms), auth
(name = action, success, user_id) and external_call (name = service, latency_ms, cost_usd, success).

Endpoint and external-call percentiles are exact (nearest rank over the raw latencies) for spans up to two days
or with dimension filters. Longer spans read the daily latency histograms (`rollup_latency`, `rollup_external`)
for whole days and put the raw latencies of the uneven ends into the same buckets; a percentile is then the
midpoint of the bucket holding that rank, within about 2 % of the exact value (db/rollups.py LATENCY_STEPS).
Request counts, error rates and failed logins stay exact; costs are summed in billionths of a dollar.

Users (`user_id` sent with server-side events) are read from raw rows through the covering partial index
`events_users`, whatever the span: requests are api_request events, cost the summed cost_usd of external_call
events, and a user is active on a UTC day with any server-side event but a failed auth that day.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from db.queries.common import Filters, Span, event_where, site_sql, split_days
from db.rollups import DAY, ERROR_STATUS, LOGIN_SOURCE_SQL, latency_bucket, latency_of_bucket, nano_usd

SERVER_TYPES_SQL = "type IN ('api_request', 'auth', 'external_call')"
"""Repeated in every query so SQLite uses the partial index on server-side events."""
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


USERS_SQL = "type IN ('api_request', 'auth', 'external_call') AND user_id != ''"
"""The partial index `events_users` condition, written out so SQLite uses it."""
ACTIVE_SQL = "NOT (type = 'auth' AND success = 0)"
"""What makes a user active: any server-side event but a failed login (a guess at someone else's account)."""


def _user_rows(
    conn: sqlite3.Connection, span: Span, filters: Filters, columns: str, tail: str, extra: tuple[object, ...] = ()
) -> Iterable[Any]:
    where, params = event_where(span, Filters(filters.site, filters.dims, "all"))
    return conn.execute(f"SELECT {columns} FROM events WHERE {where} AND {USERS_SQL}{tail}", (*params, *extra))


def users(conn: sqlite3.Connection, span: Span, filters: Filters, limit: int = 20) -> list[UserRow]:
    """Active users by requests (then cost): API requests and 5xx answers, external calls and their cost, and on
    how many UTC days of the span they were active (a user named only by failed logins is not listed)."""
    rows = _user_rows(
        conn,
        span,
        filters,
        f"user_id, sum(type = 'api_request') AS reqs, sum(type = 'api_request' AND status >= {ERROR_STATUS:d}), "
        "sum(type = 'external_call'), "
        "sum(CASE WHEN type = 'external_call' AND cost_usd > -1e9 AND cost_usd < 1e9 "
        "THEN CAST(round(cost_usd * 1e9) AS INTEGER) ELSE 0 END) AS nusd, "
        "count(DISTINCT CAST(ts AS INTEGER) / 86400)",
        f" AND {ACTIVE_SQL} GROUP BY user_id ORDER BY reqs DESC, nusd DESC, user_id LIMIT ?",
        (limit,),
    )
    return [
        UserRow(str(u), int(r), int(e), int(c), round(int(n) / 1e9, 6), int(d)) for u, r, e, c, n, d in rows
    ]


def daily_active_users(conn: sqlite3.Connection, span: Span, filters: Filters) -> list[tuple[int, int]]:
    """(UTC day start, distinct active users) for each day of the span with any, oldest first."""
    rows = _user_rows(
        conn,
        span,
        filters,
        "CAST(ts AS INTEGER) / 86400 * 86400 AS day, count(DISTINCT user_id)",
        f" AND {ACTIVE_SQL} GROUP BY day ORDER BY day",
    )
    return [(int(day), int(n)) for day, n in rows]


def active_users(conn: sqlite3.Connection, span: Span, filters: Filters) -> int:
    """Distinct active users over the whole span."""
    row = next(iter(_user_rows(conn, span, filters, "count(DISTINCT user_id)", f" AND {ACTIVE_SQL}")))
    return int(row[0])


def _rank(q: float, n: int) -> int:
    """The 1-based nearest rank of percentile `q` among `n` values."""
    return max(1, math.ceil(q / 100.0 * n))


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (0 for none)."""
    if not sorted_values:
        return 0.0
    return float(sorted_values[_rank(q, len(sorted_values)) - 1])


def _server_rows(
    conn: sqlite3.Connection, span: Span, filters: Filters, columns: str, type_: str, order: str = ""
) -> Iterable[Any]:
    """Raw server-side events of one type in a span; not bot-scored, so the bots filter is ignored."""
    where, params = event_where(span, Filters(filters.site, filters.dims, "all"))
    return conn.execute(
        f"SELECT {columns} FROM events WHERE {where} AND {SERVER_TYPES_SQL} AND type = '{type_}'{order}", params
    )


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


def endpoints(
    conn: sqlite3.Connection, span: Span, filters: Filters, limit: int = 20, *, rollups: bool | None = None
) -> list[EndpointRow]:
    """Busiest endpoints with p50/p95/p99 latency and error rate (`rollups` forces one path, for tests)."""
    rows = (
        [_from_histogram(method, path, *h) for (method, path), h in latency_histograms(conn, span, filters).items()]
        if _long(span, filters, rollups)
        else _exact_endpoints(conn, span, filters)
    )
    rows.sort(key=lambda r: (-r.requests, r.endpoint, r.method))
    return rows[:limit]


def _exact_endpoints(conn: sqlite3.Connection, span: Span, filters: Filters) -> list[EndpointRow]:
    groups: dict[tuple[str, str], tuple[list[float], list[int]]] = {}
    for method, path, latency, status in _server_rows(
        conn, span, filters, "method, path, latency_ms, status", "api_request", " ORDER BY latency_ms"
    ):
        lat, errors = groups.setdefault((str(method), str(path)), ([], [0]))
        lat.append(float(latency))
        if int(status) >= ERROR_STATUS:
            errors[0] += 1
    return [
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


def latency_histograms(conn: sqlite3.Connection, span: Span, filters: Filters, *, rollups: bool = True) -> Histograms:
    """Per endpoint: requests per latency bucket and 5xx answers, from the daily rollup for whole days (unless
    `rollups` is False or dimensions filter) and from raw rows for the rest."""
    out: Histograms = {}
    site, site_args = site_sql(filters.site)

    def add(method: object, path: object, b: int, n: int, errors_n: int) -> None:
        counts, errors = out.setdefault((str(method), str(path)), ({}, [0]))
        counts[b] = counts.get(b, 0) + n
        errors[0] += errors_n

    def raw(part: Span) -> None:
        for method, path, latency, status in _server_rows(
            conn, part, filters, "method, path, latency_ms, status", "api_request"
        ):
            add(method, path, latency_bucket(float(latency)), 1, int(int(status) >= ERROR_STATUS))

    def daily(part: Span) -> None:
        for method, path, b, n, errors_n in conn.execute(
            "SELECT method, path, ms_bucket, sum(count), sum(errors) FROM rollup_latency "
            f"WHERE day >= ? AND day < ?{site} GROUP BY method, path, ms_bucket",
            (part.start, part.end, *site_args),
        ):
            add(method, path, int(b), int(n), int(errors_n))

    _raw_and_daily(span, filters, rollups, raw, daily)
    return out


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


def failed_logins(
    conn: sqlite3.Connection, span: Span, filters: Filters, limit: int = 20, *, rollups: bool | None = None
) -> list[LoginRow]:
    """Sources with the most failed auth events (daily rollups for the whole days of long spans)."""
    counts: dict[str, int] = {}

    site, site_args = site_sql(filters.site)

    def add(rows: Iterable[Any]) -> None:
        for source, n in rows:
            counts[str(source)] = counts.get(str(source), 0) + int(n)

    def raw(part: Span) -> None:
        add(
            _server_rows(
                conn,
                part,
                filters,
                f"{LOGIN_SOURCE_SQL} AS source, count(*)",
                "auth",
                " AND success = 0 GROUP BY source",
            )
        )

    def daily(part: Span) -> None:
        add(
            conn.execute(
                f"SELECT source, sum(failures) FROM rollup_auth WHERE day >= ? AND day < ?{site} GROUP BY source",
                (part.start, part.end, *site_args),
            )
        )

    _raw_and_daily(span, filters, _long(span, filters, rollups), raw, daily)
    order = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [LoginRow(source, n) for source, n in order[:limit] if n]


def external_costs(
    conn: sqlite3.Connection, span: Span, filters: Filters, *, rollups: bool | None = None
) -> list[CostRow]:
    """External API calls per service with their total cost and p95 latency, most expensive first (exact for
    short spans; long spans use the daily histograms, p95 within about 2 %, calls exact, cost to 1e-9 $)."""
    if _long(span, filters, rollups):
        rows = [
            CostRow(service, sum(counts.values()), round(nusd / 1e9, 6), histogram_percentile(counts, 95))
            for service, (counts, nusd) in external_histograms(conn, span, filters).items()
        ]
    else:
        groups: dict[str, tuple[list[float], list[float]]] = {}
        for name, latency, cost in _server_rows(
            conn, span, filters, "name, latency_ms, cost_usd", "external_call", " ORDER BY latency_ms"
        ):
            lat, total = groups.setdefault(str(name), ([], [0.0]))
            lat.append(float(latency))
            total[0] += float(cost)
        rows = [
            CostRow(name, len(lat), round(total[0], 6), percentile(lat, 95)) for name, (lat, total) in groups.items()
        ]
    rows.sort(key=lambda r: (-r.cost_usd, -r.calls, r.service))
    return rows


def external_histograms(
    conn: sqlite3.Connection, span: Span, filters: Filters, *, rollups: bool = True
) -> dict[str, tuple[dict[int, int], int]]:
    """Per service: calls per latency bucket and the cost in billionths of a dollar, from the daily rollup for
    whole days (unless `rollups` is False or dimensions filter) and from raw rows for the rest."""
    out: dict[str, tuple[dict[int, int], int]] = {}

    def add(service: str, b: int, calls: int, nusd: int) -> None:
        counts, total = out.get(service, ({}, 0))
        counts[b] = counts.get(b, 0) + calls
        out[service] = (counts, total + nusd)

    site, site_args = site_sql(filters.site)

    def raw(part: Span) -> None:
        for name, latency, cost in _server_rows(conn, part, filters, "name, latency_ms, cost_usd", "external_call"):
            add(str(name), latency_bucket(float(latency)), 1, nano_usd(float(cost)))

    def daily(part: Span) -> None:
        for service, b, calls, nusd in conn.execute(
            "SELECT service, ms_bucket, sum(calls), sum(cost_nusd) FROM rollup_external "
            f"WHERE day >= ? AND day < ?{site} GROUP BY service, ms_bucket",
            (part.start, part.end, *site_args),
        ):
            add(str(service), int(b), int(calls), int(nusd))

    _raw_and_daily(span, filters, rollups, raw, daily)
    return out
