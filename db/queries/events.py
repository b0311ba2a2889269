"""The Events view: custom events by name and the values of their properties.

The records and rules every engine shares; the SQL is in db/sqlite/queries and db/clickhouse/queries.

Property questions over spans longer than two days read the daily `rollup_props` table for whole days (one row
per distinct props object) and raw events for the uneven ends; the same json_each() runs over both, so the
numbers are the same as from raw events alone."""

from __future__ import annotations

from dataclasses import dataclass


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
