"""What every ClickHouse statistics query shares: WHERE clauses over `events` and `sessions FINAL`, the site list.

Spans, filters and dimensions come from db.queries.common; the clauses follow its rules, with what differs on
ClickHouse: sessions read with FINAL, integer columns compared with numbers, no rollup tables."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence

from db.clickhouse.client import ClickHouse
from db.queries.common import DIMENSIONS, Filters, Span, bots_sql, site_sql
from db.rules import DAY, HOUR


def bucket_sql(column: str, grain: int) -> str:
    """`db.rules.bucket_sql` for ClickHouse: whole seconds first, then integer division, so buckets match."""
    return f"(intDiv(toInt64({column}), {int(grain)}) * {int(grain)})"


INTEGER_COLUMNS = frozenset({"status"})
"""Filterable event columns holding integers (every other dimension is text)."""
_NUMERIC = re.compile(r"[ \t\n\f\r\v]*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?[ \t\n\f\r\v]*")
"""Text SQLite turns into a number when comparing it with an INTEGER column (spaces around it, a sign,
decimals, an exponent; no hex, no digit separators)."""
_INT64 = 1 << 63


def equals(column: str, value: str, a: str = "") -> tuple[str, list[object]]:
    """`column = ?` with a filter value bound as SQLite compares it: an integer column (`status`) with the number
    the text stands for, and with nothing when it stands for no integer (ClickHouse would reject the text rather
    than match no row)."""
    if column not in INTEGER_COLUMNS:
        return f"{a}{column} = ?", [value]
    number = float(value) if _NUMERIC.fullmatch(value) else math.nan
    if not number.is_integer() or not -_INT64 <= number < _INT64:
        return "0", []
    return f"{a}{column} = ?", [int(number)]


def seconds(span: Span) -> tuple[float, float]:
    """A span's ends bound as Float64, the type of the time columns: an end bound as an integer (hour-aligned
    pieces of a span are) is a comparison the engine cannot use to bound its primary key range."""
    return float(span.start), float(span.end)


def _span_where(column: str, span: Span, filters: Filters, a: str) -> tuple[str, list[object]]:
    """`column` within the span plus the site and bot filters."""
    site, site_params = site_sql(filters.site, a)
    sql = f"{a}{column} >= ? AND {a}{column} < ?{site}{bots_sql(filters.bots, a)}"
    return sql, [*seconds(span), *site_params]


def event_where(span: Span, filters: Filters, alias: str = "") -> tuple[str, list[object]]:
    """WHERE clause (without the keyword) for events in the span matching the filters (`alias` like "e").

    As on SQLite, except that a session attribute filter reads the newest session versions (`FINAL`): an older
    version may still carry an exit page or a bot flag the session no longer has."""
    a = f"{alias}." if alias else ""
    sql, params = _span_where("ts", span, filters, a)
    for name, value in filters.dims:
        dim = DIMENSIONS[name]
        if dim.events is not None:  # column names come from DIMENSIONS, values are bound
            clause, values = equals(dim.events, value, a)
            sql += f" AND {clause}"
            params += values
        else:
            sql += f" AND {a}session_id IN (SELECT id FROM sessions FINAL WHERE {dim.sessions} = ?)"
            params.append(value)
    return sql, params


def session_where(span: Span, filters: Filters, alias: str = "") -> tuple[str, list[object]]:
    """WHERE clause for `sessions FINAL` started in the span matching the filters (event attributes: sessions
    with such an event from the span's start to a day after its end, as on SQLite)."""
    a = f"{alias}." if alias else ""
    sql, params = _span_where("started", span, filters, a)
    for name, value in filters.dims:
        dim = DIMENSIONS[name]
        if dim.sessions is not None:
            sql += f" AND {a}{dim.sessions} = ?"
            params.append(value)
        else:
            assert dim.events is not None
            clause, values = equals(dim.events, value)
            sql += f" AND {a}id IN (SELECT session_id FROM events WHERE {clause} AND ts >= ? AND ts < ?)"
            params += [*values, span.start, span.end + DAY]
    return sql, params


def spans_where(
    where: Callable[[Span, Filters, str], tuple[str, list[object]]],
    spans: Sequence[Span],
    filters: Filters,
    alias: str = "",
) -> tuple[str, list[object]]:
    """`where` (event_where or session_where) for rows in any of `spans`: the raw edges of a span in one pass."""
    parts = [where(span, filters, alias) for span in spans]
    sql = " OR ".join(f"({sql})" for sql, _ in parts) or "0"
    return f"({sql})", [p for _, params in parts for p in params]


def sites(ch: ClickHouse) -> list[str]:
    """Every site with stored traffic (events or sessions), for the site selector."""
    return [
        str(r[0])
        for r in ch.rows(
            "SELECT DISTINCT site FROM (SELECT DISTINCT site FROM events "
            "UNION ALL SELECT DISTINCT site FROM sessions FINAL) ORDER BY site"
        )
    ]


def first_event_ts(ch: ClickHouse, site: str | None = None) -> float | None:
    """When the first stored traffic happened: the first event, or the hour of the first session if earlier.

    SQLite answers from its traffic rollup (event and session start hours) and the raw events; the same rule
    over raw rows gives the same answer."""
    where, params = ("", ()) if site is None else (" WHERE site = ?", (site,))
    raw = ch.value(f"SELECT minOrNull(ts) FROM events{where}", params)
    started = ch.value(f"SELECT minOrNull(started) FROM sessions FINAL{where}", params)
    hours = [int(t) // HOUR * HOUR for t in (raw, started) if t is not None]
    rolled = min(hours) if hours else None
    if raw is not None and (rolled is None or raw < rolled + HOUR):
        return float(raw)
    return None if rolled is None else float(rolled)
