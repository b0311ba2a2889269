"""Which property keys a custom event carries, so the Events view can break each one down."""

from __future__ import annotations

import sqlite3

from db.queries.common import Filters, Span, event_where


def property_keys(conn: sqlite3.Connection, span: Span, filters: Filters, event: str, limit: int = 5) -> list[str]:
    """The most used property keys of custom event `event` in the span."""
    base, params = event_where(span, filters, "e")
    rows = conn.execute(
        "SELECT j.key, count(*) AS n FROM events e, json_each(e.props) j "
        f"WHERE {base} AND e.type = 'event' AND e.name = ? AND e.props != '' AND json_valid(e.props) "
        "GROUP BY j.key ORDER BY n DESC, j.key LIMIT ?",
        (*params, event, limit),
    ).fetchall()
    return [str(r[0]) for r in rows]
