"""SQLite: the Requests view's panels over imported access-log hits (status codes, 404s, bandwidth per path).

Whole days come from `rollup_requests` (daily per site, bot flag, status and path), the uneven ends of a span
(under a day each) from raw rows through the partial index `events_requests`. Filters on other dimensions than
the status and the path read raw rows only."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from db.queries.common import Filters, Pieces, Span, bot_list_sql, event_where, split_days
from db.queries.requests import REQUEST_SQL, ROLLED_DIMS, PathHits, StatusRow, top_paths
from db.sqlite.queries.common import sites


def _pieces(span: Span, filters: Filters, rollups: bool | None) -> Pieces:
    """Raw edges and rolled-up days, or the whole span raw when a filter is not a rollup column (`rollups`
    forces one way, for tests)."""
    if rollups is None:
        rollups = all(name in ROLLED_DIMS for name, _value in filters.dims)
    if rollups:
        return split_days(span)
    return Pieces((span,), (), ())


def _rolled(
    conn: sqlite3.Connection, cols: str, group: str, pieces: Pieces, filters: Filters, extra: str = ""
) -> Iterable[tuple[object, ...]]:
    """`group, cols` from `rollup_requests` over the rolled-up days, grouped by `group`."""
    if not pieces.daily:
        return
    known = [filters.site] if filters.site is not None else sites(conn)
    sql = (
        f"SELECT {group}, {cols} FROM rollup_requests WHERE site IN ({', '.join('?' * len(known))}) "
        f"AND day >= ? AND day < ? AND is_bot IN ({bot_list_sql(filters.bots)}){extra}"
    )
    params: list[object] = []
    for name, value in filters.dims:  # only ROLLED_DIMS get here; both are columns of the rollup
        sql += f" AND {name} = ?"
        params.append(value)
    for part in pieces.daily:
        yield from conn.execute(f"{sql} GROUP BY {group}", (*known, part.start, part.end, *params))


def _raw(
    conn: sqlite3.Connection, cols: str, group: str, pieces: Pieces, filters: Filters, extra: str = ""
) -> Iterable[tuple[object, ...]]:
    """`group, cols` from raw request hits over the span's raw parts."""
    for part in pieces.raw:
        where, params = event_where(part, filters)
        yield from conn.execute(
            f"SELECT {group}, {cols} FROM events WHERE {where} AND {REQUEST_SQL}{extra} GROUP BY {group}", params
        )


def status_codes(
    conn: sqlite3.Connection, span: Span, filters: Filters, *, rollups: bool | None = None
) -> list[StatusRow]:
    """Hits per exact status code, most frequent first."""
    pieces = _pieces(span, filters, rollups)
    counts: dict[int, int] = {}
    for rows in (
        _raw(conn, "count(*)", "status", pieces, filters),
        _rolled(conn, "sum(hits)", "status", pieces, filters),
    ):
        for status, n in rows:
            counts[int(status)] = counts.get(int(status), 0) + int(n)  # type: ignore[call-overload]
    out = [StatusRow(status, n) for status, n in counts.items() if n]
    out.sort(key=lambda r: (-r.hits, r.status))
    return out


def _paths(
    conn: sqlite3.Connection, span: Span, filters: Filters, rollups: bool | None, extra: str = ""
) -> dict[str, list[int]]:
    """path -> [hits, bytes] of the request hits in the span (`extra`: more SQL conditions)."""
    pieces = _pieces(span, filters, rollups)
    out: dict[str, list[int]] = {}
    for rows in (
        _raw(conn, "count(*), coalesce(sum(bytes), 0)", "path", pieces, filters, extra),
        _rolled(conn, "sum(hits), sum(bytes)", "path", pieces, filters, extra),
    ):
        for path, n, b in rows:
            cur = out.setdefault(str(path), [0, 0])
            cur[0] += int(n)  # type: ignore[call-overload]
            cur[1] += int(b)  # type: ignore[call-overload]
    return out


def not_found(
    conn: sqlite3.Connection, span: Span, filters: Filters, limit: int = 20, *, rollups: bool | None = None
) -> list[PathHits]:
    """Paths answered 404 most often."""
    return top_paths(_paths(conn, span, filters, rollups, " AND status = 404"), limit, by_bytes=False)


def bandwidth(
    conn: sqlite3.Connection, span: Span, filters: Filters, limit: int = 20, *, rollups: bool | None = None
) -> list[PathHits]:
    """Paths by bytes sent (sum of the logged response sizes), largest first."""
    return top_paths(_paths(conn, span, filters, rollups), limit, by_bytes=True)
