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
Several spans' counts are read together (a span and the one before it for the KPIs, grouped by span), and the
Overview's KPIs, chart and peak hours share their reads where they read a span alike (`overview`), since every
table read costs the engine milliseconds of planning whatever it finds. Dimension filters always apply here (on
raw rows); SQLite, forced onto its rollups (`rollups=True`) with a dimension filter, ignores the filter on the
rolled-up part of the span (no caller does that). As on SQLite, history the retention TTL dropped (or `forget`
erased) still counts in the rolled-up parts of long spans.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
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
    Overview,
    PageEngagement,
    Point,
    Row,
    _Totals,
    bucket_seconds,
    kpis_from,
    median_seconds,
    ranked,
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
    "kpis_of",
    "kpis_with_change",
    "overview",
    "session_top",
    "timeseries",
    "top",
    "tops",
]

DURATION_MS_SQL = "greatest(0, toInt64((last_seen - started) * 1000 + 0.5))"
"""`db.rules.duration_of` in ClickHouse SQL (toInt64 truncates like SQLite's CAST)."""
BOUNCE_SQL = "(pageviews + requests <= 1 AND events = 0)"
"""`db.rules.is_bounce` in ClickHouse SQL."""


def _exact(span: Span, rollups: bool | None) -> bool:
    """Whether visitors are distinct ids (short spans) or the rolled-up rule (long spans, or rollups forced)."""
    return exact_visitors(span) and rollups is not True


# ------------------------------------------------------------------------------------------------------ KPIs


@dataclass(slots=True, frozen=True)
class _Reads:
    """Where one span's counts come from: raw rows of `raw` (distinct visitor ids if `exact`), the hourly sums of
    `rolled`, and the live window before its end."""

    raw: tuple[Span, ...]
    rolled: tuple[Span, ...]
    exact: bool
    live: Span


def _reads(span: Span, filters: Filters, rollups: bool | None, *, hours: bool = False) -> _Reads:
    """For the KPIs: raw rows for short spans (or dimension filters), the hourly rollups and the raw edges for
    long ones; for counts per hour (`hours`), the rollups for every whole hour unless dimension filters or
    `rollups=False` say otherwise (the same numbers either way)."""
    live = Span(span.end - LIVE_WINDOW_S, span.end)
    rolled = not (filters.dims or rollups is False) if hours else use_rolled(span, filters, rollups)
    if not rolled:
        return _Reads((span,), (), not hours and _exact(span, rollups), live)  # hours need no distinct ids
    pieces = split_span(span)
    return _Reads(pieces.raw, () if pieces.rolled is None else (pieces.rolled,), False, live)


def _bounds(spans: Iterable[Span], whole: bool) -> list[object]:
    """The spans' ends bound as their column's type: integer bucket starts (`whole`), else Float64 seconds."""
    return [v for s in spans for v in ((int(s.start), int(s.end)) if whole else seconds(s))]


def _within(column: str, spans: Sequence[Span], *, whole: bool = False) -> tuple[str, list[object]]:
    """`column` in any of the spans."""
    sql = " OR ".join(f"({column} >= ? AND {column} < ?)" for _ in spans) or "0"
    return f"({sql})", _bounds(spans, whole)


def _part(column: str, groups: Sequence[Sequence[Span]], *, whole: bool = False) -> tuple[str, list[object]]:
    """The index of the group of spans `column` falls in (-1: none; groups do not overlap)."""
    cases = [f"{column} >= ? AND {column} < ?, {i}" for i, group in enumerate(groups) for _span in group]
    return f"multiIf({', '.join(cases)}, -1)", _bounds((s for group in groups for s in group), whole)


@dataclass(slots=True)
class _Counted:
    """One span's counts: its totals as the KPIs sum them, and per hour [pageviews, first visits of the day, bot
    pageviews] as the chart and the peak hours draw them."""

    totals: _Totals = field(default_factory=_Totals)
    hours: dict[int, list[int]] = field(default_factory=dict)

    def hour(self, h: int) -> list[int]:
        return self.hours.setdefault(int(h), [0, 0, 0])


def _count(ch: ClickHouse, reads: Sequence[_Reads], filters: Filters, *, hours: bool) -> list[_Counted]:
    """Each span's totals (and its counts per hour if `hours`), reading the events and the sessions of every
    span's raw parts once and the hourly rollups of every span's rolled-up hours once."""
    counted = [_Counted() for _ in reads]
    _count_raw(ch, reads, filters, counted, hours)
    _count_rolled(ch, reads, filters, counted, hours)
    return counted


def _count_raw(ch: ClickHouse, reads: Sequence[_Reads], filters: Filters, counted: list[_Counted], hours: bool) -> None:
    """Add each span's raw parts: its events (per hour if `hours`; distinct visitor ids over the whole span if
    it is `exact`) and its sessions (per start hour if `hours`; visitors being their first visits of the day
    unless `exact`)."""
    groups = [r.raw for r in reads]
    raw = [s for group in groups for s in group]
    if not raw:
        return
    selected = f"is_bot IN ({bot_list_sql(filters.bots)})"
    distinct = f"uniqExactIf(visitor_id, {selected} AND visitor_id != '' AND type IN {WEB_TYPES_SQL})"
    part, part_params = _part("ts", groups)
    where, params = spans_where(event_where, raw, Filters(filters.site, filters.dims, "all"))
    exact = any(r.exact for r in reads)
    by_span = hours and exact  # distinct ids per span besides the counts per hour: a grouping set each
    events = ch.rows(  # the per-span rows have the hour's grouping 1
        f"SELECT {part} AS part, {bucket_sql('ts', HOUR) if hours else '0'} AS h, "
        f"{'grouping(h)' if by_span else '0'}, countIf({selected} AND type IN {PAGE_TYPES_SQL}), "
        f"countIf({selected} AND type = 'event'), countIf(is_bot = 1 AND type IN {PAGE_TYPES_SQL}), "
        f"{distinct if exact else '0'} FROM events WHERE {where} "
        f"GROUP BY {'GROUPING SETS ((part, h), (part))' if by_span else 'part, h'}",
        [*part_params, *params],
    )
    for i, h, whole_span, pv, ev, bots, distinct_visitors in ((int(v) for v in row) for row in events):
        t = counted[i].totals
        if (whole_span or not by_span) and reads[i].exact:
            t.visitors += distinct_visitors
        if not whole_span:
            t.pageviews, t.events, t.bots = t.pageviews + pv, t.events + ev, t.bots + bots
            hour = counted[i].hour(h)
            hour[0] += pv
            hour[2] += bots
    part, part_params = _part("started", groups)
    where, params = spans_where(session_where, raw, filters)
    sessions = ch.rows(
        f"SELECT {part} AS part, {bucket_sql('started', HOUR) if hours else '0'} AS h, count(), sum(new_visitor), "
        f"countIf({BOUNCE_SQL}), sum({DURATION_MS_SQL}) FROM sessions FINAL WHERE {where} GROUP BY part, h",
        [*part_params, *params],
    )
    for i, h, n, new_visitors, bounces, duration in ((int(v) for v in row) for row in sessions):
        t = counted[i].totals
        t.sessions, t.bounces, t.duration_ms = t.sessions + n, t.bounces + bounces, t.duration_ms + duration
        t.visitors += 0 if reads[i].exact else new_visitors
        counted[i].hour(h)[1] += new_visitors


def _count_rolled(
    ch: ClickHouse, reads: Sequence[_Reads], filters: Filters, counted: list[_Counted], hours: bool
) -> None:
    """Add each span's rolled-up hours (each on its own if `hours`), from the hourly page, custom event and
    session sums."""
    groups = [r.rolled for r in reads]
    rolled = [s for group in groups for s in group]
    if not rolled:
        return
    selected = f"is_bot IN ({bot_list_sql(filters.bots)})"
    sessions = f"{selected} AND kind = 'sessions'"
    part, part_params = _part("bucket", groups, whole=True)
    ranges, params = _within("bucket", rolled, whole=True)
    site, site_params = site_sql(filters.site)
    rows = ch.rows(
        f"SELECT {part} AS part, {'bucket' if hours else '0'} AS h, sumIf(hits, {selected} AND kind = 'pages'), "
        f"sumIf(hits, {selected} AND kind = 'events'), sumIf(hits, {sessions}), sumIf(visits, {sessions}), "
        f"sumIf(bounces, {sessions}), sumIf(duration_ms, {sessions}), sumIf(hits, is_bot = 1 AND kind = 'pages') "
        f"FROM rollup_events WHERE kind IN ('pages', 'events', 'sessions') AND grain = {HOUR:d} AND {ranges}{site} "
        "GROUP BY part, h",
        [*part_params, *params, *site_params],
    )
    for i, h, *values in ((int(v) for v in row) for row in rows):
        hour_totals = _Totals(*values)
        counted[i].totals.add(hour_totals)
        hour = counted[i].hour(h)
        hour[0] += hour_totals.pageviews
        hour[1] += hour_totals.visitors
        hour[2] += hour_totals.bots


def _live_visitors(ch: ClickHouse, reads: Sequence[_Reads], filters: Filters) -> list[int]:
    """Per span: distinct visitors with any event in the five minutes before its end (one read for all)."""
    columns, params = [], []
    for r in reads:
        within, within_params = _within("ts", [r.live])
        columns.append(f"uniqExactIf(visitor_id, {within})")
        params += within_params
    where, where_params = spans_where(event_where, [r.live for r in reads], filters)
    row = ch.one(
        f"SELECT {', '.join(columns)} FROM events WHERE {where} AND visitor_id != '' AND type IN {WEB_TYPES_SQL}",
        [*params, *where_params],
    )
    assert row is not None
    return [int(v) for v in row]


def kpis_of(ch: ClickHouse, spans: Sequence[Span], filters: Filters, *, rollups: bool | None = None) -> list[Kpis]:
    """Each span's KPIs (`rollups=True` counts visitors as the rollups do, whatever the span), reading each table
    once for all of them: raw events and sessions of short spans and of long spans' edges, the hourly rollups of
    long spans' whole hours, summed as SQLite sums them, and the live windows."""
    return [kpis for kpis, _hours in _kpis_and_hours(ch, spans, filters, rollups, hours=False)]


def _kpis_and_hours(
    ch: ClickHouse, spans: Sequence[Span], filters: Filters, rollups: bool | None, *, hours: bool
) -> list[tuple[Kpis, dict[int, list[int]]]]:
    """Each span's KPIs, and its `hourly` counts from the same reads if `hours`."""
    reads = [_reads(span, filters, rollups) for span in spans]
    counted = _count(ch, reads, filters, hours=hours)
    live = _live_visitors(ch, reads, filters)
    return [(kpis_from(c.totals, n), _hours_with_any(c) if hours else {}) for c, n in zip(counted, live, strict=True)]


def _hours_with_any(counted: _Counted) -> dict[int, list[int]]:
    """A span's hours with anything counted, as `hourly` gives them."""
    return {h: v for h, v in counted.hours.items() if any(v)}


def kpis(ch: ClickHouse, span: Span, filters: Filters, *, rollups: bool | None = None) -> Kpis:
    """Visitors, sessions, pageviews, bounce rate, mean duration, live visitors, bot hits, custom events."""
    return kpis_of(ch, [span], filters, rollups=rollups)[0]


def kpis_with_change(ch: ClickHouse, span: Span, filters: Filters) -> tuple[Kpis, Kpis]:
    """The span's KPIs and those of the equally long period before it, read together."""
    now, before = kpis_of(ch, [span, span.previous()], filters)
    return now, before


# ----------------------------------------------------------------------------------------------- time series


def hourly(ch: ClickHouse, span: Span, filters: Filters, *, rollups: bool | None = None) -> dict[int, list[int]]:
    """Per UTC hour with any: [pageviews, visitors (first of the day), bot pageviews]: from the hourly rollups
    and the raw edges, or raw rows only with a dimension filter (or `rollups=False`), as on SQLite."""
    return _hours_with_any(_count(ch, [_reads(span, filters, rollups, hours=True)], filters, hours=True)[0])


def _clamp_start(ch: ClickHouse, span: Span, filters: Filters) -> Span:
    """An "all" span (start 0) begins at the first stored traffic instead."""
    if span.start > 0:
        return span
    first = first_event_ts(ch, filters.site)
    return Span(first if first is not None else span.end - HOUR, span.end)


def timeseries(ch: ClickHouse, span: Span, filters: Filters) -> list[Point]:
    """Pageviews, visitors and bot pageviews per bucket (minute, hour or day, by span length), gaps filled."""
    span = _clamp_start(ch, span, filters)
    return _series(ch, span, filters, None)


def _series(ch: ClickHouse, span: Span, filters: Filters, hours: dict[int, list[int]] | None) -> list[Point]:
    """`timeseries` of a clamped span, from its `hourly` counts when the buckets are hours or days (read here if
    not given)."""
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
        for hour, values in (hourly(ch, span, filters) if hours is None else hours).items():
            cur = buckets.setdefault(hour // size * size, [0, 0, 0])
            for i, v in enumerate(values):
                cur[i] += v
    return [Point(float(b), *v) for b, v in sorted(buckets.items())]


def heatmap(ch: ClickHouse, span: Span, filters: Filters) -> list[list[int]]:
    """Pageviews by UTC weekday (rows, Monday first) and hour of day (columns): 7 x 24."""
    return _grid(hourly(ch, _clamp_start(ch, span, filters), filters))


def _grid(hours: dict[int, list[int]]) -> list[list[int]]:
    """Hourly counts' pageviews by UTC weekday and hour of day."""
    grid = [[0] * 24 for _ in range(7)]
    for hour, values in hours.items():
        when = datetime.fromtimestamp(hour, UTC)
        grid[when.weekday()][when.hour] += values[0]
    return grid


def overview(ch: ClickHouse, span: Span, filters: Filters, dimensions: Iterable[str], limit: int = 10) -> Overview:
    """The Overview view's numbers, its KPIs, chart and peak hours from the same reads of the span's events,
    sessions and hourly rollups."""
    clamped = _clamp_start(ch, span, filters)
    # The chart's hours come with the KPIs when both read the span the same way (long spans, dimension filters).
    chart, kpis = _reads(span, filters, None, hours=True), _reads(span, filters, None)
    shared = clamped == span and (chart.raw, chart.rolled) == (kpis.raw, kpis.rolled)
    (current, hours), (previous, _before) = _kpis_and_hours(ch, [span, span.previous()], filters, None, hours=shared)
    if not shared:
        hours = hourly(ch, clamped, filters)
    series = _series(ch, clamped, filters, hours)
    return Overview(current, previous, series, tops(ch, span, filters, dimensions, limit), _grid(hours))


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
    return _session_tops(ch, span, filters, [dimension], rollups=rollups)[dimension]


def _session_tops(
    ch: ClickHouse, span: Span, filters: Filters, dimensions: Sequence[str], *, rollups: bool | None = None
) -> dict[str, dict[str, list[int]]]:
    """Per session attribute: value -> [visitors, page hits] for sessions started in the span, every attribute
    from one read of the sessions (a grouping set each)."""
    columns = [str(DIMENSIONS[d].sessions) for d in dimensions]  # session attributes all
    where, params = session_where(span, filters)
    visitors = "uniqExact(visitor_id)" if _exact(span, rollups) else "sum(new_visitor)"
    sets = ", ".join(f"({c})" for c in columns)
    grouped = ", ".join(f"grouping({c})" for c in columns)  # 0 for the column a row's set groups by
    rows = ch.rows(
        f"SELECT {', '.join(columns)}, {grouped}, {visitors}, sum(pageviews + requests) FROM sessions FINAL "
        f"WHERE {where} GROUP BY GROUPING SETS ({sets})",
        params,
    )
    out: dict[str, dict[str, list[int]]] = {d: {} for d in dimensions}
    n = len(columns)
    for row in rows:
        i = list(row[n : 2 * n]).index(0)  # the attribute this row's set groups by
        _merge([(row[i], row[-2], row[-1])], out[dimensions[i]])
    return out


def tops(
    ch: ClickHouse,
    span: Span,
    filters: Filters,
    dimensions: Iterable[str],
    limit: int = 10,
    *,
    rollups: bool | None = None,
) -> dict[str, list[Row]]:
    """`top` of each dimension, the session attributes among them read together."""
    named = {d: TOP_ALIASES.get(d, d) for d in dimensions}
    attributes = sorted(
        {d for d in named.values() if d not in ("path", "name") and check_dimension(d).sessions is not None}
    )
    together = _session_tops(ch, span, filters, attributes, rollups=rollups) if attributes else {}
    return {
        d: ranked(together[dim], limit, visitors_first=True)
        if dim in together
        else top(ch, span, filters, dim, limit, rollups=rollups)
        for d, dim in named.items()
    }


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
        sql = engaged.histogram_sql(f"({where}) AND path IN ?", len(pieces.raw))
        parts.append(f"SELECT path, b, toInt64(views) AS n FROM ({sql})")
        params += [*where_params, paths, *(v for s in pieces.raw for v in (s.start, s.end))]
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
