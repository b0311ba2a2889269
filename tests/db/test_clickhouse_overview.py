"""The Overview queries on ClickHouse give SQLite's answers on one generated dataset: short spans (distinct
visitor ids), long spans (SQLite reads its rollups; ClickHouse applies the same counting rules to raw rows),
uneven edges, each site and all, humans, bots and both, session and event dimension filters."""

from __future__ import annotations

import pytest

from db.clickhouse.queries import common as ch_common
from db.clickhouse.queries import overview as ch_overview
from db.queries.common import Filters, Span, span_for
from db.queries.overview import ENGAGEMENT_EXACT_MAX_S, Overview, PageEngagement
from db.rules import DAY, HOUR
from db.sqlite.queries import common as sq_common
from db.sqlite.queries import overview as sq_overview
from tests.db.generated_traffic import NOW, PAGE_TYPES, PAGES, SITES, Traffic, both_engines
from tests.db.test_queries_engagement import three_days_of_views
from tests.engines import ch_write
from tests.factories import SITE, T0, new_db, server_event, visit, write

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
    "os-version": Filters(None, (("os_version", "Windows 11"),)),
}
CASES = [pytest.param(s, f, id=f"{s}-{f}") for s in SPANS for f in FILTERS]
TOP_DIMENSIONS = (
    "pages", "entry_pages", "exit_pages", "sources", "countries", "browsers", "events", "type", "city", "os_version",
)  # fmt: skip


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
    # The Overview in one call (the chart and the peak hours from one reading of the hours on ClickHouse).
    assert ch_overview.overview(ch, s, f, ["path", "country"], 3) == Overview(
        *sq_overview.kpis_with_change(conn, s, f),
        sq_overview.timeseries(conn, s, f),
        {d: sq_overview.top(conn, s, f, d, 3) for d in ("path", "country")},
        sq_overview.heatmap(conn, s, f),
    )


@pytest.mark.parametrize(("span", "filters"), CASES)
def test_top_lists_and_engagement_match(engines, span, filters):
    conn, ch, _ = engines
    s, f = SPANS[span], FILTERS[filters]
    for dimension in TOP_DIMENSIONS:
        assert ch_overview.top(ch, s, f, dimension) == sq_overview.top(conn, s, f, dimension), dimension
    # Several at once, as the Overview and /api/stats ask: the session attributes in one read on ClickHouse.
    assert ch_overview.tops(ch, s, f, TOP_DIMENSIONS, 3) == {
        dimension: sq_overview.top(conn, s, f, dimension, 3) for dimension in TOP_DIMENSIONS
    }
    got = ch_overview.engagement(ch, s, f)
    assert got == sq_overview.engagement(conn, s, f)
    # Medians and scroll shares for spans up to a day, None beyond (SQLite's rollups hold sums only).
    assert all((r.reach is None) == (s.seconds > ENGAGEMENT_EXACT_MAX_S) for r in got)


@pytest.mark.parametrize("filters", ["site", "all-sites", "everyone", "exit-page"])
def test_whole_history_charts_start_at_the_first_traffic(engines, filters):
    conn, ch, _ = engines
    s, f = Span(0.0, NOW), FILTERS[filters]
    assert ch_overview.timeseries(ch, s, f) == sq_overview.timeseries(conn, s, f)
    assert ch_overview.heatmap(ch, s, f) == sq_overview.heatmap(conn, s, f)
    # The Overview in one call: KPIs from the beginning of time, the chart and peak hours from the first traffic.
    got = ch_overview.overview(ch, s, f, ["country"], 3)
    assert (got.series, got.heatmap) == (sq_overview.timeseries(conn, s, f), sq_overview.heatmap(conn, s, f))
    assert (got.current, got.previous) == sq_overview.kpis_with_change(conn, s, f)


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


def test_os_versions_list_and_filter(engines):
    _, ch, traffic = engines
    span, site = SPANS["30d"], "a.example"
    sessions = _started_in(traffic, span, site)
    rows = ch_overview.top(ch, span, Filters(site), "os_version")
    assert {r.value: r.visitors for r in rows} == {
        v: sum(s.new_visitor for s in sessions if s.os_version == v) for v in {s.os_version for s in sessions}
    }
    k = ch_overview.kpis(ch, span, Filters(site, (("os_version", "iOS 17.1"),)))
    assert k.sessions == sum(s.os_version == "iOS 17.1" for s in sessions) > 0


def test_engagement_medians_and_scroll_reach_by_hand(clickhouse, tmp_path):
    """Reports belong to the latest earlier hit of their session and path; views begun before the span and
    reports without a session are left out; a page without reports has views but no median."""
    span = Span(T0 + 100, T0 + 100 + DAY)
    visits = [
        # Its first view of /a began before the span: that view's report is left out. Two reports add up.
        visit(T0 + 50, [(0, "/a"), (200, "/a"), (400, "/b")], engagement=[(100, "/a", 80, 5000),
              (210, "/a", 30, 1000), (300, "/a", 60, 2000)], site="e.example"),
        visit(T0 + 1000, [(0, "/a"), (20, "/a")], engagement=[(10, "/a", 100, 10_000), (30, "/a", 10, 500)],
              site="e.example"),
        visit(T0 + 2000, [(0, "/a")], engagement=[(5, "/a", 25, 4000)], site="e.example"),
    ]
    loose = server_event(T0 + 3000, "engagement", site="e.example", path="/a", scroll=100, engaged_ms=99_999)
    events, sessions = [e for v in visits for e in v.events] + [loose], [v.session for v in visits]
    conn = new_db(tmp_path / "s.db")
    write(conn, events, sessions)
    ch_write(clickhouse, events, sessions)
    got = ch_overview.engagement(clickhouse, span, Filters("e.example"))
    assert got == sq_overview.engagement(conn, span, Filters("e.example"))
    assert got == [
        # Views with reports: 3000, 10000, 500 and 4000 ms (median 3.5 s); scrolls 60, 100, 10 and 25 of 4 views.
        PageEngagement("/a", 4, round((80 + 30 + 60 + 100 + 10 + 25 + 100) / 7, 1),
                       round((5000 + 1000 + 2000 + 10_000 + 500 + 4000 + 99_999) / 7 / 1000, 1), 3.5,
                       (75.0, 50.0, 25.0, 25.0)),
        PageEngagement("/b", 1, 0.0, 0.0, None, (0.0, 0.0, 0.0, 0.0)),
    ]
    longer = Span(span.start, span.start + 3 * DAY)
    assert ch_overview.engagement(clickhouse, longer, Filters("e.example")) == sq_overview.engagement(
        conn, longer, Filters("e.example")
    )
    # Longer spans: the same views in histogram buckets (3,000, 4,000, 10,000 and 500 ms), no scroll shares.
    assert [(r.median_engaged_s, r.reach) for r in ch_overview.engagement(clickhouse, longer, Filters())] == [
        (3.5, None), (None, None)
    ]


def test_a_median_over_three_days_is_the_same_on_both_engines(clickhouse, tmp_path):
    """Views across midnight, a report too late for its view, a view begun before the span: one rule."""
    visits = three_days_of_views()
    events, sessions = [e for v in visits for e in v.events], [v.session for v in visits]
    conn = new_db(tmp_path / "s.db")
    write(conn, events, sessions)
    ch_write(clickhouse, events, sessions)
    for span in (Span(T0, T0 + 3 * DAY), Span(T0 + HOUR, T0 + 2 * DAY + 90 * 60), Span(T0 - DAY, T0 + 4 * DAY)):
        for filters in (Filters(SITE), Filters(None, bots="all"), Filters(SITE, bots="bots")):
            got = ch_overview.engagement(clickhouse, span, filters)
            assert got == sq_overview.engagement(conn, span, filters)
            assert got == sq_overview.engagement(conn, span, filters, rollups=False)
    [doc] = ch_overview.engagement(clickhouse, Span(T0, T0 + 3 * DAY), Filters(SITE))
    assert (doc.views, doc.median_engaged_s) == (5, 4.0)
