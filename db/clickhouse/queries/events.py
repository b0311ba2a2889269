"""The Events view on ClickHouse: custom events by name and the values of their properties.

SQLite reads whole days of long spans from its daily props rollup, which holds the same props objects as the raw
events; here the rollups (db/clickhouse/rollups.py: custom events per props object, hourly and daily) answer
the whole hours and days of spans without dimension filters and raw events the edges. Props are JSON objects
(the collector writes string values); a value reads as SQLite's `CAST(json_each.value AS TEXT)` would: strings
unquoted, true/false as 1/0, null as NULL, numbers and nested values as their JSON text (SQLite rewrites a number
like 1.50 as 1.5; ClickHouse keeps it)."""

from __future__ import annotations

from typing import cast

from db.clickhouse.client import ClickHouse
from db.clickhouse.queries.common import event_where, spans_where
from db.clickhouse.queries.overview import event_top
from db.clickhouse.queries.rolled import rolled_where
from db.queries.common import Filters, Pieces, Span, split_span
from db.queries.events import EventCount, PropValue, _sql_order


def _text_sql(raw: str) -> str:
    """A raw JSON value (from JSONExtractKeysAndValuesRaw) as SQLite's CAST(json value AS TEXT) gives it."""
    return (
        f"multiIf(startsWith({raw}, '\"'), JSONExtractString(concat('[', {raw}, ']'), 1), {raw} = 'true', '1', "
        f"{raw} = 'false', '0', {raw} = 'null', NULL, {raw})"
    )


def custom_events(
    ch: ClickHouse, span: Span, filters: Filters, limit: int = 20, *, rollups: bool | None = None
) -> list[EventCount]:
    """Custom events by count (visitors counted as in overview.top)."""
    values = event_top(ch, span, filters, "name", rollups=rollups)
    order = sorted(values.items(), key=lambda kv: (-kv[1][1], -kv[1][0], kv[0]))
    return [EventCount(name, v[1], v[0]) for name, v in order if v[1]][:limit]


def _props_where(where: dict[str, str] | None) -> tuple[str, list[object]]:
    """Conditions keeping only props objects where other properties have the given values."""
    sql = ""
    args: list[object] = []
    for key, value in (where or {}).items():
        sql += (
            f" AND arrayExists(w -> (w.1 = ? AND {_text_sql('w.2')} = ?), JSONExtractKeysAndValuesRaw(e.props))"
        )
        args.extend((key, value))
    return sql, args


def _props_counts(
    ch: ClickHouse,
    span: Span,
    filters: Filters,
    event: str,
    select: str,
    condition: str,
    condition_args: list[object],
) -> dict[object, int]:
    """`select` (an expression over the key/value pair j) -> how many times, over the span's raw events, or the
    rollups' props objects for its whole hours and days."""
    pieces = split_span(span) if not filters.dims else Pieces((span,), (), ())
    counts: dict[object, int] = {}
    if pieces.raw:
        base, params = spans_where(event_where, pieces.raw, filters, "e")
        _add(
            ch.rows(
                f"SELECT {select} AS v, count() FROM events AS e ARRAY JOIN JSONExtractKeysAndValuesRaw(e.props) AS j "
                f"WHERE {base} AND e.type = 'event' AND e.name = ? AND e.props != '' AND isValidJSON(e.props)"
                f"{condition} GROUP BY v",
                [*params, event, *condition_args],
            ),
            counts,
        )
    if pieces.rolled is not None:
        where, params = rolled_where(pieces, filters)
        _add(
            ch.rows(
                f"SELECT {select} AS v, sum(e.hits) FROM rollup_events AS e "
                f"ARRAY JOIN JSONExtractKeysAndValuesRaw(e.props) AS j WHERE {where} AND e.kind = 'props' "
                f"AND e.key = ? AND isValidJSON(e.props){condition} GROUP BY v HAVING sum(e.hits) != 0",
                [*params, event, *condition_args],
            ),
            counts,
        )
    return counts


def _add(rows: list[tuple[object, ...]], into: dict[object, int]) -> None:
    for value, n in rows:
        into[value] = into.get(value, 0) + int(n)  # type: ignore[call-overload]


def _ranked(counts: dict[object, int], limit: int) -> list[tuple[object, int]]:
    """The most frequent first, ties in SQLite's order of the values."""
    return sorted(counts.items(), key=lambda kv: (-kv[1], _sql_order(kv[0])))[:limit]


def property_breakdown(
    ch: ClickHouse,
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
    have given values (`rollups` changes nothing: SQLite's props rollup holds the same objects)."""
    condition, args = _props_where(where)
    counts = _props_counts(ch, span, filters, event, _text_sql("j.2"), " AND j.1 = ?" + condition, [prop, *args])
    return [PropValue("" if v is None else str(v), n) for v, n in _ranked(counts, limit)]


def event_property_keys(
    ch: ClickHouse,
    span: Span,
    filters: Filters,
    event: str,
    limit: int = 5,
    *,
    rollups: bool | None = None,
) -> list[str]:
    """The most used property keys of custom event `event` in the span."""
    counts = _props_counts(ch, span, filters, event, "j.1", "", [])
    return [str(k) for k, _n in _ranked(counts, limit)]


def property_breakdowns(
    ch: ClickHouse, span: Span, filters: Filters, event: str, keys: int = 5, limit: int = 20
) -> list[tuple[str, list[PropValue]]]:
    """`event_property_keys` and each key's `property_breakdown` from one count of (key, value) pairs: a key is
    used as often as its values are counted."""
    pairs = _props_counts(ch, span, filters, event, f"tuple(j.1, {_text_sql('j.2')})", "", [])
    by_key: dict[object, dict[object, int]] = {}
    for pair, n in pairs.items():
        key, value = cast(tuple[object, object], pair)  # as selected
        by_key.setdefault(key, {})[value] = n
    used = _ranked({key: sum(values.values()) for key, values in by_key.items()}, keys)
    return [
        (str(key), [PropValue("" if v is None else str(v), n) for v, n in _ranked(by_key[key], limit)])
        for key, _n in used
    ]
