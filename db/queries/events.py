"""The Events view: custom events by name and the values of their properties."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from db.queries.common import Filters, Span, event_where
from db.queries.overview import event_top


@dataclass(slots=True, frozen=True)
class EventCount:
    """A custom event name with how often it happened and for how many visitors."""

    name: str
    count: int
    visitors: int


@dataclass(slots=True, frozen=True)
class PropValue:
    """One value of a custom event property and how often it was sent."""

    value: str
    count: int


def custom_events(
    conn: sqlite3.Connection, span: Span, filters: Filters, limit: int = 20, *, rollups: bool | None = None
) -> list[EventCount]:
    """Custom events by count (visitors counted as in overview.top)."""
    values = event_top(conn, span, filters, "name", rollups=rollups)
    order = sorted(values.items(), key=lambda kv: (-kv[1][1], -kv[1][0], kv[0]))
    return [EventCount(name, v[1], v[0]) for name, v in order if v[1]][:limit]


def property_breakdown(
    conn: sqlite3.Connection,
    span: Span,
    filters: Filters,
    event: str,
    prop: str,
    where: dict[str, str] | None = None,
    limit: int = 20,
) -> list[PropValue]:
    """Values of property `prop` on event `event`, most frequent first, optionally only where other properties
    have given values (e.g. questions where answered = "false")."""
    base, params = event_where(span, filters, "e")
    sql = (
        "SELECT CAST(j.value AS TEXT) AS v, count(*) AS n FROM events e, json_each(e.props) j "
        f"WHERE {base} AND e.type = 'event' AND e.name = ? AND e.props != '' AND json_valid(e.props) "
        "AND j.key = ?"
    )
    args: list[object] = [*params, event, prop]
    for key, value in (where or {}).items():
        sql += (
            " AND EXISTS (SELECT 1 FROM json_each(e.props) w WHERE w.key = ? AND CAST(w.value AS TEXT) = ?)"
        )
        args.extend((key, value))
    sql += " GROUP BY v ORDER BY n DESC, v LIMIT ?"
    args.append(limit)
    return [PropValue("" if r[0] is None else str(r[0]), int(r[1])) for r in conn.execute(sql, args)]
