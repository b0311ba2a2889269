"""Overview and Events statistics on a small fixed dataset, checked against counts worked out by hand."""

from __future__ import annotations

import pytest

from db.queries.common import DIMENSIONS, Filters, Span, parse_range, span_for
from db.queries.events import EventCount, PropValue
from db.queries.overview import PageEngagement, Row
from db.rules import DAY, HOUR
from db.sqlite.queries.common import sites
from db.sqlite.queries.events import custom_events, property_breakdown
from db.sqlite.queries.overview import engagement, heatmap, kpis, kpis_with_change, timeseries, top
from tests.factories import SITE, T0, new_db, visit, write_visits

D = T0 + 3 * DAY  # a Saturday
DAYSPAN = Span(D, D + DAY)
WEEK = Span(D - 3 * DAY, D + 4 * DAY)
HUMANS = Filters(site=SITE)

Q_PRICE = {"question": "price?", "answered": "false"}


@pytest.fixture
def conn(tmp_path):
    """Five visits on one day: three humans (one returning), one crawler and a signup."""
    conn = new_db(tmp_path / "s.db")
    write_visits(
        conn,
        [
            visit(
                D + 10 * HOUR,
                [(0, "/"), (60, "/pricing"), (120, "/signup")],
                visitor="v1",
                country="DE",
                browser="Firefox",
                ref_source="Google",
                ref_medium="search",
                custom=[(90, "chat_question", Q_PRICE)],
                engagement=[(100, "/pricing", 75, 40_000)],
            ),
            visit(
                D + 10 * HOUR + 1800,
                [(0, "/")],
                visitor="v2",
                country="US",
                browser="Chrome",
                ref_medium="direct",
            ),
            visit(
                D + 11 * HOUR,
                [(0, "/"), (1, "/a"), (2, "/b")],
                visitor="bot",
                is_bot=1,
                bot_name="Googlebot",
                type="request",
            ),
            visit(
                D + 14 * HOUR,
                [(0, "/pricing"), (30, "/")],
                visitor="v1",
                new_visitor=0,
                country="DE",
                browser="Firefox",
                ref_medium="direct",
                custom=[(10, "chat_question", Q_PRICE)],
            ),
            visit(
                D + 15 * HOUR,
                [(0, "/blog")],
                visitor="v3",
                country="US",
                browser="Chrome",
                ref_source="Google",
                ref_medium="search",
                custom=[
                    (5, "signup", {"plan": "pro"}),
                    (3, "chat_question", {"question": "hours?", "answered": "false"}),
                ],
                engagement=[(5, "/blog", 50, 10_000), (6, "/blog", 100, 20_000)],
            ),
        ],
    )
    yield conn
    conn.close()


def test_kpis_of_a_day_match_a_hand_count(conn):
    k = kpis(conn, DAYSPAN, HUMANS)
    assert (k.pageviews, k.sessions, k.visitors, k.events, k.bots) == (7, 4, 3, 4, 3)
    assert k.bounce_rate == 25.0  # only v2 bounced: v3 saw one page but signed up
    assert k.avg_duration_s == 39.0  # (120 + 0 + 30 + 6) / 4
    assert k.live_visitors == 0


def test_bots_only_and_everyone(conn):
    bots = kpis(conn, DAYSPAN, Filters(site=SITE, bots="bots"))
    assert (bots.pageviews, bots.sessions, bots.visitors) == (3, 1, 1)
    everyone = kpis(conn, DAYSPAN, Filters(site=SITE, bots="all"))
    assert (everyone.pageviews, everyone.sessions, everyone.visitors) == (10, 5, 4)


def test_long_spans_count_first_visits_of_the_day(conn):
    k = kpis(conn, WEEK, HUMANS)
    assert (k.pageviews, k.sessions, k.visitors, k.bounce_rate) == (7, 4, 3, 25.0)


def test_live_visitors_are_those_of_the_last_five_minutes(conn):
    k = kpis(conn, Span(D + 15 * HOUR - 600, D + 15 * HOUR + 240), HUMANS)
    assert k.live_visitors == 1


def test_comparison_with_the_previous_period(conn):
    current, previous = kpis_with_change(conn, Span(D + DAY, D + 2 * DAY), HUMANS)
    assert current.pageviews == 0 and previous.pageviews == 7


def test_filters_on_session_and_event_dimensions(conn):
    de = kpis(conn, DAYSPAN, HUMANS.with_dim("country", "DE"))
    assert (de.pageviews, de.sessions, de.visitors) == (5, 2, 1)
    google = kpis(conn, DAYSPAN, HUMANS.with_dim("ref_source", "Google"))
    assert (google.pageviews, google.sessions) == (4, 2)
    pricing = kpis(conn, DAYSPAN, HUMANS.with_dim("path", "/pricing"))
    assert (pricing.pageviews, pricing.sessions) == (2, 2)
    assert HUMANS.with_dim("country", "DE").without_dim("country") == HUMANS


def test_unknown_dimensions_and_ranges_are_refused():
    with pytest.raises(ValueError, match="unknown dimension"):
        Filters(dims=(("password", "x"),))
    with pytest.raises(ValueError, match="accepted: live, 1h"):
        parse_range("fortnight")
    assert parse_range("7d") == "7d"
    assert parse_range("custom:2023-11-15..2023-11-16") == (T0, T0 + 2 * DAY)
    assert span_for("30d", T0) == Span(T0 - 30 * DAY, T0)
    assert span_for("live", T0) == Span(T0 - 1800, T0)
    assert Span(10, 20).previous() == Span(0, 10)
    assert {"path", "country", "utm_campaign", "entry_path", "name"} <= set(DIMENSIONS)


def test_filter_values_are_bound_not_spliced(conn):
    k = kpis(conn, DAYSPAN, HUMANS.with_dim("country", "DE' OR '1'='1"))
    assert k.pageviews == 0


def test_top_pages_and_session_attributes(conn):
    assert top(conn, DAYSPAN, HUMANS, "pages") == [
        Row("/", 2, 3),
        Row("/pricing", 1, 2),
        Row("/blog", 1, 1),
        Row("/signup", 1, 1),
    ]
    assert top(conn, DAYSPAN, HUMANS, "countries") == [Row("US", 2, 2), Row("DE", 1, 5)]
    assert top(conn, DAYSPAN, HUMANS, "entry_pages") == [
        Row("/", 2, 4),
        Row("/pricing", 1, 2),
        Row("/blog", 1, 1),
    ]
    assert top(conn, DAYSPAN, HUMANS, "sources") == [Row("Google", 2, 4), Row("", 2, 3)]
    bots = top(conn, DAYSPAN, Filters(site=SITE, bots="bots"), "pages")
    assert [r.value for r in bots] == ["/", "/a", "/b"]


def test_top_pages_on_long_spans_count_visits(conn):
    # "/" was first seen in three sessions (v1 twice, v2): three visits
    assert top(conn, WEEK, HUMANS, "pages")[0] == Row("/", 3, 3)


def test_heatmap_and_timeseries(conn):
    grid = heatmap(conn, DAYSPAN, HUMANS)
    assert len(grid) == 7 and all(len(r) == 24 for r in grid)
    assert (grid[5][10], grid[5][14], grid[5][15]) == (4, 2, 1)
    assert sum(map(sum, grid)) == 7
    points = timeseries(conn, DAYSPAN, HUMANS)
    assert len(points) == 24 and points[0].ts == D
    ten = points[10]
    assert (ten.pageviews, ten.visitors, ten.bots) == (4, 2, 0)
    assert points[11].bots == 3
    week = timeseries(conn, WEEK, HUMANS)
    assert len(week) == 7 and week[3].pageviews == 7
    minutes = timeseries(conn, Span(D + 10 * HOUR, D + 11 * HOUR), HUMANS)
    assert len(minutes) == 60 and minutes[0].pageviews == 1 and minutes[30].visitors == 1


def test_engagement_per_page(conn):
    rows = engagement(conn, DAYSPAN, HUMANS, 10)
    by_path = {r.path: r for r in rows}
    # /blog's one view sent two reports (engaged time comes as deltas): one view of 30 s that reached 100 %.
    assert by_path["/blog"] == PageEngagement("/blog", 1, 75.0, 15.0, 30.0, (100.0, 100.0, 100.0, 100.0))
    # /pricing: two views, one of them engaged for 40 s down to 75 %.
    assert by_path["/pricing"] == PageEngagement("/pricing", 2, 75.0, 40.0, 40.0, (50.0, 50.0, 50.0, 0.0))
    assert rows[0].path == "/"


def test_custom_events_and_property_breakdown(conn):
    assert custom_events(conn, DAYSPAN, HUMANS, 10) == [
        EventCount("chat_question", 3, 2),
        EventCount("signup", 1, 1),
    ]
    unanswered = property_breakdown(
        conn, DAYSPAN, HUMANS, "chat_question", "question", {"answered": "false"}, 10
    )
    assert unanswered == [PropValue("price?", 2), PropValue("hours?", 1)]
    assert (
        property_breakdown(conn, DAYSPAN, HUMANS, "chat_question", "question", {"answered": "true"}, 10) == []
    )
    assert property_breakdown(conn, DAYSPAN, HUMANS, "signup", "plan", None, 10) == [PropValue("pro", 1)]


def test_sites_lists_every_site_with_traffic(conn):
    assert sites(conn) == [SITE]
