"""SQLite: the Requests view's panels over imported access-log hits (status codes, 404s, bandwidth per path)."""

from __future__ import annotations

import sqlite3

from db.queries.common import Filters, Span, event_where
from db.queries.requests import REQUEST_SQL, PathHits, StatusRow


def status_codes(conn: sqlite3.Connection, span: Span, filters: Filters) -> list[StatusRow]:
    """Hits per exact status code, most frequent first."""
    where, params = event_where(span, filters)
    rows = conn.execute(
        f"SELECT status, count(*) FROM events WHERE {where} AND {REQUEST_SQL} GROUP BY status", params
    ).fetchall()
    out = [StatusRow(int(status), int(n)) for status, n in rows]
    out.sort(key=lambda r: (-r.hits, r.status))
    return out


def not_found(conn: sqlite3.Connection, span: Span, filters: Filters, limit: int = 20) -> list[PathHits]:
    """Paths answered 404 most often."""
    where, params = event_where(span, filters)
    rows = conn.execute(
        f"SELECT path, count(*) AS n, sum(bytes) FROM events WHERE {where} AND {REQUEST_SQL} AND status = 404 "
        "GROUP BY path ORDER BY n DESC, path LIMIT ?",
        (*params, limit),
    )
    return [PathHits(str(path), int(n), int(b or 0)) for path, n, b in rows]


def bandwidth(conn: sqlite3.Connection, span: Span, filters: Filters, limit: int = 20) -> list[PathHits]:
    """Paths by bytes sent (sum of the logged response sizes), largest first."""
    where, params = event_where(span, filters)
    rows = conn.execute(
        f"SELECT path, count(*), sum(bytes) AS b FROM events WHERE {where} AND {REQUEST_SQL} "
        "GROUP BY path ORDER BY b DESC, path LIMIT ?",
        (*params, limit),
    )
    return [PathHits(str(path), int(n), int(b or 0)) for path, n, b in rows]
