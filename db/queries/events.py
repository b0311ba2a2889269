"""The Events view: custom events by name and the values of their properties.

Property questions over spans longer than two days read the daily `rollup_props` table for whole days (one row
per distinct props object) and raw events for the uneven ends; the same json_each() runs over both, so the
numbers are the same as from raw events alone."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from db.queries.common import Filters, Span, bot_list_sql, event_where, site_sql, split_days
from db.queries.overview import event_top, use_rollups


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


def _sql_order(value: object) -> tuple[int, object]:
    """Sort key putting values in SQLite's order: NULL, numbers, text (UTF-8 byte order = code point order)."""
    if value is None:
        return (0, 0)
    if isinstance(value, (int, float)):
        return (1, value)
    if isinstance(value, bytes):
        return (3, value)
    return (2, str(value))


def _props_where(where: dict[str, str] | None, alias: str) -> tuple[str, list[object]]:
    """Conditions keeping only props objects where other properties have the given values."""
    sql = ""
    args: list[object] = []
    for key, value in (where or {}).items():
        sql += f" AND EXISTS (SELECT 1 FROM json_each({alias}.props) w WHERE w.key = ? AND CAST(w.value AS TEXT) = ?)"
        args.extend((key, value))
    return sql, args


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
