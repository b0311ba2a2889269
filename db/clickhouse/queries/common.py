"""What every ClickHouse statistics query shares: WHERE clauses over `events` and `sessions FINAL`, the site list.

Spans, filters and the SQLite clauses that run unchanged on ClickHouse come from db.queries.common; only what
differs (sessions read with FINAL, no rollup tables) is written here."""

from __future__ import annotations

from db.clickhouse.client import ClickHouse
from db.queries import common as sqlite_common
from db.queries.common import DIMENSIONS, Filters, Span
from db.rollups import HOUR


def bucket_sql(column: str, grain: int) -> str:
    """`db.rollups.bucket_sql` for ClickHouse: whole seconds first, then integer division, so buckets match."""
    return f"(intDiv(toInt64({column}), {int(grain)}) * {int(grain)})"


def event_where(span: Span, filters: Filters, alias: str = "") -> tuple[str, list[object]]:
    """WHERE clause (without the keyword) for events in the span matching the filters.

    As on SQLite, except that a session attribute filter reads the newest session versions (`FINAL`): an older
    version may still carry an exit page or a bot flag the session no longer has."""
    a = f"{alias}." if alias else ""
    sql, params = sqlite_common.event_where(span, Filters(filters.site, (), filters.bots), alias)
    for name, value in filters.dims:
        dim = DIMENSIONS[name]
        if dim.events is not None:
            sql += f" AND {a}{dim.events} = ?"
        else:
            sql += f" AND {a}session_id IN (SELECT id FROM sessions FINAL WHERE {dim.sessions} = ?)"
        params.append(value)
    return sql, params


def session_where(span: Span, filters: Filters, alias: str = "") -> tuple[str, list[object]]:
    """WHERE clause for `sessions FINAL` started in the span matching the filters (SQLite's, which runs as is)."""
    return sqlite_common.session_where(span, filters, alias)


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
