"""The Requests view on ClickHouse: status codes, the most requested missing paths and bandwidth per path, over
imported access-log hits (type `request`), counted from raw rows exactly as `db.queries.requests` does."""

from __future__ import annotations

from db.clickhouse.client import ClickHouse
from db.clickhouse.queries.common import event_where
from db.queries.common import Filters, Span
from db.queries.requests import REQUEST_SQL, PathHits, StatusRow, status_classes

__all__ = ["PathHits", "StatusRow", "bandwidth", "not_found", "status_classes", "status_codes"]


def status_codes(ch: ClickHouse, span: Span, filters: Filters) -> list[StatusRow]:
    """Hits per exact status code, most frequent first (ties: the lower code first)."""
    where, params = event_where(span, filters)
    rows = ch.rows(
        f"SELECT status, count() AS n FROM events WHERE {where} AND {REQUEST_SQL} GROUP BY status "
        "ORDER BY n DESC, status",
        params,
    )
    return [StatusRow(int(status), int(n)) for status, n in rows]


def not_found(ch: ClickHouse, span: Span, filters: Filters, limit: int = 20) -> list[PathHits]:
    """Paths answered 404 most often."""
    where, params = event_where(span, filters)
    rows = ch.rows(
        f"SELECT path, count() AS n, sum(bytes) FROM events WHERE {where} AND {REQUEST_SQL} AND status = 404 "
        "GROUP BY path ORDER BY n DESC, path LIMIT ?",
        (*params, limit),
    )
    return [PathHits(str(path), int(n), int(b)) for path, n, b in rows]


def bandwidth(ch: ClickHouse, span: Span, filters: Filters, limit: int = 20) -> list[PathHits]:
    """Paths by bytes sent (sum of the logged response sizes), largest first."""
    where, params = event_where(span, filters)
    rows = ch.rows(
        f"SELECT path, count(), sum(bytes) AS b FROM events WHERE {where} AND {REQUEST_SQL} "
        "GROUP BY path ORDER BY b DESC, path LIMIT ?",
        (*params, limit),
    )
    return [PathHits(str(path), int(n), int(b)) for path, n, b in rows]
