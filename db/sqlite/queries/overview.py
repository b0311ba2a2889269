"""SQLite: the Overview view's questions: KPIs, traffic over time, top lists, peak hours and engagement per page."""

from __future__ import annotations

import sqlite3
import statistics
from collections.abc import Iterable
from datetime import UTC, datetime

from db.queries.common import (
    DIMENSIONS,
    LIVE_WINDOW_S,
    Filters,
    Pieces,
    Span,
    bot_list_sql,
    check_dimension,
    event_where,
    exact_visitors,
    session_where,
    site_sql,
    split_days,
    split_span,
)
from db.queries.overview import (
    ENGAGEMENT_EXACT_MAX_S,
    PAGE_TYPES_SQL,
    TOP_ALIASES,
    WEB_TYPES_SQL,
    Kpis,
    PageEngagement,
    Point,
    Row,
    _hour_range,
    _merge,
    _Totals,
    _visits_sql,
    bucket_seconds,
    kpis_from,
    median_seconds,
    ranked,
    reach_shares,
    sum_hours,
    use_rollups,
)
from db.rules import BOUNCE_SQL, DAY, DURATION_MS_SQL, HOUR, SESSION_DIMS, bucket_sql
from db.sqlite.engaged import raw_histograms
from db.sqlite.queries.common import first_event_ts, sites


def _raw_totals(conn: sqlite3.Connection, span: Span, filters: Filters, exact: bool) -> _Totals:
    where, params = event_where(span, filters)
    pv, ev = conn.execute(
        f"SELECT coalesce(sum(type IN {PAGE_TYPES_SQL}), 0), coalesce(sum(type = 'event'), 0) FROM events "
        f"WHERE {where}",
        params,
    ).fetchone()
    bot_where, bot_params = event_where(span, Filters(filters.site, filters.dims, "bots"))
    bots = conn.execute(
        f"SELECT count(*) FROM events WHERE {bot_where} AND type IN {PAGE_TYPES_SQL}", bot_params
    ).fetchone()[0]
    swhere, sparams = session_where(span, filters)
    sessions, new_visitors, bounces, duration = conn.execute(
        f"SELECT count(*), coalesce(sum(new_visitor), 0), coalesce(sum({BOUNCE_SQL.format(a='')}), 0), "
        f"coalesce(sum({DURATION_MS_SQL.format(a='')}), 0) FROM sessions WHERE {swhere}",
        sparams,
    ).fetchone()
    visitors = _distinct_visitors(conn, span, filters) if exact else new_visitors
    return _Totals(int(pv), int(ev), int(sessions), int(visitors), int(bounces), int(duration), int(bots))


def _distinct_visitors(conn: sqlite3.Connection, span: Span, filters: Filters) -> int:
    """Distinct visitor ids among a span's web events (server events have no visitors)."""
    where, params = event_where(span, filters)
    return int(
        conn.execute(
            f"SELECT count(DISTINCT visitor_id) FROM events WHERE {where} AND visitor_id != '' "
            f"AND type IN {WEB_TYPES_SQL}",
            params,
        ).fetchone()[0]
    )


def _rolled_totals(conn: sqlite3.Connection, span: Span, filters: Filters) -> _Totals:
    where, params = _hour_range(span, filters)
    row = conn.execute(
        "SELECT coalesce(sum(pageviews), 0), coalesce(sum(events), 0), coalesce(sum(sessions), 0), "
        "coalesce(sum(visitors), 0), coalesce(sum(bounces), 0), coalesce(sum(duration_ms), 0) "
        f"FROM rollup_traffic WHERE {where}",
        params,
    ).fetchone()
    bot_where, bot_params = _hour_range(span, Filters(filters.site, (), "bots"))
    bots = conn.execute(
        f"SELECT coalesce(sum(pageviews), 0) FROM rollup_traffic WHERE {bot_where}", bot_params
    ).fetchone()[0]
    pv, ev, sessions, visitors, bounces, duration = (int(v) for v in row)
    return _Totals(pv, ev, sessions, visitors, bounces, duration, int(bots))


def totals(conn: sqlite3.Connection, span: Span, filters: Filters, *, rollups: bool | None = None) -> _Totals:
    """Summed counts of a span, from rollups where allowed (`rollups` forces one path, for tests).

    Short spans without dimension filters take every count but visitors from the rollups too (the numbers are
    the same) and count distinct visitor ids on raw rows."""
    if rollups is None and not filters.dims and exact_visitors(span):
        out = totals(conn, span, filters, rollups=True)
        out.visitors = _distinct_visitors(conn, span, filters)
        return out
    rollups = use_rollups(span, filters) if rollups is None else rollups
    if not rollups:
        return _raw_totals(conn, span, filters, exact_visitors(span))
    pieces = split_span(span)
    out = _Totals()
    for part in pieces.raw:
        out.add(_raw_totals(conn, part, filters, exact=False))
    if pieces.rolled is not None:
        out.add(_rolled_totals(conn, pieces.rolled, filters))
    return out


def live_visitors(conn: sqlite3.Connection, end: float, filters: Filters) -> int:
    """Distinct visitors with any event in the five minutes before `end`."""
    return _distinct_visitors(conn, Span(end - LIVE_WINDOW_S, end), filters)


def kpis(conn: sqlite3.Connection, span: Span, filters: Filters, *, rollups: bool | None = None) -> Kpis:
    """Visitors, sessions, pageviews, bounce rate, mean duration, live visitors, bot hits, custom events."""
    t = totals(conn, span, filters, rollups=rollups)
    return kpis_from(t, live_visitors(conn, span.end, filters))


def kpis_with_change(conn: sqlite3.Connection, span: Span, filters: Filters) -> tuple[Kpis, Kpis]:
    """The span's KPIs and those of the equally long period before it."""
    return kpis(conn, span, filters), kpis(conn, span.previous(), filters)


def _raw_hourly(conn: sqlite3.Connection, span: Span, filters: Filters) -> dict[int, list[int]]:
    """hour -> [pageviews, visitors (first of the day), bot pageviews] from raw rows."""
    out: dict[int, list[int]] = {}
    all_filters = Filters(filters.site, filters.dims, "all")
    where, params = event_where(span, all_filters)
    selected = bot_list_sql(filters.bots)
    for hour, pv, bots in conn.execute(
        f"SELECT {bucket_sql('ts', HOUR)} AS h, sum(is_bot IN ({selected})), sum(is_bot = 1) "
        f"FROM events WHERE {where} AND type IN {PAGE_TYPES_SQL} GROUP BY h",
        params,
    ):
        out.setdefault(int(hour), [0, 0, 0])
        out[int(hour)][0] += int(pv)
        out[int(hour)][2] += int(bots)
    swhere, sparams = session_where(span, filters)
    for hour, visitors in conn.execute(
        f"SELECT {bucket_sql('started', HOUR)} AS h, sum(new_visitor) FROM sessions WHERE {swhere} GROUP BY h",
        sparams,
    ):
        out.setdefault(int(hour), [0, 0, 0])[1] += int(visitors)
    return out


def _rolled_hourly(conn: sqlite3.Connection, span: Span, filters: Filters) -> dict[int, list[int]]:
    where, params = _hour_range(span, Filters(filters.site, (), "all"))
    selected = bot_list_sql(filters.bots)
    out: dict[int, list[int]] = {}
    for hour, pv, visitors, bots in conn.execute(
        f"SELECT hour, sum(CASE WHEN is_bot IN ({selected}) THEN pageviews ELSE 0 END), "
        f"sum(CASE WHEN is_bot IN ({selected}) THEN visitors ELSE 0 END), "
        f"sum(CASE WHEN is_bot = 1 THEN pageviews ELSE 0 END) FROM rollup_traffic WHERE {where} "
        "GROUP BY hour",
        params,
    ):
        out[int(hour)] = [int(pv), int(visitors), int(bots)]
    return out


def hourly(
    conn: sqlite3.Connection, span: Span, filters: Filters, *, rollups: bool | None = None
) -> dict[int, list[int]]:
    """Per UTC hour: [pageviews, visitors (first of the day), bot pageviews]."""
    if rollups is None:
        rollups = not filters.dims
    if not rollups:
        return {h: v for h, v in _raw_hourly(conn, span, filters).items() if any(v)}
    pieces = split_span(span)
    parts = [_raw_hourly(conn, p, filters) for p in pieces.raw]
    if pieces.rolled is not None:
        parts.append(_rolled_hourly(conn, pieces.rolled, filters))
    return sum_hours(parts)


def _clamp_start(conn: sqlite3.Connection, span: Span, filters: Filters) -> Span:
    """An "all" span (start 0) begins at the first stored traffic instead."""
    if span.start > 0:
        return span
    first = first_event_ts(conn, filters.site)
    return Span(first if first is not None else span.end - HOUR, span.end)


def timeseries(conn: sqlite3.Connection, span: Span, filters: Filters) -> list[Point]:
    """Pageviews, visitors and bot pageviews per bucket (minute, hour or day, by span length), gaps filled."""
    span = _clamp_start(conn, span, filters)
    size = bucket_seconds(span)
    first = int(span.start // size) * size
    buckets: dict[int, list[int]] = {b: [0, 0, 0] for b in range(first, int(span.end), size)}
    if size == 60:
        all_filters = Filters(filters.site, filters.dims, "all")
        where, params = event_where(span, all_filters)
        selected = bot_list_sql(filters.bots)
        for b, pv, visitors, bots in conn.execute(
            f"SELECT {bucket_sql('ts', 60)} AS b, "
            f"sum(type IN {PAGE_TYPES_SQL} AND is_bot IN ({selected})), "
            f"count(DISTINCT CASE WHEN is_bot IN ({selected}) AND visitor_id != '' THEN visitor_id END), "
            f"sum(type IN {PAGE_TYPES_SQL} AND is_bot = 1) FROM events WHERE {where} AND type IN {WEB_TYPES_SQL} "
            "GROUP BY b",
            params,
        ):
            buckets.setdefault(int(b), [0, 0, 0])[:] = [int(pv), int(visitors), int(bots)]
    else:
        for hour, values in hourly(conn, span, filters).items():
            cur = buckets.setdefault(hour // size * size, [0, 0, 0])
            for i, v in enumerate(values):
                cur[i] += v
    return [Point(float(b), *v) for b, v in sorted(buckets.items())]


def heatmap(conn: sqlite3.Connection, span: Span, filters: Filters) -> list[list[int]]:
    """Pageviews by UTC weekday (rows, Monday first) and hour of day (columns): 7 x 24."""
    grid = [[0] * 24 for _ in range(7)]
    for hour, values in hourly(conn, _clamp_start(conn, span, filters), filters).items():
        when = datetime.fromtimestamp(hour, UTC)
        grid[when.weekday()][when.hour] += values[0]
    return grid


def rolled_rows(
    conn: sqlite3.Connection,
    table: str,
    key: str,
    cols: str,
    span: Span,
    filters: Filters,
    extra: str = "",
    extra_params: tuple[object, ...] = (),
    pieces: Pieces | None = None,
) -> Iterable[tuple[object, ...]]:
    """`key, sum(col)...` grouped by key over a rollup table for the rolled-up part of a span (`pieces`:
    how the span is cut, `split_span` by default; daily-only tables pass `split_days`)."""
    pieces = split_span(span) if pieces is None else pieces
    values = bot_list_sql(filters.bots)
    site_params: tuple[object, ...]
    if filters.site is not None:
        site, site_params = site_sql(filters.site)
    else:
        # All sites: name them, so the (grain, site, bucket) key still bounds the scan by bucket for each site.
        known = sites(conn)
        site, site_params = f" AND site IN ({', '.join('?' * len(known))})", tuple(known)
    for grain, parts in ((DAY, pieces.daily), (HOUR, pieces.hourly)):
        for part in parts:
            yield from conn.execute(
                f"SELECT {key}, {cols} FROM {table} WHERE grain = ?{site}{extra} AND bucket >= ? "
                f"AND bucket < ? AND is_bot IN ({values}) GROUP BY {key}",
                (grain, *site_params, *extra_params, part.start, part.end),
            )


def event_top(
    conn: sqlite3.Connection, span: Span, filters: Filters, kind: str, *, rollups: bool | None = None
) -> dict[str, list[int]]:
    """path or custom event name -> [visitors, count] (pageviews or event count)."""
    rollups = use_rollups(span, filters) if rollups is None else rollups
    column, type_sql = ("path", f"type IN {PAGE_TYPES_SQL}") if kind == "path" else ("name", "type = 'event'")
    out: dict[str, list[int]] = {}

    def raw(part: Span, exact: bool) -> None:
        where, params = event_where(part, filters, "e")
        visitors = "count(DISTINCT nullif(e.visitor_id, ''))" if exact else f"sum({_visits_sql(kind)})"
        _merge(
            conn.execute(
                f"SELECT e.{column}, {visitors}, count(*) FROM events e WHERE {where} AND e.{type_sql} "
                f"GROUP BY e.{column}",
                params,
            ),
            out,
        )

    if not rollups:
        raw(span, exact_visitors(span))
        return out
    for part in split_span(span).raw:
        raw(part, exact=False)
    if kind == "path":
        _merge(rolled_rows(conn, "rollup_pages", "path", "sum(visits), sum(pageviews)", span, filters), out)
    else:
        _merge(rolled_rows(conn, "rollup_events", "name", "sum(visits), sum(count)", span, filters), out)
    return out


def session_top(
    conn: sqlite3.Connection, span: Span, filters: Filters, dimension: str, *, rollups: bool | None = None
) -> dict[str, list[int]]:
    """session attribute value -> [visitors, page hits] for sessions started in the span."""
    column = DIMENSIONS[dimension].sessions
    assert column is not None
    rollups = (use_rollups(span, filters) and dimension in SESSION_DIMS) if rollups is None else rollups
    out: dict[str, list[int]] = {}

    def raw(part: Span, exact: bool) -> None:
        where, params = session_where(part, filters)
        visitors = "count(DISTINCT visitor_id)" if exact else "sum(new_visitor)"
        _merge(
            conn.execute(
                f"SELECT {column}, {visitors}, sum(pageviews + requests) FROM sessions WHERE {where} GROUP BY {column}",
                params,
            ),
            out,
        )

    if not rollups:
        raw(span, exact_visitors(span))
        return out
    pieces = split_days(span)
    for part in pieces.raw:
        raw(part, exact=False)
    _merge(
        rolled_rows(
            conn,
            "rollup_dims",
            "value",
            "sum(visitors), sum(hits)",
            span,
            filters,
            " AND dim = ?",
            (dimension,),
            pieces,
        ),
        out,
    )
    return out


def top(
    conn: sqlite3.Connection,
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
        return ranked(event_top(conn, span, filters, dimension, rollups=rollups), limit, visitors_first=False)
    if dim.sessions is not None:
        return ranked(session_top(conn, span, filters, dimension, rollups=rollups), limit, visitors_first=True)
    assert dim.events is not None
    where, params = event_where(span, filters)
    values: dict[str, list[int]] = {}
    _merge(
        conn.execute(
            f"SELECT {dim.events}, count(DISTINCT nullif(visitor_id, '')), count(*) FROM events "
            f"WHERE {where} AND type IN {WEB_TYPES_SQL} GROUP BY {dim.events}",
            params,
        ),
        values,
    )
    return ranked(values, limit, visitors_first=False)


def engagement(
    conn: sqlite3.Connection, span: Span, filters: Filters, limit: int = 10, *, rollups: bool | None = None
) -> list[PageEngagement]:
    """Pages by views with average scroll depth and engaged time (from the tracker's engagement reports), plus
    per-view medians and scroll milestones for spans up to ENGAGEMENT_EXACT_MAX_S (raw rows whatever `rollups`
    says, so both paths agree), and histogram medians for longer spans (`engaged_histograms`)."""
    rollups = (not filters.dims) if rollups is None else rollups
    sums: dict[str, list[int]] = {}

    def add(rows: Iterable[tuple[object, ...]]) -> None:
        for path, *vals in rows:
            cur = sums.setdefault(str(path), [0, 0, 0, 0])
            for i, v in enumerate(vals):
                cur[i] += int(v or 0)  # type: ignore[call-overload]

    def raw(part: Span) -> None:
        where, params = event_where(part, filters)
        add(
            conn.execute(
                f"SELECT path, sum(type IN {PAGE_TYPES_SQL}), sum(type = 'engagement'), "
                "sum(CASE WHEN type = 'engagement' THEN scroll ELSE 0 END), "
                "sum(CASE WHEN type = 'engagement' THEN engaged_ms ELSE 0 END) "
                f"FROM events WHERE {where} AND type IN ('pageview', 'request', 'engagement') GROUP BY path",
                params,
            )
        )

    if not rollups:
        raw(span)
    else:
        for part in split_span(span).raw:
            raw(part)
        add(
            rolled_rows(
                conn,
                "rollup_pages",
                "path",
                "sum(pageviews), sum(engagements), sum(scroll_sum), sum(engaged_ms)",
                span,
                filters,
            )
        )
    order = sorted(((p, v) for p, v in sums.items() if v[0] or v[1]), key=lambda kv: (-kv[1][0], kv[0]))[:limit]
    per_view = engaged_views(conn, span, filters) if span.seconds <= ENGAGEMENT_EXACT_MAX_S else None
    histograms = (
        engaged_histograms(conn, span, filters, [p for p, _v in order], rollups=rollups) if per_view is None else {}
    )
    out = []
    for path, v in order:
        median = median_seconds(histograms.get(path, {}))
        reach: tuple[float, float, float, float] | None = None
        if per_view is not None:
            times, scrolls = per_view.get(path, ([], []))
            median = round(statistics.median(times) / 1000.0, 1) if times else None
            reach = reach_shares(scrolls, v[0])
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


def engaged_histograms(
    conn: sqlite3.Connection, span: Span, filters: Filters, paths: list[str], *, rollups: bool
) -> dict[str, dict[int, int]]:
    """Per path (of `paths`): its views begun in the span per engaged-time bucket (db/sqlite/engaged.py), whole
    days from `rollup_engaged` unless `rollups` is False, the uneven ends from raw rows: each end's own, or its
    whole day's sums less the rest of that day's, whichever reads fewer hours of raw rows (a day's sums are its
    views' own: the same counts, except that history erased or expired since still counts there, as in every
    rolled-up part)."""
    if not rollups:
        return raw_histograms(conn, span, filters, paths)
    pieces = split_days(span)
    days = list(pieces.daily)
    parts: list[tuple[int, dict[str, dict[int, int]]]] = []  # (sign, histograms)
    for part in pieces.raw:
        day = Span(part.start // DAY * DAY, part.start // DAY * DAY + DAY)
        rest = None  # the rest of the day, when the end reaches one of its ends
        if part.end == day.end:
            rest = Span(day.start, part.start)
        elif part.start == day.start:
            rest = Span(part.end, day.end)
        if rest is not None and rest.seconds < part.seconds:
            days.append(day)
            parts.append((-1, raw_histograms(conn, rest, filters, paths)))
        else:
            parts.append((1, raw_histograms(conn, part, filters, paths)))
    if days and paths:
        known = [filters.site] if filters.site is not None else sites(conn)
        rolled: dict[str, dict[int, int]] = {}
        for part in days:
            for path, b, n in conn.execute(
                f"SELECT path, ms_bucket, sum(views) FROM rollup_engaged WHERE site IN ({', '.join('?' * len(known))}) "
                f"AND is_bot IN ({bot_list_sql(filters.bots)}) AND path IN ({', '.join('?' * len(paths))}) "
                "AND day >= ? AND day < ? GROUP BY path, ms_bucket",
                (*known, *paths, part.start, part.end),
            ):
                hist = rolled.setdefault(str(path), {})
                hist[int(b)] = hist.get(int(b), 0) + int(n)
        parts.append((1, rolled))
    out: dict[str, dict[int, int]] = {}
    for sign, part_hist in parts:
        for path, hist in part_hist.items():
            into = out.setdefault(path, {})
            for b, n in hist.items():
                into[b] = into.get(b, 0) + sign * n
    return {path: {b: n for b, n in hist.items() if n} for path, hist in out.items()}


def engaged_views(conn: sqlite3.Connection, span: Span, filters: Filters) -> dict[str, tuple[list[int], list[int]]]:
    """Per path: the engaged milliseconds and the max scroll of each page view in the span that sent engagement
    reports.

    The tracker sends engaged time as deltas (one report each time the page is hidden or left) and the running
    max scroll of the view; so a report belongs to the latest earlier page hit of the same session and path
    (ties by id), and a view's engaged time is the sum of its reports, its scroll the largest. Reports of views
    begun before the span, and reports without a session, are left out."""
    where, params = event_where(span, filters)
    out: dict[str, tuple[list[int], list[int]]] = {}
    current: dict[tuple[int, str], list[int]] = {}
    """(session, path) -> [engaged ms, max scroll, reports] of its latest view in the span."""

    def close(path: str, view: list[int]) -> None:
        if view[2]:
            times, scrolls = out.setdefault(path, ([], []))
            times.append(view[0])
            scrolls.append(view[1])

    cur = conn.cursor()
    cur.row_factory = None
    # In (ts, id) order, one pass: each page hit opens its (session, path) view, each report adds to the open one.
    for session_id, path, type_, ms, scroll in cur.execute(
        "SELECT session_id, path, type, engaged_ms, scroll FROM events "
        f"WHERE {where} AND type IN ('pageview', 'request', 'engagement') AND session_id != 0 ORDER BY ts, id",
        params,
    ):
        key = (session_id, path)
        view = current.get(key)
        if type_ != "engagement":
            if view is not None:
                close(path, view)
            current[key] = [0, 0, 0]
        elif view is not None:
            view[0] += ms
            if scroll > view[1]:
                view[1] = scroll
            view[2] += 1
    for (_sid, path), view in current.items():
        close(path, view)
    return out
