"""The Overview view's questions: KPIs, traffic over time, top lists, peak hours and engagement per page.

The records and rules every engine shares; the SQL is in db/sqlite/queries and db/clickhouse/queries.

Counting rules (db/rules.py; SQLite's rollups use the same ones, so both paths give identical numbers):
pageviews are pageview and request events; a session counts in the span it started in; a bounce is a session
with at most one page hit and no custom event. Visitors: spans up to two days count distinct visitor ids of
the span's events; longer spans add up, per session, whether it was its visitor's first of the day (ids are
day-scoped, so days add up), which is what the rollups hold. Top pages and custom events count "visitors" the
same way for short spans and as visits (first time in a session) for long ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from db.queries.common import (
    Filters,
    Span,
    bot_list_sql,
    exact_visitors,
    site_sql,
)
from db.rules import DAY, HOUR, histogram_median

PAGE_TYPES_SQL = "('pageview', 'request')"
WEB_TYPES_SQL = "('pageview', 'engagement', 'event', 'request')"
"""Browser traffic (db/records.py WEB_EVENT_TYPES): visitors are counted over these events only, so API callers,
auth events and external calls are never site visitors."""


@dataclass(slots=True, frozen=True)
class Kpis:
    """The headline numbers of a span."""

    visitors: int
    sessions: int
    pageviews: int
    bounce_rate: float
    """Percent of sessions that bounced (0-100)."""
    avg_duration_s: float
    live_visitors: int
    """Visitors seen in the last five minutes of the span."""
    bots: int
    """Pageviews by bots (excluded from the other numbers unless bots are selected)."""
    events: int
    """Custom events."""


@dataclass(slots=True, frozen=True)
class Point:
    """One bucket of the traffic chart."""

    ts: float
    pageviews: int
    visitors: int
    bots: int


@dataclass(slots=True, frozen=True)
class Row:
    """One line of a top list."""

    value: str
    visitors: int
    pageviews: int


@dataclass(slots=True, frozen=True)
class PageEngagement:
    """How much a page is read: views, average max scroll (%) and engaged seconds per engagement report, the
    median engaged seconds per view that sent a report (None when none did: exact for spans up to
    ENGAGEMENT_EXACT_MAX_S, a histogram median beyond, `median_seconds`), and for spans up to
    ENGAGEMENT_EXACT_MAX_S the percent of views whose scroll reached 25/50/75/100 % (None for longer spans)."""

    path: str
    views: int
    avg_scroll: float
    avg_engaged_s: float
    median_engaged_s: float | None = None
    reach: tuple[float, float, float, float] | None = None


SCROLL_MILESTONES = (25, 50, 75, 100)
"""Scroll depths (%) the Engagement list reports the share of views reaching."""
ENGAGEMENT_EXACT_MAX_S = DAY
"""Spans up to this long get exact medians and scroll shares from raw rows, one pass over the span's page hits
and reports (about 0.5 s for 110k events, the density of 10M events in 90 days, on a busy 2-core machine).
Longer ones get histogram medians: every view begun in the span with the reports sent within VIEW_REPORTS_S of
its page hit (even after the span's end), its engaged time in ENGAGED_EDGES_MS buckets (db/rules.py), the median
taken by `histogram_median`; both engines read them from `rollup_engaged` (SQLite whole days, ClickHouse whole
hours and days) and the span's uneven ends from raw rows."""


def median_seconds(histogram: dict[int, int]) -> float | None:
    """A long span's median engaged seconds from views per engaged-time bucket (every engine's rounding)."""
    median = histogram_median(histogram)
    return None if median is None else round(median / 1000.0, 1)


TOP_ALIASES = {
    "pages": "path",
    "entry_pages": "entry_path",
    "exit_pages": "exit_path",
    "sources": "ref_source",
    "referrers": "referrer",
    "mediums": "ref_medium",
    "countries": "country",
    "browsers": "browser",
    "devices": "device",
    "screens": "screen",
    "events": "name",
}
"""View-friendly names accepted by `top` besides the dimension names."""


def use_rollups(span: Span, filters: Filters) -> bool:
    """Rollups answer long spans without dimension filters; everything else reads raw rows."""
    return not filters.dims and not exact_visitors(span)


def _hour_range(span: Span, filters: Filters) -> tuple[str, list[object]]:
    site, site_params = site_sql(filters.site)
    sql = f"hour >= ? AND hour < ?{site} AND is_bot IN ({bot_list_sql(filters.bots)})"
    return sql, [span.start, span.end, *site_params]


# ------------------------------------------------------------------------------------------------------ KPIs


@dataclass(slots=True)
class _Totals:
    pageviews: int = 0
    events: int = 0
    sessions: int = 0
    visitors: int = 0
    bounces: int = 0
    duration_ms: int = 0
    bots: int = 0

    def add(self, other: _Totals) -> None:
        for name in _Totals.__slots__:  # type: ignore[attr-defined]
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(slots=True, frozen=True)
class Overview:
    """What the Overview view shows for a span: its KPIs and the previous span's, the traffic chart, top lists
    by dimension and pageviews by weekday and hour."""

    current: Kpis
    previous: Kpis
    series: list[Point]
    tops: dict[str, list[Row]]
    heatmap: list[list[int]]


def kpis_from(t: _Totals, live_visitors: int) -> Kpis:
    """A span's KPIs from its summed counts: every engine's bounce rate and mean duration."""
    return Kpis(
        visitors=t.visitors,
        sessions=t.sessions,
        pageviews=t.pageviews,
        bounce_rate=round(100.0 * t.bounces / t.sessions, 2) if t.sessions else 0.0,
        avg_duration_s=round(t.duration_ms / t.sessions / 1000.0, 2) if t.sessions else 0.0,
        live_visitors=live_visitors,
        bots=t.bots,
        events=t.events,
    )


# ----------------------------------------------------------------------------------------------- time series


def sum_hours(parts: Iterable[dict[int, list[int]]]) -> dict[int, list[int]]:
    """Hourly parts of a span (raw edges, rollups) added up per hour, hours with nothing left out: every engine's
    `hourly`."""
    out: dict[int, list[int]] = {}
    for part in parts:
        for hour, values in part.items():
            cur = out.setdefault(hour, [0] * len(values))
            for i, v in enumerate(values):
                cur[i] += v
    return {h: v for h, v in out.items() if any(v)}


def bucket_seconds(span: Span) -> int:
    """Chart bucket for a span: minutes up to two hours, hours up to three days, days beyond."""
    if span.seconds <= 2 * HOUR:
        return 60
    if span.seconds <= 3 * DAY:
        return HOUR
    return DAY


# ------------------------------------------------------------------------------------------------- top lists


def _merge(rows: Iterable[Any], into: dict[str, list[int]]) -> None:
    for value, a, b in rows:
        cur = into.setdefault(str(value), [0, 0])
        cur[0] += int(a or 0)
        cur[1] += int(b or 0)


def _visits_sql(kind: str) -> str:
    """1 when an event is the first of its path (or name) in its session: the raw twin of rolled-up visits."""
    if kind == "path":
        same = f"p.type IN {PAGE_TYPES_SQL} AND p.path = e.path"
    else:
        same = "p.type = 'event' AND p.name = e.name"
    return (
        f"(e.session_id = 0 OR NOT EXISTS (SELECT 1 FROM events p WHERE p.session_id = e.session_id "
        f"AND p.id < e.id AND {same}))"
    )


def reach_shares(scrolls: Iterable[int], views: int) -> tuple[float, float, float, float]:
    """Percent of `views` whose max scroll reached each milestone (views without a report reached none)."""
    scrolls = list(scrolls)
    a, b, c, d = (
        round(100.0 * sum(1 for s in scrolls if s >= m) / views, 1) if views else 0.0 for m in SCROLL_MILESTONES
    )
    return a, b, c, d


def ranked(values: dict[str, list[int]], limit: int, *, visitors_first: bool) -> list[Row]:
    """A top list from value → [visitors, pageviews]: by visitors (session attributes) or by pageviews (pages and
    event columns), then the other count, then the value; values with neither are left out. Every engine's `top`."""
    if visitors_first:
        order = sorted(values.items(), key=lambda kv: (-kv[1][0], -kv[1][1], kv[0]))
    else:
        order = sorted(values.items(), key=lambda kv: (-kv[1][1], -kv[1][0], kv[0]))
    return [Row(value, v[0], v[1]) for value, v in order if v[0] or v[1]][:limit]
