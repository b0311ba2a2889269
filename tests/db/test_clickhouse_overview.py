"""The Overview queries on ClickHouse give SQLite's answers on one generated dataset: short spans (distinct
visitor ids), long spans (SQLite reads its rollups; ClickHouse applies the same counting rules to raw rows),
uneven edges, each site and all, humans, bots and both, session and event dimension filters."""

from __future__ import annotations

import pytest

from db.clickhouse.queries import common as ch_common
from db.clickhouse.queries import overview as ch_overview
from db.queries import common as sq_common
from db.queries import overview as sq_overview
from db.queries.common import Filters, Span, span_for
from db.rollups import DAY, HOUR
from tests.db.generated_traffic import NOW, PAGE_TYPES, PAGES, SITES, Traffic, both_engines

SPANS = {
    "live": span_for("live", NOW),
    "1h": span_for("1h", NOW),
    "24h": span_for("24h", NOW),
    "2d": Span(NOW - 2 * DAY, NOW),
    "60h": Span(NOW - 60 * HOUR, NOW - 7 * 60.5),
    "7d": span_for("7d", NOW),
    "30d": span_for("30d", NOW),
    "90d": span_for("90d", NOW),
}
FILTERS = {
    "site": Filters("a.example"),
    "all-sites": Filters(None),
    "bots": Filters("a.example", bots="bots"),
    "everyone": Filters(None, bots="all"),
    "country": Filters("a.example", (("country", "DE"),)),
    "exit-page": Filters(None, (("exit_path", "/pricing"),), "all"),
    "path": Filters("b.example", (("path", "/docs"),)),
    "event-name": Filters("a.example", (("name", "signup"),)),
}
CASES = [pytest.param(s, f, id=f"{s}-{f}") for s in SPANS for f in FILTERS]
TOP_DIMENSIONS = ("pages", "entry_pages", "exit_pages", "sources", "countries", "browsers", "events", "type", "city")


@pytest.fixture(scope="module")
def engines(tmp_path_factory):
    yield from both_engines(tmp_path_factory)


@pytest.mark.parametrize(("span", "filters"), CASES)
def test_kpis_and_their_comparison_match(engines, span, filters):
    conn, ch, _ = engines
    assert ch_overview.kpis_with_change(ch, SPANS[span], FILTERS[filters]) == sq_overview.kpis_with_change(
        conn, SPANS[span], FILTERS[filters]
    )


@pytest.mark.parametrize(("span", "filters"), CASES)
def test_traffic_over_time_matches(engines, span, filters):
    conn, ch, _ = engines
    s, f = SPANS[span], FILTERS[filters]
    assert ch_overview.timeseries(ch, s, f) == sq_overview.timeseries(conn, s, f)
    assert ch_overview.hourly(ch, s, f) == sq_overview.hourly(conn, s, f)
    assert ch_overview.heatmap(ch, s, f) == sq_overview.heatmap(conn, s, f)


@pytest.mark.parametrize(("span", "filters"), CASES)
def test_top_lists_and_engagement_match(engines, span, filters):
    conn, ch, _ = engines
    s, f = SPANS[span], FILTERS[filters]
    for dimension in TOP_DIMENSIONS:
        assert ch_overview.top(ch, s, f, dimension) == sq_overview.top(conn, s, f, dimension), dimension
    assert ch_overview.engagement(ch, s, f) == sq_overview.engagement(conn, s, f)


@pytest.mark.parametrize("filters", ["site", "all-sites", "everyone", "exit-page"])
def test_whole_history_charts_start_at_the_first_traffic(engines, filters):
    conn, ch, _ = engines
    s, f = Span(0.0, NOW), FILTERS[filters]
    assert ch_overview.timeseries(ch, s, f) == sq_overview.timeseries(conn, s, f)
    assert ch_overview.heatmap(ch, s, f) == sq_overview.heatmap(conn, s, f)


def test_forcing_a_path_gives_the_same_numbers(engines):
    conn, ch, _ = engines
    s, f = SPANS["24h"], FILTERS["site"]
    for rollups in (True, False):
        assert ch_overview.kpis(ch, s, f, rollups=rollups) == sq_overview.kpis(conn, s, f, rollups=rollups)
        assert ch_overview.top(ch, s, f, "pages", rollups=rollups) == sq_overview.top(
            conn, s, f, "pages", rollups=rollups
        )


def test_sites_and_first_traffic_match(engines):
    conn, ch, traffic = engines
    assert ch_common.sites(ch) == sq_common.sites(conn) == sorted(SITES)
    for site in (None, *SITES):
        first = min(e.ts for e in traffic.events if site is None or e.site == site)
        assert ch_common.first_event_ts(ch, site) == sq_common.first_event_ts(conn, site) == first
    assert ch_common.first_event_ts(ch, "nowhere.example") is None


# ------------------------------------------------------------------------ absolute values, worked out in Python


def _in(traffic: Traffic, span: Span, site: str) -> list:
    return [e for e in traffic.events if span.start <= e.ts < span.end and e.site == site and not e.is_bot]


def _started_in(traffic: Traffic, span: Span, site: str) -> list:
    return [s for s in traffic.sessions if span.start <= s.started < span.end and s.site == site and not s.is_bot]


def test_short_span_counts_distinct_visitor_ids(engines):
    _, ch, traffic = engines
    span, site = SPANS["24h"], "a.example"
    events = _in(traffic, span, site)
    k = ch_overview.kpis(ch, span, Filters(site))
    assert k.pageviews == sum(e.type in PAGE_TYPES for e in events) > 0
    assert k.visitors == len({e.visitor_id for e in events if e.visitor_id}) > 0
    assert k.events == sum(e.type == "event" for e in events)
    assert k.sessions == len(_started_in(traffic, span, site))
    live = [e for e in events if e.ts >= span.end - 300]
    assert k.live_visitors == len({e.visitor_id for e in live if e.visitor_id}) > 0


def test_long_span_counts_first_visits_of_the_day_and_page_visits(engines):
    _, ch, traffic = engines
    span, site = SPANS["30d"], "a.example"
    sessions = _started_in(traffic, span, site)
    assert ch_overview.kpis(ch, span, Filters(site)).visitors == sum(s.new_visitor for s in sessions)
    first: dict[tuple[int, str], int] = {}
    for e in traffic.events:  # in time order: the first hit of a path in a session is its visit
        if e.type in PAGE_TYPES and e.session_id:
            first.setdefault((e.session_id, e.path), id(e))
    visits: dict[str, int] = {}
    for e in _in(traffic, span, site):
        if e.type in PAGE_TYPES and (not e.session_id or first[(e.session_id, e.path)] == id(e)):
            visits[e.path] = visits.get(e.path, 0) + 1
    rows = ch_overview.top(ch, span, Filters(site), "pages")
    assert {r.value: r.visitors for r in rows} == visits
    # Revisits in a session count as pageviews but not as visits.
    assert sum(r.pageviews for r in rows) > sum(visits.values())



def test_charts_add_up_to_the_span_totals(engines):
    _, ch, traffic = engines
    site = "a.example"
    day, week, month = SPANS["24h"], SPANS["7d"], SPANS["30d"]
    points = ch_overview.timeseries(ch, day, Filters(site))
    assert len(points) == 25  # hourly buckets, the partial first hour included
    assert sum(p.pageviews for p in points) == sum(e.type in PAGE_TYPES for e in _in(traffic, day, site))
    grid = ch_overview.heatmap(ch, week, Filters(site))
    assert sum(map(sum, grid)) == sum(e.type in PAGE_TYPES for e in _in(traffic, week, site))
    hours = ch_overview.hourly(ch, month, Filters(site))
    assert sum(v[1] for v in hours.values()) == sum(s.new_visitor for s in _started_in(traffic, month, site))
    current, previous = ch_overview.kpis_with_change(ch, week, Filters(site))
    before = Span(week.start - 7 * DAY, week.start)
    assert previous.pageviews == sum(e.type in PAGE_TYPES for e in _in(traffic, before, site)) != current.pageviews


def test_engagement_averages_the_reports_of_a_page(engines):
    _, ch, traffic = engines
    span, site = SPANS["30d"], "a.example"
    rows = ch_overview.engagement(ch, span, Filters(site), limit=1)
    page = [e for e in _in(traffic, span, site) if e.path == rows[0].path]
    views = {p: sum(e.type in PAGE_TYPES for e in _in(traffic, span, site) if e.path == p) for p in PAGES}
    assert rows[0].views == views[rows[0].path] == max(views.values())
    reports = [e for e in page if e.type == "engagement"]
    assert rows[0].avg_scroll == round(sum(e.scroll for e in reports) / len(reports), 1)
    assert rows[0].avg_engaged_s == round(sum(e.engaged_ms for e in reports) / len(reports) / 1000, 1)
