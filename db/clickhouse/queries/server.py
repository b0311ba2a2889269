"""The Server/API view on ClickHouse: endpoints with latency percentiles and error rates, failed logins,
external API costs.

Percentiles are exact nearest-rank ones (as `db.queries.server.percentile`) for every span: SQLite reads latency
histograms for long spans and is within about 2 % of these. Counts are exact; costs are summed in billionths of
a dollar (`nano_usd`), as SQLite's long-span rollups do, so the sum does not depend on the order rows are read in.
The `rollups` parameters are accepted for SQLite's signatures: there are no rollups here.

Users (`user_id` sent with server-side events) follow `db.queries.server`: requests are api_request events, cost
the summed cost_usd of external_call events, and a user is active on a UTC day with any server-side event but a
failed auth that day."""

from __future__ import annotations

from typing import Any

from db.clickhouse.client import ClickHouse
from db.clickhouse.queries.common import bucket_sql, event_where
from db.queries.common import Filters, Span
from db.queries.server import ACTIVE_SQL, USERS_SQL, CostRow, EndpointRow, LoginRow, UserRow
from db.rules import DAY, ERROR_STATUS, LOGIN_SOURCE_SQL


def _nearest_rank(q: int, values: str = "lat") -> str:
    """SQL for the nearest-rank percentile `q` of a sorted array (as `db.queries.server._rank`)."""
    return f"if(empty({values}), 0., {values}[toUInt64(greatest(1, ceil({q} / 100. * length({values}))))])"


USER_NANO_USD_SQL = (
    "if(cost_usd > -1e9 AND cost_usd < 1e9, toInt64(sign(cost_usd) * floor(abs(cost_usd * 1e9) + 0.5)), 0)"
)
"""A cost in billionths of a dollar as SQLite's users query computes it in SQL: non-finite or absurd costs count
as 0, halves round away from zero as SQLite's round() does. (External costs round halves to even, as Python's
round() in `db.rules.nano_usd` and ClickHouse's round() both do.)"""


def _server_where(span: Span, filters: Filters, type_: str) -> tuple[str, list[object]]:
    """Server-side events of one type in the span; they are not bot-scored, so the bots filter is ignored."""
    where, params = event_where(span, Filters(filters.site, filters.dims, "all"))
    return f"{where} AND type = ?", [*params, type_]


def endpoints(
    ch: ClickHouse, span: Span, filters: Filters, limit: int = 20, *, rollups: bool | None = None
) -> list[EndpointRow]:
    """Busiest endpoints with exact p50/p95/p99 latency and the percent of 5xx answers."""
    where, params = _server_where(span, filters, "api_request")
    rows = [
        EndpointRow(str(method), str(path), int(n), float(p50), float(p95), float(p99), round(100.0 * errors / n, 2))
        for method, path, n, errors, p50, p95, p99 in ch.rows(
            f"SELECT method, path, n, errors, {_nearest_rank(50)}, {_nearest_rank(95)}, {_nearest_rank(99)} "
            f"FROM (SELECT method, path, count() AS n, countIf(status >= {ERROR_STATUS}) AS errors, "
            f"arraySort(groupArray(latency_ms)) AS lat FROM events WHERE {where} GROUP BY method, path)",
            params,
        )
    ]
    rows.sort(key=lambda r: (-r.requests, r.endpoint, r.method))
    return rows[:limit]


def failed_logins(
    ch: ClickHouse, span: Span, filters: Filters, limit: int = 20, *, rollups: bool | None = None
) -> list[LoginRow]:
    """Sources (IP when stored, else fingerprint, else country) with the most failed auth events."""
    where, params = _server_where(span, filters, "auth")
    counts = [
        (str(source), int(n))
        for source, n in ch.rows(
            f"SELECT {LOGIN_SOURCE_SQL} AS source, count() FROM events WHERE {where} AND success = 0 GROUP BY source",
            params,
        )
    ]
    counts.sort(key=lambda kv: (-kv[1], kv[0]))
    return [LoginRow(source, n) for source, n in counts[:limit] if n]


def external_costs(
    ch: ClickHouse, span: Span, filters: Filters, *, rollups: bool | None = None
) -> list[CostRow]:
    """External API calls per service with their total cost and exact p95 latency, most expensive first."""
    where, params = _server_where(span, filters, "external_call")
    rows = [
        CostRow(str(service), int(calls), round(int(nusd) / 1e9, 6), float(p95))
        for service, calls, nusd, p95 in ch.rows(
            # nano_usd: non-finite or absurd costs count as 0.
            f"SELECT name, calls, nusd, {_nearest_rank(95)} FROM (SELECT name, count() AS calls, "
            "sum(if(cost_usd > -1e9 AND cost_usd < 1e9, toInt64(round(cost_usd * 1e9)), 0)) AS nusd, "
            f"arraySort(groupArray(latency_ms)) AS lat FROM events WHERE {where} GROUP BY name)",
            params,
        )
    ]
    rows.sort(key=lambda r: (-r.cost_usd, -r.calls, r.service))
    return rows


def _user_rows(
    ch: ClickHouse, span: Span, filters: Filters, columns: str, tail: str, extra: tuple[object, ...] = ()
) -> list[tuple[Any, ...]]:
    """Server-side events of active users in the span (the bots filter does not apply: they are not bot-scored)."""
    where, params = event_where(span, Filters(filters.site, filters.dims, "all"))
    return ch.rows(
        f"SELECT {columns} FROM events WHERE {where} AND {USERS_SQL} AND {ACTIVE_SQL}{tail}", (*params, *extra)
    )


def users(ch: ClickHouse, span: Span, filters: Filters, limit: int = 20) -> list[UserRow]:
    """Active users by requests (then cost): API requests and 5xx answers, external calls and their cost, and on
    how many UTC days of the span they were active (a user named only by failed logins is not listed)."""
    rows = _user_rows(
        ch,
        span,
        filters,
        "user_id, countIf(type = 'api_request') AS reqs, "
        f"countIf(type = 'api_request' AND status >= {ERROR_STATUS:d}), countIf(type = 'external_call'), "
        f"sumIf({USER_NANO_USD_SQL}, type = 'external_call') AS nusd, uniqExact({bucket_sql('ts', DAY)})",
        " GROUP BY user_id ORDER BY reqs DESC, nusd DESC, user_id LIMIT ?",
        (limit,),
    )
    return [UserRow(str(u), int(r), int(e), int(c), round(int(n) / 1e9, 6), int(d)) for u, r, e, c, n, d in rows]


def daily_active_users(ch: ClickHouse, span: Span, filters: Filters) -> list[tuple[int, int]]:
    """(UTC day start, distinct active users) for each day of the span with any, oldest first."""
    rows = _user_rows(
        ch, span, filters, f"{bucket_sql('ts', DAY)} AS day, uniqExact(user_id)", " GROUP BY day ORDER BY day"
    )
    return [(int(day), int(n)) for day, n in rows]


def active_users(ch: ClickHouse, span: Span, filters: Filters) -> int:
    """Distinct active users over the whole span."""
    return int(_user_rows(ch, span, filters, "uniqExact(user_id)", "")[0][0])
