"""WHERE clauses for the ClickHouse queries: `db.queries.common`'s span, site, bot and dimension rules, with the
sessions they consult read `FINAL` (their newest version)."""

from __future__ import annotations

from db.queries.common import DIMENSIONS, Filters, Span, bots_sql, site_sql
from db.rollups import DAY


def _span_where(column: str, span: Span, filters: Filters) -> tuple[str, list[object]]:
    site, site_params = site_sql(filters.site)
    return f"{column} >= ? AND {column} < ?{site}{bots_sql(filters.bots)}", [span.start, span.end, *site_params]


def event_where(span: Span, filters: Filters) -> tuple[str, list[object]]:
    """Events in the span matching the filters (session attributes: events of sessions that have them)."""
    sql, params = _span_where("ts", span, filters)
    for name, value in filters.dims:
        dim = DIMENSIONS[name]
        if dim.events is not None:
            sql += f" AND {dim.events} = ?"  # column names come from DIMENSIONS, values are bound
        else:
            sql += f" AND session_id IN (SELECT id FROM sessions FINAL WHERE {dim.sessions} = ?)"
        params.append(value)
    return sql, params


def session_where(span: Span, filters: Filters) -> tuple[str, list[object]]:
    """Sessions (read FINAL by the caller) started in the span matching the filters (event attributes: sessions
    with such an event from the span's start to a day after its end, as on SQLite)."""
    sql, params = _span_where("started", span, filters)
    for name, value in filters.dims:
        dim = DIMENSIONS[name]
        if dim.sessions is not None:
            sql += f" AND {dim.sessions} = ?"
            params.append(value)
        else:
            sql += f" AND id IN (SELECT session_id FROM events WHERE {dim.events} = ? AND ts >= ? AND ts < ?)"
            params.extend((value, span.start, span.end + DAY))
    return sql, params
