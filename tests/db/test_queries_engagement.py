"""Engagement per page: per-view medians and scroll milestones from the tracker's delta reports."""

from __future__ import annotations

import random
import statistics

from db.queries.common import Filters, Span
from db.queries.overview import ENGAGEMENT_EXACT_MAX_S
from db.rules import DAY, HOUR, engaged_bucket, histogram_median
from db.sqlite.queries.overview import engagement
from tests.factories import SITE, T0, new_db, visit, write_visits

DAYSPAN = Span(T0, T0 + DAY)
HUMANS = Filters(site=SITE)


def test_reports_belong_to_their_view_and_medians_are_per_view(tmp_path):
    conn = new_db(tmp_path / "e.db")
    write_visits(
        conn,
        [
            # /doc viewed twice in one session: the first view's two reports add up (10 + 20 s, scroll 30 then
            # 60 %), the second view has one report (5 s, 100 %).
            visit(
                T0 + HOUR,
                [(0, "/doc"), (100, "/other"), (200, "/doc")],
                visitor="a",
                engagement=[(40, "/doc", 30, 10_000), (90, "/doc", 60, 20_000), (250, "/doc", 100, 5_000)],
            ),
            # One more view of /doc, 50 s to 80 %, and one with no report at all.
            visit(T0 + 2 * HOUR, [(0, "/doc")], visitor="b", engagement=[(60, "/doc", 80, 50_000)]),
            visit(T0 + 3 * HOUR, [(0, "/doc")], visitor="c"),
            # A bot's views and reports are not the humans'.
            visit(T0 + 4 * HOUR, [(0, "/doc")], visitor="bot", is_bot=1, engagement=[(1, "/doc", 100, 1)]),
        ],
    )
    [doc] = [r for r in engagement(conn, DAYSPAN, HUMANS, 10) if r.path == "/doc"]
    assert doc.views == 4
    # Engaged views: 30 s, 5 s, 50 s -> median 30 s (a per-report median would say 15 s).
    assert doc.median_engaged_s == 30.0
    # Max scroll per view: 60, 100, 80, and one view without a report: of 4 views, 3 reached 25 % and 50 %,
    # 2 reached 75 %, 1 reached 100 %.
    assert doc.reach == (75.0, 75.0, 50.0, 25.0)
    bots = engagement(conn, DAYSPAN, Filters(site=SITE, bots="bots"), 10)
    assert [(r.path, r.views, r.median_engaged_s, r.reach) for r in bots] == [("/doc", 1, 0.0, (100.0,) * 4)]


def test_a_view_begun_before_the_span_keeps_its_reports_out(tmp_path):
    conn = new_db(tmp_path / "e.db")
    write_visits(
        conn,
        [visit(T0 - 60, [(0, "/late")], visitor="a", engagement=[(120, "/late", 100, 9_000)])],
    )
    [late] = engagement(conn, DAYSPAN, HUMANS, 10)
    assert (late.path, late.views, late.median_engaged_s, late.reach) == ("/late", 0, None, (0.0,) * 4)


def test_long_spans_have_histogram_medians_but_no_scroll_shares(tmp_path):
    conn = new_db(tmp_path / "e.db")
    write_visits(conn, [visit(T0 + HOUR, [(0, "/")], visitor="a", engagement=[(10, "/", 50, 4_000)])])
    long = Span(T0 - 30 * DAY, T0 + DAY)
    assert long.seconds > ENGAGEMENT_EXACT_MAX_S
    for rollups in (True, False):
        [row] = engagement(conn, long, HUMANS, 10, rollups=rollups)
        assert (row.views, row.avg_scroll, row.avg_engaged_s) == (1, 50.0, 4.0)
        assert row.median_engaged_s == 4.0 and row.reach is None  # 4,000 ms in the bucket of 3,967-4,135 ms
    day = engagement(conn, DAYSPAN, HUMANS, 10)
    assert day[0].median_engaged_s == 4.0 and day[0].reach == (100.0, 100.0, 0.0, 0.0)


def three_days_of_views() -> list:
    """/doc over three days: views of 2, 3, 4, 60 and 90 s (median 4 s, average 31.8 s), one view's time in two
    reports across midnight, a view begun the day before the span, and a report a day after its page hit."""
    return [
        visit(T0 + 2 * HOUR, [(0, "/doc")], visitor="a", engagement=[(30, "/doc", 50, 2_000)]),
        visit(T0 + DAY + 5, [(0, "/doc")], visitor="b", engagement=[(20, "/doc", 50, 3_000)]),
        visit(T0 + 2 * DAY - 60, [(0, "/doc")], visitor="c",
              engagement=[(30, "/doc", 50, 1_000), (90, "/doc", 50, 3_000)]),  # 4 s, the second report the next day
        visit(T0 + 2 * DAY + HOUR, [(0, "/doc")], visitor="d", engagement=[(10, "/doc", 50, 60_000)]),
        visit(T0 + 2 * DAY + 2 * HOUR, [(0, "/doc")], visitor="e",
              engagement=[(10, "/doc", 50, 90_000), (DAY + 10, "/doc", 50, 500_000)]),  # too late: left out
        visit(T0 - HOUR, [(0, "/doc")], visitor="f", engagement=[(2 * HOUR, "/doc", 50, 1_000_000)]),  # before
    ]  # fmt: skip


def test_a_median_over_three_days_is_the_median_of_the_views_not_the_average(tmp_path):
    conn = new_db(tmp_path / "e.db")
    write_visits(conn, three_days_of_views())
    span = Span(T0, T0 + 3 * DAY)
    for rollups in (True, False):
        [doc] = engagement(conn, span, HUMANS, 10, rollups=rollups)
        assert doc.views == 5
        assert doc.median_engaged_s == 4.0  # exact 4 s, within 2.2 %; the average per view would be 31.8 s
        assert doc.avg_engaged_s != doc.median_engaged_s
    # Uneven ends read raw, whole days from the rollup: the same views.
    uneven = Span(T0 + HOUR, T0 + 2 * DAY + 90 * 60)
    assert [r.median_engaged_s for r in engagement(conn, uneven, HUMANS, 10, rollups=True)] == [
        r.median_engaged_s for r in engagement(conn, uneven, HUMANS, 10, rollups=False)
    ] == [3.5]  # views of 2, 3, 4 and 60 s: (3 + 4) / 2


def test_histogram_medians_stay_within_the_bucket_width_of_the_exact_median():
    rng = random.Random(7)
    for n in range(1, 200):
        times = [rng.randrange(0, 600_000) for _ in range(n)]
        histogram: dict[int, int] = {}
        for ms in times:
            histogram[engaged_bucket(ms)] = histogram.get(engaged_bucket(ms), 0) + 1
        median = histogram_median(histogram)
        assert median is not None
        assert abs(median - statistics.median(times)) <= 0.022 * statistics.median(times) + 1
    assert histogram_median({}) is None
