"""SQLite: the Events view: custom events by name and the values of their properties."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from db.queries.common import Filters, Span, bot_list_sql, event_where, site_sql, split_days
from db.queries.events import EventCount, PropValue, _props_where, _sql_order
from db.queries.overview import use_rollups
from db.sqlite.queries.overview import event_top


def custom_events(
    conn: sqlite3.Connection, span: Span, filters: Filters, limit: int = 20, *, rollups: bool | None = None
) -> list[EventCount]:
    """Custom events by count (visitors counted as in overview.top)."""
    values = event_top(conn, span, filters, "name", rollups=rollups)
    order = sorted(values.items(), key=lambda kv: (-kv[1][1], -kv[1][0], kv[0]))
    return [EventCount(name, v[1], v[0]) for name, v in order if v[1]][:limit]


def _props_counts(
    conn: sqlite3.Connection,
    span: Span,
    filters: Filters,
    event: str,
    select: str,
    condition: str,
    condition_args: list[object],
    rollups: bool | None,
) -> dict[object, int]:
    """`select` (an expression over json_each row j) -> how many times, over raw events or the daily
    props rollup (whole days) plus raw events (the uneven ends): both run the same json_each()."""
    rollups = use_rollups(span, filters) if rollups is None else rollups
    counts: dict[object, int] = {}

    def add(rows: Iterable[tuple[object, ...]]) -> None:
        for value, n in rows:
            counts[value] = counts.get(value, 0) + int(n)  # type: ignore[call-overload]

    def raw(part: Span) -> None:
        base, params = event_where(part, filters, "e")
        add(
            conn.execute(
                f"SELECT {select} AS v, count(*) FROM events e, json_each(e.props) j WHERE {base} "
                "AND e.type = 'event' AND e.name = ? AND e.props != '' AND json_valid(e.props)"
                f"{condition} GROUP BY v",
                [*params, event, *condition_args],
            )
        )

    if not rollups:
        raw(span)
        return counts
    pieces = split_days(span)
    for part in pieces.raw:
        raw(part)
    site, site_args = site_sql(filters.site, "e.")
    bots = bot_list_sql(filters.bots)
    for part in pieces.daily:
        add(
            conn.execute(
                f"SELECT {select} AS v, sum(e.count) FROM rollup_props e, json_each(e.props) j "
                f"WHERE e.name = ?{site} AND e.day >= ? AND e.day < ? AND e.is_bot IN ({bots}) "
                f"AND json_valid(e.props){condition} GROUP BY v",
                [event, *site_args, part.start, part.end, *condition_args],
            )
        )
    return counts


def property_breakdown(
    conn: sqlite3.Connection,
    span: Span,
    filters: Filters,
    event: str,
    prop: str,
    where: dict[str, str] | None = None,
    limit: int = 20,
    *,
    rollups: bool | None = None,
) -> list[PropValue]:
    """Values of property `prop` on event `event`, most frequent first, optionally only where other properties
    have given values (e.g. questions where answered = "false")."""
    condition, args = _props_where(where, "e")
    counts = _props_counts(
        conn, span, filters, event, "CAST(j.value AS TEXT)", " AND j.key = ?" + condition, [prop, *args], rollups
    )
    order = sorted(counts.items(), key=lambda kv: (-kv[1], _sql_order(kv[0])))
    return [PropValue("" if v is None else str(v), n) for v, n in order[:limit]]


def event_property_keys(
    conn: sqlite3.Connection,
    span: Span,
    filters: Filters,
    event: str,
    limit: int = 5,
    *,
    rollups: bool | None = None,
) -> list[str]:
    """The most used property keys of custom event `event` in the span (rollups as in property_breakdown)."""
    counts = _props_counts(conn, span, filters, event, "j.key", "", [], rollups)
    order = sorted(counts.items(), key=lambda kv: (-kv[1], _sql_order(kv[0])))
    return [str(k) for k, _n in order[:limit]]
