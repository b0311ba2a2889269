"""SQLite: the Server/API view: endpoint latency percentiles and error rates, failed logins, external API costs."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from db.queries.common import Filters, Span, event_where, site_sql
from db.queries.server import (
    ACTIVE_SQL,
    SERVER_TYPES_SQL,
    USERS_SQL,
    CostRow,
    EndpointRow,
    Histograms,
    LoginRow,
    UserRow,
    _from_histogram,
    _long,
    _raw_and_daily,
    histogram_percentile,
    percentile,
)
from db.rules import ERROR_STATUS, LOGIN_SOURCE_SQL, latency_bucket, nano_usd


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
    return [UserRow(str(u), int(r), int(e), int(c), round(int(n) / 1e9, 6), int(d)) for u, r, e, c, n, d in rows]


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


def _server_rows(
    conn: sqlite3.Connection, span: Span, filters: Filters, columns: str, type_: str, order: str = ""
) -> Iterable[Any]:
    """Raw server-side events of one type in a span; not bot-scored, so the bots filter is ignored."""
    where, params = event_where(span, Filters(filters.site, filters.dims, "all"))
    return conn.execute(
        f"SELECT {columns} FROM events WHERE {where} AND {SERVER_TYPES_SQL} AND type = '{type_}'{order}", params
    )


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
