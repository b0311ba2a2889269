"""The Overview view's questions on ClickHouse: KPIs, traffic over time, top lists, peak hours, engagement.

The counting rules are SQLite's (db/queries/overview.py). Without dimension filters, the chart reads the hourly
sums of `rollup_events` (db/clickhouse/rollups.py) for whole hours and raw rows for the edges, and so do the KPIs,
top pages and events and engagement beyond two days (hourly and daily sums; engagement medians beyond a day from
the hourly and daily histograms of `rollup_engaged`, db/clickhouse/engaged.py), as SQLite does with its rollups.
The rules:
- visitors are distinct visitor ids for spans up to two days, and the sum of sessions' `new_visitor` (a
  visitor's first session of the day) beyond, or whenever `rollups=True` asks for the rolled-up rule;
- top pages and custom events count, beyond two days, visits: events that are the first of their path (or
  name) in their session, wherever that first event falls. "First" is the earliest (ts, id): event ids are
  time-ordered here, insertion-ordered on SQLite, the same order for events written as they arrive;
- a session counts in the span it started in; bounces and durations as `db.rules` defines them.
Dimension filters always apply here (on raw rows); SQLite, forced onto its rollups (`rollups=True`) with a
dimension filter, ignores the filter on the rolled-up part of the span (no caller does that). As on SQLite,
history the retention TTL dropped (or `forget` erased) still counts in the rolled-up parts of long spans.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from db.clickhouse import engaged
from db.clickhouse.client import ClickHouse
from db.clickhouse.queries.common import (
    bucket_sql,
    event_where,
    first_event_ts,
    seconds,
    session_where,
    spans_where,
)
from db.clickhouse.queries.rolled import rolled_where, use_rolled
from db.queries.common import (
    DIMENSIONS,
    LIVE_WINDOW_S,
    Filters,
    Pieces,
    Span,
    bot_list_sql,
    check_dimension,
    exact_visitors,
    site_sql,
    split_span,
)
from db.queries.overview import (
    ENGAGEMENT_EXACT_MAX_S,
    PAGE_TYPES_SQL,
    SCROLL_MILESTONES,
    TOP_ALIASES,
    WEB_TYPES_SQL,
    Kpis,
    PageEngagement,
    Point,
    Row,
    _Totals,
    bucket_seconds,
    median_seconds,
    ranked,
    sum_hours,
)
from db.rules import HOUR, VIEW_REPORTS_S

__all__ = [
    "TOP_ALIASES",
    "bucket_seconds",
    "engaged_views",
    "engagement",
    "event_top",
    "heatmap",
    "hourly",
    "kpis",
    "kpis_with_change",
    "live_visitors",
    "session_top",
    "timeseries",
    "top",
    "totals",
]

DURATION_MS_SQL = "greatest(0, toInt64((last_seen - started) * 1000 + 0.5))"
"""`db.rules.duration_of` in ClickHouse SQL (toInt64 truncates like SQLite's CAST)."""
BOUNCE_SQL = "(pageviews + requests <= 1 AND events = 0)"
"""`db.rules.is_bounce` in ClickHouse SQL."""


def _exact(span: Span, rollups: bool | None) -> bool:
    """Whether visitors are distinct ids (short spans) or the rolled-up rule (long spans, or rollups forced)."""
    return exact_visitors(span) and rollups is not True


# ------------------------------------------------------------------------------------------------------ KPIs


def totals(ch: ClickHouse, span: Span, filters: Filters, *, rollups: bool | None = None) -> _Totals:
    """Summed counts of a span (`rollups=True` counts visitors as the rollups do, whatever the span), in one round
    trip: from raw rows, or for long spans from the hourly rollups and the raw edges, as SQLite sums them."""
    if not use_rolled(span, filters, rollups):
        exact = _exact(span, rollups)
        sql, params = _raw_totals([span], filters, exact=exact)
        return _as_totals(ch.one(sql, params), exact=exact)
    pieces = split_span(span)
    parts = ([_raw_totals(pieces.raw, filters, exact=False)] if pieces.raw else []) + (
        [_rolled_totals(pieces, filters)] if pieces.rolled is not None else []
    )
    row = ch.one(
        "SELECT * FROM " + " CROSS JOIN ".join(f"({sql}) AS p{i}" for i, (sql, _p) in enumerate(parts)),
        [p for _sql, params in parts for p in params],
    )
    assert row is not None
    out = _Totals()
    if pieces.raw:
        out.add(_as_totals(row[:8], exact=False))
    if pieces.rolled is not None:
        out.add(_Totals(*(int(v) for v in row[-7:])))
    return out


def _raw_totals(spans: Sequence[Span], filters: Filters, *, exact: bool) -> tuple[str, list[object]]:
    """Raw rows of the spans: the events (humans and bots at once, bot pageviews being a number of their own)
    and the sessions, as `_as_totals` takes them; distinct visitor ids only if `exact`."""
    where, params = spans_where(event_where, spans, Filters(filters.site, filters.dims, "all"))
    selected = f"is_bot IN ({bot_list_sql(filters.bots)})"
    swhere, sparams = spans_where(session_where, spans, filters)
    distinct = f"uniqExactIf(visitor_id, {selected} AND visitor_id != '' AND type IN {WEB_TYPES_SQL})" if exact else "0"
    sql = (
        f"SELECT * FROM (SELECT countIf({selected} AND type IN {PAGE_TYPES_SQL}) AS pv, "
        f"countIf({selected} AND type = 'event') AS ev, countIf(is_bot = 1 AND type IN {PAGE_TYPES_SQL}) AS bots, "
        f"{distinct} AS distinct_visitors FROM events WHERE {where}) AS e "
        f"CROSS JOIN (SELECT count() AS sessions, sum(new_visitor) AS new_visitors, countIf({BOUNCE_SQL}) AS bounces, "
        f"sum({DURATION_MS_SQL}) AS duration FROM sessions FINAL WHERE {swhere}) AS s"
    )
    return sql, [*params, *sparams]


def _as_totals(row: Sequence[Any] | None, *, exact: bool) -> _Totals:
    """A `_raw_totals` row as totals: visitors are distinct ids if `exact`, else first visits of the day."""
    assert row is not None
    pv, ev, bots, distinct_visitors, sessions, new_visitors, bounces, duration = (int(v) for v in row)
    return _Totals(pv, ev, sessions, distinct_visitors if exact else new_visitors, bounces, duration, bots)


def _rolled_totals(pieces: Pieces, filters: Filters) -> tuple[str, list[object]]:
    """The rolled-up hours of a span from the hourly page, custom event and session sums, in _Totals' order."""
    where, params = rolled_where(pieces, Filters(filters.site, (), "all"), hourly_only=True)
    selected = f"is_bot IN ({bot_list_sql(filters.bots)})"
    sql = (
        f"SELECT sumIf(hits, {selected} AND kind = 'pages'), sumIf(hits, {selected} AND kind = 'events'), "
        f"sumIf(hits, {selected} AND kind = 'sessions'), sumIf(visits, {selected} AND kind = 'sessions'), "
        f"sumIf(bounces, {selected} AND kind = 'sessions'), sumIf(duration_ms, {selected} AND kind = 'sessions'), "
        f"sumIf(hits, is_bot = 1 AND kind = 'pages') FROM rollup_events "
        f"WHERE kind IN ('pages', 'events', 'sessions') AND {where}"
    )
    return sql, params


def live_visitors(ch: ClickHouse, end: float, filters: Filters) -> int:
    """Distinct visitors with any event in the five minutes before `end`."""
    where, params = event_where(Span(end - LIVE_WINDOW_S, end), filters)
    return int(
        ch.value(
            f"SELECT uniqExactIf(visitor_id, visitor_id != '' AND type IN {WEB_TYPES_SQL}) FROM events WHERE {where}",
            params,
        )
    )


def kpis(ch: ClickHouse, span: Span, filters: Filters, *, rollups: bool | None = None) -> Kpis:
    """Visitors, sessions, pageviews, bounce rate, mean duration, live visitors, bot hits, custom events."""
    t = totals(ch, span, filters, rollups=rollups)
    return Kpis(
        visitors=t.visitors,
        sessions=t.sessions,
        pageviews=t.pageviews,
        bounce_rate=round(100.0 * t.bounces / t.sessions, 2) if t.sessions else 0.0,
        avg_duration_s=round(t.duration_ms / t.sessions / 1000.0, 2) if t.sessions else 0.0,
        live_visitors=live_visitors(ch, span.end, filters),
        bots=t.bots,
        events=t.events,
    )


def kpis_with_change(ch: ClickHouse, span: Span, filters: Filters) -> tuple[Kpis, Kpis]:
    """The span's KPIs and those of the equally long period before it."""
    return kpis(ch, span, filters), kpis(ch, span.previous(), filters)


# ----------------------------------------------------------------------------------------------- time series


def hourly(ch: ClickHouse, span: Span, filters: Filters, *, rollups: bool | None = None) -> dict[int, list[int]]:
    """Per UTC hour: [pageviews, visitors (first of the day), bot pageviews]: from the hourly rollups and the raw
    edges, or raw rows only with a dimension filter (or `rollups=False`), as on SQLite."""
    if filters.dims or rollups is False:
        return {h: v for h, v in _raw_hourly(ch, [span], filters).items() if any(v)}
    pieces = split_span(span)
    parts = [_raw_hourly(ch, pieces.raw, filters)] if pieces.raw else []
    if pieces.rolled is not None:
        where, params = rolled_where(pieces, Filters(filters.site, (), "all"), hourly_only=True)
        selected = bot_list_sql(filters.bots)
        parts.append(
            {
                int(hour): [int(pv), int(visitors), int(bots)]
                for hour, pv, visitors, bots in ch.rows(
                    f"SELECT bucket, sumIf(hits, is_bot IN ({selected}) AND kind = 'pages'), "
                    f"sumIf(visits, is_bot IN ({selected}) AND kind = 'sessions'), "
                    "sumIf(hits, is_bot = 1 AND kind = 'pages') FROM rollup_events "
                    f"WHERE kind IN ('pages', 'sessions') AND {where} GROUP BY bucket",
                    params,
                )
            }
        )
    return sum_hours(parts)


def _raw_hourly(ch: ClickHouse, spans: Sequence[Span], filters: Filters) -> dict[int, list[int]]:
    """hour -> [pageviews, visitors (first of the day), bot pageviews] from the spans' raw rows."""
    out: dict[int, list[int]] = {}
    where, params = spans_where(event_where, spans, Filters(filters.site, filters.dims, "all"))
    selected = bot_list_sql(filters.bots)
    for hour, pv, bots in ch.rows(
        f"SELECT {bucket_sql('ts', HOUR)} AS h, countIf(is_bot IN ({selected})), countIf(is_bot = 1) "
        f"FROM events WHERE {where} AND type IN {PAGE_TYPES_SQL} GROUP BY h",
        params,
    ):
        cur = out.setdefault(int(hour), [0, 0, 0])
        cur[0] += int(pv)
        cur[2] += int(bots)
    swhere, sparams = spans_where(session_where, spans, filters)
    for hour, visitors in ch.rows(
        f"SELECT {bucket_sql('started', HOUR)} AS h, sum(new_visitor) FROM sessions FINAL WHERE {swhere} GROUP BY h",
        sparams,
    ):
        out.setdefault(int(hour), [0, 0, 0])[1] += int(visitors)
    return out


def _clamp_start(ch: ClickHouse, span: Span, filters: Filters) -> Span:
    """An "all" span (start 0) begins at the first stored traffic instead."""
    if span.start > 0:
        return span
    first = first_event_ts(ch, filters.site)
    return Span(first if first is not None else span.end - HOUR, span.end)


def timeseries(ch: ClickHouse, span: Span, filters: Filters) -> list[Point]:
    """Pageviews, visitors and bot pageviews per bucket (minute, hour or day, by span length), gaps filled."""
    span = _clamp_start(ch, span, filters)
    size = bucket_seconds(span)
    first = int(span.start // size) * size
    buckets: dict[int, list[int]] = {b: [0, 0, 0] for b in range(first, int(span.end), size)}
    if size == 60:
        where, params = event_where(span, Filters(filters.site, filters.dims, "all"))
        selected = bot_list_sql(filters.bots)
        for b, pv, visitors, bots in ch.rows(
            f"SELECT {bucket_sql('ts', 60)} AS b, "
            f"countIf(type IN {PAGE_TYPES_SQL} AND is_bot IN ({selected})), "
            f"uniqExactIf(visitor_id, is_bot IN ({selected}) AND visitor_id != ''), "
            f"countIf(type IN {PAGE_TYPES_SQL} AND is_bot = 1) FROM events WHERE {where} AND type IN {WEB_TYPES_SQL} "
            f"GROUP BY b",
            params,
        ):
            buckets.setdefault(int(b), [0, 0, 0])[:] = [int(pv), int(visitors), int(bots)]
    else:
        for hour, values in hourly(ch, span, filters).items():
            cur = buckets.setdefault(hour // size * size, [0, 0, 0])
            for i, v in enumerate(values):
                cur[i] += v
    return [Point(float(b), *v) for b, v in sorted(buckets.items())]


def heatmap(ch: ClickHouse, span: Span, filters: Filters) -> list[list[int]]:
    """Pageviews by UTC weekday (rows, Monday first) and hour of day (columns): 7 x 24."""
    grid = [[0] * 24 for _ in range(7)]
    for hour, values in hourly(ch, _clamp_start(ch, span, filters), filters).items():
        when = datetime.fromtimestamp(hour, UTC)
        grid[when.weekday()][when.hour] += values[0]
    return grid


# ------------------------------------------------------------------------------------------------- top lists


def _merge(rows: Iterable[Any], into: dict[str, list[int]]) -> None:
    for value, a, b in rows:
        cur = into.setdefault(str(value), [0, 0])
        cur[0] += int(a or 0)
        cur[1] += int(b or 0)


def event_top(
    ch: ClickHouse, span: Span, filters: Filters, kind: str, *, rollups: bool | None = None
) -> dict[str, list[int]]:
    """path or custom event name -> [visitors, count] (pageviews or event count)."""
    column, type_sql = ("path", f"type IN {PAGE_TYPES_SQL}") if kind == "path" else ("name", "type = 'event'")
    out: dict[str, list[int]] = {}
    cond, cond_params = event_where(span, filters)
    if _exact(span, rollups):
        _merge(
            ch.rows(
                f"SELECT {column}, uniqExactIf(visitor_id, visitor_id != ''), count() FROM events "
                f"WHERE {cond} AND {type_sql} GROUP BY {column}",
                cond_params,
            ),
            out,
        )
        return out
    if use_rolled(span, filters, rollups):
        pieces = split_span(span)
        for part in pieces.raw:
            _merge(_visits(ch, part, filters, column, type_sql), out)
        if pieces.rolled is not None:
            where, params = rolled_where(pieces, filters)
            _merge(
                ch.rows(
                    f"SELECT key, sum(visits), sum(hits) FROM rollup_events WHERE {where} AND kind = ? GROUP BY key",
                    [*params, "page" if kind == "path" else "event"],
                ),
                out,
            )
        return out
    _merge(_visits(ch, span, filters, column, type_sql), out)
    return out


def _visits(ch: ClickHouse, span: Span, filters: Filters, column: str, type_sql: str) -> list[tuple[Any, ...]]:
    """Raw events: (path or name, visits, count) of the span's events matching the filters."""
    cond, cond_params = event_where(span, filters)
    # Visits: an event is one when it is the first of its path (name) in its session (the earliest ts, id), as
    # the rollups count them. One pass gathers the span's events per session, sorted by (ts, id): an event whose
    # key comes up for the first time there (arrayEnumerateUniq = 1) counts when it matches the filters, unless
    # the session had the key before the span (events without a session all count). Grouping by session alone,
    # an integer, is much cheaper than grouping by (session, key). A session's events all belong to its site, so
    # the site bounds both scans; the look back before the span starts where the earliest session still running
    # at the span's start began (any session version will do: `started` never changes and `last_seen` only
    # grows, so no FINAL is needed to find it).
    site, site_params = site_sql(filters.site)
    start, end = seconds(span)
    return ch.rows(
        f"SELECT k, sum(if(session_id = 0, c, c AND u = 1 AND (session_id, k) NOT IN ("
        f"SELECT session_id, {column} FROM events WHERE ts < ?{site} AND {type_sql} AND session_id != 0 "
        f"AND ts >= (SELECT minOrNull(started) FROM sessions WHERE started < ? AND last_seen >= ?{site})))), "
        f"sum(c) FROM (SELECT session_id, arraySort(x -> (x.1, x.2), groupArray((ts, id, {column}, {cond}))) AS a "
        f"FROM events WHERE ts >= ? AND ts < ?{site} AND {type_sql} GROUP BY session_id) "
        "ARRAY JOIN a.3 AS k, a.4 AS c, arrayEnumerateUniq(a.3) AS u GROUP BY k HAVING sum(c) > 0",
        [
            start,
            *site_params,
            start,
            start,
            *site_params,
            *cond_params,
            start,
            end,
            *site_params,
        ],
    )


def session_top(
    ch: ClickHouse, span: Span, filters: Filters, dimension: str, *, rollups: bool | None = None
) -> dict[str, list[int]]:
    """session attribute value -> [visitors, page hits] for sessions started in the span."""
    column = DIMENSIONS[dimension].sessions
    assert column is not None
    where, params = session_where(span, filters)
    visitors = "uniqExact(visitor_id)" if _exact(span, rollups) else "sum(new_visitor)"
    out: dict[str, list[int]] = {}
    _merge(
        ch.rows(
            f"SELECT {column}, {visitors}, sum(pageviews + requests) FROM sessions FINAL WHERE {where} "
            f"GROUP BY {column}",
            params,
        ),
        out,
    )
    return out


def top(
    ch: ClickHouse,
    span: Span,
    filters: Filters,
    dimension: str,
    limit: int = 10,
    *,
    rollups: bool | None = None,
) -> list[Row]:
    """The most frequent values of a dimension: pages by pageviews, session attributes by visitors."""
    dimension = TOP_ALIASES.get(dimension, dimension)
    dim = check_dimension(dimension)
    if dimension in ("path", "name"):
        return ranked(event_top(ch, span, filters, dimension, rollups=rollups), limit, visitors_first=False)
    if dim.sessions is not None:
        return ranked(session_top(ch, span, filters, dimension, rollups=rollups), limit, visitors_first=True)
    assert dim.events is not None
    where, params = event_where(span, filters)
    values: dict[str, list[int]] = {}
    _merge(
        ch.rows(
            f"SELECT {dim.events}, uniqExactIf(visitor_id, visitor_id != ''), count() FROM events "
            f"WHERE {where} AND type IN {WEB_TYPES_SQL} GROUP BY {dim.events}",
            params,
        ),
        values,
    )
    return ranked(values, limit, visitors_first=False)


def engagement(
    ch: ClickHouse, span: Span, filters: Filters, limit: int = 10, *, rollups: bool | None = None
) -> list[PageEngagement]:
    """Pages by views with average scroll depth and engaged time (from the tracker's engagement reports), plus
    per-view medians and scroll milestones for spans up to ENGAGEMENT_EXACT_MAX_S and histogram medians beyond,
    as on SQLite (the sums from the rollups where `use_rolled` says so)."""
    pieces = split_span(span) if use_rolled(span, filters, rollups) else Pieces((span,), (), ())
    parts: list[str] = []
    params: list[object] = []
    if pieces.raw:
        where, raw_params = spans_where(event_where, pieces.raw, filters)
        parts.append(
            f"SELECT path, toInt64(countIf(type IN {PAGE_TYPES_SQL})) AS v, "
            "toInt64(countIf(type = 'engagement')) AS r, toInt64(sumIf(scroll, type = 'engagement')) AS s, "
            "toInt64(sumIf(engaged_ms, type = 'engagement')) AS m "
            f"FROM events WHERE {where} AND type IN ('pageview', 'request', 'engagement') GROUP BY path"
        )
        params += raw_params
    if pieces.rolled is not None:
        where, rolled_params = rolled_where(pieces, filters)
        parts.append(
            "SELECT key AS path, sumIf(hits, kind = 'page') AS v, sumIf(hits, kind = 'engagement') AS r, "
            f"sum(scroll) AS s, sum(engaged_ms) AS m FROM rollup_events WHERE {where} "
            "AND kind IN ('page', 'engagement') GROUP BY key"
        )
        params += rolled_params
    rows = ch.rows(  # the top pages only, in the order of `db.queries.overview` (views, then path)
        f"SELECT path, sum(v) AS views, sum(r), sum(s), sum(m) FROM ({' UNION ALL '.join(parts)}) GROUP BY path "
        "HAVING views != 0 OR sum(r) != 0 ORDER BY views DESC, path LIMIT ?",
        [*params, int(limit)],
    )
    sums: dict[str, list[int]] = {}
    _add_sums(rows, sums)
    order = sorted(((p, v) for p, v in sums.items() if v[0] or v[1]), key=lambda kv: (-kv[1][0], kv[0]))[:limit]
    paths = [p for p, _v in order]
    per_view = engaged_views(ch, span, filters, paths) if span.seconds <= ENGAGEMENT_EXACT_MAX_S else None
    rolled = (not filters.dims) if rollups is None else rollups
    histograms = engaged_histograms(ch, span, filters, paths, rollups=rolled) if per_view is None else {}
    out = []
    for path, v in order:
        median = median_seconds(histograms.get(path, {}))
        reach: tuple[float, float, float, float] | None = None
        if per_view is not None:
            median, reached = per_view.get(path, (None, (0, 0, 0, 0)))
            a, b, c, d = (round(100.0 * n / v[0], 1) if v[0] else 0.0 for n in reached)
            reach = (a, b, c, d)  # `db.queries.overview.reach_shares` from the counts
        out.append(
            PageEngagement(
                path=path,
                views=v[0],
                avg_scroll=round(v[2] / v[1], 1) if v[1] else 0.0,
                avg_engaged_s=round(v[3] / v[1] / 1000.0, 1) if v[1] else 0.0,
                median_engaged_s=median,
                reach=reach,
            )
        )
    return out


def _add_sums(rows: Iterable[Any], into: dict[str, list[int]]) -> None:
    """(path, views, reports, scroll, engaged ms) rows added up per path."""
    for path, *values in rows:
        cur = into.setdefault(str(path), [0, 0, 0, 0])
        for i, v in enumerate(values):
            cur[i] += int(v)


def engaged_histograms(
    ch: ClickHouse, span: Span, filters: Filters, paths: list[str], *, rollups: bool
) -> dict[str, dict[int, int]]:
    """Per path (of `paths`): its views begun in the span per engaged-time bucket, by the rule of
    `db.queries.overview.ENGAGEMENT_EXACT_MAX_S` that both engines' `rollup_engaged` follows (db/engaged.py):
    hours and days from `rollup_engaged` unless `rollups` is False, the uneven ends from raw rows (SQLite reads
    whole days only: the same views either way)."""
    if not paths:
        return {}
    pieces = split_span(span) if rollups else Pieces((span,), (), ())
    parts: list[str] = []
    params: list[object] = []
    if pieces.raw:  # both ends in one read: where their reads leave a gap, every report a view counts is before it
        where, where_params = spans_where(
            event_where, [Span(s.start, s.end + VIEW_REPORTS_S) for s in pieces.raw], filters
        )
        hits, hits_params = spans_where(event_where, pieces.raw, filters)
        sql = engaged.histogram_sql(  # only the sessions with a page hit of the paths in the ends
            f"({where}) AND path IN ? AND session_id IN (SELECT session_id FROM events WHERE {hits} "
            f"AND type IN {PAGE_TYPES_SQL} AND path IN ?)",
            len(pieces.raw),
        )
        parts.append(f"SELECT path, b, toInt64(views) AS n FROM ({sql})")
        params += [*where_params, paths, *hits_params, paths, *(v for s in pieces.raw for v in (s.start, s.end))]
    if pieces.rolled is not None:
        where, rolled_params = rolled_where(pieces, filters)
        parts.append(
            f"SELECT path, toUInt64(ms_bucket) AS b, views AS n FROM rollup_engaged WHERE {where} AND path IN ?"
        )
        params += [*rolled_params, paths]
    rows = ch.rows(f"SELECT path, b, sum(n) FROM ({' UNION ALL '.join(parts)}) GROUP BY path, b", params)
    out: dict[str, dict[int, int]] = {}
    for path, b, n in rows:
        if n:
            hist = out.setdefault(str(path), {})
            hist[int(b)] = hist.get(int(b), 0) + int(n)
    return out


def engaged_views(
    ch: ClickHouse, span: Span, filters: Filters, paths: list[str]
) -> dict[str, tuple[float, tuple[int, int, int, int]]]:
    """Per path (of `paths`) with page views in the span that sent engagement reports: the median engaged seconds
    of those views and how many of them scrolled to each of SCROLL_MILESTONES.

    `db.queries.overview.engaged_views` reads the rows in (ts, id) order and gives each report to the open view
    of its session and path; here a running count of page hits per session and path numbers the views, in the
    same order, so a report belongs to the view numbered as it is (0: begun before the span, left out). A view's
    engaged time is the sum of its reports, its scroll the largest (at least 0). The median is statistics.median:
    the mean of the low and high middle values."""
    if not paths:
        return {}
    where, params = event_where(span, filters)
    reached = ", ".join(f"countIf(most >= {int(m)})" for m in SCROLL_MILESTONES)
    rows = ch.rows(
        f"SELECT path, (quantileExactLow(0.5)(ms) + quantileExactHigh(0.5)(ms)) / 2, {reached} "
        "FROM (SELECT path, sumIf(engaged_ms, type = 'engagement') AS ms, "
        "greatest(0, maxIf(scroll, type = 'engagement')) AS most, countIf(type = 'engagement') AS reports "
        "FROM (SELECT session_id, path, type, engaged_ms, scroll, sum(type != 'engagement') OVER "
        "(PARTITION BY session_id, path ORDER BY ts, id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS nth "
        f"FROM events WHERE {where} AND type IN ('pageview', 'request', 'engagement') AND session_id != 0 "
        "AND path IN ?) WHERE nth > 0 GROUP BY session_id, path, nth HAVING reports > 0) GROUP BY path"
        f"",
        [*params, paths],
    )
    return {
        str(path): (round(float(median) / 1000.0, 1), (int(a), int(b), int(c), int(d)))
        for path, median, a, b, c, d in rows
    }
